/**
 * Streams.Delete (soft delete) and Streams.Tombstone: unary calls whose failures are
 * gRPC statuses with EventStoreDB's trailers (wrong-expected-version with int64
 * expected/actual versions, stream-deleted).
 */
import { status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import {
  type DeleteReq,
  DeleteResp,
  type TombstoneReq,
  TombstoneResp,
} from '@eventstore/db-client/generated/streams_pb';
import { rpcError, toRpcError } from '../rpc-error';
import type { ServerContext } from '../server-context';
import { streamNameOf } from '../wire';
import { parseExpectedRevision } from './expected-revision';
import type { ExpectedRevision } from '../../storage/types';

type Target = { readonly stream: string; readonly expected: ExpectedRevision } | { readonly error: string };

function parseTarget(
  options: DeleteReq.Options | TombstoneReq.Options | undefined,
  operation: string,
): Target {
  if (options === undefined) return { error: `${operation} request has no options.` };
  const stream = streamNameOf(options.getStreamIdentifier());
  if (stream === undefined || stream === '') return { error: `${operation} request names no stream.` };
  const expected = parseExpectedRevision(options, options.hasRevision() ? options.getRevision() : undefined);
  if (expected === undefined)
    return { error: `${operation} of '${stream}' has an invalid expected revision.` };
  return { stream, expected };
}

/**
 * The Streams.Delete handler (soft delete: `$tb` = max in the stream's metadata).
 *
 * @param context shared server state
 */
export function createDeleteHandler(
  context: ServerContext,
): (call: ServerUnaryCall<DeleteReq, DeleteResp>, callback: sendUnaryData<DeleteResp>) => void {
  return (call, callback) => {
    const target = parseTarget(call.request.getOptions(), 'Delete');
    if ('error' in target) {
      callback(rpcError(status.INVALID_ARGUMENT, target.error));
      return;
    }
    context.log.deleteStream(target.stream, target.expected).then(
      ({ position }) => {
        const text = position.toString();
        callback(
          null,
          new DeleteResp().setPosition(
            new DeleteResp.Position().setCommitPosition(text).setPreparePosition(text),
          ),
        );
      },
      (error: unknown) => callback(toRpcError(error, 'Delete')),
    );
  };
}

/**
 * The Streams.Tombstone handler (a permanent, irreversible delete).
 *
 * @param context shared server state
 */
export function createTombstoneHandler(
  context: ServerContext,
): (call: ServerUnaryCall<TombstoneReq, TombstoneResp>, callback: sendUnaryData<TombstoneResp>) => void {
  return (call, callback) => {
    const target = parseTarget(call.request.getOptions(), 'Tombstone');
    if ('error' in target) {
      callback(rpcError(status.INVALID_ARGUMENT, target.error));
      return;
    }
    context.log.tombstoneStream(target.stream, target.expected).then(
      ({ position }) => {
        const text = position.toString();
        callback(
          null,
          new TombstoneResp().setPosition(
            new TombstoneResp.Position().setCommitPosition(text).setPreparePosition(text),
          ),
        );
      },
      (error: unknown) => callback(toRpcError(error, 'Tombstone')),
    );
  };
}
