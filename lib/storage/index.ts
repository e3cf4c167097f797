// lib/storage public surface: the EventLog engine and its contract types.
export { EventLog, categoryOf } from './event-log';
export type { EventLogStats } from './event-log';
export { TOMBSTONE_REVISION } from './types';
export type {
  ProposedEvent,
  StoredEvent,
  ResolvedEvent,
  ExpectedRevision,
  AppendResult,
  ReadDirection,
  ReadStreamOptions,
  ReadAllOptions,
  EventFilter,
  SubscriptionMessage,
  StreamSubscriptionOptions,
  AllSubscriptionOptions,
  LogSubscription,
  EventLogOptions,
} from './types';
