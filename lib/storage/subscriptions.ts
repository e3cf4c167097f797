import { InvalidFilterError, StreamDeletedError } from '../errors';
import type { StreamState } from './event-log';
import type { AllSubscriptionOptions, LogSubscription, ResolvedEvent, SubscriptionMessage } from './types';

/**
 * What a subscription needs from the log: the in-memory indexes, the durable watermark,
 * and a wake-up when new records become visible. Subscriptions are cursors over those
 * indexes, so catch-up and live are one loop and nothing can be skipped or repeated.
 */
export interface SubscriptionHost {
  readonly entries: readonly ResolvedEvent[];
  readonly visibleCount: number;
  readonly isClosed: boolean;
  streamState(stream: string): StreamState | undefined;
  visibleLength(state: StreamState): number;
  tombstoneOf(state: StreamState): ResolvedEvent | undefined;
  minReadable(state: StreamState, length: number): number;
  expiryTicks(state: StreamState): bigint | undefined;
  resolve(entry: ResolvedEvent): ResolvedEvent;
  waitFor(stream: string | undefined, wake: () => void): () => void;
  forget(sub: LogSubscription): void;
}

/** EventStoreDB's default $all filter: hides the epoch stream and $all persistent-subscription bookkeeping. */
export function hiddenFromAll(stream: string): boolean {
  if (stream.charCodeAt(0) !== 36 /* $ */) return false;
  if (stream === '$epoch-information') return true;
  return (
    stream.startsWith('$persistentsubscription-$all::') &&
    (stream.endsWith('-checkpoint') || stream.endsWith('-parked'))
  );
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };
const CAUGHT_UP: IteratorYieldResult<SubscriptionMessage> = { done: false, value: { kind: 'caughtUp' } };

/** Shared lifecycle: closing, waiting for new records, iterator protocol. */
abstract class Subscription implements LogSubscription, AsyncIterator<SubscriptionMessage, undefined> {
  protected closed = false;
  private wake: (() => void) | undefined;
  private unregister: (() => void) | undefined;

  protected constructor(
    protected readonly host: SubscriptionHost,
    protected readonly resolveLinks: boolean,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<SubscriptionMessage, undefined> {
    return this;
  }

  abstract next(): Promise<IteratorResult<SubscriptionMessage, undefined>>;

  /** Ends the iteration early (`break` in `for await`). */
  async return(): Promise<IteratorReturnResult<undefined>> {
    this.close();
    return DONE;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unregister?.();
    this.unregister = undefined;
    const wake = this.wake;
    this.wake = undefined;
    this.host.forget(this);
    wake?.();
  }

  protected get ended(): boolean {
    return this.closed || this.host.isClosed;
  }

  protected event(entry: ResolvedEvent): IteratorYieldResult<SubscriptionMessage> {
    return {
      done: false,
      value: { kind: 'event', event: this.resolveLinks ? this.host.resolve(entry) : entry },
    };
  }

  /** Resolves when `stream` (or `$all`) has new visible records, or on close. */
  protected changed(stream: string | undefined): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.unregister = this.host.waitFor(stream, () => {
        this.unregister = undefined;
        this.wake = undefined;
        resolve();
      });
    });
  }
}

/** A catch-up subscription to one stream (see `EventLog.subscribeToStream`). */
export class StreamSubscription extends Subscription {
  private caughtUp = false;
  private tombstoneSent = false;

  constructor(
    host: SubscriptionHost,
    private readonly stream: string,
    /** Next revision to deliver. */
    private revision: number,
    /** Revisions below this are catch-up; `caughtUp` comes once they are delivered. */
    private readonly catchUpEnd: number,
    resolveLinks: boolean,
  ) {
    super(host, resolveLinks);
  }

  async next(): Promise<IteratorResult<SubscriptionMessage, undefined>> {
    for (;;) {
      if (this.ended) return DONE;
      const host = this.host;
      const state = host.streamState(this.stream);
      if (state) {
        const tombstone = host.tombstoneOf(state);
        const length = host.visibleLength(state);
        if (!this.caughtUp) {
          if (tombstone) this.deleted();
          if (this.revision < this.catchUpEnd) {
            const min = host.minReadable(state, length);
            if (this.revision < min) this.revision = min;
            const expiry = host.expiryTicks(state);
            while (this.revision < this.catchUpEnd && this.revision < length) {
              const entry = state.events[this.revision++]!;
              if (expiry !== undefined && entry.event.created < expiry) continue;
              return this.event(entry);
            }
          }
          this.caughtUp = true;
          return CAUGHT_UP;
        }
        if (this.revision < length) return this.event(state.events[this.revision++]!);
        if (tombstone) {
          if (this.tombstoneSent) this.deleted();
          this.tombstoneSent = true;
          return this.event(tombstone);
        }
      } else if (!this.caughtUp) {
        this.caughtUp = true;
        return CAUGHT_UP;
      }
      await this.changed(this.stream);
    }
  }

  private deleted(): never {
    this.close();
    throw new StreamDeletedError(this.stream);
  }
}

/** A catch-up subscription to `$all`, optionally filtered (see `EventLog.subscribeToAll`). */
export class AllSubscription extends Subscription {
  private caughtUp = false;
  private caughtUpPending = false;
  private checkpointPending: bigint | undefined;
  private lastCheckpoint: bigint | undefined;
  private lastConsidered: bigint | undefined;
  private considered = 0;
  private readonly matches: ((entry: ResolvedEvent) => boolean) | undefined;
  private readonly interval: number;

  constructor(
    host: SubscriptionHost,
    /** Index in `$all` of the next record to consider. */
    private index: number,
    /** Records below this index are catch-up. */
    private readonly catchUpEnd: number,
    /** Checkpoint reported at the end of catch-up when nothing was considered. */
    private readonly startPosition: bigint,
    options: AllSubscriptionOptions,
  ) {
    super(host, options.resolveLinks ?? false);
    const filter = options.filter;
    this.interval = Math.max(1, Math.floor(filter?.checkpointInterval ?? 1));
    if (filter) {
      const byType = filter.on === 'eventType';
      if (filter.regex) {
        let regex: RegExp;
        try {
          regex = new RegExp(filter.regex);
        } catch (cause) {
          throw new InvalidFilterError(filter.regex, { cause });
        }
        this.matches = (entry) => regex.test(byType ? entry.event!.type : entry.event!.stream);
      } else {
        const prefixes = filter.prefixes ?? [];
        this.matches = (entry) => {
          const value = byType ? entry.event!.type : entry.event!.stream;
          for (const prefix of prefixes) if (value.startsWith(prefix)) return true;
          return false;
        };
      }
    }
  }

  async next(): Promise<IteratorResult<SubscriptionMessage, undefined>> {
    for (;;) {
      if (this.ended) return DONE;
      if (this.checkpointPending !== undefined) {
        const position = this.checkpointPending;
        this.checkpointPending = undefined;
        this.lastCheckpoint = position;
        return { done: false, value: { kind: 'checkpoint', position } };
      }
      if (this.caughtUpPending) {
        this.caughtUpPending = false;
        this.caughtUp = true;
        return CAUGHT_UP;
      }
      const host = this.host;
      const limit = this.caughtUp ? host.visibleCount : this.catchUpEnd;
      const entries = host.entries;
      const matches = this.matches;
      while (this.index < limit) {
        const entry = entries[this.index++]!;
        if (hiddenFromAll(entry.event!.stream)) continue;
        if (matches === undefined) return this.event(entry);
        this.considered++;
        this.lastConsidered = entry.position;
        if (this.considered % this.interval === 0) this.checkpointPending = entry.position;
        if (matches(entry)) return this.event(entry);
        if (this.checkpointPending !== undefined) break;
      }
      if (this.checkpointPending !== undefined) continue;
      if (!this.caughtUp) {
        if (matches === undefined) {
          this.caughtUp = true;
          return CAUGHT_UP;
        }
        const position = this.lastConsidered ?? this.startPosition;
        if (position !== this.lastCheckpoint) this.checkpointPending = position;
        this.caughtUpPending = true;
        continue;
      }
      await this.changed(undefined);
    }
  }
}
