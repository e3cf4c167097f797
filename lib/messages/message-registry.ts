import { DefinitionError, MalformedEventError, UnknownEventTypeError } from '../errors';
import { type Class, type MessageKind, messageRecordOf } from '../metadata';
import type { StoredEventRecord } from '../store/event-store';
import { type PlainData, fromPlain, toPlain } from './serialization';

/**
 * Checks a decoded message; returns one sentence per problem (empty when valid).
 * Plug class-validator in here: `(m) => validateSync(m).map(String)`.
 */
export type MessageValidator = (message: object, type: string) => readonly string[];

/** Options of a {@link MessageRegistry}. */
export interface MessageRegistryOptions {
  /** Runs on every decoded message; problems make the event a `MalformedEventError`. */
  readonly validate?: MessageValidator;
}

/** A stored event decoded into its message class. */
export interface DecodedEvent<T extends object = object> {
  readonly id: string;
  readonly type: string;
  readonly stream: string;
  readonly revision: bigint;
  /** Commit position in $all, when read from the store. */
  readonly position?: bigint;
  readonly created?: Date;
  /** The instance of the registered class. */
  readonly message: T;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** The parts of a stored event that decoding needs. */
export type EncodedEvent = Pick<StoredEventRecord, 'id' | 'type' | 'stream' | 'revision' | 'data'> &
  Partial<Pick<StoredEventRecord, 'isJson' | 'metadata' | 'position' | 'created'>>;

interface Entry {
  readonly cls: Class;
  readonly type: string;
  readonly kind: MessageKind;
}

/**
 * Maps message type names to classes and back, and (de)serialises messages with
 * class-transformer. Create one per application (or test) and hand it to the runtime;
 * there is no global registry.
 *
 * @example
 * ```ts
 * const registry = new MessageRegistry().register(OrderPlaced, ChargePayment);
 * const event = registry.decode(record); // DecodedEvent<OrderPlaced>
 * const { type, data } = registry.serialize(new ChargePayment('o1', 10));
 * ```
 */
export class MessageRegistry {
  readonly #byType = new Map<string, Entry>();
  readonly #byClass = new Map<Class, Entry>();
  readonly #validate: MessageValidator | undefined;

  constructor(options: MessageRegistryOptions = {}) {
    this.#validate = options.validate;
  }

  /**
   * Registers classes decorated with `@Event` / `@Command`. Throws one `DefinitionError`
   * listing every class that is undecorated or whose type name is taken by another class.
   */
  register(...classes: Class[]): this {
    const problems: string[] = [];
    for (const cls of classes) {
      const record = typeof cls === 'function' ? messageRecordOf(cls) : undefined;
      if (!record) {
        problems.push(
          `${describe(cls)} has no @Event('Type') or @Command('Type'); decorate it or use registerAs(cls, 'Type').`,
        );
        continue;
      }
      const problem = this.#add({ cls, type: record.type, kind: record.kind });
      if (problem) problems.push(problem);
    }
    if (problems.length > 0) throw new DefinitionError('message registry', problems);
    return this;
  }

  /** Registers a class under a type name without decorating it. */
  registerAs(cls: Class, type: string, kind: MessageKind = 'event'): this {
    const problem = this.#add({ cls, type, kind });
    if (problem) throw new DefinitionError('message registry', [problem]);
    return this;
  }

  /** True when `type` has a registered class. */
  has(type: string): boolean {
    return this.#byType.has(type);
  }

  /** The class registered for `type`. */
  classOf(type: string): Class | undefined {
    return this.#byType.get(type)?.cls;
  }

  /** Whether `type` is an event or a command type. */
  kindOf(type: string): MessageKind | undefined {
    return this.#byType.get(type)?.kind;
  }

  /** Every registered type name. */
  types(): string[] {
    return [...this.#byType.keys()];
  }

  /**
   * The type name of a class (or of an instance's class). A class decorated with
   * `@Event`/`@Command` that was not registered yet is registered on the way; anything
   * else returns undefined.
   */
  typeOf(classOrInstance: Class | object): string | undefined {
    const cls = (
      typeof classOrInstance === 'function' ? classOrInstance : classOrInstance.constructor
    ) as Class;
    const known = this.#byClass.get(cls);
    if (known) return known.type;
    const record = messageRecordOf(cls);
    if (!record || this.#add({ cls, type: record.type, kind: record.kind })) return undefined;
    return record.type;
  }

  /** The type name and JSON-safe data of a message. Throws `DefinitionError` when its class is unknown. */
  serialize(message: object): { type: string; data: PlainData } {
    const type = this.typeOf(message);
    if (type === undefined) {
      throw new DefinitionError('message registry', [
        `${describe(message.constructor)} is not a registered message class; decorate it with @Event/@Command or register it.`,
      ]);
    }
    return { type, data: toPlain(message) };
  }

  /**
   * Decodes a stored event into its class. Throws `UnknownEventTypeError` for an
   * unregistered type and `MalformedEventError` for a payload that is not a JSON object,
   * cannot be converted, or fails validation; both carry stream, revision and event id.
   */
  decode<T extends object = object>(record: EncodedEvent): DecodedEvent<T> {
    const entry = this.#byType.get(record.type);
    if (!entry) throw new UnknownEventTypeError(record.type, record.stream, record.revision, record.id);
    const data = record.data;
    if (record.isJson === false || data instanceof Uint8Array)
      throw malformed(record, ['the payload is not JSON']);
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw malformed(record, [`the payload is ${describeValue(data)}, not a JSON object`]);
    }
    let message: T;
    try {
      message = fromPlain(entry.cls, data as PlainData) as T;
    } catch (err) {
      throw malformed(record, [`converting it to ${entry.cls.name} threw: ${(err as Error).message}`], err);
    }
    if (this.#validate) {
      const problems = this.#validate(message, record.type) ?? [];
      if (problems.length > 0) throw malformed(record, [...problems]);
    }
    const { id, type, stream, revision, position, created } = record;
    const metadata = record.metadata ?? {};
    // Same keys in the same order either way; the first form skips two spreads per event.
    if (position !== undefined && created !== undefined) {
      return { id, type, stream, revision, position, created, message, metadata };
    }
    return {
      id,
      type,
      stream,
      revision,
      ...(position === undefined ? {} : { position }),
      ...(created === undefined ? {} : { created }),
      message,
      metadata,
    };
  }

  /**
   * Builds a message from its type name and plain data (e.g. a command read from
   * `CommandScheduled`). Throws `DefinitionError` for an unknown type.
   */
  deserialize<T extends object = object>(type: string, data: PlainData): T {
    const entry = this.#byType.get(type);
    if (!entry) {
      throw new DefinitionError('message registry', [`message type '${type}' is not registered.`]);
    }
    return fromPlain(entry.cls, data) as T;
  }

  #add(entry: Entry): string | undefined {
    if (typeof entry.type !== 'string' || entry.type.length === 0) {
      return `${describe(entry.cls)} needs a non-empty type name.`;
    }
    const byType = this.#byType.get(entry.type);
    if (byType && byType.cls !== entry.cls) {
      return `type '${entry.type}' is claimed by both ${byType.cls.name} and ${entry.cls.name}.`;
    }
    const byClass = this.#byClass.get(entry.cls);
    if (byClass && byClass.type !== entry.type) {
      return `${entry.cls.name} is registered as both '${byClass.type}' and '${entry.type}'.`;
    }
    this.#byType.set(entry.type, entry);
    this.#byClass.set(entry.cls, entry);
    return undefined;
  }
}

function malformed(record: EncodedEvent, problems: string[], cause?: unknown): MalformedEventError {
  return new MalformedEventError(record.type, record.stream, record.revision, record.id, problems, { cause });
}

function describe(cls: unknown): string {
  return typeof cls === 'function' && cls.name ? cls.name : String(cls);
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
