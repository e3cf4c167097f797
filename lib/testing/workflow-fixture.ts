import { deepStrictEqual } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { type Observable, tap } from 'rxjs';
import type { Clock } from '../runtime/clock';
import { silentLogger } from '../runtime/logger';
import type { EventStore, StoredEventRecord, SubscriptionBatch } from '../store/event-store';
import { LocalEventStore } from '../store/local/local-event-store';
import {
  type RetryPolicy,
  type StepContext,
  type StepTools,
  type Workflow,
  createWorkflow,
} from '../workflow/create-workflow';
import { type RunState, type RunStatus, replayRun, runStream } from '../workflow/run-state';
import { ProcessEventTypes as P } from '../process/process-events';
import { StepEventTypes as S } from '../workflow/step-events';
import { ProcessRuntime } from '../runtime/process-runtime';
import { AssertionError } from './process-fixture';

const DEFAULT_NOW = Date.parse('2024-01-01T00:00:00.000Z');
/** Real-time bound of one settle: a workflow that never goes idle fails the test instead of hanging it. */
const SETTLE_TIMEOUT_MS = 10_000;

/**
 * A clock for fixtures: time moves only through {@link advanceTo}, which fires due timers
 * in due order, and the fixture can ask when the next timer is due and wait for the code
 * under test to set one.
 */
export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: { at: number; seq: number; callback: () => void }[] = [];
  #onTimerSet: (() => void)[] = [];

  /** @param start ms since the epoch. @default 2024-01-01T00:00:00.000Z */
  constructor(start = DEFAULT_NOW) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, ms: number): () => void {
    const timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, callback };
    this.#timers.push(timer);
    for (const notify of this.#onTimerSet.splice(0)) notify();
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  /** Due time of the earliest pending timer, or undefined. */
  nextDueAt(): number | undefined {
    let next: number | undefined;
    for (const t of this.#timers) if (next === undefined || t.at < next) next = t.at;
    return next;
  }

  /** Resolves the next time a timer is set. */
  whenTimerSet(): Promise<void> {
    return new Promise((resolve) => this.#onTimerSet.push(resolve));
  }

  /** Moves time to `at` (never back), firing every timer due by then in due order. */
  advanceTo(at: number): void {
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= at).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = Math.max(this.#now, due.at);
      due.callback();
    }
    this.#now = Math.max(this.#now, at);
  }

  /** Timers waiting to fire. */
  get pendingTimers(): number {
    return this.#timers.length;
  }
}

/** An event the test appends: a trigger for {@link WorkflowFixture.given}, an input for `receive`. */
export interface FixtureEvent {
  readonly type: string;
  readonly data?: Record<string, unknown>;
  /** @default `test-<id>` for a trigger; the last trigger's stream for `receive` (the default correlation) */
  readonly stream?: string;
  /** @default a random UUID */
  readonly id?: string;
  readonly metadata?: Record<string, unknown>;
}

/** An event a run published (`step.publish`), as {@link WorkflowExpectation.published} compares it. */
export interface ExpectedPublishedEvent {
  readonly type: string;
  readonly data?: Record<string, unknown>;
  /** Compared only when given. */
  readonly stream?: string;
}

/** What a run should look like. Omitted keys are not checked. */
export interface WorkflowExpectation {
  /** Steps that finished, in order: runs and publishes that completed, sleeps that ended, waits that got their event or timed out. */
  readonly steps?: readonly string[];
  /** Steps that failed for good (`StepFailed`), in order. */
  readonly failedSteps?: readonly string[];
  /** Failed attempts per step (compensations under `compensate:<step>`); steps without any are omitted. */
  readonly attempts?: Readonly<Record<string, number>>;
  /** Steps whose compensation completed, in the order they ran (newest registration first). */
  readonly compensations?: readonly string[];
  /** The run's status; `quarantined` when a code problem stopped it. */
  readonly status?: RunStatus | 'quarantined';
  /** Events the run published, in order. */
  readonly published?: readonly ExpectedPublishedEvent[];
  /** Which run. @default the run of the last `given` */
  readonly runId?: string;
}

/** Options of {@link testWorkflow}. */
export interface WorkflowFixtureOptions {
  /** Other workflows to run next to it (e.g. ones its published events trigger). @default [] */
  readonly alongside?: readonly Workflow<never, unknown>[];
}

interface Override {
  /** Failures still to throw; `Infinity` for "always". */
  failures: number;
  error: Error;
  /** Returned instead of running the step once the failures are used up. */
  result?: { readonly value: unknown };
}

/**
 * Starts a test of a step workflow: the real `ProcessRuntime` on an in-memory
 * `LocalEventStore`, with virtual time. Steps can be made to fail or succeed by name without
 * touching the services they call; `advanceTime(ms)` fires sleeps, wait timeouts and retry
 * delays; `expect` checks the run's recorded history. Every method queues a step and
 * returns the fixture; `await` runs the queue (and rejects with the first failure).
 * Default retry policy (when neither step nor workflow sets one): 3 attempts, 1 s doubling,
 * no jitter, so `advanceTime(1000)` reaches the second attempt.
 *
 * @example
 * ```ts
 * const order = testWorkflow(fulfillOrder);
 * afterEach(() => order.close());
 *
 * it('refunds the payment when shipping is refused', () =>
 *   order
 *     .failStep('create-shipment', new NonRetryableError('no carrier'))
 *     .given({ type: 'OrderPlaced', data: { customerId: 'c1', total: 30, items: [] } })
 *     .expect({
 *       steps: ['charge-payment', 'reserve-inventory'],
 *       compensations: ['reserve-inventory', 'charge-payment'],
 *       status: 'compensated',
 *     }));
 * ```
 */
export function testWorkflow<D, R>(
  workflow: Workflow<D, R>,
  options: WorkflowFixtureOptions = {},
): WorkflowFixture {
  return new WorkflowFixture(workflow, options);
}

/** A workflow under test; see {@link testWorkflow}. */
export class WorkflowFixture implements PromiseLike<void> {
  #chain: Promise<void> = Promise.resolve();
  #clock = new VirtualClock();
  #retry: RetryPolicy = {
    maxAttempts: 3,
    backoff: { initialDelayMs: 1000, maxDelayMs: 60_000, random: () => 1 },
  };
  #store: LocalEventStore | undefined;
  #runtime: ProcessRuntime | undefined;
  readonly #overrides = new Map<string, Override>();
  readonly #delivered = new Set<string>();
  readonly #subscribed: ReadonlySet<string>;
  #lastRun: { readonly runId: string; readonly stream: string } | undefined;
  #lastStep = 'nothing happened yet';

  constructor(
    private readonly workflow: Workflow<never, unknown>,
    private readonly options: WorkflowFixtureOptions,
  ) {
    this.#subscribed = new Set(
      [workflow, ...(options.alongside ?? [])].flatMap((w) => [...w.triggerTypes, ...w.awaitedTypes]),
    );
  }

  /** Virtual time; pass it to the services the steps call if they read the time. */
  get clock(): Clock {
    return this.#clock;
  }

  /** The run of the last `given` (available once it has run). */
  get runId(): string {
    if (!this.#lastRun) throw new AssertionError({ message: 'No run yet: call given(triggerEvent) first.' });
    return this.#lastRun.runId;
  }

  /** The in-memory store (available once the fixture has started). */
  get store(): EventStore {
    if (!this.#store) throw new AssertionError({ message: 'The fixture has not started: await it first.' });
    return this.#store;
  }

  /** Starts virtual time at `start` instead of 2024-01-01. Call before `given`. */
  withClock(start: Date | number): this {
    return this.#queue('withClock', async () => {
      if (this.#runtime) throw new AssertionError({ message: 'withClock() must come before given().' });
      this.#clock = new VirtualClock(typeof start === 'number' ? start : start.getTime());
    });
  }

  /** The runtime's default retry policy (steps and the workflow may set their own). Call before `given`. */
  withRetry(policy: RetryPolicy): this {
    return this.#queue('withRetry', async () => {
      if (this.#runtime) throw new AssertionError({ message: 'withRetry() must come before given().' });
      this.#retry = policy;
    });
  }

  /** Appends `trigger` (starting a run) and lets the runtime work until it is idle. */
  given(trigger: FixtureEvent): this {
    return this.#queue(`given ${trigger.type}`, async () => {
      if (!this.workflow.triggerTypes.has(trigger.type)) {
        throw new AssertionError({
          message:
            `given(): '${trigger.type}' does not trigger workflow '${this.workflow.id}' ` +
            `(its triggers: ${[...this.workflow.triggerTypes].join(', ')}).`,
        });
      }
      const id = trigger.id ?? randomUUID();
      await this.#append({ ...trigger, id, stream: trigger.stream ?? `test-${id}` });
      this.#lastRun = { runId: id, stream: trigger.stream ?? `test-${id}` };
    });
  }

  /** Appends an event the workflow awaits (`step.waitForEvent`) and lets the runtime work. */
  receive(event: FixtureEvent): this {
    return this.#queue(`receive ${event.type}`, async () => {
      if (!this.#subscribed.has(event.type)) {
        throw new AssertionError({
          message:
            `receive(): workflow '${this.workflow.id}' does not subscribe to '${event.type}'; ` +
            `list it in the workflow's awaits.`,
        });
      }
      await this.#append({
        ...event,
        id: event.id ?? randomUUID(),
        stream: event.stream ?? this.#lastRun?.stream ?? 'test-events',
      });
    });
  }

  /**
   * Makes step `name` throw `error` instead of running (every attempt, or the next `times`
   * attempts, after which it runs for real). A `NonRetryableError` fails it at once.
   */
  failStep(name: string, error: Error | string = 'step failed', options: { times?: number } = {}): this {
    return this.#override(name, error, options);
  }

  /** Makes step `name` return `result` without running it (e.g. a service the test does not reach). */
  succeedStep(name: string, result?: unknown): this {
    return this.#queue(`succeedStep ${name}`, async () => {
      this.#overrides.set(name, { failures: 0, error: new Error(), result: { value: result } });
    });
  }

  /** Makes the compensation of step `name` throw (every attempt, or the next `times`). */
  failCompensation(
    name: string,
    error: Error | string = 'compensation failed',
    options: { times?: number } = {},
  ): this {
    return this.#override(`compensate:${name}`, error, options);
  }

  /** Moves virtual time on by `ms`, waking each sleep, timeout and retry when due, in order. */
  advanceTime(ms: number): this {
    return this.#queue(`advanceTime(${ms} ms)`, async () => {
      await this.#start();
      const target = this.#clock.now() + ms;
      for (;;) {
        await this.#settle();
        const next = this.#clock.nextDueAt();
        if (next === undefined || next > target) break;
        this.#clock.advanceTo(next);
      }
      this.#clock.advanceTo(target);
      await this.#settle();
    });
  }

  /** Asserts what the run's stream records now. */
  expect(expectation: WorkflowExpectation): this {
    return this.#queue('expect', () => this.#check(expectation), false);
  }

  /** The replayed state of a run. @param runId defaults to the last `given` */
  async runState(runId = this.runId): Promise<RunState> {
    return replayRun(
      this.workflow.id,
      runId,
      await this.store.readStream(runStream(this.workflow.id, runId)),
    );
  }

  /** Runs the queued steps; rejects with the first failure. */
  then<A = void, B = never>(
    onfulfilled?: ((value: void) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#chain.then(onfulfilled, onrejected);
  }

  /** Stops the runtime and closes the store. */
  async close(): Promise<void> {
    await this.#chain.catch(() => undefined);
    await this.#runtime?.stop();
    await this.#store?.close();
    this.#runtime = undefined;
    this.#store = undefined;
  }

  #override(name: string, error: Error | string, options: { times?: number }): this {
    return this.#queue(`fail ${name}`, async () => {
      this.#overrides.set(name, {
        failures: options.times ?? Infinity,
        error: typeof error === 'string' ? new Error(error) : error,
      });
    });
  }

  #queue(label: string, op: () => Promise<void>, isStep = true): this {
    this.#chain = this.#chain.then(async () => {
      await op();
      if (isStep) this.#lastStep = label;
    });
    return this;
  }

  async #start(): Promise<void> {
    if (this.#runtime) return;
    this.#store = await LocalEventStore.open({ memory: true });
    const delivered = this.#delivered;
    const store = this.#store;
    // The runtime's own view of the store, noting each event its subscriptions deliver: the
    // fixture settles only once everything it should react to has reached it.
    const observed: EventStore = {
      append: (...args) => store.append(...args),
      readStream: (...args) => store.readStream(...args),
      readAll: (...args) => store.readAll(...args),
      deleteStream: (...args) => store.deleteStream(...args),
      tombstoneStream: (...args) => store.tombstoneStream(...args),
      setStreamMetadata: (...args) => store.setStreamMetadata(...args),
      getStreamMetadata: (...args) => store.getStreamMetadata(...args),
      readCheckpoint: (...args) => store.readCheckpoint(...args),
      writeCheckpoint: (...args) => store.writeCheckpoint(...args),
      close: () => store.close(),
      subscribe: (...args): Observable<SubscriptionBatch> =>
        store.subscribe(...args).pipe(
          tap((batch) => {
            for (const item of batch.items) if (item.kind === 'event') delivered.add(item.event.id);
          }),
        ),
    };
    this.#runtime = new ProcessRuntime({
      store: observed,
      clock: this.#clock,
      logger: silentLogger,
      retry: this.#retry,
      // Checkpoint timers would otherwise fire on every advanceTime; a test has no restart to speed up.
      checkpointIntervalMs: 1e12,
    }).registerWorkflow(this.#wrapped(), ...(this.options.alongside ?? []));
    await this.#runtime.start();
  }

  async #append(event: Required<Pick<FixtureEvent, 'id' | 'stream'>> & FixtureEvent): Promise<void> {
    await this.#start();
    await this.store.append(event.stream, [
      { id: event.id, type: event.type, data: event.data ?? {}, metadata: event.metadata ?? {} },
    ]);
    await this.#settle();
  }

  /** Waits until the runtime is idle and has received every event of a type it subscribes to. */
  async #settle(): Promise<void> {
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    for (;;) {
      await this.#runtime?.whenIdle(SETTLE_TIMEOUT_MS);
      const all = await this.store.readAll({ maxCount: Number.MAX_SAFE_INTEGER });
      if (all.every((e) => !this.#subscribed.has(e.type) || this.#delivered.has(e.id))) return;
      if (Date.now() > deadline) {
        throw new AssertionError({
          message: `The workflow runtime did not settle within ${SETTLE_TIMEOUT_MS} ms after ${this.#lastStep}.`,
        });
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** The workflow with its step tools wrapped, so failStep/succeedStep apply by step name. */
  #wrapped(): Workflow<never, unknown> {
    const apply =
      (key: string, fn: (ctx: StepContext) => unknown) =>
      (ctx: StepContext): unknown => {
        const override = this.#overrides.get(key);
        if (override && override.failures > 0) {
          override.failures--;
          throw override.error;
        }
        if (override?.result) return override.result.value;
        return fn(ctx);
      };
    const { fn } = this.workflow;
    return createWorkflow(this.workflow.options, (context) => {
      const step: StepTools = {
        ...context.step,
        run: (name, body, retry) => context.step.run(name, apply(name, body) as typeof body, retry),
        compensate: (name, body) => context.step.compensate(name, apply(`compensate:${name}`, body)),
      };
      return fn({ ...context, step });
    });
  }

  async #check(expectation: WorkflowExpectation): Promise<void> {
    const runId = expectation.runId ?? this.runId;
    const stream = runStream(this.workflow.id, runId);
    const records = await this.store.readStream(stream);
    const label = `of run ${stream} after ${this.#lastStep}`;
    const history = `\n  history  ${describeHistory(records)}`;
    const check = (what: string, actual: unknown, expected: unknown): void =>
      compare(`${what} ${label}`, actual, expected, history);
    const stepsOf = (type: string) =>
      records
        .filter((r) => r.type === type)
        .map((r) => (r.data as { step: string }).step)
        .filter((step) => !step.startsWith('compensate:'));
    if (expectation.steps) {
      const finished = records
        .filter((r) => r.type === S.StepCompleted || r.type === P.TimeoutFired)
        .map(
          (r) => (r.data as { step?: string; key?: string }).step ?? String((r.data as { key?: string }).key),
        )
        .filter((step) => !step.startsWith('compensate:'));
      check('Completed steps', finished, [...expectation.steps]);
    }
    if (expectation.failedSteps) check('Failed steps', stepsOf(S.StepFailed), [...expectation.failedSteps]);
    if (expectation.attempts) {
      const attempts: Record<string, number> = {};
      for (const r of records.filter((e) => e.type === S.StepAttemptFailed)) {
        const step = (r.data as { step: string }).step;
        attempts[step] = (attempts[step] ?? 0) + 1;
      }
      check('Failed attempts', attempts, { ...expectation.attempts });
    }
    if (expectation.compensations) {
      check(
        'Compensations',
        records
          .filter((r) => r.type === P.CompensationCompleted)
          .map((r) => (r.data as { step: string }).step),
        [...expectation.compensations],
      );
    }
    if (expectation.status !== undefined) {
      const state = replayRun(this.workflow.id, runId, records);
      check('Status', state.quarantine ? 'quarantined' : state.status, expectation.status);
    }
    if (expectation.published) {
      const published = (await this.store.readAll({ maxCount: Number.MAX_SAFE_INTEGER })).filter(
        (e) => e.metadata.$causationId === runId && e.stream !== stream,
      );
      check(
        'Published events',
        published.map((e, i) => ({
          type: e.type,
          data: e.data,
          ...(expectation.published?.[i]?.stream === undefined ? {} : { stream: e.stream }),
        })),
        expectation.published.map((e) => ({
          type: e.type,
          data: e.data ?? {},
          ...(e.stream === undefined ? {} : { stream: e.stream }),
        })),
      );
    }
  }
}

/**
 * Throws a fixture `AssertionError` (with `actual`/`expected` for the runner's diff) unless
 * the two are deep-equal. @internal shared by the workflow and saga fixtures
 */
export function compare(what: string, actual: unknown, expected: unknown, context = ''): void {
  try {
    deepStrictEqual(actual, expected);
  } catch {
    throw new AssertionError({
      message: `${what}:\n  expected ${show(expected)}\n  actual   ${show(actual)}${context}`,
      actual,
      expected,
    });
  }
}

/** A run's stream in one line, for failure messages: `StepCompleted charge, StepAttemptFailed ship #1, ...`. */
export function describeHistory(records: readonly StoredEventRecord[]): string {
  if (records.length === 0) return '(empty: the run never started)';
  return records
    .map((r) => {
      const data = r.data as { step?: unknown; key?: unknown; attempt?: unknown };
      const name = r.type.replace('sagastream.', '');
      const subject =
        typeof data.step === 'string' ? data.step : typeof data.key === 'string' ? data.key : '';
      const attempt = typeof data.attempt === 'number' ? ` #${data.attempt}` : '';
      return subject ? `${name} ${subject}${attempt}` : name;
    })
    .filter((line) => !line.startsWith('InputRecorded') && line !== 'ProcessStarted')
    .join(', ');
}

function show(value: unknown): string {
  // undefined stays visible: `{ a: undefined }` and `{}` differ for deepStrictEqual.
  return (
    JSON.stringify(value, (_k, v: unknown) =>
      typeof v === 'bigint' ? `${v}n` : v === undefined ? '(undefined)' : v,
    ) ?? 'undefined'
  );
}
