import { instanceToInstance, instanceToPlain, plainToInstance } from 'class-transformer';
import { type Class } from '../metadata';

/** A JSON object as written to the store. */
export type PlainData = Record<string, unknown>;

/**
 * Turns a message (or any class instance) into JSON-safe data with class-transformer:
 * nested instances become plain objects, Dates ISO strings.
 * Decorate nested fields with `@Type(() => Nested)` / `@Type(() => Date)` so
 * {@link fromPlain} restores them.
 */
export function toPlain(instance: object): PlainData {
  const cls = (instance as { constructor?: unknown } | null)?.constructor;
  const keyed = typeof cls === 'function';
  if (!keyed || (flagsOf(cls) & TO_PLAIN) === 0) {
    const fast = toPlainFast(instance);
    if (fast !== BAIL) return fast as PlainData;
    if (keyed) markBailed(cls, TO_PLAIN);
  }
  return jsonSafe(instanceToPlain(instance)) as PlainData;
}

/** Builds an instance of `cls` from plain data (the inverse of {@link toPlain}). */
export function fromPlain<T extends object>(cls: Class<T>, data: PlainData): T {
  if (isPlainObject(data) && (flagsOf(cls) & (DECORATED | FROM_PLAIN)) === 0 && !SPECIAL.has(cls)) {
    const fast = fromPlainFast(cls as new () => T, data);
    if (fast !== BAIL) return fast;
    markBailed(cls, FROM_PLAIN);
  }
  return plainToInstance(cls as new () => T, data);
}

/** A deep copy of a class instance that keeps its class and nested types. */
export function cloneInstance<T extends object>(instance: T): T {
  if (instance !== null && typeof instance === 'object' && !Array.isArray(instance)) {
    const cls = (instance as { constructor?: unknown }).constructor;
    if (typeof cls === 'function' && (flagsOf(cls) & CLONE) === 0) {
      const fast = cloneValue(instance);
      if (fast !== BAIL) return fast as T;
      markBailed(cls, CLONE);
    }
  }
  return instanceToInstance(instance);
}

function jsonSafe(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value !== null && typeof value === 'object') {
    const out: PlainData = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = jsonSafe(v);
    return out;
  }
  return value;
}

// Fast paths. class-transformer walks every value through its metadata storage (several
// Map lookups, array filters and option spreads per key) even for classes that carry no
// decorator at all, which is most messages and process states. For a class graph with no
// @Type / @Expose / @Exclude / @Transform anywhere, the walks below give exactly what
// class-transformer 0.5.1 gives with default options (same constructors called, same keys
// skipped, same deep copies), and give up (BAIL) on anything they do not replicate
// (Map, Set, Buffer, promises, function-valued fields, classes with metadata, objects
// without Object.prototype): the caller then runs class-transformer itself.

const BAIL: unique symbol = Symbol('bail');
type Bail = typeof BAIL;

interface MetadataMaps {
  readonly _typeMetadatas: Map<unknown, unknown>;
  readonly _transformMetadatas: Map<unknown, unknown>;
  readonly _exposeMetadatas: Map<unknown, unknown>;
  readonly _excludeMetadatas: Map<unknown, unknown>;
}

// The storage the class-transformer decorators write to (its private maps, keyed by class).
// When it cannot be read (another class-transformer version), every class is treated as
// decorated and nothing takes a fast path.
const metadataMaps: readonly Map<unknown, unknown>[] | undefined = (() => {
  try {
    const storage = (require('class-transformer/cjs/storage') as { defaultMetadataStorage?: MetadataMaps })
      .defaultMetadataStorage;
    const maps = storage
      ? [
          storage._typeMetadatas,
          storage._transformMetadatas,
          storage._exposeMetadatas,
          storage._excludeMetadatas,
        ]
      : [];
    return maps.length === 4 && maps.every((m) => m instanceof Map) ? maps : undefined;
  } catch {
    return undefined;
  }
})();

// Per class: whether it or an ancestor has class-transformer metadata, and which fast paths
// gave up on it once (so a class whose data needs class-transformer does not pay for a
// failed attempt every time). Dropped whenever a decorator registers a new class.
const DECORATED = 1;
const FROM_PLAIN = 2;
const CLONE = 4;
const TO_PLAIN = 8;
let classFlags = new WeakMap<object, number>();
let metadataGeneration = -1;

function currentGeneration(maps: readonly Map<unknown, unknown>[]): number {
  let n = 0;
  for (const m of maps) n += m.size;
  return n;
}

function flagsOf(cls: object): number {
  const maps = metadataMaps;
  if (maps === undefined) return DECORATED | FROM_PLAIN | CLONE | TO_PLAIN;
  const generation = currentGeneration(maps);
  if (generation !== metadataGeneration) {
    classFlags = new WeakMap();
    metadataGeneration = generation;
  }
  let flags = classFlags.get(cls);
  if (flags === undefined) {
    flags = 0;
    // class-transformer applies the metadata of every ancestor class too.
    for (
      let c: unknown = cls;
      typeof c === 'function' && c !== Function.prototype;
      c = Object.getPrototypeOf(c)
    ) {
      if (maps.some((m) => m.has(c))) {
        flags |= DECORATED;
        break;
      }
    }
    classFlags.set(cls, flags);
  }
  return flags;
}

function hasNoMetadata(cls: object): boolean {
  return (flagsOf(cls) & DECORATED) === 0;
}

function markBailed(cls: object, path: number): void {
  classFlags.set(cls, flagsOf(cls) | path);
}

// Target classes class-transformer converts to specially rather than field by field.
const SPECIAL = new Set<unknown>([String, Number, Boolean, Date, Map, Set, Promise, globalThis.Buffer]);

/** An object built by `{}` / JSON.parse: the only objects the plain walks copy. */
function isPlainObject(value: unknown): value is PlainData {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  // An own `constructor` or `then` changes what class-transformer does with the object.
  return !Object.hasOwn(value, 'constructor') && typeof (value as { then?: unknown }).then !== 'function';
}

// class-transformer never writes a key that is a method or getter-only accessor of the
// target (on its class's prototype) or that holds a function on the new object.
function skipsKey(target: Record<string, unknown>, key: string): boolean {
  if (key === '__proto__' || key === 'constructor') return true;
  if (!(key in target)) return false;
  const proto = (target.constructor as { prototype?: object } | undefined)?.prototype;
  if (proto) {
    const descriptor = Object.getOwnPropertyDescriptor(proto, key);
    if (descriptor && !descriptor.set) return true;
  }
  return target[key] instanceof Function;
}

/** plainToInstance(cls, data) for an undecorated class and plain JSON data. */
function fromPlainFast<T extends object>(cls: new () => T, data: PlainData): T | Bail {
  const out = new cls() as Record<string, unknown>;
  for (const key of Object.keys(data)) {
    if (skipsKey(out, key)) continue;
    const value = copyPlain(data[key]);
    if (value === BAIL) return BAIL;
    out[key] = value;
  }
  return out as T;
}

/** The PLAIN_TO_CLASS walk of a value with no target type. */
function copyPlain(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) continue;
      const item = copyPlain(value[i]);
      if (item === BAIL) return BAIL;
      out.push(item);
    }
    return out;
  }
  if (value instanceof Date) return new Date(value.valueOf());
  if (!isPlainObject(value)) return BAIL;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (skipsKey(out, key)) continue;
    const item = copyPlain(value[key]);
    if (item === BAIL) return BAIL;
    out[key] = item;
  }
  return out;
}

/** The class (when it is one the walks handle) class-transformer would guess for an object. */
function walkableClass(value: object): (new () => object) | undefined | Bail {
  if (value instanceof Map || value instanceof Set || value instanceof Promise) return BAIL;
  if (typeof Buffer !== 'undefined' && value instanceof Buffer) return BAIL;
  if (typeof (value as { then?: unknown }).then === 'function') return BAIL;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === null) return BAIL;
  const cls = (value as { constructor?: unknown }).constructor;
  if (cls === Object) return proto === Object.prototype ? undefined : BAIL;
  if (typeof cls !== 'function' || cls === Array || cls.prototype !== proto) return BAIL;
  return hasNoMetadata(cls) ? (cls as new () => object) : BAIL;
}

/** jsonSafe(instanceToPlain(value)) for an undecorated class graph. */
function toPlainFast(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) continue;
      const item = toPlainFast(value[i]);
      if (item === BAIL) return BAIL;
      out.push(item);
    }
    return out;
  }
  if (value instanceof Date) return new Date(value.valueOf()).toISOString();
  if (walkableClass(value) === BAIL) return BAIL;
  const source = value as Record<string, unknown>;
  const out: PlainData = {};
  for (const key of Object.keys(source)) {
    if (key === '__proto__' || key === 'constructor') continue;
    const field = source[key];
    // class-transformer calls function-valued fields and serialises what they return.
    if (field instanceof Function) return BAIL;
    const item = toPlainFast(field);
    if (item === BAIL) return BAIL;
    if (item !== undefined) out[key] = item;
  }
  return out;
}

/** instanceToInstance(value) for an undecorated class graph. */
function cloneValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) continue;
      const item = cloneValue(value[i]);
      if (item === BAIL) return BAIL;
      out.push(item);
    }
    return out;
  }
  if (value instanceof Date) return new Date(value.valueOf());
  const cls = walkableClass(value);
  if (cls === BAIL) return BAIL;
  const source = value as Record<string, unknown>;
  const out = (cls ? new cls() : {}) as Record<string, unknown>;
  for (const key of Object.keys(source)) {
    const field = source[key];
    if (field instanceof Function) return BAIL;
    if (skipsKey(out, key)) continue;
    const item = cloneValue(field);
    if (item === BAIL) return BAIL;
    out[key] = item;
  }
  return out;
}
