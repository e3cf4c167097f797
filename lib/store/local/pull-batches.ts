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

/**
 * A cold Observable of batches pulled from a {@link LogSubscription}.
 *
 * Backpressure mechanism: pulling. The log subscription reads nothing ahead of its
 * iterator, so this asks for the next message only while it is filling a batch, and
 * asks again only after the consumer's `ack()`. A consumer that never acks costs one
 * cursor and one batch of memory, however many events are appended meanwhile.
 *
 * A batch holds what the log hands over before the event loop turns (up to
 * `batchSize`): full pages during catch-up, whatever arrived since the last batch when
 * live. A `setImmediate` per batch marks the turn; a `Promise.race` per message would
 * cost more than the log's own read.
 */
export function pullBatches(options: PullBatchesOptions): Observable<SubscriptionBatch> {
  return new Observable<SubscriptionBatch>((subscriber) => {
    let logSubscription: LogSubscription;
    try {
      logSubscription = options.open();
    } catch (err) {
      subscriber.error(options.mapError(err));
      return undefined;
    }
    const iterator = logSubscription[Symbol.asyncIterator]();
    let items: SubscriptionItem[] = [];
    let stopped = false;
    let done = false;
    let inFlight = false;
    let awaitingAck = false;
    let idleScheduled = false;
    /** A message that arrived after its batch went out; it opens the next batch. */
    let carried: IteratorResult<SubscriptionMessage> | undefined;

    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      untrack();
      logSubscription.close();
    };
    const untrack = options.track(() => {
      stop();
      subscriber.complete();
    });

    const pull = (): void => {
      if (stopped || done || inFlight || awaitingAck) return;
      inFlight = true;
      iterator.next().then(onResult, onError);
    };

    const onResult = (result: IteratorResult<SubscriptionMessage>): void => {
      inFlight = false;
      if (stopped) return;
      if (awaitingAck) carried = result;
      else accept(result);
    };

    const accept = (result: IteratorResult<SubscriptionMessage>): void => {
      if (result.done === true) {
        done = true;
        flush();
        stop();
        subscriber.complete();
        return;
      }
      const item = options.toItem(result.value);
      if (item !== undefined) items.push(item);
      if (items.length >= options.batchSize) {
        flush();
      } else {
        if (!idleScheduled) {
          idleScheduled = true;
          setImmediate(onIdle);
        }
        pull();
      }
    };

    const onIdle = (): void => {
      idleScheduled = false;
      if (!stopped && !awaitingAck) flush();
    };

    const flush = (): void => {
      if (items.length === 0) return;
      const batch = items;
      items = [];
      awaitingAck = true;
      let acked = false;
      subscriber.next({
        items: batch,
        ack: () => {
          if (acked) return;
          acked = true;
          awaitingAck = false;
          if (stopped) return;
          const next = carried;
          carried = undefined;
          if (next !== undefined) accept(next);
          else pull();
        },
      });
    };

    const onError = (err: unknown): void => {
      inFlight = false;
      if (stopped) return;
      // Deliver what came before the failure (e.g. a tombstone's `$streamDeleted`), then fail.
      if (!awaitingAck) flush();
      stop();
      subscriber.error(options.mapError(err));
    };

    pull();
    return stop;
  });
}
