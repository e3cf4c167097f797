import { randomUUID } from 'node:crypto';
import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  START,
  StreamNotFoundError as ClientStreamNotFoundError,
  eventTypeFilter,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type EventData,
  type Filter,
  type Position,
  type ResolvedEvent,
} from '@eventstore/db-client';
import type { Readable } from 'node:stream';
import type { Observable } from 'rxjs';
import {
  InvalidEventError,
  StoreClosedError,
  StoreUnavailableError,
  WrongExpectedVersionError,
} from '../../errors';
import type {
  AppendOptions,
  AppendOutcome,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  ReadAllOptions,
  ReadOptions,
  StoredEventRecord,
  StreamMetadata,
  SubscribeOptions,
  SubscriptionBatch,
  SubscriptionItem,
  SubscriptionSource,
} from '../event-store';
import { CheckpointStreams } from '../checkpoint-streams';
import { fromMetadataJson, toMetadataJson } from '../stream-metadata';
import { mapClientError } from './client-errors';
import { readableBatches, type ClientSubscriptionHandle } from './readable-batches';
import { toStoredRecord } from './record-mapping';

const DEFAULT_BATCH_SIZE = 256;
const DEFAULT_READ_ALL_COUNT = 1000;
/** long.MaxValue: the `$tb` EventStoreDB writes for a soft-deleted stream. */

type AllFilter = Extract<SubscriptionSource, { all: true }>['filter'];

/**
 * The {@link EventStore} port on @eventstore/db-client: a real EventStoreDB/KurrentDB
 * node or cluster, or sagastream's embedded server.
 *
 * `$ce-<category>` streams need the server's `$by_category` projection (the embedded
 * server writes them itself; a real node needs `EVENTSTORE_RUN_PROJECTIONS=System` and
 * `EVENTSTORE_START_STANDARD_PROJECTIONS=true`), and they lag appends there.
 *
 * @example
 * const store = new EventStoreDbEventStore('esdb://127.0.0.1:2113?tls=false');
 * await store.append('order-1', [{ id: uuid(), type: 'OrderPlaced', data: { total: 10 } }], {
 *   expectedRevision: 'no_stream',
 * });
 * await store.close();
 */
export class EventStoreDbEventStore implements EventStore {
  /** The underlying client, for operations the port does not cover. */
  readonly client: EventStoreDBClient;
  private readonly ownsClient: boolean;
  private readonly stops = new Set<() => void>();
  private readonly checkpoints = new CheckpointStreams(this);
  private closed = false;

  /**
   * @param clientOrConnectionString a connection string (`esdb://host:2113?tls=false`),
   *   whose client {@link close} disposes, or a client the caller keeps owning.
   * @throws StoreUnavailableError when the connection string does not parse.
   */
  constructor(clientOrConnectionString: EventStoreDBClient | string) {
    if (typeof clientOrConnectionString === 'string') {
      try {
        this.client = EventStoreDBClient.connectionString(clientOrConnectionString);
      } catch (err) {
        throw new StoreUnavailableError(
          `Cannot use EventStoreDB connection string '${clientOrConnectionString}': ${
            err instanceof Error ? err.message : 'it does not parse'
          }. Expected e.g. esdb://127.0.0.1:2113?tls=false.`,
          { cause: err },
        );
      }
      this.ownsClient = true;
    } else {
      this.client = clientOrConnectionString;
      this.ownsClient = false;
    }
  }

  /** {@inheritDoc EventStore.append} */
  async append(
    stream: string,
    events: readonly EventToAppend[],
    options?: AppendOptions,
  ): Promise<AppendOutcome> {
    this.ensureOpen();
    const expectedRevision = options?.expectedRevision ?? 'any';
    // Events of one decision share one metadata record: serialise it once.
    let lastMetadata: unknown = toEventData;
    let bytes: Uint8Array | undefined;
    const eventData = events.map((event) => {
      if (event.metadata !== lastMetadata) {
        lastMetadata = event.metadata;
        bytes = event.metadata === undefined ? undefined : metadataBytes(stream, event);
      }
      return toEventData(stream, event, bytes);
    });
    try {
      const result = await this.client.appendToStream(stream, eventData, { expectedRevision });
      return { nextExpectedRevision: result.nextExpectedRevision, position: result.position?.commit ?? -1n };
    } catch (err) {
      throw mapClientError(err, { operation: 'append', stream, expected: expectedRevision });
    }
  }

  /** {@inheritDoc EventStore.readStream} */
  async readStream(stream: string, options?: ReadOptions): Promise<StoredEventRecord[]> {
    this.ensureOpen();
    const direction = options?.direction ?? 'forwards';
    const records: StoredEventRecord[] = [];
    try {
      const read = this.client.readStream(stream, {
        fromRevision: options?.fromRevision ?? (direction === 'backwards' ? END : START),
        direction: direction === 'backwards' ? BACKWARDS : FORWARDS,
        ...(options?.maxCount === undefined ? {} : { maxCount: options.maxCount }),
        resolveLinkTos: true,
      });
      await drain<ResolvedEvent>(read, (resolved) => {
        // A link whose target is gone carries nothing to read; subscriptions report it instead.
        if (resolved.event !== undefined) records.push(toStoredRecord(resolved.event, resolved.link));
      });
    } catch (err) {
      if (err instanceof ClientStreamNotFoundError) return [];
      throw mapClientError(err, { operation: 'read', stream });
    }
    return records;
  }

  /** {@inheritDoc EventStore.readAll} */
  async readAll(options?: ReadAllOptions): Promise<StoredEventRecord[]> {
    this.ensureOpen();
    const direction = options?.direction ?? 'forwards';
    const from = options?.fromPosition;
    const records: StoredEventRecord[] = [];
    try {
      const read = this.client.readAll({
        fromPosition:
          from === undefined ? (direction === 'backwards' ? END : START) : { commit: from, prepare: from },
        direction: direction === 'backwards' ? BACKWARDS : FORWARDS,
        maxCount: options?.maxCount ?? DEFAULT_READ_ALL_COUNT,
        resolveLinkTos: false,
      });
      await drain<AllStreamResolvedEvent>(read, (resolved) => {
        if (resolved.event !== undefined) records.push(toStoredRecord(resolved.event));
      });
    } catch (err) {
      throw mapClientError(err, {
        operation: 'read $all',
        ...(from === undefined ? {} : { position: from }),
      });
    }
    return records;
  }

  /** {@inheritDoc EventStore.subscribe} */
  subscribe(source: SubscriptionSource, options?: SubscribeOptions): Observable<SubscriptionBatch> {
    const batchSize = Math.max(1, options?.batchSize ?? DEFAULT_BATCH_SIZE);
    const from = options?.from;
    const track = (stop: () => void): (() => void) => {
      this.stops.add(stop);
      return () => this.stops.delete(stop);
    };
    if ('all' in source) {
      return readableBatches<AllStreamResolvedEvent>({
        open: (mark) => this.openAll(source.filter, from, batchSize, mark),
        batchSize,
        mapError: (err) => mapClientError(err, { operation: 'subscribe to $all' }),
        track,
      });
    }
    const stream = 'category' in source ? `$ce-${source.category}` : source.stream;
    return readableBatches<ResolvedEvent>({
      open: (mark) => this.openStream(stream, from, batchSize, mark),
      batchSize,
      mapError: (err) => mapClientError(err, { operation: 'subscribe', stream }),
      track,
    });
  }

  /** {@inheritDoc EventStore.deleteStream} */
  async deleteStream(stream: string, options?: AppendOptions): Promise<void> {
    this.ensureOpen();
    const expectedRevision = options?.expectedRevision ?? 'any';
    try {
      if (expectedRevision === 'stream_exists') {
        // The client's Delete request cannot carry stream_exists; check, then delete with any.
        const [last] = await this.readStream(stream, { direction: 'backwards', maxCount: 1 });
        if (last === undefined) throw new WrongExpectedVersionError(stream, expectedRevision, undefined);
        await this.client.deleteStream(stream, { expectedRevision: 'any' });
        return;
      }
      await this.client.deleteStream(stream, { expectedRevision });
    } catch (err) {
      throw mapClientError(err, { operation: 'delete', stream, expected: expectedRevision });
    }
  }

  /** {@inheritDoc EventStore.tombstoneStream} */
  async tombstoneStream(stream: string, options?: AppendOptions): Promise<void> {
    this.ensureOpen();
    const expectedRevision = options?.expectedRevision ?? 'any';
    try {
      // The client's types omit stream_exists for tombstones, but it sends it correctly.
      await this.client.tombstoneStream(stream, {
        expectedRevision: expectedRevision as Exclude<ExpectedRevision, 'stream_exists'>,
      });
    } catch (err) {
      throw mapClientError(err, { operation: 'tombstone', stream, expected: expectedRevision });
    }
  }

  /** {@inheritDoc EventStore.setStreamMetadata} */
  async setStreamMetadata(stream: string, metadata: StreamMetadata, options?: AppendOptions): Promise<void> {
    this.ensureOpen();
    const metastream = `$$${stream}`;
    const expectedRevision = options?.expectedRevision ?? 'any';
    const event = {
      id: randomUUID(),
      contentType: 'application/json',
      type: '$metadata',
      data: encodeStreamMetadata(metadata),
      metadata: undefined,
    } as EventData;
    try {
      await this.client.appendToStream(metastream, event, { expectedRevision });
    } catch (err) {
      // Errors about `$$x` are about `x` to the caller.
      throw mapClientError(err, { operation: 'set metadata', stream, expected: expectedRevision });
    }
  }

  /** {@inheritDoc EventStore.getStreamMetadata} */
  async getStreamMetadata(stream: string): Promise<StreamMetadata> {
    this.ensureOpen();
    let latest: ResolvedEvent | undefined;
    try {
      const read = this.client.readStream(`$$${stream}`, {
        fromRevision: END,
        direction: BACKWARDS,
        maxCount: 1,
      });
      await drain<ResolvedEvent>(read, (resolved) => {
        latest = resolved;
      });
    } catch (err) {
      if (err instanceof ClientStreamNotFoundError) return {};
      throw mapClientError(err, { operation: 'get metadata', stream });
    }
    const event = latest?.event;
    if (event === undefined || !event.isJson) return {};
    return fromMetadataJson(event.data);
  }

  /** {@inheritDoc EventStore.readCheckpoint} */
  async readCheckpoint(name: string): Promise<bigint | undefined> {
    return this.checkpoints.read(name);
  }

  /** {@inheritDoc EventStore.writeCheckpoint} */
  async writeCheckpoint(name: string, checkpoint: bigint): Promise<void> {
    return this.checkpoints.write(name, checkpoint);
  }

  /** {@inheritDoc EventStore.close} */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stop of [...this.stops]) stop();
    this.stops.clear();
    if (this.ownsClient) await this.client.dispose();
  }

  private openStream(
    stream: string,
    from: SubscribeOptions['from'],
    batchSize: number,
    mark: (item: SubscriptionItem) => void,
  ): ClientSubscriptionHandle<ResolvedEvent> {
    this.ensureOpen();
    const subscription = this.client.subscribeToStream(
      stream,
      { fromRevision: from ?? START, resolveLinkTos: true },
      { highWaterMark: batchSize },
    );
    subscription.on('caughtUp', () => mark({ kind: 'caughtUp' }));
    return {
      readable: subscription,
      unsubscribe: () => subscription.unsubscribe(),
      toItem: (resolved) => {
        // A link's own revision is the exact, exclusive resume point in `$ce-` streams.
        const original = resolved.link ?? resolved.event;
        if (original === undefined) return undefined;
        if (resolved.event === undefined) return { kind: 'unresolved', checkpoint: original.revision };
        return {
          kind: 'event',
          event: toStoredRecord(resolved.event, resolved.link),
          checkpoint: original.revision,
        };
      },
    };
  }

  private openAll(
    filter: AllFilter,
    from: SubscribeOptions['from'],
    batchSize: number,
    mark: (item: SubscriptionItem) => void,
  ): ClientSubscriptionHandle<AllStreamResolvedEvent> {
    this.ensureOpen();
    const { serverFilter, localMatch } = splitFilter(filter, (position) =>
      mark({ kind: 'checkpoint', checkpoint: position.commit }),
    );
    const subscription = this.client.subscribeToAll(
      {
        fromPosition: from === undefined ? START : from === 'end' ? END : { commit: from, prepare: from },
        resolveLinkTos: false,
        ...(serverFilter === undefined ? {} : { filter: serverFilter }),
      },
      { highWaterMark: batchSize },
    );
    subscription.on('caughtUp', () => mark({ kind: 'caughtUp' }));
    return {
      readable: subscription,
      unsubscribe: () => subscription.unsubscribe(),
      toItem: (resolved) => {
        const event = resolved.event;
        const checkpoint = resolved.commitPosition ?? event?.position.commit;
        if (checkpoint === undefined) return undefined;
        if (event === undefined) return { kind: 'unresolved', checkpoint };
        if (!localMatch(event.type)) return undefined;
        return { kind: 'event', event: toStoredRecord(event), checkpoint };
      },
    };
  }

  private ensureOpen(): void {
    if (this.closed) throw new StoreClosedError('The EventStoreDB event store');
  }
}

const encoder = new TextEncoder();

/**
 * Reads a client read stream to its end. Not `for await`: when that loop ends, Node
 * destroys the stream with an `AbortError` (its writable side has not finished yet) and
 * formats the error's stack, which cost more client CPU than the read itself.
 */
function drain<T>(read: Readable, onItem: (item: T) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    read.on('data', onItem);
    read.once('end', resolve);
    read.on('error', (err) => {
      read.destroy();
      reject(err);
    });
    // Destroyed without an error (the client disposed): fail rather than wait forever.
    read.once('close', () => reject(new Error('the read stream closed before its end')));
  });
}

/**
 * Port event -> client EventData: a `Uint8Array` is a binary event, anything else is
 * JSON. Metadata is always JSON (the port's metadata is a record).
 *
 * Each value is serialised once. Metadata is stringified by the caller (once per distinct
 * record in an append) and handed over as bytes (the client passes a `Uint8Array`
 * through). JSON data must go to the client as a value, which it stringifies itself, so
 * here it is only checked, by a walk that is far cheaper than a second stringify, for what would make that stringify throw or drop it:
 * the client serialises inside an un-awaited promise, where a throw would hang the append.
 */
function toEventData(stream: string, event: EventToAppend, metadata: Uint8Array | undefined): EventData {
  if (event.data instanceof Uint8Array) {
    return {
      id: event.id,
      contentType: 'application/octet-stream',
      type: event.type,
      data: event.data,
      metadata,
    };
  }
  try {
    checkJson(event.data, [], true);
  } catch (cause) {
    throw invalidEvent(stream, event, 'data', cause);
  }
  return {
    id: event.id,
    contentType: 'application/json',
    type: event.type,
    data: event.data,
    metadata,
  } as EventData;
}

/** The metadata's JSON text as UTF-8 bytes; InvalidEventError when JSON.stringify rejects it. */
function metadataBytes(stream: string, event: EventToAppend): Uint8Array {
  let text: string | undefined;
  let cause: unknown;
  try {
    text = JSON.stringify({ ...event.metadata });
  } catch (err) {
    cause = err;
  }
  if (text === undefined) throw invalidEvent(stream, event, 'metadata', cause);
  return encoder.encode(text);
}

/**
 * Throws where `JSON.stringify(value)` would throw (a bigint, a cycle, a throwing
 * `toJSON`) or, at the top, return undefined (undefined, a function, a symbol). Nested
 * values it would drop or turn into null are fine, as they are for JSON.stringify.
 */
function checkJson(value: unknown, ancestors: object[], top: boolean): void {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return;
    case 'bigint':
      throw new TypeError('Do not know how to serialize a BigInt');
    case 'object':
      if (value === null) return;
      break;
    default:
      if (top) throw new TypeError(`a top-level ${typeof value} has no JSON form`);
      return;
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return checkJson(toJSON.call(value, ''), ancestors, top);
  if (ancestors.includes(value)) throw new TypeError('Converting circular structure to JSON');
  ancestors.push(value);
  if (Array.isArray(value)) {
    for (const item of value) checkJson(item, ancestors, false);
  } else {
    for (const key in value) {
      if (Object.prototype.hasOwnProperty.call(value, key))
        checkJson((value as Record<string, unknown>)[key], ancestors, false);
    }
  }
  ancestors.pop();
}

function invalidEvent(stream: string, event: EventToAppend, what: string, cause: unknown): InvalidEventError {
  return new InvalidEventError(
    `Event '${event.id}' (${event.type}) for stream '${stream}' has ${what} that is not JSON-serialisable${
      cause instanceof Error ? `: ${cause.message}` : ''
    }. Pass plain JSON values or a Uint8Array.`,
    stream,
    { cause },
  );
}

/** Port metadata -> `$metadata` JSON; the client's JSON has no bigint, so revisions become numbers. */
function encodeStreamMetadata(metadata: StreamMetadata): Record<string, unknown> {
  const body = toMetadataJson(metadata);
  for (const [key, value] of Object.entries(body)) if (typeof value === 'bigint') body[key] = Number(value);
  return body;
}

/**
 * EventStoreDB filters on one thing (stream name or event type). The most selective
 * part of the port's filter goes to the server; the rest is applied here.
 */
function splitFilter(
  filter: AllFilter,
  onCheckpoint: (position: Position) => void,
): { serverFilter?: Filter; localMatch: (type: string) => boolean } {
  const streamPrefixes = filter?.streamNamePrefixes;
  const typePrefixes = filter?.eventTypePrefixes;
  const excludeSystem = filter?.excludeSystemEvents === true;
  const checkpointReached = (_subscription: unknown, position: Position): void => onCheckpoint(position);
  if (streamPrefixes !== undefined) {
    return {
      serverFilter: streamNameFilter({ prefixes: [...streamPrefixes], checkpointReached }),
      localMatch: (type) =>
        (!excludeSystem || !type.startsWith('$')) &&
        (typePrefixes === undefined || typePrefixes.some((prefix) => type.startsWith(prefix))),
    };
  }
  if (typePrefixes !== undefined || excludeSystem) {
    return {
      serverFilter: eventTypeFilter({
        regex: eventTypeRegex(typePrefixes, excludeSystem),
        checkpointReached,
      }),
      localMatch: () => true,
    };
  }
  return { localMatch: () => true };
}

/** One regex for "type has one of these prefixes, and (optionally) is not a system type". */
function eventTypeRegex(prefixes: readonly string[] | undefined, excludeSystem: boolean): string {
  const system = excludeSystem ? '(?=[^$])' : '';
  const anyPrefix =
    prefixes === undefined
      ? ''
      : `(?:${prefixes.map((prefix) => prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`;
  return `^${system}${anyPrefix}`;
}
