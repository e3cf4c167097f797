// Variants "floor" and "floor-a": the hand-written order-fulfillment saga (floor-saga.ts, which
// says what it does and does not do). With a connection string (back-end B) it runs on
// @eventstore/db-client against the embedded server the driver started; without one
// (back-end A) on LocalEventStore({ memory: true }) in this process, through the framework's
// EventStore port, the bound of what the store work alone allows on A.
import { EventStoreDBClient } from '@eventstore/db-client';
import { EventStoreDbEventStore, LocalEventStore } from '../../lib/store';
import { runAsChild } from '../harness/child';
import { FloorSaga } from './floor-saga';
import { clientFloorStore, portFloorStore } from './floor-store';
import { type SagaChildInput, measureSagas } from './workload';

runAsChild(async (input: SagaChildInput, ctx) => {
  const onServer = input.connectionString !== '';
  const client = onServer ? EventStoreDBClient.connectionString(input.connectionString) : undefined;
  const local = onServer ? undefined : await LocalEventStore.open({ memory: true });
  const floor = new FloorSaga(client ? clientFloorStore(client) : portFloorStore(local!));
  await floor.start();
  const checker = local ?? new EventStoreDbEventStore(input.connectionString);
  return measureSagas(input, ctx, {
    place: (order) => floor.place(order),
    completion: floor.completion,
    resetCounts: () => floor.resetCounts(),
    counts: () => floor.counts(),
    settle: () => floor.settle(),
    checker,
    details: () => ({
      backend: onServer
        ? 'B: @eventstore/db-client to the embedded server process'
        : 'A: LocalEventStore({ memory: true }) in the variant process, through the EventStore port',
      settings: 'unbounded concurrency; one consumer per category',
    }),
    close: async () => {
      await floor.stop();
      await checker.close();
      await client?.dispose();
    },
  });
});
