/**
 * Per-key FIFO queues drained with bounded concurrency across keys.
 *
 * Items of one key run strictly one after another, in push order; up to `concurrency`
 * keys run at once. Enqueue and dequeue are O(1) whatever the backlog (no `Array.shift`,
 * no RxJS `concatMap`/`mergeMap`, which degrade with large backlogs: BENCHMARKS.md).
 */

/** Ring capacity a {@link Fifo} keeps when it empties; a bigger ring is dropped then. */
const KEPT_CAPACITY = 1024;

/**
 * A FIFO with O(1) push and shift: a ring buffer that doubles when full, so a steady queue
 * allocates nothing per item, and gives its memory back when it empties after a backlog.
 */
export class Fifo<T> {
  private ring: (T | undefined)[] = new Array<T | undefined>(4);
  private mask = 3;
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    if (this.count > this.mask) this.grow();
    this.ring[(this.head + this.count) & this.mask] = item;
    this.count++;
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.ring[this.head];
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.ring[this.head];
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    if (--this.count === 0) {
      this.head = 0;
      if (this.mask >= KEPT_CAPACITY) this.reset();
    }
    return item;
  }

  /** Removes and returns every item, oldest first. */
  drain(): T[] {
    const out = new Array<T>(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.ring[(this.head + i) & this.mask] as T;
    this.reset();
    return out;
  }

  private grow(): void {
    const ring = new Array<T | undefined>((this.mask + 1) * 2);
    for (let i = 0; i < this.count; i++) ring[i] = this.ring[(this.head + i) & this.mask];
    this.ring = ring;
    this.mask = ring.length - 1;
    this.head = 0;
  }

  private reset(): void {
    this.ring = new Array<T | undefined>(4);
    this.mask = 3;
    this.head = 0;
    this.count = 0;
  }
}

interface KeyQueue<T> {
  key: string;
  readonly items: Fifo<T>;
  running: boolean;
  paused: boolean;
  ready: boolean;
  /** Empty and at rest, but kept in the map: the key is likely to come back soon. */
  idle: boolean;
}

/** Options of {@link KeyedWorkQueue}. */
export interface KeyedWorkQueueOptions<T> {
  /** Most keys worked on at once. @default 16 */
  readonly concurrency?: number;
  /**
   * Most items of one key run back to back before the key goes behind the other ready keys,
   * so one busy key cannot hold a slot while others wait. @default 32
   */
  readonly burst?: number;
  /**
   * Does the work for one item; must not throw (errors are reported to `onError` if it does).
   * It may return nothing when it finished synchronously: the next item then starts without
   * waiting for a microtask.
   */
  readonly worker: (key: string, item: T) => Promise<void> | void;
  /** Called with an error the worker threw; the item counts as done. */
  readonly onError?: (error: unknown, key: string, item: T) => void;
}

/**
 * Empty key queues kept in the map until this many pile up, then swept: with a page of
 * events over many instances, most keys get an item per page, and deleting and re-adding
 * each one cost two more hash operations per item.
 */
const IDLE_KEYS = 2048;
/** Swept key queues kept for reuse. */
const POOLED_KEYS = 256;

/** See the module comment. */
export class KeyedWorkQueue<T> {
  private readonly keys = new Map<string, KeyQueue<T>>();
  private readonly ready = new Fifo<KeyQueue<T>>();
  private readonly pool: KeyQueue<T>[] = [];
  private readonly concurrency: number;
  private readonly burst: number;
  private readonly worker: (key: string, item: T) => Promise<void> | void;
  /** Workers looping over ready keys; each works on one key at a time. */
  private running = 0;
  private pending = 0;
  /** Items waiting under paused keys (kept as a counter: scanning keys would be O(keys) per item). */
  private parked = 0;
  private idleKeys = 0;
  private idleWaiters: (() => void)[] = [];
  private capacityWaiters: { limit: number; resolve: () => void }[] = [];

  constructor(private readonly options: KeyedWorkQueueOptions<T>) {
    this.concurrency = Math.max(1, options.concurrency ?? 16);
    this.burst = Math.max(1, options.burst ?? 32);
    this.worker = options.worker;
  }

  /** Items queued or running, paused keys included. */
  get size(): number {
    return this.pending;
  }

  /** Items queued or running, excluding those held under paused keys. */
  get activeSize(): number {
    return this.active();
  }

  /** Items queued under `key` (not counting one that is running). */
  queuedFor(key: string): number {
    return this.keys.get(key)?.items.length ?? 0;
  }

  /** Appends `item` to `key`'s queue. */
  push(key: string, item: T): void {
    let queue = this.keys.get(key);
    if (!queue) {
      queue = this.newQueue(key, false);
      this.keys.set(key, queue);
    } else if (queue.idle) {
      queue.idle = false;
      this.idleKeys--;
    }
    queue.items.push(item);
    this.pending++;
    if (queue.paused) this.parked++;
    else if (!queue.ready && !queue.running) {
      queue.ready = true;
      this.ready.push(queue);
      if (this.running < this.concurrency) this.start();
    }
  }

  /** Stops starting items of `key` (the running one finishes); later pushes wait. */
  pause(key: string): void {
    const queue = this.keys.get(key);
    if (queue) {
      if (queue.idle) {
        queue.idle = false;
        this.idleKeys--;
      }
      if (!queue.paused) this.parked += queue.items.length;
      queue.paused = true;
      this.settle();
    } else this.keys.set(key, this.newQueue(key, true));
  }

  /** Lets `key`'s items run again. */
  resume(key: string): void {
    const queue = this.keys.get(key);
    if (!queue || !queue.paused) return;
    queue.paused = false;
    this.parked -= queue.items.length;
    this.markReady(queue);
    this.rest(queue);
    this.pump();
  }

  /** True when `key` is paused. */
  isPaused(key: string): boolean {
    return this.keys.get(key)?.paused ?? false;
  }

  /** Removes the items waiting under `key` and returns them; the running one is unaffected. */
  take(key: string): T[] {
    const queue = this.keys.get(key);
    if (!queue) return [];
    const items = queue.items.drain();
    this.pending -= items.length;
    if (queue.paused) this.parked -= items.length;
    this.rest(queue);
    this.settle();
    return items;
  }

  /** Resolves once no item is queued or running, except items of paused keys. */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Resolves once fewer than `limit` items are queued or running (paused ones excluded). */
  whenBelow(limit: number): Promise<void> {
    if (this.active() < limit) return Promise.resolve();
    return new Promise((resolve) => this.capacityWaiters.push({ limit, resolve }));
  }

  private active(): number {
    return this.pending - this.parked;
  }

  private isIdle(): boolean {
    return this.running === 0 && this.active() === 0;
  }

  private newQueue(key: string, paused: boolean): KeyQueue<T> {
    const reused = this.pool.pop();
    if (!reused) return { key, items: new Fifo<T>(), running: false, paused, ready: false, idle: false };
    reused.key = key;
    reused.paused = paused;
    return reused;
  }

  private markReady(queue: KeyQueue<T>): void {
    if (!queue.ready && !queue.running && !queue.paused && queue.items.length > 0) {
      queue.ready = true;
      this.ready.push(queue);
    }
  }

  /** Marks an empty queue at rest as idle; sweeps the idle ones once too many pile up. */
  private rest(queue: KeyQueue<T>): void {
    if (queue.idle || queue.running || queue.paused || queue.ready || queue.items.length > 0) return;
    queue.idle = true;
    if (++this.idleKeys > IDLE_KEYS) this.sweep();
  }

  private sweep(): void {
    // Only the map references an idle queue (it is neither running nor ready).
    for (const [key, queue] of this.keys) {
      if (!queue.idle) continue;
      this.keys.delete(key);
      queue.idle = false;
      if (this.pool.length < POOLED_KEYS) this.pool.push(queue);
    }
    this.idleKeys = 0;
  }

  /** Starts workers for ready keys, up to the concurrency. */
  private pump(): void {
    while (this.running < this.concurrency && this.ready.length > 0) this.start();
    this.settle();
  }

  private start(): void {
    this.running++;
    void this.work();
  }

  /**
   * One worker: takes the next ready key, runs up to `burst` of its items back to back,
   * puts the key behind the other ready keys if it has more, and goes on with the next
   * ready key; it ends when none is left. One async call per worker, not one per item.
   */
  private async work(): Promise<void> {
    for (let queue = this.ready.shift(); queue !== undefined; queue = this.ready.shift()) {
      queue.ready = false;
      if (queue.paused || queue.items.length === 0) {
        this.rest(queue);
        continue;
      }
      queue.running = true;
      for (let n = 0; ;) {
        const item = queue.items.shift() as T;
        try {
          const result = this.worker(queue.key, item);
          if (result !== undefined) await result;
        } catch (error) {
          this.options.onError?.(error, queue.key, item);
        }
        this.pending--;
        if (this.capacityWaiters.length > 0) this.settle();
        if (++n >= this.burst || queue.paused || queue.items.length === 0) break;
      }
      queue.running = false;
      this.markReady(queue);
      this.rest(queue);
    }
    this.running--;
    this.settle();
  }

  /** True when some capacity waiter's limit is above the active count. */
  private canRelease(): boolean {
    const active = this.active();
    for (let i = 0; i < this.capacityWaiters.length; i++)
      if (active < (this.capacityWaiters[i] as { limit: number }).limit) return true;
    return false;
  }

  private settle(): void {
    // Runs after every item while a feed waits for room: allocate only when one can go.
    if (this.capacityWaiters.length > 0 && this.canRelease()) {
      const active = this.active();
      const still: typeof this.capacityWaiters = [];
      for (const waiter of this.capacityWaiters) {
        if (active < waiter.limit) waiter.resolve();
        else still.push(waiter);
      }
      this.capacityWaiters = still;
    }
    if (this.idleWaiters.length > 0 && this.isIdle()) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
