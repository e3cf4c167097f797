/** Metadata key EventStoreDB's `$by_correlation_id` projection reads. */
export const CORRELATION_ID = '$correlationId';
/** Metadata key naming the event or command that caused this one. */
export const CAUSATION_ID = '$causationId';

/** The correlation and causation of a message. */
export interface Correlation {
  /** The business key shared by everything one process does (sagastream: the process id). */
  readonly correlationId: string;
  /** The id of the event, command or timer that caused the message. */
  readonly causationId: string;
}

/** Returns `metadata` with `$correlationId` and `$causationId` set. */
export function withCorrelation(
  metadata: Readonly<Record<string, unknown>> | undefined,
  correlation: Correlation,
): Readonly<Record<string, unknown>> {
  return {
    ...metadata,
    [CORRELATION_ID]: correlation.correlationId,
    [CAUSATION_ID]: correlation.causationId,
  };
}

/** The `$correlationId` of a message's metadata, if it is a string. */
export function correlationIdOf(metadata: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const value = metadata?.[CORRELATION_ID];
  return typeof value === 'string' ? value : undefined;
}

/** The `$causationId` of a message's metadata, if it is a string. */
export function causationIdOf(metadata: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const value = metadata?.[CAUSATION_ID];
  return typeof value === 'string' ? value : undefined;
}
