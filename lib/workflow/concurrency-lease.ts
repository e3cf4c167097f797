import { createHash, randomUUID } from 'node:crypto';
import { WrongExpectedVersionError } from '../errors';
import type { EventStore } from '../store/event-store';
import { StepEventTypes as S } from './step-events';

/** Who holds a concurrency key, per its lease stream. */
export interface LeaseHolder {
  /** The run holding the key, or undefined when it is free. */
  readonly runId: string | undefined;
}

const CONFLICT_RETRIES = 5;

/**
 * The lease stream of a concurrency key: `<workflowId>Key-<hash of the key>` (its own
 * category, so `$ce-<workflowId>` stays the runs' alone). The key itself is in the events;
 * the hash keeps any key a valid, bounded stream name.
 */
export function leaseStream(workflowId: string, key: string): string {
  return `${workflowId}Key-${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}

/**
 * Concurrency-key leases shared by every worker on one store. The last event of a key's
 * lease stream says who holds it (`ConcurrencyKeyAcquired {runId}`) or that it is free
 * (`ConcurrencyKeyReleased`); both are appended at the expected revision of that last
 * event, so of two workers racing for a free key exactly one wins, whatever each worker
 * believes locally. A lease has no expiry: a run holds its key until it ends, as it does
 * within one worker, and a worker that finds the key held by a run that has ended releases
 * it on that run's behalf.
 */
export class ConcurrencyLeases {
  constructor(
    private readonly store: EventStore,
    private readonly workflowId: string,
  ) {}

  /** Takes `key` for `runId` if it is free; returns the holder afterwards (`runId` on success). */
  async acquire(key: string, runId: string): Promise<LeaseHolder> {
    const stream = leaseStream(this.workflowId, key);
    for (let attempt = 1; ; attempt++) {
      const last = await this.last(stream);
      if (last.holder !== undefined) return { runId: last.holder };
      try {
        await this.store.append(
          stream,
          [{ id: randomUUID(), type: S.ConcurrencyKeyAcquired, data: { key, runId } }],
          { expectedRevision: last.revision ?? 'no_stream' },
        );
        return { runId };
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError) || attempt >= CONFLICT_RETRIES) throw error;
      }
    }
  }

  /** Frees `key` if `runId` holds it; a no-op otherwise (another worker released it first). */
  async release(key: string, runId: string): Promise<void> {
    const stream = leaseStream(this.workflowId, key);
    for (let attempt = 1; ; attempt++) {
      const last = await this.last(stream);
      if (last.holder !== runId || last.revision === undefined) return;
      try {
        await this.store.append(
          stream,
          [{ id: randomUUID(), type: S.ConcurrencyKeyReleased, data: { key, runId } }],
          { expectedRevision: last.revision },
        );
        return;
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError) || attempt >= CONFLICT_RETRIES) throw error;
      }
    }
  }

  private async last(stream: string): Promise<{ holder: string | undefined; revision: bigint | undefined }> {
    const [last] = await this.store.readStream(stream, { direction: 'backwards', maxCount: 1 });
    if (!last) return { holder: undefined, revision: undefined };
    const holder =
      last.type === S.ConcurrencyKeyAcquired ? String((last.data as { runId?: unknown }).runId) : undefined;
    return { holder, revision: last.revision };
  }
}
