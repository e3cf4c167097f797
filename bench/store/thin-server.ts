/**
 * The floor of `bench:store`: the thinnest gRPC server the real @eventstore/db-client
 * 6.2.1 accepts for the store workloads. Everything lives in a Map of stream -> array;
 * there is no durability, no $all, no links, no metadata rules, no idempotency and no
 * expected-version check, so what it costs is (almost) only gRPC, protobuf and the client.
 *
 * Written from /work/shared/reference/eventstoredb-protocol.md (sections 1.2-1.4), on the
 * generated service definitions inside the client package; every reply is built from those
 * same modules because their serializers check `instanceof`.
 *
 * Implemented: ServerFeatures (advertises batchappend, version 24.10.0), Streams.Append,
 * Streams.BatchAppend, Streams.Read for stream reads (both directions) and stream
 * subscriptions (catch-up, caught_up, then live). Anything else is UNIMPLEMENTED.
 */
import {
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { ServerFeaturesService } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import { SupportedMethod, SupportedMethods } from '@eventstore/db-client/generated/serverfeatures_pb';
import { AllStreamPosition, Empty, StreamIdentifier, UUID } from '@eventstore/db-client/generated/shared_pb';
import { StreamsService } from '@eventstore/db-client/generated/streams_grpc_pb';
import {
  type AppendReq,
  AppendResp,
  type BatchAppendReq,
  BatchAppendResp,
  ReadReq,
  ReadResp,
} from '@eventstore/db-client/generated/streams_pb';

/** One stored event, kept as the bytes the client sent. */
interface ThinEvent {
  readonly id: string;
  readonly type: string;
  readonly contentType: string;
  readonly created: string;
  readonly data: Uint8Array;
  readonly customMetadata: Uint8Array;
  readonly revision: number;
  readonly position: number;
}

/** The fields an appended message shares between Append and BatchAppend. */
interface Proposed {
  getId(): UUID | undefined;
  getMetadataMap(): { get(key: string): string | undefined };
  getData_asU8(): Uint8Array;
  getCustomMetadata_asU8(): Uint8Array;
}

type Live = (event: ThinEvent) => void;

/** .NET ticks (100 ns) since the Unix epoch, as the client expects in `created`. */
function ticksNow(): string {
  return `${Date.now()}0000`;
}

function streamName(identifier: StreamIdentifier | undefined): string {
  return identifier === undefined ? '' : Buffer.from(identifier.getStreamName_asU8()).toString('utf8');
}

/** The in-memory store with its live subscribers. */
class ThinStore {
  private readonly streams = new Map<string, ThinEvent[]>();
  private readonly live = new Map<string, Set<Live>>();
  private nextPosition = 0;

  get(stream: string): ThinEvent[] | undefined {
    return this.streams.get(stream);
  }

  /** Appends and returns the last revision and position (undefined for an empty append). */
  append(stream: string, messages: readonly Proposed[]): { revision: number; position: number } | undefined {
    let events = this.streams.get(stream);
    if (events === undefined) {
      events = [];
      this.streams.set(stream, events);
    }
    const created = ticksNow();
    const subscribers = this.live.get(stream);
    for (const message of messages) {
      const metadata = message.getMetadataMap();
      const event: ThinEvent = {
        id: message.getId()?.getString() ?? '',
        type: metadata.get('type') ?? '',
        contentType:
          metadata.get('content-type') === 'application/json'
            ? 'application/json'
            : 'application/octet-stream',
        created,
        data: message.getData_asU8(),
        customMetadata: message.getCustomMetadata_asU8(),
        revision: events.length,
        position: (this.nextPosition += 1),
      };
      events.push(event);
      if (subscribers !== undefined) for (const push of subscribers) push(event);
    }
    const last = events[events.length - 1];
    return messages.length === 0 || last === undefined
      ? undefined
      : { revision: last.revision, position: last.position };
  }

  subscribe(stream: string, push: Live): () => void {
    let set = this.live.get(stream);
    if (set === undefined) {
      set = new Set();
      this.live.set(stream, set);
    }
    set.add(push);
    return () => set.delete(push);
  }
}

function readEvent(stream: StreamIdentifier, event: ThinEvent): ReadResp {
  const recorded = new ReadResp.ReadEvent.RecordedEvent()
    .setId(new UUID().setString(event.id))
    .setStreamIdentifier(stream)
    .setStreamRevision(String(event.revision))
    .setPreparePosition(String(event.position))
    .setCommitPosition(String(event.position))
    .setData(event.data)
    .setCustomMetadata(event.customMetadata);
  recorded
    .getMetadataMap()
    .set('type', event.type)
    .set('created', event.created)
    .set('content-type', event.contentType);
  return new ReadResp().setEvent(
    new ReadResp.ReadEvent().setEvent(recorded).setCommitPosition(String(event.position)),
  );
}

/** Writes with backpressure: resolves at once, or on 'drain' when the call buffers. */
function write(call: ServerWritableStream<ReadReq, ReadResp>, message: ReadResp): Promise<void> | undefined {
  if (call.write(message)) return undefined;
  return new Promise((resolve) => {
    const done = (): void => {
      call.off('drain', done);
      call.off('cancelled', done);
      resolve();
    };
    call.on('drain', done);
    call.on('cancelled', done);
  });
}

function streamsService(store: ThinStore): UntypedServiceImplementation {
  const unimplemented = (name: string) => (_call: unknown, callback: sendUnaryData<never>) =>
    callback({ code: status.UNIMPLEMENTED, details: `thin server: ${name} is not implemented` }, null);

  return {
    append: (call: ServerReadableStream<AppendReq, AppendResp>, callback: sendUnaryData<AppendResp>) => {
      let stream = '';
      const messages: AppendReq.ProposedMessage[] = [];
      call.on('data', (request: AppendReq) => {
        if (request.hasOptions()) stream = streamName(request.getOptions()!.getStreamIdentifier());
        else if (request.hasProposedMessage()) messages.push(request.getProposedMessage()!);
      });
      call.on('end', () => {
        const written = store.append(stream, messages);
        const success = new AppendResp.Success();
        if (written === undefined) success.setNoStream(new Empty()).setNoPosition(new Empty());
        else {
          success
            .setCurrentRevision(String(written.revision))
            .setPosition(
              new AppendResp.Position()
                .setCommitPosition(String(written.position))
                .setPreparePosition(String(written.position)),
            );
        }
        callback(null, new AppendResp().setSuccess(success));
      });
    },

    batchAppend: (call: ServerDuplexStream<BatchAppendReq, BatchAppendResp>) => {
      // Chunks of one append share a correlation id; only the first carries options.
      const pending = new Map<
        string,
        { stream: StreamIdentifier; messages: BatchAppendReq.ProposedMessage[] }
      >();
      call.on('data', (request: BatchAppendReq) => {
        const correlation = request.getCorrelationId();
        const key = correlation?.getString() ?? '';
        let entry = pending.get(key);
        if (entry === undefined) {
          entry = {
            stream: request.getOptions()?.getStreamIdentifier() ?? new StreamIdentifier(),
            messages: [],
          };
          pending.set(key, entry);
        }
        entry.messages.push(...request.getProposedMessagesList());
        if (!request.getIsFinal()) return;
        pending.delete(key);
        const written = store.append(streamName(entry.stream), entry.messages);
        const success = new BatchAppendResp.Success();
        if (written === undefined) success.setNoStream(new Empty()).setNoPosition(new Empty());
        else {
          success
            .setCurrentRevision(String(written.revision))
            .setPosition(
              new AllStreamPosition()
                .setCommitPosition(String(written.position))
                .setPreparePosition(String(written.position)),
            );
        }
        const reply = new BatchAppendResp().setStreamIdentifier(entry.stream).setSuccess(success);
        if (correlation !== undefined) reply.setCorrelationId(correlation);
        call.write(reply);
      });
      call.on('end', () => call.end());
    },

    read: (call: ServerWritableStream<ReadReq, ReadResp>) => {
      void serveRead(store, call);
    },

    delete: unimplemented('Delete'),
    tombstone: unimplemented('Tombstone'),
  };
}

async function serveRead(store: ThinStore, call: ServerWritableStream<ReadReq, ReadResp>): Promise<void> {
  const options = call.request.getOptions();
  const streamOptions = options?.getStream();
  if (options === undefined || streamOptions === undefined) {
    call.emit('error', { code: status.UNIMPLEMENTED, details: 'thin server: only stream reads' });
    return;
  }
  const identifier = streamOptions.getStreamIdentifier() ?? new StreamIdentifier();
  const name = streamName(identifier);
  let cancelled = false;
  call.on('cancelled', () => (cancelled = true));

  if (options.hasSubscription()) {
    // Catch-up from an exclusive revision (or the start), caught_up, then live.
    await write(
      call,
      new ReadResp().setConfirmation(new ReadResp.SubscriptionConfirmation().setSubscriptionId(name)),
    );
    let next = streamOptions.hasRevision()
      ? Number(streamOptions.getRevision()) + 1
      : streamOptions.hasEnd()
        ? (store.get(name)?.length ?? 0)
        : 0;
    for (;;) {
      if (cancelled) return;
      const events = store.get(name) ?? [];
      if (next >= events.length) break;
      const blocked = write(call, readEvent(identifier, events[next]!));
      next += 1;
      if (blocked !== undefined) await blocked;
    }
    call.write(new ReadResp().setCaughtUp(new ReadResp.CaughtUp()));
    const unsubscribe = store.subscribe(name, (event) => {
      if (!cancelled) call.write(readEvent(identifier, event));
    });
    call.on('cancelled', unsubscribe);
    return;
  }

  const events = store.get(name);
  if (events === undefined) {
    call.write(
      new ReadResp().setStreamNotFound(new ReadResp.StreamNotFound().setStreamIdentifier(identifier)),
    );
    call.end();
    return;
  }
  const backwards = options.getReadDirection() === ReadReq.Options.ReadDirection.BACKWARDS;
  let count = options.hasCount() ? Number(options.getCount()) : Number.MAX_SAFE_INTEGER;
  let index: number;
  if (streamOptions.hasRevision()) {
    const revision = Number(streamOptions.getRevision());
    index = backwards ? Math.min(revision, events.length - 1) : revision;
  } else if (streamOptions.hasEnd()) index = backwards ? events.length - 1 : events.length;
  else index = 0;
  const step = backwards ? -1 : 1;
  while (count > 0 && index >= 0 && index < events.length && !cancelled) {
    const blocked = write(call, readEvent(identifier, events[index]!));
    index += step;
    count -= 1;
    if (blocked !== undefined) await blocked;
  }
  call.end();
}

function serverFeaturesService(): UntypedServiceImplementation {
  const method = (path: string, features: string[]): SupportedMethod => {
    const [service = '', name = ''] = path.slice(1).toLowerCase().split('/');
    return new SupportedMethod().setServiceName(service).setMethodName(name).setFeaturesList(features);
  };
  return {
    getSupportedMethods: (_call: unknown, callback: sendUnaryData<SupportedMethods>) => {
      callback(
        null,
        new SupportedMethods()
          .setMethodsList([
            method(StreamsService.read.path, ['position', 'events']),
            method(StreamsService.append.path, []),
            method(StreamsService.batchAppend.path, ['deadline_duration']),
            method(ServerFeaturesService.getSupportedMethods.path, []),
          ])
          .setEventStoreServerVersion('24.10.0'),
      );
    },
  };
}

/** A running thin server. */
export interface ThinServer {
  readonly connectionString: string;
  close(): Promise<void>;
}

/** Starts the thin in-memory server on 127.0.0.1 (port 0 picks a free one). */
export async function startThinServer(port = 0): Promise<ThinServer> {
  const server = new Server({
    'grpc.max_receive_message_length': 32 * 2 ** 20,
    'grpc.max_send_message_length': 32 * 2 ** 20,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5000,
  });
  server.addService(StreamsService, streamsService(new ThinStore()));
  server.addService(ServerFeaturesService, serverFeaturesService());
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, actual) =>
      err === null ? resolve(actual) : reject(err),
    ),
  );
  return {
    connectionString: `esdb://127.0.0.1:${bound}?tls=false`,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
