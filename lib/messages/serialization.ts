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
  return jsonSafe(instanceToPlain(instance)) as PlainData;
}

/** Builds an instance of `cls` from plain data (the inverse of {@link toPlain}). */
export function fromPlain<T extends object>(cls: Class<T>, data: PlainData): T {
  return plainToInstance(cls as new () => T, data);
}

/** A deep copy of a class instance that keeps its class and nested types. */
export function cloneInstance<T extends object>(instance: T): T {
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
