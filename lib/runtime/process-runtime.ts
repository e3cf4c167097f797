import { DefinitionError } from '../errors';
import type { MessageRegistry } from '../messages';
import type { Class } from '../metadata';
import { defineProcess } from '../process/process-definition';
import { type Decision, ProcessEngine } from '../process/process-engine';
import type { ProcessState } from '../process/process-state';
import type { EventStore } from '../store/event-store';
import type { BackoffOptions } from './backoff';
import { type Clock, systemClock } from './clock';
import { CommandBus } from './command-bus';
import { type Logger, consoleLogger } from './logger';
import { type HostStats, ProcessHost } from './process-host';
import type { RuntimeReport } from './runtime-events';

/** Options of {@link ProcessRuntime}. */
export interface ProcessRuntimeOptions {
  readonly store: EventStore;
  /** Message classes of every input, own event and command (registered on the way by `register`). */
  readonly registry: MessageRegistry;
  /** Time for timeouts, handler contexts and retry backoff. @default systemClock */
  readonly clock?: Clock;
  /** @default consoleLogger (warnings and errors to stderr) */
  readonly logger?: Logger;
  /** Called for every {@link RuntimeReport} (rejected inputs, quarantines, command failures...). */
  readonly onReport?: (report: RuntimeReport) => void;
  /** Instances worked on at once, per process. @default 64 */
  readonly concurrency?: number;
  /** Commands delivered at once, per process. @default 64 */
  readonly relayConcurrency?: number;
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
  /** Instance states cached per process. @default 10000 */
  readonly cacheSize?: number;
  /** Reports kept in {@link ProcessRuntime.reports}. @default 1000 */
  readonly reportsKept?: number;
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
 * Runs process managers against an {@link EventStore}: category subscriptions with
 * checkpoints, per-instance ordering with bounded concurrency, the outbox relay and the
 * in-process command bus, durable timers, quarantine. A worker killed at any moment
 * resumes from its checkpoints on the next start, with exactly-once effects per input.
 *
 * @example
 * ```ts
 * const registry = new MessageRegistry().register(...messages);
 * const runtime = new ProcessRuntime({ store, registry })
 *   .register(OrderFulfillment, { categories: ['order', 'payment', 'inventory', 'shipment'] })
 *   .registerCommandHandlers(new PaymentService(store, registry));
 * await runtime.start();
 * stopOnSignals(runtime);
 * ```
 */
export class ProcessRuntime {
  /** The bus commands are delivered through; `registerCommandHandlers` adds to it. */
  readonly bus: CommandBus;
  private readonly hosts = new Map<string, ProcessHost>();
  private readonly reportList: RuntimeReport[] = [];
  private readonly clock: Clock;
  private readonly logger: Logger;
  private state: 'idle' | 'running' | 'stopped' = 'idle';

  constructor(private readonly options: ProcessRuntimeOptions) {
    this.bus = new CommandBus(options.registry);
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? consoleLogger;
  }

  /**
   * Adds a process manager class. Validates its definition and throws one
   * `DefinitionError` listing every problem. Call before {@link start}.
   */
  register(processClass: Class, options: RegisterProcessOptions = {}): this {
    if (this.state !== 'idle') {
      throw new DefinitionError(`process ${processClass.name}`, [
        'register processes before runtime.start().',
      ]);
    }
    const engine = new ProcessEngine(defineProcess(processClass, this.options.registry));
    const problems: string[] = [];
    if (this.hosts.has(engine.name)) problems.push(`a process named '${engine.name}' is already registered.`);
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
        registry: o.registry,
        bus: this.bus,
        clock: this.clock,
        logger: this.logger,
        report: (report) => this.report(report),
        concurrency: o.concurrency ?? 64,
        relayConcurrency: o.relayConcurrency ?? 64,
        batchSize: o.batchSize ?? 256,
        checkpointEvery: o.checkpointEvery ?? 512,
        checkpointIntervalMs: o.checkpointIntervalMs ?? 1000,
        handlerAttempts: o.handlerAttempts ?? 3,
        conflictRetries: o.conflictRetries ?? 5,
        commandAttempts: o.commandAttempts ?? 8,
        backoff: o.backoff ?? { initialDelayMs: 50, maxDelayMs: 5000 },
        cacheSize: o.cacheSize ?? 10_000,
        categories: options.categories,
      }),
    );
    return this;
  }

  /** Registers the `@CommandHandler` methods of a service instance on {@link bus}. */
  registerCommandHandlers(...services: object[]): this {
    for (const service of services) this.bus.registerHandlers(service);
    return this;
  }

  /** Reads checkpoints and starts every subscription. */
  async start(): Promise<void> {
    if (this.state === 'running') return;
    this.state = 'running';
    await Promise.all([...this.hosts.values()].map((h) => h.start()));
  }

  /** Graceful stop: takes no new work, finishes in-flight instances and deliveries, stores checkpoints. */
  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopped';
    await Promise.all([...this.hosts.values()].map((h) => h.stop()));
  }

  /**
   * Resolves once every subscription has caught up and nothing is queued, running or
   * being delivered (quarantined instances and timers not yet due excepted).
   *
   * @param timeoutMs rejects after this long. @default 30000
   */
  async whenIdle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let settled = true;
      for (const host of this.hosts.values()) if (!(await host.isSettled())) settled = false;
      if (settled) return;
      if (Date.now() > deadline) throw new Error(`The runtime was still busy after ${timeoutMs} ms.`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Lifts the quarantine of `<processName>-<processId>` and runs its held inputs again. */
  release(processName: string, processId: string): Promise<Decision> {
    return this.host(processName).release(processId, false);
  }

  /** Lifts the quarantine, marking the input that caused it handled without running it. */
  skip(processName: string, processId: string): Promise<Decision> {
    return this.host(processName).release(processId, true);
  }

  /** The current state of an instance (cached, or read from the store). */
  stateOf(processName: string, processId: string): Promise<ProcessState> {
    return this.host(processName).stateOf(processId);
  }

  /** Stores every subscription's safe checkpoint now. */
  async flushCheckpoints(): Promise<void> {
    await Promise.all([...this.hosts.values()].map((h) => h.flushCheckpoints()));
  }

  /** Counters of a registered process. */
  stats(processName: string): ProcessStats {
    return { ...this.host(processName).stats };
  }

  /** The most recent reports, oldest first. */
  get reports(): readonly RuntimeReport[] {
    return this.reportList;
  }

  private host(processName: string): ProcessHost {
    const host = this.hosts.get(processName);
    if (!host) {
      throw new DefinitionError(`process ${processName}`, [
        `no process named '${processName}' is registered (registered: ${[...this.hosts.keys()].join(', ') || 'none'}).`,
      ]);
    }
    return host;
  }

  private report(report: RuntimeReport): void {
    this.reportList.push(report);
    if (this.reportList.length > (this.options.reportsKept ?? 1000)) this.reportList.shift();
    const fields = {
      process: report.processName,
      ...(report.processId === undefined ? {} : { processId: report.processId }),
      ...(report.stream === undefined ? {} : { stream: report.stream, revision: report.revision }),
    };
    if (report.kind === 'rejected' || report.kind === 'quarantined' || report.kind === 'commandFailed') {
      this.logger.error(report.detail, fields);
    } else if (report.kind === 'ignored' || report.kind === 'conflict' || report.kind === 'handlerRetry') {
      this.logger.warn(report.detail, fields);
    } else this.logger.info(report.detail, fields);
    this.options.onReport?.(report);
  }
}
