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

/** Something the runtime reports: what a user must see even though the pipeline carries on. */
export interface RuntimeReport {
  readonly kind:
    /** An input could not be decoded or routed; kept in `sagastreamRejected-<process>`. */
    | 'rejected'
    /** An input reached an instance that had not started or had finished (per policy). */
    | 'ignored'
    /** A handler kept throwing; the instance waits for release or skip. */
    | 'quarantined'
    /** A handler threw and will be retried. */
    | 'handlerRetry'
    /** A command failed for good and was fed back to its process. */
    | 'commandFailed'
    /** A transient command failure that will be retried. */
    | 'commandRetry'
    /** An append kept conflicting; the input will be retried. */
    | 'conflict';
  readonly processName: string;
  readonly processId?: string;
  readonly eventId?: string;
  readonly stream?: string;
  readonly revision?: bigint;
  readonly error?: unknown;
  readonly detail: string;
}
