import { DefinitionError } from '../errors';
import { type Clock, systemClock } from '../runtime/clock';
import { type Logger, consoleLogger } from '../runtime/logger';
import type { EventStore } from '../store/event-store';
import type { RetryPolicy, Workflow } from './create-workflow';
import { WorkflowHost, type WorkflowReport } from './workflow-host';

/** Options of {@link WorkflowRuntime}. */
export interface WorkflowRuntimeOptions {
  readonly store: EventStore;
  /** Drives sleeps, wait timeouts and retry delays. @default systemClock */
  readonly clock?: Clock;
  /** @default consoleLogger */
  readonly logger?: Logger;
  /** Called with every report (also kept in {@link WorkflowRuntime.reports}). */
  readonly onReport?: (report: WorkflowReport) => void;
  /** Default retry policy of steps and compensations; a workflow's `retry` overrides it. @default 3 attempts, 1 s to 60 s backoff */
  readonly retry?: RetryPolicy;
  /** Runs worked on at once, per workflow. @default 16 */
  readonly concurrency?: number;
  /** Events per subscription page. @default 256 */
  readonly batchSize?: number;
  /** How often subscription checkpoints are stored, in ms. @default 1000 */
  readonly checkpointIntervalMs?: number;
  /** Reports kept in memory. @default 1000 */
  readonly reportsKept?: number;
}

/**
 * Runs step workflows: subscribes to their trigger and awaited event types, starts one run
 * per trigger event (stream `<workflowId>-<eventId>`), drives each run until it waits or
 * ends, and wakes sleeping runs on the clock. On start it resumes every unfinished run from
 * its stream, so a worker killed at any point loses nothing: it replays and goes on.
 *
 * @example
 * ```ts
 * const store = await LocalEventStore.open({ dir: '.sagastream/db' });
 * const runtime = new WorkflowRuntime({ store }).register(fulfillOrder);
 * await runtime.start();
 * // ... on shutdown:
 * await runtime.stop();
 * ```
 */
export class WorkflowRuntime {
  private readonly hosts = new Map<string, WorkflowHost>();
  private readonly reportList: WorkflowReport[] = [];
  private started = false;

  constructor(private readonly options: WorkflowRuntimeOptions) {}

  /** Adds workflows; call before {@link start}. Throws a `DefinitionError` for a duplicate id. */
  register(...workflows: readonly Workflow<never, unknown>[]): this {
    const problems: string[] = [];
    for (const workflow of workflows) {
      if (this.hosts.has(workflow.id)) problems.push(`workflow '${workflow.id}' is registered twice.`);
      else if (this.started) problems.push(`workflow '${workflow.id}' was registered after start().`);
      else {
        this.hosts.set(
          workflow.id,
          new WorkflowHost(workflow, {
            store: this.options.store,
            clock: this.options.clock ?? systemClock,
            logger: this.options.logger ?? consoleLogger,
            retry: this.options.retry ?? {},
            concurrency: this.options.concurrency ?? 16,
            batchSize: this.options.batchSize ?? 256,
            checkpointIntervalMs: this.options.checkpointIntervalMs ?? 1000,
            report: (report) => this.report(report),
          }),
        );
      }
    }
    if (problems.length > 0) throw new DefinitionError('workflow runtime', problems);
    return this;
  }

  /** Resumes unfinished runs and starts the subscriptions. */
  async start(): Promise<void> {
    this.started = true;
    await Promise.all([...this.hosts.values()].map((host) => host.start()));
  }

  /** Stops taking work; passes in flight finish and checkpoints are stored. The store stays open. */
  async stop(): Promise<void> {
    await Promise.all([...this.hosts.values()].map((host) => host.stop()));
    this.started = false;
  }

  /**
   * Resolves once every subscription has caught up and no pass is queued or running
   * (runs waiting on a timer or an event count as idle).
   *
   * @param timeoutMs rejects after this long. @default 30000
   */
  async whenIdle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if ([...this.hosts.values()].every((host) => host.isSettled())) return;
      if (Date.now() > deadline)
        throw new Error(`The workflow runtime was still busy after ${timeoutMs} ms.`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Lifts the quarantine of run `<workflowId>-<runId>` (after fixing the code) and drives it again. */
  async release(workflowId: string, runId: string): Promise<void> {
    const host = this.hosts.get(workflowId);
    if (!host) throw new DefinitionError('workflow runtime', [`workflow '${workflowId}' is not registered.`]);
    await host.release(runId);
  }

  /** The most recent reports, oldest first. */
  get reports(): readonly WorkflowReport[] {
    return this.reportList;
  }

  private report(report: WorkflowReport): void {
    this.reportList.push(report);
    if (this.reportList.length > (this.options.reportsKept ?? 1000)) this.reportList.shift();
    this.options.onReport?.(report);
  }
}

export type { WorkflowReport };
