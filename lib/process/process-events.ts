/**
 * The process stream vocabulary shared by every authoring style (decorated classes,
 * step workflows, action sagas): framework events are prefixed with `sagastream.` so they
 * never clash with user event types. Data fields are JSON: dates are ISO strings and
 * revisions decimal strings.
 */
export const ProcessEventTypes = {
  ProcessStarted: 'sagastream.ProcessStarted',
  InputRecorded: 'sagastream.InputRecorded',
  InputIgnored: 'sagastream.InputIgnored',
  CommandScheduled: 'sagastream.CommandScheduled',
  CompensationRegistered: 'sagastream.CompensationRegistered',
  ProcessFailed: 'sagastream.ProcessFailed',
  CompensationScheduled: 'sagastream.CompensationScheduled',
  CompensationCompleted: 'sagastream.CompensationCompleted',
  CompensationFailed: 'sagastream.CompensationFailed',
  TimeoutScheduled: 'sagastream.TimeoutScheduled',
  TimeoutCancelled: 'sagastream.TimeoutCancelled',
  TimeoutFired: 'sagastream.TimeoutFired',
  KeyAssociated: 'sagastream.KeyAssociated',
  ProcessQuarantined: 'sagastream.ProcessQuarantined',
  ProcessReleased: 'sagastream.ProcessReleased',
  ProcessCompleted: 'sagastream.ProcessCompleted',
  ProcessCompensated: 'sagastream.ProcessCompensated',
  ProcessCompensationFailed: 'sagastream.ProcessCompensationFailed',
  Snapshot: 'sagastream.Snapshot',
} as const;

/** Prefix of every framework event type; user message types may not use it. */
export const FRAMEWORK_EVENT_PREFIX = 'sagastream.';

/** One of the framework event type names. */
export type ProcessEventType = (typeof ProcessEventTypes)[keyof typeof ProcessEventTypes];

/** True for the `sagastream.*` framework event types. */
export function isFrameworkEventType(type: string): boolean {
  return type.startsWith(FRAMEWORK_EVENT_PREFIX);
}

/** What a process is fed: a routed domain event, a command outcome, or a due timeout. */
export type InputKind = 'event' | 'commandSucceeded' | 'commandFailed' | 'timeout';

/** How a failure travels in events and inputs (errors themselves are not JSON). */
export interface FailureInfo {
  readonly message: string;
  /** The `code` of a SagastreamError, or another machine-readable code. */
  readonly code?: string;
  /** The error's class name. */
  readonly name?: string;
}

/** A command as written into the stream. */
export interface SerializedCommand {
  readonly type: string;
  readonly data: Record<string, unknown>;
}

/** Data of each framework event type. */
export interface ProcessEventData {
  'sagastream.ProcessStarted': { process: string; processId: string; definitionVersion: number };
  /** The dedupe record, appended with the decision it led to. */
  'sagastream.InputRecorded': {
    eventId: string;
    kind: InputKind;
    type: string;
    stream?: string;
    revision?: string;
  };
  /** An input the instance did not handle (before its start, after its end), kept so it is never silently lost. */
  'sagastream.InputIgnored': {
    eventId: string;
    type: string;
    stream?: string;
    revision?: string;
    reason: 'beforeStart' | 'afterFinish' | 'alreadyStarted';
  };
  'sagastream.CommandScheduled': { commandId: string; type: string; data: Record<string, unknown> };
  'sagastream.CompensationRegistered': { step: string; command: SerializedCommand };
  'sagastream.ProcessFailed': { reason: string };
  'sagastream.CompensationScheduled': {
    step: string;
    commandId: string;
    type: string;
    data: Record<string, unknown>;
  };
  'sagastream.CompensationCompleted': { step: string; commandId: string };
  'sagastream.CompensationFailed': { step: string; commandId: string; error: FailureInfo };
  /** `dueAt` is an ISO date. */
  'sagastream.TimeoutScheduled': { key: string; dueAt: string };
  'sagastream.TimeoutCancelled': { key: string };
  'sagastream.TimeoutFired': { key: string; dueAt: string };
  /**
   * A lookup key (`ctx.associate(key)`): events routed by `@On(E, { byKey })` with this key
   * reach the instance. The runtime also claims the key in `<process>Key-<sha1(key)>`.
   */
  'sagastream.KeyAssociated': { key: string };
  'sagastream.ProcessQuarantined': { eventId: string; error: FailureInfo };
  /** `skipped`: the input that quarantined the instance is marked handled without running. */
  'sagastream.ProcessReleased': { eventId: string; skipped: boolean };
  'sagastream.ProcessCompleted': Record<string, never>;
  'sagastream.ProcessCompensated': { reason: string };
  'sagastream.ProcessCompensationFailed': { step: string; error: FailureInfo };
  'sagastream.Snapshot': SnapshotData;
}

/** A process state as stored in `sagastream.Snapshot`. */
export interface SnapshotData {
  readonly schema: 1;
  readonly status: string;
  readonly definitionVersion?: number;
  /** The user state, through class-transformer. */
  readonly data: Record<string, unknown>;
  /** Handled input ids, oldest first (bounded). */
  readonly handled: readonly string[];
  readonly commands: readonly ScheduledCommandData[];
  readonly compensations: readonly CompensationStepData[];
  readonly timers: readonly { key: string; dueAt: string }[];
  /** Lookup keys associated with the instance (absent in snapshots written before keys existed). */
  readonly keys?: readonly string[];
  readonly failure?: string;
  readonly quarantine?: { eventId: string; error: FailureInfo };
}

/** A command scheduled by the process, kept so a failure can be routed back to a handler. */
export interface ScheduledCommandData {
  readonly commandId: string;
  readonly type: string;
  /** Only for command types with an `@OnCommandFailed` handler (older snapshots: every command). */
  readonly data?: Record<string, unknown>;
  /** Set for compensation commands. */
  readonly step?: string;
}

/** One registered compensation and how far it got. */
export interface CompensationStepData {
  readonly step: string;
  readonly command: SerializedCommand;
  readonly status: 'registered' | 'scheduled' | 'completed' | 'failed';
  readonly commandId?: string;
  readonly error?: FailureInfo;
}
