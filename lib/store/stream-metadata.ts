import type { StreamMetadata } from './event-store';

/** A soft delete's `$tb`: long.MaxValue. */
const MAX_INT64 = 9223372036854775807n;

/**
 * Port metadata -> EventStoreDB `$metadata` JSON keys (`maxCount` -> `$maxCount`, ...).
 * Values are kept as they are (bigints included); each adapter serialises them its way.
 */
export function toMetadataJson(metadata: StreamMetadata): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (value === undefined) continue;
    switch (key) {
      case 'maxCount':
        body.$maxCount = value;
        break;
      case 'maxAge':
        body.$maxAge = value;
        break;
      case 'truncateBefore':
        body.$tb = value;
        break;
      default:
        body[key] = value;
    }
  }
  return body;
}

/** EventStoreDB `$metadata` JSON -> port metadata; unknown keys (including `$acl`) pass through. */
export function fromMetadataJson(data: unknown): StreamMetadata {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return {};
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    switch (key) {
      case '$maxCount':
        result.maxCount = value;
        break;
      case '$maxAge':
        result.maxAge = value;
        break;
      case '$tb':
        result.truncateBefore = toRevision(value);
        break;
      default:
        result[key] = value;
    }
  }
  return result;
}

/** JSON numbers above 2^53 lose precision; a soft delete's long.MaxValue must still read as such. */
export function toRevision(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value;
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  if (value >= Number(MAX_INT64)) return MAX_INT64;
  return BigInt(Math.trunc(value));
}
