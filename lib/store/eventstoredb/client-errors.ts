import { ErrorType, isCommandError } from '@eventstore/db-client';
import {
  InvalidEventError,
  InvalidPositionError,
  MaxAppendSizeExceededError,
  SagastreamError,
  StoreUnavailableError,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
} from '../../errors';
import type { ExpectedRevision } from '../event-store';

/** What the failed operation was about, for errors the client reports without it. */
export interface ClientErrorContext {
  readonly operation: string;
  readonly stream?: string;
  readonly expected?: ExpectedRevision;
  readonly position?: bigint;
}

/** EventStoreDB's default MaxAppendSize, reported when the client error lacks it. */
const DEFAULT_MAX_APPEND_SIZE = 1_048_576;
const GRPC_UNAVAILABLE = 14;
const GRPC_INVALID_ARGUMENT = 3;

/**
 * Translates an @eventstore/db-client error into the sagastream taxonomy, keeping the
 * client error as `cause`. Anything the store cannot be blamed for specifically (a
 * dropped connection, a timeout, an unknown server error) becomes StoreUnavailableError.
 */
export function mapClientError(err: unknown, context: ClientErrorContext): Error {
  if (err instanceof SagastreamError) return err;
  if (!(err instanceof Error)) {
    return new StoreUnavailableError(
      `EventStoreDB ${context.operation} failed: ${String(err)}. Check the server and the connection string.`,
      { cause: err },
    );
  }
  const stream = context.stream ?? '';
  if (isCommandError(err)) {
    switch (err.type) {
      case ErrorType.WRONG_EXPECTED_VERSION: {
        const actual = err.actualVersion;
        return new WrongExpectedVersionError(
          err.streamName || stream,
          context.expected ?? err.expectedVersion,
          typeof actual === 'bigint' ? actual : undefined,
          { cause: err },
        );
      }
      case ErrorType.STREAM_DELETED:
        return new StreamDeletedError(err.streamName || stream, { cause: err });
      case ErrorType.STREAM_NOT_FOUND:
        return new StreamNotFoundError(err.streamName || stream, { cause: err });
      case ErrorType.MAXIMUM_APPEND_SIZE_EXCEEDED:
        return new MaxAppendSizeExceededError(
          stream,
          err.maxAppendSize || DEFAULT_MAX_APPEND_SIZE,
          undefined,
          {
            cause: err,
          },
        );
      case ErrorType.MISSING_REQUIRED_METADATA_PROPERTY:
        return new InvalidEventError(
          `EventStoreDB rejected an event for stream '${stream}': ${err.message}. Every event needs a type.`,
          stream,
          { cause: err },
        );
      default:
        break;
    }
  }
  // Errors without an `exception` trailer arrive as UnknownError; only the gRPC code tells them apart.
  const code = (err as { code?: unknown }).code;
  if (
    code === GRPC_INVALID_ARGUMENT &&
    /invalid position/i.test(err.message) &&
    context.position !== undefined
  ) {
    return new InvalidPositionError(context.position, { cause: err });
  }
  const unavailable =
    code === GRPC_UNAVAILABLE || (isCommandError(err) && err.type === ErrorType.UNAVAILABLE);
  return new StoreUnavailableError(
    `EventStoreDB ${context.operation}${stream === '' ? '' : ` on stream '${stream}'`} failed: ${err.message}. ${
      unavailable
        ? 'The server is unreachable; check that it is running and the connection string.'
        : 'Retry, or check the server logs.'
    }`,
    { cause: err },
  );
}
