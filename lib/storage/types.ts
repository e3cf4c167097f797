/**
 * The storage engine's public contract: what lib/server and lib/store/local build on.
 *
 * Revisions and positions are bigints because EventStoreDB's are unsigned 64-bit
 * numbers on the wire. `created` is .NET ticks (100 ns) since the Unix epoch, which is
 * what EventStoreDB stores and sends.
 */

/** An event proposed for append, as it arrives from a client. */
export interface ProposedEvent {
  /** Event id (a UUID string); the key for idempotent re-appends. */
  readonly id: string;
  readonly type: string;
  /** True when the content type is `application/json` (the only content type kept). */
  readonly isJson: boolean;
  readonly data: Uint8Array;
  /** User metadata bytes (`custom_metadata` on the wire). */
  readonly metadata: Uint8Array;
}

/** An event as stored in the log. */
export interface StoredEvent {
  readonly id: string;
  readonly stream: string;
  /** Event number in its stream. A tombstone record has `TOMBSTONE_REVISION`. */
  readonly revision: bigint;
  /** Log position; commit == prepare for every event, as in EventStoreDB 24.x. */
  readonly position: bigint;
  readonly type: string;
  readonly isJson: boolean;
  readonly data: Uint8Array;
  readonly metadata: Uint8Array;
  /** .NET ticks since the Unix epoch. */
  readonly created: bigint;
}

/**
 * A read result. Without `resolveLinks`, `event` is the record as stored. With it, a
 * `$>` link record becomes `{ event: target, link: linkRecord }`, and `event` is
 * undefined when the target is missing, truncated or deleted.
 */
export interface ResolvedEvent {
  readonly event?: StoredEvent;
  readonly link?: StoredEvent;
  /** Position of the original record (the link when there is one). */
  readonly position: bigint;
}

/** `any`, `no_stream`, `stream_exists`, or an exact revision. */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;

export interface AppendResult {
  /** Last event number of the stream after the append (-1n: no events, e.g. an empty append to a new stream). */
  readonly nextRevision: bigint;
  /** Position of the last event written (or of the original last event on an idempotent re-append). */
  readonly position: bigint;
}

/** Event number EventStoreDB gives a tombstone: long.MaxValue. */
export const TOMBSTONE_REVISION = 9223372036854775807n;

export type ReadDirection = 'forwards' | 'backwards';

export interface ReadStreamOptions {
  /** Inclusive start revision, or 'start' / 'end'. @default 'start' forwards, 'end' backwards */
  readonly from?: bigint | 'start' | 'end';
  /** @default 'forwards' */
  readonly direction?: ReadDirection;
  /** @default unlimited */
  readonly maxCount?: number;
  /** @default false */
  readonly resolveLinks?: boolean;
}

export interface ReadAllOptions {
  /** Forwards: events at position >= from; backwards: events at position < from. */
  readonly from?: bigint | 'start' | 'end';
  readonly direction?: ReadDirection;
  readonly maxCount?: number;
  readonly resolveLinks?: boolean;
}

/** A server-side filter for $all subscriptions (EventStoreDB semantics). */
export interface EventFilter {
  readonly on: 'streamName' | 'eventType';
  /** Unanchored regular expression; used when non-empty. */
  readonly regex?: string;
  /** Any-of prefixes; used when there is no regex. */
  readonly prefixes?: readonly string[];
  /**
   * Send a checkpoint every `checkpointInterval` considered events (filtered-out ones
   * included) and at the end of catch-up.
   */
  readonly checkpointInterval: number;
}

export type SubscriptionMessage =
  | { readonly kind: 'event'; readonly event: ResolvedEvent }
  | { readonly kind: 'caughtUp' }
  | { readonly kind: 'checkpoint'; readonly position: bigint };

export interface StreamSubscriptionOptions {
  /** Exclusive start revision; 'start' delivers everything, 'end' only new events. */
  readonly from: bigint | 'start' | 'end';
  readonly resolveLinks?: boolean;
}

export interface AllSubscriptionOptions {
  /** Exclusive start position; 'start' delivers everything, 'end' only new events. */
  readonly from: bigint | 'start' | 'end';
  readonly resolveLinks?: boolean;
  readonly filter?: EventFilter;
}

/**
 * A pull-based subscription: catch-up, then one `caughtUp`, then live, with no gap and
 * no duplicate. Nothing is read ahead of the consumer, so a slow consumer holds no
 * memory beyond its cursor (backpressure by pulling).
 */
export interface LogSubscription extends AsyncIterable<SubscriptionMessage> {
  /** Ends the subscription; a pending `next()` resolves with `done`. */
  close(): void;
}

export interface EventLogOptions {
  /** Directory for segment files and the lock file. Required unless `memory`. */
  readonly dir?: string;
  /** Keep everything in memory (tests). @default false */
  readonly memory?: boolean;
  /** Largest total append, in EventStoreDB's size formula. @default 1_048_576 */
  readonly maxAppendSize?: number;
  /** Write `$ce-<category>` links ($by_category). @default true */
  readonly byCategory?: boolean;
  /** Write `$et-<type>` links ($by_event_type). @default true */
  readonly byEventType?: boolean;
  /** Segment file size before rolling to a new one. @default 256 MiB */
  readonly segmentSize?: number;
  /** Where recovery notices (e.g. a truncated torn tail) go. @default console.warn */
  readonly log?: (message: string) => void;
  /** Milliseconds since the Unix epoch, for `created` and `$maxAge` (injectable for tests). @default Date.now */
  readonly now?: () => number;
}
