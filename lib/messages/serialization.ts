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
  const info = isPlainObject(data) ? infoOf(cls) : undefined;
  if (info !== undefined && (info.flags & (DECORATED | FROM_PLAIN | SPECIAL_CLASS)) === 0) {
    const fast = fromPlainFast(cls as new () => T, data, info);
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
/** One of the classes class-transformer builds specially (SPECIAL). */
const SPECIAL_CLASS = 16;
/** When class-transformer's storage cannot be read: every class counts as decorated. */
const UNKNOWN_METADATA: ClassInfo = Object.freeze({
  flags: DECORATED | FROM_PLAIN | CLONE | TO_PLAIN,
  plan: new Map<string, boolean>(),
  flat: undefined,
});
/** What is known about one class; dropped whenever a decorator registers a new class. */
interface ClassInfo {
  flags: number;
  /**
   * Whether fromPlain skips each data key it met (see skipsKey). The answer comes from the
   * class (its prototype, and what its constructor puts on a new instance), so it is worked
   * out once per class and key instead of for every message: that check was ~60% of
   * decoding. A constructor that gave some instances a function-valued field and others
   * not would need it per instance; message classes do not do that. Bounded, for data
   * with ever-new keys.
   */
  readonly plan: Map<string, boolean>;
  /**
   * The keys (in order) of the last data whose keys this class copies as they are and
   * whose values were all primitives: data with the same keys can go through Object.assign
   * (which also copies own enumerable symbol keys; JSON data has none).
   */
  flat: readonly string[] | undefined;
}
const PLANNED_KEYS = 256;
let classInfo = new WeakMap<object, ClassInfo>();
let metadataGeneration = -1;

function currentGeneration(maps: readonly Map<unknown, unknown>[]): number {
  let n = 0;
  for (let i = 0; i < maps.length; i++) n += (maps[i] as Map<unknown, unknown>).size;
  return n;
}

function infoOf(cls: object): ClassInfo {
  const maps = metadataMaps;
  if (maps === undefined) return UNKNOWN_METADATA;
  const generation = currentGeneration(maps);
  if (generation !== metadataGeneration) {
    classInfo = new WeakMap();
    metadataGeneration = generation;
  }
  let info = classInfo.get(cls);
  if (info === undefined) {
    let flags = SPECIAL.has(cls) ? SPECIAL_CLASS : 0;
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
    info = { flags, plan: new Map(), flat: undefined };
    classInfo.set(cls, info);
  }
  return info;
}

function flagsOf(cls: object): number {
  return infoOf(cls).flags;
}

function hasNoMetadata(cls: object): boolean {
  return (flagsOf(cls) & DECORATED) === 0;
}

function markBailed(cls: object, path: number): void {
  const info = infoOf(cls);
  if (info !== UNKNOWN_METADATA) info.flags |= path;
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
function fromPlainFast<T extends object>(cls: new () => T, data: PlainData, info: ClassInfo): T | Bail {
  const out = new cls() as Record<string, unknown>;
  const flatKeys = info.flat;
  if (flatKeys !== undefined) {
    // Keys this class copies as they are; with only primitive values (most events) one
    // Object.assign does the copy: a field-by-field store here sees every message class's
    // shape (megamorphic) and cost ~3x as much. for-in allocates no key array; an inherited
    // enumerable key makes the sequence differ and takes the path below.
    let i = 0;
    let flat = true;
    for (const key in data) {
      const value = data[key];
      if (key !== flatKeys[i++] || (value !== null && typeof value === 'object')) {
        flat = false;
        break;
      }
    }
    if (flat && i === flatKeys.length) return Object.assign(out, data) as T;
  }
  const keys = Object.keys(data);
  const plan = info.plan;
  let skipped = false;
  let nested = false;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    let skip = plan.get(key);
    if (skip === undefined) {
      skip = skipsKey(out, key);
      if (plan.size < PLANNED_KEYS) plan.set(key, skip);
    }
    if (skip) {
      skipped = true;
      continue;
    }
    const raw = data[key];
    if (raw !== null && typeof raw === 'object') nested = true;
    const value = copyPlain(raw);
    if (value === BAIL) return BAIL;
    out[key] = value;
  }
  if (!skipped && !nested && keys.length <= PLANNED_KEYS) info.flat = keys;
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
