/**
 * gRPC status errors shaped like EventStoreDB's: a status code, a details text, and
 * the `exception` trailer with the companion trailers the client reads (a missing
 * companion trailer crashes the client inside its error constructor).
 */
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  InvalidEventError,
  InvalidPositionError,
  MaxAppendSizeExceededError,
  SagastreamError,
  StoreClosedError,
  StoreUnavailableError,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
} from '../errors';
import { expectedVersionTrailer } from './wire';

/** A gRPC error as grpc-js expects it from a handler: code, details and trailers. */
export type RpcError = ServiceError;

/**
 * Builds a gRPC error with optional trailers.
 *
 * @param code the gRPC status code
 * @param details the status message the client shows
 * @param trailers trailing metadata, e.g. `{ exception: 'stream-deleted', 'stream-name': 's' }`
 */
export function rpcError(code: status, details: string, trailers: Record<string, string> = {}): RpcError {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
  const error = new Error(details) as RpcError;
  error.code = code;
  error.details = details;
  error.metadata = metadata;
  return error;
}

/** `FAILED_PRECONDITION` + `exception=stream-deleted`, as for appends, reads and deletes of a tombstoned stream. */
export function streamDeletedRpcError(stream: string): RpcError {
  return rpcError(status.FAILED_PRECONDITION, `Event stream '${stream}' is deleted.`, {
    exception: 'stream-deleted',
    'stream-name': stream,
  });
}

/** `INVALID_ARGUMENT` + `exception=maximum-append-size-exceeded`. */
export function maxAppendSizeRpcError(maxAppendSize: number): RpcError {
  return rpcError(status.INVALID_ARGUMENT, `Maximum Append Size of ${maxAppendSize} Exceeded.`, {
    exception: 'maximum-append-size-exceeded',
    'maximum-append-size': String(maxAppendSize),
  });
}

/** `INVALID_ARGUMENT` + `exception=missing-required-metadata-property` for an event without type or content-type. */
export function missingMetadataRpcError(): RpcError {
  return rpcError(status.INVALID_ARGUMENT, 'Required Metadata Properties Missing: type, content-type', {
    exception: 'missing-required-metadata-property',
    'required-metadata-properties': 'type,content-type',
  });
}

/**
 * The wrong-expected-version error of Delete and Tombstone (appends answer it
 * in the response body instead).
 *
 * @param operation 'Delete' or 'Tombstone', for the details text
 */
export function wrongExpectedVersionRpcError(operation: string, error: WrongExpectedVersionError): RpcError {
  const expected = expectedVersionTrailer(error.expected);
  const actual = error.actual === undefined ? '' : error.actual.toString();
  return rpcError(
    status.FAILED_PRECONDITION,
    `${operation} failed due to WrongExpectedVersion. Stream: ${error.stream}, Expected version: ${expected}, Actual version: ${actual === '' ? '-1' : actual}`,
    {
      exception: 'wrong-expected-version',
      'stream-name': error.stream,
      'expected-version': expected,
      'actual-version': actual,
    },
  );
}

/**
 * Maps anything a handler caught to the gRPC error EventStoreDB would send, so the
 * client raises its matching error class. Unknown failures become `INTERNAL` with
 * the message, never a crash.
 *
 * @param operation the RPC, for messages (e.g. 'Delete')
 */
export function toRpcError(error: unknown, operation: string): RpcError {
  if (error instanceof StreamDeletedError) return streamDeletedRpcError(error.stream);
  if (error instanceof WrongExpectedVersionError) return wrongExpectedVersionRpcError(operation, error);
  if (error instanceof MaxAppendSizeExceededError) return maxAppendSizeRpcError(error.maxAppendSize);
  if (error instanceof StreamNotFoundError) {
    return rpcError(status.NOT_FOUND, `Event stream '${error.stream}' is not found.`, {
      exception: 'stream-not-found',
      'stream-name': error.stream,
    });
  }
  if (error instanceof InvalidPositionError) {
    return rpcError(status.INVALID_ARGUMENT, 'Trying to read from an invalid position.');
  }
  if (error instanceof InvalidEventError) return rpcError(status.INVALID_ARGUMENT, error.message);
  if (error instanceof StoreClosedError || error instanceof StoreUnavailableError) {
    return rpcError(status.UNAVAILABLE, error.message);
  }
  if (error instanceof SagastreamError) return rpcError(status.INTERNAL, error.message);
  const message = error instanceof Error ? error.message : String(error);
  return rpcError(status.INTERNAL, `${operation} failed: ${message}`);
}
