import { randomUUID } from 'node:crypto';
import {
  InvalidEventError,
  InvalidPositionError,
  MaxAppendSizeExceededError,
  StoreClosedError,
  StoreUnavailableError,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
} from '../errors';
import { LinkEvent, LINK_TYPE } from './link-event';
import {
  LINK_RECORD_SIZE,
  recordSize,
  recordSizeOf,
  SEGMENT_HEADER_SIZE,
  type DecodedRecord,
} from './record-codec';
import { openSegmentStore, type SegmentStore } from './segment-store';
import { parseMetadata, SOFT_DELETE_METADATA, undeleteMetadata, type MetadataRules } from './stream-metadata';
import { AllSubscription, hiddenFromAll, StreamSubscription, type SubscriptionHost } from './subscriptions';
import {
  TOMBSTONE_REVISION,
  type AllSubscriptionOptions,
  type AppendResult,
  type EventLogOptions,
  type ExpectedRevision,
  type LogSubscription,
  type ProposedEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type ResolvedEvent,
  type StoredEvent,
  type StreamSubscriptionOptions,
} from './types';

/** Per-stream index. `events[i]` is the entry of revision `i` (revisions are dense). */
export interface StreamState {
  readonly name: string;
  readonly events: LogRecord[];
  tombstone: LoggedEvent | undefined;
  /** Rules from `$$<name>`; undefined when the metastream is empty. */
  meta: MetadataRules | undefined;
  /** Cached `$ce-` stream of this stream's category: null when it has none, undefined until looked up. */
  category: StreamState | null | undefined;
  /** UTF-8 byte length of `name` (every record of the stream carries it). */
  readonly nameBytes: number;
  /** `name` as JSON text (the `$o` of its links), cached once the stream has a link. */
  nameJson: string | undefined;
}

/** Statistics for tests and diagnostics. */
export interface EventLogStats {
  /** fdatasync calls made by the writer (group commit shares one per batch). */
  readonly fsyncs: number;
  /** Write batches flushed. */
  readonly flushes: number;
  /** Records written since open (events, links, metadata, tombstones). */
  readonly records: number;
}

const DEFAULT_MAX_APPEND_SIZE = 1_048_576;
const DEFAULT_SEGMENT_SIZE = 256 * 1024 * 1024;
/**
 * Bound of the recent-event-id cache behind `any`/`stream_exists` idempotency: it holds at
 * least the last ID_CACHE_LIMIT ids and at most twice that. The real server bounds it too
 * (by bytes), which makes that idempotency best-effort.
 */
const ID_CACHE_LIMIT = 100_000;
const METADATA_TYPE = '$metadata';
const TOMBSTONE_TYPE = '$streamDeleted';
const EMPTY = new Uint8Array(0);
const TICKS_PER_MS = 10_000n;
const TICKS_PER_SECOND = 10_000_000n;

type Decision =
  | { readonly kind: 'write'; readonly recreate: boolean }
  | { readonly kind: 'idempotent'; readonly result: AppendResult };

interface Layout {
  segmentIndex: number;
  segmentBase: number;
  segmentOffset: number;
}

/** A record about to be indexed, with where the writer must put it. */
interface Placed {
  readonly entry: ResolvedEvent;
  readonly size: number;
  readonly segmentIndex: number;
  readonly segmentBase: number;
  readonly offset: number;
  readonly sourcePosition: number;
}

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/**
 * A stored event that is also its own index entry (`event` is itself), as a LinkEvent is:
 * every record stays in memory, and each object kept is one more for the GC to copy and mark.
 */
class LoggedEvent implements StoredEvent, ResolvedEvent {
  /**
   * @param at  the log position as a number (every position is below 2^53): a bigint
   *            field would keep one more object per event
   */
  constructor(
    readonly id: string,
    readonly stream: string,
    readonly revision: bigint,
    readonly at: number,
    readonly type: string,
    readonly isJson: boolean,
    readonly data: Uint8Array,
    readonly metadata: Uint8Array,
    readonly created: bigint,
  ) {}

  get position(): bigint {
    return BigInt(this.at);
  }

  /** As an index entry: the event itself. */
  get event(): StoredEvent {
    return this;
  }

  /** As an index entry: not a resolved link. */
  get link(): undefined {
    return undefined;
  }
}

/** A record of the log: an event (or metadata, or tombstone), or a projection link. */
type LogRecord = LoggedEvent | LinkEvent;

/** Category of a stream per `$by_category` ("first" "-"): the text before the first '-', if any. */
export function categoryOf(stream: string): string | undefined {
  if (stream.charCodeAt(0) === 36 /* $ */) return undefined;
  const dash = stream.indexOf('-');
  return dash > 0 ? stream.slice(0, dash) : undefined;
}

/**
 * The durable append-only event log behind the embedded store: streams with dense
 * revisions, the `$all` log with sparse increasing positions, EventStoreDB 24.10
 * expected-revision and idempotency rules, stream metadata applied at read time, soft
 * delete and tombstones, `$ce-`/`$et-` projection links, and pull-based subscriptions.
 *
 * Every record is also kept in memory (reads never touch the disk); the segment files
 * are the durable copy that rebuilds the indexes on open. A log much larger than memory
 * would need a read path over the segments, which this engine does not have yet.
 *
 * @example
 * const log = await EventLog.open({ dir: '.sagastream/db' });
 * await log.append('order-1', 'no_stream', [{ id: randomUUID(), type: 'OrderPlaced', isJson: true, data, metadata }]);
 * for (const { event } of log.readStream('order-1')) console.log(event?.type);
 * await log.close();
 */
export class EventLog implements SubscriptionHost {
  /** The `$all` log in commit order. */
  readonly entries: LogRecord[] = [];
  private readonly streams = new Map<string, StreamState>();
  /** Recent event ids in two generations: a lookup tries `ids`, then `olderIds` (see ID_CACHE_LIMIT). */
  private ids = new Map<string, StoredEvent>();
  private olderIds = new Map<string, StoredEvent>();
  /**
   * The id cache is filled lazily: `entries` from here on are not in it yet. Only an
   * `any`/`stream_exists` append to a stream that has events looks ids up, so appends that
   * create streams or give an exact revision never pay a Map insertion per event.
   */
  private idsUpTo = 0;
  private readonly eventTypeStates = new Map<string, StreamState>();
  private readonly layout: Layout = { segmentIndex: 0, segmentBase: 0, segmentOffset: SEGMENT_HEADER_SIZE };
  private readonly maxAppendSize: number;
  private readonly byCategory: boolean;
  private readonly byEventType: boolean;
  private readonly segmentSize: number;
  private visible = 0;
  private lastVisiblePosition = -1n;
  /** {@link lastVisiblePosition} as a number, for comparing with records' `at`. */
  private lastVisibleAt = -1;
  private closed = false;
  private failure: Error | undefined;
  private readonly allWaiters = new Set<() => void>();
  private readonly streamWaiters = new Map<string, Set<() => void>>();
  private readonly subscriptions = new Set<LogSubscription>();
  private store: SegmentStore | undefined;
  private recordsWritten = 0;
  private readonly now: () => number;

  private constructor(options: EventLogOptions) {
    this.maxAppendSize = options.maxAppendSize ?? DEFAULT_MAX_APPEND_SIZE;
    this.byCategory = options.byCategory ?? true;
    this.byEventType = options.byEventType ?? true;
    this.segmentSize = Math.max(options.segmentSize ?? DEFAULT_SEGMENT_SIZE, 4096);
    this.now = options.now ?? Date.now;
  }

  /**
   * Opens a log: in memory (`{ memory: true }`) or in `dir`, taking its lock file and
   * rebuilding the indexes from the segment files (a torn tail is truncated and
   * reported through `options.log`).
   *
   * @throws StoreLockedError when another EventLog holds the directory
   * @throws StoreUnavailableError when the directory cannot be created, read or written
   */
  static async open(options: EventLogOptions): Promise<EventLog> {
    const log = new EventLog(options);
    if (options.memory) return log;
    if (!options.dir) {
      throw new StoreUnavailableError(
        'EventLog.open needs a `dir` for its segment files, or `memory: true` for an in-memory log.',
      );
    }
    const report = options.log ?? ((message: string) => console.warn(message));
    const store = await openSegmentStore({
      dir: options.dir,
      log: report,
      onRecord: (record, position) => log.recover(record, position),
      onDurable: (count) => log.makeVisible(count),
    });
    log.store = store;
    log.idsUpTo = log.entries.length;
    log.layout.segmentIndex = store.tail.segmentIndex;
    log.layout.segmentBase = store.tail.segmentBase;
    log.layout.segmentOffset = store.tail.segmentOffset;
    log.makeVisible(log.entries.length);
    try {
      await log.reproject(store.projectedUpTo);
    } catch (err) {
      await store.close();
      throw err;
    }
    return log;
  }

  /** Position of the last visible record, -1n if the log is empty. */
  get lastPosition(): bigint {
    return this.lastVisiblePosition;
  }

  /** Writer statistics (all zero in memory mode). */
  get stats(): EventLogStats {
    return {
      fsyncs: this.store?.fsyncs ?? 0,
      flushes: this.store?.flushes ?? 0,
      records: this.recordsWritten,
    };
  }

  /**
   * Appends events to `stream` under the expected-revision rules of EventStoreDB.
   * Resolves once the events are durable (fsynced; immediately in memory mode). The log
   * keeps the given `data`/`metadata` arrays as they are (no copy): do not mutate them.
   *
   * @throws WrongExpectedVersionError, StreamDeletedError, MaxAppendSizeExceededError,
   *   InvalidEventError, StoreClosedError
   */
  append(
    stream: string,
    expected: ExpectedRevision,
    events: readonly ProposedEvent[],
  ): Promise<AppendResult> {
    try {
      this.assertWritable();
      this.validate(stream, events);
      const result = this.appendNow(stream, expected, events);
      return this.durable().then(() => result);
    } catch (err) {
      return Promise.reject(toError(err));
    }
  }

  /**
   * Soft-deletes `stream`: writes `{"$tb": long.MaxValue}` to `$$<stream>`. Reads then
   * report StreamNotFoundError, `$all` keeps the events, and a later append recreates the
   * stream with revisions continuing where they stopped.
   */
  deleteStream(stream: string, expected: ExpectedRevision): Promise<{ position: bigint }> {
    try {
      this.assertWritable();
      const state = this.streams.get(stream);
      this.assertNotTombstoned(stream, state);
      const cur = state ? state.events.length - 1 : -1;
      if (cur < 0 && !this.hasMetadata(stream)) {
        throw new WrongExpectedVersionError(stream, describeExpected(expected), undefined);
      }
      this.checkExpectedForDelete(stream, state, expected, cur);
      const placed: Placed[] = [];
      const firstEntry = this.entries.length;
      const metaState = this.stateFor(`$$${stream}`);
      const entry = this.place(
        placed,
        metaState,
        undefined,
        randomUUID(),
        METADATA_TYPE,
        true,
        SOFT_DELETE_METADATA,
        EMPTY,
        this.nowTicks(),
      );
      this.commit(placed, firstEntry);
      const position = entry.position;
      return this.durable().then(() => ({ position }));
    } catch (err) {
      return Promise.reject(toError(err));
    }
  }

  /**
   * Tombstones `stream`: writes a `$streamDeleted` record at revision long.MaxValue.
   * Every later append, read, subscription or delete of the stream (and of its
   * metastream) fails with StreamDeletedError.
   */
  tombstoneStream(stream: string, expected: ExpectedRevision): Promise<{ position: bigint }> {
    try {
      this.assertWritable();
      const state = this.streams.get(stream);
      this.assertNotTombstoned(stream, state);
      const cur = state ? state.events.length - 1 : -1;
      if (expected === 'stream_exists') {
        if (cur < 0 && !this.hasMetadata(stream)) {
          throw new WrongExpectedVersionError(stream, 'stream_exists', undefined);
        }
      } else {
        this.checkExpectedForDelete(stream, state, expected, cur);
      }
      const placed: Placed[] = [];
      const firstEntry = this.entries.length;
      const tombstone = this.place(
        placed,
        this.stateFor(stream),
        TOMBSTONE_REVISION,
        randomUUID(),
        TOMBSTONE_TYPE,
        false,
        EMPTY,
        EMPTY,
        this.nowTicks(),
      );
      this.placeLinks(placed, firstEntry, firstEntry + 1);
      this.commit(placed, firstEntry);
      const position = tombstone.position;
      return this.durable().then(() => ({ position }));
    } catch (err) {
      return Promise.reject(toError(err));
    }
  }

  /**
   * Reads a stream with its metadata applied (`$tb`, `$maxCount`, `$maxAge`; a
   * metastream shows only its latest event). `from` is inclusive.
   *
   * @throws StreamNotFoundError when the stream has no events or is soft-deleted
   * @throws StreamDeletedError when it (or, for `$$x`, `x`) is tombstoned
   */
  readStream(stream: string, options: ReadStreamOptions = {}): ResolvedEvent[] {
    const events = this.tryReadStream(stream, options);
    if (events === undefined) throw new StreamNotFoundError(stream);
    return events;
  }

  /**
   * {@link readStream} for callers to whom a missing stream is a normal answer: returns
   * `undefined` where `readStream` throws StreamNotFoundError, without building an error
   * (and its stack) for every first read of a stream.
   *
   * @throws StreamDeletedError when it (or, for `$$x`, `x`) is tombstoned
   */
  tryReadStream(stream: string, options: ReadStreamOptions = {}): ResolvedEvent[] | undefined {
    this.assertOpen();
    const state = this.streams.get(stream);
    this.assertReadableNotTombstoned(stream, state);
    const length = state ? this.visibleLength(state) : 0;
    if (!state || length === 0 || state.meta?.softDeleted) return undefined;
    const min = this.minReadable(state, length);
    const maxCount = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const resolveLinks = options.resolveLinks ?? false;
    const expiredBefore = this.expiryTicks(state);
    const out: ResolvedEvent[] = [];
    if (maxCount <= 0) return out;
    const events = state.events;
    if ((options.direction ?? 'forwards') === 'forwards') {
      const from = options.from ?? 'start';
      let rev = from === 'start' ? 0 : from === 'end' ? length : clampRevision(from);
      if (rev < min) rev = min;
      for (; rev < length && out.length < maxCount; rev++) {
        const entry = events[rev]!;
        if (expiredBefore !== undefined && entry.event.created < expiredBefore) continue;
        out.push(resolveLinks ? this.resolve(entry) : entry);
      }
    } else {
      const from = options.from ?? 'end';
      let rev = from === 'end' ? length - 1 : from === 'start' ? 0 : clampRevision(from);
      if (rev > length - 1) rev = length - 1;
      for (; rev >= min && out.length < maxCount; rev--) {
        const entry = events[rev]!;
        if (expiredBefore !== undefined && entry.event.created < expiredBefore) continue;
        out.push(resolveLinks ? this.resolve(entry) : entry);
      }
    }
    return out;
  }

  /**
   * Reads `$all`, which ignores stream metadata and deletes (as EventStoreDB does
   * until a scavenge). Forwards returns positions >= `from`, backwards positions < `from`.
   *
   * @throws InvalidPositionError when `from` is not a record boundary
   */
  readAll(options: ReadAllOptions = {}): ResolvedEvent[] {
    this.assertOpen();
    const forwards = (options.direction ?? 'forwards') === 'forwards';
    const from = options.from ?? (forwards ? 'start' : 'end');
    const maxCount = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const resolveLinks = options.resolveLinks ?? false;
    const count = this.visible;
    const entries = this.entries;
    const out: ResolvedEvent[] = [];
    if (maxCount <= 0) return out;
    let index = from === 'start' ? 0 : from === 'end' ? count : this.indexOfPosition(from);
    if (forwards) {
      for (; index < count && out.length < maxCount; index++) {
        const entry = entries[index]!;
        if (hiddenFromAll(entry.event.stream)) continue;
        out.push(resolveLinks ? this.resolve(entry) : entry);
      }
    } else {
      for (index--; index >= 0 && out.length < maxCount; index--) {
        const entry = entries[index]!;
        if (hiddenFromAll(entry.event.stream)) continue;
        out.push(resolveLinks ? this.resolve(entry) : entry);
      }
    }
    return out;
  }

  /**
   * Subscribes to one stream from an exclusive revision: catch-up, one `caughtUp`, then
   * live. A stream that does not exist yet is waited for; a tombstoned one makes the
   * iterator throw StreamDeletedError (a live subscriber first receives the tombstone).
   */
  subscribeToStream(stream: string, options: StreamSubscriptionOptions): LogSubscription {
    this.assertOpen();
    const state = this.streams.get(stream);
    const length = state ? this.visibleLength(state) : 0;
    const from = options.from;
    const next = from === 'start' ? 0 : from === 'end' ? length : clampRevision(from) + 1;
    const sub = new StreamSubscription(this, stream, next, length, options.resolveLinks ?? false);
    this.subscriptions.add(sub);
    return sub;
  }

  /**
   * Subscribes to `$all` from an exclusive position, optionally filtered by stream name
   * or event type (regex or prefixes), with checkpoints for filtered subscriptions.
   *
   * @throws InvalidPositionError when `from` is not a record boundary
   */
  subscribeToAll(options: AllSubscriptionOptions): LogSubscription {
    this.assertOpen();
    const from = options.from;
    let index: number;
    let startPosition: bigint;
    if (from === 'start') {
      index = 0;
      startPosition = 0n;
    } else if (from === 'end') {
      index = this.visible;
      startPosition = this.lastVisiblePosition < 0n ? 0n : this.lastVisiblePosition;
    } else {
      index = this.indexOfPosition(from);
      const at = this.entries[index];
      if (at !== undefined && at.at === Number(from)) index++;
      startPosition = from;
    }
    const sub = new AllSubscription(this, index, this.visible, startPosition, options);
    this.subscriptions.add(sub);
    return sub;
  }

  /** Last visible revision of `stream`; undefined when it has no events, is soft-deleted or tombstoned. */
  streamRevision(stream: string): bigint | undefined {
    const state = this.streams.get(stream);
    if (!state || state.meta?.softDeleted || this.tombstoneOf(state)) return undefined;
    const length = this.visibleLength(state);
    return length === 0 ? undefined : BigInt(length - 1);
  }

  /** Waits for pending writes, ends every subscription and releases the directory lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const sub of [...this.subscriptions]) sub.close();
    this.subscriptions.clear();
    if (this.store) await this.store.close();
  }

  // ---- SubscriptionHost (used by subscriptions.ts) ----

  /** @internal */
  get visibleCount(): number {
    return this.visible;
  }

  /** @internal */
  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal */
  streamState(stream: string): StreamState | undefined {
    return this.streams.get(stream);
  }

  /** @internal Number of revisions of `state` whose records are durable. */
  visibleLength(state: StreamState): number {
    const events = state.events;
    let n = events.length;
    while (n > 0 && events[n - 1]!.at > this.lastVisibleAt) n--;
    return n;
  }

  /** @internal The tombstone of `state`, once it is durable. */
  tombstoneOf(state: StreamState): ResolvedEvent | undefined {
    const t = state.tombstone;
    return t !== undefined && t.at <= this.lastVisibleAt ? t : undefined;
  }

  /** @internal Lowest revision reads may return, after `$tb`, `$maxCount` and soft delete. */
  minReadable(state: StreamState, length: number): number {
    const meta = state.meta;
    let min = 0;
    if (meta) {
      if (meta.softDeleted) return length;
      if (meta.truncateBefore !== undefined && meta.truncateBefore > min) min = meta.truncateBefore;
      if (meta.maxCount !== undefined && length - meta.maxCount > min) min = length - meta.maxCount;
    }
    if (state.name.startsWith('$$') && length - 1 > min) min = length - 1;
    return min;
  }

  /** @internal Events created before these ticks are hidden by `$maxAge`; undefined without one. */
  expiryTicks(state: StreamState): bigint | undefined {
    const maxAge = state.meta?.maxAge;
    if (maxAge === undefined) return undefined;
    return this.nowTicks() - BigInt(Math.floor(maxAge)) * TICKS_PER_SECOND;
  }

  /** @internal Resolves a `$>` link to `{ event: target, link }` (`event` undefined when unreadable). */
  resolve(entry: ResolvedEvent): ResolvedEvent {
    const link = entry.event!;
    if (link.type !== LINK_TYPE) return entry;
    const unresolved: ResolvedEvent = { link, position: entry.position };
    let rev = 0;
    let state: StreamState | undefined;
    if (link instanceof LinkEvent && link.source.type !== LINK_TYPE) {
      // A projection link's target is its source: no need to build and parse its data.
      if (link.source.revision === TOMBSTONE_REVISION) return unresolved;
      rev = Number(link.source.revision);
      state = this.streams.get(link.source.stream);
    } else {
      // Parse "<revision>@<stream>" from the bytes: digits first, so no string is built for them.
      const data = link.data;
      let at = 0;
      for (; at < data.length; at++) {
        const c = data[at]!;
        if (c < 48 || c > 57) break;
        rev = rev * 10 + (c - 48);
      }
      if (at === 0 || at >= data.length || data[at] !== 64 /* @ */) return unresolved;
      state = this.streams.get(asBuffer(data).toString('utf8', at + 1));
    }
    if (!state || state.meta?.softDeleted || this.tombstoneOf(state)) return unresolved;
    const length = this.visibleLength(state);
    if (rev >= length || rev < this.minReadable(state, length)) return unresolved;
    const target = state.events[rev]!.event;
    if (state.meta?.maxAge !== undefined) {
      const expiredBefore = this.expiryTicks(state);
      if (expiredBefore !== undefined && target.created < expiredBefore) return unresolved;
    }
    return { event: target, link, position: entry.position };
  }

  /** @internal Calls `wake` once when `stream` (or, with undefined, `$all`) gets new visible records. */
  waitFor(stream: string | undefined, wake: () => void): () => void {
    if (stream === undefined) {
      this.allWaiters.add(wake);
      return () => this.allWaiters.delete(wake);
    }
    let set = this.streamWaiters.get(stream);
    if (!set) {
      set = new Set();
      this.streamWaiters.set(stream, set);
    }
    set.add(wake);
    const waiters = set;
    return () => {
      waiters.delete(wake);
      if (waiters.size === 0 && this.streamWaiters.get(stream) === waiters) this.streamWaiters.delete(stream);
    };
  }

  /** @internal */
  forget(sub: LogSubscription): void {
    this.subscriptions.delete(sub);
  }

  // ---- append path ----

  private appendNow(
    stream: string,
    expected: ExpectedRevision,
    events: readonly ProposedEvent[],
  ): AppendResult {
    const state = this.streams.get(stream);
    const decision = this.decide(stream, state, expected, events);
    if (decision.kind === 'idempotent') return decision.result;
    const cur = state ? state.events.length - 1 : -1;
    if (events.length === 0) {
      const last = state?.events[cur];
      return { nextRevision: BigInt(cur), position: last ? last.position : -1n };
    }
    const created = this.nowTicks();
    const placed: Placed[] = [];
    const firstEntry = this.entries.length;
    if (decision.recreate) {
      const data = undeleteMetadata(state?.meta, cur + 1);
      this.place(
        placed,
        this.stateFor(`$$${stream}`),
        undefined,
        randomUUID(),
        METADATA_TYPE,
        true,
        data,
        EMPTY,
        created,
      );
    }
    const target = state ?? this.stateFor(stream);
    const undeleteTarget = this.softDeletedTargetOfMetastream(stream);
    const first = this.entries.length;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      let data = e.data;
      if (undeleteTarget && i === events.length - 1) {
        const rules = parseMetadata(data);
        if (!rules.softDeleted) {
          data = undeleteMetadata(rules, undeleteTarget.events.length);
        }
      }
      this.place(placed, target, undefined, e.id, e.type, e.isJson, data, e.metadata, created);
    }
    const last = this.entries[this.entries.length - 1]!.event;
    this.placeLinks(placed, first, this.entries.length);
    this.commit(placed, firstEntry);
    return { nextRevision: last.revision, position: last.position };
  }

  /** §2.1 of the protocol reference: the expected-revision and idempotency rules. */
  private decide(
    stream: string,
    state: StreamState | undefined,
    expected: ExpectedRevision,
    events: readonly ProposedEvent[],
  ): Decision {
    this.assertNotTombstoned(stream, state);
    const cur = state ? state.events.length - 1 : -1;
    const softDeleted = state?.meta?.softDeleted ?? false;
    if (expected === 'any' || expected === 'stream_exists') {
      if (expected === 'stream_exists') {
        if (softDeleted) throw new StreamDeletedError(stream);
        if (cur < 0 && !this.hasMetadata(stream)) {
          throw new WrongExpectedVersionError(stream, expected, undefined);
        }
      }
      // Idempotency needs the first event already in this stream: none without events.
      if (cur < 0) return { kind: 'write', recreate: softDeleted };
      const first = events.length > 0 ? this.recentEvent(events[0]!.id) : undefined;
      if (first === undefined || first.stream !== stream) return { kind: 'write', recreate: softDeleted };
      let last = first;
      for (let i = 1; i < events.length; i++) {
        const hit = this.recentEvent(events[i]!.id);
        if (hit === undefined || hit.stream !== stream || hit.revision !== first.revision + BigInt(i)) {
          throw new WrongExpectedVersionError(stream, expected, actualOf(cur));
        }
        last = hit;
      }
      return { kind: 'idempotent', result: { nextRevision: last.revision, position: last.position } };
    }
    const e = expected === 'no_stream' ? -1 : expected < 0n ? -3 : clampRevision(expected);
    if (e === cur) return { kind: 'write', recreate: softDeleted };
    if (e > cur || e < -1 || events.length === 0) {
      throw new WrongExpectedVersionError(stream, describeExpected(expected), actualOf(cur));
    }
    const existing = state!.events;
    for (let i = 0; i < events.length; i++) {
      const at = existing[e + 1 + i];
      if (at === undefined || at.event.id !== events[i]!.id) {
        if (i === 0 && expected === 'no_stream' && softDeleted) return { kind: 'write', recreate: true };
        throw new WrongExpectedVersionError(stream, describeExpected(expected), actualOf(cur));
      }
    }
    const last = existing[e + events.length]!;
    return { kind: 'idempotent', result: { nextRevision: last.event.revision, position: last.position } };
  }

  private checkExpectedForDelete(
    stream: string,
    state: StreamState | undefined,
    expected: ExpectedRevision,
    cur: number,
  ): void {
    if (expected === 'any') return;
    if (expected === 'stream_exists') {
      if (state?.meta?.softDeleted) throw new StreamDeletedError(stream);
      return;
    }
    const e = expected === 'no_stream' ? -1 : expected < 0n ? -3 : clampRevision(expected);
    if (e !== cur) {
      throw new WrongExpectedVersionError(
        stream,
        describeExpected(expected),
        cur < 0 ? undefined : BigInt(cur),
      );
    }
  }

  /** For an append to `$$x` while `x` is soft-deleted: `x`, whose metadata write undeletes it. */
  private softDeletedTargetOfMetastream(stream: string): StreamState | undefined {
    if (!stream.startsWith('$$')) return undefined;
    const target = this.streams.get(stream.slice(2));
    return target?.meta?.softDeleted ? target : undefined;
  }

  /**
   * Gives a new record the next log position (rolling segments exactly as the writer
   * will) and indexes it at once, so records placed after it in the same operation (its
   * links) see the new stream lengths. `revision` undefined means the stream's next one.
   * Only a durable log collects the writer's `Placed` records; a memory log has no writer.
   */
  private place(
    placed: Placed[],
    state: StreamState,
    revision: bigint | undefined,
    id: string,
    type: string,
    isJson: boolean,
    data: Uint8Array,
    metadata: Uint8Array,
    created: bigint,
    sourcePosition = -1,
    typeBytes = Buffer.byteLength(type, 'utf8'),
  ): LoggedEvent {
    const layout = this.layout;
    // Measuring the id also flattens it: a randomUUID() is built by concatenation and would
    // otherwise stay in memory as a tree of ~20 cons strings per link (several times the GC).
    const idBytes = Buffer.byteLength(id, 'utf8');
    const size = recordSizeOf(idBytes, state.nameBytes, typeBytes, data.byteLength, metadata.byteLength);
    if (layout.segmentOffset > SEGMENT_HEADER_SIZE && layout.segmentOffset + size > this.segmentSize) {
      layout.segmentIndex++;
      layout.segmentBase += layout.segmentOffset;
      layout.segmentOffset = SEGMENT_HEADER_SIZE;
    }
    const offset = layout.segmentOffset;
    const position = layout.segmentBase + offset;
    layout.segmentOffset += size;
    const entry = new LoggedEvent(
      id,
      state.name,
      revision ?? BigInt(state.events.length),
      position,
      type,
      isJson,
      data,
      metadata,
      created,
    );
    if (this.store) {
      placed.push({
        entry,
        size,
        segmentIndex: layout.segmentIndex,
        segmentBase: layout.segmentBase,
        offset,
        sourcePosition,
      });
    }
    this.index(entry, state);
    return entry;
  }

  /**
   * Writes the standard projections' links (`$ce-<category>`, then `$et-<type>`) for the
   * sources at `entries[from]` up to (excluding) `entries[to]`.
   */
  private placeLinks(placed: Placed[], from: number, to: number): void {
    if (!this.byCategory && !this.byEventType) return;
    const entries = this.entries;
    for (let i = from; i < to; i++) this.placeLinksFor(placed, entries[i]!.event, true, true);
  }

  private placeLinksFor(placed: Placed[], source: StoredEvent, category: boolean, eventType: boolean): void {
    const sourceState = this.streams.get(source.stream)!;
    const ceState = this.byCategory && category ? this.categoryStateOf(sourceState) : undefined;
    const etState =
      this.byEventType && eventType && source.stream.charCodeAt(0) !== 36 && source.type !== LINK_TYPE
        ? this.eventTypeStateOf(source.revision === TOMBSTONE_REVISION ? '$deleted' : source.type)
        : undefined;
    if (ceState !== undefined) this.placeLink(placed, ceState, source, sourceState);
    if (etState !== undefined) this.placeLink(placed, etState, source, sourceState);
  }

  /** {@link place} for a projection link: a compact record whose bodies follow from `source`. */
  private placeLink(
    placed: Placed[],
    state: StreamState,
    source: StoredEvent,
    sourceState: StreamState,
  ): void {
    const layout = this.layout;
    const size = LINK_RECORD_SIZE;
    if (layout.segmentOffset > SEGMENT_HEADER_SIZE && layout.segmentOffset + size > this.segmentSize) {
      layout.segmentIndex++;
      layout.segmentBase += layout.segmentOffset;
      layout.segmentOffset = SEGMENT_HEADER_SIZE;
    }
    const offset = layout.segmentOffset;
    const link = LinkEvent.create(
      state.name,
      state.events.length,
      layout.segmentBase + offset,
      source,
      sourceState,
    );
    layout.segmentOffset += size;
    if (this.store) {
      placed.push({
        entry: link,
        size,
        segmentIndex: layout.segmentIndex,
        segmentBase: layout.segmentBase,
        offset,
        sourcePosition: Number(source.position),
      });
    }
    this.entries.push(link);
    state.events.push(link);
  }

  /** The `$ce-` stream of a stream's category (cached on the stream), or undefined without one. */
  private categoryStateOf(state: StreamState): StreamState | undefined {
    if (state.category === undefined) {
      const category = categoryOf(state.name);
      state.category = category === undefined ? null : this.stateFor(`$ce-${category}`);
    }
    return state.category ?? undefined;
  }

  private eventTypeStateOf(type: string): StreamState {
    let state = this.eventTypeStates.get(type);
    if (!state) {
      state = this.stateFor(`$et-${type}`);
      this.eventTypeStates.set(type, state);
    }
    return state;
  }

  /**
   * Hands the records placed since `entries[firstEntry]` to the writer (dir mode) or makes
   * them visible (memory mode).
   */
  private commit(placed: readonly Placed[], firstEntry: number): void {
    this.recordsWritten += this.entries.length - firstEntry;
    if (this.store) {
      this.store.write(placed, this.entries.length);
    } else {
      this.makeVisible(this.entries.length);
    }
  }

  /** Adds a record to the indexes (append and recovery share this). */
  private index(entry: LoggedEvent, state: StreamState): void {
    const event = entry;
    this.entries.push(entry);
    if (event.revision === TOMBSTONE_REVISION) {
      state.tombstone = entry;
    } else {
      state.events.push(entry);
      if (state.name.charCodeAt(1) === 36 && state.name.charCodeAt(0) === 36) {
        this.stateFor(state.name.slice(2)).meta = parseMetadata(event.data);
      }
    }
  }

  /** Puts an event's id in the cache (the newest event with an id wins). */
  private cacheId(event: StoredEvent): void {
    // Dropping a whole generation at once bounds the cache without a delete per event
    // (a ring of evictions cost a second Map operation on every append, ~0.3 us).
    if (this.ids.size >= ID_CACHE_LIMIT) {
      this.olderIds = this.ids;
      this.ids = new Map();
    }
    this.ids.set(event.id, event);
  }

  /**
   * Brings the id cache up to date with `entries`: every event record appended since the
   * last lookup (links are never looked up). A backlog longer than the cache starts afresh
   * from its last ID_CACHE_LIMIT events, which is what eager caching would have kept.
   */
  private catchUpIds(): void {
    const entries = this.entries;
    const end = entries.length;
    let from = this.idsUpTo;
    if (end - from > ID_CACHE_LIMIT) {
      let kept = 0;
      let start = end;
      while (start > from && kept < ID_CACHE_LIMIT) if (entries[--start] instanceof LoggedEvent) kept++;
      if (start > from) {
        this.ids = new Map();
        this.olderIds = new Map();
        from = start;
      }
    }
    for (let i = from; i < end; i++) {
      const entry = entries[i]!;
      if (entry instanceof LoggedEvent) this.cacheId(entry);
    }
    this.idsUpTo = end;
  }

  private stateFor(stream: string): StreamState {
    let state = this.streams.get(stream);
    if (!state) {
      state = {
        name: stream,
        events: [],
        tombstone: undefined,
        meta: undefined,
        category: undefined,
        nameBytes: Buffer.byteLength(stream, 'utf8'),
        nameJson: undefined,
      };
      this.streams.set(stream, state);
    }
    return state;
  }

  /** Advances the durable watermark to `count` records and wakes subscribers. */
  private makeVisible(count: number): void {
    const from = this.visible;
    if (count <= from) return;
    this.visible = count;
    this.lastVisibleAt = this.entries[count - 1]!.at;
    this.lastVisiblePosition = BigInt(this.lastVisibleAt);
    if (this.streamWaiters.size > 0) {
      for (let i = from; i < count; i++) {
        const waiters = this.streamWaiters.get(this.entries[i]!.event.stream);
        if (waiters) {
          this.streamWaiters.delete(this.entries[i]!.event.stream);
          for (const wake of waiters) wake();
        }
      }
    }
    if (this.allWaiters.size > 0) {
      const waiters = [...this.allWaiters];
      this.allWaiters.clear();
      for (const wake of waiters) wake();
    }
  }

  private durable(): Promise<void> {
    if (!this.store) return Promise.resolve();
    return this.store.flushed().catch((err: unknown) => {
      throw this.fail(err);
    });
  }

  private fail(err: unknown): Error {
    if (this.failure) return this.failure;
    this.failure =
      err instanceof StoreUnavailableError
        ? err
        : new StoreUnavailableError(
            `The event log could not write to disk: ${String(err)}. Restart the store.`,
            { cause: err },
          );
    return this.failure;
  }

  // ---- recovery ----

  /** Indexes a record found on open; false when it is a link whose source is not in the log. */
  private recover(record: DecodedRecord, position: number): boolean {
    if (record.kind === 'link') {
      const at = this.indexOfFirstAtOrAfter(record.sourcePosition, this.entries.length);
      const source = this.entries[at];
      if (source === undefined || source.at !== record.sourcePosition) return false;
      const sourceEvent = source.event;
      const sourceState = this.streams.get(sourceEvent.stream)!;
      const state = record.category
        ? this.categoryStateOf(sourceState)
        : this.eventTypeStateOf(sourceEvent.revision === TOMBSTONE_REVISION ? '$deleted' : sourceEvent.type);
      if (state === undefined) return false;
      const link = new LinkEvent(
        state.name,
        record.revision,
        position,
        sourceEvent,
        sourceState,
        record.idBytes,
        record.idOffset,
      );
      this.entries.push(link);
      state.events.push(link);
      return true;
    }
    const event = new LoggedEvent(
      record.id,
      record.stream,
      record.revision,
      position,
      record.type,
      record.isJson,
      record.data,
      record.metadata,
      record.created,
    );
    this.index(event, this.stateFor(record.stream));
    // Recovery caches eagerly: format-1 links (kept as plain records) are not cached.
    if (record.sourcePosition < 0) this.cacheId(event);
    return true;
  }

  /**
   * Writes the links a crash kept from being written: links follow their sources in log
   * order, so every source after the last linked one (per projection) needs its link.
   */
  private async reproject(upTo: { readonly category: number; readonly eventType: number }): Promise<void> {
    if (!this.byCategory && !this.byEventType) return;
    const placed: Placed[] = [];
    const firstEntry = this.entries.length;
    const threshold = Math.min(
      this.byCategory ? upTo.category : Number.MAX_SAFE_INTEGER,
      this.byEventType ? upTo.eventType : Number.MAX_SAFE_INTEGER,
    );
    const start = this.indexOfFirstAfter(threshold);
    const end = this.entries.length;
    for (let i = start; i < end; i++) {
      const record = this.entries[i]!;
      const source = record.event;
      if (source.stream.charCodeAt(0) === 36) continue;
      const pos = record.at;
      this.placeLinksFor(placed, source, pos > upTo.category, pos > upTo.eventType);
    }
    if (this.entries.length === firstEntry) return;
    this.commit(placed, firstEntry);
    await this.durable();
  }

  // ---- helpers ----

  private validate(stream: string, events: readonly ProposedEvent[]): void {
    if (stream.length === 0)
      throw new InvalidEventError('The stream name is empty; give the append a stream name.');
    let size = 0;
    for (const e of events) {
      if (!e.id) {
        throw new InvalidEventError(
          `An event for stream '${stream}' has an empty id; give every event a UUID.`,
          stream,
        );
      }
      if (!e.type) {
        throw new InvalidEventError(
          `Event ${e.id} for stream '${stream}' has an empty type; name its type.`,
          stream,
        );
      }
      size += e.data.byteLength + e.metadata.byteLength + 2 * e.type.length;
    }
    if (size > this.maxAppendSize) throw new MaxAppendSizeExceededError(stream, this.maxAppendSize, size);
  }

  /** The latest cached event with this id (the newer generation holds the later one). */
  private recentEvent(id: string): StoredEvent | undefined {
    if (this.idsUpTo < this.entries.length) this.catchUpIds();
    return this.ids.get(id) ?? this.olderIds.get(id);
  }

  private nowTicks(): bigint {
    return BigInt(Math.floor(this.now())) * TICKS_PER_MS;
  }

  private hasMetadata(stream: string): boolean {
    return this.streamLength(`$$${stream}`) > 0;
  }

  private streamLength(stream: string): number {
    return this.streams.get(stream)?.events.length ?? 0;
  }

  private assertNotTombstoned(stream: string, state: StreamState | undefined): void {
    if (state?.tombstone) throw new StreamDeletedError(stream);
    if (stream.startsWith('$$') && this.streams.get(stream.slice(2))?.tombstone) {
      throw new StreamDeletedError(stream);
    }
  }

  private assertReadableNotTombstoned(stream: string, state: StreamState | undefined): void {
    if (state && this.tombstoneOf(state)) throw new StreamDeletedError(stream);
    if (stream.startsWith('$$')) {
      const target = this.streams.get(stream.slice(2));
      if (target && this.tombstoneOf(target)) throw new StreamDeletedError(stream);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError('The event log');
  }

  private assertWritable(): void {
    this.assertOpen();
    if (this.failure) throw this.failure;
  }

  /**
   * Index of the visible record at `position` (or of the end for the end-of-log
   * position); 0 for position 0 (the start).
   */
  private indexOfPosition(position: bigint): number {
    if (position === 0n) return 0;
    const count = this.visible;
    const index = this.indexOfFirstAtOrAfter(Number(position), count);
    if (index < count && this.entries[index]!.at === Number(position)) return index;
    if (index === count && count > 0 && position === this.endPosition(count)) return count;
    throw new InvalidPositionError(position);
  }

  private endPosition(count: number): bigint {
    const last = this.entries[count - 1]!;
    const event = last.event;
    return last.position + BigInt(event instanceof LinkEvent ? LINK_RECORD_SIZE : recordSize(event));
  }

  private indexOfFirstAfter(position: number): number {
    const at = this.indexOfFirstAtOrAfter(position, this.entries.length);
    const entry = this.entries[at];
    return entry !== undefined && entry.at === position ? at + 1 : at;
  }

  /** Binary search on the records' numeric positions (a bigint getter would allocate per step). */
  private indexOfFirstAtOrAfter(position: number, count: number): number {
    let lo = 0;
    let hi = count;
    const entries = this.entries;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (entries[mid]!.at < position) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** The `actual` of a WrongExpectedVersionError: the last revision, undefined for no stream. */
function actualOf(cur: number): bigint | undefined {
  return cur < 0 ? undefined : BigInt(cur);
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** A bigint revision as an array index; huge values clamp (they never match a real revision). */
function clampRevision(revision: bigint): number {
  return revision > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(revision);
}

function describeExpected(expected: ExpectedRevision): string | bigint {
  return expected;
}
