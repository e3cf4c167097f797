/**
 * Stream metadata as the read path applies it (`$maxCount`, `$maxAge`, `$tb`), parsed
 * once per `$metadata` write rather than on every read.
 */

/** `$tb` of a soft-deleted stream: long.MaxValue. */
export const SOFT_DELETED_TB = 9223372036854775807n;

/** The rules from the last event of a `$$<stream>` metastream. */
export interface MetadataRules {
  /** The metadata object as written; undefined when it was not a JSON object. */
  readonly raw: Readonly<Record<string, unknown>> | undefined;
  readonly maxCount: number | undefined;
  /** Seconds. */
  readonly maxAge: number | undefined;
  /** Truncate-before revision (clamped to a safe integer). */
  readonly truncateBefore: number | undefined;
  /** `$tb` is long.MaxValue. */
  readonly softDeleted: boolean;
}

const NO_RULES: MetadataRules = {
  raw: undefined,
  maxCount: undefined,
  maxAge: undefined,
  truncateBefore: undefined,
  softDeleted: false,
};

// JSON numbers lose precision above 2^53: long.MaxValue parses as 9223372036854775808.
const TB_MAX_AS_NUMBER = Number(SOFT_DELETED_TB);

const positiveNumber = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;

/** Parses a metadata event body; malformed metadata imposes no rules, as on the real server. */
export function parseMetadata(data: Uint8Array): MetadataRules {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    return NO_RULES;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return NO_RULES;
  const raw = parsed as Record<string, unknown>;
  const tb = positiveNumber(raw.$tb);
  const softDeleted = tb !== undefined && tb >= TB_MAX_AS_NUMBER;
  return {
    raw,
    maxCount: positiveNumber(raw.$maxCount),
    maxAge: positiveNumber(raw.$maxAge),
    truncateBefore: tb === undefined ? undefined : Math.min(Math.floor(tb), Number.MAX_SAFE_INTEGER),
    softDeleted,
  };
}

/** The metadata body a soft delete writes. */
export const SOFT_DELETE_METADATA: Uint8Array = Buffer.from(`{"$tb":${SOFT_DELETED_TB}}`, 'utf8');

/**
 * The metadata body that undeletes a stream: the current object with `$tb` moved to the
 * first revision of the recreated stream.
 */
export function undeleteMetadata(current: MetadataRules | undefined, firstRevision: number): Uint8Array {
  const body: Record<string, unknown> = { ...(current?.raw ?? {}), $tb: firstRevision };
  return Buffer.from(JSON.stringify(body), 'utf8');
}
