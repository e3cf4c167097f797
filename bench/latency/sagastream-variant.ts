// Variant "sagastream-a" / "sagastream-b": the order-fulfillment sample (process manager +
// simulated services) on ProcessRuntime, on back-end A (LocalEventStore in memory, in this
// process) or B (EventStoreDbEventStore against the embedded server the driver started).
// A saga is finished when its order is closed and its process stream ends (bench/saga's
// Completion), seen as the appends are acknowledged through a CountingEventStore.
import { silentLogger } from '../../lib/runtime/logger';
import { EventStoreDbEventStore, LocalEventStore } from '../../lib/store';
import type { EventStore } from '../../lib/store/event-store';
import { createOrderFulfillmentRuntime } from '../../samples/order-fulfillment/app';
import { placeOrder } from '../../samples/order-fulfillment/place-orders';
import { runAsChild } from '../harness/child';
import { completionCountingStore } from '../saga/sagastream-sample';
import { Completion } from '../saga/workload';
import { FirstDecision, type LatencyChildInput, measureLatency } from './workload';

runAsChild(async (input: LatencyChildInput, ctx) => {
  const completion = new Completion();
  const firstDecision = new FirstDecision();
  const inner: EventStore & { close(): Promise<void> } =
    input.backend === 'A'
      ? await LocalEventStore.open({ memory: true })
      : new EventStoreDbEventStore(input.connectionString);
  const store = completionCountingStore(inner, completion, (processId, events) => {
    if (events[0]?.type === 'sagastream.ProcessStarted') firstDecision.seen(processId);
  });
  const runtime = createOrderFulfillmentRuntime(store, {
    logger: silentLogger,
    services: { transientFailureRate: 0 },
  });
  await runtime.start();
  let opsAtOpen = store.counts();
  return measureLatency(input, ctx, {
    place: (order) => placeOrder(store, order),
    completion,
    firstDecision,
    settle: async () => {
      await runtime.whenIdle(60_000);
      opsAtOpen = store.counts();
    },
    details: () => {
      const ops: Record<string, number> = {};
      for (const [key, n] of Object.entries(store.counts())) ops[key] = n - (opsAtOpen[key] ?? 0);
      return {
        backend:
          input.backend === 'A'
            ? 'A: LocalEventStore({ memory: true }) in the variant process'
            : 'B: EventStoreDbEventStore over @eventstore/db-client to the embedded server process',
        settings: 'ProcessRuntime defaults (concurrency 64, relayConcurrency 64, batchSize 256)',
        storeOpsInOpenLoop: ops,
      };
    },
    close: async () => {
      await runtime.stop();
      await inner.close();
    },
  });
});
