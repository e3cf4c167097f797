import { DefinitionError } from '../errors';
import { isFrameworkEventType } from '../process/process-events';
import type { BackoffOptions } from '../runtime/backoff';
import type { WorkflowEvent } from './run-state';

/** An event type that starts a run of the workflow, one run per event. */
export interface WorkflowTrigger {
  /** The event type, e.g. `OrderPlaced`. */
  readonly event: string;
}

/** How often a failing step (or compensation) is attempted, and how long to wait between attempts. */
export interface RetryPolicy {
  /** Attempts in all, the first included. @default 3 */
  readonly maxAttempts?: number;
  /** Delay between attempts (exponential with jitter), on the runtime's clock. @default { initialDelayMs: 1000, maxDelayMs: 60000 } */
  readonly backoff?: BackoffOptions;
}

/** What a step function is told about the attempt. */
export interface StepContext {
  /** Attempt number, from 1. */
  readonly attempt: number;
  /**
   * Stable for the step across attempts, crashes and workers: pass it to the service as an
   * idempotency key. A step runs at least once until its result is recorded, so a crash
   * after the side effect and before the record runs it again; the key makes that harmless.
   */
  readonly idempotencyKey: string;
}

/** Options of `step.waitForEvent`. */
export interface WaitForEventOptions<D> {
  /** The event type; it must be listed in the workflow's `awaits`. */
  readonly event: string;
  /** Picks the event among those correlated to the run (default: the first of that type). Must be pure. */
  readonly match?: (event: WorkflowEvent<D>) => boolean;
  /** Give up after this many ms and return `null`. @default wait forever */
  readonly timeout?: number;
}

/** An event a workflow publishes with `step.publish`. */
export interface PublishedEvent {
  readonly type: string;
  readonly data: Record<string, unknown>;
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/**
 * The durable operations of a workflow function. Each takes a name that is unique within
 * the run: the name identifies the recorded result, and the order of calls is checked on
 * every replay (a different order raises `NonDeterminismError`). Calls are executed one at
 * a time, in call order.
 */
export interface StepTools {
  /**
   * Runs `fn` and records its JSON result; on replay returns the recorded result without
   * running `fn`. Thrown errors are retried (see {@link RetryPolicy}); a `NonRetryableError`
   * or the last failed attempt makes the step throw a `StepFailedError`.
   */
  run<T>(name: string, fn: (ctx: StepContext) => T | Promise<T>, options?: RetryPolicy): Promise<Awaited<T>>;
  /**
   * Registers what undoes step `name` if the run fails later. Compensations run in reverse
   * order of registration, each recorded as step `compensate:<name>`.
   */
  compensate(name: string, fn: (ctx: StepContext) => unknown): void;
  /** Suspends the run for `ms` on the runtime's clock; survives restarts. */
  sleep(name: string, ms: number): Promise<void>;
  /**
   * Waits for an event correlated to the run (see `correlate`), returning it, or `null` on
   * timeout. Events that arrived since the run started count, so an early event is not lost.
   */
  waitForEvent<D = Record<string, unknown>>(
    name: string,
    options: WaitForEventOptions<D>,
  ): Promise<WorkflowEvent<D> | null>;
  /** Appends `event` to `stream` once (a deterministic event id); it may trigger other workflows. */
  publish(name: string, stream: string, event: PublishedEvent): Promise<void>;
}

/** What the workflow function receives. */
export interface WorkflowContext<D> {
  /** The trigger event. */
  readonly event: WorkflowEvent<D>;
  readonly step: StepTools;
  readonly workflowId: string;
  /** The run's id (the trigger event's id); the run's stream is `<workflowId>-<runId>`. */
  readonly runId: string;
}

/** The orchestrator: plain async code over `step.*`. It is re-run from the top on every resume. */
export type WorkflowFunction<D, R> = (context: WorkflowContext<D>) => Promise<R>;

/** Options of {@link createWorkflow}. */
export interface WorkflowOptions<D> {
  /** The workflow's name and its streams' category: letters, digits and `_`, no `-`. */
  readonly id: string;
  readonly triggers: readonly WorkflowTrigger[];
  /** Event types `step.waitForEvent` may wait for (the runtime subscribes to them). @default [] */
  readonly awaits?: readonly string[];
  /**
   * The key that ties an event to runs: an awaited event goes to the active runs whose
   * trigger has the same key. @default the event's stream (events after the trigger in its stream)
   */
  readonly correlate?: (event: WorkflowEvent) => string | undefined;
  /** Runs with the same key run one at a time, in trigger order. @default no limit */
  readonly concurrencyKey?: (event: WorkflowEvent<D>) => string | undefined;
  /** Default retry policy of its steps and compensations. */
  readonly retry?: RetryPolicy;
  /** Recorded in `ProcessStarted.definitionVersion`. @default 1 */
  readonly version?: number;
}

/** A validated workflow, ready for `ProcessRuntime.register`. */
export interface Workflow<D = Record<string, unknown>, R = unknown> {
  readonly id: string;
  readonly options: WorkflowOptions<D>;
  readonly fn: WorkflowFunction<D, R>;
  /** Trigger and awaited event types. */
  readonly triggerTypes: ReadonlySet<string>;
  readonly awaitedTypes: ReadonlySet<string>;
}

const ID = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * Defines a step workflow: an async function that orchestrates durable steps, started by
 * each event of a trigger type. Throws one `DefinitionError` listing every problem.
 *
 * @example
 * ```ts
 * export const fulfillOrder = createWorkflow(
 *   { id: 'fulfillOrder', triggers: [{ event: 'OrderPlaced' }] },
 *   async ({ event, step }) => {
 *     const payment = await step.run('charge-payment', () => payments.charge(event.data.total));
 *     step.compensate('charge-payment', () => payments.refund(payment.id));
 *     await step.run('create-shipment', () => shipping.createLabel(event.data.address));
 *   },
 * );
 * await new ProcessRuntime({ store }).register(fulfillOrder).start();
 * ```
 */
export function createWorkflow<D = Record<string, unknown>, R = unknown>(
  options: WorkflowOptions<D>,
  fn: WorkflowFunction<D, R>,
): Workflow<D, R> {
  const problems: string[] = [];
  if (typeof options.id !== 'string' || !ID.test(options.id)) {
    problems.push(
      `id '${String(options.id)}' must start with a letter and contain only letters, digits and '_' ` +
        `(it is the stream category, so no '-').`,
    );
  }
  if (!Array.isArray(options.triggers) || options.triggers.length === 0) {
    problems.push('triggers must list at least one event type.');
  }
  const check = (type: unknown, where: string): void => {
    if (typeof type !== 'string' || type.length === 0)
      problems.push(`${where} must be a non-empty event type.`);
    else if (isFrameworkEventType(type))
      problems.push(`${where} '${type}' uses the reserved 'sagastream.' prefix.`);
  };
  (options.triggers ?? []).forEach((t, i) => check(t?.event, `triggers[${i}].event`));
  (options.awaits ?? []).forEach((t, i) => check(t, `awaits[${i}]`));
  if (typeof fn !== 'function') problems.push('the workflow function is missing.');
  const attempts = options.retry?.maxAttempts;
  if (attempts !== undefined && (!Number.isInteger(attempts) || attempts < 1)) {
    problems.push(`retry.maxAttempts must be an integer >= 1 (got ${attempts}).`);
  }
  if (problems.length > 0) throw new DefinitionError(`workflow ${String(options.id)}`, problems);
  return {
    id: options.id,
    options,
    fn,
    triggerTypes: new Set(options.triggers.map((t) => t.event)),
    awaitedTypes: new Set(options.awaits ?? []),
  };
}
