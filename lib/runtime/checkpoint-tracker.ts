import { Fifo } from './keyed-work-queue';

/** One tracked subscription message; call `done()` once its work is durable. */
export interface CheckpointTicket {
  readonly checkpoint: bigint;
  done(): void;
}

interface Entry {
  readonly checkpoint: bigint;
  done: boolean;
}

/**
 * Computes the checkpoint that is safe to store while messages finish out of order.
 *
 * Messages are tracked in subscription order; the safe checkpoint is that of the last
 * message such that it and every message before it are done. Storing anything later
 * could skip a message whose effects are not yet in the store if the worker died now.
 */
export class CheckpointTracker {
  private readonly entries = new Fifo<Entry>();
  private safe: bigint | undefined;

  /** @param initial the checkpoint the subscription started after, if any */
  constructor(initial?: bigint) {
    this.safe = initial;
  }

  /** Tracks the next message (checkpoints must be tracked in subscription order). */
  track(checkpoint: bigint): CheckpointTicket {
    const entry: Entry = { checkpoint, done: false };
    this.entries.push(entry);
    return {
      checkpoint,
      done: () => {
        if (entry.done) return;
        entry.done = true;
        this.advance();
      },
    };
  }

  /** Tracks a message that needs no work (no route, a checkpoint marker). */
  skip(checkpoint: bigint): void {
    this.track(checkpoint).done();
  }

  /** The checkpoint safe to store, or undefined before anything is done. */
  get safeCheckpoint(): bigint | undefined {
    return this.safe;
  }

  /** Messages tracked but not yet safe (done or not). */
  get outstanding(): number {
    return this.entries.length;
  }

  private advance(): void {
    for (let head = this.entries.peek(); head?.done; head = this.entries.peek()) {
      this.safe = head.checkpoint;
      this.entries.shift();
    }
  }
}
