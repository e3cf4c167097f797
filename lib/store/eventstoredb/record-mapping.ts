import type { RecordedEvent } from '@eventstore/db-client';
import type { StoredEventRecord } from '../event-store';

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** The client's shape of a recorded event, for any event type. */
export type ClientRecord = Pick<
  RecordedEvent,
  'streamId' | 'id' | 'revision' | 'type' | 'created' | 'position' | 'isJson'
> & { readonly data: unknown; readonly metadata: unknown };

/**
 * Converts a client record (and the link it was read through) to the port's shape.
 *
 * The client parses JSON itself and does not expose the bytes, so `rawData` and
 * `rawMetadata` of JSON events are re-serialised: equal in meaning to what was stored,
 * not necessarily byte for byte.
 */
export function toStoredRecord(event: ClientRecord, link?: ClientRecord): StoredEventRecord {
  const { data, rawData } = decodeData(event);
  const { metadata, rawMetadata } = decodeMetadata(event.metadata);
  return {
    id: event.id,
    type: event.type,
    stream: event.streamId,
    revision: event.revision,
    position: event.position?.commit ?? -1n,
    data,
    isJson: event.isJson,
    metadata,
    rawData,
    rawMetadata,
    created: event.created,
    ...(link === undefined
      ? {}
      : {
          link: {
            id: link.id,
            stream: link.streamId,
            revision: link.revision,
            position: link.position?.commit ?? -1n,
          },
        }),
  };
}

function decodeData(event: ClientRecord): { data: unknown; rawData: Uint8Array } {
  if (!event.isJson) {
    const bytes = event.data instanceof Uint8Array ? event.data : EMPTY;
    return { data: bytes, rawData: bytes };
  }
  if (typeof event.data === 'string' && looksLikeBrokenJson(event.data)) {
    // The client hands malformed JSON over as its text; the port promises the raw bytes.
    const bytes = encoder.encode(event.data);
    return { data: bytes, rawData: bytes };
  }
  return { data: event.data, rawData: encoder.encode(JSON.stringify(event.data) ?? '') };
}

/**
 * The client returns both a JSON string value and malformed JSON text as a JS string. A
 * string that opens like an object or array but does not parse can only be the latter;
 * any other string is taken as a JSON string value (the far more common case).
 */
function looksLikeBrokenJson(text: string): boolean {
  const trimmed = text.trimStart();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return false;
  try {
    JSON.parse(text);
    return false;
  } catch {
    return true;
  }
}

function decodeMetadata(metadata: unknown): {
  metadata: Readonly<Record<string, unknown>>;
  rawMetadata: Uint8Array;
} {
  if (metadata === undefined || metadata === null) return { metadata: {}, rawMetadata: EMPTY };
  if (metadata instanceof Uint8Array) return { metadata: {}, rawMetadata: metadata };
  const rawMetadata = encoder.encode(JSON.stringify(metadata));
  const isObject = typeof metadata === 'object' && !Array.isArray(metadata);
  return { metadata: isObject ? (metadata as Record<string, unknown>) : {}, rawMetadata };
}
