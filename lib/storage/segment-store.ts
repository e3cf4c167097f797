import { StoreUnavailableError } from '../errors';
import type { DecodedRecord } from './record-codec';

/** A record placed at a log position by the EventLog, ready to be encoded and written. */
export interface PlacedRecord {
  readonly entry: { readonly event?: import('./types').StoredEvent; readonly position: bigint };
  readonly size: number;
  readonly segmentIndex: number;
  readonly segmentBase: number;
  readonly offset: number;
  readonly sourcePosition: number;
}

/** Options of {@link openSegmentStore}. */
export interface SegmentStoreOptions {
  readonly dir: string;
  readonly log: (message: string) => void;
  readonly onRecord: (record: DecodedRecord, position: number) => void;
  readonly onDurable: (count: number) => void;
}

/** The durable side of the log: segment files, group commit, lock. */
export interface SegmentStore {
  readonly tail: {
    readonly segmentIndex: number;
    readonly segmentBase: number;
    readonly segmentOffset: number;
  };
  readonly projectedUpTo: { readonly category: number; readonly eventType: number };
  readonly fsyncs: number;
  readonly flushes: number;
  write(records: readonly PlacedRecord[], countAfter: number): void;
  flushed(): Promise<void>;
  close(): Promise<void>;
}

/** Opens (or creates) the segment files in `options.dir`. */
export async function openSegmentStore(options: SegmentStoreOptions): Promise<SegmentStore> {
  throw new StoreUnavailableError(
    `Directory mode is not implemented yet (${options.dir}); use { memory: true }.`,
  );
}
