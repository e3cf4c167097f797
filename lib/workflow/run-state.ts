import { type FailureInfo, ProcessEventTypes as P } from '../process/process-events';
import type { StoredEventRecord } from '../store/event-store';
import { StepEventTypes as S } from './step-events';

/**
 * An event as a workflow sees it: a trigger (`event` in the workflow function) or an event
 * returned by `step.waitForEvent`. Plain JSON, exactly as recorded in the run's stream.
 */
export interface WorkflowEvent<D = Record<string, unknown>> {
  readonly id: string;
  readonly type: string;
  /** The stream it was appended to, e.g. `order-o1`. */
  readonly stream: string;
  /** Its revision in that stream, as a decimal string. */
  readonly revision: string;
  readonly data: D;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** Where a run stands. `failed`: the workflow function failed and compensations are running. */
export type RunStatus = 'new' | 'running' | 'failed' | 'completed' | 'compensated' | 'compensationFailed';

/** Everything a run's stream says, rebuilt by {@link replayRun}. */
export interface RunState {
  readonly workflowId: string;
  readonly runId: string;
  readonly stream: string;
  /** Last revision of the stream, undefined before the first append. */
  revision: bigint | undefined;
  status: RunStatus;
  trigger: WorkflowEvent | undefined;
  /** Steps (run, sleep, wait) in the order they were first recorded: the determinism check. */
  readonly steps: string[];
  readonly results: Map<string, { readonly result: unknown; readonly inputId?: string }>;
  readonly attempts: Map<string, { count: number; retryAt: number | undefined; last: FailureInfo }>;
  readonly failedSteps: Map<string, { readonly attempts: number; readonly error: FailureInfo }>;
  /** `step.sleep` due times by step name, ms since the epoch. */
  readonly timers: Map<string, number>;
  /** Steps whose timer fired (a sleep that ended, a wait that timed out). */
  readonly fired: Set<string>;
  readonly awaited: Map<string, { readonly event: string; readonly dueAt: number | undefined }>;
  /** Events recorded for `step.waitForEvent`, in arrival order (trigger excluded). */
  readonly inputs: WorkflowEvent[];
  readonly inputIds: Set<string>;
  /** Input ids a wait has taken. */
  readonly consumed: Set<string>;
  /** Compensation steps in registration order. */
  readonly registered: string[];
  readonly compensationsScheduled: Set<string>;
  readonly compensationsCompleted: Set<string>;
  failureReason: string | undefined;
  quarantine: { readonly eventId: string; readonly error: FailureInfo } | undefined;
}

/** The stream of a run: `<workflowId>-<runId>` (the workflow id is the category). */
export function runStream(workflowId: string, runId: string): string {
  return `${workflowId}-${runId}`;
}

/** The state of a run before anything is recorded. */
export function emptyRunState(workflowId: string, runId: string): RunState {
  return {
    workflowId,
    runId,
    stream: runStream(workflowId, runId),
    revision: undefined,
    status: 'new',
    trigger: undefined,
    steps: [],
    results: new Map(),
    attempts: new Map(),
    failedSteps: new Map(),
    timers: new Map(),
    fired: new Set(),
    awaited: new Map(),
    inputs: [],
    inputIds: new Set(),
    consumed: new Set(),
    registered: [],
    compensationsScheduled: new Set(),
    compensationsCompleted: new Set(),
    failureReason: undefined,
    quarantine: undefined,
  };
}

/** True once the run has reached an end: nothing more will happen to it. */
export function isFinished(state: RunState): boolean {
  return (
    state.status === 'completed' || state.status === 'compensated' || state.status === 'compensationFailed'
  );
}

/** Prefix of the step name under which a compensation's attempts are recorded. */
export const COMPENSATE_PREFIX = 'compensate:';

/** Rebuilds a run from its stream. Unknown event types are skipped (newer writers). */
export function replayRun(
  workflowId: string,
  runId: string,
  records: readonly Pick<StoredEventRecord, 'type' | 'data' | 'revision'>[],
): RunState {
  const state = emptyRunState(workflowId, runId);
  for (const record of records)
    applyRunEvent(state, record.type, record.data as Record<string, unknown>, record.revision);
  return state;
}

const seen = (state: RunState, step: string): void => {
  if (!step.startsWith(COMPENSATE_PREFIX) && !state.steps.includes(step)) state.steps.push(step);
};
const time = (iso: unknown): number | undefined => (typeof iso === 'string' ? Date.parse(iso) : undefined);

/** Applies one recorded event to `state` (also used right after an append, so live equals replayed). */
export function applyRunEvent(
  state: RunState,
  type: string,
  data: Record<string, unknown>,
  revision: bigint,
): void {
  state.revision = revision;
  const step = typeof data.step === 'string' ? data.step : '';
  switch (type) {
    case P.ProcessStarted:
      state.status = 'running';
      break;
    case P.InputRecorded: {
      const event = data.event as WorkflowEvent | undefined;
      if (!event) break;
      if (data.trigger === true) state.trigger = event;
      else if (!state.inputIds.has(event.id)) {
        state.inputs.push(event);
        state.inputIds.add(event.id);
      }
      break;
    }
    case S.StepCompleted:
      seen(state, step);
      state.results.set(step, {
        result: data.result,
        ...(typeof data.inputId === 'string' ? { inputId: data.inputId } : {}),
      });
      if (typeof data.inputId === 'string') state.consumed.add(data.inputId);
      break;
    case S.StepAttemptFailed: {
      seen(state, step);
      state.attempts.set(step, {
        count: Number(data.attempt),
        retryAt: time(data.retryAt),
        last: data.error as FailureInfo,
      });
      break;
    }
    case S.StepFailed:
      seen(state, step);
      state.failedSteps.set(step, { attempts: Number(data.attempts), error: data.error as FailureInfo });
      break;
    case S.EventAwaited:
      seen(state, step);
      state.awaited.set(step, { event: String(data.event), dueAt: time(data.dueAt) });
      break;
    case P.TimeoutScheduled: {
      const key = String(data.key);
      seen(state, key);
      state.timers.set(key, time(data.dueAt) ?? 0);
      break;
    }
    case P.TimeoutFired:
      state.fired.add(String(data.key));
      break;
    case P.CompensationRegistered:
      state.registered.push(step);
      break;
    case P.ProcessFailed:
      state.status = 'failed';
      state.failureReason = String(data.reason);
      break;
    case P.CompensationScheduled:
      state.compensationsScheduled.add(step);
      break;
    case P.CompensationCompleted:
      state.compensationsCompleted.add(step);
      break;
    case P.ProcessCompleted:
      state.status = 'completed';
      break;
    case P.ProcessCompensated:
      state.status = 'compensated';
      break;
    case P.ProcessCompensationFailed:
      state.status = 'compensationFailed';
      break;
    case P.ProcessQuarantined:
      state.quarantine = { eventId: String(data.eventId), error: data.error as FailureInfo };
      break;
    case P.ProcessReleased:
      state.quarantine = undefined;
      break;
    default:
      break;
  }
}

/**
 * Which style wrote a run's stream: `saga` when its trigger is the saga's recorded input
 * (`<name>.input`), `workflow` for any other recorded trigger, undefined when no trigger is
 * recorded (a process-manager instance, whose inputs carry no `trigger` flag).
 */
export function runKindOf(
  name: string,
  records: readonly Pick<StoredEventRecord, 'type' | 'data'>[],
): 'workflow' | 'saga' | undefined {
  for (const record of records) {
    const data = record.data as { trigger?: unknown; type?: unknown } | null;
    if (record.type === P.InputRecorded && data?.trigger === true) {
      return data.type === `${name}.input` ? 'saga' : 'workflow';
    }
  }
  return undefined;
}
