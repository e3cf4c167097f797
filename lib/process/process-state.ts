import { type FailureInfo, type SerializedCommand } from './process-events';

/**
 * Where an instance stands. `running` and `compensating` take inputs; `completed`,
 * `compensated` and `compensationFailed` are terminal (the last needs an operator).
 */
export type ProcessStatus =
  'new' | 'running' | 'compensating' | 'completed' | 'compensated' | 'compensationFailed';

/** The terminal statuses. */
export const TERMINAL_STATUSES: readonly ProcessStatus[] = ['completed', 'compensated', 'compensationFailed'];

/**
 * A command the instance scheduled (regular or compensation). What to deliver is read from
 * the `sagastream.CommandScheduled` event, so a state keeps the payload (`data`) only where a
 * decision may need it: for a command type with an `@OnCommandFailed` handler (which is given
 * the command) and in `ProcessEngine.inspector` states (operators see it). A live instance
 * costs its ids and types, not every payload it ever sent.
 */
export interface ScheduledCommand {
  readonly commandId: string;
  readonly type: string;
  /** The payload, when kept (see above). */
  readonly data?: Record<string, unknown>;
  /** The compensation step, for compensation commands. */
  readonly step?: string;
}

/** A registered compensation and its progress. */
export interface CompensationStep {
  readonly step: string;
  readonly command: SerializedCommand;
  readonly status: 'registered' | 'scheduled' | 'completed' | 'failed';
  readonly commandId?: string;
  readonly error?: FailureInfo;
}

/** A timeout waiting to fire. */
export interface PendingTimer {
  readonly key: string;
  readonly dueAt: Date;
}

/**
 * An instance's state, rebuilt from its stream by `ProcessEngine.replay` and advanced by
 * `ProcessEngine.handle`. Treat it as immutable: the engine never changes a state it was given.
 */
export interface ProcessState<T extends object = object> {
  readonly processName: string;
  readonly processId: string;
  readonly stream: string;
  /** The stream's last revision (undefined: no stream yet): the expected revision of the next append. */
  readonly revision: bigint | undefined;
  readonly status: ProcessStatus;
  readonly definitionVersion: number | undefined;
  /** The user state: an instance of the process class, built by its `@Apply` methods. */
  readonly data: T;
  /** Handled input ids, oldest first, bounded by `handledInputsKept`. */
  readonly handled: ReadonlySet<string>;
  /** Commands scheduled so far, by command id. */
  readonly commands: ReadonlyMap<string, ScheduledCommand>;
  /** Compensations in registration order. */
  readonly compensations: readonly CompensationStep[];
  /** Pending timeouts, by key. */
  readonly timers: ReadonlyMap<string, PendingTimer>;
  /** Lookup keys associated with `ctx.associate`, oldest first; events routed by `byKey` find the instance by them. */
  readonly keys: ReadonlySet<string>;
  /** Why the process failed, once it did. */
  readonly failure: string | undefined;
  /** Set while the instance is quarantined. */
  readonly quarantine: { readonly eventId: string; readonly error: FailureInfo } | undefined;
  /** Events appended since the last snapshot (or the start). */
  readonly eventsSinceSnapshot: number;
}

/** True when the instance has finished (completed, compensated or compensation failed). */
export function isTerminal(status: ProcessStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}
