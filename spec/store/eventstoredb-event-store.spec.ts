import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { v4 as uuid } from 'uuid';
import { InvalidEventError, StoreUnavailableError } from '../../lib/errors';
import { startEventStore } from '../../lib/server';
import { EventStoreDbEventStore } from '../../lib/store/eventstoredb/eventstoredb-event-store';
import { startEmbedded } from '../helpers/embedded';
import { until } from '../helpers/until';
import { eventStoreContract } from './event-store.contract';
import { collectUntil } from './subscription-probe';

type Embedded = Awaited<ReturnType<typeof startEmbedded>>;

describe('EventStoreDbEventStore against the embedded server (durable directory)', () => {
  let server: Embedded;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sagastream-esdb-store-'));
    server = await startEmbedded({ dbPath: dir });
  });

  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  eventStoreContract('EventStoreDbEventStore (embedded server)', async () => {
    const store = new EventStoreDbEventStore(server.connectionString);
    return { store, close: () => store.close() };
  });

  describe('EventStoreDbEventStore', () => {
    describe('when an event cannot be serialised as JSON', () => {
      it('rejects it with InvalidEventError instead of hanging the append', async () => {
        const store = new EventStoreDbEventStore(server.connectionString);
        try {
          let failure: unknown;
          await store
            .append('order-bigint', [
              { id: '7d1c8d3e-96e2-4bde-9d6b-1f3f07c2a101', type: 'T', data: { n: 1n } },
            ])
            .catch((err: unknown) => (failure = err));
          expect(failure).to.be.instanceOf(InvalidEventError);
          expect(await store.readStream('order-bigint')).to.deep.equal([]);
        } finally {
          await store.close();
        }
      });

      const cyclic: Record<string, unknown> = { a: 1 };
      cyclic.self = { back: cyclic };
      const cases: [string, { data: unknown; metadata?: Record<string, unknown> }][] = [
        ['a cycle in the data', { data: { nested: cyclic } }],
        ['undefined data', { data: undefined }],
        ['a function as data', { data: () => 1 }],
        ['a bigint deep in an array', { data: { items: [{ qty: 1 }, { qty: 2n }] } }],
        [
          'a toJSON that throws',
          {
            data: {
              when: {
                toJSON: () => {
                  throw new Error('no');
                },
              },
            },
          },
        ],
        ['a bigint in the metadata', { data: {}, metadata: { n: 1n } }],
      ];
      for (const [what, event] of cases) {
        it(`rejects ${what} with InvalidEventError`, async () => {
          const store = new EventStoreDbEventStore(server.connectionString);
          try {
            const failure = await store.append('order-invalid', [{ id: uuid(), type: 'T', ...event }]).then(
              () => undefined,
              (err: unknown) => err,
            );
            expect(failure).to.be.instanceOf(InvalidEventError);
          } finally {
            await store.close();
          }
        });
      }
    });

    describe('when JSON events carry dates, nested values and metadata', () => {
      it('stores them as JSON.stringify would and gives back equal raw bytes', async () => {
        const store = new EventStoreDbEventStore(server.connectionString);
        try {
          const data = { at: new Date(0), items: [{ sku: 'a', qty: 1, skip: undefined }], total: 4.5 };
          const metadata = { $correlationId: 'c1', nested: { n: 1 } };
          await store.append('order-json', [{ id: uuid(), type: 'T', data, metadata }]);
          const [read] = await store.readStream('order-json');
          expect(read!.data).to.deep.equal(JSON.parse(JSON.stringify(data)));
          expect(read!.metadata).to.deep.equal(metadata);
          expect(JSON.parse(Buffer.from(read!.rawData).toString())).to.deep.equal(read!.data);
          expect(JSON.parse(Buffer.from(read!.rawMetadata).toString())).to.deep.equal(metadata);
        } finally {
          await store.close();
        }
      });
    });

    describe('when two workers store checkpoints of the same consumer', () => {
      it('keeps the last one written and never grows the checkpoint stream', async () => {
        const first = new EventStoreDbEventStore(server.connectionString);
        const second = new EventStoreDbEventStore(server.connectionString);
        try {
          await first.writeCheckpoint('shared-consumer', 10n);
          await second.writeCheckpoint('shared-consumer', 20n);
          // `first` last wrote at a revision the stream has moved past.
          await first.writeCheckpoint('shared-consumer', 30n);
          await first.writeCheckpoint('shared-consumer', 40n);
          expect(await second.readCheckpoint('shared-consumer')).to.equal(40n);
          await second.writeCheckpoint('shared-consumer', 50n);
          expect(await first.readCheckpoint('shared-consumer')).to.equal(50n);
          expect(await first.readStream('sagastreamCheckpoint-shared-consumer')).to.have.length(1);
        } finally {
          await first.close();
          await second.close();
        }
      });
    });
  });
});

describe('EventStoreDbEventStore', () => {
  describe('when a subscription is unsubscribed', () => {
    it('ends the server-side subscription call', async () => {
      const server = await startEventStore({ port: 0, memory: true });
      const store = new EventStoreDbEventStore(server.connectionString);
      try {
        await store.append('order-1', [{ id: '7d1c8d3e-96e2-4bde-9d6b-1f3f07c2a102', type: 'T', data: {} }]);
        const baseline = server.openCalls;

        await collectUntil(store.subscribe({ stream: 'order-1' }), (items) =>
          items.some((i) => i.kind === 'caughtUp'),
        );
        const subscription = store.subscribe({ category: 'order' }).subscribe((batch) => batch.ack());
        await until(() => server.openCalls === baseline + 1, 5_000, 'the second subscription call to open');
        subscription.unsubscribe();

        await until(() => server.openCalls === baseline, 5_000, 'every subscription call to end');
      } finally {
        await store.close();
        await server.close();
      }
    });
  });

  describe('when the server stops under a live subscription', () => {
    it('fails the subscription with StoreUnavailableError', async () => {
      const server = await startEventStore({ port: 0, memory: true });
      const store = new EventStoreDbEventStore(server.connectionString);
      let failure: unknown;
      let caughtUp = false;
      const subscription = store.subscribe({ stream: 'order-1' }).subscribe({
        next: (batch) => {
          if (batch.items.some((item) => item.kind === 'caughtUp')) caughtUp = true;
          batch.ack();
        },
        error: (err: unknown) => {
          failure = err;
        },
      });
      try {
        await until(() => caughtUp, 5_000, 'the subscription to go live');
        await server.close();
        await until(() => failure !== undefined, 10_000, 'the subscription to fail');
        expect(failure).to.be.instanceOf(StoreUnavailableError);
      } finally {
        subscription.unsubscribe();
        await store.close();
      }
    });
  });

  describe('when the server is gone', () => {
    it('reports StoreUnavailableError', async function () {
      this.timeout(30_000);
      const server = await startEmbedded({ memory: true });
      await server.close();
      const store = new EventStoreDbEventStore(server.connectionString);
      try {
        let failure: unknown;
        await store.readStream('order-1').catch((err: unknown) => (failure = err));
        expect(failure).to.be.instanceOf(StoreUnavailableError);
      } finally {
        await store.close();
      }
    });
  });
});

const realServer = process.env.EVENTSTORE_CONNECTION_STRING;
if (realServer !== undefined && realServer !== '') {
  eventStoreContract('EventStoreDbEventStore (EventStoreDB at EVENTSTORE_CONNECTION_STRING)', async () => {
    const store = new EventStoreDbEventStore(realServer);
    return { store, close: () => store.close() };
  });
}
