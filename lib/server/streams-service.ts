/**
 * The `event_store.client.streams.Streams` service: Read, Append, BatchAppend,
 * Delete and Tombstone on the storage engine.
 */
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { ServerContext } from './server-context';
import { createAppendHandler } from './streams/append';
import { createBatchAppendHandler } from './streams/batch-append';
import { createDeleteHandler, createTombstoneHandler } from './streams/delete';
import { createReadHandler } from './streams/read';

/**
 * The Streams service implementation, keyed as the generated definition expects.
 *
 * @param context shared server state
 */
export function createStreamsService(context: ServerContext): UntypedServiceImplementation {
  return {
    read: createReadHandler(context),
    append: createAppendHandler(context),
    batchAppend: createBatchAppendHandler(context),
    delete: createDeleteHandler(context),
    tombstone: createTombstoneHandler(context),
  };
}
