import { randomUUID } from 'node:crypto';
import {
  DefinitionError,
  DuplicateStepError,
  NonDeterminismError,
  NonRetryableError,
  StepFailedError,
} from '../errors';
import { deterministicId } from '../process/ids';
import { type FailureInfo, ProcessEventTypes as P } from '../process/process-events';
import { type BackoffOptions, backoffDelay } from '../runtime/backoff';
import type { Clock } from '../runtime/clock';
import type { EventStore } from '../store/event-store';
import type {
  PublishedEvent,
  RetryPolicy,
  StepContext,
  StepTools,
  WaitForEventOptions,
  Workflow,
} from './create-workflow';
import { COMPENSATE_PREFIX, type RunState, type WorkflowEvent, applyRunEvent, isFinished } from './run-state';
import { StepEventTypes as S, failureInfo, toRecorded } from './step-events';

/** What one pass over a run achieved. */
export type AdvanceResult =
  | { readonly kind: 'finished'; readonly status: 'completed' | 'compensated' | 'compensationFailed' }
  /** Waiting: for the clock to reach `wakeAt`, and (when waiting for an event) for an input. */
  | { readonly kind: 'suspended'; readonly wakeAt: number | undefined }
  /** A code problem (non-determinism, misuse); recorded as `ProcessQuarantined`. */
  | { readonly kind: 'quarantined'; readonly error: Error }
  /** The stream moved under the pass, or the store failed: replay and try again. */
  | { readonly kind: 'retry'; readonly error: unknown };

/** What a run needs from its runtime. */
export interface RunEnvironment {
  readonly store: EventStore;
  readonly clock: Clock;
  /** Used when neither the step nor the workflow sets a policy. */
  readonly retry: RetryPolicy;
}

type Stop =
  | { readonly kind: 'suspend'; readonly wakeAt: number | undefined }
  | { readonly kind: 'quarantine'; readonly error: Error }
  | { readonly kind: 'retry'; readonly error: unknown };

interface Registration {
  readonly step: string;
  readonly fn: (ctx: StepContext) => unknown;
}

interface NewEvent {
  readonly type: string;
  readonly data: Record<string, unknown>;
}

/** A promise that never settles: how an abandoned invocation of the workflow function is parked. */
const NEVER = new Promise<never>(() => undefined);

const DEFAULT_ATTEMPTS = 3;
const DEFAULT_BACKOFF: BackoffOptions = { initialDelayMs: 1000, maxDelayMs: 60_000 };

/**
 * One pass over a run: invokes the workflow function from the top against the recorded
 * history, executes what is not recorded yet, and stops at the first thing it must wait
 * for (a sleep, an event, a retry delay). The invocation is then abandoned, never resumed:
 * the next pass replays again. Every step op appends with the expected revision, so a
 * concurrent pass on another worker makes this one stop with `retry` instead of forking
 * the history.
 */
export class RunExecution {
  private position = 0;
  private readonly called = new Set<string>();
  private readonly registrations: Registration[] = [];
  private tail: Promise<unknown> = Promise.resolve();
  private stopped: Stop | undefined;
  private signalStop!: () => void;
  private readonly stoppedSignal = new Promise<void>((resolve) => (this.signalStop = resolve));

  /** The step tools handed to the workflow function. */
  readonly tools: StepTools;

  constructor(
    private readonly workflow: Workflow<never, unknown>,
    /** Replayed state; updated in place as this pass appends. */
    readonly state: RunState,
    private readonly env: RunEnvironment,
  ) {
    this.tools = {
      run: (name, fn, options) => this.run(name, fn, options) as never,
      compensate: (name, fn) => this.registerCompensation(name, fn),
      sleep: (name, ms) => this.sleep(name, ms),
      waitForEvent: (name, options) =>
        this.waitForEvent(name, options as WaitForEventOptions<unknown>) as never,
      publish: (name, stream, event) => this.publish(name, stream, event),
    };
  }

  /** Runs the pass. */
  async advance(): Promise<AdvanceResult> {
    const state = this.state;
    if (isFinished(state)) return { kind: 'finished', status: state.status as 'completed' };
    if (state.quarantine) {
      return {
        kind: 'quarantined',
        error: Object.assign(new Error(state.quarantine.error.message), state.quarantine.error),
      };
    }
    if (state.trigger === undefined) {
      return this.quarantine(
        new DefinitionError(`workflow run ${state.stream}`, ['its stream has no recorded trigger event.']),
      );
    }
    const context = {
      event: state.trigger as never,
      step: this.tools,
      workflowId: state.workflowId,
      runId: state.runId,
    };
    const invocation = Promise.resolve()
      .then(() => this.workflow.fn(context))
      .then(
        () => ({ ok: true as const }),
        (error: unknown) => ({ ok: false as const, error }),
      );
    const outcome = await Promise.race([invocation, this.stoppedSignal.then(() => undefined)]);
    // A step the function did not await may still be running: let it settle (or stop the pass).
    if (outcome !== undefined) await Promise.race([this.tail, this.stoppedSignal]);
    if (this.stopped || outcome === undefined) return this.stoppedResult();
    if (!outcome.ok) return this.compensate(outcome.error);
    if (state.status !== 'running') {
      return this.quarantine(
        new NonDeterminismError(
          state.workflowId,
          state.runId,
          this.position,
          '(the recorded failure)',
          '(completion)',
        ),
      );
    }
    if (!(await this.record([{ type: P.ProcessCompleted, data: {} }]))) return this.stoppedResult();
    return { kind: 'finished', status: 'completed' };
  }

  private run(name: string, fn: (ctx: StepContext) => unknown, options?: RetryPolicy): Promise<unknown> {
    const position = this.begin(name);
    if (position === undefined) return NEVER;
    return this.serial(async () => {
      const state = this.state;
      if (!this.inOrder(position, name)) return NEVER;
      const done = state.results.get(name);
      if (done) return done.result;
      const failed = state.failedSteps.get(name);
      if (failed) throw this.stepFailed(name, failed.attempts, failed.error);
      const previous = state.attempts.get(name);
      if (previous?.retryAt !== undefined && previous.retryAt > this.env.clock.now()) {
        return this.stop({ kind: 'suspend', wakeAt: previous.retryAt });
      }
      const attempt = (previous?.count ?? 0) + 1;
      let value: unknown;
      try {
        value = toRecorded(await fn({ attempt, idempotencyKey: this.keyOf(name) }));
      } catch (error) {
        const policy = this.policy(options);
        const info = failureInfo(error);
        if (error instanceof NonRetryableError || attempt >= policy.attempts) {
          const recorded = await this.record([
            { type: S.StepAttemptFailed, data: { step: name, attempt, error: info } },
            { type: S.StepFailed, data: { step: name, attempts: attempt, error: info } },
          ]);
          if (!recorded) return NEVER;
          throw this.stepFailed(name, attempt, info, error);
        }
        const retryAt = this.env.clock.now() + backoffDelay(attempt, policy.backoff);
        const recorded = await this.record([
          {
            type: S.StepAttemptFailed,
            data: { step: name, attempt, error: info, retryAt: new Date(retryAt).toISOString() },
          },
        ]);
        if (!recorded) return NEVER;
        return this.stop({ kind: 'suspend', wakeAt: retryAt });
      }
      const completed = {
        type: S.StepCompleted,
        data: { step: name, ...(value === undefined ? {} : { result: value }) },
      };
      if (!(await this.record([completed]))) return NEVER;
      return value;
    });
  }

  private registerCompensation(name: string, fn: (ctx: StepContext) => unknown): void {
    if (typeof name !== 'string' || name.length === 0 || typeof fn !== 'function') {
      void this.stop({
        kind: 'quarantine',
        error: new DefinitionError(`workflow ${this.state.workflowId}`, [
          'step.compensate needs a step name and a function.',
        ]),
      });
      return;
    }
    if (this.registrations.some((r) => r.step === name)) {
      void this.stop({
        kind: 'quarantine',
        error: new DuplicateStepError(this.state.workflowId, `compensate:${name}`),
      });
      return;
    }
    // The determinism check for compensations: the n-th registration must name the step
    // recorded n-th, or the compensations that run after a failure would not be the ones
    // the history promised (a renamed or reordered undo under a running workflow).
    const index = this.registrations.length;
    const recorded = this.state.registered[index];
    if (recorded !== undefined && recorded !== name) {
      void this.stop({
        kind: 'quarantine',
        error: new NonDeterminismError(
          this.state.workflowId,
          this.state.runId,
          index,
          `${COMPENSATE_PREFIX}${recorded}`,
          `${COMPENSATE_PREFIX}${name}`,
        ),
      });
      return;
    }
    this.registrations.push({ step: name, fn });
  }

  private sleep(name: string, ms: number): Promise<void> {
    const position = this.begin(name);
    if (position === undefined) return NEVER;
    return this.serial(async () => {
      const state = this.state;
      if (!this.inOrder(position, name)) return NEVER;
      if (state.fired.has(name)) return;
      let dueAt = state.timers.get(name);
      if (dueAt === undefined) {
        dueAt = this.env.clock.now() + Math.max(0, ms);
        const scheduled = {
          type: P.TimeoutScheduled,
          data: { key: name, dueAt: new Date(dueAt).toISOString() },
        };
        if (!(await this.record([scheduled]))) return NEVER;
      }
      if (this.env.clock.now() < dueAt) return this.stop({ kind: 'suspend', wakeAt: dueAt });
      const fired = { type: P.TimeoutFired, data: { key: name, dueAt: new Date(dueAt).toISOString() } };
      if (!(await this.record([fired]))) return NEVER;
    });
  }

  private waitForEvent(
    name: string,
    options: WaitForEventOptions<unknown>,
  ): Promise<WorkflowEvent<unknown> | null> {
    const position = this.begin(name);
    if (position === undefined) return NEVER;
    return this.serial(async () => {
      const state = this.state;
      if (!this.inOrder(position, name)) return NEVER;
      if (!this.workflow.awaitedTypes.has(options.event)) {
        return this.stop({
          kind: 'quarantine',
          error: new DefinitionError(`workflow ${state.workflowId}`, [
            `step.waitForEvent('${name}') waits for '${options.event}', which is not listed in the workflow's awaits.`,
          ]),
        });
      }
      const done = state.results.get(name);
      if (done) return done.result as WorkflowEvent<unknown>;
      if (state.fired.has(name)) return null;
      let awaited = state.awaited.get(name);
      if (!awaited) {
        const dueAt =
          options.timeout === undefined ? undefined : this.env.clock.now() + Math.max(0, options.timeout);
        const data = {
          step: name,
          event: options.event,
          ...(dueAt === undefined ? {} : { dueAt: new Date(dueAt).toISOString() }),
        };
        if (!(await this.record([{ type: S.EventAwaited, data }]))) return NEVER;
        awaited = { event: options.event, dueAt };
      }
      const match = state.inputs.find(
        (input) =>
          input.type === options.event && !state.consumed.has(input.id) && (options.match?.(input) ?? true),
      );
      if (match) {
        if (
          !(await this.record([
            { type: S.StepCompleted, data: { step: name, result: match, inputId: match.id } },
          ]))
        ) {
          return NEVER;
        }
        return match;
      }
      if (awaited.dueAt !== undefined && this.env.clock.now() >= awaited.dueAt) {
        const fired = {
          type: P.TimeoutFired,
          data: { key: name, dueAt: new Date(awaited.dueAt).toISOString() },
        };
        if (!(await this.record([fired]))) return NEVER;
        return null;
      }
      return this.stop({ kind: 'suspend', wakeAt: awaited.dueAt });
    });
  }

  private publish(name: string, stream: string, event: PublishedEvent): Promise<void> {
    const { workflowId, runId } = this.state;
    return this.run(name, async ({ idempotencyKey }) => {
      // The step's stable key as event id: a re-run after a crash re-appends the same event,
      // which the store treats as a duplicate of the first append.
      await this.env.store.append(stream, [
        {
          id: idempotencyKey,
          type: event.type,
          data: event.data,
          metadata: { ...event.metadata, $correlationId: this.correlationId(), $causationId: runId },
        },
      ]);
      return { stream, eventId: idempotencyKey, workflowId };
    }) as Promise<never>;
  }

  private async compensate(error: unknown): Promise<AdvanceResult> {
    const state = this.state;
    if (state.status === 'running') {
      if (!(await this.record([{ type: P.ProcessFailed, data: { reason: failureInfo(error).message } }]))) {
        return this.stoppedResult();
      }
    }
    const reason = state.failureReason ?? failureInfo(error).message;
    if (this.registrations.length < state.registered.length) {
      const missing = state.registered[this.registrations.length] ?? '?';
      return this.quarantine(
        new NonDeterminismError(
          state.workflowId,
          state.runId,
          this.registrations.length,
          `compensate:${missing}`,
          '(no compensation registered)',
        ),
      );
    }
    const policy = this.policy();
    for (const registration of [...this.registrations].reverse()) {
      const step = registration.step;
      if (state.compensationsCompleted.has(step)) continue;
      const attemptsKey = `${COMPENSATE_PREFIX}${step}`;
      const commandId = this.keyOf(attemptsKey);
      if (!state.compensationsScheduled.has(step)) {
        const scheduled = {
          type: P.CompensationScheduled,
          data: { step, commandId, type: attemptsKey, data: {} },
        };
        if (!(await this.record([scheduled]))) return this.stoppedResult();
      }
      const previous = state.attempts.get(attemptsKey);
      if (previous?.retryAt !== undefined && previous.retryAt > this.env.clock.now()) {
        return { kind: 'suspended', wakeAt: previous.retryAt };
      }
      const attempt = (previous?.count ?? 0) + 1;
      try {
        await registration.fn({ attempt, idempotencyKey: commandId });
      } catch (failure) {
        const info = failureInfo(failure);
        if (failure instanceof NonRetryableError || attempt >= policy.attempts) {
          const recorded = await this.record([
            { type: S.StepAttemptFailed, data: { step: attemptsKey, attempt, error: info } },
            { type: P.CompensationFailed, data: { step, commandId, error: info } },
            { type: P.ProcessCompensationFailed, data: { step, error: info } },
          ]);
          return recorded ? { kind: 'finished', status: 'compensationFailed' } : this.stoppedResult();
        }
        const retryAt = this.env.clock.now() + backoffDelay(attempt, policy.backoff);
        const recorded = await this.record([
          {
            type: S.StepAttemptFailed,
            data: { step: attemptsKey, attempt, error: info, retryAt: new Date(retryAt).toISOString() },
          },
        ]);
        return recorded ? { kind: 'suspended', wakeAt: retryAt } : this.stoppedResult();
      }
      if (!(await this.record([{ type: P.CompensationCompleted, data: { step, commandId } }]))) {
        return this.stoppedResult();
      }
    }
    if (!(await this.record([{ type: P.ProcessCompensated, data: { reason } }]))) return this.stoppedResult();
    return { kind: 'finished', status: 'compensated' };
  }

  /** Claims the next position for a step call; undefined when the call itself is a misuse (the pass stops). */
  private begin(name: string): number | undefined {
    if (typeof name !== 'string' || name.length === 0 || name.startsWith(COMPENSATE_PREFIX)) {
      void this.stop({
        kind: 'quarantine',
        error: new DefinitionError(`workflow ${this.state.workflowId}`, [
          `step name '${String(name)}' must be a non-empty string not starting with '${COMPENSATE_PREFIX}'.`,
        ]),
      });
      return undefined;
    }
    if (this.called.has(name)) {
      void this.stop({ kind: 'quarantine', error: new DuplicateStepError(this.state.workflowId, name) });
      return undefined;
    }
    this.called.add(name);
    return this.position++;
  }

  /** The determinism check: the step at `position` must be the one recorded there. */
  private inOrder(position: number, name: string): boolean {
    const state = this.state;
    const recorded = state.steps[position];
    let expected: string | undefined;
    if (recorded !== undefined && recorded !== name) expected = recorded;
    else if (recorded === undefined && state.steps.includes(name)) expected = '(a new step)';
    else if (recorded === undefined && state.status !== 'running') expected = '(the recorded failure)';
    if (expected === undefined) return true;
    void this.stop({
      kind: 'quarantine',
      error: new NonDeterminismError(state.workflowId, state.runId, position, expected, name),
    });
    return false;
  }

  /** Runs step ops one at a time, in call order; once stopped, nothing else runs. */
  private serial<T>(op: () => Promise<T>): Promise<T> {
    const result = this.tail.then(() => (this.stopped ? NEVER : op()));
    this.tail = result.catch(() => undefined);
    return result;
  }

  private stop(reason: Stop): Promise<never> {
    this.stopped ??= reason;
    this.signalStop();
    return NEVER;
  }

  private async stoppedResult(): Promise<AdvanceResult> {
    const stopped = this.stopped;
    if (stopped === undefined || stopped.kind === 'retry') return { kind: 'retry', error: stopped?.error };
    if (stopped.kind === 'suspend') return { kind: 'suspended', wakeAt: stopped.wakeAt };
    return this.quarantine(stopped.error);
  }

  private async quarantine(error: Error): Promise<AdvanceResult> {
    const data = { eventId: this.state.runId, error: failureInfo(error) };
    const recorded = await this.record([{ type: P.ProcessQuarantined, data }], false);
    const stopped = this.stopped;
    return recorded
      ? { kind: 'quarantined', error }
      : { kind: 'retry', error: stopped !== undefined && 'error' in stopped ? stopped.error : undefined };
  }

  /**
   * Appends `events` (after any compensation registrations not recorded yet) at the
   * state's revision and applies them. False when the append failed; the pass then stops.
   */
  private async record(events: readonly NewEvent[], withRegistrations = true): Promise<boolean> {
    const state = this.state;
    const registrations: NewEvent[] = withRegistrations
      ? this.registrations.slice(state.registered.length).map((r) => ({
          type: P.CompensationRegistered,
          data: { step: r.step, command: { type: `${COMPENSATE_PREFIX}${r.step}`, data: {} } },
        }))
      : [];
    const batch = [...registrations, ...events];
    const metadata = { $correlationId: this.correlationId(), $causationId: state.runId };
    try {
      // Random ids: with deterministic ones a racing worker's different event at the same
      // revision could pass for an idempotent retry of ours.
      await this.env.store.append(
        state.stream,
        batch.map((e) => ({ id: randomUUID(), type: e.type, data: e.data, metadata })),
        { expectedRevision: state.revision ?? 'no_stream' },
      );
    } catch (error) {
      // A conflict (another pass appended first) or a store failure: replay and try again.
      this.stopped ??= { kind: 'retry', error };
      this.signalStop();
      return false;
    }
    let revision = state.revision ?? -1n;
    for (const event of batch) applyRunEvent(state, event.type, event.data, ++revision);
    return true;
  }

  private correlationId(): string {
    const fromTrigger = this.state.trigger?.metadata.$correlationId;
    return typeof fromTrigger === 'string' ? fromTrigger : this.state.runId;
  }

  private keyOf(step: string): string {
    return deterministicId('workflow-step', this.state.workflowId, this.state.runId, step);
  }

  private policy(options?: RetryPolicy): { attempts: number; backoff: BackoffOptions } {
    const own = this.workflow.options.retry;
    return {
      attempts: options?.maxAttempts ?? own?.maxAttempts ?? this.env.retry.maxAttempts ?? DEFAULT_ATTEMPTS,
      backoff: options?.backoff ?? own?.backoff ?? this.env.retry.backoff ?? DEFAULT_BACKOFF,
    };
  }

  private stepFailed(step: string, attempts: number, failure: FailureInfo, cause?: unknown): StepFailedError {
    return new StepFailedError(this.state.workflowId, this.state.runId, step, attempts, failure, { cause });
  }
}
