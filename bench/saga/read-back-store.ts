import type { EventStore, StoredEventRecord } from '../../lib/store/event-store';

/** One event as a peer keeps it, before it is shaped as a stored record. */
export interface PeerEvent {
  readonly type: string;
  readonly data: unknown;
  /** Where the event falls in the order's history (the outcome checker orders compensations by it). */
  readonly position: number | bigint;
}

/** A peer's event as the {@link StoredEventRecord} the sample's outcome checker reads. */
export function peerRecord(stream: string, revision: number, event: PeerEvent): StoredEventRecord {
  return {
    id: `${stream}@${revision}`,
    type: event.type,
    stream,
    revision: BigInt(revision),
    position: BigInt(event.position),
    data: event.data,
    isJson: true,
    metadata: {},
    rawData: new Uint8Array(),
    rawMetadata: new Uint8Array(),
    created: new Date(0),
  };
}

/**
 * An {@link EventStore} that can only read streams, for reading a peer's outcome back with
 * `samples/order-fulfillment/outcome.ts` (which only calls `readStream`). A peer that does
 * not keep EventStoreDB streams (Emmett's in-memory store, Restate's object state) shapes
 * what it kept as the sample's `order-`, `payment-`, `inventory-` and `shipment-` streams.
 */
export function readBackStore(read: (stream: string) => Promise<StoredEventRecord[]>): EventStore {
  const unsupported = (what: string) => () => {
    throw new Error(`readBackStore only reads streams; ${what} is not available.`);
  };
  return {
    readStream: (stream) => read(stream),
    append: unsupported('append'),
    subscribe: unsupported('subscribe'),
    readAll: unsupported('readAll'),
    deleteStream: unsupported('deleteStream'),
    tombstoneStream: unsupported('tombstoneStream'),
    setStreamMetadata: unsupported('setStreamMetadata'),
    getStreamMetadata: unsupported('getStreamMetadata'),
    readCheckpoint: unsupported('readCheckpoint'),
    writeCheckpoint: unsupported('writeCheckpoint'),
    close: () => Promise.resolve(),
  };
}
