import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { EventLog } from '../../lib/storage/event-log';
import type { LogSubscription } from '../../lib/storage/types';
import { LocalEventStore } from '../../lib/store/local/local-event-store';
import { until } from '../helpers/until';
import { eventStoreContract } from './event-store.contract';

eventStoreContract('LocalEventStore (memory)', async () => {
  const store = await LocalEventStore.open({ memory: true });
  return { store, close: () => store.close() };
});

eventStoreContract('LocalEventStore (durable directory)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sagastream-local-store-'));
  const store = await LocalEventStore.open({ dir });
  return {
    store,
    close: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('LocalEventStore', () => {
  describe('when an event holds malformed JSON', () => {
    it('returns the raw bytes as data and keeps isJson, without throwing', async () => {
      const log = await EventLog.open({ memory: true });
      const store = new LocalEventStore(log);
      try {
        const bytes = new TextEncoder().encode('{"total": 4');
        await log.append('order-1', 'any', [
          {
            id: '7d1c8d3e-96e2-4bde-9d6b-1f3f07c2a001',
            type: 'OrderPlaced',
            isJson: true,
            data: bytes,
            metadata: bytes,
          },
        ]);

        const [read] = await store.readStream('order-1');

        expect(read?.isJson).to.equal(true);
        expect(Buffer.from(read?.data as Uint8Array).toString()).to.equal('{"total": 4');
        expect(read?.metadata).to.deep.equal({});
        expect(Buffer.from(read!.rawMetadata).toString()).to.equal('{"total": 4');
      } finally {
        await store.close();
        await log.close();
      }
    });
  });

  describe('when a subscription is unsubscribed', () => {
    it('closes the log subscription behind it', async () => {
      const log = await EventLog.open({ memory: true });
      const opened: { closed: boolean }[] = [];
      // Observes the log's subscriptions without changing what they do.
      const observed = new Proxy(log, {
        get(target, property, receiver) {
          if (property !== 'subscribeToStream') return Reflect.get(target, property, receiver) as unknown;
          return (...args: Parameters<EventLog['subscribeToStream']>): LogSubscription => {
            const inner = target.subscribeToStream(...args);
            const record = { closed: false };
            opened.push(record);
            return {
              [Symbol.asyncIterator]: () => inner[Symbol.asyncIterator](),
              close: () => {
                record.closed = true;
                inner.close();
              },
            };
          };
        },
      });
      const store = new LocalEventStore(observed);
      try {
        const subscription = store.subscribe({ stream: 'order-1' }).subscribe((batch) => batch.ack());
        expect(opened).to.deep.equal([{ closed: false }]);

        subscription.unsubscribe();

        await until(() => opened[0]?.closed, 5_000, 'the log subscription to close');
      } finally {
        await store.close();
        await log.close();
      }
    });
  });

  describe('when built over an existing log', () => {
    it('leaves the log open on close', async () => {
      const log = await EventLog.open({ memory: true });
      const store = new LocalEventStore(log);
      await store.close();

      await log.append('order-1', 'any', [
        {
          id: '7d1c8d3e-96e2-4bde-9d6b-1f3f07c2a002',
          type: 'T',
          isJson: true,
          data: new Uint8Array(),
          metadata: new Uint8Array(),
        },
      ]);
      expect(log.streamRevision('order-1')).to.equal(0n);
      await log.close();
    });
  });

  describe('when a durable store is reopened', () => {
    it('reads back what was appended before', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sagastream-local-store-'));
      try {
        const first = await LocalEventStore.open({ dir });
        await first.append('order-1', [
          { id: '7d1c8d3e-96e2-4bde-9d6b-1f3f07c2a003', type: 'OrderPlaced', data: { total: 1 } },
        ]);
        await first.writeCheckpoint('relay', 42n);
        await first.close();

        const second = await LocalEventStore.open({ dir });
        try {
          expect((await second.readStream('order-1')).map((r) => r.data)).to.deep.equal([{ total: 1 }]);
          expect(await second.readCheckpoint('relay')).to.equal(42n);
        } finally {
          await second.close();
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
