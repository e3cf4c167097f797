/**
 * Streams.Append (client streaming): options first, then one proposed message per
 * event. Oversize and malformed appends are rejected as soon as they are seen; a
 * wrong expected version is a normal response, not a gRPC error.
 */
import { status, type sendUnaryData, type ServerReadableStream } from '@grpc/grpc-js';
import { type AppendReq, AppendResp } from '@eventstore/db-client/generated/streams_pb';
import { WrongExpectedVersionError } from '../../errors';
import type { AppendResult, ExpectedRevision, ProposedEvent } from '../../storage/types';
import {
  maxAppendSizeRpcError,
  missingMetadataRpcError,
  rpcError,
  toRpcError,
  type RpcError,
} from '../rpc-error';
import type { ServerContext } from '../server-context';
import { empty, streamNameOf } from '../wire';
import { parseExpectedRevision, toAppendWrongExpectedVersion } from './expected-revision';
import { appendSizeOf, MISSING_METADATA, toProposedEvent } from './proposed-event';

function toAppendSuccess(result: AppendResult): AppendResp {
  const success = new AppendResp.Success();
  if (result.nextRevision < 0n) success.setNoStream(empty());
  else success.setCurrentRevision(result.nextRevision.toString());
  if (result.position < 0n) success.setNoPosition(empty());
  else {
    const position = result.position.toString();
    success.setPosition(new AppendResp.Position().setCommitPosition(position).setPreparePosition(position));
  }
  return new AppendResp().setSuccess(success);
}

/**
 * The Streams.Append handler.
 *
 * @param context shared server state
 */
export function createAppendHandler(
  context: ServerContext,
): (call: ServerReadableStream<AppendReq, AppendResp>, callback: sendUnaryData<AppendResp>) => void {
  return (call, callback) => {
    let stream: string | undefined;
    let expected: ExpectedRevision | undefined;
    const events: ProposedEvent[] = [];
    let size = 0;
    let answered = false;

    const answer = (error: RpcError | null, response?: AppendResp): void => {
      if (answered) return;
      answered = true;
      if (error !== null) callback(error);
      else callback(null, response);
    };

    const receive = (request: AppendReq): void => {
      if (request.hasOptions()) {
        const options = request.getOptions()!;
        if (stream !== undefined) {
          answer(rpcError(status.INVALID_ARGUMENT, 'Append options were sent twice.'));
          return;
        }
        stream = streamNameOf(options.getStreamIdentifier());
        expected = parseExpectedRevision(options, options.hasRevision() ? options.getRevision() : undefined);
        if (stream === undefined || stream === '') {
          answer(rpcError(status.INVALID_ARGUMENT, 'Append request names no stream.'));
        } else if (expected === undefined) {
          answer(
            rpcError(status.INVALID_ARGUMENT, `Append to '${stream}' has an invalid expected revision.`),
          );
        }
        return;
      }
      if (!request.hasProposedMessage()) {
        answer(rpcError(status.INVALID_ARGUMENT, 'Append request carries neither options nor an event.'));
        return;
      }
      if (stream === undefined) {
        answer(rpcError(status.INVALID_ARGUMENT, 'Append request must start with options.'));
        return;
      }
      const event = toProposedEvent(request.getProposedMessage()!);
      if (event === MISSING_METADATA) {
        answer(missingMetadataRpcError());
        return;
      }
      size += appendSizeOf(event);
      if (size > context.maxAppendSize) {
        answer(maxAppendSizeRpcError(context.maxAppendSize));
        return;
      }
      events.push(event);
    };

    call.on('data', (request: AppendReq) => {
      if (answered) return;
      try {
        receive(request);
      } catch (error) {
        answer(toRpcError(error, 'Append'));
      }
    });

    call.on('error', () => {
      answered = true;
    });

    call.on('end', () => {
      if (answered) return;
      if (stream === undefined || expected === undefined) {
        answer(rpcError(status.INVALID_ARGUMENT, 'Append request had no options.'));
        return;
      }
      const target = stream;
      context.log.append(target, expected, events).then(
        (result) => answer(null, toAppendSuccess(result)),
        (error: unknown) => {
          if (error instanceof WrongExpectedVersionError) answer(null, toAppendWrongExpectedVersion(error));
          else answer(toRpcError(error, 'Append'));
        },
      );
    });
  };
}
