import type { CheckpointTicket } from './checkpoint-tracker';
import type { Clock } from './clock';

interface Entry {
  readonly processId: string;
  readonly key: string;
  readonly dueAt: number;
  readonly ticket: CheckpointTicket;
  fired: boolean;
}

/**
 * The due-timer index of one process: pending timeouts from `TimeoutScheduled` events,
 * ordered by due time in a binary heap, armed on the injected clock. Firing calls
 * `fire`, which feeds the instance; the timer leaves the index when its TimeoutFired or
 * TimeoutCancelled event comes back through the subscription, and only then is the
 * TimeoutScheduled event's checkpoint ticket done (so a restart rebuilds pending timers).
 */
export class TimerIndex {
  private readonly entries = new Map<string, Entry>();
  private heap: Entry[] = [];
  private cancelArm: (() => void) | undefined;
  private armedAt: number | undefined;
  private stopped = false;
  /** Fires handed to the instance queue and not yet decided. */
  firing = 0;

  constructor(
    private readonly clock: Clock,
    private readonly fire: (processId: string, key: string, dueAt: Date) => Promise<void>,
  ) {}

  /** Pending timers. */
  get size(): number {
    return this.entries.size;
  }

  schedule(processId: string, key: string, dueAt: Date, ticket: CheckpointTicket): void {
    const id = `${processId}\u0000${key}`;
    this.entries.get(id)?.ticket.done();
    const entry: Entry = { processId, key, dueAt: dueAt.getTime(), ticket, fired: false };
    this.entries.set(id, entry);
    this.push(entry);
    this.arm();
  }

  /** Removes a timer that fired or was cancelled (only the one due at `dueAt`, when given). */
  settle(processId: string, key: string, dueAt?: Date): void {
    const id = `${processId}\u0000${key}`;
    const entry = this.entries.get(id);
    if (!entry || (dueAt && entry.dueAt !== dueAt.getTime())) return;
    this.entries.delete(id);
    entry.ticket.done();
  }

  stop(): void {
    this.stopped = true;
    this.cancelArm?.();
    this.cancelArm = undefined;
  }

  private arm(): void {
    if (this.stopped) return;
    const next = this.peekLive();
    if (!next) return;
    if (this.armedAt !== undefined && this.armedAt <= next.dueAt) return;
    this.cancelArm?.();
    this.armedAt = next.dueAt;
    this.cancelArm = this.clock.setTimer(() => this.onTimer(), next.dueAt - this.clock.now());
  }

  private onTimer(): void {
    this.cancelArm = undefined;
    this.armedAt = undefined;
    if (this.stopped) return;
    const now = this.clock.now();
    for (let next = this.peekLive(); next && next.dueAt <= now; next = this.peekLive()) {
      this.pop();
      next.fired = true;
      this.firing++;
      void this.fire(next.processId, next.key, new Date(next.dueAt)).finally(() => this.firing--);
    }
    this.arm();
  }

  /** The earliest entry still pending and not fired; drops stale heap nodes on the way. */
  private peekLive(): Entry | undefined {
    for (let top = this.heap[0]; top; top = this.heap[0]) {
      const live = this.entries.get(`${top.processId}\u0000${top.key}`);
      if (live === top && !top.fired) return top;
      this.pop();
    }
    return undefined;
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    heap.push(entry);
    for (let i = heap.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as Entry).dueAt <= entry.dueAt) break;
      heap[i] = heap[parent] as Entry;
      heap[parent] = entry;
      i = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (!last || heap.length === 0) return;
    heap[0] = last;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      if (l < heap.length && (heap[l] as Entry).dueAt < (heap[smallest] as Entry).dueAt) smallest = l;
      if (r < heap.length && (heap[r] as Entry).dueAt < (heap[smallest] as Entry).dueAt) smallest = r;
      if (smallest === i) break;
      [heap[i], heap[smallest]] = [heap[smallest] as Entry, heap[i] as Entry];
      i = smallest;
    }
  }
}
