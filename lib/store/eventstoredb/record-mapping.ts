import type { RecordedEvent } from '@eventstore/db-client';
import type { StoredEventRecord } from '../event-store';

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** The client's shape of a recorded event, for any event type. */
export type ClientRecord = Pick<
  RecordedEvent,
  'streamId' | 'id' | 'revision' | 'type' | 'created' | 'position' | 'isJson'
> & { readonly data: unknown; readonly metadata: unknown };

type Link = NonNullable<StoredEventRecord['link']>;

/**
 * A record read through the client. The client parses JSON itself and does not expose
 * the bytes, so `rawData` and `rawMetadata` of JSON events are re-serialised: equal in
 * meaning to what was stored, not necessarily byte for byte. Few readers want them, so
 * they are computed on first access (and kept), not for every event read.
 */
class ClientStoredRecord implements StoredEventRecord {
  readonly id: string;
  readonly type: string;
  readonly stream: string;
  readonly revision: bigint;
  readonly position: bigint;
  readonly data: unknown;
  readonly isJson: boolean;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly created: Date;
  declare readonly link?: Link;
  #rawData: Uint8Array | undefined;
  #rawMetadata: Uint8Array | undefined;
  /** The client's metadata value (parsed JSON, or bytes it could not parse). */
  readonly #clientMetadata: unknown;

  constructor(event: ClientRecord, link: ClientRecord | undefined) {
    this.id = event.id;
    this.type = event.type;
    this.stream = event.streamId;
    this.revision = event.revision;
    this.position = event.position?.commit ?? -1n;
    this.isJson = event.isJson;
    this.created = event.created;
    const data = decodeData(event);
    this.data = data;
    // Binary or malformed JSON: the bytes are at hand already.
    this.#rawData = data instanceof Uint8Array ? data : undefined;
    const metadata = event.metadata;
    this.#clientMetadata = metadata;
    this.metadata =
      typeof metadata === 'object' &&
      metadata !== null &&
      !Array.isArray(metadata) &&
      !(metadata instanceof Uint8Array)
        ? (metadata as Record<string, unknown>)
        : {};
    if (link !== undefined) {
      this.link = {
        id: link.id,
        stream: link.streamId,
        revision: link.revision,
        position: link.position?.commit ?? -1n,
      };
    }
  }

  get rawData(): Uint8Array {
    return (this.#rawData ??= encoder.encode(JSON.stringify(this.data) ?? ''));
  }

  get rawMetadata(): Uint8Array {
    if (this.#rawMetadata === undefined) {
      const metadata = this.#clientMetadata;
      this.#rawMetadata =
        metadata === undefined || metadata === null
          ? EMPTY
          : metadata instanceof Uint8Array
            ? metadata
            : encoder.encode(JSON.stringify(metadata));
    }
    return this.#rawMetadata;
  }
}

/** Converts a client record (and the link it was read through) to the port's shape. */
export function toStoredRecord(event: ClientRecord, link?: ClientRecord): StoredEventRecord {
  return new ClientStoredRecord(event, link);
}

/** The port's `data`: the parsed JSON, or the bytes of a binary or malformed JSON event. */
function decodeData(event: ClientRecord): unknown {
  if (!event.isJson) return event.data instanceof Uint8Array ? event.data : EMPTY;
  if (typeof event.data === 'string' && looksLikeBrokenJson(event.data)) {
    // The client hands malformed JSON over as its text; the port promises the raw bytes.
    return encoder.encode(event.data);
  }
  return event.data;
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
