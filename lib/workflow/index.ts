// Step workflows: createWorkflow, the step tools, and the runtime that drives runs.
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
export { replayRun, runStream } from './run-state';
export type { RunState, RunStatus, WorkflowEvent } from './run-state';
export { StepEventTypes } from './step-events';
export type { StepEventData } from './step-events';
export { WorkflowRuntime } from './workflow-runtime';
export type { WorkflowReport, WorkflowRuntimeOptions } from './workflow-runtime';
