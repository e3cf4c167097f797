import { randomUUID } from 'node:crypto';
import { SagaFailedError } from '../errors';
import { ProcessEventTypes as P } from '../process/process-events';
import type {
  AggregateRepository,
  CommandDispatcher,
  EventBus,
  SagaAction,
  SagaSetup,
} from '../saga/define-saga';
import { SagaExecutor, type SagaResult } from '../saga/saga-executor';
import type { EventStore } from '../store/event-store';
import { LocalEventStore } from '../store/local/local-event-store';
import { COMPENSATE_PREFIX, type RunStatus, replayRun, runStream } from '../workflow/run-state';
import { StepEventTypes as S } from '../workflow/step-events';
import { AssertionError } from './process-fixture';
import { VirtualClock, compare, describeHistory } from './workflow-fixture';

/** Real-time bound of one step: a saga that neither ends nor waits on the clock fails the test. */
const SETTLE_TIMEOUT_MS = 10_000;

/** What a saga should look like. Omitted keys are not checked. */
export interface SagaExpectation {
  /** Actions that completed, in order of completion. */
  readonly actions?: readonly string[];
  /** The same as `actions`, under the name step workflows use (checked when `actions` is not given). */
  readonly steps?: readonly string[];
  /** Actions that failed for good. */
  readonly failedActions?: readonly string[];
  /** Failed attempts per action (compensating actions by their own name); actions without any are omitted. */
  readonly attempts?: Readonly<Record<string, number>>;
  /** Compensating actions that completed, in the order they ran. */
  readonly compensations?: readonly string[];
  /** `running` while it waits out a retry delay. */
  readonly status?: RunStatus;
  /** What the actions published with `ctx.publish` (the fixture's event bus), in order. */
  readonly published?: readonly object[];
  /** What the actions dispatched with `ctx.dispatch` (the fixture's command bus), in order. */
  readonly dispatched?: readonly object[];
  /** The results of a completed saga. */
  readonly results?: Readonly<Record<string, unknown>>;
  /** The listed fields of the `SagaFailedError` of a failed saga. */
  readonly error?: Partial<Pick<SagaFailedError, 'action' | 'status' | 'failedCompensation'>>;
  /** Which saga. @default the last one executed */
  readonly sagaId?: string;
}

/** Options of {@link SagaFixture.execute}. */
export interface SagaFixtureExecution<I> {
  readonly input?: I;
  /** @default a random UUID */
  readonly sagaId?: string;
}

interface Override {
  failures: number;
  error: Error;
  result?: { readonly value: unknown };
}

interface Execution {
  readonly sagaId: string;
  readonly settled: Promise<void>;
  outcome:
    | { readonly ok: true; readonly result: SagaResult }
    | { readonly ok: false; readonly error: unknown }
    | undefined;
}

/**
 * Starts a test of an action saga: the real `SagaExecutor` on an in-memory `LocalEventStore`,
 * with virtual time for retry delays, an event bus and a command bus that record what the
 * actions send, and actions that can be made to fail or succeed by name (a compensating
 * action is an action: `failAction('fix-bar')`). `execute` runs the saga until it ends or
 * waits out a retry delay; `advanceTime(ms)` moves it on. Every method queues a step and
 * returns the fixture; `await` runs the queue and rejects with the first failure.
 *
 * @example
 * ```ts
 * it('undoes bar then foo when baz fails', () =>
 *   testSaga(setup)
 *     .failAction('baz', new NonRetryableError('remote said no'))
 *     .execute()
 *     .expect({ actions: ['foo', 'bar'], compensations: ['fix-bar', 'fix-foo'], status: 'compensated' }));
 * ```
 */
export function testSaga<I>(setup: SagaSetup<I>): SagaFixture<I> {
  return new SagaFixture(setup);
}

/** An action saga under test; see {@link testSaga}. */
export class SagaFixture<I> implements PromiseLike<void> {
  #chain: Promise<void> = Promise.resolve();
  #clock = new VirtualClock();
  #store: LocalEventStore | undefined;
  #dependencies: { repository?: AggregateRepository; eventBus?: EventBus; commandBus?: CommandDispatcher } =
    {};
  readonly #overrides = new Map<string, Override>();
  readonly #published: object[] = [];
  readonly #dispatched: object[] = [];
  #last: Execution | undefined;
  readonly #executions = new Map<string, Execution>();
  #lastStep = 'nothing happened yet';

  constructor(private readonly setup: SagaSetup<I>) {}

  /** Virtual time; pass it to the services the actions call if they read the time. */
  get clock(): VirtualClock {
    return this.#clock;
  }

  /** The in-memory store (available once a saga was executed). */
  get store(): EventStore {
    if (!this.#store)
      throw new AssertionError({ message: 'No saga was executed yet: call execute() first.' });
    return this.#store;
  }

  /** The last saga executed. */
  get sagaId(): string {
    if (!this.#last) throw new AssertionError({ message: 'No saga was executed yet: call execute() first.' });
    return this.#last.sagaId;
  }

  /** The compensating action of action `name`, as `compensate` maps it. */
  compensatingActionOf(name: string): string {
    const fix = this.setup.compensate[name];
    if (fix === undefined) {
      throw new AssertionError({
        message: `compensationFails('${name}'): saga '${this.setup.name}' has no compensating action for '${name}'.`,
      });
    }
    return fix;
  }

  /** Starts virtual time at `start` instead of 2024-01-01. Call before `execute`. */
  withClock(start: Date | number): this {
    return this.#queue('withClock', async () => {
      if (this.#store) throw new AssertionError({ message: 'withClock() must come before execute().' });
      this.#clock = new VirtualClock(typeof start === 'number' ? start : start.getTime());
    });
  }

  /**
   * Backs `ctx.repository`, and replaces the recording event bus or command bus. By default
   * `ctx.publish` and `ctx.dispatch` are recorded (see `published` and `dispatched`) and
   * `dispatch` resolves `undefined`; `ctx.repository` is missing.
   */
  withDependencies(dependencies: {
    repository?: AggregateRepository;
    eventBus?: EventBus;
    commandBus?: CommandDispatcher;
  }): this {
    return this.#queue('withDependencies', async () => {
      this.#dependencies = { ...this.#dependencies, ...dependencies };
    });
  }

  /**
   * Makes action `name` throw `error` instead of running (every attempt, or the next `times`,
   * after which it runs for real). A `NonRetryableError` fails it at once.
   */
  failAction(name: string, error: Error | string = 'action failed', options: { times?: number } = {}): this {
    return this.#queue(`failAction ${name}`, async () => {
      this.#known(name, 'failAction');
      this.#overrides.set(name, {
        failures: options.times ?? Infinity,
        error: typeof error === 'string' ? new Error(error) : error,
      });
    });
  }

  /** Makes action `name` return `result` without running it. */
  succeedAction(name: string, result?: unknown): this {
    return this.#queue(`succeedAction ${name}`, async () => {
      this.#known(name, 'succeedAction');
      this.#overrides.set(name, { failures: 0, error: new Error(), result: { value: result } });
    });
  }

  /** Executes the saga until it ends or waits on the clock for a retry. */
  execute(options: SagaFixtureExecution<I> = {}): this {
    return this.#queue('execute', async () => {
      this.#store ??= await LocalEventStore.open({ memory: true });
      const sagaId = options.sagaId ?? randomUUID();
      const parked = this.#clock.whenTimerSet();
      const executor = new SagaExecutor({
        store: this.#store,
        clock: this.#clock,
        repository: this.#dependencies.repository,
        eventBus: this.#dependencies.eventBus ?? { publish: (event) => this.#published.push(event) },
        commandBus: this.#dependencies.commandBus ?? {
          dispatch: (command) => {
            this.#dispatched.push(command);
            return undefined;
          },
        },
      });
      const execution: Execution = {
        sagaId,
        outcome: undefined,
        settled: executor.execute(this.#wrapped(), { sagaId, input: options.input }).then(
          (result) => void (execution.outcome = { ok: true, result }),
          (error: unknown) => void (execution.outcome = { ok: false, error }),
        ),
      };
      this.#executions.set(sagaId, execution);
      this.#last = execution;
      await this.#untilParked(execution, parked);
    });
  }

  /** Moves virtual time on by `ms`, letting each retry that falls due run, in order. */
  advanceTime(ms: number): this {
    return this.#queue(`advanceTime(${ms} ms)`, async () => {
      const target = this.#clock.now() + ms;
      for (;;) {
        const next = this.#clock.nextDueAt();
        if (next === undefined || next > target) break;
        const parked = this.#clock.whenTimerSet();
        this.#clock.advanceTo(next);
        const waiting = [...this.#executions.values()].filter((e) => e.outcome === undefined);
        await Promise.all(waiting.map((e) => this.#untilParked(e, parked)));
      }
      this.#clock.advanceTo(target);
    });
  }

  /** Asserts what the saga's stream and the buses record now. */
  expect(expectation: SagaExpectation): this {
    return this.#queue('expect', () => this.#check(expectation), false);
  }

  /** Runs the queued steps; rejects with the first failure. */
  then<A = void, B = never>(
    onfulfilled?: ((value: void) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#chain.then(onfulfilled, onrejected);
  }

  /** Closes the store. Sagas still waiting on the virtual clock are abandoned. */
  async close(): Promise<void> {
    await this.#chain.catch(() => undefined);
    await this.#store?.close();
    this.#store = undefined;
  }

  #queue(label: string, op: () => Promise<void>, isStep = true): this {
    this.#chain = this.#chain.then(async () => {
      await op();
      if (isStep) this.#lastStep = label;
    });
    return this;
  }

  #known(name: string, where: string): void {
    if (!Object.prototype.hasOwnProperty.call(this.setup.actions, name)) {
      throw new AssertionError({
        message: `${where}('${name}'): saga '${this.setup.name}' has no such action (its actions: ${Object.keys(
          this.setup.actions,
        ).join(', ')}).`,
      });
    }
  }

  /** Resolves once the saga has ended or waits on the clock (`parked`: a timer was set). */
  async #untilParked(execution: Execution, parked: Promise<void>): Promise<void> {
    let cancel: (() => void) | undefined;
    const deadline = new Promise<'late'>((resolve) => {
      const handle = setTimeout(() => resolve('late'), SETTLE_TIMEOUT_MS);
      cancel = () => clearTimeout(handle);
    });
    const outcome = await Promise.race([execution.settled, parked, deadline]);
    cancel?.();
    if (outcome === 'late') {
      throw new AssertionError({
        message:
          `Saga ${runStream(this.setup.name, execution.sagaId)} neither ended nor waited on the clock ` +
          `within ${SETTLE_TIMEOUT_MS} ms of real time (an action awaiting something that never comes?).`,
      });
    }
  }

  #wrapped(): SagaSetup<I> {
    const actions: Record<string, SagaAction<I>> = {};
    for (const [name, action] of Object.entries(this.setup.actions)) {
      actions[name] = (ctx) => {
        const override = this.#overrides.get(name);
        if (override && override.failures > 0) {
          override.failures--;
          throw override.error;
        }
        if (override?.result) return override.result.value;
        return action(ctx);
      };
    }
    return { ...this.setup, actions };
  }

  async #check(expectation: SagaExpectation): Promise<void> {
    const execution = this.#executions.get(expectation.sagaId ?? this.sagaId);
    if (!execution) {
      throw new AssertionError({ message: `expect(): saga '${expectation.sagaId}' was not executed here.` });
    }
    const stream = runStream(this.setup.name, execution.sagaId);
    const records = await this.store.readStream(stream);
    const label = `of saga ${stream} after ${this.#lastStep}`;
    const history = `\n  history  ${describeHistory(records)}`;
    const check = (what: string, actual: unknown, expected: unknown): void =>
      compare(`${what} ${label}`, actual, expected, history);
    const fixOf = (step: string): string => this.setup.compensate[step] ?? step;
    const stepsOf = (type: string) =>
      records.filter((r) => r.type === type).map((r) => (r.data as { step: string }).step);
    const completed = expectation.actions ?? expectation.steps;
    if (completed) check('Completed actions', stepsOf(S.StepCompleted), [...completed]);
    if (expectation.failedActions) {
      check('Failed actions', stepsOf(S.StepFailed), [...expectation.failedActions]);
    }
    if (expectation.attempts) {
      const attempts: Record<string, number> = {};
      for (const step of stepsOf(S.StepAttemptFailed)) {
        const action = step.startsWith(COMPENSATE_PREFIX)
          ? fixOf(step.slice(COMPENSATE_PREFIX.length))
          : step;
        attempts[action] = (attempts[action] ?? 0) + 1;
      }
      check('Failed attempts', attempts, { ...expectation.attempts });
    }
    if (expectation.compensations) {
      check('Compensations', stepsOf(P.CompensationCompleted).map(fixOf), [...expectation.compensations]);
    }
    if (expectation.status !== undefined) {
      check('Status', replayRun(this.setup.name, execution.sagaId, records).status, expectation.status);
    }
    if (expectation.published) check('Published events', this.#published, [...expectation.published]);
    if (expectation.dispatched) check('Dispatched commands', this.#dispatched, [...expectation.dispatched]);
    if (expectation.results) {
      const outcome = execution.outcome;
      check('Results', outcome?.ok ? outcome.result.results : outcome, { ...expectation.results });
    }
    if (expectation.error) {
      const error = execution.outcome?.ok === false ? execution.outcome.error : undefined;
      if (!(error instanceof SagaFailedError)) {
        throw new AssertionError({
          message:
            `SagaFailedError ${label}: expected the saga to have failed, but it ` +
            `${execution.outcome === undefined ? 'is still running' : execution.outcome.ok ? 'completed' : `threw ${String(error)}`}.${history}`,
        });
      }
      const actual: Record<string, unknown> = {};
      for (const key of Object.keys(expectation.error)) actual[key] = error[key as keyof SagaFailedError];
      check('SagaFailedError', actual, { ...expectation.error });
    }
  }
}
