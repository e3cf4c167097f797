import type { Observable } from 'rxjs';

/**
 * The port between sagastream and an event store. Two adapters implement it:
 * `EventStoreDbEventStore` (any EventStoreDB/KurrentDB, or the embedded server, through
 * @eventstore/db-client) and `LocalEventStore` (the storage engine in-process).
 */

/** `any`, `no_stream`, `stream_exists`, or the exact revision the stream must be at. */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;

/** An event to append. `data` is JSON-serialisable; `metadata` becomes the event's JSON metadata. */
export interface EventToAppend {
  /** UUID; re-appending the same ids at the same expected revision is idempotent. */
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** An event read from the store. */
export interface StoredEventRecord {
  readonly id: string;
  readonly type: string;
  readonly stream: string;
  readonly revision: bigint;
  /** Commit position in $all. */
  readonly position: bigint;
  /** Parsed JSON, or the raw bytes when the event is not JSON (or its JSON is malformed). */
  readonly data: unknown;
  readonly isJson: boolean;
  /** Parsed JSON metadata; `{}` when absent. Raw bytes are in `rawMetadata`. */
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly rawData: Uint8Array;
  readonly rawMetadata: Uint8Array;
  readonly created: Date;
  /** When read through a link (e.g. from `$ce-order`), where the link sits. */
  readonly link?: {
    readonly id: string;
    readonly stream: string;
    readonly revision: bigint;
    readonly position: bigint;
  };
}

export interface AppendOptions {
  /** @default 'any' */
  readonly expectedRevision?: ExpectedRevision;
}

export interface AppendOutcome {
  /** The stream's last revision after the append. */
  readonly nextExpectedRevision: bigint;
  readonly position: bigint;
}

export interface ReadOptions {
  /** Inclusive start revision. @default start (forwards) / end (backwards) */
  readonly fromRevision?: bigint;
  /** @default 'forwards' */
  readonly direction?: 'forwards' | 'backwards';
  /** @default all */
  readonly maxCount?: number;
}

/** Where a subscription reads from. */
export type SubscriptionSource =
  /** One stream; `$ce-<category>` links are resolved. */
  | { readonly stream: string }
  /** `$ce-<category>`, links resolved. */
  | { readonly category: string }
  /** `$all`, optionally filtered server-side. */
  | {
      readonly all: true;
      readonly filter?: {
        readonly streamNamePrefixes?: readonly string[];
        readonly eventTypePrefixes?: readonly string[];
        readonly excludeSystemEvents?: boolean;
      };
    };

export interface SubscribeOptions {
  /**
   * Exclusive start: a revision for stream and category sources, a commit position for
   * $all. Omit to start at the beginning; `'end'` for live events only.
   */
  readonly from?: bigint | 'end';
  /** Largest number of messages per emitted batch. @default 256 */
  readonly batchSize?: number;
}

/** One message of a subscription. `checkpoint` is the value to pass back as `from` later. */
export type SubscriptionItem =
  | { readonly kind: 'event'; readonly event: StoredEventRecord; readonly checkpoint: bigint }
  | { readonly kind: 'caughtUp' }
  /** A link whose target is gone (deleted, truncated): nothing to handle, but it advances the checkpoint. */
  | { readonly kind: 'unresolved'; readonly checkpoint: bigint }
  | { readonly kind: 'checkpoint'; readonly checkpoint: bigint };

/**
 * A batch of subscription messages. The next batch is emitted only after `ack()`:
 * the subscriber pulls one page at a time, so a slow consumer keeps at most one batch
 * (plus the transport's bounded buffer) in memory.
 */
export interface SubscriptionBatch {
  readonly items: readonly SubscriptionItem[];
  ack(): void;
}

/** Stream metadata as EventStoreDB defines it; custom keys pass through. */
export interface StreamMetadata {
  readonly maxCount?: number;
  /** Seconds. */
  readonly maxAge?: number;
  readonly truncateBefore?: bigint;
  readonly [custom: string]: unknown;
}

export interface ReadAllOptions {
  /** Forwards: events at position >= fromPosition; backwards: events before it. */
  readonly fromPosition?: bigint;
  readonly direction?: 'forwards' | 'backwards';
  /** @default 1000 */
  readonly maxCount?: number;
}

/** The event store port. */
export interface EventStore {
  /** Appends atomically; throws WrongExpectedVersionError, StreamDeletedError, MaxAppendSizeExceededError. */
  append(stream: string, events: readonly EventToAppend[], options?: AppendOptions): Promise<AppendOutcome>;
  /** Reads a stream; `[]` when it does not exist (or was soft-deleted); StreamDeletedError when tombstoned. */
  readStream(stream: string, options?: ReadOptions): Promise<StoredEventRecord[]>;
  /**
   * Catch-up then live, as a cold Observable of batches (see {@link SubscriptionBatch}).
   * Unsubscribing ends the server-side subscription.
   */
  subscribe(source: SubscriptionSource, options?: SubscribeOptions): Observable<SubscriptionBatch>;
  /** Reads $all in commit order (system and link events included, as EventStoreDB does). */
  readAll(options?: ReadAllOptions): Promise<StoredEventRecord[]>;
  /** Soft delete: reads then return nothing; appending again recreates the stream, revisions continuing. */
  deleteStream(stream: string, options?: AppendOptions): Promise<void>;
  /** Permanent delete: every later operation on the stream throws StreamDeletedError. */
  tombstoneStream(stream: string, options?: AppendOptions): Promise<void>;
  setStreamMetadata(stream: string, metadata: StreamMetadata, options?: AppendOptions): Promise<void>;
  /** `{}` when the stream has no metadata. */
  getStreamMetadata(stream: string): Promise<StreamMetadata>;
  /** Last stored checkpoint for a named consumer, or undefined. */
  readCheckpoint(name: string): Promise<bigint | undefined>;
  /** Stores a checkpoint (as an event in `sagastreamCheckpoint-<name>`, keeping only the last). */
  writeCheckpoint(name: string, checkpoint: bigint): Promise<void>;
  /** Releases connections; pending subscriptions complete. */
  close(): Promise<void>;
}
