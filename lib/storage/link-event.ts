/**
 * Projection links (`$ce-<category>`, `$et-<type>`) as the log stores them.
 *
 * A link's data (`"<rev>@<stream>"`) and metadata (checkpoint tag, `$o`, `$causedBy`,
 * `$correlationId`) follow from its source event, so neither is stored: a link record
 * holds only its revision, its source's log position and its own id (see record-codec.ts),
 * and a {@link LinkEvent} builds its bodies the first time a reader asks for them. Readers
 * still see an ordinary `$>` event that `resolveLinkTos` follows.
 */
import { randomFillSync } from 'node:crypto';
import { TOMBSTONE_REVISION, type ResolvedEvent, type StoredEvent } from './types';

/** Event type of a link. */
export const LINK_TYPE = '$>';
/** Bytes of a link id. */
export const LINK_ID_SIZE = 16;

/** What a link needs to know about its source's stream (the log's StreamState has both). */
export interface LinkSourceStream {
  /** UTF-8 byte length of the stream name. */
  readonly nameBytes: number;
  /** The stream name as JSON text, cached by the first link that needs it. */
  nameJson: string | undefined;
}

const ID_POOL_SIZE = LINK_ID_SIZE * 256;
let idPool = Buffer.alloc(0);
let idPoolAt = 0;

/** What a link builds on first use: its id text, and its bodies. */
interface LinkExtras {
  id?: string;
  bodies?: { readonly data: Uint8Array; readonly metadata: Uint8Array };
}

/**
 * A `$>` event of a projection stream. `data`, `metadata`, `id`, the bigint `revision`
 * and the bigint `position` are computed on use; the values are those the projections
 * would have written. It is also its own index entry (`event` is itself). Every record
 * stays in memory and there are two links per event, so a link keeps as few fields as it
 * can: each object and field kept is GC work for as long as the log is open (this layout
 * saves a bigint and three fields per link, ~40 bytes).
 */
export class LinkEvent implements StoredEvent, ResolvedEvent {
  private extras: LinkExtras | undefined;

  /**
   * @param stream          the link's stream, `$ce-<category>` or `$et-<type>`
   * @param revisionNumber  the link's revision in `stream`
   * @param at              the link's log position (below 2^53, as every position is)
   * @param idBytes         holds the id's 16 bytes at `idOffset` (never rewritten)
   */
  constructor(
    readonly stream: string,
    readonly revisionNumber: number,
    readonly at: number,
    readonly source: StoredEvent,
    private readonly sourceStream: LinkSourceStream,
    readonly idBytes: Uint8Array,
    readonly idOffset: number,
  ) {}

  /** A link at log position `at` with a fresh random (version 4) id. */
  static create(
    stream: string,
    revision: number,
    at: number,
    source: StoredEvent,
    sourceStream: LinkSourceStream,
  ): LinkEvent {
    if (idPoolAt === idPool.length) {
      // A new pool each time: ids of earlier links are views of the old one.
      idPool = randomFillSync(Buffer.allocUnsafe(ID_POOL_SIZE));
      idPoolAt = 0;
    }
    const id = idPoolAt;
    idPoolAt += LINK_ID_SIZE;
    idPool[id + 6] = (idPool[id + 6]! & 0x0f) | 0x40;
    idPool[id + 8] = (idPool[id + 8]! & 0x3f) | 0x80;
    return new LinkEvent(stream, revision, at, source, sourceStream, idPool, id);
  }

  /** As an index entry: the link itself. */
  get event(): StoredEvent {
    return this;
  }

  /** As an index entry: not a resolved link. */
  get link(): undefined {
    return undefined;
  }

  get revision(): bigint {
    return BigInt(this.revisionNumber);
  }

  /** The link's log position. */
  get position(): bigint {
    return BigInt(this.at);
  }

  /** True for a `$ce-` link, false for a `$et-` link. */
  get category(): boolean {
    return this.stream.charCodeAt(1) === 99; /* c */
  }

  get type(): string {
    return LINK_TYPE;
  }

  get isJson(): boolean {
    return false;
  }

  get created(): bigint {
    return this.source.created;
  }

  get id(): string {
    const extras = (this.extras ??= {});
    return (extras.id ??= uuidText(this.idBytes, this.idOffset));
  }

  get data(): Uint8Array {
    return this.bodies().data;
  }

  get metadata(): Uint8Array {
    return this.bodies().metadata;
  }

  /** Log position of the source event. */
  get sourcePosition(): number {
    return Number(this.source.position);
  }

  private bodies(): { readonly data: Uint8Array; readonly metadata: Uint8Array } {
    const extras = (this.extras ??= {});
    return (extras.bodies ??= linkBodies(this.source, this.sourceStream));
  }
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
const uuidScratch = Buffer.alloc(36);

/** The canonical text of the 16-byte UUID at `offset` of `bytes`, as one flat string. */
function uuidText(bytes: Uint8Array, offset: number): string {
  const text = uuidScratch;
  let p = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text[p++] = 45; /* - */
    const b = bytes[offset + i]!;
    text[p++] = HEX_DIGITS[b >> 4]!;
    text[p++] = HEX_DIGITS[b & 15]!;
  }
  return text.toString('latin1', 0, 36);
}

const CORRELATION_KEY = Buffer.from('"$correlationId"', 'utf8');

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/**
 * A link's data (`"<rev>@<stream>"`; a link to a link reuses its data) and metadata, as
 * the projections write them. Both are encoded with one `Buffer.from` and share its bytes.
 */
function linkBodies(
  source: StoredEvent,
  sourceStream: LinkSourceStream,
): { data: Uint8Array; metadata: Uint8Array } {
  const position = String(source.position);
  const owner = (sourceStream.nameJson ??= JSON.stringify(source.stream));
  let metadata = `{"$v":"1:-1:1:1","$c":${position},"$p":${position},"$o":${owner},"$causedBy":${JSON.stringify(source.id)}`;
  const correlation = correlationIdOf(source.metadata);
  if (correlation !== undefined) metadata += `,"$correlationId":${correlation}`;
  metadata += source.revision === TOMBSTONE_REVISION ? ',"$deleted":-1}' : '}';
  if (source.type === LINK_TYPE) return { data: source.data, metadata: Buffer.from(metadata, 'utf8') };
  const revision = source.revision.toString();
  // The revision digits and '@' are ASCII, so the data's byte length needs no scan.
  const dataBytes = revision.length + 1 + sourceStream.nameBytes;
  const bytes = Buffer.from(`${revision}@${source.stream}${metadata}`, 'utf8');
  return { data: bytes.subarray(0, dataBytes), metadata: bytes.subarray(dataBytes) };
}

const CORRELATION_PATTERN = /"\$correlationId"\s*:\s*("(?:[^"\\]|\\.)*")/;

/** The JSON text of `$correlationId` in event metadata, if the metadata is JSON and has one. */
function correlationIdOf(metadata: Uint8Array): string | undefined {
  if (metadata.byteLength < CORRELATION_KEY.length) return undefined;
  const buf = asBuffer(metadata);
  const key = buf.indexOf(CORRELATION_KEY);
  if (key < 0) return undefined;
  // The common case, a string id, is copied as JSON text without decoding the metadata.
  const plain = plainCorrelationString(buf, key + CORRELATION_KEY.length);
  if (plain !== undefined) return plain;
  const text = buf.toString('utf8');
  const match = CORRELATION_PATTERN.exec(text);
  if (match) return match[1];
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const value = (parsed as Record<string, unknown>).$correlationId;
    return value === undefined ? undefined : JSON.stringify(value);
  } catch {
    return undefined;
  }
}

/**
 * What {@link CORRELATION_PATTERN} captures, read from the bytes after the first occurrence
 * of the key (no match of the pattern can start earlier). Undefined whenever the bytes
 * leave the plain case (non-ASCII whitespace, a backslash before a line break or a
 * non-ASCII character, no closing quote, a value that is not a string), and the caller
 * then runs the pattern itself, so the result is always the pattern's.
 */
function plainCorrelationString(buf: Buffer, from: number): string | undefined {
  const end = buf.length;
  let p = from;
  while (p < end && isAsciiSpace(buf[p]!)) p++;
  if (p >= end || buf[p] !== 58 /* : */) return undefined;
  p++;
  while (p < end && isAsciiSpace(buf[p]!)) p++;
  if (p >= end || buf[p] !== 34 /* " */) return undefined;
  const start = p++;
  while (p < end) {
    const c = buf[p]!;
    if (c === 34) return buf.toString('utf8', start, p + 1);
    if (c === 92 /* backslash */) {
      const next = buf[p + 1];
      if (next === undefined || next === 10 || next === 13 || next >= 0x80) return undefined;
      p += 2;
    } else p++;
  }
  return undefined;
}

/** The ASCII characters `\s` matches: tab, line feed, vertical tab, form feed, carriage return, space. */
function isAsciiSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}
