import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  jsonEvent,
  MaxAppendSizeExceededError,
  START,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
  type AppendToStreamOptions,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { expect } from 'chai';
import { v4 as uuid } from 'uuid';
import { startEmbedded, type Embedded } from '../helpers/embedded';
import { until } from '../helpers/until';

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

const events = (count: number, type = 'Happened') =>
  Array.from({ length: count }, (_, i) => jsonEvent({ id: uuid(), type, data: { i } }));

// Per-call credentials make the client use Append instead of BatchAppend (which
// ServerFeatures advertises), so every append scenario runs through both paths.
const APPEND_PATHS: ReadonlyArray<{ name: string; options: AppendToStreamOptions }> = [
  { name: 'BatchAppend', options: {} },
  { name: 'Append', options: { credentials: { username: 'admin', password: 'changeit' } } },
];

describe('Streams service', () => {
  let server: Embedded;
  let client: EventStoreDBClient;

  before(async () => {
    server = await startEmbedded();
    client = EventStoreDBClient.connectionString(server.connectionString);
  });

  after(async () => {
    await client?.dispose();
    await server?.close();
  });

  for (const path of APPEND_PATHS) {
    describe(`when appending through ${path.name}`, () => {
      it('reads the events back with the revisions and position the append reported', async () => {
        const stream = `order-${uuid()}`;
        const first = await client.appendToStream(stream, events(2), {
          ...path.options,
          expectedRevision: 'no_stream',
        });
        const second = await client.appendToStream(stream, events(1), {
          ...path.options,
          expectedRevision: 1n,
        });
        expect(first.nextExpectedRevision).to.equal(1n);
        expect(second.nextExpectedRevision).to.equal(2n);

        const read = await collect(client.readStream(stream));
        expect(read.map((e) => e.event?.revision)).to.deep.equal([0n, 1n, 2n]);
        expect(read.map((e) => (e.event?.data as { i: number }).i)).to.deep.equal([0, 1, 0]);
        expect(read[2]?.event?.position?.commit).to.equal(second.position?.commit);
        expect(read[2]?.event?.isJson).to.equal(true);
        expect(read[2]?.event?.created).to.be.instanceOf(Date);
        expect(Math.abs(Date.now() - read[2]!.event!.created.getTime())).to.be.below(60_000);
      });

      it('raises WrongExpectedVersionError with the stream, expected and actual versions', async () => {
        const stream = `order-${uuid()}`;
        await client.appendToStream(stream, events(2), path.options);

        const exact = await failureOf(
          client.appendToStream(stream, events(1), { ...path.options, expectedRevision: 5n }),
        );
        expect(exact).to.be.instanceOf(WrongExpectedVersionError);
        expect(exact).to.include({ streamName: stream, expectedVersion: 5n, actualVersion: 1n });

        const noStream = await failureOf(
          client.appendToStream(stream, events(1), { ...path.options, expectedRevision: 'no_stream' }),
        );
        expect(noStream).to.be.instanceOf(WrongExpectedVersionError);
        expect(noStream).to.include({ expectedVersion: 'no_stream', actualVersion: 1n });

        const missing = await failureOf(
          client.appendToStream(`order-${uuid()}`, events(1), {
            ...path.options,
            expectedRevision: 'stream_exists',
          }),
        );
        expect(missing).to.be.instanceOf(WrongExpectedVersionError);
        expect(missing).to.include({ expectedVersion: 'stream_exists', actualVersion: 'no_stream' });
      });

      it('returns success false with the current revision when throwOnAppendFailure is off', async () => {
        const lenient = EventStoreDBClient.connectionString(
          `${server.connectionString}&throwOnAppendFailure=false`,
        );
        try {
          const stream = `order-${uuid()}`;
          await lenient.appendToStream(stream, events(3), path.options);
          const result = await lenient.appendToStream(stream, events(1), {
            ...path.options,
            expectedRevision: 'no_stream',
          });
          expect(result.success).to.equal(false);
          // 6.2.1 quirk on the BatchAppend path: it reports whether a current revision was sent (1n), not the revision.
          expect(result.nextExpectedRevision).to.equal(path.name === 'Append' ? 2n : 1n);
        } finally {
          await lenient.dispose();
        }
      });

      it('treats a retry of the same events at the same expected revision as a success', async () => {
        const stream = `order-${uuid()}`;
        const batch = events(2);
        const first = await client.appendToStream(stream, batch, {
          ...path.options,
          expectedRevision: 'no_stream',
        });
        const retry = await client.appendToStream(stream, batch, {
          ...path.options,
          expectedRevision: 'no_stream',
        });
        expect(retry.nextExpectedRevision).to.equal(first.nextExpectedRevision);
        expect(await collect(client.readStream(stream))).to.have.length(2);
      });

      it('rejects an append larger than the maximum append size with MaxAppendSizeExceededError', async () => {
        const stream = `order-${uuid()}`;
        // Four 900 KB events: over the 1 MiB limit, and over the 3 MiB BatchAppend chunk size.
        const big = Array.from({ length: 4 }, () =>
          jsonEvent({ type: 'Big', data: { blob: 'x'.repeat(900_000) } }),
        );
        const error = await failureOf(client.appendToStream(stream, big, path.options));
        expect(error).to.be.instanceOf(MaxAppendSizeExceededError);
        expect(error).to.have.property('maxAppendSize', 1_048_576);
        expect(await failureOf(collect(client.readStream(stream)))).to.be.instanceOf(StreamNotFoundError);

        // The shared BatchAppend stream keeps working after an oversize append.
        await client.appendToStream(stream, events(1), path.options);
        expect(await collect(client.readStream(stream))).to.have.length(1);
      });

      it('raises StreamDeletedError when appending to a tombstoned stream', async () => {
        const stream = `order-${uuid()}`;
        await client.appendToStream(stream, events(1), path.options);
        await client.tombstoneStream(stream);
        const error = await failureOf(client.appendToStream(stream, events(1), path.options));
        expect(error).to.be.instanceOf(StreamDeletedError);
        expect(error).to.have.property('streamName', stream);
      });
    });
  }

  describe('when many appends share the BatchAppend stream concurrently', () => {
    it('answers each one with its own result', async () => {
      const streams = Array.from({ length: 20 }, () => `order-${uuid()}`);
      const results = await Promise.all(
        streams.map((stream, i) =>
          client.appendToStream(stream, events(i + 1), { expectedRevision: 'no_stream' }),
        ),
      );
      expect(results.map((r) => r.nextExpectedRevision)).to.deep.equal(streams.map((_, i) => BigInt(i)));
    });
  });

  describe('when reading a stream', () => {
    it('reads forwards from a revision and backwards from the end with a count', async () => {
      const stream = `order-${uuid()}`;
      await client.appendToStream(stream, events(5));
      const forwards = await collect(
        client.readStream(stream, { fromRevision: 2n, direction: FORWARDS, maxCount: 2 }),
      );
      expect(forwards.map((e) => e.event?.revision)).to.deep.equal([2n, 3n]);
      const backwards = await collect(
        client.readStream(stream, { fromRevision: END, direction: BACKWARDS, maxCount: 3 }),
      );
      expect(backwards.map((e) => e.event?.revision)).to.deep.equal([4n, 3n, 2n]);
    });

    it('raises StreamNotFoundError for a stream that never existed', async () => {
      const stream = `order-${uuid()}`;
      const error = await failureOf(collect(client.readStream(stream)));
      expect(error).to.be.instanceOf(StreamNotFoundError);
      expect(error).to.have.property('streamName', stream);
    });

    it('raises StreamNotFoundError after a soft delete, and continues revisions when the stream is recreated', async () => {
      const stream = `order-${uuid()}`;
      await client.appendToStream(stream, events(2));
      await client.deleteStream(stream);
      expect(await failureOf(collect(client.readStream(stream)))).to.be.instanceOf(StreamNotFoundError);

      const recreated = await client.appendToStream(stream, events(1), { expectedRevision: 'no_stream' });
      expect(recreated.nextExpectedRevision).to.equal(2n);
      const read = await collect(client.readStream(stream));
      expect(read.map((e) => e.event?.revision)).to.deep.equal([2n]);
    });

    it('raises StreamDeletedError for a tombstoned stream', async () => {
      const stream = `order-${uuid()}`;
      await client.appendToStream(stream, events(1));
      await client.tombstoneStream(stream, { expectedRevision: 0n });
      const error = await failureOf(collect(client.readStream(stream)));
      expect(error).to.be.instanceOf(StreamDeletedError);
      expect(error).to.have.property('streamName', stream);
    });
  });

  describe('when deleting with the wrong expected revision', () => {
    it('raises WrongExpectedVersionError with the versions from the trailers', async () => {
      const stream = `order-${uuid()}`;
      await client.appendToStream(stream, events(3));
      const soft = await failureOf(client.deleteStream(stream, { expectedRevision: 7n }));
      expect(soft).to.be.instanceOf(WrongExpectedVersionError);
      expect(soft).to.include({ streamName: stream, expectedVersion: 7n, actualVersion: 2n });

      const hard = await failureOf(client.tombstoneStream(stream, { expectedRevision: 'no_stream' }));
      expect(hard).to.be.instanceOf(WrongExpectedVersionError);
      expect(hard).to.include({ streamName: stream, expectedVersion: -1n, actualVersion: 2n });
    });

    it('reports no_stream as the actual version of a missing stream', async () => {
      const stream = `order-${uuid()}`;
      const error = await failureOf(client.deleteStream(stream, { expectedRevision: 3n }));
      expect(error).to.be.instanceOf(WrongExpectedVersionError);
      expect(error).to.include({ streamName: stream, expectedVersion: 3n, actualVersion: 'no_stream' });
    });

    it('raises StreamDeletedError when tombstoning a tombstoned stream', async () => {
      const stream = `order-${uuid()}`;
      await client.tombstoneStream(stream);
      expect(await failureOf(client.tombstoneStream(stream))).to.be.instanceOf(StreamDeletedError);
    });
  });

  describe('when using stream metadata', () => {
    it('round-trips metadata and applies $maxCount to reads', async () => {
      const stream = `order-${uuid()}`;
      await client.appendToStream(stream, events(5));
      await client.setStreamMetadata(stream, { maxCount: 2, custom: 'kept' });
      const { metadata } = await client.getStreamMetadata(stream);
      expect(metadata).to.deep.include({ maxCount: 2, custom: 'kept' });
      const read = await collect(client.readStream(stream));
      expect(read.map((e) => e.event?.revision)).to.deep.equal([3n, 4n]);
    });

    it('raises StreamDeletedError for metadata of a tombstoned stream', async () => {
      const stream = `order-${uuid()}`;
      await client.appendToStream(stream, events(1));
      await client.tombstoneStream(stream);
      expect(await failureOf(client.getStreamMetadata(stream))).to.be.instanceOf(StreamDeletedError);
    });
  });

  describe('when reading a category stream with resolveLinkTos', () => {
    it('returns the original events with the $ce- links attached', async () => {
      const category = `cat${uuid().replace(/-/g, '')}`;
      const a = await client.appendToStream(`${category}-a`, events(1, 'First'));
      await client.appendToStream(`${category}-b`, events(1, 'Second'));

      const read = await until(
        async () => {
          const found = await collect(client.readStream(`$ce-${category}`, { resolveLinkTos: true })).catch(
            () => [] as ResolvedEvent[],
          );
          return found.length === 2 ? found : undefined;
        },
        5000,
        'both links in $ce-',
      );
      expect(read.map((e) => e.event?.type)).to.deep.equal(['First', 'Second']);
      expect(read.map((e) => e.event?.streamId)).to.deep.equal([`${category}-a`, `${category}-b`]);
      expect(read[0]?.event?.position?.commit).to.equal(a.position?.commit);
      expect(read.map((e) => e.link?.streamId)).to.deep.equal([`$ce-${category}`, `$ce-${category}`]);
      expect(read.map((e) => e.link?.revision)).to.deep.equal([0n, 1n]);
    });
  });

  describe('when reading $all', () => {
    it('includes the event at the start position forwards and excludes it backwards', async () => {
      const stream = `order-${uuid()}`;
      const { position } = await client.appendToStream(stream, events(3));
      const last = await collect(client.readStream(stream, { fromRevision: 2n, maxCount: 1 }));
      const at = last[0]!.event!.position!;
      expect(at.commit).to.equal(position!.commit);

      const forwards = await collect(client.readAll({ fromPosition: at, direction: FORWARDS, maxCount: 1 }));
      expect(forwards[0]?.event?.id).to.equal(last[0]?.event?.id);
      const backwards = await collect(
        client.readAll({ fromPosition: at, direction: BACKWARDS, maxCount: 1 }),
      );
      expect(backwards[0]?.event?.streamId).to.not.equal(undefined);
      expect(backwards[0]?.event?.id).to.not.equal(last[0]?.event?.id);
      expect(backwards[0]!.event!.position.commit < at.commit).to.equal(true);
    });

    it('reads everything from the start in log order', async () => {
      const all = await collect(client.readAll({ fromPosition: START, maxCount: 50 }));
      const positions = all.map((e) => e.event!.position.commit);
      expect(positions.length).to.be.greaterThan(0);
      expect([...positions].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))).to.deep.equal(positions);
    });

    it('rejects a position that is not an event boundary', async () => {
      const { position } = await client.appendToStream(`order-${uuid()}`, events(1));
      const bogus = { commit: position!.commit + 1n, prepare: position!.prepare + 1n };
      const error = await failureOf(collect(client.readAll({ fromPosition: bogus, maxCount: 1 })));
      expect(String((error as Error).message)).to.match(/invalid position/i);
    });
  });
});
