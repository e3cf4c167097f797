// The process-manager engine: definitions, the stream vocabulary, pure decisions.
export {
  ProcessEngine,
  type ProcessInput,
  type ProcessEvent,
  type Decision,
  type DecisionOutcome,
  type Route,
  type ReplayOptions,
  isSnapshotRecord,
  inputIdOf,
  failureInfo,
} from './process-engine';
export {
  defineProcess,
  type ProcessDefinition,
  type EventHandlerSpec,
  PROCESS_DEFAULTS,
} from './process-definition';
export { type ProcessContext, type CommandFailure, type TimeoutFired } from './process-context';
export {
  type ProcessState,
  type ProcessStatus,
  type ScheduledCommand,
  type CompensationStep,
  type PendingTimer,
  TERMINAL_STATUSES,
  isTerminal,
} from './process-state';
export {
  ProcessEventTypes,
  FRAMEWORK_EVENT_PREFIX,
  type ProcessEventType,
  type ProcessEventData,
  type SnapshotData,
  type ScheduledCommandData,
  type CompensationStepData,
  type SerializedCommand,
  type FailureInfo,
  type InputKind,
  isFrameworkEventType,
} from './process-events';
export { defineCommandHandlers, type CommandEnvelope, type BoundCommandHandler } from './command-handlers';
export { deterministicId } from './ids';
