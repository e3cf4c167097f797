/**
 * The `event_store.client.persistent_subscriptions.PersistentSubscriptions` service:
 * every method answers UNIMPLEMENTED with a message that names it. ServerFeatures does
 * not advertise them, so the client reports $all groups as unsupported by itself.
 */
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { PersistentSubscriptionsService } from '@eventstore/db-client/generated/persistent_grpc_pb';
import { unimplemented } from './unimplemented';

const REASON =
  'persistent subscriptions are not implemented in the embedded store. Use catch-up subscriptions ' +
  '(subscribeToStream / subscribeToAll), or run against a real EventStoreDB node.';

/** The PersistentSubscriptions service implementation. */
export function createPersistentSubscriptionsService(): UntypedServiceImplementation {
  const implementation: UntypedServiceImplementation = {};
  for (const [name, definition] of Object.entries(PersistentSubscriptionsService)) {
    implementation[name] = unimplemented(definition, REASON);
  }
  return implementation;
}
