// Variants "floor" (back-end B) and "floor-a" (back-end A) of bench:latency: the hand-written
// order-fulfillment saga of bench:saga (bench/saga/floor-saga.ts, which says what it does and
// does not do), timed open-loop: on @eventstore/db-client against the same embedded server
// (B), or through the framework's EventStore port on LocalEventStore({ memory: true }) in
// this process (A).
import { EventStoreDBClient } from '@eventstore/db-client';
import { LocalEventStore } from '../../lib/store';
import { runAsChild } from '../harness/child';
import { FloorSaga } from '../saga/floor-saga';
import { clientFloorStore, portFloorStore } from '../saga/floor-store';
import { FirstDecision, type LatencyChildInput, measureLatency } from './workload';

runAsChild(async (input: LatencyChildInput, ctx) => {
  const onServer = input.backend === 'B';
  const client = onServer ? EventStoreDBClient.connectionString(input.connectionString) : undefined;
  const local = onServer ? undefined : await LocalEventStore.open({ memory: true });
  const firstDecision = new FirstDecision();
  const floor = new FloorSaga(client ? clientFloorStore(client) : portFloorStore(local!), (orderId) =>
    firstDecision.seen(orderId),
  );
  await floor.start();
  return measureLatency(input, ctx, {
    place: (order) => floor.place(order),
    completion: floor.completion,
    firstDecision,
    settle: () => floor.settle(),
    details: () => ({
      backend: onServer
        ? 'B: hand-written saga over @eventstore/db-client to the embedded server process'
        : 'A: hand-written saga through the EventStore port on LocalEventStore({ memory: true }), in process',
      settings: 'unbounded concurrency; one consumer per category',
      storeOps: floor.counts(),
    }),
    close: async () => {
      await floor.stop();
      await local?.close();
      await client?.dispose();
    },
  });
});
