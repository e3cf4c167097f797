// Variant "floor": the order-fulfillment saga written by hand on @eventstore/db-client,
// doing the store work a careful hand-written implementation needs and nothing more:
// - the same appends as the framework: OrderPlaced; one append to orderFulfillment-<id>
//   per input, with the same events (dedupe record, decision, commands, compensations);
//   the services' read-then-append on their domain streams (the sample's services);
// - state and revision kept in memory, so the process stream is never read;
// - inputs from $ce-order/payment/inventory/shipment and an outbox relay on
//   $ce-orderFulfillment (one consumer), each storing a checkpoint every 512 events
//   or 1 s, never ahead of the work.
import { EventStoreDBClient } from '@eventstore/db-client';
import { EventStoreDbEventStore } from '../../lib/store';
import { runAsChild } from '../harness/child';
import { FloorSaga } from './floor-saga';
import { type SagaChildInput, measureSagas } from './workload';

runAsChild(async (input: SagaChildInput, ctx) => {
  const client = EventStoreDBClient.connectionString(input.connectionString);
  const floor = new FloorSaga(client);
  await floor.start();
  const checker = new EventStoreDbEventStore(input.connectionString);
  return measureSagas(input, ctx, {
    place: (order) => floor.place(order),
    completion: floor.completion,
    resetCounts: () => floor.resetCounts(),
    counts: () => floor.counts(),
    settle: () => floor.settle(),
    checker,
    details: () => ({ settings: 'unbounded concurrency; one consumer per category' }),
    close: async () => {
      await floor.stop();
      await checker.close();
      await client.dispose();
    },
  });
});
