import { randomUUID } from 'node:crypto';
import { WrongExpectedVersionError } from '../errors';
import type { EventStore, ExpectedRevision, StoredEventRecord } from './event-store';

const CHECKPOINT_EVENT_TYPE = 'SagastreamCheckpoint';

/** The stream that holds a named consumer's checkpoint. */
export function checkpointStream(name: string): string {
  return `sagastreamCheckpoint-${name}`;
}

/** What a process knows of one checkpoint stream it writes. */
interface WrittenStream {
  /** The stream's revision after this process's last write; undefined until prepared. */
  revision: ExpectedRevision | undefined;
  /** The write in flight: writes of one stream go one after another, in call order. */
  tail: Promise<void>;
}

/**
 * Checkpoints as events, the same way for every adapter: one stream per consumer with
 * `$maxCount: 1` (set once per stream per process), so it never grows.
 *
 * Each write expects the revision of this process's previous one, not `any`: an `any`
 * append makes the store look the event id up for idempotency, and the local event log
 * builds that lookup lazily from every event appended since, which put the whole log's
 * ids on the checkpoint path (3.5% of back-end A's saga CPU). When another writer (a second
 * worker of the same consumer) moved the stream, the write falls back to `any`: the last
 * write wins, as before.
 */
export class CheckpointStreams {
  private readonly streams = new Map<string, WrittenStream>();

  constructor(private readonly store: EventStore) {}

  /** The last checkpoint written under `name`, or undefined. */
  async read(name: string): Promise<bigint | undefined> {
    const [last] = await this.store.readStream(checkpointStream(name), {
      direction: 'backwards',
      maxCount: 1,
    });
    return last === undefined ? undefined : parseCheckpoint(last);
  }

  /** Appends a checkpoint; the first write per stream also sets `$maxCount: 1`. */
  write(name: string, checkpoint: bigint): Promise<void> {
    const stream = checkpointStream(name);
    let written = this.streams.get(stream);
    if (written === undefined) {
      written = { revision: undefined, tail: Promise.resolve() };
      this.streams.set(stream, written);
    }
    const entry = written;
    const run = entry.tail.then(() => this.append(stream, entry, checkpoint));
    entry.tail = run.catch(() => undefined);
    return run;
  }

  private async append(stream: string, written: WrittenStream, checkpoint: bigint): Promise<void> {
    try {
      if (written.revision === undefined) {
        const metadata = await this.store.getStreamMetadata(stream);
        if (metadata.maxCount !== 1) await this.store.setStreamMetadata(stream, { ...metadata, maxCount: 1 });
        const [last] = await this.store.readStream(stream, { direction: 'backwards', maxCount: 1 });
        written.revision = last?.revision ?? 'no_stream';
      }
      const events = [
        { id: randomUUID(), type: CHECKPOINT_EVENT_TYPE, data: { checkpoint: checkpoint.toString() } },
      ];
      try {
        written.revision = (
          await this.store.append(stream, events, { expectedRevision: written.revision })
        ).nextExpectedRevision;
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError)) throw error;
        written.revision = (
          await this.store.append(stream, events, { expectedRevision: 'any' })
        ).nextExpectedRevision;
      }
    } catch (error) {
      // Unknown state after a failure: prepare again (re-read the revision) on the next write.
      written.revision = undefined;
      throw error;
    }
  }
}

/** Checkpoints are stored as decimal strings: JSON numbers cannot hold a u64 position. */
function parseCheckpoint(record: StoredEventRecord): bigint | undefined {
  const data = record.data as { checkpoint?: unknown } | null;
  const value = typeof data === 'object' && data !== null ? data.checkpoint : undefined;
  return typeof value === 'string' || typeof value === 'number' ? BigInt(value) : undefined;
}
