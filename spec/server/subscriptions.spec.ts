import {
  EventStoreDBClient,
  jsonEvent,
  START,
  streamNameFilter,
  StreamDeletedError,
  type Position,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { expect } from 'chai';
import { v4 as uuid } from 'uuid';
import { startEventStore, type EmbeddedEventStore } from '../../lib/server';
import { until } from '../helpers/until';

const events = (count: number, type = 'Happened', size = 0) =>
  Array.from({ length: count }, (_, i) =>
    jsonEvent({ id: uuid(), type, data: { i, pad: 'x'.repeat(size) } }),
  );

describe('Catch-up subscriptions', () => {
  let server: EmbeddedEventStore;
  let client: EventStoreDBClient;

  before(async () => {
    server = await startEventStore({ port: 0, memory: true });
    client = EventStoreDBClient.connectionString(server.connectionString);
  });

  after(async () => {
    await client?.dispose();
    await server?.close();
  });

  describe('when subscribing to a stream from a revision', () => {
    it('confirms, delivers the later events, reports caught up, then delivers live events', async () => {
      const stream = `order-${uuid()}`;
      await client.appendToStream(stream, events(3));
      const subscription = client.subscribeToStream(stream, { fromRevision: 0n });
      const received: bigint[] = [];
      let confirmed = false;
      let caughtUpAfter: number | undefined;
      subscription.on('confirmation', () => (confirmed = true));
      subscription.on('caughtUp', () => (caughtUpAfter ??= received.length));
      subscription.on('data', (event: ResolvedEvent) => received.push(event.event!.revision));
      try {
        await until(() => caughtUpAfter !== undefined, 5000, 'caught up');
        await client.appendToStream(stream, events(2));
        await until(() => received.length === 4, 5000, 'live events');
        expect(confirmed).to.equal(true);
        // The start revision is exclusive: revision 0 is not delivered again.
        expect(received).to.deep.equal([1n, 2n, 3n, 4n]);
        expect(caughtUpAfter).to.equal(2);
      } finally {
        await subscription.unsubscribe();
      }
    });
  });

  describe('when the backlog is larger than the transport buffers', () => {
    it('delivers every event once and in order', async () => {
      const stream = `bulk-${uuid()}`;
      for (let batch = 0; batch < 20; batch += 1)
        await client.appendToStream(stream, events(100, 'Bulk', 8000));
      const subscription = client.subscribeToStream(stream, { fromRevision: START });
      const revisions: bigint[] = [];
      subscription.on('data', (event: ResolvedEvent) => revisions.push(event.event!.revision));
      try {
        await until(() => revisions.length >= 2000, 20_000, 'the whole backlog');
        expect(revisions).to.have.length(2000);
        expect(revisions.every((revision, i) => revision === BigInt(i))).to.equal(true);
      } finally {
        await subscription.unsubscribe();
      }
    });
  });

  describe('when subscribing to a filtered $all', () => {
    it('delivers only matching events and reaches checkpoints in catch-up and live', async () => {
      const prefix = `filtered${uuid().replace(/-/g, '')}`;
      const matching = await client.appendToStream(`${prefix}-a`, events(3));
      await client.appendToStream(`other-${uuid()}`, events(12));
      const checkpoints: bigint[] = [];
      const delivered: string[] = [];
      let caughtUp = false;
      const subscription = client.subscribeToAll({
        fromPosition: START,
        filter: streamNameFilter({
          prefixes: [prefix],
          checkpointInterval: 1,
          maxSearchWindow: 5,
          checkpointReached: (_sub, position: Position) => {
            checkpoints.push(position.commit);
          },
        }),
      });
      subscription.on('caughtUp', () => (caughtUp = true));
      subscription.on('data', (event: ResolvedEvent) => delivered.push(event.event!.streamId));
      try {
        await until(() => caughtUp && delivered.length === 3, 5000, 'catch-up of the matching events');
        await until(
          () => checkpoints.some((position) => position >= matching.position!.commit),
          5000,
          'a checkpoint at the end of catch-up',
        );
        const atCatchUp = checkpoints[checkpoints.length - 1]!;

        await client.appendToStream(`other-${uuid()}`, events(10));
        await client.appendToStream(`${prefix}-b`, events(1));
        await until(() => delivered.length === 4, 5000, 'the live matching event');
        await until(() => checkpoints.some((p) => p > atCatchUp), 5000, 'a live checkpoint');

        expect(delivered).to.deep.equal([`${prefix}-a`, `${prefix}-a`, `${prefix}-a`, `${prefix}-b`]);
        expect([...checkpoints].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).to.deep.equal(checkpoints);
      } finally {
        await subscription.unsubscribe();
      }
    });
  });

  describe('when subscribing to a tombstoned stream', () => {
    it('fails with StreamDeletedError', async () => {
      const stream = `order-${uuid()}`;
      await client.appendToStream(stream, events(1));
      await client.tombstoneStream(stream);
      const subscription = client.subscribeToStream(stream);
      let failure: unknown;
      subscription.on('error', (error) => (failure = error));
      subscription.on('data', () => undefined);
      await until(() => failure !== undefined, 5000, 'the subscription error');
      expect(failure).to.be.instanceOf(StreamDeletedError);
    });
  });

  describe('when a client disconnects in the middle of a subscription', () => {
    it('closes its subscription and keeps serving the other clients', async () => {
      const stream = `order-${uuid()}`;
      await client.appendToStream(stream, events(50, 'Backlog', 1000));
      const vanishing = EventStoreDBClient.connectionString(server.connectionString);
      const doomed = vanishing.subscribeToAll({ fromPosition: START });
      let seen = 0;
      doomed.on('data', () => (seen += 1));
      doomed.on('error', () => undefined);
      await until(() => seen > 0, 5000, 'the doomed subscription to start');
      const openWithDoomed = server.openCalls;
      await vanishing.dispose();
      await until(() => server.openCalls === openWithDoomed - 1, 5000, 'the server to drop the subscription');

      const survivor = client.subscribeToStream(stream);
      let survivorSeen = 0;
      survivor.on('data', () => (survivorSeen += 1));
      try {
        await client.appendToStream(stream, events(1));
        await until(() => survivorSeen === 51, 5000, 'the other subscription to keep flowing');
        const reread: ResolvedEvent[] = [];
        for await (const event of client.readStream(stream)) reread.push(event);
        expect(reread).to.have.length(51);
      } finally {
        await survivor.unsubscribe();
      }
    });
  });
});
