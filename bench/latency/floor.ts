// Variant "floor" (back-end B) of bench:latency: the hand-written order-fulfillment saga of
// bench:saga (bench/saga/floor-saga.ts, which says what it does and does not do) on
// @eventstore/db-client against the same embedded server, timed open-loop.
import { EventStoreDBClient } from '@eventstore/db-client';
import { runAsChild } from '../harness/child';
import { FloorSaga } from '../saga/floor-saga';
import { FirstDecision, type LatencyChildInput, measureLatency } from './workload';

runAsChild(async (input: LatencyChildInput, ctx) => {
  const client = EventStoreDBClient.connectionString(input.connectionString);
  const firstDecision = new FirstDecision();
  const floor = new FloorSaga(client, (orderId) => firstDecision.seen(orderId));
  await floor.start();
  return measureLatency(input, ctx, {
    place: (order) => floor.place(order),
    completion: floor.completion,
    firstDecision,
    settle: () => floor.settle(),
    details: () => ({
      backend: 'B: hand-written saga over @eventstore/db-client to the embedded server process',
      settings: 'unbounded concurrency; one consumer per category',
      storeOps: floor.counts(),
    }),
    close: async () => {
      await floor.stop();
      await client.dispose();
    },
  });
});
