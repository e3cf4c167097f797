/**
 * Per-key FIFO queues drained with bounded concurrency across keys.
 *
 * Items of one key run strictly one after another, in push order; up to `concurrency`
 * keys run at once. Enqueue and dequeue are O(1) whatever the backlog (no `Array.shift`,
 * no RxJS `concatMap`/`mergeMap`, which degrade with large backlogs: BENCHMARKS.md).
 */

/** A FIFO with O(1) push and shift (a growable ring would do too; a head index is simpler). */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head++;
    // Compact once the dead prefix dominates, so memory follows the live length.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Removes and returns every item, oldest first. */
  drain(): T[] {
    const out = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return out;
  }
}

interface KeyQueue<T> {
  readonly items: Fifo<T>;
  running: boolean;
  paused: boolean;
  ready: boolean;
}

/** Options of {@link KeyedWorkQueue}. */
export interface KeyedWorkQueueOptions<T> {
  /** Most keys worked on at once. @default 16 */
  readonly concurrency?: number;
  /** Does the work for one item; must not throw (errors are reported to `onError` if it does). */
  readonly worker: (key: string, item: T) => Promise<void>;
  /** Called with an error the worker threw; the item counts as done. */
  readonly onError?: (error: unknown, key: string, item: T) => void;
}

/** See the module comment. */
export class KeyedWorkQueue<T> {
  private readonly keys = new Map<string, KeyQueue<T>>();
  private readonly ready = new Fifo<string>();
  private readonly concurrency: number;
  private running = 0;
  private pending = 0;
  /** Items waiting under paused keys (kept as a counter: scanning keys would be O(keys) per item). */
  private parked = 0;
  private idleWaiters: (() => void)[] = [];
  private capacityWaiters: { limit: number; resolve: () => void }[] = [];

  constructor(private readonly options: KeyedWorkQueueOptions<T>) {
    this.concurrency = Math.max(1, options.concurrency ?? 16);
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
      queue = { items: new Fifo<T>(), running: false, paused: false, ready: false };
      this.keys.set(key, queue);
    }
    queue.items.push(item);
    this.pending++;
    if (queue.paused) this.parked++;
    this.markReady(key, queue);
    this.pump();
  }

  /** Stops starting items of `key` (the running one finishes); later pushes wait. */
  pause(key: string): void {
    const queue = this.keys.get(key);
    if (queue) {
      if (!queue.paused) this.parked += queue.items.length;
      queue.paused = true;
      this.settle();
    } else this.keys.set(key, { items: new Fifo<T>(), running: false, paused: true, ready: false });
  }

  /** Lets `key`'s items run again. */
  resume(key: string): void {
    const queue = this.keys.get(key);
    if (!queue || !queue.paused) return;
    queue.paused = false;
    this.parked -= queue.items.length;
    this.markReady(key, queue);
    this.cleanup(key, queue);
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
    this.cleanup(key, queue);
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

  private markReady(key: string, queue: KeyQueue<T>): void {
    if (!queue.ready && !queue.running && !queue.paused && queue.items.length > 0) {
      queue.ready = true;
      this.ready.push(key);
    }
  }

  private cleanup(key: string, queue: KeyQueue<T>): void {
    if (!queue.running && !queue.paused && !queue.ready && queue.items.length === 0) this.keys.delete(key);
  }

  private pump(): void {
    while (this.running < this.concurrency && this.ready.length > 0) {
      const key = this.ready.shift() as string;
      const queue = this.keys.get(key);
      if (!queue) continue;
      queue.ready = false;
      if (queue.paused || queue.running || queue.items.length === 0) {
        this.cleanup(key, queue);
        continue;
      }
      const item = queue.items.shift() as T;
      queue.running = true;
      this.running++;
      void this.run(key, queue, item);
    }
    this.settle();
  }

  private async run(key: string, queue: KeyQueue<T>, item: T): Promise<void> {
    try {
      await this.options.worker(key, item);
    } catch (error) {
      this.options.onError?.(error, key, item);
    } finally {
      queue.running = false;
      this.running--;
      this.pending--;
      // Re-queue the key behind the others: one busy instance cannot starve the rest.
      this.markReady(key, queue);
      this.cleanup(key, queue);
      this.pump();
    }
  }

  private settle(): void {
    if (this.capacityWaiters.length > 0) {
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
