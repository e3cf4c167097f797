/**
 * Proposed messages (from Append and BatchAppend) to the storage engine's
 * `ProposedEvent`, with EventStoreDB's validation and size accounting.
 */
import type { UUID } from '@eventstore/db-client/generated/shared_pb';
import type { ProposedEvent } from '../../storage/types';
import { JSON_CONTENT_TYPE, uuidToString } from '../wire';

/** The accessors Append's and BatchAppend's ProposedMessage share. */
export interface WireProposedMessage {
  getId(): UUID | undefined;
  getMetadataMap(): { get(key: string): string | undefined };
  getData_asU8(): Uint8Array;
  getCustomMetadata_asU8(): Uint8Array;
}

/** A message that lacks `type` or `content-type` (EventStoreDB rejects the whole append). */
export const MISSING_METADATA = Symbol('missing-required-metadata');

/**
 * Converts a proposed message.
 *
 * @returns the event, or MISSING_METADATA when `type` or `content-type` is absent
 */
export function toProposedEvent(message: WireProposedMessage): ProposedEvent | typeof MISSING_METADATA {
  const metadata = message.getMetadataMap();
  const type = metadata.get('type');
  const contentType = metadata.get('content-type');
  if (type === undefined || contentType === undefined) return MISSING_METADATA;
  return {
    id: uuidToString(message.getId()) ?? '',
    type,
    // Only the JSON flag survives, as in EventStoreDB: other content types read back as octet-stream.
    isJson: contentType === JSON_CONTENT_TYPE,
    data: message.getData_asU8(),
    metadata: message.getCustomMetadata_asU8(),
  };
}

/** EventStoreDB's size of an event against MaxAppendSize: data + metadata + 2 bytes per type character. */
export function appendSizeOf(event: ProposedEvent): number {
  return event.data.length + event.metadata.length + event.type.length * 2;
}
