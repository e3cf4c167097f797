import type { Readable } from 'node:stream';
import { Observable } from 'rxjs';
import type { SubscriptionBatch, SubscriptionItem } from '../event-store';

/**
 * The part of a client catch-up subscription this module drives: an object-mode
 * Readable that reports `caughtUp` (and, for filtered $all, checkpoints) out of band.
 */
export interface ClientSubscriptionHandle<T> {
  readonly readable: Readable;
  /** Cancels the gRPC call. */
  unsubscribe(): Promise<void>;
  /** Maps a delivered message; `undefined` drops it. */
  toItem(message: T): SubscriptionItem | undefined;
}

/** What {@link readableBatches} needs from its caller. */
export interface ReadableBatchesOptions<T> {
  /**
   * Starts a client subscription; called once per Observable subscriber. The caller
   * wires the client's out-of-band signals to `mark`, which places an item after every
   * message the client has produced so far.
   */
  readonly open: (mark: (item: SubscriptionItem) => void) => ClientSubscriptionHandle<T>;
  readonly batchSize: number;
  readonly mapError: (err: unknown) => unknown;
  /** Lets the store complete the subscription on `close()`; returns the deregistration. */
  readonly track: (stop: () => void) => () => void;
}

/**
 * A cold Observable of batches read from a client subscription.
 *
 * Backpressure mechanism: the Readable in paused mode, read with `read()`. Messages are
 * taken out of the Readable only to fill a batch, and not again until the consumer has
 * called `ack()`. Meanwhile the client's Transform fills its buffer (high-water mark =
 * `batchSize`), stops accepting from the gRPC call, grpc-js stops reading the HTTP/2
 * stream, and flow control stops the server. The async iterator would do the same
 * but hides how many messages sit in the buffer, which is needed to place `caughtUp`.
 *
 * `caughtUp` and checkpoints are events on the Readable, not messages in it: the client
 * emits them while earlier messages may still be buffered. Each marker is therefore
 * recorded at "messages taken + messages buffered" and emitted when the reader reaches
 * that count, so it keeps its place in the sequence.
 */
export function readableBatches<T>(options: ReadableBatchesOptions<T>): Observable<SubscriptionBatch> {
  return new Observable<SubscriptionBatch>((subscriber) => {
    const markers: { at: number; item: SubscriptionItem }[] = [];
    let taken = 0;
    let ended = false;
    let failure: { error: unknown } | undefined;
    let stopped = false;
    let wake: (() => void) | undefined;
    let releaseAck: (() => void) | undefined;
    const signal = (): void => {
      const resume = wake;
      wake = undefined;
      resume?.();
    };
    let handle: ClientSubscriptionHandle<T>;
    try {
      handle = options.open((item) => {
        markers.push({ at: taken + handle.readable.readableLength, item });
        signal();
      });
    } catch (err) {
      subscriber.error(options.mapError(err));
      return undefined;
    }
    const { readable } = handle;

    readable.on('readable', signal);
    readable.on('end', () => {
      ended = true;
      signal();
    });
    readable.on('error', (error: unknown) => {
      failure ??= { error };
      signal();
    });

    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      signal();
      releaseAck?.();
      void handle.unsubscribe().catch(() => undefined);
      readable.destroy();
    };
    const untrack = options.track(() => {
      stop();
      subscriber.complete();
    });

    const nextBatch = (): SubscriptionItem[] => {
      const items: SubscriptionItem[] = [];
      while (items.length < options.batchSize) {
        const marker = markers[0];
        if (marker !== undefined && marker.at <= taken) {
          markers.shift();
          items.push(marker.item);
          continue;
        }
        const message = readable.read() as T | null;
        if (message === null) break;
        taken += 1;
        const item = handle.toItem(message);
        if (item !== undefined) items.push(item);
      }
      return items;
    };

    const run = async (): Promise<void> => {
      while (!stopped) {
        const items = nextBatch();
        if (items.length === 0) {
          if (failure !== undefined) throw failure.error;
          if (ended) break;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          continue;
        }
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
    };

    run().then(
      () => {
        untrack();
        if (stopped) return;
        stopped = true;
        subscriber.complete();
      },
      (err: unknown) => {
        untrack();
        if (stopped) return;
        stop();
        subscriber.error(options.mapError(err));
      },
    );

    return () => {
      untrack();
      stop();
    };
  });
}
