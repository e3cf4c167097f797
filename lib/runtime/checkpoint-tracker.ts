import { Fifo } from './keyed-work-queue';

/**
 * One tracked subscription message; call `ticket.done()` once its work is durable (a
 * second call does nothing). `done` is a method: call it on the ticket, not detached.
 */
export interface CheckpointTicket {
  readonly checkpoint: bigint;
  done(): void;
}

interface Ticket extends CheckpointTicket {
  finished: boolean;
  readonly tracker: CheckpointTracker;
}

/**
 * Computes the checkpoint that is safe to store while messages finish out of order.
 *
 * Messages are tracked in subscription order; the safe checkpoint is that of the last
 * message such that it and every message before it are done. Storing anything later
 * could skip a message whose effects are not yet in the store if the worker died now.
 */
export class CheckpointTracker {
  private readonly entries = new Fifo<Ticket>();
  private safe: bigint | undefined;

  /** @param initial the checkpoint the subscription started after, if any */
  constructor(initial?: bigint) {
    this.safe = initial;
  }

  /**
   * `done` of every ticket. One shared function and a plain object per message: tracking
   * runs once per delivered event, and a closure per ticket (plus a separate queue entry)
   * was three allocations per event; a class instance measured slower than the literal.
   */
  private static ticketDone(this: Ticket): void {
    if (this.finished) return;
    this.finished = true;
    this.tracker.advance();
  }

  /** Tracks the next message (checkpoints must be tracked in subscription order). */
  track(checkpoint: bigint): CheckpointTicket {
    // ticketDone takes `this: Ticket` and is only ever called on the ticket it is stored in.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const done = CheckpointTracker.ticketDone;
    const ticket: Ticket = { checkpoint, finished: false, tracker: this, done };
    this.entries.push(ticket);
    return ticket;
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
    for (let head = this.entries.peek(); head?.finished; head = this.entries.peek()) {
      this.safe = head.checkpoint;
      this.entries.shift();
    }
  }
}
