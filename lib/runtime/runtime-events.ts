/** Events the runtime writes outside process streams. */
export const RuntimeEventTypes = {
  /**
   * An input event in a subscribed category that could not be decoded or routed
   * (unknown type, malformed payload, a correlate that threw), kept in
   * `sagastreamRejected-<processName>` so it is never silently lost.
   */
  InputRejected: 'sagastream.InputRejected',
} as const;

/** The stream holding a process's rejected inputs. */
export function rejectedStreamOf(processName: string): string {
  return `sagastreamRejected-${processName}`;
}

/** Data of `sagastream.InputRejected`. */
export interface InputRejectedData {
  readonly eventId: string;
  readonly type: string;
  readonly stream: string;
  /** Decimal string: revisions are 64-bit. */
  readonly revision: string;
  readonly error: { readonly message: string; readonly code?: string; readonly name?: string };
}

/** What a report is about: a process-manager instance, a step-workflow run or an action-saga run. */
export type ReportOwner = 'process' | 'workflow' | 'saga';

/**
 * Something the runtime reports: what a user must see even though the pipeline carries on.
 * One type for the three authoring styles; `owner` says which one, `processName` is the
 * process name, workflow id or saga name, and `processId` the instance, run or saga id.
 */
export interface RuntimeReport {
  readonly kind:
    /** An input could not be decoded or routed; kept in `sagastreamRejected-<process>`. */
    | 'rejected'
    /** An input reached an instance that had not started or had finished (per policy). */
    | 'ignored'
    /** A handler (or a workflow pass) hit a code problem; the instance waits for release or skip. */
    | 'quarantined'
    /** A handler threw and will be retried. */
    | 'handlerRetry'
    /** A command failed for good and was fed back to its process. */
    | 'commandFailed'
    /** A transient command failure that will be retried. */
    | 'commandRetry'
    /** An append kept conflicting; the input will be retried. */
    | 'conflict'
    /** A workflow run or a saga started. */
    | 'started'
    /** A workflow run or a saga ended with every step done. */
    | 'completed'
    /** A workflow run or a saga failed and every compensation ran. */
    | 'compensated'
    /** A compensation failed for good; the run stops there for an operator. */
    | 'compensationFailed'
    /** A workflow run waits for the clock (`wakeAt`) or an event. */
    | 'suspended'
    /** A workflow run waits for the run holding its concurrency key. */
    | 'queued'
    /** A workflow pass was cut short (a concurrent writer, a store failure) and will be retried. */
    | 'retry'
    /** A saga stopped on an unexpected error (e.g. the store is unreachable); it resumes on the next start. */
    | 'interrupted';
  /**
   * Which authoring style the instance belongs to. Set on every report `ProcessRuntime`
   * hands out (`reports`, `onReport`); undefined only inside a process host. @default 'process'
   */
  readonly owner?: ReportOwner;
  readonly processName: string;
  readonly processId?: string;
  readonly eventId?: string;
  readonly stream?: string;
  readonly revision?: bigint;
  readonly error?: unknown;
  /** Set for `suspended` when a timer will wake the run (ms since the epoch). */
  readonly wakeAt?: number;
  readonly detail: string;
}
