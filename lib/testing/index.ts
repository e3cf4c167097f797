// The testing kit: given/when/then for process managers, step workflows and action sagas, with virtual time.
export {
  given,
  stepFails,
  stepSucceeds,
  compensationFails,
  WorkflowScenario,
  SagaScenario,
  type GivenWorkflowOptions,
  type GivenSagaOptions,
} from './given';
export {
  AssertionError,
  ProcessFixture,
  FixtureStep,
  timePasses,
  commandFails,
  commandSucceeds,
  type Expectation,
  type ExpectedTimeout,
  type GivenOptions,
  type DeliveryOptions,
  type FixtureStreamEvent,
  type AnyFixture,
} from './process-fixture';
export {
  testWorkflow,
  WorkflowFixture,
  VirtualClock,
  type WorkflowExpectation,
  type WorkflowFixtureOptions,
  type FixtureEvent,
  type ExpectedPublishedEvent,
} from './workflow-fixture';
export { testSaga, SagaFixture, type SagaExpectation, type SagaFixtureExecution } from './saga-fixture';
