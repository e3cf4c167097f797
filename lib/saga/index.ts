// Action sagas: named actions in sequence with compensating actions, progress in the store.
export { defineSaga } from './define-saga';
export type {
  AggregateRepository,
  CommandDispatcher,
  EventBus,
  SagaAction,
  SagaContext,
  SagaOptions,
  SagaSetup,
} from './define-saga';
export { SagaExecutor } from './saga-executor';
export type { ExecuteOptions, ResumedSaga, SagaExecutorOptions, SagaResult } from './saga-executor';
