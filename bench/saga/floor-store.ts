// The few store operations the hand-written floor saga (floor-saga.ts) needs, and the two
// stores it runs on: `@eventstore/db-client` to a server (back-end B, variant `floor`) and
// the framework's EventStore port, e.g. `LocalEventStore({ memory: true })` in process
// (back-end A, variant `floor-a`). The saga does the same appends, reads and
// subscriptions on either; only the calls underneath differ.
import { randomUUID } from 'node:crypto';
import {
  type AppendExpectedRevision,
  type EventStoreDBClient,
  type ResolvedEvent,
  START,
  StreamNotFoundError,
  WrongExpectedVersionError as ClientWrongExpectedVersionError,
  jsonEvent,
} from '@eventstore/db-client';
import { WrongExpectedVersionError } from '../../lib/errors';
import type { EventStore } from '../../lib/store/event-store';

/** JSON data or metadata. */
export type FloorData = Record<string, unknown>;

/** An event the floor appends; `id` defaults to a random UUID. */
export interface FloorEvent {
  readonly type: string;
  readonly data: FloorData;
  readonly metadata: FloorData;
  readonly id?: string | undefined;
}

/** The revision and metadata of one event read back from a stream. */
export interface FloorRead {
  readonly revision: bigint;
  readonly metadata: FloorData;
}

/** An event delivered by a category subscription; `position` is its place in `$ce-<category>`. */
export interface FloorDelivery {
  readonly type: string;
  readonly id: string;
  readonly stream: string;
  readonly revision: bigint;
  readonly position: bigint;
  readonly data: FloorData;
}

/** What the floor saga asks of a store. */
export interface FloorStore {
  /** Appends atomically; `undefined` when the stream is not at `expected` (the caller retries or fails). */
  append(
    stream: string,
    events: readonly FloorEvent[],
    expected: 'no_stream' | bigint | 'any',
  ): Promise<bigint | undefined>;
  /** Every event of a stream from the start; `[]` when it does not exist. */
  read(stream: string): Promise<readonly FloorRead[]>;
  /** Catch-up then live `$ce-<category>`, links resolved, each event handed over as it arrives. */
  subscribeToCategory(
    category: string,
    onEvent: (event: FloorDelivery) => void,
    onError: (error: unknown) => void,
  ): { unsubscribe(): Promise<void> };
  setMaxCount(stream: string, maxCount: number): Promise<void>;
}

/** Back-end B: the floor on `@eventstore/db-client`. */
export function clientFloorStore(client: EventStoreDBClient): FloorStore {
  return {
    async append(stream, events, expected) {
      try {
        const result = await client.appendToStream(
          stream,
          events.map((e) =>
            jsonEvent({ id: e.id ?? randomUUID(), type: e.type, data: e.data, metadata: e.metadata }),
          ),
          { expectedRevision: expected as AppendExpectedRevision },
        );
        return result.nextExpectedRevision;
      } catch (error) {
        if (error instanceof ClientWrongExpectedVersionError) return undefined;
        throw error;
      }
    },
    read(stream) {
      // Not `for await`: ending that loop destroys the read stream with an AbortError whose
      // stack Node formats, costing more client CPU than the read (as EventStoreDbEventStore
      // avoids it too); a careful hand-written floor drains the stream with listeners.
      return new Promise<readonly FloorRead[]>((resolve, reject) => {
        const events: FloorRead[] = [];
        const read = client.readStream(stream, { fromRevision: START });
        read.on('data', (resolved: ResolvedEvent) => {
          const event = resolved.event;
          if (event) events.push({ revision: event.revision, metadata: (event.metadata ?? {}) as FloorData });
        });
        read.once('end', () => resolve(events));
        read.on('error', (error) => {
          read.destroy();
          if (error instanceof StreamNotFoundError) resolve([]);
          else reject(error);
        });
      });
    },
    subscribeToCategory(category, onEvent, onError) {
      const subscription = client.subscribeToStream(`$ce-${category}`, {
        fromRevision: START,
        resolveLinkTos: true,
      });
      subscription.on('data', (resolved: ResolvedEvent) => {
        const event = resolved.event;
        const position = resolved.link?.revision ?? event?.revision;
        if (event === undefined || position === undefined) return;
        onEvent({
          type: event.type,
          id: event.id,
          stream: event.streamId,
          revision: event.revision,
          position,
          data: event.data as FloorData,
        });
      });
      subscription.on('error', onError);
      return subscription;
    },
    async setMaxCount(stream, maxCount) {
      await client.setStreamMetadata(stream, { maxCount });
    },
  };
}

/**
 * Back-end A (or any adapter): the floor on the framework's EventStore port. Each
 * subscription batch is acknowledged as soon as its events are handed over, so delivery is
 * as unbounded as the client's stream on back-end B.
 */
export function portFloorStore(store: EventStore): FloorStore {
  return {
    async append(stream, events, expected) {
      try {
        const outcome = await store.append(
          stream,
          events.map((e) => ({ id: e.id ?? randomUUID(), type: e.type, data: e.data, metadata: e.metadata })),
          { expectedRevision: expected },
        );
        return outcome.nextExpectedRevision;
      } catch (error) {
        if (error instanceof WrongExpectedVersionError) return undefined;
        throw error;
      }
    },
    async read(stream) {
      return (await store.readStream(stream)).map((e) => ({ revision: e.revision, metadata: e.metadata }));
    },
    subscribeToCategory(category, onEvent, onError) {
      const subscription = store.subscribe({ category }).subscribe({
        next: (batch) => {
          for (const item of batch.items) {
            if (item.kind !== 'event') continue;
            const e = item.event;
            onEvent({
              type: e.type,
              id: e.id,
              stream: e.stream,
              revision: e.revision,
              position: item.checkpoint,
              data: e.data as FloorData,
            });
          }
          batch.ack();
        },
        error: onError,
      });
      return {
        unsubscribe: () => {
          subscription.unsubscribe();
          return Promise.resolve();
        },
      };
    },
    async setMaxCount(stream, maxCount) {
      await store.setStreamMetadata(stream, { maxCount });
    },
  };
}
