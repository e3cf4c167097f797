/**
 * Streams.Read: stream and $all reads (forwards/backwards, resolved links, both UUID
 * encodings, a count) and catch-up subscriptions (stream, $all, filtered $all with
 * checkpoints), with write backpressure and clean-up when the client goes away.
 */
import { status, type ServerWritableStream } from '@grpc/grpc-js';
import { ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import { v4 as uuidv4 } from 'uuid';
import { StreamNotFoundError } from '../../errors';
import type {
  EventFilter,
  LogSubscription,
  ReadDirection,
  ResolvedEvent,
  SubscriptionMessage,
} from '../../storage/types';
import { writeWithBackpressure } from '../backpressure';
import { rpcError, toRpcError, type RpcError } from '../rpc-error';
import type { ServerContext } from '../server-context';
import { parseU64, streamNameOf, toReadEventResp, toStreamIdentifier } from '../wire';

type ReadCall = ServerWritableStream<ReadReq, ReadResp>;

/** EventStoreDB's read page size, the default filter search window. */
const DEFAULT_SEARCH_WINDOW = 32;

type Source =
  | { readonly kind: 'stream'; readonly stream: string; readonly from: bigint | 'start' | 'end' }
  | { readonly kind: 'all'; readonly from: bigint | 'start' | 'end' };

interface ParsedRead {
  readonly source: Source;
  readonly direction: ReadDirection;
  readonly resolveLinks: boolean;
  readonly uuidAsString: boolean;
  /** undefined = a subscription */
  readonly count: number | undefined;
  readonly filter: EventFilter | undefined;
}

/** A request the server cannot act on; answered with INVALID_ARGUMENT. */
class BadReadRequest extends Error {}

function parseSource(options: ReadReq.Options): Source {
  if (options.hasStream()) {
    const streamOptions = options.getStream()!;
    const stream = streamNameOf(streamOptions.getStreamIdentifier());
    if (stream === undefined || stream === '') throw new BadReadRequest('Read request names no stream.');
    if (streamOptions.hasRevision()) {
      const revision = parseU64(streamOptions.getRevision());
      if (revision === undefined) throw new BadReadRequest('Read request has an invalid stream revision.');
      return { kind: 'stream', stream, from: revision };
    }
    return { kind: 'stream', stream, from: streamOptions.hasEnd() ? 'end' : 'start' };
  }
  if (options.hasAll()) {
    const allOptions = options.getAll()!;
    if (allOptions.hasPosition()) {
      const position = allOptions.getPosition()!;
      const commit = parseU64(position.getCommitPosition());
      const prepare = parseU64(position.getPreparePosition());
      if (commit === undefined || prepare === undefined || commit !== prepare) {
        throw new BadReadRequest('Trying to read from an invalid position.');
      }
      return { kind: 'all', from: commit };
    }
    return { kind: 'all', from: allOptions.hasEnd() ? 'end' : 'start' };
  }
  throw new BadReadRequest('Read request names neither a stream nor $all.');
}

function parseFilter(options: ReadReq.Options): EventFilter | undefined {
  if (!options.hasFilter()) return undefined;
  const filter = options.getFilter()!;
  const on = filter.hasEventType() ? 'eventType' : 'streamName';
  const expression = filter.hasEventType() ? filter.getEventType() : filter.getStreamIdentifier();
  if (expression === undefined) throw new BadReadRequest('Read filter has no expression.');
  const regex = expression.getRegex();
  if (regex !== '') {
    try {
      new RegExp(regex);
    } catch {
      throw new BadReadRequest(`Read filter regex '${regex}' is not a valid regular expression.`);
    }
  }
  const window = filter.hasMax() && filter.getMax() > 0 ? filter.getMax() : DEFAULT_SEARCH_WINDOW;
  const multiplier = Math.max(1, filter.getCheckpointintervalmultiplier());
  return {
    on,
    ...(regex !== '' ? { regex } : { prefixes: expression.getPrefixList() }),
    checkpointInterval: window * multiplier,
  };
}

function parseRead(request: ReadReq): ParsedRead {
  const options = request.getOptions();
  if (options === undefined) throw new BadReadRequest('Read request has no options.');
  const source = parseSource(options);
  const filter = parseFilter(options);
  if (filter !== undefined && source.kind === 'stream') {
    throw new BadReadRequest('Filters apply to $all only.');
  }
  let count: number | undefined = Number.MAX_SAFE_INTEGER;
  if (options.hasSubscription()) count = undefined;
  else if (options.hasCount()) {
    const parsed = parseU64(options.getCount());
    if (parsed === undefined) throw new BadReadRequest('Read request has an invalid count.');
    count = parsed > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(parsed);
  }
  return {
    source,
    direction:
      options.getReadDirection() === ReadReq.Options.ReadDirection.BACKWARDS ? 'backwards' : 'forwards',
    resolveLinks: options.getResolveLinks(),
    uuidAsString: options.getUuidOption()?.hasString() ?? false,
    count,
    filter,
  };
}

/** Whether the original record (the link, when there is one) passes `filter`. */
function filterPredicate(filter: EventFilter): (resolved: ResolvedEvent) => boolean {
  const regex = filter.regex !== undefined ? new RegExp(filter.regex) : undefined;
  const prefixes = filter.prefixes ?? [];
  return (resolved) => {
    const record = resolved.link ?? resolved.event;
    if (record === undefined) return false;
    const subject = filter.on === 'eventType' ? record.type : record.stream;
    if (regex !== undefined) return regex.test(subject);
    return prefixes.length === 0 || prefixes.some((prefix) => subject.startsWith(prefix));
  };
}

function toSubscriptionResp(message: SubscriptionMessage, uuidAsString: boolean): ReadResp {
  switch (message.kind) {
    case 'event':
      return toReadEventResp(message.event, uuidAsString);
    case 'caughtUp':
      return new ReadResp().setCaughtUp(new ReadResp.CaughtUp());
    case 'checkpoint': {
      const position = message.position.toString();
      return new ReadResp().setCheckpoint(
        new ReadResp.Checkpoint().setCommitPosition(position).setPreparePosition(position),
      );
    }
  }
}

function fail(call: ReadCall, error: RpcError): void {
  if (call.cancelled) return;
  call.emit('error', error);
}

async function serveCount(
  context: ServerContext,
  call: ReadCall,
  read: ParsedRead,
  count: number,
): Promise<void> {
  const { source } = read;
  let events: ResolvedEvent[];
  if (source.kind === 'stream') {
    try {
      events = context.log.readStream(source.stream, {
        from: source.from,
        direction: read.direction,
        maxCount: count,
        resolveLinks: read.resolveLinks,
      });
    } catch (error) {
      if (!(error instanceof StreamNotFoundError)) throw error;
      const notFound = new ReadResp.StreamNotFound().setStreamIdentifier(toStreamIdentifier(source.stream));
      await writeWithBackpressure(call, new ReadResp().setStreamNotFound(notFound));
      if (!call.cancelled) call.end();
      return;
    }
  } else {
    events = context.log.readAll({
      from: source.from,
      direction: read.direction,
      ...(read.filter === undefined ? { maxCount: count } : {}),
      resolveLinks: read.resolveLinks,
    });
    const filter = read.filter;
    if (filter !== undefined) events = events.filter(filterPredicate(filter)).slice(0, count);
  }
  for (const event of events) {
    if (!(await writeWithBackpressure(call, toReadEventResp(event, read.uuidAsString)))) return;
  }
  if (!call.cancelled) call.end();
}

async function serveSubscription(context: ServerContext, call: ReadCall, read: ParsedRead): Promise<void> {
  const { source } = read;
  const subscription: LogSubscription =
    source.kind === 'stream'
      ? context.log.subscribeToStream(source.stream, { from: source.from, resolveLinks: read.resolveLinks })
      : context.log.subscribeToAll({
          from: source.from,
          resolveLinks: read.resolveLinks,
          ...(read.filter === undefined ? {} : { filter: read.filter }),
        });
  let stoppedByServer = false;
  const unregister = context.calls.register(() => {
    stoppedByServer = true;
    subscription.close();
  });
  const onGone = (): void => subscription.close();
  call.on('cancelled', onGone);
  call.on('close', onGone);
  try {
    const confirmation = new ReadResp.SubscriptionConfirmation().setSubscriptionId(uuidv4());
    if (!(await writeWithBackpressure(call, new ReadResp().setConfirmation(confirmation)))) return;
    const iterator = subscription[Symbol.asyncIterator]();
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) break;
      if (!(await writeWithBackpressure(call, toSubscriptionResp(next.value, read.uuidAsString)))) return;
    }
    // The log only ends a subscription when it was closed: by the client (nothing to
    // send) or by server shutdown, which makes clients reconnect like a node restart.
    if (stoppedByServer) fail(call, rpcError(status.UNAVAILABLE, 'The server is shutting down.'));
    else if (!call.cancelled) call.end();
  } finally {
    unregister();
    call.off('cancelled', onGone);
    call.off('close', onGone);
    subscription.close();
  }
}

/**
 * The Streams.Read handler.
 *
 * @param context shared server state
 */
export function createReadHandler(context: ServerContext): (call: ReadCall) => void {
  return (call) => {
    // A write racing a client cancellation can surface as a stream 'error'; without a
    // listener that would be an uncaught exception that takes the server down.
    call.on('error', () => undefined);
    let read: ParsedRead;
    try {
      read = parseRead(call.request);
    } catch (error) {
      fail(
        call,
        error instanceof BadReadRequest
          ? rpcError(status.INVALID_ARGUMENT, error.message)
          : toRpcError(error, 'Read'),
      );
      return;
    }
    if (context.closing()) {
      fail(call, rpcError(status.UNAVAILABLE, 'The server is shutting down.'));
      return;
    }
    const serving =
      read.count === undefined
        ? serveSubscription(context, call, read)
        : serveCount(context, call, read, read.count);
    serving.catch((error: unknown) => fail(call, toRpcError(error, 'Read')));
  };
}
