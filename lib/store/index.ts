// The event store port and its two adapters.
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
} from './event-store';
export { LocalEventStore } from './local/local-event-store';
export type { LocalEventStoreOptions } from './local/local-event-store';
export { EventStoreDbEventStore } from './eventstoredb/eventstoredb-event-store';
