import type { FailureInfo } from '../process/process-events';

/**
 * Step events: the few `sagastream.*` types that step workflows and action sagas add to the
 * shared process vocabulary (`ProcessEventTypes`). Everything else they write (started,
 * inputs, compensations, timeouts, terminal outcomes) uses the shared names, so one
 * inspection tool reads every authoring style.
 */
export const StepEventTypes = {
  /** A step (or an action of a saga) finished; its result is returned on replay. */
  StepCompleted: 'sagastream.StepCompleted',
  /** One attempt of a step threw; another attempt follows at `retryAt` unless it is the last. */
  StepAttemptFailed: 'sagastream.StepAttemptFailed',
  /** A step failed for good (non-retryable, or attempts exhausted); the error reaches the code. */
  StepFailed: 'sagastream.StepFailed',
  /** A run waits for an event (`step.waitForEvent`); `dueAt` bounds the wait. */
  EventAwaited: 'sagastream.EventAwaited',
  /** A run took its concurrency key (in the key's lease stream `<workflowId>Key-<hash>`). */
  ConcurrencyKeyAcquired: 'sagastream.ConcurrencyKeyAcquired',
  /** The run holding a concurrency key ended; the next run of that key may take it. */
  ConcurrencyKeyReleased: 'sagastream.ConcurrencyKeyReleased',
} as const;

/** Data of each step event type. */
export interface StepEventData {
  /** `result` is absent when the step returned `undefined`; `inputId` names the event a wait consumed. */
  'sagastream.StepCompleted': { step: string; result?: unknown; inputId?: string };
  /** `retryAt` (ISO date) is absent on the last attempt. */
  'sagastream.StepAttemptFailed': { step: string; attempt: number; error: FailureInfo; retryAt?: string };
  'sagastream.StepFailed': { step: string; attempts: number; error: FailureInfo };
  'sagastream.EventAwaited': { step: string; event: string; dueAt?: string };
  'sagastream.ConcurrencyKeyAcquired': { key: string; runId: string };
  'sagastream.ConcurrencyKeyReleased': { key: string; runId: string };
}

/** The machine-readable form of a thrown value, as events record it. */
export function failureInfo(error: unknown): FailureInfo {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      message: error.message,
      name: error.name,
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  return { message: String(error) };
}

/** Round-trips a step result through JSON, so a live run sees what a replay will see. */
export function toRecorded(value: unknown): unknown {
  if (value === undefined) return undefined;
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  return text === undefined ? undefined : (JSON.parse(text) as unknown);
}
