// Variant "sagastream": the order-fulfillment sample on back-end B, EventStoreDbEventStore
// against the embedded server the driver started (bench/saga/sagastream-sample.ts).
import { EventStoreDbEventStore } from '../../lib/store';
import { runAsChild } from '../harness/child';
import { measureSample } from './sagastream-sample';
import type { SagaChildInput } from './workload';

runAsChild((input: SagaChildInput, ctx) =>
  measureSample(input, ctx, new EventStoreDbEventStore(input.connectionString)),
);
