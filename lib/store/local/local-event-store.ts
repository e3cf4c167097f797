import { randomUUID } from 'node:crypto';
import type { Observable } from 'rxjs';
import { StoreClosedError, StreamNotFoundError } from '../../errors';
import { EventLog } from '../../storage/event-log';
import type {
  EventFilter,
  EventLogOptions,
  ResolvedEvent,
  StoredEvent,
  SubscriptionMessage,
} from '../../storage/types';
import type {
  AppendOptions,
  AppendOutcome,
  EventStore,
  EventToAppend,
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
import { pullBatches } from './pull-batches';
import { decodeRecord, decodeStreamMetadata, encodeEvent, encodeStreamMetadata } from './record-codec';

/** Options for {@link LocalEventStore.open}: those of the storage engine's `EventLog`. */
export type LocalEventStoreOptions = EventLogOptions;

const DEFAULT_BATCH_SIZE = 256;
const DEFAULT_READ_ALL_COUNT = 1000;
/** Filtered $all subscriptions report progress this often (EventStoreDB's 1 x 32). */
const FILTER_CHECKPOINT_INTERVAL = 32;

/**
 * The {@link EventStore} port on the storage engine, in-process: no network, no
 * serialisation beyond JSON, the same semantics as EventStoreDB (the contract suite
 * runs against both).
 *
 * @example
 * const store = await LocalEventStore.open({ memory: true });
 * await store.append('order-1', [{ id: uuid(), type: 'OrderPlaced', data: { total: 10 } }]);
 * const events = await store.readStream('order-1');
 * await store.close();
 */
export class LocalEventStore implements EventStore {
  private readonly stops = new Set<() => void>();
  private readonly checkpoints = new CheckpointStreams(this);
  private closed = false;

  /**
   * Wraps an open log. The caller keeps ownership: {@link close} ends this store's
   * subscriptions but leaves the log open, unless `ownsLog` is true.
   */
  constructor(
    private readonly log: EventLog,
    private readonly ownsLog = false,
  ) {}

  /**
   * Opens a log (a directory, or memory only) and wraps it; {@link close} closes both.
   *
   * @throws StoreLockedError when another process holds the directory.
   * @throws StoreUnavailableError when the directory cannot be opened.
   */
  static async open(options: LocalEventStoreOptions): Promise<LocalEventStore> {
    return new LocalEventStore(await EventLog.open(options), true);
  }

  /** {@inheritDoc EventStore.append} */
  async append(
    stream: string,
    events: readonly EventToAppend[],
    options?: AppendOptions,
  ): Promise<AppendOutcome> {
    this.ensureOpen();
    const proposed = events.map((event) => encodeEvent(stream, event));
    const result = await this.log.append(stream, options?.expectedRevision ?? 'any', proposed);
    return { nextExpectedRevision: result.nextRevision, position: result.position };
  }

  /** {@inheritDoc EventStore.readStream} */
  async readStream(stream: string, options?: ReadOptions): Promise<StoredEventRecord[]> {
    this.ensureOpen();
    // A missing stream is a normal answer here (every process and service starts with one),
    // so ask without building a StreamNotFoundError and its stack.
    const resolved = this.log.tryReadStream(stream, {
      from: options?.fromRevision ?? (options?.direction === 'backwards' ? 'end' : 'start'),
      direction: options?.direction ?? 'forwards',
      ...(options?.maxCount === undefined ? {} : { maxCount: options.maxCount }),
      resolveLinks: true,
    });
    if (resolved === undefined) return [];
    const records: StoredEventRecord[] = [];
    for (const entry of resolved) {
      // A link whose target is gone carries nothing to read; subscriptions report it instead.
      if (entry.event !== undefined) records.push(decodeRecord(entry.event, entry.link));
    }
    return records;
  }

  /** {@inheritDoc EventStore.readAll} */
  async readAll(options?: ReadAllOptions): Promise<StoredEventRecord[]> {
    this.ensureOpen();
    const direction = options?.direction ?? 'forwards';
    const resolved = this.log.readAll({
      from: options?.fromPosition ?? (direction === 'backwards' ? 'end' : 'start'),
      direction,
      maxCount: options?.maxCount ?? DEFAULT_READ_ALL_COUNT,
      resolveLinks: false,
    });
    const records: StoredEventRecord[] = [];
    for (const entry of resolved) {
      if (entry.event !== undefined) records.push(decodeRecord(entry.event));
    }
    return records;
  }

  /** {@inheritDoc EventStore.subscribe} */
  subscribe(source: SubscriptionSource, options?: SubscribeOptions): Observable<SubscriptionBatch> {
    const batchSize = Math.max(1, options?.batchSize ?? DEFAULT_BATCH_SIZE);
    const from = options?.from ?? 'start';
    const track = (stop: () => void): (() => void) => {
      this.stops.add(stop);
      return () => this.stops.delete(stop);
    };
    const mapError = (err: unknown): unknown => err;

    if ('all' in source) {
      const { serverFilter, localMatch } = splitFilter(source.filter);
      return pullBatches({
        open: () => {
          this.ensureOpen();
          return this.log.subscribeToAll({
            from,
            resolveLinks: false,
            ...(serverFilter === undefined ? {} : { filter: serverFilter }),
          });
        },
        toItem: (message) => allItem(message, localMatch),
        batchSize,
        mapError,
        track,
      });
    }
    const stream = 'category' in source ? `$ce-${source.category}` : source.stream;
    return pullBatches({
      open: () => {
        this.ensureOpen();
        return this.log.subscribeToStream(stream, { from, resolveLinks: true });
      },
      toItem: streamItem,
      batchSize,
      mapError,
      track,
    });
  }

  /** {@inheritDoc EventStore.deleteStream} */
  async deleteStream(stream: string, options?: AppendOptions): Promise<void> {
    this.ensureOpen();
    await this.log.deleteStream(stream, options?.expectedRevision ?? 'any');
  }

  /** {@inheritDoc EventStore.tombstoneStream} */
  async tombstoneStream(stream: string, options?: AppendOptions): Promise<void> {
    this.ensureOpen();
    await this.log.tombstoneStream(stream, options?.expectedRevision ?? 'any');
  }

  /** {@inheritDoc EventStore.setStreamMetadata} */
  async setStreamMetadata(stream: string, metadata: StreamMetadata, options?: AppendOptions): Promise<void> {
    this.ensureOpen();
    await this.log.append(`$$${stream}`, options?.expectedRevision ?? 'any', [
      {
        id: randomId(),
        type: '$metadata',
        isJson: true,
        data: encodeStreamMetadata(metadata),
        metadata: new Uint8Array(0),
      },
    ]);
  }

  /** {@inheritDoc EventStore.getStreamMetadata} */
  async getStreamMetadata(stream: string): Promise<StreamMetadata> {
    this.ensureOpen();
    let latest: ResolvedEvent | undefined;
    try {
      [latest] = this.log.readStream(`$$${stream}`, { from: 'end', direction: 'backwards', maxCount: 1 });
    } catch (err) {
      if (err instanceof StreamNotFoundError) return {};
      throw err;
    }
    const event = latest?.event;
    if (event === undefined || !event.isJson) return {};
    return decodeStreamMetadata(event.data);
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
    if (this.ownsLog) await this.log.close();
  }

  private ensureOpen(): void {
    if (this.closed) throw new StoreClosedError('The local event store');
  }
}

function randomId(): string {
  return randomUUID();
}

/** A stream or `$ce-` subscription message as a port item (checkpoints are revisions). */
function streamItem(message: SubscriptionMessage): SubscriptionItem | undefined {
  switch (message.kind) {
    case 'caughtUp':
      return { kind: 'caughtUp' };
    case 'checkpoint':
      return undefined;
    case 'event': {
      const { event, link } = message.event;
      // A link's own revision is the exact, exclusive resume point in `$ce-` streams.
      const checkpoint = (link ?? event)?.revision;
      if (checkpoint === undefined) return undefined;
      if (event === undefined) return { kind: 'unresolved', checkpoint };
      return { kind: 'event', event: decodeRecord(event, link), checkpoint };
    }
  }
}

/** A `$all` subscription message as a port item (checkpoints are commit positions). */
function allItem(
  message: SubscriptionMessage,
  localMatch: (event: StoredEvent) => boolean,
): SubscriptionItem | undefined {
  switch (message.kind) {
    case 'caughtUp':
      return { kind: 'caughtUp' };
    case 'checkpoint':
      return { kind: 'checkpoint', checkpoint: message.position };
    case 'event': {
      const { event, position } = message.event;
      if (event === undefined) return { kind: 'unresolved', checkpoint: position };
      if (!localMatch(event)) return undefined;
      return { kind: 'event', event: decodeRecord(event), checkpoint: position };
    }
  }
}

type AllFilter = Extract<SubscriptionSource, { all: true }>['filter'];

/**
 * The log filters on one thing (stream name or event type), as EventStoreDB does. The
 * most selective part of the port's filter goes to the log; the rest is applied here.
 */
function splitFilter(filter: AllFilter): {
  serverFilter?: EventFilter;
  localMatch: (event: StoredEvent) => boolean;
} {
  const streamPrefixes = filter?.streamNamePrefixes;
  const typePrefixes = filter?.eventTypePrefixes;
  const excludeSystem = filter?.excludeSystemEvents === true;
  const matchesType = (type: string): boolean =>
    (!excludeSystem || !type.startsWith('$')) &&
    (typePrefixes === undefined || typePrefixes.some((prefix) => type.startsWith(prefix)));

  if (streamPrefixes !== undefined) {
    return {
      serverFilter: {
        on: 'streamName',
        prefixes: streamPrefixes,
        checkpointInterval: FILTER_CHECKPOINT_INTERVAL,
      },
      localMatch: (event) => matchesType(event.type),
    };
  }
  if (typePrefixes !== undefined || excludeSystem) {
    return {
      serverFilter: {
        on: 'eventType',
        regex: eventTypeRegex(typePrefixes, excludeSystem),
        checkpointInterval: FILTER_CHECKPOINT_INTERVAL,
      },
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
