import type { Class } from '../metadata';
import type { SagaSetup } from '../saga/define-saga';
import type { Workflow } from '../workflow/create-workflow';
import {
  AssertionError,
  type AnyFixture,
  FixtureStep,
  type GivenOptions,
  ProcessFixture,
  given as givenProcess,
} from './process-fixture';
import { SagaFixture, type SagaExpectation, type SagaFixtureExecution } from './saga-fixture';
import {
  type FixtureEvent,
  WorkflowFixture,
  type WorkflowExpectation,
  type WorkflowFixtureOptions,
} from './workflow-fixture';
import type { RetryPolicy } from '../workflow/create-workflow';

/** Options of `given(workflow, ...)`. */
export interface GivenWorkflowOptions extends WorkflowFixtureOptions {
  /** Where virtual time starts. @default 2024-01-01T00:00:00.000Z */
  readonly now?: Date;
  /** The runtime's default step retry policy. @default 3 attempts, 1 s doubling, no jitter */
  readonly retry?: RetryPolicy;
}

/** Options of `given(saga, ...)`. */
export interface GivenSagaOptions {
  /** Where virtual time starts. @default 2024-01-01T00:00:00.000Z */
  readonly now?: Date;
}

/**
 * History step for a workflow or a saga: step (or action) `name` throws `error` instead of
 * running, on every attempt or the next `times`. A `NonRetryableError` fails it at once.
 */
export function stepFails(
  name: string,
  error: Error | string = 'step failed',
  options: { times?: number } = {},
): FixtureStep {
  return new FixtureStep((f) => {
    const fixture = runFixtureOf(f, 'stepFails');
    if (fixture instanceof WorkflowFixture) fixture.failStep(name, error, options);
    else fixture.failAction(name, error, options);
  });
}

/** History step for a workflow or a saga: step (or action) `name` returns `result` without running. */
export function stepSucceeds(name: string, result?: unknown): FixtureStep {
  return new FixtureStep((f) => {
    const fixture = runFixtureOf(f, 'stepSucceeds');
    if (fixture instanceof WorkflowFixture) fixture.succeedStep(name, result);
    else fixture.succeedAction(name, result);
  });
}

/**
 * History step for a workflow or a saga: the compensation of step (or action) `name` throws
 * (every attempt, or the next `times`). For a saga, that is its compensating action.
 */
export function compensationFails(
  name: string,
  error: Error | string = 'compensation failed',
  options: { times?: number } = {},
): FixtureStep {
  return new FixtureStep((f) => {
    const fixture = runFixtureOf(f, 'compensationFails');
    if (fixture instanceof WorkflowFixture) fixture.failCompensation(name, error, options);
    else fixture.failAction(fixture.compensatingActionOf(name), error, options);
  });
}

function runFixtureOf(f: AnyFixture, step: string): WorkflowFixture | SagaFixture<any> {
  if (f instanceof ProcessFixture) {
    throw new AssertionError({
      message: `${step}() is for workflows and sagas; a process manager's commands fail with commandFails().`,
    });
  }
  return f;
}

/** What a scenario needs of its fixture: virtual time, expectations, and running to the end. */
interface ScenarioFixture<E> extends PromiseLike<unknown> {
  advanceTime(ms: number): unknown;
  expect(expectation: E): unknown;
  close(): Promise<void>;
}

/** The shared part of {@link WorkflowScenario} and {@link SagaScenario}: time, `then`, `done`. */
abstract class RunScenario<F extends ScenarioFixture<E>, E> {
  constructor(
    /** The fixture underneath. */
    readonly fixture: F,
  ) {}

  /** Moves virtual time on by `ms`, waking each sleep, wait timeout and retry when due. */
  advanceTime(ms: number): this {
    this.fixture.advanceTime(ms);
    return this;
  }

  /**
   * Asserts what the run has recorded so far (omitted keys are not checked). Called with a
   * function, as `await` and test runners do, it runs the queued steps and closes the fixture.
   */
  then(expectation: E | ((value: undefined) => unknown), onrejected?: (reason: unknown) => unknown): this {
    if (typeof expectation === 'function') {
      void this.done().then(() => (expectation as (value: undefined) => unknown)(undefined), onrejected);
      return this;
    }
    this.fixture.expect(expectation);
    return this;
  }

  /** Runs the queued steps and closes the fixture; rejects with the first failure. */
  async done(): Promise<void> {
    try {
      await this.fixture;
    } finally {
      await this.fixture.close();
    }
  }
}

/**
 * A given/when/then test of a step workflow, on the real runtime with an in-memory store and
 * virtual time (see {@link WorkflowFixture}, reachable as `fixture`). Every method queues a
 * step; return the scenario from the test (or `await scenario.done()`): it runs the queue,
 * then closes the store.
 */
export class WorkflowScenario extends RunScenario<WorkflowFixture, WorkflowExpectation> {
  constructor(
    /** The fixture underneath: `failStep`, `runState`, `store`, `clock`... */
    fixture: WorkflowFixture,
    private readonly workflow: Workflow<never, unknown>,
  ) {
    super(fixture);
  }

  /** A trigger event starts a run; any other event is delivered as an input the runs may await. */
  when(event: FixtureEvent): this {
    if (this.workflow.triggerTypes.has(event.type)) this.fixture.given(event);
    else this.fixture.receive(event);
    return this;
  }
}

/** A given/when/then test of an action saga (see {@link SagaFixture}, reachable as `fixture`). */
export class SagaScenario<I> extends RunScenario<SagaFixture<I>, SagaExpectation> {
  /** Executes the saga with `input` until it ends or waits out a retry delay. */
  when(input?: I, options: Omit<SagaFixtureExecution<I>, 'input'> = {}): this {
    this.fixture.execute({ ...options, ...(input === undefined ? {} : { input }) });
    return this;
  }
}

/**
 * The one entry point of the testing kit, for the three authoring styles, in
 * given/when/then form with virtual time (`advanceTime`, `timePasses`):
 *
 * - a process-manager class: the synchronous {@link ProcessFixture}; `then` checks what the
 *   last step produced (events, commands, timeouts, compensations).
 * - a workflow (`createWorkflow`): a {@link WorkflowScenario} on the real runtime; `when`
 *   appends a trigger or an awaited event, `then` checks the run's history (steps,
 *   compensations, published events, status).
 * - a saga (`defineSaga`): a {@link SagaScenario}; `when(input)` executes it, `then` checks
 *   its history and what it published or dispatched.
 *
 * History items are events (process managers, workflows) and {@link FixtureStep}s:
 * `timePasses`, `commandFails`/`commandSucceeds`, `stepFails`/`stepSucceeds`/`compensationFails`.
 *
 * @example
 * ```ts
 * it('refunds the payment when shipping is refused', () =>
 *   given(fulfillOrder, [stepFails('create-shipment', new NonRetryableError('no carrier'))])
 *     .when({ type: 'OrderPlaced', data: order })
 *     .then({
 *       steps: ['charge-payment', 'reserve-inventory'],
 *       compensations: ['reserve-inventory', 'charge-payment'],
 *       status: 'compensated',
 *     }));
 *
 * it('undoes bar then foo when baz fails', () =>
 *   given(fooBarBaz).when().then({ steps: ['foo', 'bar'], compensations: ['fix-bar', 'fix-foo'] }));
 * ```
 */
export function given<S extends object>(
  processClass: Class<S>,
  history?: readonly (object | FixtureStep)[],
  options?: GivenOptions,
): ProcessFixture<S>;
export function given<D, R>(
  workflow: Workflow<D, R>,
  history?: readonly (FixtureEvent | FixtureStep)[],
  options?: GivenWorkflowOptions,
): WorkflowScenario;
export function given<I>(
  saga: SagaSetup<I>,
  history?: readonly FixtureStep[],
  options?: GivenSagaOptions,
): SagaScenario<I>;
export function given(
  target: Class | Workflow<any, any> | SagaSetup<any>,
  history: readonly (object | FixtureStep)[] = [],
  options: GivenOptions | GivenWorkflowOptions | GivenSagaOptions = {},
): ProcessFixture<object> | WorkflowScenario | SagaScenario<unknown> {
  if (typeof target === 'function') return givenProcess(target as Class<object>, history, options);
  if ('fn' in target && 'triggerTypes' in target) {
    const workflow = target as Workflow<never, unknown>;
    const o = options as GivenWorkflowOptions;
    const fixture = new WorkflowFixture(workflow, o);
    if (o.now !== undefined) fixture.withClock(o.now);
    if (o.retry !== undefined) fixture.withRetry(o.retry);
    const scenario = new WorkflowScenario(fixture, workflow);
    for (const item of history) {
      if (item instanceof FixtureStep) item.run(fixture);
      else scenario.when(item as FixtureEvent);
    }
    return scenario;
  }
  const fixture = new SagaFixture(target);
  const o = options;
  if (o.now !== undefined) fixture.withClock(o.now);
  for (const item of history) {
    if (!(item instanceof FixtureStep)) {
      throw new AssertionError({
        message: `given(saga, history): a saga's history holds only steps (stepFails, timePasses...), not ${JSON.stringify(item)}.`,
      });
    }
    item.run(fixture);
  }
  return new SagaScenario(fixture);
}
