/**
 * Streams.BatchAppend (bidirectional): one long-lived stream per client channel that
 * carries many appends, each identified by a correlation id and possibly split into
 * chunks. Every reply echoes the correlation id and always names the stream (the
 * client crashes without it); failures are in-band `google.rpc.Status` values whose
 * details are packed as `type.googleapis.com/<full name>`, which the client unpacks.
 */
import { status, type ServerDuplexStream } from '@grpc/grpc-js';
import { Any } from 'google-protobuf/google/protobuf/any_pb';
import { Empty as GoogleEmpty } from 'google-protobuf/google/protobuf/empty_pb';
import type { Message } from 'google-protobuf';
import { Code } from '@eventstore/db-client/generated/code_pb';
import {
  BadRequest,
  MaximumAppendSizeExceeded,
  StreamDeleted,
  Timeout,
  Unknown,
  type UUID,
} from '@eventstore/db-client/generated/shared_pb';
import { Status } from '@eventstore/db-client/generated/status_pb';
import { type BatchAppendReq, BatchAppendResp } from '@eventstore/db-client/generated/streams_pb';
import { MaxAppendSizeExceededError, StreamDeletedError, WrongExpectedVersionError } from '../../errors';
import type { AppendResult, ExpectedRevision, ProposedEvent } from '../../storage/types';
import { rpcError, toRpcError } from '../rpc-error';
import type { ServerContext } from '../server-context';
import { streamNameOf, toAllStreamPosition, toStreamIdentifier, uuidToString } from '../wire';
import { parseExpectedRevision, toSharedWrongExpectedVersion } from './expected-revision';
import { appendSizeOf, MISSING_METADATA, toProposedEvent } from './proposed-event';

type BatchAppendCall = ServerDuplexStream<BatchAppendReq, BatchAppendResp>;

/** One append being assembled from its chunks. */
interface Batch {
  readonly correlationId: UUID;
  readonly stream: string;
  readonly expected: ExpectedRevision;
  /** Epoch milliseconds after which the append answers Timeout. */
  readonly deadline: number | undefined;
  readonly events: ProposedEvent[];
  size: number;
}

/** What a reply needs to identify its append, even when the request was malformed. */
interface ReplyTarget {
  readonly correlationId: UUID;
  readonly stream: string;
  readonly expected?: ExpectedRevision;
}

function packed(code: Code, message: string, fullName: string, detail: Message): Status {
  const any = new Any();
  any.pack(detail.serializeBinary(), fullName);
  return new Status().setCode(code).setMessage(message).setDetails(any);
}

/** The in-band status EventStoreDB sends for an append failure. */
function toStatus(error: unknown, stream: string): Status {
  if (error instanceof WrongExpectedVersionError) {
    return packed(
      Code.ALREADY_EXISTS,
      'WrongExpectedVersion',
      'event_store.client.WrongExpectedVersion',
      toSharedWrongExpectedVersion(error),
    );
  }
  if (error instanceof StreamDeletedError) {
    const detail = new StreamDeleted().setStreamIdentifier(toStreamIdentifier(stream));
    return packed(Code.NOT_FOUND, 'StreamDeleted', 'event_store.client.StreamDeleted', detail);
  }
  if (error instanceof MaxAppendSizeExceededError) {
    return maxAppendSizeStatus(error.maxAppendSize);
  }
  const message = error instanceof Error ? error.message : String(error);
  return packed(Code.UNKNOWN, message, 'event_store.client.Unknown', new Unknown());
}

function maxAppendSizeStatus(maxAppendSize: number): Status {
  const detail = new MaximumAppendSizeExceeded().setMaxappendsize(maxAppendSize);
  return packed(
    Code.INVALID_ARGUMENT,
    `Maximum Append Size of ${maxAppendSize} Exceeded.`,
    'event_store.client.MaximumAppendSizeExceeded',
    detail,
  );
}

function timeoutStatus(): Status {
  return packed(Code.DEADLINE_EXCEEDED, 'Timeout', 'event_store.client.Timeout', new Timeout());
}

function badRequestStatus(message: string): Status {
  return packed(
    Code.INVALID_ARGUMENT,
    message,
    'event_store.client.BadRequest',
    new BadRequest().setMessage(message),
  );
}

function toReply(target: ReplyTarget, outcome: AppendResult | Status): BatchAppendResp {
  const reply = new BatchAppendResp()
    .setCorrelationId(target.correlationId)
    .setStreamIdentifier(toStreamIdentifier(target.stream));
  const { expected } = target;
  if (typeof expected === 'bigint') reply.setStreamPosition(expected.toString());
  else if (expected === 'no_stream') reply.setNoStream(new GoogleEmpty());
  else if (expected === 'stream_exists') reply.setStreamExists(new GoogleEmpty());
  else reply.setAny(new GoogleEmpty());
  if (outcome instanceof Status) return reply.setError(outcome);
  const success = new BatchAppendResp.Success();
  if (outcome.nextRevision < 0n) success.setNoStream(new GoogleEmpty());
  else success.setCurrentRevision(outcome.nextRevision.toString());
  if (outcome.position < 0n) success.setNoPosition(new GoogleEmpty());
  else success.setPosition(toAllStreamPosition(outcome.position));
  return reply.setSuccess(success);
}

function deadlineOf(options: BatchAppendReq.Options): number | undefined {
  if (!options.hasDeadline()) return undefined;
  const deadline = options.getDeadline()!;
  return deadline.getSeconds() * 1000 + Math.floor(deadline.getNanos() / 1_000_000);
}

/**
 * The Streams.BatchAppend handler.
 *
 * @param context shared server state
 */
export function createBatchAppendHandler(context: ServerContext): (call: BatchAppendCall) => void {
  return (call) => {
    const batches = new Map<string, Batch>();
    // Correlation ids already answered (oversize, timeout, malformed): later chunks are ignored.
    const answered = new Set<string>();
    let inFlight = 0;
    let clientEnded = false;
    let stopping = false;
    let finished = false;

    const finish = (): void => {
      if (finished || inFlight > 0 || call.cancelled) return;
      if (stopping) {
        finished = true;
        call.emit('error', rpcError(status.UNAVAILABLE, 'The server is shutting down.'));
      } else if (clientEnded) {
        finished = true;
        call.end();
      }
    };
    const unregister = context.calls.register(() => {
      stopping = true;
      finish();
    });
    const send = (reply: BatchAppendResp): void => {
      if (!call.cancelled && !finished) call.write(reply);
    };
    const reject = (key: string, target: ReplyTarget, outcome: Status): void => {
      batches.delete(key);
      answered.add(key);
      send(toReply(target, outcome));
    };

    const commit = (key: string, batch: Batch): void => {
      batches.delete(key);
      answered.delete(key);
      const remaining = batch.deadline === undefined ? undefined : batch.deadline - Date.now();
      if (remaining !== undefined && remaining <= 0) {
        send(toReply(batch, timeoutStatus()));
        return;
      }
      inFlight += 1;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const settle = (outcome: AppendResult | Status): void => {
        if (settled) return;
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        send(toReply(batch, outcome));
      };
      if (remaining !== undefined) timer = setTimeout(() => settle(timeoutStatus()), remaining);
      context.log
        .append(batch.stream, batch.expected, batch.events)
        .then(
          (result) => settle(result),
          (error: unknown) => settle(toStatus(error, batch.stream)),
        )
        .finally(() => {
          inFlight -= 1;
          finish();
        });
    };

    const receive = (request: BatchAppendReq): void => {
      const correlationId = request.getCorrelationId();
      const key = uuidToString(correlationId);
      if (correlationId === undefined || key === undefined) {
        finished = true;
        call.emit(
          'error',
          rpcError(status.INVALID_ARGUMENT, 'BatchAppend request without a correlation id.'),
        );
        return;
      }
      if (answered.has(key)) {
        if (request.getIsFinal()) answered.delete(key);
        return;
      }
      let batch = batches.get(key);
      if (batch === undefined) {
        const options = request.getOptions();
        const stream = streamNameOf(options?.getStreamIdentifier());
        if (options === undefined || stream === undefined || stream === '') {
          reject(
            key,
            { correlationId, stream: stream ?? '' },
            badRequestStatus('The first BatchAppend chunk must carry options naming a stream.'),
          );
          if (request.getIsFinal()) answered.delete(key);
          return;
        }
        const expected = parseExpectedRevision(
          options,
          options.hasStreamPosition() ? options.getStreamPosition() : undefined,
        );
        if (expected === undefined) {
          reject(
            key,
            { correlationId, stream },
            badRequestStatus(`Append to '${stream}' has an invalid expected revision.`),
          );
          if (request.getIsFinal()) answered.delete(key);
          return;
        }
        batch = { correlationId, stream, expected, deadline: deadlineOf(options), events: [], size: 0 };
        batches.set(key, batch);
        if (batch.deadline !== undefined && batch.deadline <= Date.now()) {
          reject(key, batch, timeoutStatus());
          if (request.getIsFinal()) answered.delete(key);
          return;
        }
      }
      for (const message of request.getProposedMessagesList()) {
        const event = toProposedEvent(message);
        if (event === MISSING_METADATA) {
          reject(key, batch, badRequestStatus('Required Metadata Properties Missing: type, content-type'));
          break;
        }
        batch.size += appendSizeOf(event);
        if (batch.size > context.maxAppendSize) {
          reject(key, batch, maxAppendSizeStatus(context.maxAppendSize));
          break;
        }
        batch.events.push(event);
      }
      if (request.getIsFinal()) {
        if (answered.has(key)) answered.delete(key);
        else commit(key, batch);
      }
    };

    call.on('data', (request: BatchAppendReq) => {
      if (stopping || finished) return;
      try {
        receive(request);
      } catch (error) {
        finished = true;
        call.emit('error', toRpcError(error, 'BatchAppend'));
      }
    });

    call.on('end', () => {
      clientEnded = true;
      finish();
    });
    const cleanUp = (): void => {
      unregister();
      batches.clear();
      answered.clear();
    };
    call.on('cancelled', cleanUp);
    call.on('close', cleanUp);
    call.on('finish', cleanUp);
    call.on('error', cleanUp);
  };
}
