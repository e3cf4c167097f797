import { expect } from 'chai';
import { silentLogger } from '../../lib/runtime/logger';
import { EventStoreDbEventStore } from '../../lib/store/eventstoredb/eventstoredb-event-store';
import type { EventStore } from '../../lib/store/event-store';
import { LocalEventStore } from '../../lib/store/local/local-event-store';
import { createOrderFulfillmentRuntime } from '../../samples/order-fulfillment/app';
import { CancellationReasons, readOutcomes, waitUntilSettled } from '../../samples/order-fulfillment/outcome';
import { generateOrders, placeOrders } from '../../samples/order-fulfillment/place-orders';
import { startEmbedded } from '../helpers/embedded';

async function runSample(store: EventStore, count: number, transientFailureRate: number) {
  const runtime = createOrderFulfillmentRuntime(store, {
    logger: silentLogger,
    backoff: { initialDelayMs: 1, maxDelayMs: 10 },
    services: { transientFailureRate },
  });
  await runtime.start();
  try {
    const orders = generateOrders(count, { seed: 7, failureShare: 0.3 });
    await placeOrders(store, orders);
    await waitUntilSettled(
      store,
      orders.map((o) => o.orderId),
      { timeoutMs: 60_000 },
    );
    return await readOutcomes(
      store,
      orders.map((o) => o.orderId),
    );
  } finally {
    await runtime.stop();
  }
}

describe('order-fulfillment sample', function () {
  this.timeout(120_000);
  let store: LocalEventStore;
  beforeEach(async () => (store = await LocalEventStore.open({ memory: true })));
  afterEach(() => store.close());

  describe('when orders take every path', () => {
    it('completes or cancels each order exactly as the failure rules say, with compensations in reverse order', async () => {
      const { summary } = await runSample(store, 120, 0);
      expect(summary.violations).to.deep.equal([]);
      expect(summary.duplicates).to.equal(0);
      expect(summary.pending).to.equal(0);
      expect(summary.completed).to.be.greaterThan(0);
      for (const reason of Object.values(CancellationReasons))
        expect(summary.cancelled[reason], reason).to.be.greaterThan(0);
      expect(summary.refunds).to.equal(
        (summary.cancelled[CancellationReasons.outOfStock] ?? 0) +
          (summary.cancelled[CancellationReasons.shipmentFailed] ?? 0),
      );
      expect(summary.releases).to.equal(summary.cancelled[CancellationReasons.shipmentFailed]);
    });
  });

  describe('when the services fail transiently at SAMPLE_TRANSIENT_FAILURE_RATE=0.2', () => {
    it('hides the faults behind retries: the same outcomes, no duplicates', async () => {
      const { summary } = await runSample(store, 120, 0.2);
      expect(summary.violations).to.deep.equal([]);
      expect(summary.duplicates).to.equal(0);
      expect(summary.orders).to.equal(120);
    });
  });

  describe('when it runs on the embedded server through the real client', () => {
    it('keeps the outcome contract', async () => {
      const server = await startEmbedded();
      const remote = new EventStoreDbEventStore(server.connectionString);
      try {
        const { summary } = await runSample(remote, 40, 0.2);
        expect(summary.violations).to.deep.equal([]);
        expect(summary.duplicates).to.equal(0);
      } finally {
        await remote.close();
        await server.close();
      }
    });
  });
});
