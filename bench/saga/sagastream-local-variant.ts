// Variant "sagastream-a": the order-fulfillment sample on back-end A, `LocalEventStore`
// in memory in this process (no gRPC, no server process). The same runtime, the same
// sample and the same counting as the back-end B variant (bench/saga/sagastream-sample.ts).
import { LocalEventStore } from '../../lib/store';
import { runAsChild } from '../harness/child';
import { measureSample } from './sagastream-sample';
import type { SagaChildInput } from './workload';

runAsChild(async (input: SagaChildInput, ctx) =>
  measureSample(
    input,
    ctx,
    await LocalEventStore.open({ memory: true }),
    'A: LocalEventStore({ memory: true }) in the variant process',
  ),
);
