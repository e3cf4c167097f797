import { Observable } from 'rxjs';
import type { LogSubscription, SubscriptionMessage } from '../../storage/types';
import type { SubscriptionBatch, SubscriptionItem } from '../event-store';

/** What {@link pullBatches} needs from its caller. */
export interface PullBatchesOptions {
  /** Opens a fresh log subscription; called once per Observable subscriber. */
  readonly open: () => LogSubscription;
  /** Maps a log message to a port item; `undefined` drops it (e.g. filtered out here). */
  readonly toItem: (message: SubscriptionMessage) => SubscriptionItem | undefined;
  readonly batchSize: number;
  /** Turns whatever the log throws into a SagastreamError. */
  readonly mapError: (err: unknown) => unknown;
  /** Lets the store complete the subscription on `close()`; returns the deregistration. */
  readonly track: (stop: () => void) => () => void;
}

const IDLE = Symbol('idle');

/**
 * A cold Observable of batches pulled from a {@link LogSubscription}.
 *
 * Backpressure mechanism: pulling. The log subscription reads nothing ahead of its
 * iterator, so this loop asks for the next message only while it is filling a batch,
 * and does not resume until the consumer has called `ack()`. A consumer that never acks
 * costs one cursor and one batch of memory, however many events are appended.
 *
 * A batch holds whatever the log can hand over without waiting (up to `batchSize`):
 * during catch-up that is full pages; live, it is what arrived since the last batch.
 */
export function pullBatches(options: PullBatchesOptions): Observable<SubscriptionBatch> {
  return new Observable<SubscriptionBatch>((subscriber) => {
    let stopped = false;
    let releaseAck: (() => void) | undefined;
    let logSubscription: LogSubscription;
    try {
      logSubscription = options.open();
    } catch (err) {
      subscriber.error(options.mapError(err));
      return undefined;
    }
    const iterator = logSubscription[Symbol.asyncIterator]();

    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      logSubscription.close();
      releaseAck?.();
    };
    const untrack = options.track(() => {
      stop();
      subscriber.complete();
    });

    const run = async (): Promise<void> => {
      let pending: Promise<IteratorResult<SubscriptionMessage>> | undefined;
      let done = false;
      while (!stopped && !done) {
        const items: SubscriptionItem[] = [];
        const first = await (pending ?? iterator.next());
        pending = undefined;
        if (first.done) break;
        addItem(items, first.value);
        // One macrotask bounds the batch: everything the log resolves before it is "available now".
        const idle = new Promise<typeof IDLE>((resolve) => setImmediate(() => resolve(IDLE)));
        while (!stopped && items.length < options.batchSize) {
          pending = iterator.next();
          const next = await Promise.race([pending, idle]);
          if (next === IDLE) break;
          pending = undefined;
          if (next.done) {
            done = true;
            break;
          }
          addItem(items, next.value);
        }
        if (stopped) return;
        if (items.length === 0) continue;
        await new Promise<void>((resolve) => {
          releaseAck = resolve;
          let acked = false;
          subscriber.next({
            items,
            ack: () => {
              if (acked) return;
              acked = true;
              resolve();
            },
          });
        });
        releaseAck = undefined;
      }
      if (!stopped) {
        stopped = true;
        subscriber.complete();
      }
    };

    const addItem = (items: SubscriptionItem[], message: SubscriptionMessage): void => {
      const item = options.toItem(message);
      if (item !== undefined) items.push(item);
    };

    run().then(
      () => untrack(),
      (err: unknown) => {
        untrack();
        if (stopped) return;
        stopped = true;
        logSubscription.close();
        subscriber.error(options.mapError(err));
      },
    );

    return () => {
      untrack();
      stop();
    };
  });
}
