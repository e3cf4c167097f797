// The testing kit: given/when/then for process managers, with virtual time.
export {
  given,
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
