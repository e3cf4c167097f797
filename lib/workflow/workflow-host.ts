import { randomUUID } from 'node:crypto';
import { WrongExpectedVersionError } from '../errors';
import { ProcessEventTypes as P } from '../process/process-events';
import { backoffDelay } from '../runtime/backoff';
import type { CheckpointTicket } from '../runtime/checkpoint-tracker';
import type { Clock } from '../runtime/clock';
import { InstanceCache } from '../runtime/instance-cache';
import { KeyedWorkQueue } from '../runtime/keyed-work-queue';
import type { Logger } from '../runtime/logger';
import { SubscriptionConsumer } from '../runtime/subscription-consumer';
import type { EventStore, StoredEventRecord } from '../store/event-store';
import type { RetryPolicy, Workflow } from './create-workflow';
import { ConcurrencyLeases } from './concurrency-lease';
import { type RunRelease, releaseRun } from './run-release';
import { RunExecution } from './run-execution';
import {
  type RunState,
  type WorkflowEvent,
  applyRunEvent,
  isFinished,
  replayRun,
  runStream,
} from './run-state';

/** Something a workflow runtime did that an operator or a test may want to know. */
export interface WorkflowReport {
  readonly kind:
    | 'started'
    | 'completed'
    | 'compensated'
    | 'compensationFailed'
    | 'quarantined'
    | 'suspended'
    /** Waiting for the run that holds its concurrency key. */
    | 'queued'
    /** A pass was cut short (a concurrent writer, a store failure); it is retried. */
    | 'retry';
  readonly workflowId: string;
  readonly runId: string;
  /** Set for `quarantined` and `retry`. */
  readonly error?: unknown;
  /** Set for `suspended` when a timer will wake the run (ms since the epoch). */
  readonly wakeAt?: number;
}

/** Settings a host takes from its runtime. */
export interface WorkflowHostSettings {
  readonly store: EventStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly retry: RetryPolicy;
  readonly concurrency: number;
  readonly batchSize: number;
  readonly checkpointIntervalMs: number;
  /** Run states cached. @default 10000 */
  readonly cacheSize?: number;
  readonly report: (report: WorkflowReport) => void;
}

type Job =
  | { readonly kind: 'start'; readonly event: WorkflowEvent; readonly done: () => void }
  | { readonly kind: 'input'; readonly event: WorkflowEvent; readonly done: () => void }
  | { readonly kind: 'wake' }
  /** A release recorded by someone else (the CLI, another worker): track the run again, then drive it. */
  | { readonly kind: 'released' };

interface Gate {
  holder: string | undefined;
  readonly waiting: string[];
}

const TERMINAL = new Set<string>([P.ProcessCompleted, P.ProcessCompensated, P.ProcessCompensationFailed]);

/**
 * Runs one workflow: a checkpointed `$all` subscription filtered by its trigger and
 * awaited event types, a per-run FIFO queue (every pass over a run is serialised), the
 * correlation index of active runs, the concurrency-key gates and the wake-up timers.
 * Everything it keeps in memory is rebuilt from `$ce-<workflowId>` on start.
 */
export class WorkflowHost {
  private readonly queue: KeyedWorkQueue<Job>;
  private readonly consumer: SubscriptionConsumer;
  private readonly byCorrelation = new Map<string, Set<string>>();
  private readonly keysOf = new Map<
    string,
    { correlation: string | undefined; concurrency: string | undefined }
  >();
  private readonly gates = new Map<string, Gate>();
  private readonly timers = new Map<string, () => void>();
  private readonly retries = new Map<string, number>();
  private readonly leases: ConcurrencyLeases;
  /**
   * Run states with their revision, so a running workflow is replayed from its stream only on
   * a miss (first touch, eviction, restart) or after a conflict, not on every event. Every
   * append still carries the expected revision, so a stale entry (another worker moved the
   * run) shows up as a conflict, which evicts it and replays.
   */
  private readonly cache: InstanceCache<RunState>;
  /** Lease releases in flight, awaited by {@link stop}. */
  private readonly releasing = new Set<Promise<void>>();
  private stopping = false;

  constructor(
    private readonly workflow: Workflow<never, unknown>,
    private readonly settings: WorkflowHostSettings,
  ) {
    this.leases = new ConcurrencyLeases(settings.store, workflow.id);
    this.cache = new InstanceCache<RunState>(settings.cacheSize ?? 10_000);
    this.queue = new KeyedWorkQueue<Job>({
      concurrency: settings.concurrency,
      worker: (runId, job) => this.work(runId, job),
      onError: (error, runId) =>
        settings.logger.error('workflow job failed', { runId, error: String(error) }),
    });
    // ProcessReleased too: an operator's release (`sagastream processes release`) wakes the run here.
    const types = [...new Set([...workflow.triggerTypes, ...workflow.awaitedTypes, P.ProcessReleased])];
    this.consumer = new SubscriptionConsumer({
      store: settings.store,
      name: `workflow.${workflow.id}`,
      source: { all: true, filter: { eventTypePrefixes: types, excludeSystemEvents: true } },
      clock: settings.clock,
      logger: settings.logger,
      onEvent: (record, ticket) => this.take(record, ticket),
      waitForCapacity: () => this.queue.whenBelow(settings.batchSize * 2),
      drain: () => this.queue.whenIdle(),
      batchSize: settings.batchSize,
      checkpointIntervalMs: settings.checkpointIntervalMs,
    });
  }

  /** Resumes every unfinished run from its stream, then subscribes from the checkpoint. */
  async start(): Promise<void> {
    this.stopping = false;
    await this.recover();
    await this.consumer.start();
  }

  /** Stops subscribing and waking runs, lets the passes in flight finish, stores the checkpoint. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
    await this.consumer.stop();
    await this.queue.whenIdle();
    await Promise.all([...this.releasing]);
  }

  /** True when the subscription has caught up and no pass (or key release) is queued or running. */
  isSettled(): boolean {
    return this.consumer.caughtUp && this.queue.size === 0 && this.releasing.size === 0;
  }

  /** Lifts a run's quarantine (after a code fix) and drives it again; see {@link releaseRun} for `skip`. */
  async release(runId: string, skip = false): Promise<RunRelease> {
    const released = await releaseRun(this.settings.store, this.workflow.id, runId, skip);
    this.cache.delete(runId);
    if (released.outcome === 'handled') {
      if (released.state.trigger) this.track(runId, released.state.trigger);
      this.queue.push(runId, { kind: 'wake' });
    }
    return released;
  }

  /** The run's state, replayed from its stream (a copy: never the cached, live one). */
  async stateOf(runId: string): Promise<RunState> {
    return replayRun(
      this.workflow.id,
      runId,
      await this.settings.store.readStream(runStream(this.workflow.id, runId)),
    );
  }

  /** Runs whose state is cached (for tests and stats). */
  get cachedRuns(): number {
    return this.cache.size;
  }

  /** Stores the subscription's safe checkpoint now. */
  flushCheckpoints(): Promise<void> {
    return this.consumer.flush();
  }

  private async recover(): Promise<void> {
    const runs = new Map<string, boolean>();
    for (const record of await this.settings.store.readStream(`$ce-${this.workflow.id}`)) {
      if (record.type === P.ProcessStarted) runs.set(record.stream, runs.get(record.stream) ?? false);
      else if (TERMINAL.has(record.type)) runs.set(record.stream, true);
    }
    for (const [stream, finished] of runs) {
      if (finished) continue;
      const runId = stream.slice(this.workflow.id.length + 1);
      const state = await this.load(runId);
      if (!state.trigger || isFinished(state)) continue;
      this.track(runId, state.trigger);
      this.queue.push(runId, { kind: 'wake' });
    }
  }

  /** Routes one subscription event; synchronous so that routing follows subscription order. */
  private take(record: StoredEventRecord, ticket: CheckpointTicket): void {
    if (record.type === P.ProcessReleased) {
      if (record.stream.startsWith(`${this.workflow.id}-`)) {
        this.queue.push(record.stream.slice(this.workflow.id.length + 1), { kind: 'released' });
      }
      ticket.done();
      return;
    }
    const event = toWorkflowEvent(record);
    const isTrigger = event !== undefined && this.workflow.triggerTypes.has(event.type);
    const targets =
      event !== undefined && this.workflow.awaitedTypes.has(event.type)
        ? [...(this.byCorrelation.get(this.correlationOf(event) ?? '\u0000') ?? [])].filter(
            (id) => id !== event.id,
          )
        : [];
    let pending = (isTrigger ? 1 : 0) + targets.length;
    if (event === undefined || pending === 0) {
      if (event === undefined && record.type !== '$>') {
        this.settings.logger.warn('workflow input is not a JSON object; skipped', {
          workflow: this.workflow.id,
          stream: record.stream,
          revision: record.revision,
        });
      }
      ticket.done();
      return;
    }
    const done = (): void => {
      if (--pending === 0) ticket.done();
    };
    if (isTrigger) {
      this.track(event.id, event);
      this.queue.push(event.id, { kind: 'start', event, done });
    }
    for (const runId of targets) this.queue.push(runId, { kind: 'input', event, done });
  }

  private async work(runId: string, job: Job): Promise<void> {
    if (this.stopping && (job.kind === 'wake' || job.kind === 'released')) return;
    try {
      if (job.kind === 'start') await this.recordStart(runId, job.event);
      else if (job.kind === 'input') await this.recordInput(runId, job.event);
      else if (job.kind === 'released') {
        // Written by someone else: what this worker cached is behind.
        this.cache.delete(runId);
        const state = await this.load(runId);
        if (isFinished(state) || !state.trigger) return;
        this.track(runId, state.trigger);
      }
    } catch (error) {
      this.cache.delete(runId);
      // The input is not recorded: keep its checkpoint ticket open and try again later.
      this.settings.logger.warn('recording a workflow input failed; retrying', {
        runId,
        error: String(error),
      });
      this.retryLater(runId, job, error);
      return;
    }
    if (job.kind === 'start' || job.kind === 'input') job.done();
    if (!this.holdsGate(runId)) return;
    try {
      if (!(await this.holdsLease(runId))) return;
      await this.drive(runId);
    } catch (error) {
      this.cache.delete(runId);
      this.report('retry', runId, { error });
      this.retryLater(runId, { kind: 'wake' }, error);
    }
  }

  private async recordStart(runId: string, event: WorkflowEvent): Promise<void> {
    const state = await this.load(runId);
    if (state.status !== 'new') {
      if (isFinished(state)) this.finish(runId);
      return;
    }
    const metadata = {
      $correlationId:
        typeof event.metadata.$correlationId === 'string' ? event.metadata.$correlationId : runId,
      $causationId: event.id,
    };
    const events = [
      {
        id: randomUUID(),
        type: P.ProcessStarted,
        data: {
          process: this.workflow.id,
          processId: runId,
          definitionVersion: this.workflow.options.version ?? 1,
        },
        metadata,
      },
      { id: randomUUID(), type: P.InputRecorded, data: inputData(event, true), metadata },
    ];
    try {
      await this.settings.store.append(state.stream, events, { expectedRevision: 'no_stream' });
    } catch (error) {
      this.cache.delete(runId);
      // Another worker started it first: the same run, nothing to do.
      if (error instanceof WrongExpectedVersionError) return;
      throw error;
    }
    this.applyAppended(state, events);
    this.report('started', runId);
    if (!this.holdsGate(runId)) this.report('queued', runId);
  }

  private async recordInput(runId: string, event: WorkflowEvent): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const state = await this.load(runId);
      if (isFinished(state)) {
        this.finish(runId);
        return;
      }
      if (state.status === 'new' || state.inputIds.has(event.id)) return;
      try {
        const recorded = {
          id: randomUUID(),
          type: P.InputRecorded,
          data: inputData(event, false),
          metadata: { $correlationId: runId, $causationId: event.id },
        };
        await this.settings.store.append(state.stream, [recorded], {
          expectedRevision: state.revision ?? 'no_stream',
        });
        this.applyAppended(state, [recorded]);
        return;
      } catch (error) {
        this.cache.delete(runId);
        if (!(error instanceof WrongExpectedVersionError) || attempt >= 5) throw error;
      }
    }
  }

  /** One pass over the run, then whatever its outcome calls for. */
  private async drive(runId: string): Promise<void> {
    this.timers.get(runId)?.();
    this.timers.delete(runId);
    const state = await this.load(runId);
    if (isFinished(state)) {
      this.finish(runId);
      return;
    }
    if (state.status === 'new' || state.quarantine) return;
    const execution = new RunExecution(this.workflow, state, {
      store: this.settings.store,
      clock: this.settings.clock,
      retry: this.settings.retry,
    });
    const result = await execution.advance();
    switch (result.kind) {
      case 'finished':
        this.cache.delete(runId);
        this.retries.delete(runId);
        this.report(result.status, runId);
        this.finish(runId);
        break;
      case 'suspended':
        this.retries.delete(runId);
        if (result.wakeAt !== undefined) this.wakeAt(runId, result.wakeAt);
        this.report('suspended', runId, result.wakeAt === undefined ? {} : { wakeAt: result.wakeAt });
        break;
      case 'quarantined':
        this.retries.delete(runId);
        this.report('quarantined', runId, { error: result.error });
        break;
      case 'retry':
        // The stream moved under the pass (or the store failed): replay it next time.
        this.cache.delete(runId);
        this.report('retry', runId, { error: result.error });
        this.retryLater(runId, { kind: 'wake' }, result.error);
        break;
    }
  }

  private retryLater(runId: string, job: Job, error: unknown): void {
    const attempt = (this.retries.get(runId) ?? 0) + 1;
    this.retries.set(runId, attempt);
    if (!(error instanceof WrongExpectedVersionError)) {
      this.settings.logger.warn('workflow pass retried', { runId, attempt, error: String(error) });
    }
    const delay = backoffDelay(attempt, { initialDelayMs: 10, maxDelayMs: 5000 });
    this.settings.clock.setTimer(() => {
      if (!this.stopping) this.queue.push(runId, job);
    }, delay);
  }

  private wakeAt(runId: string, at: number): void {
    const cancel = this.settings.clock.setTimer(
      () => {
        this.timers.delete(runId);
        if (!this.stopping) this.queue.push(runId, { kind: 'wake' });
      },
      Math.max(0, at - this.settings.clock.now()),
    );
    this.timers.set(runId, cancel);
  }

  /** Indexes an active run by correlation key and queues it behind its concurrency key. */
  private track(runId: string, trigger: WorkflowEvent): void {
    if (this.keysOf.has(runId)) return;
    const correlation = this.correlationOf(trigger);
    const concurrency = this.call(
      () => this.workflow.options.concurrencyKey?.(trigger as never),
      'concurrencyKey',
    );
    this.keysOf.set(runId, { correlation, concurrency });
    if (correlation !== undefined) {
      let runs = this.byCorrelation.get(correlation);
      if (!runs) this.byCorrelation.set(correlation, (runs = new Set()));
      runs.add(runId);
    }
    if (concurrency !== undefined) {
      let gate = this.gates.get(concurrency);
      if (!gate) this.gates.set(concurrency, (gate = { holder: undefined, waiting: [] }));
      if (gate.holder === undefined) gate.holder = runId;
      else if (gate.holder !== runId) gate.waiting.push(runId);
    }
  }

  private holdsGate(runId: string): boolean {
    const concurrency = this.keysOf.get(runId)?.concurrency;
    return concurrency === undefined || this.gates.get(concurrency)?.holder === runId;
  }

  /**
   * The cross-worker half of a concurrency key: the run must also hold the key's lease in
   * the store. When another run holds it (another worker saw the runs in another order, or
   * started before this one), that run goes first here too: this worker drives it (its own
   * worker may be gone) and queues `runId` right behind it.
   */
  private async holdsLease(runId: string): Promise<boolean> {
    const key = this.keysOf.get(runId)?.concurrency;
    if (key === undefined) return true;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const holder = (await this.leases.acquire(key, runId)).runId;
      if (holder === runId || holder === undefined) return holder === runId;
      const state = await this.load(holder);
      if (isFinished(state)) {
        // It ended, but its worker stopped before releasing the key: release it for that run.
        await this.leases.release(key, holder);
        continue;
      }
      if (state.trigger === undefined) break;
      this.yieldGate(key, runId, holder, state.trigger);
      return false;
    }
    this.retryLater(runId, { kind: 'wake' }, new Error(`concurrency key of run ${runId} is contended`));
    return false;
  }

  /** Makes `holder` this worker's holder of `key`, with `runId` next in line. */
  private yieldGate(key: string, runId: string, holder: string, trigger: WorkflowEvent): void {
    const gate = this.gates.get(key);
    if (!gate) return;
    for (const id of [runId, holder]) {
      const index = gate.waiting.indexOf(id);
      if (index >= 0) gate.waiting.splice(index, 1);
    }
    gate.waiting.unshift(runId);
    gate.holder = holder;
    if (!this.keysOf.has(holder)) {
      const correlation = this.correlationOf(trigger);
      this.keysOf.set(holder, { correlation, concurrency: key });
      if (correlation !== undefined) {
        let runs = this.byCorrelation.get(correlation);
        if (!runs) this.byCorrelation.set(correlation, (runs = new Set()));
        runs.add(holder);
      }
    }
    this.report('queued', runId);
    this.queue.push(holder, { kind: 'wake' });
  }

  /** Forgets a finished run and hands its concurrency key to the next run waiting for it. */
  private finish(runId: string): void {
    const keys = this.keysOf.get(runId);
    this.keysOf.delete(runId);
    this.timers.get(runId)?.();
    this.timers.delete(runId);
    if (!keys) return;
    if (keys.correlation !== undefined) {
      const runs = this.byCorrelation.get(keys.correlation);
      runs?.delete(runId);
      if (runs?.size === 0) this.byCorrelation.delete(keys.correlation);
    }
    if (keys.concurrency !== undefined) {
      const key = keys.concurrency;
      const gate = this.gates.get(key);
      const index = gate?.waiting.indexOf(runId) ?? -1;
      if (index >= 0) gate?.waiting.splice(index, 1);
      let next: string | undefined;
      if (gate && gate.holder === runId) {
        next = gate.holder = gate.waiting.shift();
        if (next === undefined) this.gates.delete(key);
      }
      // Release in the store first, so the next run finds the key free instead of re-checking.
      const release = this.leases
        .release(key, runId)
        .catch((error: unknown) =>
          this.settings.logger.warn('releasing a concurrency key failed; the next run releases it', {
            runId,
            error: String(error),
          }),
        )
        .finally(() => {
          this.releasing.delete(release);
          if (next !== undefined && !this.stopping) this.queue.push(next, { kind: 'wake' });
        });
      this.releasing.add(release);
    }
  }

  private correlationOf(event: WorkflowEvent): string | undefined {
    const correlate = this.workflow.options.correlate;
    return correlate ? this.call(() => correlate(event), 'correlate') : event.stream;
  }

  private call(fn: () => string | undefined, what: string): string | undefined {
    try {
      return fn();
    } catch (error) {
      this.settings.logger.error(`workflow ${what} threw; the event is not correlated`, {
        workflow: this.workflow.id,
        error: String(error),
      });
      return undefined;
    }
  }

  /** The run's state: cached, or replayed from its stream (and cached). */
  private async load(runId: string): Promise<RunState> {
    const cached = this.cache.get(runId);
    if (cached) return cached;
    const state = replayRun(
      this.workflow.id,
      runId,
      await this.settings.store.readStream(runStream(this.workflow.id, runId)),
    );
    // A finished run takes no more passes; keeping it would only push live runs out.
    if (!isFinished(state)) this.cache.set(runId, state);
    return state;
  }

  /** Applies what this host just appended to the (cached) state, so it stays equal to a replay. */
  private applyAppended(state: RunState, events: readonly { type: string; data: unknown }[]): void {
    let revision = state.revision ?? -1n;
    for (const event of events) {
      applyRunEvent(state, event.type, event.data as Record<string, unknown>, ++revision);
    }
  }

  private report(kind: WorkflowReport['kind'], runId: string, extra: Partial<WorkflowReport> = {}): void {
    this.settings.report({ kind, workflowId: this.workflow.id, runId, ...extra });
  }
}

function toWorkflowEvent(record: StoredEventRecord): WorkflowEvent | undefined {
  if (
    !record.isJson ||
    typeof record.data !== 'object' ||
    record.data === null ||
    Array.isArray(record.data)
  ) {
    return undefined;
  }
  return {
    id: record.id,
    type: record.type,
    stream: record.stream,
    revision: record.revision.toString(),
    data: record.data as Record<string, unknown>,
    metadata: record.metadata,
  };
}

/** `InputRecorded` with the whole event, so a replay needs nothing but the run's stream. */
function inputData(event: WorkflowEvent, trigger: boolean): Record<string, unknown> {
  return {
    eventId: event.id,
    kind: 'event',
    type: event.type,
    stream: event.stream,
    revision: event.revision,
    ...(trigger ? { trigger: true } : {}),
    event,
  };
}
