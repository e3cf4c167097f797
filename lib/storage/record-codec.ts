/**
 * The on-disk record format of the event log.
 *
 * A segment file starts with a {@link SEGMENT_HEADER_SIZE}-byte header (magic, format
 * version, and the log position of the file's first byte), followed by records:
 *
 *     u32 payload length | u32 CRC32 of the payload | payload
 *
 * The payload is: u8 format, u8 flags (bit 0: isJson), u16 reserved, i64 revision,
 * i64 created (ticks), i64 source position (the event a projection link was written for,
 * -1 otherwise), five u32 lengths (id, stream, type, data, metadata), then those bytes.
 *
 * A projection link (format 2) stores only what its source does not imply: u8 format,
 * u8 flags (bit 1: a `$ce-` link, else `$et-`), u16 reserved, i64 revision, i64 source
 * position, then the link's 16-byte id. Its stream, data and metadata are rebuilt from the
 * source event on open (link-event.ts). Format-1 links written by earlier versions (with
 * full data and metadata) are still read as they are.
 *
 * A record's log position is its segment's base position plus the record's byte offset
 * in the file, so positions are sparse, increasing, and recomputed identically on open.
 */
import { crc32 } from 'node:zlib';

/** Bytes before the first record of every segment file. */
export const SEGMENT_HEADER_SIZE = 16;
/** `SGSG` as a little-endian u32: marks a sagastream segment file. */
export const SEGMENT_MAGIC = 0x47534753;
/** Segment header format version. */
export const SEGMENT_VERSION = 1;
/** Length and checksum words before each payload. */
export const FRAME_HEADER_SIZE = 8;
const PAYLOAD_FIXED_SIZE = 4 + 8 + 8 + 8 + 4 * 5;
const RECORD_FORMAT = 1;
const LINK_RECORD_FORMAT = 2;
const LINK_PAYLOAD_SIZE = 4 + 8 + 8 + 16;
/** Framed size of every link record. */
export const LINK_RECORD_SIZE = FRAME_HEADER_SIZE + LINK_PAYLOAD_SIZE;
/** Largest payload accepted when scanning; anything larger is treated as corruption. */
export const MAX_PAYLOAD_SIZE = 64 * 1024 * 1024;

/** CRC-32 (IEEE) tables for slicing by eight: table k at `k * 256`. */
const CRC_TABLE = ((): Int32Array => {
  const table = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = table[n]!;
    for (let k = 1; k < 8; k++) {
      c = table[c & 0xff]! ^ (c >>> 8);
      table[k * 256 + n] = c;
    }
  }
  return table;
})();

/**
 * Below this many bytes the table loop beats `zlib.crc32`, whose call costs ~0.5 us before
 * the first byte (a binding call plus a subarray): 5x faster on a 36-byte link payload,
 * even at 300 bytes, 3x slower at 4 KB.
 */
const JS_CRC_LIMIT = 512;

/** CRC-32 (IEEE, as `zlib.crc32`) of `source[start, end)`, without copying or slicing it. */
export function crc32Of(source: Uint8Array, start: number, end: number): number {
  if (end - start >= JS_CRC_LIMIT) return crc32(source.subarray(start, end));
  const t = CRC_TABLE;
  let c = -1;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const a = c ^ (source[i]! | (source[i + 1]! << 8) | (source[i + 2]! << 16) | (source[i + 3]! << 24));
    c =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + source[i + 4]!]! ^
      t[512 + source[i + 5]!]! ^
      t[256 + source[i + 6]!]! ^
      t[source[i + 7]!]!;
  }
  for (; i < end; i++) c = t[(c ^ source[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** The fields of a record, as encoded. */
export interface RecordFields {
  readonly id: string;
  readonly stream: string;
  readonly type: string;
  readonly isJson: boolean;
  readonly revision: bigint;
  readonly created: bigint;
  readonly data: Uint8Array;
  readonly metadata: Uint8Array;
}

/** Total framed size of a record with these fields, in bytes. */
export function recordSize(fields: RecordFields): number {
  return recordSizeOf(
    Buffer.byteLength(fields.id, 'utf8'),
    Buffer.byteLength(fields.stream, 'utf8'),
    Buffer.byteLength(fields.type, 'utf8'),
    fields.data.byteLength,
    fields.metadata.byteLength,
  );
}

/** {@link recordSize} from the UTF-8 byte lengths of the fields, for callers that know some already. */
export function recordSizeOf(
  idBytes: number,
  streamBytes: number,
  typeBytes: number,
  dataBytes: number,
  metadataBytes: number,
): number {
  return (
    FRAME_HEADER_SIZE + PAYLOAD_FIXED_SIZE + idBytes + streamBytes + typeBytes + dataBytes + metadataBytes
  );
}

/**
 * Writes `text` as UTF-8 at `offset`; returns the byte count. Ids, stream names and types
 * are short and nearly always ASCII: a loop writes them in about half the time of three
 * `Buffer#write` binding calls (~0.45 -> ~0.25 us per record); anything else goes to
 * `Buffer#write`, which rewrites from `offset`.
 */
function writeUtf8(target: Buffer, text: string, offset: number): number {
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f) return target.write(text, offset, 'utf8');
    target[offset + i] = code;
  }
  return length;
}

/** Writes the framed record at `offset` of `target` (which must have room); returns the end offset. */
export function encodeRecord(
  target: Buffer,
  offset: number,
  fields: RecordFields,
  sourcePosition: number,
): number {
  const payloadStart = offset + FRAME_HEADER_SIZE;
  let p = payloadStart;
  target[p] = RECORD_FORMAT;
  target[p + 1] = fields.isJson ? 1 : 0;
  target.writeUInt16LE(0, p + 2);
  target.writeBigInt64LE(fields.revision, p + 4);
  target.writeBigInt64LE(fields.created, p + 12);
  // -1 or a position below 2^53, as two u32 halves of the i64 (no BigInt per record).
  target.writeUInt32LE(sourcePosition >>> 0, p + 20);
  target.writeUInt32LE(sourcePosition < 0 ? 0xffffffff : Math.floor(sourcePosition / 0x100000000), p + 24);
  const lengths = p + 28;
  p += PAYLOAD_FIXED_SIZE;
  const idLen = writeUtf8(target, fields.id, p);
  p += idLen;
  const streamLen = writeUtf8(target, fields.stream, p);
  p += streamLen;
  const typeLen = writeUtf8(target, fields.type, p);
  p += typeLen;
  target.set(fields.data, p);
  p += fields.data.byteLength;
  target.set(fields.metadata, p);
  p += fields.metadata.byteLength;
  target.writeUInt32LE(idLen, lengths);
  target.writeUInt32LE(streamLen, lengths + 4);
  target.writeUInt32LE(typeLen, lengths + 8);
  target.writeUInt32LE(fields.data.byteLength, lengths + 12);
  target.writeUInt32LE(fields.metadata.byteLength, lengths + 16);
  const payloadLength = p - payloadStart;
  target.writeUInt32LE(payloadLength, offset);
  target.writeUInt32LE(crc32Of(target, payloadStart, p), offset + 4);
  return p;
}

/**
 * Writes a framed link record (format 2) at `offset` of `target`; returns the end offset.
 * `idBytes` holds the link's 16-byte id at `idOffset`.
 */
export function encodeLinkRecord(
  target: Buffer,
  offset: number,
  revision: number,
  sourcePosition: number,
  category: boolean,
  idBytes: Uint8Array,
  idOffset: number,
): number {
  const p = offset + FRAME_HEADER_SIZE;
  target[p] = LINK_RECORD_FORMAT;
  target[p + 1] = category ? 2 : 0;
  target[p + 2] = 0;
  target[p + 3] = 0;
  // Revisions and positions are below 2^53: two u32 halves avoid a BigInt per link.
  target.writeUInt32LE(revision >>> 0, p + 4);
  target.writeUInt32LE(Math.floor(revision / 0x100000000), p + 8);
  target.writeUInt32LE(sourcePosition >>> 0, p + 12);
  target.writeUInt32LE(Math.floor(sourcePosition / 0x100000000), p + 16);
  for (let i = 0; i < 16; i++) target[p + 20 + i] = idBytes[idOffset + i]!;
  const end = p + LINK_PAYLOAD_SIZE;
  target.writeUInt32LE(LINK_PAYLOAD_SIZE, offset);
  target.writeUInt32LE(crc32Of(target, p, end), offset + 4);
  return end;
}

/** A decoded event record (format 1) plus the projection bookkeeping kept only on disk. */
export interface DecodedEventRecord extends RecordFields {
  readonly kind: 'event';
  readonly sourcePosition: number;
}

/** A decoded link record (format 2): its source and stream are found from `sourcePosition`. */
export interface DecodedLinkRecord {
  readonly kind: 'link';
  readonly revision: number;
  readonly sourcePosition: number;
  /** True for a `$ce-` link, false for a `$et-` link. */
  readonly category: boolean;
  /** Holds the link's 16-byte id at `idOffset` (a view of the segment, not a copy). */
  readonly idBytes: Buffer;
  readonly idOffset: number;
}

/** A record as read back from a segment. */
export type DecodedRecord = DecodedEventRecord | DecodedLinkRecord;

/**
 * Decodes the payload at `[start, end)` of `source`. `data`, `metadata` and a link's id are
 * views into `source` (no copy), so the segment buffer stays alive as long as the events do.
 * Returns undefined when the payload is malformed.
 */
export function decodePayload(source: Buffer, start: number, end: number): DecodedRecord | undefined {
  if (source[start] === LINK_RECORD_FORMAT && end - start === LINK_PAYLOAD_SIZE) {
    return {
      kind: 'link',
      revision: source.readUInt32LE(start + 4) + source.readUInt32LE(start + 8) * 0x100000000,
      sourcePosition: source.readUInt32LE(start + 12) + source.readUInt32LE(start + 16) * 0x100000000,
      category: (source[start + 1]! & 2) === 2,
      idBytes: source,
      idOffset: start + 20,
    };
  }
  if (end - start < PAYLOAD_FIXED_SIZE || source[start] !== RECORD_FORMAT) return undefined;
  const flags = source[start + 1] ?? 0;
  const revision = source.readBigInt64LE(start + 4);
  const created = source.readBigInt64LE(start + 12);
  const sourcePosition = Number(source.readBigInt64LE(start + 20));
  const idLen = source.readUInt32LE(start + 28);
  const streamLen = source.readUInt32LE(start + 32);
  const typeLen = source.readUInt32LE(start + 36);
  const dataLen = source.readUInt32LE(start + 40);
  const metaLen = source.readUInt32LE(start + 44);
  let p = start + PAYLOAD_FIXED_SIZE;
  if (p + idLen + streamLen + typeLen + dataLen + metaLen !== end) return undefined;
  const id = source.toString('utf8', p, p + idLen);
  p += idLen;
  const stream = source.toString('utf8', p, p + streamLen);
  p += streamLen;
  const type = source.toString('utf8', p, p + typeLen);
  p += typeLen;
  const data = source.subarray(p, p + dataLen);
  p += dataLen;
  const metadata = source.subarray(p, p + metaLen);
  return {
    kind: 'event',
    id,
    stream,
    type,
    isJson: (flags & 1) === 1,
    revision,
    created,
    data,
    metadata,
    sourcePosition,
  };
}

/** Encodes a segment header for a file whose first byte sits at log position `base`. */
export function encodeSegmentHeader(base: number): Buffer {
  const header = Buffer.alloc(SEGMENT_HEADER_SIZE);
  header.writeUInt32LE(SEGMENT_MAGIC, 0);
  header.writeUInt16LE(SEGMENT_VERSION, 4);
  header.writeBigInt64LE(BigInt(base), 8);
  return header;
}

/** Reads a segment header; undefined when it is missing or not ours. */
export function decodeSegmentHeader(source: Buffer): { readonly base: number } | undefined {
  if (source.length < SEGMENT_HEADER_SIZE) return undefined;
  if (source.readUInt32LE(0) !== SEGMENT_MAGIC || source.readUInt16LE(4) !== SEGMENT_VERSION)
    return undefined;
  return { base: Number(source.readBigInt64LE(8)) };
}
