import type { Subscription } from 'rxjs';
import type {
  EventStore,
  StoredEventRecord,
  SubscriptionBatch,
  SubscriptionSource,
} from '../store/event-store';
import { backoffDelay } from './backoff';
import { CheckpointTracker, type CheckpointTicket } from './checkpoint-tracker';
import { type Clock, sleep } from './clock';
import type { Logger } from './logger';

/**
 * One reader of a shared subscription with a checkpoint of its own: every lane sees every
 * event (except those at or before its own stored checkpoint after a restart), and the
 * checkpoint of one lane is never held back by work pending in another.
 */
export interface SubscriptionLane {
  /** Checkpoint name in the store; one per lane and source. */
  readonly name: string;
  /**
   * Takes one event. Synchronous: it only enqueues work, and calls `ticket.done()` once
   * that work's effects are in the store (or the event needs none). `live`: the event came
   * after the subscription caught up, so it was appended after this subscription started
   * (it cannot be one this worker's previous run, or a dropped subscription, handled).
   */
  readonly onEvent: (event: StoredEventRecord, ticket: CheckpointTicket, live: boolean) => void;
}

/** Options of {@link SubscriptionConsumer}. */
export interface SubscriptionConsumerOptions {
  readonly store: EventStore;
  /** Checkpoint name in the store; one per consumer and source (the single lane's name). */
  readonly name: string;
  readonly source: SubscriptionSource;
  readonly clock: Clock;
  readonly logger: Logger;
  /**
   * Takes one event. Synchronous: it only enqueues work, and calls `ticket.done()` once
   * that work's effects are in the store (or the event needs none). Ignored when `lanes`
   * is given.
   */
  readonly onEvent?: (event: StoredEventRecord, ticket: CheckpointTicket) => void;
  /**
   * Several readers of one subscription, each with its own checkpoint (one read of the
   * source instead of one per reader). Default: one lane, `{ name, onEvent }`.
   */
  readonly lanes?: readonly SubscriptionLane[];
  /** Resolves when there is room for another page (backpressure from the work queues). */
  readonly waitForCapacity: () => Promise<void>;
  /** Resolves when every event handed to `onEvent` so far is done or parked. */
  readonly drain: () => Promise<void>;
  /** Events per page pulled from the subscription. @default 256 */
  readonly batchSize?: number;
  /**
   * Most events of one page handed to the lanes before `waitForCapacity` is awaited again,
   * so a page far bigger than asked for (a store or client delivering 1e5 events at once)
   * is decoded and queued a slice at a time: memory follows this, not the page.
   * @default batchSize
   */
  readonly sliceSize?: number;
  /** Store the checkpoint after this many events become safe. @default 512 */
  readonly checkpointEvery?: number;
  /**
   * Called each time the subscription has handed the lanes everything stored when it
   * (re)subscribed; {@link SubscriptionConsumer.caughtUp} turns true at the same moment.
   */
  readonly onCaughtUp?: () => void;
  /** Also store it this often, in ms, when it moved. @default 1000 */
  readonly checkpointIntervalMs?: number;
}

interface Lane {
  readonly name: string;
  readonly onEvent: (event: StoredEventRecord, ticket: CheckpointTicket, live: boolean) => void;
  tracker: CheckpointTracker;
  /** The checkpoint last written to the store. */
  stored: bigint | undefined;
  /** Events at or before this were handled by this lane already (after a resubscribe or restart). */
  handledThrough: bigint | undefined;
}

/**
 * One checkpointed subscription: reads the stored checkpoint, subscribes after it, pulls
 * one page at a time, and stores the safe checkpoint (see {@link CheckpointTracker})
 * periodically and on stop, never ahead of the work. A dropped subscription is resumed
 * from the safe checkpoint after the in-flight work settles; duplicates this causes are
 * absorbed by the per-instance input dedupe. With several lanes, one subscription feeds
 * them all, from the earliest lane checkpoint, and each lane stores its own.
 *
 * At most one checkpoint write is in flight: the event count that triggers a flush restarts
 * when the flush starts, and no flush is triggered by events while one is pending.
 */
export class SubscriptionConsumer {
  private readonly lanes: Lane[];
  private subscription: Subscription | undefined;
  private sinceFlush = 0;
  private flushing: Promise<void> | undefined;
  private flushAgain = false;
  private cancelTimer: (() => void) | undefined;
  private stopped = true;
  private failures = 0;
  private caughtUpFlag = false;
  private generation = 0;
  private lastSeen: bigint | undefined;

  constructor(private readonly options: SubscriptionConsumerOptions) {
    const lanes =
      options.lanes ?? (options.onEvent ? [{ name: options.name, onEvent: options.onEvent }] : undefined);
    if (!lanes || lanes.length === 0) throw new Error(`Consumer '${options.name}' needs onEvent or lanes.`);
    this.lanes = lanes.map((lane) => ({
      name: lane.name,
      onEvent: lane.onEvent,
      tracker: new CheckpointTracker(),
      stored: undefined,
      handledThrough: undefined,
    }));
  }

  /** True once the subscription has delivered everything stored when it started. */
  get caughtUp(): boolean {
    return this.caughtUpFlag;
  }

  /** The checkpoint of the last event or position received (undefined: none yet). */
  get lastSeenCheckpoint(): bigint | undefined {
    return this.lastSeen;
  }

  /** The checkpoint last written to the store (the earliest over the lanes). */
  get storedCheckpoint(): bigint | undefined {
    return earliest(this.lanes.map((lane) => lane.stored));
  }

  /**
   * True when this consumer has received everything its source held when asked: the
   * subscription's `caughtUp` alone cannot tell whether an event appended a moment ago
   * is still on its way. For `$all` sources only `caughtUp` is checked.
   */
  async hasReceivedAll(): Promise<boolean> {
    if (!this.caughtUpFlag) return false;
    const source = this.options.source;
    const stream =
      'category' in source ? `$ce-${source.category}` : 'stream' in source ? source.stream : undefined;
    if (stream === undefined) return true;
    const [last] = await this.options.store.readStream(stream, { direction: 'backwards', maxCount: 1 });
    if (!last) return true;
    const head = last.link?.revision ?? last.revision;
    return this.lastSeen !== undefined && this.lastSeen >= head;
  }

  /** Events taken but not yet safe (summed over the lanes). */
  get outstanding(): number {
    let n = 0;
    for (const lane of this.lanes) n += lane.tracker.outstanding;
    return n;
  }

  /** Reads the checkpoints and subscribes after the earliest. */
  async start(): Promise<void> {
    this.stopped = false;
    for (const lane of this.lanes) {
      lane.stored = await this.options.store.readCheckpoint(lane.name);
      lane.handledThrough = lane.stored;
    }
    this.subscribeFrom(this.storedCheckpoint);
    this.scheduleFlush();
  }

  /** Stops pulling pages, waits for the work taken so far, then stores the checkpoint. */
  async stop(): Promise<void> {
    this.halt();
    await this.options.drain();
    await this.flush();
  }

  /** Stops pulling pages; work already taken goes on. */
  halt(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.generation++;
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.cancelTimer?.();
  }

  /**
   * Stores every lane's safe checkpoint if it moved. One write round at a time: a call
   * while one runs is served by a single further round after it (whatever became safe
   * by then), so calls never queue up writes.
   */
  flush(): Promise<void> {
    if (this.flushing) {
      this.flushAgain = true;
      return this.flushing;
    }
    this.sinceFlush = 0;
    const run = async (): Promise<void> => {
      do {
        this.flushAgain = false;
        for (const lane of this.lanes) await this.writeLane(lane);
      } while (this.flushAgain);
      this.flushing = undefined;
    };
    this.flushing = run();
    return this.flushing;
  }

  private async writeLane(lane: Lane): Promise<void> {
    const safe = lane.tracker.safeCheckpoint;
    if (safe === undefined || (lane.stored !== undefined && safe <= lane.stored)) return;
    try {
      await this.options.store.writeCheckpoint(lane.name, safe);
      lane.stored = safe;
    } catch (error) {
      // A lost checkpoint write only means more replay after a crash; keep going.
      this.options.logger.warn('checkpoint write failed', {
        consumer: lane.name,
        error: String(error),
      });
    }
  }

  private subscribeFrom(from: bigint | undefined): void {
    const generation = ++this.generation;
    for (const lane of this.lanes) lane.tracker = new CheckpointTracker(from);
    this.caughtUpFlag = false;
    this.lastSeen = from;
    const batches = this.options.store.subscribe(this.options.source, {
      from,
      batchSize: this.options.batchSize ?? 256,
    });
    this.subscription = batches.subscribe({
      next: (batch) => {
        void this.take(batch, generation);
      },
      error: (error: unknown) => {
        void this.resubscribe(error, generation);
      },
    });
  }

  private async take(batch: SubscriptionBatch, generation: number): Promise<void> {
    if (generation !== this.generation) return;
    const lanes = this.lanes;
    const items = batch.items;
    const slice = Math.max(1, this.options.sliceSize ?? this.options.batchSize ?? 256);
    let sliced = 0;
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as (typeof items)[number];
      switch (item.kind) {
        case 'event': {
          this.sinceFlush++;
          this.lastSeen = item.checkpoint;
          for (const lane of lanes) {
            if (lane.handledThrough !== undefined && item.checkpoint <= lane.handledThrough)
              lane.tracker.skip(item.checkpoint);
            else lane.onEvent(item.event, lane.tracker.track(item.checkpoint), this.caughtUpFlag);
          }
          // Hand the rest of a big page over only as the work queues make room.
          if (++sliced >= slice && i < items.length - 1) {
            sliced = 0;
            this.failures = 0;
            await this.options.waitForCapacity();
            if (generation !== this.generation) return;
            if (this.sinceFlush >= (this.options.checkpointEvery ?? 512) && !this.flushing) void this.flush();
          }
          break;
        }
        case 'unresolved':
        case 'checkpoint':
          this.lastSeen = item.checkpoint;
          for (const lane of lanes) lane.tracker.skip(item.checkpoint);
          break;
        case 'caughtUp':
          this.caughtUpFlag = true;
          this.options.onCaughtUp?.();
          break;
      }
    }
    this.failures = 0;
    await this.options.waitForCapacity();
    if (this.sinceFlush >= (this.options.checkpointEvery ?? 512) && !this.flushing) void this.flush();
    if (generation === this.generation) batch.ack();
  }

  private async resubscribe(error: unknown, generation: number): Promise<void> {
    if (generation !== this.generation || this.stopped) return;
    this.failures++;
    this.options.logger.warn('subscription dropped; resuming from the safe checkpoint', {
      consumer: this.options.name,
      error: String(error),
    });
    this.subscription = undefined;
    await this.options.drain();
    await this.flush();
    await sleep(this.options.clock, backoffDelay(this.failures, { initialDelayMs: 100, maxDelayMs: 5000 }));
    if (generation !== this.generation || this.stopped) return;
    for (const lane of this.lanes) lane.handledThrough = lane.tracker.safeCheckpoint ?? lane.stored;
    this.subscribeFrom(earliest(this.lanes.map((lane) => lane.handledThrough)));
  }

  private scheduleFlush(): void {
    this.cancelTimer = this.options.clock.setTimer(() => {
      if (this.stopped) return;
      void this.flush().then(() => this.scheduleFlush());
    }, this.options.checkpointIntervalMs ?? 1000);
  }
}

/** The earliest checkpoint; undefined (the start) when any is undefined. */
function earliest(checkpoints: readonly (bigint | undefined)[]): bigint | undefined {
  let min: bigint | undefined;
  for (const c of checkpoints) {
    if (c === undefined) return undefined;
    if (min === undefined || c < min) min = c;
  }
  return min;
}
