import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { InvalidEventError, StoreUnavailableError } from '../../lib/errors';
import { EventStoreDbEventStore } from '../../lib/store/eventstoredb/eventstoredb-event-store';
import { startEmbedded } from '../helpers/embedded';
import { eventStoreContract } from './event-store.contract';

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
    });
  });
});

describe('EventStoreDbEventStore', () => {
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
