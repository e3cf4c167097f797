import { randomUUID } from 'node:crypto';
import {
  ConcurrencyError,
  DefinitionError,
  MissingDependencyError,
  NonRetryableError,
  SagaFailedError,
  StepFailedError,
  WrongExpectedVersionError,
} from '../errors';
import { deterministicId } from '../process/ids';
import { type FailureInfo, ProcessEventTypes as P } from '../process/process-events';
import { backoffDelay } from '../runtime/backoff';
import { type Clock, sleep, systemClock } from '../runtime/clock';
import type { EventStore } from '../store/event-store';
import {
  COMPENSATE_PREFIX,
  type RunState,
  applyRunEvent,
  isFinished,
  replayRun,
  runStream,
} from '../workflow/run-state';
import { StepEventTypes as S, failureInfo, toRecorded } from '../workflow/step-events';
import {
  type AggregateRepository,
  type CommandDispatcher,
  DEFAULT_SAGA_RETRY,
  type EventBus,
  type ResolvedSagaRetry,
  type SagaAction,
  type SagaContext,
  type SagaSetup,
} from './define-saga';

/** Options of {@link SagaExecutor}. */
export interface SagaExecutorOptions {
  /** Where each saga's progress is recorded (stream `<saga name>-<sagaId>`). */
  readonly store: EventStore;
  /** Backs `ctx.repository`. */
  readonly repository?: AggregateRepository;
  /** Backs `ctx.publish`. */
  readonly eventBus?: EventBus;
  /** Backs `ctx.dispatch`. */
  readonly commandBus?: CommandDispatcher;
  /** Times the waits between attempts of a failing action (a `ManualClock` in tests). @default systemClock */
  readonly clock?: Clock;
  /**
   * Called after each append to a saga's stream with the types appended (how `ProcessRuntime`
   * reports starts and outcomes). Must not throw.
   */
  readonly onRecorded?: (saga: string, sagaId: string, types: readonly string[]) => void;
}

/** Options of {@link SagaExecutor.execute}. */
export interface ExecuteOptions<I> {
  /** @default a random UUID. Executing an existing id resumes that saga instead of starting another. */
  readonly sagaId?: string;
  /** JSON input, recorded with the start and given to every action as `ctx.input`. */
  readonly input?: I;
}

/** A saga that completed. */
export interface SagaResult {
  readonly sagaId: string;
  readonly status: 'completed';
  /** The recorded result of every action that ran, by name. */
  readonly results: Readonly<Record<string, unknown>>;
}

/** One saga of {@link SagaExecutor.resumeAll}: its result, or why it did not complete. */
export type ResumedSaga =
  | { readonly sagaId: string; readonly ok: true; readonly result: SagaResult }
  | { readonly sagaId: string; readonly ok: false; readonly error: unknown };

const TERMINAL = new Set<string>([P.ProcessCompleted, P.ProcessCompensated, P.ProcessCompensationFailed]);
const CONFLICT_RETRIES = 3;

/**
 * Runs action sagas with their progress recorded in the store, in the shared process
 * vocabulary: `ProcessStarted`, `StepCompleted` per action, `CompensationRegistered` for
 * each completed action that has a compensating action, then `ProcessCompleted`, or
 * `StepFailed` -> `ProcessFailed` -> `CompensationScheduled`/`Completed` per compensation
 * (newest completion first) -> `ProcessCompensated` (or `CompensationFailed` ->
 * `ProcessCompensationFailed`, which stops there for an operator).
 *
 * A throwing action is attempted again per its retry policy (backoff on `options.clock`,
 * each failed attempt recorded as `StepAttemptFailed`), and so is a compensating action.
 *
 * Whichever executor picks a saga up (after a crash: {@link resume}, {@link resumeAll}),
 * actions and compensations whose completion is recorded are not run again; one that was
 * in flight when the executor died runs again, with the same `ctx.idempotencyKey`.
 *
 * @example
 * ```ts
 * const executor = new SagaExecutor({ store, repository, eventBus, commandBus });
 * try {
 *   const { results } = await executor.execute(setup, { input: { orderId: 'o1' } });
 * } catch (error) {
 *   if (error instanceof SagaFailedError) console.log(error.action, error.status);
 * }
 * ```
 */
export class SagaExecutor {
  constructor(private readonly options: SagaExecutorOptions) {}

  /**
   * Starts a saga (or resumes the one with `options.sagaId`) and runs it to its end.
   *
   * @returns the results when every action completed
   * @throws SagaFailedError when an action failed (after compensating)
   * @throws ConcurrencyError when another executor kept writing the same saga
   */
  async execute<I>(setup: SagaSetup<I>, options: ExecuteOptions<I> = {}): Promise<SagaResult> {
    const sagaId = options.sagaId ?? randomUUID();
    return this.drive(setup, sagaId, { input: options.input });
  }

  /**
   * Continues a saga that another executor (or process) left unfinished; for a finished one,
   * reports how it ended.
   *
   * @throws DefinitionError when no saga `<name>-<sagaId>` was started
   */
  async resume<I>(setup: SagaSetup<I>, sagaId: string): Promise<SagaResult> {
    return this.drive(setup, sagaId, undefined);
  }

  /** Resumes every unfinished saga of `setup` found in `$ce-<name>`, one after another. */
  async resumeAll<I>(setup: SagaSetup<I>): Promise<ResumedSaga[]> {
    const outcomes: ResumedSaga[] = [];
    for (const sagaId of await this.unfinished(setup)) {
      try {
        outcomes.push({ sagaId, ok: true, result: await this.resume(setup, sagaId) });
      } catch (error) {
        outcomes.push({ sagaId, ok: false, error });
      }
    }
    return outcomes;
  }

  /** Ids of the sagas of `setup` that started and have not ended, from `$ce-<name>`. */
  async unfinished<I>(setup: SagaSetup<I>): Promise<string[]> {
    const open = new Map<string, boolean>();
    for (const record of await this.options.store.readStream(`$ce-${setup.name}`)) {
      if (record.type === P.ProcessStarted && !open.has(record.stream)) open.set(record.stream, true);
      else if (TERMINAL.has(record.type)) open.set(record.stream, false);
    }
    return [...open]
      .filter(([, unfinished]) => unfinished)
      .map(([stream]) => stream.slice(setup.name.length + 1));
  }

  private async drive<I>(
    setup: SagaSetup<I>,
    sagaId: string,
    start: { readonly input: I | undefined } | undefined,
  ): Promise<SagaResult> {
    for (let attempt = 1; ; attempt++) {
      const stream = runStream(setup.name, sagaId);
      const state = replayRun(setup.name, sagaId, await this.options.store.readStream(stream));
      if (state.status === 'new' && start === undefined) {
        throw new DefinitionError(`saga ${setup.name}`, [`there is no saga '${stream}' to resume.`]);
      }
      try {
        return await new SagaRun(setup, state, this.options).drive(start?.input);
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError)) throw error;
        // Another executor moved the saga on: replay what it recorded and continue from there.
        if (attempt >= CONFLICT_RETRIES) {
          throw new ConcurrencyError(stream, error.expected, error.actual, attempt, { cause: error });
        }
      }
    }
  }
}

/** One saga instance being driven by one executor. */
class SagaRun<I> {
  /** Set once an append conflicted: everything after it must stop, even if an action swallowed the error. */
  private conflict: WrongExpectedVersionError | undefined;

  constructor(
    private readonly setup: SagaSetup<I>,
    private readonly state: RunState,
    private readonly deps: SagaExecutorOptions,
  ) {}

  async drive(input: I | undefined): Promise<SagaResult> {
    const state = this.state;
    let failure: unknown;
    if (state.status === 'new') await this.recordStart(input);
    if (state.status === 'running') {
      try {
        for (const action of this.setup.entry) await this.runAction(action);
      } catch (error) {
        failure = error;
      }
      this.checkConflict();
      if (failure === undefined) {
        await this.record([{ type: P.ProcessCompleted, data: {} }]);
        return this.result();
      }
      await this.record([{ type: P.ProcessFailed, data: { reason: failureInfo(failure).message } }]);
    }
    if (state.status === 'completed') return this.result();
    if (state.status === 'failed') await this.compensate();
    throw this.failedError(failure);
  }

  private async recordStart(input: I | undefined): Promise<void> {
    const { stream, runId: sagaId } = this.state;
    const event = {
      id: sagaId,
      type: `${this.setup.name}.input`,
      stream,
      revision: '0',
      data: { input: toRecorded(input) ?? null },
      metadata: {},
    };
    await this.record([
      {
        type: P.ProcessStarted,
        data: { process: this.setup.name, processId: sagaId, definitionVersion: this.setup.version },
      },
      {
        type: P.InputRecorded,
        data: {
          eventId: sagaId,
          kind: 'event',
          type: event.type,
          stream,
          revision: '0',
          trigger: true,
          event,
        },
      },
    ]);
  }

  private async runAction(name: string): Promise<unknown> {
    this.checkConflict();
    const state = this.state;
    const done = state.results.get(name);
    if (done) return done.result;
    const failed = state.failedSteps.get(name);
    if (failed) throw this.stepFailed(name, failed.attempts, failed.error);
    const action = this.setup.actions[name];
    if (action === undefined) {
      throw new DefinitionError(`saga ${this.setup.name}`, [`ctx.run('${name}') names no action.`]);
    }
    const value = await this.attempt(name, name, action, this.keyOf(name));
    if (!value.ok) {
      throw this.stepFailed(name, value.attempts, value.info, value.error);
    }
    const fix = this.setup.compensate[name];
    await this.record([
      {
        type: S.StepCompleted,
        data: { step: name, ...(value.result === undefined ? {} : { result: value.result }) },
      },
      ...(fix === undefined
        ? []
        : [{ type: P.CompensationRegistered, data: { step: name, command: { type: fix, data: {} } } }]),
    ]);
    return value.result;
  }

  /**
   * Runs `fn` until it succeeds or fails for good, recording each failed attempt under
   * `step` (the action's name, or `compensate:<action>`). Waits out the backoff on the clock,
   * including what is left of one recorded by an executor that died during it. A final
   * failure records `StepAttemptFailed` (+ `StepFailed` for an action; the caller records a
   * compensation's terminal failure with it).
   */
  private async attempt(
    step: string,
    action: string,
    fn: SagaAction<I>,
    idempotencyKey: string,
  ): Promise<
    | { readonly ok: true; readonly result: unknown }
    | { readonly ok: false; readonly attempts: number; readonly info: FailureInfo; readonly error: unknown }
  > {
    const state = this.state;
    const clock = this.deps.clock ?? systemClock;
    const policy: ResolvedSagaRetry = this.setup.retry[action] ?? DEFAULT_SAGA_RETRY;
    for (;;) {
      const previous = state.attempts.get(step);
      const wait = previous?.retryAt === undefined ? 0 : previous.retryAt - clock.now();
      if (wait > 0) await sleep(clock, wait);
      this.checkConflict();
      const attempt = (previous?.count ?? 0) + 1;
      try {
        return { ok: true, result: toRecorded(await fn(this.context(action, idempotencyKey))) };
      } catch (error) {
        this.checkConflict();
        const info = failureInfo(error);
        if (this.isFinal(error) || attempt >= policy.maxAttempts) {
          if (!step.startsWith(COMPENSATE_PREFIX)) {
            await this.record([
              { type: S.StepAttemptFailed, data: { step, attempt, error: info } },
              { type: S.StepFailed, data: { step, attempts: attempt, error: info } },
            ]);
          }
          return { ok: false, attempts: attempt, info, error };
        }
        const retryAt = clock.now() + backoffDelay(attempt, policy);
        await this.record([
          {
            type: S.StepAttemptFailed,
            data: { step, attempt, error: info, retryAt: new Date(retryAt).toISOString() },
          },
        ]);
      }
    }
  }

  /**
   * Errors another attempt cannot fix: `NonRetryableError`, a missing dependency, an unknown
   * action, and the recorded failure of a nested action (`ctx.run` would throw it again).
   */
  private isFinal(error: unknown): boolean {
    return (
      error instanceof NonRetryableError ||
      error instanceof MissingDependencyError ||
      error instanceof DefinitionError ||
      (error instanceof StepFailedError && error.runId === this.state.runId)
    );
  }

  /** Runs the compensating action of every completed action, newest completion first. */
  private async compensate(): Promise<void> {
    const state = this.state;
    for (const step of [...state.registered].reverse()) {
      if (state.compensationsCompleted.has(step)) continue;
      const fix = this.setup.compensate[step];
      const action = fix === undefined ? undefined : this.setup.actions[fix];
      const commandId = this.keyOf(`compensate:${step}`);
      if (fix === undefined || action === undefined) {
        const info: FailureInfo = {
          message: `No compensating action for '${step}' in this version of saga '${this.setup.name}'.`,
          code: 'DEFINITION',
        };
        await this.record([
          { type: P.CompensationFailed, data: { step, commandId, error: info } },
          { type: P.ProcessCompensationFailed, data: { step, error: info } },
        ]);
        return;
      }
      if (!state.compensationsScheduled.has(step)) {
        await this.record([
          { type: P.CompensationScheduled, data: { step, commandId, type: fix, data: {} } },
        ]);
      }
      const outcome = await this.attempt(`${COMPENSATE_PREFIX}${step}`, fix, action, commandId);
      if (!outcome.ok) {
        await this.record([
          {
            type: S.StepAttemptFailed,
            data: { step: `${COMPENSATE_PREFIX}${step}`, attempt: outcome.attempts, error: outcome.info },
          },
          { type: P.CompensationFailed, data: { step, commandId, error: outcome.info } },
          { type: P.ProcessCompensationFailed, data: { step, error: outcome.info } },
        ]);
        return;
      }
      await this.record([{ type: P.CompensationCompleted, data: { step, commandId } }]);
    }
    await this.record([{ type: P.ProcessCompensated, data: { reason: state.failureReason ?? '' } }]);
  }

  private context(action: string, idempotencyKey = this.keyOf(action)): SagaContext<I> {
    const { repository, eventBus, commandBus } = this.deps;
    const what = (use: string) => `${use} in action '${action}' of saga '${this.setup.name}'`;
    const input = (this.state.trigger?.data as { input?: I } | undefined)?.input as I;
    return {
      saga: this.setup.name,
      sagaId: this.state.runId,
      action,
      input,
      idempotencyKey,
      run: <T>(name: string) => this.runAction(name) as Promise<T>,
      get repository(): AggregateRepository {
        if (!repository) throw new MissingDependencyError('repository', what('ctx.repository'));
        return repository;
      },
      publish: async (event) => {
        if (!eventBus) throw new MissingDependencyError('eventBus', what('ctx.publish'));
        await eventBus.publish(event);
      },
      dispatch: async <T>(command: object) => {
        if (!commandBus) throw new MissingDependencyError('commandBus', what('ctx.dispatch'));
        return (await commandBus.dispatch(command)) as T;
      },
    };
  }

  private async record(events: readonly { type: string; data: Record<string, unknown> }[]): Promise<void> {
    this.checkConflict();
    const state = this.state;
    const metadata = { $correlationId: state.runId, $causationId: state.runId };
    try {
      await this.deps.store.append(
        state.stream,
        events.map((e) => ({ id: randomUUID(), type: e.type, data: e.data, metadata })),
        { expectedRevision: state.revision ?? 'no_stream' },
      );
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) this.conflict = error;
      throw error;
    }
    let revision = state.revision ?? -1n;
    for (const event of events) applyRunEvent(state, event.type, event.data, ++revision);
    this.deps.onRecorded?.(
      this.setup.name,
      state.runId,
      events.map((e) => e.type),
    );
  }

  private checkConflict(): void {
    if (this.conflict) throw this.conflict;
  }

  private result(): SagaResult {
    const results: Record<string, unknown> = {};
    for (const [name, { result }] of this.state.results) results[name] = result;
    return { sagaId: this.state.runId, status: 'completed', results };
  }

  /** @param cause the live error, when the failure happened in this executor */
  private failedError(cause: unknown): SagaFailedError {
    const state = this.state;
    const [action, failed] = [...state.failedSteps.entries()][0] ?? ['(workflow code)', undefined];
    const failure = failed?.error ?? { message: state.failureReason ?? 'unknown failure' };
    if (isFinished(state) && state.status === 'compensationFailed') {
      const step = [...state.compensationsScheduled].find((s) => !state.compensationsCompleted.has(s));
      return new SagaFailedError(
        this.setup.name,
        state.runId,
        action,
        'compensationFailed',
        step === undefined ? undefined : this.setup.compensate[step],
        failure,
        { cause },
      );
    }
    return new SagaFailedError(this.setup.name, state.runId, action, 'compensated', undefined, failure, {
      cause,
    });
  }

  private keyOf(part: string): string {
    return deterministicId('saga-action', this.setup.name, this.state.runId, part);
  }

  private stepFailed(action: string, attempts: number, info: FailureInfo, cause?: unknown): StepFailedError {
    return new StepFailedError(this.setup.name, this.state.runId, action, attempts, info, { cause });
  }
}
