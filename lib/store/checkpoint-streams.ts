import { randomUUID } from 'node:crypto';
import type { EventStore, StoredEventRecord } from './event-store';

const CHECKPOINT_EVENT_TYPE = 'SagastreamCheckpoint';

/** The stream that holds a named consumer's checkpoint. */
export function checkpointStream(name: string): string {
  return `sagastreamCheckpoint-${name}`;
}

/**
 * Checkpoints as events, the same way for every adapter: one stream per consumer with
 * `$maxCount: 1` (set once per stream per process), so it never grows.
 */
export class CheckpointStreams {
  private readonly prepared = new Set<string>();

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
  async write(name: string, checkpoint: bigint): Promise<void> {
    const stream = checkpointStream(name);
    if (!this.prepared.has(stream)) {
      const metadata = await this.store.getStreamMetadata(stream);
      if (metadata.maxCount !== 1) await this.store.setStreamMetadata(stream, { ...metadata, maxCount: 1 });
      this.prepared.add(stream);
    }
    await this.store.append(stream, [
      { id: randomUUID(), type: CHECKPOINT_EVENT_TYPE, data: { checkpoint: checkpoint.toString() } },
    ]);
  }
}

/** Checkpoints are stored as decimal strings: JSON numbers cannot hold a u64 position. */
function parseCheckpoint(record: StoredEventRecord): bigint | undefined {
  const data = record.data as { checkpoint?: unknown } | null;
  const value = typeof data === 'object' && data !== null ? data.checkpoint : undefined;
  return typeof value === 'string' || typeof value === 'number' ? BigInt(value) : undefined;
}
