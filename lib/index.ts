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
