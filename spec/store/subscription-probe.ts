import type { Observable, Subscription } from 'rxjs';
import type { StoredEventRecord, SubscriptionBatch, SubscriptionItem } from '../../lib/store/event-store';

/**
 * Subscribes, acks every batch, and resolves with everything received once `done`
 * holds; fails with what it got so far if the deadline passes first.
 */
export function collectUntil(
  batches: Observable<SubscriptionBatch>,
  done: (items: readonly SubscriptionItem[]) => boolean,
  timeoutMs = 15_000,
): Promise<SubscriptionItem[]> {
  return new Promise<SubscriptionItem[]>((resolve, reject) => {
    const items: SubscriptionItem[] = [];
    let finished = false;
    const finish = (outcome: () => void): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      outcome();
      // Deferred: a batch may arrive before `subscribe` has returned the subscription.
      queueMicrotask(() => subscription.unsubscribe());
    };
    const timer = setTimeout(
      () =>
        finish(() => reject(new Error(`Timed out after ${timeoutMs} ms; received ${describeItems(items)}`))),
      timeoutMs,
    );
    const subscription = batches.subscribe({
      next: (batch) => {
        if (finished) return;
        items.push(...batch.items);
        if (done(items)) finish(() => resolve(items));
        else batch.ack();
      },
      error: (err: unknown) => finish(() => reject(err instanceof Error ? err : new Error(String(err)))),
      complete: () => finish(() => reject(new Error(`Completed early; received ${describeItems(items)}`))),
    });
  });
}

/** The events among the items. */
export function eventsOf(items: readonly SubscriptionItem[]): StoredEventRecord[] {
  return items.flatMap((item) => (item.kind === 'event' ? [item.event] : []));
}

/** A predicate for {@link collectUntil}: at least `count` events were received. */
export function atLeastEvents(count: number): (items: readonly SubscriptionItem[]) => boolean {
  return (items) => eventsOf(items).length >= count;
}

function describeItems(items: readonly SubscriptionItem[]): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item.kind, (counts.get(item.kind) ?? 0) + 1);
  return `${items.length} items (${[...counts].map(([kind, n]) => `${kind}: ${n}`).join(', ') || 'none'})`;
}

/**
 * Holds every batch without acking, so a test can look at what a slow consumer has
 * been given, then ack on demand.
 */
export class HeldSubscription {
  readonly batches: SubscriptionBatch[] = [];
  private readonly subscription: Subscription;
  private failure: unknown;

  constructor(source: Observable<SubscriptionBatch>) {
    this.subscription = source.subscribe({
      next: (batch) => this.batches.push(batch),
      error: (err: unknown) => {
        this.failure = err;
      },
    });
  }

  /** Everything received so far, batch by batch; throws if the subscription failed. */
  get items(): SubscriptionItem[] {
    if (this.failure !== undefined) throw this.failure as Error;
    return this.batches.flatMap((batch) => batch.items);
  }

  /** Acks the latest batch (the only one a correct store has outstanding). */
  ackLatest(): void {
    this.batches[this.batches.length - 1]?.ack();
  }

  /** Ends the subscription (and with it the store's underlying one). */
  unsubscribe(): void {
    this.subscription.unsubscribe();
  }
}
