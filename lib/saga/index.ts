// Action sagas: named actions in sequence with compensating actions, progress in the store.
export { DEFAULT_SAGA_RETRY, defineSaga } from './define-saga';
export type {
  AggregateRepository,
  CommandDispatcher,
  EventBus,
  ResolvedSagaRetry,
  SagaAction,
  SagaActionDefinition,
  SagaContext,
  SagaOptions,
  SagaRetryPolicy,
  SagaSetup,
} from './define-saga';
export { SagaExecutor } from './saga-executor';
export type { ExecuteOptions, ResumedSaga, SagaExecutorOptions, SagaResult } from './saga-executor';
