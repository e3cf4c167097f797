import * as fs from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { StoreLockedError, StoreUnavailableError } from '../errors';
import {
  crc32Of,
  decodePayload,
  decodeSegmentHeader,
  encodeLinkRecord,
  encodeRecord,
  encodeSegmentHeader,
  FRAME_HEADER_SIZE,
  MAX_PAYLOAD_SIZE,
  SEGMENT_HEADER_SIZE,
  type DecodedRecord,
} from './record-codec';
import { LinkEvent } from './link-event';
import type { StoredEvent } from './types';

/** A record the EventLog has placed at a log position, ready to be encoded and written. */
export interface PlacedRecord {
  readonly entry: { readonly event?: StoredEvent; readonly position: bigint };
  /** Framed size in bytes. */
  readonly size: number;
  readonly segmentIndex: number;
  /** Log position of the segment file's first byte. */
  readonly segmentBase: number;
  /** Byte offset of the record in its segment file. */
  readonly offset: number;
  /** For projection links: the position of the source event; -1 otherwise. */
  readonly sourcePosition: number;
}

/** Options of {@link openSegmentStore}. */
export interface SegmentStoreOptions {
  readonly dir: string;
  /** Receives recovery notices (truncated tails, set-aside segments). */
  readonly log: (message: string) => void;
  /**
   * Called for each intact record found on open, in log order; returns false when the
   * record does not fit the log before it (a link whose source is missing), which ends
   * the log there like any other damage.
   */
  readonly onRecord: (record: DecodedRecord, position: number) => boolean;
  /** Called after a flush with the number of records (counted by the EventLog) now durable. */
  readonly onDurable: (count: number) => void;
}

/** Where the next record goes after recovery. */
export interface SegmentTail {
  readonly segmentIndex: number;
  readonly segmentBase: number;
  readonly segmentOffset: number;
}

/** The durable side of the EventLog: segment files, group commit and the directory lock. */
export interface SegmentStore {
  readonly tail: SegmentTail;
  /** Highest source position linked by `$ce-` and by `$et-` links on disk (-1: none). */
  readonly projectedUpTo: { readonly category: number; readonly eventType: number };
  readonly fsyncs: number;
  readonly flushes: number;
  /** Queues placed records; the EventLog has `countAfter` records once they are written. */
  write(records: readonly PlacedRecord[], countAfter: number): void;
  /** Resolves once everything queued so far is on disk and fsynced. */
  flushed(): Promise<void>;
  /** Flushes, closes the files and releases the lock. */
  close(): Promise<void>;
}

const SEGMENT_FILE = /^segment-(\d{12})\.log$/;
const LOCK_FILE = 'LOCK';
/**
 * How far ahead of its last record a segment file is sized (with ftruncate; the new bytes
 * read as zeros). An `O_DSYNC` write that extends a file must also make the new file size
 * durable, a journal commit on ext4: ~165 us here against ~100-115 us for a write inside
 * the file's size (bench/store/sync-latency.ts). Sizing ahead in steps makes one write in
 * a megabyte pay that, instead of every write. A segment is trimmed to its last record
 * when the writer moves on to the next one, so only the active segment carries the zeros.
 */
const PREALLOCATION = 1024 * 1024;
const ZEROS = Buffer.alloc(64 * 1024);

/** File name of segment `index`. */
export function segmentFileName(index: number): string {
  return `segment-${String(index).padStart(12, '0')}.log`;
}

/**
 * Opens (or creates) the store in `options.dir`: takes the lock, scans every segment
 * (feeding intact records to `onRecord`), truncates a torn or corrupt tail, and returns
 * the writer positioned after the last intact record.
 *
 * @throws StoreLockedError when a live process holds `<dir>/LOCK`
 * @throws StoreUnavailableError when the directory cannot be created, read or written
 */
export async function openSegmentStore(options: SegmentStoreOptions): Promise<SegmentStore> {
  const dir = options.dir;
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw unavailable(`create the store directory '${dir}'`, err);
  }
  const lockPath = acquireLock(dir);
  try {
    const recovered = recover(dir, options);
    return new FileSegmentStore(dir, lockPath, recovered, options.onDurable);
  } catch (err) {
    releaseLock(lockPath);
    throw err;
  }
}

function unavailable(action: string, err: unknown): StoreUnavailableError {
  const reason = err instanceof Error ? err.message : String(err);
  return new StoreUnavailableError(
    `Could not ${action}: ${reason}. Check that the path exists, is a directory and is writable, or use another --db directory.`,
    { cause: err },
  );
}

// ---- lock ----

function acquireLock(dir: string): string {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(path, 'wx');
      try {
        fs.writeSync(fd, String(process.pid));
      } finally {
        fs.closeSync(fd);
      }
      return path;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw unavailable(`create the lock file '${path}'`, err);
    }
    const holder = readLockHolder(path);
    if (holder !== undefined && isAlive(holder)) throw new StoreLockedError(dir, holder);
    // The holder died without releasing the lock (or died while writing it): take it over.
    try {
      fs.unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        throw unavailable(`remove the stale lock '${path}'`, err);
    }
  }
  throw new StoreLockedError(dir, readLockHolder(path));
}

function readLockHolder(path: string): number | undefined {
  try {
    const text = fs.readFileSync(path, 'utf8').trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function releaseLock(path: string): void {
  try {
    if (readLockHolder(path) === process.pid) fs.unlinkSync(path);
  } catch {
    // Already gone: nothing to release.
  }
}

// ---- recovery ----

interface Recovered {
  readonly tail: SegmentTail;
  readonly projectedUpTo: { category: number; eventType: number };
}

function listSegments(dir: string): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    throw unavailable(`read the store directory '${dir}'`, err);
  }
  const indexes: number[] = [];
  for (const name of names) {
    const match = SEGMENT_FILE.exec(name);
    if (match) indexes.push(Number(match[1]));
  }
  return indexes.sort((a, b) => a - b);
}

/**
 * Scans the segments in order. The first damaged record ends the log: its file is
 * truncated there and any later segment is set aside (renamed `.corrupt`), because
 * records after a hole cannot be trusted to be in commit order.
 *
 * Segment files are sized ahead of the writes (see {@link PREALLOCATION}), so a file
 * normally ends in zeros: a record header of length zero followed only by zeros is the
 * clean end of that segment, not damage. Its logical end is the end of the last intact
 * record, and the writer carries on there. Anything else after that point (a torn record,
 * stray bytes) is damage as before, reported and truncated.
 */
function recover(dir: string, options: SegmentStoreOptions): Recovered {
  const segments = listSegments(dir);
  const projectedUpTo = { category: -1, eventType: -1 };
  let tail: SegmentTail = { segmentIndex: 0, segmentBase: 0, segmentOffset: SEGMENT_HEADER_SIZE };
  let expectedBase = 0;
  let expectedIndex = segments[0] ?? 0;
  for (let i = 0; i < segments.length; i++) {
    const index = segments[i]!;
    const file = join(dir, segmentFileName(index));
    let content: Buffer;
    try {
      content = fs.readFileSync(file);
    } catch (err) {
      throw unavailable(`read the segment file '${file}'`, err);
    }
    const header = decodeSegmentHeader(content);
    const isLast = i === segments.length - 1;
    if (!header || index !== expectedIndex || (i > 0 && header.base !== expectedBase)) {
      const reason = !header ? 'a missing or invalid segment header' : 'a gap in the segment sequence';
      if (isLast && !header && (content.length < SEGMENT_HEADER_SIZE || isZero(content, 0))) {
        // Torn while the segment was being created (its header is written before any record,
        // and the file was sized with zeros first): nothing in it was ever acknowledged.
        options.log(`sagastream storage: removed the empty segment '${file}' left by an interrupted write.`);
        removeFile(file);
      } else {
        setAside(dir, segments.slice(i), reason, options.log);
      }
      break;
    }
    let offset = SEGMENT_HEADER_SIZE;
    let damage: string | undefined;
    while (offset < content.length) {
      if (
        (content.length - offset < FRAME_HEADER_SIZE || content.readUInt32LE(offset) === 0) &&
        isZero(content, offset)
      ) {
        break; // the preallocated, never written tail: the clean end of this segment
      }
      if (content.length - offset < FRAME_HEADER_SIZE) {
        damage = 'a partial record header';
        break;
      }
      const length = content.readUInt32LE(offset);
      if (length > MAX_PAYLOAD_SIZE || offset + FRAME_HEADER_SIZE + length > content.length) {
        damage = `a record of ${length} bytes that runs past the end of the file`;
        break;
      }
      const start = offset + FRAME_HEADER_SIZE;
      const end = start + length;
      if (crc32Of(content, start, end) !== content.readUInt32LE(offset + 4)) {
        damage = 'a checksum mismatch';
        break;
      }
      const record = decodePayload(content, start, end);
      if (!record) {
        damage = 'a malformed record';
        break;
      }
      const position = header.base + offset;
      if (!options.onRecord(record, position)) {
        damage = 'a link record whose source event is not in the log';
        break;
      }
      if (record.kind === 'link') {
        if (record.category) projectedUpTo.category = record.sourcePosition;
        else projectedUpTo.eventType = record.sourcePosition;
      } else if (record.sourcePosition >= 0) {
        if (record.stream.startsWith('$ce-')) projectedUpTo.category = record.sourcePosition;
        else if (record.stream.startsWith('$et-')) projectedUpTo.eventType = record.sourcePosition;
      }
      offset = end;
    }
    tail = { segmentIndex: index, segmentBase: header.base, segmentOffset: offset };
    expectedBase = header.base + offset;
    expectedIndex = index + 1;
    if (damage !== undefined) {
      options.log(
        `sagastream storage: truncated '${file}' at offset ${offset} (log position ${header.base + offset}): ` +
          `found ${damage}; the ${content.length - offset} bytes after it were never acknowledged and are discarded.`,
      );
      truncate(file, offset);
      if (!isLast) setAside(dir, segments.slice(i + 1), 'an earlier truncated segment', options.log);
      break;
    }
  }
  return { tail, projectedUpTo };
}

/** True when every byte of `content` from `from` on is zero. */
function isZero(content: Buffer, from: number): boolean {
  // Compared a chunk at a time against zeros (a native memcmp, not a byte loop in JS).
  for (let at = from; at < content.length; at += ZEROS.length) {
    const chunk = content.subarray(at, Math.min(at + ZEROS.length, content.length));
    if (chunk.compare(ZEROS, 0, chunk.length) !== 0) return false;
  }
  return true;
}

function truncate(file: string, length: number): void {
  try {
    const fd = fs.openSync(file, 'r+');
    try {
      fs.ftruncateSync(fd, length);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    throw unavailable(`truncate the damaged segment '${file}'`, err);
  }
}

function removeFile(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (err) {
    throw unavailable(`remove the empty segment '${file}'`, err);
  }
}

function setAside(
  dir: string,
  indexes: readonly number[],
  reason: string,
  log: (message: string) => void,
): void {
  for (const index of indexes) {
    const file = join(dir, segmentFileName(index));
    const target = `${file}.corrupt`;
    try {
      fs.renameSync(file, target);
    } catch (err) {
      throw unavailable(`set aside the segment '${file}'`, err);
    }
    log(
      `sagastream storage: set aside '${file}' as '${target}' because of ${reason}; its records are not served.`,
    );
  }
}

// ---- writer ----

/** Bytes for one segment file, written with one writev. */
interface Run {
  readonly segmentIndex: number;
  readonly segmentBase: number;
  readonly offset: number;
  readonly buffers: Buffer[];
  bytes: number;
}

interface Batch {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Callers that never await a batch (e.g. a later failure) must not crash the process.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/**
 * Group commit: appends queue runs while a flush is in flight; the next flush writes all
 * queued runs and syncs once, so N concurrent appends cost about one sync.
 *
 * Segment files are opened with O_DSYNC, so one `writev` returns only once its bytes (and
 * the file size) are on stable storage: the same guarantee as write + fdatasync, in one
 * system call instead of two.
 *
 * Where that call runs depends on the group. A group of one append (a lone writer, or one
 * batch) is written inline: nobody else is waiting, and a thread-pool round trip would add a
 * pool-thread and an event-loop wake-up to its latency (35 us at best here, several hundred
 * under load; bench/store/sync-latency.ts). A group of several appends means concurrent
 * writers, so it goes through the thread pool and the loop keeps serving them during the
 * sync, gathering the next group.
 */
class FileSegmentStore implements SegmentStore {
  readonly tail: SegmentTail;
  readonly projectedUpTo: { readonly category: number; readonly eventType: number };
  fsyncs = 0;
  flushes = 0;
  private runs: Run[] = [];
  private queuedCount = 0;
  /** `write` calls since the last flush began: the size of the next group. */
  private queuedWrites = 0;
  private next: Batch | undefined;
  private inFlight: Batch | undefined;
  private flushing = false;
  private failure: Error | undefined;
  private fd = -1;
  private fdIndex = -1;
  /** Size of the open segment file, zeros past `fdEnd` included. */
  private fileSize = 0;
  /** End of the last record written to the open segment file. */
  private fdEnd = 0;

  constructor(
    private readonly dir: string,
    private readonly lockPath: string,
    recovered: Recovered,
    private readonly onDurable: (count: number) => void,
  ) {
    this.tail = recovered.tail;
    this.projectedUpTo = recovered.projectedUpTo;
  }

  write(records: readonly PlacedRecord[], countAfter: number): void {
    let i = 0;
    while (i < records.length) {
      const first = records[i]!;
      let j = i;
      let bytes = 0;
      while (j < records.length && records[j]!.segmentIndex === first.segmentIndex)
        bytes += records[j++]!.size;
      const buffer = Buffer.allocUnsafe(bytes);
      let at = 0;
      for (let k = i; k < j; k++) {
        const placed = records[k]!;
        const event = placed.entry.event!;
        at =
          event instanceof LinkEvent
            ? encodeLinkRecord(
                buffer,
                at,
                event.revisionNumber,
                placed.sourcePosition,
                event.category,
                event.idBytes,
                event.idOffset,
              )
            : encodeRecord(buffer, at, event, placed.sourcePosition);
      }
      this.queue(first.segmentIndex, first.segmentBase, first.offset, buffer);
      i = j;
    }
    this.queuedCount = countAfter;
    this.queuedWrites++;
    this.next ??= newBatch();
    if (!this.flushing) {
      this.flushing = true;
      // Let appends issued in the same tick join this batch.
      setImmediate(() => {
        if (this.queuedWrites === 1) this.flushInline();
        else void this.flushLoop();
      });
    }
  }

  flushed(): Promise<void> {
    if (this.failure !== undefined) {
      return Promise.reject(this.failure);
    }
    if (this.next) return this.next.promise;
    if (this.inFlight) return this.inFlight.promise;
    return Promise.resolve();
  }

  async close(): Promise<void> {
    try {
      await this.flushed();
    } finally {
      if (this.fd >= 0) {
        const fd = this.fd;
        this.fd = -1;
        await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
      }
      releaseLock(this.lockPath);
    }
  }

  private queue(segmentIndex: number, segmentBase: number, offset: number, buffer: Buffer): void {
    const last = this.runs[this.runs.length - 1];
    if (last && last.segmentIndex === segmentIndex && last.offset + last.bytes === offset) {
      last.buffers.push(buffer);
      last.bytes += buffer.length;
    } else {
      this.runs.push({ segmentIndex, segmentBase, offset, buffers: [buffer], bytes: buffer.length });
    }
  }

  /**
   * The size the open segment file must be given before a write ending at `end`, or
   * undefined when it is already big enough (see {@link PREALLOCATION}).
   */
  private sizeFor(end: number): number | undefined {
    if (end <= this.fileSize) return undefined;
    this.fileSize = end + PREALLOCATION;
    return this.fileSize;
  }

  /** Writes a group of one append on this thread (see the class comment). */
  private flushInline(): void {
    const batch = this.next!;
    const runs = this.runs;
    const count = this.queuedCount;
    this.next = undefined;
    this.runs = [];
    this.queuedWrites = 0;
    this.flushing = false;
    try {
      let created = false;
      for (const run of runs) {
        if (run.segmentIndex !== this.fdIndex) {
          if (this.fd >= 0) {
            if (this.fileSize > this.fdEnd) fs.ftruncateSync(this.fd, this.fdEnd);
            fs.closeSync(this.fd);
          }
          this.fd = -1;
          created = this.openSegmentSync(run.segmentIndex, run.segmentBase) || created;
        }
        const end = run.offset + run.bytes;
        const size = this.sizeFor(end);
        if (size !== undefined) fs.ftruncateSync(this.fd, size);
        const bytesWritten = fs.writevSync(this.fd, run.buffers, run.offset);
        this.fsyncs++;
        if (bytesWritten !== run.bytes) {
          throw new Error(
            `short write to segment ${run.segmentIndex}: ${bytesWritten} of ${run.bytes} bytes`,
          );
        }
        this.fdEnd = Math.max(this.fdEnd, end);
      }
      if (created) syncDirectorySync(this.dir);
      this.flushes++;
      this.onDurable(count);
      batch.resolve();
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      batch.reject(err);
    }
  }

  private async flushLoop(): Promise<void> {
    while (this.next) {
      const batch = this.next;
      const runs = this.runs;
      const count = this.queuedCount;
      this.next = undefined;
      this.runs = [];
      this.queuedWrites = 0;
      this.inFlight = batch;
      try {
        await this.flush(runs);
        this.flushes++;
        this.onDurable(count);
        batch.resolve();
      } catch (err) {
        this.failure = err instanceof Error ? err : new Error(String(err));
        batch.reject(err);
        const queued = this.next as Batch | undefined;
        queued?.reject(err);
        this.next = undefined;
        this.runs = [];
      }
    }
    this.inFlight = undefined;
    this.flushing = false;
  }

  private async flush(runs: readonly Run[]): Promise<void> {
    let created = false;
    for (const run of runs) {
      if (run.segmentIndex !== this.fdIndex) {
        // Every write to the previous segment was synchronous (O_DSYNC): it is complete.
        if (this.fd >= 0) {
          if (this.fileSize > this.fdEnd) await truncateFd(this.fd, this.fdEnd);
          await closeFd(this.fd);
        }
        this.fd = -1;
        created = (await this.openSegment(run.segmentIndex, run.segmentBase)) || created;
      }
      const end = run.offset + run.bytes;
      const size = this.sizeFor(end);
      if (size !== undefined) await truncateFd(this.fd, size);
      const bytesWritten = await writevAt(this.fd, run.buffers, run.offset);
      this.fsyncs++;
      if (bytesWritten !== run.bytes) {
        throw new Error(`short write to segment ${run.segmentIndex}: ${bytesWritten} of ${run.bytes} bytes`);
      }
      this.fdEnd = Math.max(this.fdEnd, end);
    }
    if (created) await this.syncDirectory();
  }

  /** Opens segment `index` for writing, creating it with its header if needed; true when created. */
  private async openSegment(index: number, base: number): Promise<boolean> {
    const file = join(this.dir, segmentFileName(index));
    const { O_RDWR, O_CREAT, O_EXCL, O_DSYNC } = fs.constants;
    let created = false;
    try {
      this.fd = await openFd(file, O_RDWR | O_DSYNC);
      this.fileSize = (await statFd(this.fd)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.fd = await openFd(file, O_RDWR | O_CREAT | O_EXCL | O_DSYNC);
      // Sized before the header is written: a crash in between leaves a file of zeros,
      // which recovery removes like an empty one.
      await truncateFd(this.fd, PREALLOCATION);
      this.fileSize = PREALLOCATION;
      await writevAt(this.fd, [encodeSegmentHeader(base)], 0);
      created = true;
    }
    this.fdIndex = index;
    this.fdEnd = SEGMENT_HEADER_SIZE;
    return created;
  }

  /** {@link openSegment}, on this thread. */
  private openSegmentSync(index: number, base: number): boolean {
    const file = join(this.dir, segmentFileName(index));
    const { O_RDWR, O_CREAT, O_EXCL, O_DSYNC } = fs.constants;
    let created = false;
    try {
      this.fd = fs.openSync(file, O_RDWR | O_DSYNC);
      this.fileSize = fs.fstatSync(this.fd).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.fd = fs.openSync(file, O_RDWR | O_CREAT | O_EXCL | O_DSYNC, 0o644);
      fs.ftruncateSync(this.fd, PREALLOCATION);
      this.fileSize = PREALLOCATION;
      fs.writevSync(this.fd, [encodeSegmentHeader(base)], 0);
      created = true;
    }
    this.fdIndex = index;
    this.fdEnd = SEGMENT_HEADER_SIZE;
    return created;
  }

  private async syncDirectory(): Promise<void> {
    const dirHandle = await fs.promises.open(this.dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  }
}

// The thread-pool calls the async path uses, as promises (one request each).
const openFile = promisify(fs.open);
const openFd = (file: string, flags: number): Promise<number> => openFile(file, flags, 0o644);
const truncateFd = promisify(fs.ftruncate);
const statFd = promisify(fs.fstat);
const closeFd = promisify(fs.close);

/** One positioned `writev` (a single thread-pool request); resolves with the bytes written. */
function writevAt(fd: number, buffers: readonly Buffer[], position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.writev(fd, buffers, position, (err, written) => (err ? reject(err) : resolve(written)));
  });
}

function syncDirectorySync(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
