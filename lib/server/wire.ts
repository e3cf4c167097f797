/**
 * Conversions between the EventStoreDB protobuf messages and the storage engine's
 * types. Every reply is built from the generated modules inside
 * @eventstore/db-client, because their serializers check `instanceof`.
 */
import { AllStreamPosition, Empty, StreamIdentifier, UUID } from '@eventstore/db-client/generated/shared_pb';
import { ReadResp } from '@eventstore/db-client/generated/streams_pb';
import type { ResolvedEvent, StoredEvent } from '../storage/types';

/** The content type EventStoreDB keeps as the JSON flag; everything else reads back as octet-stream. */
export const JSON_CONTENT_TYPE = 'application/json';
const BINARY_CONTENT_TYPE = 'application/octet-stream';

const U64_MAX = 18446744073709551615n;

/**
 * The stream name inside a `StreamIdentifier` (UTF-8 bytes on the wire).
 *
 * @returns undefined when the identifier is missing.
 */
export function streamNameOf(identifier: StreamIdentifier | undefined): string | undefined {
  if (identifier === undefined) return undefined;
  return Buffer.from(identifier.getStreamName_asU8()).toString('utf8');
}

/** A `StreamIdentifier` for a stream name. */
export function toStreamIdentifier(stream: string): StreamIdentifier {
  return new StreamIdentifier().setStreamName(Buffer.from(stream, 'utf8'));
}

/**
 * The canonical string form of a wire UUID, whichever encoding the client used.
 *
 * @returns undefined when the UUID is missing or unreadable.
 */
export function uuidToString(uuid: UUID | undefined): string | undefined {
  if (uuid === undefined) return undefined;
  if (uuid.hasStructured()) {
    const structured = uuid.getStructured();
    if (structured === undefined) return undefined;
    try {
      const bytes = Buffer.alloc(16);
      bytes.writeBigUInt64BE(BigInt.asUintN(64, BigInt(structured.getMostSignificantBits())), 0);
      bytes.writeBigUInt64BE(BigInt.asUintN(64, BigInt(structured.getLeastSignificantBits())), 8);
      // Formatted by hand: any 128-bit value is a valid .NET Guid, not only RFC 4122 UUIDs.
      const hex = bytes.toString('hex');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    } catch {
      return undefined;
    }
  }
  return uuid.hasString() ? uuid.getString() : undefined;
}

/**
 * A wire UUID for `id`, in the encoding the reader asked for. Ids that are not
 * hexadecimal GUID text can only travel as strings.
 */
export function toWireUuid(id: string, asString: boolean): UUID {
  const uuid = new UUID();
  const hex = id.replace(/-/g, '');
  if (!asString && /^[0-9a-f]{32}$/i.test(hex)) {
    const view = Buffer.from(hex, 'hex');
    const structured = new UUID.Structured()
      .setMostSignificantBits(BigInt.asIntN(64, view.readBigUInt64BE(0)).toString())
      .setLeastSignificantBits(BigInt.asIntN(64, view.readBigUInt64BE(8)).toString());
    return uuid.setStructured(structured);
  }
  return uuid.setString(id);
}

/**
 * Parses an unsigned 64-bit decimal string (revisions, positions, counts).
 *
 * @returns undefined when the text is not a u64.
 */
export function parseU64(text: string): bigint | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const value = BigInt(text);
  return value <= U64_MAX ? value : undefined;
}

/** The int64 text EventStoreDB puts in `expected-version` trailers: -2 any, -1 no_stream, -4 stream_exists. */
export function expectedVersionTrailer(expected: string | bigint): string {
  switch (expected) {
    case 'any':
      return '-2';
    case 'no_stream':
      return '-1';
    case 'stream_exists':
      return '-4';
    default:
      return String(expected);
  }
}

/** A host clients can dial: a wildcard bind address is advertised as loopback. */
export function dialableHost(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
}

/** A shared `Empty` (the generated oneof setters accept any instance). */
export function empty(): Empty {
  return new Empty();
}

/** An `AllStreamPosition` with commit == prepare, as every v24 event has. */
export function toAllStreamPosition(position: bigint): AllStreamPosition {
  const text = position.toString();
  return new AllStreamPosition().setCommitPosition(text).setPreparePosition(text);
}

function toRecordedEvent(event: StoredEvent, uuidAsString: boolean): ReadResp.ReadEvent.RecordedEvent {
  const position = event.position.toString();
  const recorded = new ReadResp.ReadEvent.RecordedEvent()
    .setId(toWireUuid(event.id, uuidAsString))
    .setStreamIdentifier(toStreamIdentifier(event.stream))
    .setStreamRevision(event.revision.toString())
    .setPreparePosition(position)
    .setCommitPosition(position)
    .setData(event.data)
    .setCustomMetadata(event.metadata);
  recorded
    .getMetadataMap()
    .set('type', event.type)
    .set('created', event.created.toString())
    .set('content-type', event.isJson ? JSON_CONTENT_TYPE : BINARY_CONTENT_TYPE);
  return recorded;
}

/** A `ReadResp` carrying one (possibly resolved) event. */
export function toReadEventResp(resolved: ResolvedEvent, uuidAsString: boolean): ReadResp {
  const readEvent = new ReadResp.ReadEvent().setCommitPosition(resolved.position.toString());
  if (resolved.event !== undefined) readEvent.setEvent(toRecordedEvent(resolved.event, uuidAsString));
  if (resolved.link !== undefined) readEvent.setLink(toRecordedEvent(resolved.link, uuidAsString));
  return new ReadResp().setEvent(readEvent);
}
