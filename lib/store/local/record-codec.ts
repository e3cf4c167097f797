import { InvalidEventError } from '../../errors';
import type { ProposedEvent, StoredEvent } from '../../storage/types';
import type { EventToAppend, StoredEventRecord, StreamMetadata } from '../event-store';
import { fromMetadataJson, toMetadataJson } from '../stream-metadata';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);
const TICKS_PER_MILLISECOND = 10_000n;
/** long.MaxValue: the `$tb` EventStoreDB writes for a soft-deleted stream. */

/**
 * Turns a port event into the bytes the log stores: `Uint8Array` data is kept as a
 * binary event, anything else is JSON.
 *
 * @throws InvalidEventError when the data or metadata cannot be serialised as JSON.
 */
export function encodeEvent(stream: string, event: EventToAppend): ProposedEvent {
  if (event.data instanceof Uint8Array) {
    return {
      id: event.id,
      type: event.type,
      isJson: false,
      data: event.data,
      metadata: encodeMetadata(stream, event),
    };
  }
  return {
    id: event.id,
    type: event.type,
    isJson: true,
    data: utf8(stringify(stream, event, event.data, 'data')),
    metadata: encodeMetadata(stream, event),
  };
}

function encodeMetadata(stream: string, event: EventToAppend): Uint8Array {
  if (event.metadata === undefined) return EMPTY;
  return utf8(stringify(stream, event, event.metadata, 'metadata'));
}

/** Bytes of each shared slab that event bodies are encoded into. */
const SLAB_SIZE = 256 * 1024;
/** Bodies that may need more than this many bytes get a buffer of their own. */
const SLAB_MAX_BODY = SLAB_SIZE / 16;
let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let slabAt = 0;

/**
 * UTF-8 bytes of `text` as a plain Uint8Array (the port's type), written straight into a
 * shared slab: one write and one view per body, where `Buffer.from` measures the string
 * first, makes a Buffer view of its 8 KB pool (a new pool every ~25 events here) and then
 * needed a second, plain view. Views pin their slab, which is no loss: the log keeps every
 * body it is given. The plain view keeps Buffer's extra methods out of what callers receive.
 */
function utf8(text: string): Uint8Array {
  const most = text.length * 3;
  if (most > SLAB_MAX_BODY) {
    const bytes = Buffer.from(text, 'utf8');
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  if (slabAt + most > SLAB_SIZE) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    slabAt = 0;
  }
  const at = slabAt;
  const written = slab.write(text, at, 'utf8');
  slabAt = at + written;
  return new Uint8Array(slab.buffer, at, written);
}

function stringify(stream: string, event: EventToAppend, value: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new InvalidEventError(
      `Event '${event.id}' (${event.type}) for stream '${stream}' has ${what} that is not JSON-serialisable: ${String(err)}. Pass plain JSON values or a Uint8Array.`,
      stream,
      { cause: err },
    );
  }
  if (text === undefined) {
    throw new InvalidEventError(
      `Event '${event.id}' (${event.type}) for stream '${stream}' has ${what} that serialises to nothing (undefined or a function). Pass plain JSON values or a Uint8Array.`,
      stream,
    );
  }
  return text;
}

/** Converts a stored record (and the link it was read through, if any) to the port's shape. */
export function decodeRecord(event: StoredEvent, link?: StoredEvent): StoredEventRecord {
  const rawData = event.data;
  const rawMetadata = event.metadata;
  const data = event.isJson ? parseJsonOr(rawData, rawData) : rawData;
  const metadata = parseMetadata(rawMetadata);
  const created = new Date(millisOf(event.created));
  // Two literals rather than a spread of an optional `link`: each keeps one fixed shape.
  if (link === undefined) {
    return {
      id: event.id,
      type: event.type,
      stream: event.stream,
      revision: event.revision,
      position: event.position,
      data,
      isJson: event.isJson,
      metadata,
      rawData,
      rawMetadata,
      created,
    };
  }
  return {
    id: event.id,
    type: event.type,
    stream: event.stream,
    revision: event.revision,
    position: event.position,
    data,
    isJson: event.isJson,
    metadata,
    rawData,
    rawMetadata,
    created,
    link: { id: link.id, stream: link.stream, revision: link.revision, position: link.position },
  };
}

let lastTicks = -1n;
let lastMillis = 0;

/**
 * Milliseconds of `created` ticks. The events of one append share their ticks, so a
 * catch-up mostly repeats the last conversion (a bigint division each time otherwise).
 */
function millisOf(ticks: bigint): number {
  if (ticks !== lastTicks) {
    lastMillis = Number(ticks / TICKS_PER_MILLISECOND);
    lastTicks = ticks;
  }
  return lastMillis;
}

/** Reads never throw on content: what does not parse comes back as `fallback`. */
function parseJsonOr<T>(bytes: Uint8Array, fallback: T): unknown {
  if (bytes.length === 0) return fallback;
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    return fallback;
  }
}

/** The port promises an object: absent, malformed or non-object metadata reads as `{}`. */
function parseMetadata(bytes: Uint8Array): Readonly<Record<string, unknown>> {
  const parsed = parseJsonOr(bytes, undefined);
  return isPlainObject(parsed) ? parsed : {};
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Serialises port metadata to the `$metadata` JSON EventStoreDB stores in `$$<stream>`. */
export function encodeStreamMetadata(metadata: StreamMetadata): Uint8Array {
  const body = toMetadataJson(metadata);
  // JSON.stringify rejects bigint; a marker keeps large revisions exact as JSON numbers.
  const text = JSON.stringify(body, (_key, value: unknown) =>
    typeof value === 'bigint' ? `\u0000bigint:${value.toString()}` : value,
  ).replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
  return encoder.encode(text);
}

/** Parses `$metadata` JSON back into port metadata (`$tb` as a bigint). */
export function decodeStreamMetadata(bytes: Uint8Array): StreamMetadata {
  return fromMetadataJson(parseJsonOr(bytes, undefined));
}
