import { type Class, readClassRecord, updateClassRecord } from './class-record';

/** Where the process-manager decorators store a class's record. */
export const PROCESS_RECORD_KEY: symbol = Symbol.for('sagastream:process');

/** What to do with an input that reaches an instance which has not started, or has finished. */
export type ArrivalPolicy =
  /** Append `sagastream.InputIgnored` to the process stream and report it (default): never lost, never handled. */
  | 'record'
  /** Report it to the runtime without writing anything. */
  | 'ignore';

/** Options of `@ProcessManager`. */
export interface ProcessManagerOptions {
  /** Process name: the stream category, so it must not contain '-' (e.g. `orderFulfillment`). */
  readonly name: string;
  /** Definition version written into `ProcessStarted`. @default 1 */
  readonly version?: number;
  /** Append a snapshot after this many events since the last one. @default 200 */
  readonly snapshotEvery?: number;
  /** How many handled input ids the state keeps for dedupe (the newest ones). @default 1000 */
  readonly handledInputsKept?: number;
  /** Policy for inputs routed to an instance that has not started. @default 'record' */
  readonly beforeStart?: ArrivalPolicy;
  /** Policy for inputs routed to an instance that has finished. @default 'record' */
  readonly afterFinish?: ArrivalPolicy;
}

/** Maps an input event to the id (or ids) of the process instance(s) it concerns. */
export type Correlate<E> = (event: E) => string | readonly string[];

/**
 * Routes an input event by lookup key instead of process id: `byKey` returns the key (or
 * keys) an instance associated earlier with `ctx.associate(key)`, e.g. a charge id.
 */
export interface ByKey<E> {
  readonly byKey: (event: E) => string | readonly string[];
}

/** How `@On` finds the instance(s) of an event: by process id, or by a lookup key. */
export type Correlation<E> = Correlate<E> | ByKey<E>;

/** One decorated method of a process manager class. Fields typed `unknown` are validated by `defineProcess`. */
export type ProcessMemberRecord =
  | {
      readonly kind: 'startedBy' | 'on';
      readonly method: string | symbol;
      readonly isStatic: boolean;
      readonly event: unknown;
      /** A {@link Correlate} function, or `{ byKey }` ({@link ByKey}) for `@On`. */
      readonly correlate: unknown;
    }
  | {
      readonly kind: 'apply';
      readonly method: string | symbol;
      readonly isStatic: boolean;
      readonly event: unknown;
    }
  | {
      readonly kind: 'timeout';
      readonly method: string | symbol;
      readonly isStatic: boolean;
      readonly key: unknown;
    }
  | {
      readonly kind: 'commandFailed';
      readonly method: string | symbol;
      readonly isStatic: boolean;
      readonly command: unknown;
    };

/** Everything the decorators recorded about a process manager class. */
export interface ProcessRecord {
  /** Set by `@ProcessManager`; undefined when the class lacks it. */
  readonly options?: ProcessManagerOptions;
  /** Decorated methods in decoration order. */
  readonly members: readonly ProcessMemberRecord[];
}

/** The process record of `target`, or undefined when no process decorator touched it. */
export function processRecordOf(target: Class): ProcessRecord | undefined {
  return readClassRecord<ProcessRecord>(PROCESS_RECORD_KEY, target);
}

/** Sets the `@ProcessManager` options of `target`. */
export function defineProcessOptions(target: Class, options: ProcessManagerOptions): ProcessRecord {
  return updateClassRecord<ProcessRecord>(PROCESS_RECORD_KEY, target, (prev) => ({
    options: Object.freeze({ ...options }),
    members: prev?.members ?? Object.freeze([]),
  }));
}

/** Adds a decorated method to the record of `target`. */
export function addProcessMember(target: Class, member: ProcessMemberRecord): ProcessRecord {
  return updateClassRecord<ProcessRecord>(PROCESS_RECORD_KEY, target, (prev) => ({
    ...(prev?.options ? { options: prev.options } : {}),
    members: Object.freeze([...(prev?.members ?? []), Object.freeze({ ...member })]),
  }));
}
