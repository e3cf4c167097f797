import {
  ConcurrencyError,
  type CorrelationKeyConflictError,
  type HandlerError,
  NonRetryableError,
  SagastreamError,
  UnknownEventTypeError,
  WrongExpectedVersionError,
} from '../errors';
import type { DecodedEvent, MessageRegistry } from '../messages';
import { type Decision, type ProcessEngine, type ProcessInput, failureInfo } from '../process/process-engine';
import { ProcessEventTypes, isFrameworkEventType } from '../process/process-events';
import { type ProcessState, isTerminal } from '../process/process-state';
import type { EventStore, StoredEventRecord, SubscriptionSource } from '../store/event-store';
import { type BackoffOptions, backoffDelay } from './backoff';
import type { CheckpointTicket } from './checkpoint-tracker';
import { type Clock, sleep } from './clock';
import type { CommandBus } from './command-bus';
import { CorrelationIndex } from './correlation-index';
import { crashPoint } from './crash-point';
import { InstanceCache } from './instance-cache';
import { KeyedWorkQueue } from './keyed-work-queue';
import type { Logger } from './logger';
import {
  type InputRejectedData,
  type RuntimeReport,
  RuntimeEventTypes,
  rejectedStreamOf,
} from './runtime-events';
import {
  SubscriptionConsumer,
  type SubscriptionConsumerOptions,
  type SubscriptionLane,
} from './subscription-consumer';
import { TimerIndex } from './timer-index';

/** Settings a host takes from the runtime (see `ProcessRuntimeOptions` for meanings and defaults). */
export interface HostSettings {
  readonly store: EventStore;
  readonly registry: MessageRegistry;
  readonly bus: CommandBus;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly report: (report: RuntimeReport) => void;
  readonly concurrency: number;
  readonly relayConcurrency: number;
  /** Deliveries queued before the relay stops reading its subscription. */
  readonly relayBacklog: number;
  /**
   * Deliveries at once while the relay reads a backlog: after a start or a resubscribe,
   * until its subscription catches up, unless `relayBacklog` deliveries are queued. @default 1
   */
  readonly relayCatchUpConcurrency?: number;
  readonly batchSize: number;
  readonly checkpointEvery: number;
  readonly checkpointIntervalMs: number;
  readonly handlerAttempts: number;
  readonly conflictRetries: number;
  readonly commandAttempts: number;
  readonly backoff: BackoffOptions;
  readonly cacheSize: number;
  /** Input categories; undefined: a `$all` subscription filtered by the routed event types. */
  readonly categories: readonly string[] | undefined;
}

/** Counters a host keeps (for tests, benchmarks and operators). */
export interface HostStats {
  /** Process streams read (cache misses, conflicts, restarts). */
  loads: number;
  /** Instances started without reading their stream (see `work`). */
  freshStarts: number;
  /** Starts decided on the empty state whose stream existed after all (then read and decided again). */
  freshMisses: number;
  /** Process appends. */
  appends: number;
  /** Inputs that led to a decision. */
  handled: number;
  conflicts: number;
  /** Commands handed to the bus, retries included. */
  deliveries: number;
  quarantined: number;
  rejected: number;
}

interface Job {
  readonly input: ProcessInput;
  readonly done: (decision: Decision | undefined) => void;
  /** The input event arrived after its subscription caught up (see `SubscriptionLane`). */
  readonly live?: boolean;
}

interface Delivery {
  readonly processId: string;
  readonly commandId: string;
  readonly type: string;
  readonly data: Record<string, unknown>;
  /** Set for compensation commands, whose completion is fed back. */
  readonly step?: string;
  readonly ticket: CheckpointTicket;
}

/**
 * Runs one process definition: input subscriptions -> decode -> route -> per-instance
 * queues -> load/decide/append; the outbox relay; the timer service; quarantine.
 * Internal to the runtime; `ProcessRuntime` is the public face.
 */
export class ProcessHost {
  readonly stats: HostStats = {
    loads: 0,
    freshStarts: 0,
    freshMisses: 0,
    appends: 0,
    handled: 0,
    conflicts: 0,
    deliveries: 0,
    quarantined: 0,
    rejected: 0,
  };
  private readonly queue: KeyedWorkQueue<Job>;
  private readonly relayQueue: KeyedWorkQueue<Delivery>;
  private readonly cache: InstanceCache<ProcessState>;
  private readonly consumers: SubscriptionConsumer[] = [];
  private readonly timers: TimerIndex;
  /** Lookup keys (`ctx.associate` / `@On(E, { byKey })`), when the process routes by key. */
  private readonly keys: CorrelationIndex | undefined;
  /** Inputs held for quarantined instances, in arrival order. */
  private readonly parked = new Map<string, Job[]>();
  private readonly sleepers = new Set<() => void>();
  /** The relay's subscription (the last consumer). */
  private readonly relayConsumer: SubscriptionConsumer;
  /** The relay waits for room in its queue: deliveries must not be held back then. */
  private relayBlocked = false;
  /** The last event of the relay's source when the host started (see `deliverySlot`). */
  private relayStartHead: bigint | undefined;
  private deliveriesRunning = 0;
  /** Deliveries waiting for {@link deliverySlot}. */
  private slotWaiters: (() => void)[] = [];
  private rejectsInFlight = 0;
  private stopping = false;

  constructor(
    readonly engine: ProcessEngine,
    private readonly settings: HostSettings,
  ) {
    this.cache = new InstanceCache(settings.cacheSize);
    this.queue = new KeyedWorkQueue<Job>({
      concurrency: settings.concurrency,
      worker: (processId, job) => this.work(processId, job),
      onError: (error, processId) =>
        settings.logger.error('instance worker failed', {
          process: this.name,
          processId,
          error: String(error),
        }),
    });
    this.relayQueue = new KeyedWorkQueue<Delivery>({
      concurrency: settings.relayConcurrency,
      worker: (_processId, delivery) => this.deliver(delivery),
      onError: (error, processId) =>
        settings.logger.error('relay worker failed', { process: this.name, processId, error: String(error) }),
    });
    this.keys = engine.definition.routesByKey
      ? new CorrelationIndex({ ...settings, engine, whenQueueIdle: () => this.queue.whenIdle() })
      : undefined;
    this.timers = new TimerIndex(settings.clock, (processId, key, dueAt) =>
      this.fireTimer(processId, key, dueAt),
    );

    const inputSources: { name: string; source: SubscriptionSource }[] = settings.categories
      ? settings.categories.map((category) => ({
          name: `${this.name}.input.${category}`,
          source: { category },
        }))
      : [
          {
            name: `${this.name}.input`,
            source: {
              all: true,
              filter: { eventTypePrefixes: engine.definition.inputEventTypes, excludeSystemEvents: true },
            },
          },
        ];
    for (const { name, source } of inputSources) {
      this.consumers.push(
        this.consumer(
          name,
          source,
          [{ name, onEvent: (event, ticket, live) => this.takeInput(event, ticket, live) }],
          this.queue,
        ),
      );
    }
    // One subscription to the process category feeds the outbox relay and, when the process
    // has timeouts, the timer index. Each keeps its own checkpoint: the timer lane's stays
    // before the oldest pending timer (so a restart rebuilds the index) without holding the
    // relay's back (so a restart does not redeliver every command since then).
    const lanes: SubscriptionLane[] = [
      { name: `${this.name}.relay`, onEvent: (event, ticket) => this.takeOutbox(event, ticket) },
    ];
    if (engine.definition.timeouts.size > 0) {
      lanes.push({
        name: `${this.name}.timers`,
        onEvent: (event, ticket) => this.takeTimerEvent(event, ticket),
      });
    }
    // The relay's bound is its own: after a crash its tail holds every command still to deliver,
    // and a bound of two pages made reading that tail wait on each delivery's round trips.
    const relayLimit = Math.max(settings.relayBacklog, settings.batchSize * 2);
    this.relayConsumer = this.consumer(
      `${this.name}.relay`,
      { category: this.name },
      lanes,
      this.relayQueue,
      {
        waitForCapacity: async () => {
          if (this.relayQueue.activeSize < relayLimit) return;
          this.relayBlocked = true;
          this.wakeDeliveries();
          await this.relayQueue.whenBelow(relayLimit);
          this.relayBlocked = false;
        },
        onCaughtUp: () => this.wakeDeliveries(),
      },
    );
    this.consumers.push(this.relayConsumer);
  }

  get name(): string {
    return this.engine.name;
  }

  async start(): Promise<void> {
    this.stopping = false;
    void this.readRelayHead();
    await Promise.all(this.consumers.map((c) => c.start()));
  }

  /**
   * A store that never reports a caught-up subscription (EventStoreDB before 23.10) would keep
   * the relay at `relayCatchUpConcurrency`; reaching the head its source had at the start ends
   * the catch-up as well.
   */
  private async readRelayHead(): Promise<void> {
    try {
      const [last] = await this.settings.store.readStream(`$ce-${this.name}`, {
        direction: 'backwards',
        maxCount: 1,
      });
      this.relayStartHead = last ? (last.link?.revision ?? last.revision) : -1n;
    } catch {
      this.relayStartHead = -1n;
    }
    this.wakeDeliveries();
  }

  /** True while the relay reads what its source held before it started (or resubscribed). */
  private relayCatchingUp(): boolean {
    if (this.relayConsumer.caughtUp) return false;
    const head = this.relayStartHead;
    if (head === undefined) return true;
    const seen = this.relayConsumer.lastSeenCheckpoint;
    return seen === undefined ? head >= 0n : seen < head;
  }

  /** Stops taking work, lets in-flight work finish, stores checkpoints. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.timers.stop();
    for (const wake of this.sleepers) wake();
    this.wakeDeliveries();
    for (const consumer of this.consumers) consumer.halt();
    // The relay feeds the instance queue and the instance queue feeds nothing back, but a
    // feed may be waiting on either: drain until both stay idle.
    for (let round = 0; round < 3; round++) {
      await this.queue.whenIdle();
      await this.relayQueue.whenIdle();
    }
    await Promise.all(this.consumers.map((c) => c.flush()));
  }

  /** True when every subscription has caught up and no work is queued or running (parked work excepted). */
  isIdle(): boolean {
    return (
      this.consumers.every((c) => c.caughtUp) &&
      this.queue.activeSize === 0 &&
      this.relayQueue.activeSize === 0 &&
      this.rejectsInFlight === 0 &&
      (this.keys?.idle ?? true) &&
      this.timers.firing === 0
    );
  }

  /** {@link isIdle}, and every subscription has received all its source holds. */
  async isSettled(): Promise<boolean> {
    if (!this.isIdle()) return false;
    for (const consumer of this.consumers) if (!(await consumer.hasReceivedAll())) return false;
    return this.isIdle();
  }

  /** Stores every consumer's checkpoint now (tests and operators; the runtime also does it periodically). */
  async flushCheckpoints(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.flush()));
  }

  /** Current state of an instance (from the cache or the store). */
  async stateOf(processId: string): Promise<ProcessState> {
    return this.load(processId);
  }

  /**
   * Lifts a quarantine: appends `ProcessReleased` and runs the held inputs again, first
   * the one that failed (unless `skip`, which marks it handled without running it).
   */
  async release(processId: string, skip: boolean): Promise<Decision> {
    for (let attempt = 1; ; attempt++) {
      const state = await this.load(processId);
      const decision = this.engine.release(state, { skip });
      if (decision.events.length === 0) {
        this.resume(processId);
        return decision;
      }
      try {
        await this.append(state, decision);
        this.cache.set(processId, decision.state);
        this.resume(processId);
        return decision;
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError) || attempt > this.settings.conflictRetries)
          throw error;
        this.cache.delete(processId);
      }
    }
  }

  // ---- inputs

  private takeInput(record: StoredEventRecord, ticket: CheckpointTicket, live: boolean): void {
    const { registry } = this.settings;
    if (record.type.startsWith('$')) return ticket.done();
    if (!this.engine.definition.handlers.has(record.type)) {
      // Known types this process does not handle are normal traffic in a category.
      if (registry.has(record.type) || isFrameworkEventType(record.type)) return ticket.done();
      return this.reject(
        record,
        new UnknownEventTypeError(record.type, record.stream, record.revision, record.id),
        ticket,
      );
    }
    let event: DecodedEvent;
    let processIds: readonly string[];
    try {
      event = registry.decode(record);
      const route = this.engine.route(event);
      if (!route) return ticket.done();
      if (this.keys?.takes(route)) {
        const input = { kind: 'event', event } as const;
        // Waiting for a lookup does not make an input older: a live start still skips the read.
        return this.keys.route(record, event, route, ticket, (id, done) =>
          this.queue.push(id, { input, done, live }),
        );
      }
      processIds = route.processIds;
    } catch (error) {
      return this.reject(record, error, ticket);
    }
    // An empty fan-out concerns no instance: nothing holds the checkpoint back.
    if (processIds.length === 0) return ticket.done();
    if (processIds.length === 1) {
      this.queue.push(processIds[0]!, { input: { kind: 'event', event }, done: () => ticket.done(), live });
      return;
    }
    let remaining = processIds.length;
    const done = () => {
      if (--remaining === 0) ticket.done();
    };
    const input = { kind: 'event', event } as const;
    for (const processId of processIds) this.queue.push(processId, { input, done, live });
  }

  private reject(record: StoredEventRecord, error: unknown, ticket: CheckpointTicket): void {
    this.stats.rejected++;
    this.rejectsInFlight++;
    const data: InputRejectedData = {
      eventId: record.id,
      type: record.type,
      stream: record.stream,
      revision: String(record.revision),
      error: failureInfo(error),
    };
    this.settings.report({
      kind: 'rejected',
      processName: this.name,
      eventId: record.id,
      stream: record.stream,
      revision: record.revision,
      error,
      detail: `input ${record.type} ${record.id} at ${record.stream}@${record.revision} rejected: ${data.error.message}`,
    });
    void this.withRetries('record a rejected input', () =>
      this.settings.store.append(rejectedStreamOf(this.name), [
        { id: record.id, type: RuntimeEventTypes.InputRejected, data, metadata: { $causationId: record.id } },
      ]),
    ).then(
      () => {
        this.rejectsInFlight--;
        ticket.done();
      },
      () => {
        // Not recorded: keep the checkpoint before it so a restart reports it again.
        this.rejectsInFlight--;
      },
    );
  }

  // ---- one instance

  private async work(processId: string, job: Job): Promise<void> {
    const held = this.parked.get(processId);
    if (held) {
      held.push(job);
      return;
    }
    let handlerFailures = 0;
    let conflicts = 0;
    // A live input that starts an instance absent from the cache is decided on the empty
    // state without reading the stream, and appended with `no_stream`: a new instance costs
    // no read. If the stream exists after all (another start for the same id), the append
    // fails and the input is decided again on the stream's state. Only live inputs: one
    // seen again in catch-up (a restart, a resubscribe) may have been handled already, and
    // its decision on the empty state would carry the same event ids as the stream's first
    // batch, which the store would take as an idempotent repeat instead of a conflict.
    let presumeNew = job.live === true && this.startsInstance(job.input);
    for (;;) {
      let state: ProcessState;
      let decision: Decision;
      let fresh = false;
      let keyConflict: CorrelationKeyConflictError | undefined;
      try {
        const cached = presumeNew ? this.cache.get(processId) : undefined;
        fresh = presumeNew && cached === undefined;
        presumeNew = false;
        state = cached ?? (fresh ? this.engine.initialState(processId) : await this.load(processId));
        decision = this.engine.handle(state, job.input, new Date(this.settings.clock.now()));
        // Without keys, no await: it would cost every input a microtask turn.
        if (this.keys) keyConflict = await this.keys.claim(processId, decision);
      } catch (error) {
        if (!(error instanceof SagastreamError) || error.code !== 'HANDLER') {
          // Store trouble while loading: retry without counting it against the handler.
          this.settings.logger.warn('loading an instance failed; retrying', {
            process: this.name,
            processId,
            error: String(error),
          });
          this.cache.delete(processId);
          if (!(await this.pause(++conflicts))) return this.hold(processId, job);
          continue;
        }
        handlerFailures++;
        this.cache.delete(processId);
        if (handlerFailures < this.settings.handlerAttempts) {
          this.settings.report({
            kind: 'handlerRetry',
            processName: this.name,
            processId,
            error,
            detail: `handler failed (attempt ${handlerFailures} of ${this.settings.handlerAttempts}): ${error.message}`,
          });
          if (!(await this.pause(handlerFailures))) return this.hold(processId, job);
          continue;
        }
        return this.quarantine(processId, job, error as HandlerError);
      }
      // Nothing to append proves nothing about the stream: decide again on what it holds.
      if (fresh && decision.events.length === 0) continue;
      if (decision.outcome === 'quarantined') return this.hold(processId, job);
      if (keyConflict) return this.quarantine(processId, job, keyConflict);
      if (decision.events.length > 0) {
        try {
          await this.append(state, decision);
        } catch (error) {
          this.cache.delete(processId);
          if (fresh && error instanceof WrongExpectedVersionError) {
            // The instance existed: not contention, so reload at once, without backoff.
            this.stats.freshMisses++;
            continue;
          }
          if (!(error instanceof WrongExpectedVersionError)) {
            this.settings.logger.warn('process append failed; retrying', {
              process: this.name,
              processId,
              error: String(error),
            });
            if (!(await this.pause(++conflicts))) return this.hold(processId, job);
            continue;
          }
          this.stats.conflicts++;
          if (++conflicts > this.settings.conflictRetries) {
            const exhausted = new ConcurrencyError(state.stream, error.expected, error.actual, conflicts, {
              cause: error,
            });
            this.settings.report({
              kind: 'conflict',
              processName: this.name,
              processId,
              error: exhausted,
              detail: exhausted.message,
            });
            conflicts = 0;
          }
          if (!(await this.pause(conflicts + 1))) return this.hold(processId, job);
          continue;
        }
        this.stats.handled++;
        if (fresh) this.stats.freshStarts++;
        crashPoint('after-append');
        if (decision.events.some((e) => e.type === ProcessEventTypes.CommandScheduled))
          crashPoint('after-command-scheduled');
        if (job.input.kind === 'timeout') crashPoint('while-timer-fires');
      }
      if (isTerminal(decision.state.status)) this.cache.delete(processId);
      else this.cache.set(processId, decision.state);
      if (
        decision.outcome === 'beforeStart' ||
        decision.outcome === 'afterFinish' ||
        decision.outcome === 'alreadyStarted'
      ) {
        this.settings.report({
          kind: 'ignored',
          processName: this.name,
          processId,
          eventId: decision.inputId,
          ...(job.input.kind === 'event'
            ? { stream: job.input.event.stream, revision: job.input.event.revision }
            : {}),
          detail: decision.detail,
        });
      }
      job.done(decision);
      return;
    }
  }

  /** True for an event whose handler is a `@StartedBy`. */
  private startsInstance(input: ProcessInput): boolean {
    return (
      input.kind === 'event' && this.engine.definition.handlers.get(input.event.type)?.kind === 'startedBy'
    );
  }

  private async load(processId: string): Promise<ProcessState> {
    const cached = this.cache.get(processId);
    if (cached) return cached;
    this.stats.loads++;
    const stream = this.engine.streamFor(processId);
    const { store } = this.settings;
    // Read the tail first: a short stream, or one whose tail holds a snapshot, needs nothing more.
    const page = 256;
    const tail = await store.readStream(stream, { direction: 'backwards', maxCount: page });
    const events =
      tail.length < page || tail.some((e) => e.type === ProcessEventTypes.Snapshot)
        ? tail.reverse()
        : await store.readStream(stream);
    const state = this.engine.replay(processId, events);
    this.cache.set(processId, state);
    return state;
  }

  private async append(state: ProcessState, decision: Decision): Promise<void> {
    this.stats.appends++;
    await this.settings.store.append(state.stream, decision.events, {
      expectedRevision: decision.expectedRevision,
    });
  }

  private async quarantine(
    processId: string,
    job: Job,
    error: HandlerError | CorrelationKeyConflictError,
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const state = await this.load(processId).catch(() => undefined);
      if (!state) return this.hold(processId, job);
      const decision = this.engine.quarantine(state, job.input, error);
      try {
        await this.append(state, decision);
        this.cache.set(processId, decision.state);
        break;
      } catch {
        this.cache.delete(processId);
        if (attempt > this.settings.conflictRetries || !(await this.pause(attempt))) break;
      }
    }
    this.stats.quarantined++;
    this.settings.report({
      kind: 'quarantined',
      processName: this.name,
      processId,
      eventId: error.inputId,
      error,
      detail: `${this.engine.streamFor(processId)} quarantined: ${error.message}. Release or skip it.`,
    });
    this.hold(processId, job);
  }

  /** Holds `job` (and every later input of the instance) until release. */
  private hold(processId: string, job: Job): void {
    const held = this.parked.get(processId);
    if (held) held.push(job);
    else this.parked.set(processId, [job]);
    this.queue.pause(processId);
  }

  private resume(processId: string): void {
    const held = this.parked.get(processId) ?? [];
    this.parked.delete(processId);
    const later = this.queue.take(processId);
    this.queue.resume(processId);
    for (const job of [...held, ...later]) this.queue.push(processId, job);
  }

  /** Feeds an input to an instance; resolves with the decision once it is durable. */
  private feed(processId: string, input: ProcessInput): Promise<Decision | undefined> {
    return new Promise((resolve) => this.queue.push(processId, { input, done: resolve }));
  }

  // ---- outbox relay

  private takeOutbox(record: StoredEventRecord, ticket: CheckpointTicket): void {
    const isCommand = record.type === ProcessEventTypes.CommandScheduled;
    if (!isCommand && record.type !== ProcessEventTypes.CompensationScheduled) {
      if (record.type === ProcessEventTypes.ProcessReleased) this.released(record);
      return ticket.done();
    }
    const processId = this.engine.processIdOf(record.stream);
    if (!processId) return ticket.done();
    const data = record.data as {
      commandId: string;
      type: string;
      data: Record<string, unknown>;
      step?: string;
    };
    this.relayQueue.push(processId, {
      processId,
      commandId: data.commandId,
      type: data.type,
      data: data.data,
      ...(isCommand || data.step === undefined ? {} : { step: data.step }),
      ticket,
    });
  }

  private async deliver(delivery: Delivery): Promise<void> {
    await this.deliverySlot();
    try {
      await this.deliverNow(delivery);
    } finally {
      this.deliveriesRunning--;
      this.slotWaiters.shift()?.();
    }
  }

  /**
   * Takes a delivery slot (counted in `deliveriesRunning`) once a delivery may start. While the relay reads a backlog (a restart, a
   * resubscribe) only `relayCatchUpConcurrency` deliveries run: each costs a few store round
   * trips and the instance work they trigger, and at full concurrency they took the worker's
   * CPU from reading the backlog (bench:recovery: the relay read its tail at 1/10 of a raw
   * catch-up). Reading first queues the backlog (up to `relayBacklog`); once the queue is full
   * or the subscription has caught up, deliveries run at `relayConcurrency` again.
   */
  private async deliverySlot(): Promise<void> {
    const { relayConcurrency, relayCatchUpConcurrency } = this.settings;
    const limit = Math.min(relayCatchUpConcurrency ?? 1, relayConcurrency);
    while (this.deliveriesRunning >= limit && !this.stopping && !this.relayBlocked) {
      if (!this.relayCatchingUp()) {
        this.wakeDeliveries();
        break;
      }
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
    // Counted in the same turn as the check, so deliveries started together cannot all pass it.
    this.deliveriesRunning++;
  }

  private wakeDeliveries(): void {
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const wake of waiters) wake();
  }

  private async deliverNow(delivery: Delivery): Promise<void> {
    const { bus, registry, commandAttempts } = this.settings;
    let failure: unknown;
    for (let attempt = 1; ; attempt++) {
      if (this.stopping) return; // not done: the checkpoint stays before it, so a restart redelivers
      try {
        if (!bus.has(delivery.type)) {
          throw new NonRetryableError(
            `No command handler is registered for '${delivery.type}' in this worker.`,
          );
        }
        this.stats.deliveries++;
        const command = registry.deserialize(delivery.type, delivery.data);
        await bus.execute(command, {
          commandId: delivery.commandId,
          type: delivery.type,
          processName: this.name,
          processId: delivery.processId,
          attempt,
        });
        failure = undefined;
        break;
      } catch (error) {
        failure = error;
        const terminal =
          error instanceof SagastreamError && (error.code === 'NON_RETRYABLE' || error.code === 'DEFINITION');
        if (terminal || attempt >= commandAttempts) break;
        this.settings.report({
          kind: 'commandRetry',
          processName: this.name,
          processId: delivery.processId,
          error,
          detail: `command ${delivery.type} ${delivery.commandId} failed (attempt ${attempt} of ${commandAttempts}): ${failureInfo(error).message}`,
        });
        if (!(await this.pause(attempt))) return;
      }
    }
    crashPoint(delivery.step === undefined ? 'during-delivery' : 'during-compensation');
    if (failure !== undefined) {
      this.settings.report({
        kind: 'commandFailed',
        processName: this.name,
        processId: delivery.processId,
        error: failure,
        detail: `command ${delivery.type} ${delivery.commandId} failed for good: ${failureInfo(failure).message}`,
      });
      await this.feed(delivery.processId, {
        kind: 'commandFailed',
        commandId: delivery.commandId,
        error: failureInfo(failure),
        data: delivery.data,
      });
    } else if (delivery.step !== undefined) {
      await this.feed(delivery.processId, { kind: 'commandSucceeded', commandId: delivery.commandId });
    }
    delivery.ticket.done();
  }

  // ---- timers

  private takeTimerEvent(record: StoredEventRecord, ticket: CheckpointTicket): void {
    const processId = this.engine.processIdOf(record.stream);
    if (!processId) return ticket.done();
    const data = record.data as { key?: string; dueAt?: string };
    switch (record.type) {
      case ProcessEventTypes.TimeoutScheduled:
        this.timers.schedule(processId, data.key ?? '', new Date(data.dueAt ?? 0), ticket);
        return;
      case ProcessEventTypes.TimeoutCancelled:
      case ProcessEventTypes.TimeoutFired:
        this.timers.settle(processId, data.key ?? '');
        return ticket.done();
      default:
        return ticket.done();
    }
  }

  /** Another worker or the CLI may have released an instance: run what this worker holds. */
  private released(record: StoredEventRecord): void {
    const processId = this.engine.processIdOf(record.stream);
    if (processId && this.parked.has(processId)) {
      this.cache.delete(processId);
      this.resume(processId);
    }
  }

  private async fireTimer(processId: string, key: string, dueAt: Date): Promise<void> {
    const decision = await this.feed(processId, { kind: 'timeout', key, dueAt });
    // A stale timeout (rescheduled, cancelled, finished) produces no TimeoutFired to settle it.
    if (!decision || decision.events.length === 0) this.timers.settle(processId, key, dueAt);
  }

  // ---- plumbing

  private consumer(
    name: string,
    source: SubscriptionSource,
    lanes: readonly SubscriptionLane[],
    queue: Pick<KeyedWorkQueue<never>, 'whenBelow' | 'whenIdle'> | undefined,
    overrides: Partial<Pick<SubscriptionConsumerOptions, 'waitForCapacity' | 'onCaughtUp'>> = {},
  ): SubscriptionConsumer {
    const limit = this.settings.batchSize * 2;
    return new SubscriptionConsumer({
      store: this.settings.store,
      name,
      source,
      clock: this.settings.clock,
      logger: this.settings.logger,
      lanes,
      waitForCapacity: () => (queue ? queue.whenBelow(limit) : Promise.resolve()),
      drain: () => (queue ? queue.whenIdle() : Promise.resolve()),
      batchSize: this.settings.batchSize,
      checkpointEvery: this.settings.checkpointEvery,
      checkpointIntervalMs: this.settings.checkpointIntervalMs,
      ...overrides,
    });
  }

  /** Backs off before retry `attempt`; false when the host is stopping (give the work up). */
  private async pause(attempt: number): Promise<boolean> {
    if (this.stopping) return false;
    await new Promise<void>((resolve) => {
      const wake = () => {
        this.sleepers.delete(wake);
        resolve();
      };
      this.sleepers.add(wake);
      void sleep(this.settings.clock, backoffDelay(attempt, this.settings.backoff)).then(wake);
    });
    return !this.stopping;
  }

  private async withRetries<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        this.settings.logger.warn(`${what} failed (attempt ${attempt})`, {
          process: this.name,
          error: String(error),
        });
        if (attempt >= 5 || !(await this.pause(attempt))) throw error;
      }
    }
  }
}
