import { tap } from 'rxjs';
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
  SubscriptionSource,
} from '../../lib/store/event-store';

/** Store operations by `<operation>:<kind>`, e.g. `append:process`, `subscriptionEvents:$ce-order`. */
export type OpCounts = Record<string, number>;

/** Options of {@link CountingEventStore}. */
export interface CountingEventStoreOptions {
  /** Names the kind of a stream for the counters (`process`, `domain`...). @default the stream's category */
  readonly classify?: (stream: string) => string;
  /** Called after every successful append, with what was appended. */
  readonly onAppended?: (stream: string, events: readonly EventToAppend[]) => void;
}

interface StreamKeys {
  readonly append: string;
  readonly appendEvents: string;
  readonly appendFailed: string;
  readonly read: string;
  readonly readEvents: string;
}

function categoryOf(stream: string): string {
  const dash = stream.indexOf('-');
  return dash < 0 ? stream : stream.slice(0, dash);
}

function sourceLabel(source: SubscriptionSource): string {
  if ('all' in source) return '$all';
  if ('category' in source) return `$ce-${source.category}`;
  return source.stream;
}

/**
 * An {@link EventStore} decorator that counts every operation by kind: appends (calls and
 * events), stream reads, events delivered by each subscription source, checkpoint and
 * metadata traffic. The saga benchmark compares the counts with the declared budget.
 *
 * @example
 * const store = new CountingEventStore(new EventStoreDbEventStore(url), { classify });
 * // ... run sagas ...
 * store.counts(); // { 'append:process': 4012, 'read:process': 1000, ... }
 */
export class CountingEventStore implements EventStore {
  private tally = new Map<string, number>();
  private readonly classify: (stream: string) => string;
  /** `<operation>:<kind>` keys by kind, built once (this runs on every store call). */
  private readonly keysByKind = new Map<string, StreamKeys>();

  constructor(
    readonly inner: EventStore,
    private readonly options: CountingEventStoreOptions = {},
  ) {
    this.classify = options.classify ?? categoryOf;
  }

  /** The counts since construction or the last {@link reset}. */
  counts(): OpCounts {
    return Object.fromEntries(this.tally);
  }

  /** Starts counting from zero (after warm-up). */
  reset(): void {
    this.tally = new Map();
  }

  private add(key: string, n = 1): void {
    this.tally.set(key, (this.tally.get(key) ?? 0) + n);
  }

  private keysOf(stream: string): StreamKeys {
    const kind = this.classify(stream);
    let keys = this.keysByKind.get(kind);
    if (!keys) {
      keys = {
        append: `append:${kind}`,
        appendEvents: `appendEvents:${kind}`,
        appendFailed: `appendFailed:${kind}`,
        read: `read:${kind}`,
        readEvents: `readEvents:${kind}`,
      };
      this.keysByKind.set(kind, keys);
    }
    return keys;
  }

  async append(
    stream: string,
    events: readonly EventToAppend[],
    options?: AppendOptions,
  ): Promise<AppendOutcome> {
    const keys = this.keysOf(stream);
    this.add(keys.append);
    this.add(keys.appendEvents, events.length);
    try {
      const outcome = await this.inner.append(stream, events, options);
      this.options.onAppended?.(stream, events);
      return outcome;
    } catch (error) {
      this.add(keys.appendFailed);
      throw error;
    }
  }

  async readStream(stream: string, options?: ReadOptions): Promise<StoredEventRecord[]> {
    const keys = this.keysOf(stream);
    this.add(keys.read);
    const events = await this.inner.readStream(stream, options);
    this.add(keys.readEvents, events.length);
    return events;
  }

  subscribe(source: SubscriptionSource, options?: SubscribeOptions) {
    const label = sourceLabel(source);
    this.add(`subscribe:${label}`);
    const eventsKey = `subscriptionEvents:${label}`;
    const batchesKey = `subscriptionBatches:${label}`;
    return this.inner.subscribe(source, options).pipe(
      tap((batch: SubscriptionBatch) => {
        let events = 0;
        for (const item of batch.items) if (item.kind === 'event') events++;
        this.add(eventsKey, events);
        this.add(batchesKey);
      }),
    );
  }

  readAll(options?: ReadAllOptions): Promise<StoredEventRecord[]> {
    this.add('readAll');
    return this.inner.readAll(options);
  }

  deleteStream(stream: string, options?: AppendOptions): Promise<void> {
    this.add(`delete:${this.classify(stream)}`);
    return this.inner.deleteStream(stream, options);
  }

  tombstoneStream(stream: string, options?: AppendOptions): Promise<void> {
    this.add(`tombstone:${this.classify(stream)}`);
    return this.inner.tombstoneStream(stream, options);
  }

  setStreamMetadata(stream: string, metadata: StreamMetadata, options?: AppendOptions): Promise<void> {
    this.add('metadataWrite');
    return this.inner.setStreamMetadata(stream, metadata, options);
  }

  getStreamMetadata(stream: string): Promise<StreamMetadata> {
    this.add('metadataRead');
    return this.inner.getStreamMetadata(stream);
  }

  readCheckpoint(name: string): Promise<bigint | undefined> {
    this.add('checkpointRead');
    return this.inner.readCheckpoint(name);
  }

  writeCheckpoint(name: string, checkpoint: bigint): Promise<void> {
    this.add('checkpointWrite');
    return this.inner.writeCheckpoint(name, checkpoint);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
