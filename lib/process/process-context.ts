import { type FailureInfo } from './process-events';
import { type PendingTimer, type ProcessStatus } from './process-state';

/**
 * What a handler gets to decide with. Every method only records an intent as an event
 * in the process stream (appended atomically with the input's dedupe record); nothing is
 * sent, scheduled or stored until that append succeeds, and nothing here performs I/O.
 */
export interface ProcessContext<T extends object = object> {
  readonly processName: string;
  readonly processId: string;
  /** The id of the input being handled: the causation of everything recorded. */
  readonly inputId: string;
  /** The clock of this decision (injected, virtual in tests). Never call `Date.now()` in a handler. */
  readonly now: Date;
  /** The state, including what this handler has recorded so far. */
  readonly state: T;
  readonly status: ProcessStatus;
  /**
   * Schedules a command for the outbox relay. Returns its deterministic id (derived
   * from the process id, the input and the command's position in this decision).
   */
  dispatch(command: object): string;
  /** Records one of the process's own events; its `@Apply` method runs at once. */
  record(event: object): void;
  /**
   * Registers a compensation: if the process fails later, registered compensations
   * run one at a time in reverse order of registration. `step` defaults to the command type.
   */
  compensateWith(command: object, step?: string): void;
  /**
   * Schedules (or reschedules) the timeout `key`, handled by `@OnTimeout(key)`.
   * `at` is a date or a delay in milliseconds from `now`.
   */
  schedule(key: string, at: Date | number): void;
  /** Cancels the pending timeout `key`; does nothing when none is pending. */
  cancel(key: string): void;
  /** The pending timeout `key`, if any. */
  timer(key: string): PendingTimer | undefined;
  /**
   * Associates a lookup key (a business key such as a charge id or a tracking number) with
   * this instance, so events routed by `@On(Event, { byKey: (e) => e.chargeId })` reach it.
   * Recorded as `sagastream.KeyAssociated`; the runtime claims the key before appending, and
   * a key another instance already claimed quarantines this one with a
   * `CorrelationKeyConflictError`. Associating a key this instance already has does nothing.
   * Keys stay associated after the instance finishes (late events then meet `afterFinish`).
   */
  associate(key: string): void;
  /** Ends the process successfully; pending timeouts are cancelled. */
  complete(): void;
  /** Fails the process: its compensations run in reverse order of registration. */
  fail(reason: string): void;
}

/** What an `@OnCommandFailed` handler receives. */
export interface CommandFailure<C extends object = object> {
  readonly commandId: string;
  readonly type: string;
  readonly command: C;
  readonly error: FailureInfo;
}

/** What an `@OnTimeout` handler receives. */
export interface TimeoutFired {
  readonly key: string;
  readonly dueAt: Date;
}
