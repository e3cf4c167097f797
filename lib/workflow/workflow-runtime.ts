import { ProcessRuntime } from '../runtime/process-runtime';
import type { RuntimeReport } from '../runtime/runtime-events';
import type { Clock } from '../runtime/clock';
import type { Logger } from '../runtime/logger';
import type { EventStore } from '../store/event-store';
import type { RetryPolicy, Workflow } from './create-workflow';
import type { WorkflowReport } from './workflow-host';

/** Options of {@link WorkflowRuntime}. @deprecated use `ProcessRuntimeOptions` */
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
 * A {@link ProcessRuntime} that hosts only step workflows and speaks in
 * {@link WorkflowReport}s. Kept so existing code goes on compiling; new code registers
 * workflows on the `ProcessRuntime` next to process managers and sagas.
 *
 * @deprecated Use `new ProcessRuntime({ store }).register(workflow)`: same engine, same
 * recovery, one report list and one `release`/`skip` for every authoring style.
 */
export class WorkflowRuntime {
  /** The runtime doing the work. */
  readonly runtime: ProcessRuntime;

  constructor(options: WorkflowRuntimeOptions) {
    const onReport = options.onReport;
    this.runtime = new ProcessRuntime({
      store: options.store,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...(options.retry === undefined ? {} : { retry: options.retry }),
      concurrency: options.concurrency ?? 16,
      ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
      ...(options.checkpointIntervalMs === undefined
        ? {}
        : { checkpointIntervalMs: options.checkpointIntervalMs }),
      ...(options.reportsKept === undefined ? {} : { reportsKept: options.reportsKept }),
      ...(onReport === undefined
        ? {}
        : {
            onReport: (report: RuntimeReport) => {
              const converted = toWorkflowReport(report);
              if (converted) onReport(converted);
            },
          }),
    });
  }

  /** Adds workflows; call before {@link start}. Throws a `DefinitionError` for a duplicate id. */
  register(...workflows: readonly Workflow<never, unknown>[]): this {
    this.runtime.registerWorkflow(...workflows);
    return this;
  }

  /** Resumes unfinished runs and starts the subscriptions. */
  start(): Promise<void> {
    return this.runtime.start();
  }

  /** Stops taking work; passes in flight finish and checkpoints are stored. The store stays open. */
  stop(): Promise<void> {
    return this.runtime.stop();
  }

  /** See `ProcessRuntime.whenIdle`. @param timeoutMs @default 30000 */
  whenIdle(timeoutMs = 30_000): Promise<void> {
    return this.runtime.whenIdle(timeoutMs);
  }

  /** Lifts the quarantine of run `<workflowId>-<runId>` (after fixing the code) and drives it again. */
  async release(workflowId: string, runId: string): Promise<void> {
    await this.runtime.release(workflowId, runId);
  }

  /** The most recent reports, oldest first. */
  get reports(): readonly WorkflowReport[] {
    return this.runtime.reports.flatMap((r) => toWorkflowReport(r) ?? []);
  }
}

function toWorkflowReport(report: RuntimeReport): WorkflowReport | undefined {
  if (report.owner !== 'workflow' || report.processId === undefined) return undefined;
  return {
    kind: report.kind as WorkflowReport['kind'],
    workflowId: report.processName,
    runId: report.processId,
    ...(report.error === undefined ? {} : { error: report.error }),
    ...(report.wakeAt === undefined ? {} : { wakeAt: report.wakeAt }),
  };
}

export type { WorkflowReport };
