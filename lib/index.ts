// sagastream public API. Named exports only, grouped by concern.

// errors
export {
  SagastreamError,
  WrongExpectedVersionError,
  StreamDeletedError,
  StreamNotFoundError,
  MaxAppendSizeExceededError,
  InvalidEventError,
  StoreLockedError,
  StoreUnavailableError,
  StoreClosedError,
  InvalidPositionError,
  InvalidFilterError,
  DefinitionError,
  UnknownEventTypeError,
  MalformedEventError,
  HandlerError,
  ConcurrencyError,
  CommandFailedError,
  NonRetryableError,
  ProcessQuarantinedError,
  NonDeterminismError,
  MissingDependencyError,
  StepFailedError,
  DuplicateStepError,
  SagaFailedError,
  CorrelationKeyConflictError,
  UnknownCorrelationKeyError,
  ProcessNotFoundError,
} from './errors';
export type { SagastreamErrorCode } from './errors';

// store port
export type {
  EventStore,
  EventToAppend,
  StoredEventRecord,
  ExpectedRevision,
  AppendOptions,
  AppendOutcome,
  ReadOptions,
  SubscriptionSource,
  SubscribeOptions,
  SubscriptionItem,
  SubscriptionBatch,
  StreamMetadata,
  ReadAllOptions,
} from './store/event-store';

// store adapters
export { LocalEventStore, EventStoreDbEventStore } from './store';
export type { LocalEventStoreOptions } from './store';

// embedded EventStoreDB-compatible server
export { startEventStore } from './server';
export type { EventStoreServerOptions, EmbeddedEventStore } from './server';

// messages
export {
  MessageRegistry,
  CORRELATION_ID,
  CAUSATION_ID,
  withCorrelation,
  correlationIdOf,
  causationIdOf,
} from './messages';
export type { DecodedEvent, MessageValidator, MessageRegistryOptions } from './messages';

// decorators
export {
  Event,
  Command,
  ProcessManager,
  StartedBy,
  On,
  Apply,
  OnTimeout,
  OnCommandFailed,
  CommandHandler,
} from './decorators';
export type { ProcessManagerOptions, ArrivalPolicy, ByKey, Correlation } from './metadata';

// process engine
export {
  defineProcess,
  defineCommandHandlers,
  ProcessEngine,
  ProcessEventTypes,
  isSnapshotRecord,
} from './process';
export type {
  ProcessContext,
  CommandFailure,
  TimeoutFired,
  ProcessState,
  ProcessStatus,
  ProcessInput,
  Decision,
  DecisionOutcome,
  ProcessEvent,
  ProcessDefinition,
  CommandEnvelope,
  FailureInfo,
} from './process';

// runtime
export {
  ProcessRuntime,
  CommandBus,
  stopOnSignals,
  ManualClock,
  systemClock,
  consoleLogger,
  verboseLogger,
  silentLogger,
  RuntimeEventTypes,
  rejectedStreamOf,
  keyStreamOf,
  CorrelationKeyEventTypes,
} from './runtime';
export type {
  ProcessRuntimeOptions,
  RegisterProcessOptions,
  ProcessStats,
  CommandHandlerFn,
  Clock,
  Logger,
  RuntimeReport,
  ReportOwner,
  SagaDependencies,
  ReleaseResult,
  BackoffOptions,
  Stoppable,
  StopOnSignalsOptions,
  KeyClaimedData,
} from './runtime';

// testing kit
export {
  given,
  AssertionError as FixtureAssertionError,
  ProcessFixture,
  timePasses,
  commandFails,
  commandSucceeds,
  testWorkflow,
  WorkflowFixture,
  VirtualClock,
  testSaga,
  SagaFixture,
  stepFails,
  stepSucceeds,
  compensationFails,
  WorkflowScenario,
  SagaScenario,
} from './testing';
export type {
  Expectation,
  WorkflowExpectation,
  WorkflowFixtureOptions,
  FixtureEvent,
  ExpectedPublishedEvent,
  SagaExpectation,
  SagaFixtureExecution,
  GivenWorkflowOptions,
  GivenSagaOptions,
  AnyFixture,
} from './testing';

// step workflows
export {
  createWorkflow,
  WorkflowRuntime,
  StepEventTypes,
  replayRun,
  runStream,
  leaseStream,
  releaseRun,
  runKindOf,
} from './workflow';
export type {
  Workflow,
  WorkflowOptions,
  WorkflowTrigger,
  WorkflowContext,
  WorkflowFunction,
  StepTools,
  StepContext,
  RetryPolicy,
  WaitForEventOptions,
  PublishedEvent,
  WorkflowEvent,
  RunState,
  RunStatus,
  WorkflowReport,
  WorkflowRuntimeOptions,
  StepEventData,
  RunRelease,
} from './workflow';

// action sagas
export { defineSaga, SagaExecutor, DEFAULT_SAGA_RETRY } from './saga';
export type {
  SagaSetup,
  SagaOptions,
  SagaAction,
  SagaContext,
  AggregateRepository,
  EventBus,
  CommandDispatcher,
  SagaExecutorOptions,
  ExecuteOptions,
  SagaResult,
  ResumedSaga,
  SagaRetryPolicy,
  SagaActionDefinition,
  ResolvedSagaRetry,
} from './saga';
