/**
 * Writing to a gRPC response stream without outrunning the client: when `write()`
 * reports a full buffer, wait for 'drain' (or for the call to go away) before the
 * caller pulls the next message from the log.
 */
import type { EventEmitter } from 'events';

/** The part of a grpc-js writable call that backpressure needs. */
export interface WritableCall<T> extends EventEmitter {
  write(message: T): boolean;
  readonly cancelled: boolean;
}

/**
 * Writes `message`, then resolves once the call can take more.
 *
 * @returns false when the call was cancelled (the caller should stop producing)
 */
export async function writeWithBackpressure<T>(call: WritableCall<T>, message: T): Promise<boolean> {
  if (call.cancelled) return false;
  if (call.write(message)) return true;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      call.off('drain', done);
      call.off('cancelled', done);
      call.off('close', done);
      call.off('error', done);
      resolve();
    };
    call.on('drain', done);
    call.on('cancelled', done);
    call.on('close', done);
    call.on('error', done);
  });
  return !call.cancelled;
}
