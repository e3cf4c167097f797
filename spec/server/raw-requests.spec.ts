import { Code } from '@eventstore/db-client/generated/code_pb';
import { Empty, StreamIdentifier, UUID } from '@eventstore/db-client/generated/shared_pb';
import { StreamsClient } from '@eventstore/db-client/generated/streams_grpc_pb';
import {
  AppendReq,
  type AppendResp,
  BatchAppendReq,
  type BatchAppendResp,
  ReadReq,
  type ReadResp,
} from '@eventstore/db-client/generated/streams_pb';
import { Client, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import { Empty as GoogleEmpty } from 'google-protobuf/google/protobuf/empty_pb';
import { Timestamp } from 'google-protobuf/google/protobuf/timestamp_pb';
import { v4 as uuid } from 'uuid';
import { startEmbedded, type Embedded } from '../helpers/embedded';
import { until } from '../helpers/until';

const streamId = (name: string) => new StreamIdentifier().setStreamName(Buffer.from(name));

function proposed(metadata: Record<string, string>, data = '{}'): AppendReq.ProposedMessage {
  const message = new AppendReq.ProposedMessage()
    .setId(new UUID().setString(uuid()))
    .setData(Buffer.from(data))
    .setCustomMetadata(Buffer.alloc(0));
  for (const [key, value] of Object.entries(metadata)) message.getMetadataMap().set(key, value);
  return message;
}

function batchMessage(size: number): BatchAppendReq.ProposedMessage {
  const message = new BatchAppendReq.ProposedMessage()
    .setId(new UUID().setString(uuid()))
    .setData(Buffer.alloc(size, 120))
    .setCustomMetadata(Buffer.alloc(0));
  message.getMetadataMap().set('type', 'Raw').set('content-type', 'application/octet-stream');
  return message;
}

function append(client: StreamsClient, requests: AppendReq[]): Promise<AppendResp> {
  return new Promise((resolve, reject) => {
    const call = client.append((error, response) => (error ? reject(error) : resolve(response)));
    for (const request of requests) call.write(request);
    call.end();
  });
}

function read(
  client: StreamsClient,
  request: ReadReq,
): Promise<{ responses: ReadResp[]; error?: ServiceError }> {
  return new Promise((resolve) => {
    const responses: ReadResp[] = [];
    const call = client.read(request);
    call.on('data', (response: ReadResp) => responses.push(response));
    call.on('error', (error: ServiceError) => resolve({ responses, error }));
    call.on('end', () => resolve({ responses }));
  });
}

async function rejection(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('expected the call to fail');
}

describe('Streams service with hand-built requests', () => {
  let server: Embedded;
  let client: StreamsClient;

  before(async () => {
    server = await startEmbedded();
    client = new StreamsClient(
      new URL(server.connectionString.replace(/^esdb:/, 'http:')).host,
      credentials.createInsecure(),
    );
  });

  after(async () => {
    client?.close();
    await server?.close();
  });

  describe('when an appended event lacks its content type', () => {
    it('fails with missing-required-metadata-property and names the required properties', async () => {
      const options = new AppendReq.Options()
        .setStreamIdentifier(streamId(`raw-${uuid()}`))
        .setAny(new Empty());
      const error = await rejection(
        append(client, [
          new AppendReq().setOptions(options),
          new AppendReq().setProposedMessage(proposed({ type: 'T' })),
        ]),
      );
      expect(error.code).to.equal(status.INVALID_ARGUMENT);
      expect(error.metadata.get('exception')).to.deep.equal(['missing-required-metadata-property']);
      expect(error.metadata.get('required-metadata-properties')).to.deep.equal(['type,content-type']);
    });
  });

  describe('when an append sends an event before its options', () => {
    it('fails with INVALID_ARGUMENT and the server keeps answering', async () => {
      const error = await rejection(
        append(client, [
          new AppendReq().setProposedMessage(proposed({ type: 'T', 'content-type': 'application/json' })),
        ]),
      );
      expect(error.code).to.equal(status.INVALID_ARGUMENT);
      expect(error.details).to.match(/options/);

      const options = new AppendReq.Options()
        .setStreamIdentifier(streamId(`raw-${uuid()}`))
        .setNoStream(new Empty());
      const ok = await append(client, [
        new AppendReq().setOptions(options),
        new AppendReq().setProposedMessage(proposed({ type: 'T', 'content-type': 'application/json' })),
      ]);
      expect(ok.getSuccess()?.getCurrentRevision()).to.equal('0');
    });
  });

  describe('when a request is not a valid protobuf message', () => {
    it('fails that call and keeps serving', async () => {
      const raw = new Client(
        new URL(server.connectionString.replace(/^esdb:/, 'http:')).host,
        credentials.createInsecure(),
      );
      try {
        const error = await new Promise<ServiceError>((resolve) => {
          const call = raw.makeServerStreamRequest(
            '/event_store.client.streams.Streams/Read',
            (value: Buffer) => value,
            (value: Buffer) => value,
            Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]),
          );
          call.on('data', () => undefined);
          call.on('error', resolve);
        });
        expect(error.code).to.not.equal(status.OK);
      } finally {
        raw.close();
      }
      const options = new AppendReq.Options()
        .setStreamIdentifier(streamId(`raw-${uuid()}`))
        .setNoStream(new Empty());
      const ok = await append(client, [
        new AppendReq().setOptions(options),
        new AppendReq().setProposedMessage(proposed({ type: 'T', 'content-type': 'application/json' })),
      ]);
      expect(ok.hasSuccess()).to.equal(true);
    });
  });

  describe('when a read request has no options', () => {
    it('fails with INVALID_ARGUMENT', async () => {
      const { error } = await read(client, new ReadReq());
      expect(error?.code).to.equal(status.INVALID_ARGUMENT);
    });
  });

  describe('when a $all read names a position whose commit and prepare differ', () => {
    it('fails with INVALID_ARGUMENT', async () => {
      const position = new ReadReq.Options.Position().setCommitPosition('10').setPreparePosition('11');
      const options = new ReadReq.Options()
        .setAll(new ReadReq.Options.AllOptions().setPosition(position))
        .setCount('1')
        .setNoFilter(new Empty())
        .setUuidOption(new ReadReq.Options.UUIDOption().setString(new Empty()));
      const { error } = await read(client, new ReadReq().setOptions(options));
      expect(error?.code).to.equal(status.INVALID_ARGUMENT);
      expect(error?.details).to.match(/invalid position/i);
    });
  });

  describe('when a stream is read with structured UUIDs', () => {
    it('returns the same id as the string encoding', async () => {
      const stream = `raw-${uuid()}`;
      const id = uuid();
      const options = new AppendReq.Options().setStreamIdentifier(streamId(stream)).setAny(new Empty());
      const message = proposed({ type: 'T', 'content-type': 'application/json' }).setId(
        new UUID().setString(id),
      );
      await append(client, [
        new AppendReq().setOptions(options),
        new AppendReq().setProposedMessage(message),
      ]);

      const request = (asString: boolean) =>
        new ReadReq().setOptions(
          new ReadReq.Options()
            .setStream(
              new ReadReq.Options.StreamOptions().setStreamIdentifier(streamId(stream)).setStart(new Empty()),
            )
            .setCount('10')
            .setNoFilter(new Empty())
            .setUuidOption(
              asString
                ? new ReadReq.Options.UUIDOption().setString(new Empty())
                : new ReadReq.Options.UUIDOption().setStructured(new Empty()),
            ),
        );
      const structured = (await read(client, request(false))).responses[0]!.getEvent()!.getEvent()!.getId()!;
      const text = (await read(client, request(true))).responses[0]!.getEvent()!.getEvent()!.getId()!;
      expect(structured.hasStructured()).to.equal(true);
      expect(text.getString()).to.equal(id);
      const hex = (value: string) => BigInt.asUintN(64, BigInt(value)).toString(16).padStart(16, '0');
      const s = structured.getStructured()!;
      expect(`${hex(s.getMostSignificantBits())}${hex(s.getLeastSignificantBits())}`).to.equal(
        id.replace(/-/g, ''),
      );
    });
  });

  describe('BatchAppend', () => {
    function open(): { call: ReturnType<StreamsClient['batchAppend']>; replies: BatchAppendResp[] } {
      const call = client.batchAppend();
      const replies: BatchAppendResp[] = [];
      call.on('data', (reply: BatchAppendResp) => replies.push(reply));
      call.on('error', () => undefined);
      return { call, replies };
    }

    function options(stream: string, deadline: Date): BatchAppendReq.Options {
      return new BatchAppendReq.Options()
        .setStreamIdentifier(streamId(stream))
        .setAny(new GoogleEmpty())
        .setDeadline(Timestamp.fromDate(deadline));
    }

    describe('when the deadline has already passed', () => {
      it('answers Timeout in-band, echoing the correlation id and naming the stream', async () => {
        const { call, replies } = open();
        try {
          const stream = `raw-${uuid()}`;
          const correlation = new UUID().setString(uuid());
          call.write(
            new BatchAppendReq()
              .setCorrelationId(correlation)
              .setOptions(options(stream, new Date(Date.now() - 1000)))
              .setProposedMessagesList([batchMessage(10)])
              .setIsFinal(true),
          );
          await until(() => replies.length === 1, 5000, 'the reply');
          const reply = replies[0]!;
          expect(reply.getCorrelationId()?.getString()).to.equal(correlation.getString());
          expect(Buffer.from(reply.getStreamIdentifier()!.getStreamName_asU8()).toString()).to.equal(stream);
          expect(reply.getError()?.getCode()).to.equal(Code.DEADLINE_EXCEEDED);
          expect(reply.getError()?.getDetails()?.getTypeUrl()).to.equal(
            'type.googleapis.com/event_store.client.Timeout',
          );
        } finally {
          call.end();
        }
      });
    });

    describe('when the chunks of one append exceed the maximum append size', () => {
      it('answers as soon as the limit is passed and ignores the rest of that append', async () => {
        const { call, replies } = open();
        try {
          const stream = `raw-${uuid()}`;
          const correlation = new UUID().setString(uuid());
          const deadline = new Date(Date.now() + 10_000);
          call.write(
            new BatchAppendReq()
              .setCorrelationId(correlation)
              .setOptions(options(stream, deadline))
              .setProposedMessagesList([batchMessage(700_000), batchMessage(700_000)])
              .setIsFinal(false),
          );
          await until(() => replies.length === 1, 5000, 'the oversize reply before the final chunk');
          expect(replies[0]!.getError()?.getDetails()?.getTypeUrl()).to.equal(
            'type.googleapis.com/event_store.client.MaximumAppendSizeExceeded',
          );
          call.write(
            new BatchAppendReq()
              .setCorrelationId(correlation)
              .setProposedMessagesList([batchMessage(10)])
              .setIsFinal(true),
          );

          const structured = new UUID().setStructured(
            new UUID.Structured().setMostSignificantBits('-1').setLeastSignificantBits('42'),
          );
          call.write(
            new BatchAppendReq()
              .setCorrelationId(structured)
              .setOptions(options(stream, deadline))
              .setProposedMessagesList([batchMessage(10)])
              .setIsFinal(true),
          );
          await until(() => replies.length === 2, 5000, 'the reply to the next append');
          const next = replies[1]!;
          expect(next.getCorrelationId()?.getStructured()?.getLeastSignificantBits()).to.equal('42');
          // The ignored final chunk did not append anything: the next append is the stream's first event.
          expect(next.getSuccess()?.getCurrentRevision()).to.equal('0');
        } finally {
          call.end();
        }
      });
    });
  });
});
