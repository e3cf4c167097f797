/**
 * The sagastream error taxonomy: every error the library throws extends
 * {@link SagastreamError} and carries a string-literal `code` plus readonly context
 * fields, so callers can branch on `err.code` without parsing messages.
 */

export type SagastreamErrorCode =
  // store and storage
  | 'WRONG_EXPECTED_VERSION'
  | 'STREAM_DELETED'
  | 'STREAM_NOT_FOUND'
  | 'MAX_APPEND_SIZE_EXCEEDED'
  | 'INVALID_EVENT'
  | 'STORE_LOCKED'
  | 'STORE_UNAVAILABLE'
  | 'STORE_CLOSED'
  | 'INVALID_POSITION'
  // messages
  | 'UNKNOWN_EVENT_TYPE'
  | 'MALFORMED_EVENT'
  // definitions and processes
  | 'DEFINITION'
  | 'CONCURRENCY'
  | 'HANDLER'
  | 'COMMAND_FAILED'
  | 'NON_RETRYABLE'
  | 'NON_DETERMINISM'
  | 'MISSING_DEPENDENCY'
  | 'PROCESS_QUARANTINED';

/** Base class of every error sagastream throws. */
export abstract class SagastreamError extends Error {
  abstract readonly code: SagastreamErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An append's expected revision did not match the stream. */
export class WrongExpectedVersionError extends SagastreamError {
  readonly code = 'WRONG_EXPECTED_VERSION' as const;
  constructor(
    readonly stream: string,
    /** 'any' | 'no_stream' | 'stream_exists' or the expected revision. */
    readonly expected: string | bigint,
    /** Current last revision, or undefined when the stream does not exist. */
    readonly actual: bigint | undefined,
    options?: { cause?: unknown },
  ) {
    super(
      `Append to stream '${stream}' expected revision ${String(expected)} but the stream is at ${
        actual === undefined ? 'no_stream' : String(actual)
      }. Reload the stream and retry the decision.`,
      options,
    );
  }
}

/** The stream was tombstoned (or soft-deleted where the operation requires it to exist). */
export class StreamDeletedError extends SagastreamError {
  readonly code = 'STREAM_DELETED' as const;
  constructor(
    readonly stream: string,
    options?: { cause?: unknown },
  ) {
    super(`Stream '${stream}' is deleted; it cannot be read or written.`, options);
  }
}

/** A read addressed a stream that does not exist. */
export class StreamNotFoundError extends SagastreamError {
  readonly code = 'STREAM_NOT_FOUND' as const;
  constructor(
    readonly stream: string,
    options?: { cause?: unknown },
  ) {
    super(`Stream '${stream}' does not exist.`, options);
  }
}

/** An append was larger than the store accepts in one call. */
export class MaxAppendSizeExceededError extends SagastreamError {
  readonly code = 'MAX_APPEND_SIZE_EXCEEDED' as const;
  constructor(
    readonly stream: string,
    readonly maxAppendSize: number,
    readonly size?: number,
    options?: { cause?: unknown },
  ) {
    super(
      `Append to stream '${stream}' exceeds the maximum append size of ${maxAppendSize} bytes${
        size === undefined ? '' : ` (${size} bytes)`
      }. Split it into several appends.`,
      options,
    );
  }
}

/** An event proposed for append is not acceptable (empty id or type, bad metadata). */
export class InvalidEventError extends SagastreamError {
  readonly code = 'INVALID_EVENT' as const;
  constructor(
    message: string,
    readonly stream?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Another process holds the store directory. */
export class StoreLockedError extends SagastreamError {
  readonly code = 'STORE_LOCKED' as const;
  constructor(
    readonly dir: string,
    readonly holderPid: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(
      `Store directory '${dir}' is locked by another process${
        holderPid === undefined ? '' : ` (pid ${holderPid})`
      }. Stop that process or use another --db directory.`,
      options,
    );
  }
}

/** The store could not be reached or opened (connection dropped, directory not writable, port in use). */
export class StoreUnavailableError extends SagastreamError {
  readonly code = 'STORE_UNAVAILABLE' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An operation was attempted on a closed store. */
export class StoreClosedError extends SagastreamError {
  readonly code = 'STORE_CLOSED' as const;
  constructor(what = 'The event store') {
    super(`${what} is closed.`);
  }
}

/** A read or subscription asked for a $all position that is not an event boundary. */
export class InvalidPositionError extends SagastreamError {
  readonly code = 'INVALID_POSITION' as const;
  constructor(
    readonly position: bigint,
    options?: { cause?: unknown },
  ) {
    super(`Trying to read from an invalid position (${position}).`, options);
  }
}
