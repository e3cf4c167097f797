import 'reflect-metadata';

/** Any class whose instances are `T`. */
export type Class<T = object> = abstract new (...args: any[]) => T;

/**
 * Reads the record stored on `target` itself (not inherited) under `key`.
 * Records are frozen: update them with {@link updateClassRecord}.
 */
export function readClassRecord<R>(key: symbol, target: object): R | undefined {
  return Reflect.getOwnMetadata(key, target) as R | undefined;
}

/**
 * Replaces the record under `key` on `target` with `update(previous)`, frozen. Decorators
 * build records copy-on-write so a record once read never changes under its reader.
 */
export function updateClassRecord<R extends object>(
  key: symbol,
  target: object,
  update: (previous: R | undefined) => R,
): R {
  const next = Object.freeze(update(readClassRecord<R>(key, target)));
  Reflect.defineMetadata(key, next, target);
  return next;
}
