// Step workflows: createWorkflow, the step tools, run state and release (ProcessRuntime hosts them).
export { leaseStream } from './concurrency-lease';
export { createWorkflow } from './create-workflow';
export type {
  PublishedEvent,
  RetryPolicy,
  StepContext,
  StepTools,
  WaitForEventOptions,
  Workflow,
  WorkflowContext,
  WorkflowFunction,
  WorkflowOptions,
  WorkflowTrigger,
} from './create-workflow';
export { replayRun, runStream, runKindOf } from './run-state';
export { releaseRun } from './run-release';
export type { RunRelease } from './run-release';
export type { RunState, RunStatus, WorkflowEvent } from './run-state';
export { StepEventTypes } from './step-events';
export type { StepEventData } from './step-events';
export { WorkflowRuntime } from './workflow-runtime';
export type { WorkflowReport, WorkflowRuntimeOptions } from './workflow-runtime';
