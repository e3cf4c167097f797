import { expect } from 'chai';
import { Subject } from 'rxjs';
import type { EventStore, StoredEventRecord, SubscriptionBatch } from '../../lib/store/event-store';
import { ManualClock } from '../../lib/runtime/clock';
import { KeyedWorkQueue } from '../../lib/runtime/keyed-work-queue';
import { silentLogger } from '../../lib/runtime/logger';
import { SubscriptionConsumer } from '../../lib/runtime/subscription-consumer';

const until = async (condition: () => boolean, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setImmediate(r));
  }
};

/** A store whose subscription emits the batches a test pushes; checkpoints kept in memory. */
function storeStub() {
  const batches = new Subject<SubscriptionBatch>();
  const checkpoints = new Map<string, bigint>();
  const store = {
    subscribe: () => batches.asObservable(),
    readCheckpoint: async (name: string) => checkpoints.get(name),
    writeCheckpoint: async (name: string, checkpoint: bigint) => void checkpoints.set(name, checkpoint),
  } as unknown as EventStore;
  return { store, batches, checkpoints };
}

const record = (i: number): StoredEventRecord =>
  ({
    id: `e${i}`,
    type: 'Happened',
    stream: `thing-${i % 100}`,
    revision: BigInt(Math.floor(i / 100)),
    position: BigInt(i),
    isJson: true,
    data: { i },
    metadata: {},
  }) as unknown as StoredEventRecord;

describe('SubscriptionConsumer', () => {
  describe('when the store delivers one page of 100k events', () => {
    it('hands it to the work queue a slice at a time, in order, and acks it once all is taken', async () => {
      const { store, batches } = storeStub();
      let peakQueued = 0;
      let lastSeen = -1;
      let outOfOrder = 0;
      let handled = 0;
      const queue = new KeyedWorkQueue<{ i: number; done: () => void }>({
        concurrency: 16,
        worker: async (_key, job) => {
          await Promise.resolve();
          handled++;
          job.done();
        },
      });
      const consumer = new SubscriptionConsumer({
        store,
        name: 'bounded',
        source: { category: 'thing' },
        clock: new ManualClock(0),
        logger: silentLogger,
        onEvent: (event, ticket) => {
          const i = Number(event.position);
          if (i <= lastSeen) outOfOrder++;
          lastSeen = i;
          queue.push(event.stream, { i, done: () => ticket.done() });
          peakQueued = Math.max(peakQueued, queue.size);
        },
        waitForCapacity: () => queue.whenBelow(512),
        drain: () => queue.whenIdle(),
        batchSize: 256,
      });
      await consumer.start();
      let acked = false;
      const items = Array.from({ length: 100_000 }, (_, i) => ({
        kind: 'event' as const,
        event: record(i),
        checkpoint: BigInt(i),
      }));
      batches.next({ items, ack: () => (acked = true) });
      await until(() => acked);
      await consumer.stop();
      expect(handled).to.equal(100_000);
      expect(outOfOrder).to.equal(0);
      // At most the queue limit plus one slice of decoded work waits at any time.
      expect(peakQueued).to.be.at.most(512 + 256);
      expect(consumer.storedCheckpoint).to.equal(99_999n);
    });
  });

  describe('when it is halted in the middle of a big page', () => {
    it('takes no more of the page and stores only the checkpoint of the work it took', async () => {
      const { store, batches, checkpoints } = storeStub();
      let gate!: () => void;
      const opened = new Promise<void>((r) => (gate = r));
      let taken = 0;
      const consumer = new SubscriptionConsumer({
        store,
        name: 'halted',
        source: { category: 'thing' },
        clock: new ManualClock(0),
        logger: silentLogger,
        onEvent: (_event, ticket) => {
          taken++;
          ticket.done();
        },
        waitForCapacity: () => opened,
        drain: async () => undefined,
        batchSize: 10,
      });
      await consumer.start();
      const items = Array.from({ length: 100 }, (_, i) => ({
        kind: 'event' as const,
        event: record(i),
        checkpoint: BigInt(i),
      }));
      let acked = false;
      batches.next({ items, ack: () => (acked = true) });
      expect(taken).to.equal(10);
      consumer.halt();
      gate();
      await consumer.stop();
      expect(taken).to.equal(10);
      expect(acked).to.equal(false);
      expect(checkpoints.get('halted')).to.equal(9n);
    });
  });

  describe('when the subscription reaches what was stored when it started', () => {
    it('calls onCaughtUp after handing over the events before the marker, not before', async () => {
      const { store, batches } = storeStub();
      const seen: string[] = [];
      const consumer = new SubscriptionConsumer({
        store,
        name: 'catching-up',
        source: { category: 'thing' },
        clock: new ManualClock(0),
        logger: silentLogger,
        lanes: [
          {
            name: 'catching-up',
            onEvent: (event, ticket, live) => {
              seen.push(`${event.id}${live ? ' live' : ''}`);
              ticket.done();
            },
          },
        ],
        onCaughtUp: () => seen.push(`caught up (${consumer.caughtUp})`),
        waitForCapacity: async () => undefined,
        drain: async () => undefined,
      });
      await consumer.start();
      const event = (i: number) => ({ kind: 'event' as const, event: record(i), checkpoint: BigInt(i) });
      batches.next({ items: [event(0), event(1)], ack: () => undefined });
      await until(() => seen.length === 2);
      batches.next({ items: [{ kind: 'caughtUp' }, event(2)], ack: () => undefined });
      await until(() => seen.length === 4);
      await consumer.stop();
      expect(seen).to.deep.equal(['e0', 'e1', 'caught up (true)', 'e2 live']);
    });
  });
});
