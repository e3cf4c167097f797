import { randomUUID } from 'node:crypto';
import { ConcurrencyError, DefinitionError, SagaFailedError } from '../errors';
import { MessageRegistry } from '../messages';
import type { Class } from '../metadata';
import { defineProcess } from '../process/process-definition';
import { type Decision, ProcessEngine } from '../process/process-engine';
import { ProcessEventTypes as P } from '../process/process-events';
import type { ProcessState } from '../process/process-state';
import type { AggregateRepository, CommandDispatcher, EventBus, SagaSetup } from '../saga/define-saga';
import { type ExecuteOptions, SagaExecutor, type SagaResult } from '../saga/saga-executor';
import type { EventStore } from '../store/event-store';
import type { RetryPolicy, Workflow } from '../workflow/create-workflow';
import { type RunRelease, releaseRun } from '../workflow/run-release';
import { type RunState, replayRun, runStream } from '../workflow/run-state';
import { WorkflowHost, type WorkflowReport } from '../workflow/workflow-host';
import type { BackoffOptions } from './backoff';
import { type Clock, systemClock } from './clock';
import { CommandBus } from './command-bus';
import { type Logger, consoleLogger } from './logger';
import { type HostStats, ProcessHost } from './process-host';
import type { ReportOwner, RuntimeReport } from './runtime-events';

/** Options of {@link ProcessRuntime}. */
export interface ProcessRuntimeOptions {
  readonly store: EventStore;
  /**
   * Message classes of every input, own event and command of the process managers
   * (registered on the way by `register`). Workflows and sagas work on plain JSON and need none.
   * @default an empty registry
   */
  readonly registry?: MessageRegistry;
  /** Time for timeouts, sleeps, handler contexts and retry backoff. @default systemClock */
  readonly clock?: Clock;
  /** @default consoleLogger (warnings and errors to stderr) */
  readonly logger?: Logger;
  /** Called for every {@link RuntimeReport} (rejected inputs, quarantines, command failures...). */
  readonly onReport?: (report: RuntimeReport) => void;
  /** Instances (or workflow runs) worked on at once, per process (or workflow). @default 64 */
  readonly concurrency?: number;
  /** Commands delivered at once, per process. @default 64 */
  readonly relayConcurrency?: number;
  /**
   * Commands queued for delivery, per process, before the relay stops reading its
   * subscription. Large, so a restart reads the relay's tail at catch-up speed instead of at
   * delivery speed; a queued command costs a few hundred bytes. @default 16384
   */
  readonly relayBacklog?: number;
  /**
   * Commands delivered at once, per process, while the relay is still reading the backlog it
   * found on start (or after a resubscribe). A redelivery costs a few store round trips plus the
   * work it triggers, so a restarted worker reads its tail first and then delivers at
   * `relayConcurrency`. @default 1
   */
  readonly relayCatchUpConcurrency?: number;
  /** Events per page pulled from each subscription. @default 256 */
  readonly batchSize?: number;
  /** Store a checkpoint after this many events are safe. @default 512 */
  readonly checkpointEvery?: number;
  /** Also store checkpoints this often, in ms. @default 1000 */
  readonly checkpointIntervalMs?: number;
  /** Runs of a throwing handler before its instance is quarantined. @default 3 */
  readonly handlerAttempts?: number;
  /** Conflicting appends retried (reload, decide again) before reporting a ConcurrencyError. @default 5 */
  readonly conflictRetries?: number;
  /** Delivery attempts of a command before its failure is fed back as terminal. @default 8 */
  readonly commandAttempts?: number;
  /** Backoff between retries of commands, handlers and conflicts. @default { initialDelayMs: 50, maxDelayMs: 5000 } */
  readonly backoff?: BackoffOptions;
  /**
   * Instance states cached per process. A state costs about 0.5-2 KB (bench:scale), so the
   * default holds 1e5 live instances in roughly 50-200 MB; an instance evicted from the cache
   * is replayed from its stream on its next input (snapshots bound that replay).
   * @default 100000
   */
  readonly cacheSize?: number;
  /** Reports kept in {@link ProcessRuntime.reports}. @default 1000 */
  readonly reportsKept?: number;
  /**
   * Default retry policy of workflow steps and compensations (a workflow's or a step's own
   * `retry` overrides it). @default 3 attempts, backoff from 1 s to 60 s
   */
  readonly retry?: RetryPolicy;
  /**
   * Resume the unfinished saga runs of every registered saga on {@link ProcessRuntime.start}.
   * Turn it off when several workers register the same saga and one of them is alive: a
   * resumed saga runs the action that was in flight again. @default true
   */
  readonly resumeSagas?: boolean;
}

/** What the actions of a saga hosted by {@link ProcessRuntime.registerSaga} may use. */
export interface SagaDependencies {
  /** Backs `ctx.repository`. */
  readonly repository?: AggregateRepository;
  /** Backs `ctx.publish`. */
  readonly eventBus?: EventBus;
  /** Backs `ctx.dispatch`. */
  readonly commandBus?: CommandDispatcher;
}

/**
 * What {@link ProcessRuntime.release} and {@link ProcessRuntime.skip} did: the engine's
 * decision for a process-manager instance, a {@link RunRelease} for a workflow run or a saga.
 * Both carry `outcome` (`handled` when the quarantine was lifted) and `detail`.
 */
export type ReleaseResult = Decision | RunRelease;

interface HostedSaga {
  readonly setup: SagaSetup<any>;
  readonly executor: SagaExecutor;
}

/** Options of {@link ProcessRuntime.register}. */
export interface RegisterProcessOptions {
  /**
   * Categories whose events the process consumes (`$ce-<category>` subscriptions, one
   * checkpoint each). Events of types the registry does not know are reported as
   * unknown, so register every type these categories carry. Omit to subscribe to `$all`
   * filtered by the process's input event types instead.
   */
  readonly categories?: readonly string[];
}

/** Counters of one registered process (see {@link HostStats}). */
export type ProcessStats = Readonly<HostStats>;

/**
 * Runs the three authoring styles on one engine against an {@link EventStore}:
 * decorated process managers (`register(OrderFulfillment, ...)`), step workflows
 * (`register(fulfillOrder)`) and action sagas (`registerSaga(setup)` + `executeSaga`).
 * Category subscriptions with checkpoints, per-instance ordering with bounded concurrency,
 * the outbox relay and the in-process command bus, durable timers, quarantine. One
 * `start()` resumes every unfinished process instance, workflow run and saga run from its
 * stream; one `stop()` stops them all gracefully; one report list covers them all. A worker
 * killed at any moment resumes on the next start, with exactly-once effects per input.
 *
 * @example
 * ```ts
 * const registry = new MessageRegistry().register(...messages);
 * const runtime = new ProcessRuntime({ store, registry })
 *   .register(OrderFulfillment, { categories: ['order', 'payment', 'inventory', 'shipment'] })
 *   .registerCommandHandlers(new PaymentService(store, registry))
 *   .register(fulfillOrder)                       // a step workflow
 *   .registerSaga(fooBarBaz, { eventBus });       // an action saga
 * await runtime.start();
 * stopOnSignals(runtime);
 * await runtime.executeSaga(fooBarBaz, { input: { orderId: 'o1' } });
 * ```
 */
export class ProcessRuntime {
  /** The bus commands are delivered through; `registerCommandHandlers` adds to it. */
  readonly bus: CommandBus;
  private readonly hosts = new Map<string, ProcessHost>();
  private readonly workflows = new Map<string, WorkflowHost>();
  private readonly sagas = new Map<string, HostedSaga>();
  /** Saga runs being driven, by stream: `whenIdle` waits for them, `stop` lets them end. */
  private readonly sagaRuns = new Map<string, Promise<SagaResult>>();
  private readonly reportList: RuntimeReport[] = [];
  private readonly registry: MessageRegistry;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private state: 'idle' | 'running' | 'stopped' = 'idle';

  constructor(private readonly options: ProcessRuntimeOptions) {
    this.registry = options.registry ?? new MessageRegistry();
    this.bus = new CommandBus(this.registry);
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? consoleLogger;
  }

  /**
   * Adds a process manager class (validating its definition: one `DefinitionError` lists
   * every problem) or a step workflow made by `createWorkflow`. Call before {@link start}.
   */
  register(processClass: Class, options?: RegisterProcessOptions): this;
  register(workflow: Workflow<never, unknown>): this;
  register(target: Class | Workflow<never, unknown>, options: RegisterProcessOptions = {}): this {
    if (typeof target !== 'function') {
      if (!('fn' in target && 'triggerTypes' in target)) {
        throw new DefinitionError('runtime.register', [
          'expected a process manager class or a workflow from createWorkflow; register a saga with registerSaga(setup).',
        ]);
      }
      return this.registerWorkflow(target);
    }
    const processClass = target;
    this.checkIdle(`process ${processClass.name}`);
    const engine = new ProcessEngine(defineProcess(processClass, this.registry));
    const problems: string[] = [];
    this.checkName(engine.name, problems);
    for (const category of options.categories ?? []) {
      if (typeof category !== 'string' || category.length === 0 || category.includes('-')) {
        problems.push(`category '${String(category)}' must be a non-empty name without '-'.`);
      }
    }
    if (options.categories?.length === 0)
      problems.push('categories is empty; omit it to subscribe by event type.');
    if (problems.length > 0) throw new DefinitionError(`process ${processClass.name}`, problems);
    const o = this.options;
    this.hosts.set(
      engine.name,
      new ProcessHost(engine, {
        store: o.store,
        registry: this.registry,
        bus: this.bus,
        clock: this.clock,
        logger: this.logger,
        report: (report) => this.report({ ...report, owner: 'process' }),
        concurrency: o.concurrency ?? 64,
        relayConcurrency: o.relayConcurrency ?? 64,
        relayBacklog: o.relayBacklog ?? 16_384,
        relayCatchUpConcurrency: o.relayCatchUpConcurrency ?? 1,
        batchSize: o.batchSize ?? 256,
        checkpointEvery: o.checkpointEvery ?? 512,
        checkpointIntervalMs: o.checkpointIntervalMs ?? 1000,
        handlerAttempts: o.handlerAttempts ?? 3,
        conflictRetries: o.conflictRetries ?? 5,
        commandAttempts: o.commandAttempts ?? 8,
        backoff: o.backoff ?? { initialDelayMs: 50, maxDelayMs: 5000 },
        cacheSize: o.cacheSize ?? 100_000,
        categories: options.categories,
      }),
    );
    return this;
  }

  /**
   * Adds step workflows (`createWorkflow`): each trigger event starts a run in stream
   * `<workflowId>-<eventId>`. Same as `register(workflow)`. Call before {@link start}.
   */
  registerWorkflow(...workflows: readonly Workflow<never, unknown>[]): this {
    for (const workflow of workflows) {
      this.checkIdle(`workflow ${workflow.id}`);
      const problems: string[] = [];
      this.checkName(workflow.id, problems);
      if (problems.length > 0) throw new DefinitionError(`workflow ${workflow.id}`, problems);
      const o = this.options;
      this.workflows.set(
        workflow.id,
        new WorkflowHost(workflow, {
          store: o.store,
          clock: this.clock,
          logger: this.logger,
          retry: o.retry ?? {},
          concurrency: o.concurrency ?? 64,
          batchSize: o.batchSize ?? 256,
          checkpointIntervalMs: o.checkpointIntervalMs ?? 1000,
          cacheSize: o.cacheSize ?? 100_000,
          report: (report) => this.report(fromWorkflowReport(report)),
        }),
      );
    }
    return this;
  }

  /**
   * Adds an action saga (`defineSaga`), run with {@link executeSaga}. Its unfinished runs
   * are resumed on {@link start} (see `resumeSagas`). Call before {@link start}.
   */
  registerSaga<I>(setup: SagaSetup<I>, dependencies: SagaDependencies = {}): this {
    this.checkIdle(`saga ${setup.name}`);
    const problems: string[] = [];
    this.checkName(setup.name, problems);
    if (problems.length > 0) throw new DefinitionError(`saga ${setup.name}`, problems);
    const executor = new SagaExecutor({
      store: this.options.store,
      clock: this.clock,
      ...dependencies,
      onRecorded: (saga, sagaId, types) => this.sagaRecorded(saga, sagaId, types),
    });
    this.sagas.set(setup.name, { setup: setup as SagaSetup<any>, executor });
    return this;
  }

  /** Registers the `@CommandHandler` methods of a service instance on {@link bus}. */
  registerCommandHandlers(...services: object[]): this {
    for (const service of services) this.bus.registerHandlers(service);
    return this;
  }

  /**
   * Starts a saga registered with {@link registerSaga} (or continues the one with
   * `options.sagaId`) and runs it to its end on this worker.
   *
   * @returns the results when every action completed
   * @throws SagaFailedError when an action failed (after compensating)
   * @throws DefinitionError when the saga is not registered or the runtime is not running
   */
  executeSaga<I>(saga: SagaSetup<I> | string, options: ExecuteOptions<I> = {}): Promise<SagaResult> {
    const name = typeof saga === 'string' ? saga : saga.name;
    const hosted = this.saga(name);
    if (this.state !== 'running') {
      return Promise.reject(
        new DefinitionError(`saga ${name}`, ['start the runtime before executing sagas (runtime.start()).']),
      );
    }
    const sagaId = options.sagaId ?? randomUUID();
    return this.driveSaga(hosted, sagaId, () =>
      hosted.executor.execute(hosted.setup, { ...options, sagaId }),
    );
  }

  /**
   * Reads checkpoints, resumes every unfinished workflow run and saga run, and starts every
   * subscription.
   */
  async start(): Promise<void> {
    if (this.state === 'running') return;
    this.state = 'running';
    await Promise.all([
      ...[...this.hosts.values()].map((h) => h.start()),
      ...[...this.workflows.values()].map((h) => h.start()),
    ]);
    if (this.options.resumeSagas ?? true) {
      for (const hosted of this.sagas.values()) {
        for (const sagaId of await hosted.executor.unfinished(hosted.setup)) {
          // The outcome is reported (onReport); nobody awaits a resumed saga.
          this.driveSaga(hosted, sagaId, () => hosted.executor.resume(hosted.setup, sagaId)).catch(
            () => undefined,
          );
        }
      }
    }
  }

  /**
   * Graceful stop: takes no new work, finishes in-flight instances, workflow passes, saga
   * runs and deliveries, stores checkpoints. A saga in flight runs to its end (or to the
   * next crash-safe point, a retry delay included).
   */
  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopped';
    await Promise.all([
      ...[...this.hosts.values()].map((h) => h.stop()),
      ...[...this.workflows.values()].map((h) => h.stop()),
      ...[...this.sagaRuns.values()].map((run) => run.catch(() => undefined)),
    ]);
  }

  /**
   * Resolves once every subscription has caught up and nothing is queued, running or
   * being delivered: no workflow pass and no saga run in flight (quarantined instances,
   * timers not yet due and workflow runs waiting for an event excepted).
   *
   * @param timeoutMs rejects after this long. @default 30000
   */
  async whenIdle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let settled = this.sagaRuns.size === 0;
      for (const host of this.workflows.values()) if (!host.isSettled()) settled = false;
      for (const host of this.hosts.values()) if (!(await host.isSettled())) settled = false;
      if (settled) return;
      if (Date.now() > deadline) throw new Error(`The runtime was still busy after ${timeoutMs} ms.`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /**
   * Lifts the quarantine of `<name>-<id>` (a process instance, a workflow run or a saga)
   * and runs its held inputs (or the run) again.
   */
  release(name: string, id: string): Promise<ReleaseResult> {
    return this.lift(name, id, false);
  }

  /**
   * Lifts the quarantine, marking the input that caused it handled without running it. A
   * workflow's quarantine is a code problem of the run rather than of one input: skip lifts
   * it like release (recorded as skipped), and the run replays under the code deployed now.
   */
  skip(name: string, id: string): Promise<ReleaseResult> {
    return this.lift(name, id, true);
  }

  /**
   * The current state of a process instance (cached, or read from the store), or, given a
   * workflow or a saga definition, of one of its runs.
   */
  stateOf(processName: string, processId: string): Promise<ProcessState>;
  stateOf(workflow: Workflow<never, unknown>, runId: string): Promise<RunState>;
  stateOf(saga: SagaSetup<any>, sagaId: string): Promise<RunState>;
  stateOf(
    target: string | Workflow<never, unknown> | SagaSetup<any>,
    id: string,
  ): Promise<ProcessState | RunState> {
    if (typeof target !== 'string') return this.runStateOf('id' in target ? target.id : target.name, id);
    if (!this.hosts.has(target) && (this.workflows.has(target) || this.sagas.has(target))) {
      return Promise.reject(
        new DefinitionError(`process ${target}`, [
          `'${target}' is a ${this.workflows.has(target) ? 'workflow' : 'saga'}: use runStateOf('${target}', id) or stateOf(definition, id).`,
        ]),
      );
    }
    return this.host(target).stateOf(id);
  }

  /** The state of a workflow run or a saga run, by workflow id or saga name. */
  async runStateOf(name: string, runId: string): Promise<RunState> {
    const workflow = this.workflows.get(name);
    if (workflow) return workflow.stateOf(runId);
    this.saga(name);
    return replayRun(name, runId, await this.options.store.readStream(runStream(name, runId)));
  }

  /** Stores every subscription's safe checkpoint now. */
  async flushCheckpoints(): Promise<void> {
    await Promise.all([
      ...[...this.hosts.values()].map((h) => h.flushCheckpoints()),
      ...[...this.workflows.values()].map((h) => h.flushCheckpoints()),
    ]);
  }

  /** Counters of a registered process. */
  stats(processName: string): ProcessStats {
    return { ...this.host(processName).stats };
  }

  /** The most recent reports of every process, workflow and saga, oldest first. */
  get reports(): readonly RuntimeReport[] {
    return this.reportList;
  }

  private async lift(name: string, id: string, skip: boolean): Promise<ReleaseResult> {
    const workflow = this.workflows.get(name);
    if (workflow) return workflow.release(id, skip);
    if (this.sagas.has(name)) return releaseRun(this.options.store, name, id, skip);
    return this.host(name).release(id, skip);
  }

  private driveSaga(
    hosted: HostedSaga,
    sagaId: string,
    drive: () => Promise<SagaResult>,
  ): Promise<SagaResult> {
    const stream = runStream(hosted.setup.name, sagaId);
    const running = this.sagaRuns.get(stream);
    if (running) return running;
    const run = (async () => {
      try {
        return await drive();
      } catch (error) {
        // Outcomes (started, completed, compensated...) are reported as they are recorded.
        if (!(error instanceof SagaFailedError)) {
          this.report({
            owner: 'saga',
            kind: error instanceof ConcurrencyError ? 'conflict' : 'interrupted',
            processName: hosted.setup.name,
            processId: sagaId,
            stream,
            error,
            detail: `saga ${stream} stopped on an unexpected error; it resumes on the next start.`,
          });
        }
        throw error;
      } finally {
        this.sagaRuns.delete(stream);
      }
    })();
    this.sagaRuns.set(stream, run);
    return run;
  }

  private sagaRecorded(saga: string, sagaId: string, types: readonly string[]): void {
    const stream = runStream(saga, sagaId);
    for (const type of types) {
      const kind = SAGA_REPORTS[type];
      if (kind) {
        this.report({
          owner: 'saga',
          kind,
          processName: saga,
          processId: sagaId,
          stream,
          detail: `saga ${stream} ${kind}`,
        });
      }
    }
  }

  private checkIdle(what: string): void {
    if (this.state !== 'idle') throw new DefinitionError(what, ['register before runtime.start().']);
  }

  /** A name is a stream category: a process, a workflow and a saga cannot share one. */
  private checkName(name: string, problems: string[]): void {
    const owner = this.hosts.has(name)
      ? 'process'
      : this.workflows.has(name)
        ? 'workflow'
        : this.sagas.has(name)
          ? 'saga'
          : undefined;
    if (owner)
      problems.push(`a ${owner} named '${name}' is already registered (the name is its stream category).`);
  }

  private host(processName: string): ProcessHost {
    const host = this.hosts.get(processName);
    if (!host) {
      throw new DefinitionError(`process ${processName}`, [
        `nothing named '${processName}' is registered (registered: ${this.names().join(', ') || 'none'}).`,
      ]);
    }
    return host;
  }

  private saga(name: string): HostedSaga {
    const hosted = this.sagas.get(name);
    if (!hosted) {
      throw new DefinitionError(`saga ${name}`, [
        `no saga or workflow named '${name}' is registered (registered: ${this.names().join(', ') || 'none'}).`,
      ]);
    }
    return hosted;
  }

  private names(): string[] {
    return [...this.hosts.keys(), ...this.workflows.keys(), ...this.sagas.keys()];
  }

  private report(report: RuntimeReport): void {
    this.reportList.push(report);
    if (this.reportList.length > (this.options.reportsKept ?? 1000)) this.reportList.shift();
    const fields = {
      [report.owner ?? 'process']: report.processName,
      ...(report.processId === undefined ? {} : { id: report.processId }),
      ...(report.stream === undefined ? {} : { stream: report.stream, revision: report.revision }),
    };
    if (ERROR_REPORTS.has(report.kind)) this.logger.error(report.detail, fields);
    else if (WARN_REPORTS.has(report.kind)) this.logger.warn(report.detail, fields);
    else this.logger.info(report.detail, fields);
    this.options.onReport?.(report);
  }
}

const ERROR_REPORTS = new Set<RuntimeReport['kind']>([
  'rejected',
  'quarantined',
  'commandFailed',
  'compensationFailed',
  'interrupted',
]);
const WARN_REPORTS = new Set<RuntimeReport['kind']>(['ignored', 'conflict', 'handlerRetry']);

const SAGA_REPORTS: Readonly<Record<string, RuntimeReport['kind']>> = {
  [P.ProcessStarted]: 'started',
  [P.ProcessCompleted]: 'completed',
  [P.ProcessCompensated]: 'compensated',
  [P.ProcessCompensationFailed]: 'compensationFailed',
};

const WORKFLOW_DETAILS: Readonly<Record<WorkflowReport['kind'], string>> = {
  started: 'started',
  completed: 'completed',
  compensated: 'failed and was compensated',
  compensationFailed: 'failed and a compensation failed for good; an operator must step in',
  quarantined: 'is quarantined; fix the code, then release it',
  suspended: 'is waiting',
  queued: 'waits for the run holding its concurrency key',
  retry: 'pass was cut short and is retried',
};

function fromWorkflowReport(report: WorkflowReport): RuntimeReport {
  const stream = runStream(report.workflowId, report.runId);
  return {
    owner: 'workflow' satisfies ReportOwner,
    kind: report.kind,
    processName: report.workflowId,
    processId: report.runId,
    stream,
    ...(report.error === undefined ? {} : { error: report.error }),
    ...(report.wakeAt === undefined ? {} : { wakeAt: report.wakeAt }),
    detail: `workflow run ${stream} ${WORKFLOW_DETAILS[report.kind]}${
      report.error === undefined
        ? ''
        : `: ${report.error instanceof Error ? report.error.message : JSON.stringify(report.error)}`
    }`,
  };
}
