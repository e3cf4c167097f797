// Variant "sagastream-a": the order-fulfillment sample on back-end A, `LocalEventStore`
// in memory in this process (no gRPC, no server process). The same runtime, the same
// sample and the same counting as the back-end B variant (sagastream-variant.ts).
import { silentLogger } from '../../lib/runtime/logger';
import type { RuntimeReport } from '../../lib/runtime/runtime-events';
import { LocalEventStore } from '../../lib/store';
import { createOrderFulfillmentRuntime } from '../../samples/order-fulfillment/app';
import { placeOrder } from '../../samples/order-fulfillment/place-orders';
import { runAsChild } from '../harness/child';
import { CountingEventStore } from './counting-event-store';
import { classifyStream, orderIdOfOrderStream, orderIdOfProcessStream } from './streams';
import { Completion, type SagaChildInput, TERMINAL_PROCESS_EVENTS, measureSagas } from './workload';

runAsChild(async (input: SagaChildInput, ctx) => {
  const completion = new Completion();
  const inner = await LocalEventStore.open({ memory: true });
  const store = new CountingEventStore(inner, {
    classify: classifyStream,
    onAppended: (stream, events) => {
      const orderId = orderIdOfOrderStream(stream);
      if (orderId !== undefined) {
        if (events.some((e) => e.type === 'OrderCompleted' || e.type === 'OrderCancelled'))
          completion.orderClosed(orderId);
        return;
      }
      const processId = orderIdOfProcessStream(stream);
      if (processId !== undefined && events.some((e) => TERMINAL_PROCESS_EVENTS.has(e.type))) {
        completion.processFinished(processId);
      }
    },
  });
  const reports: Record<string, number> = {};
  const runtime = createOrderFulfillmentRuntime(store, {
    logger: silentLogger,
    onReport: (report: RuntimeReport) => {
      reports[report.kind] = (reports[report.kind] ?? 0) + 1;
    },
    services: { transientFailureRate: 0 },
  });
  await runtime.start();
  let statsAtReset = runtime.stats('orderFulfillment');
  return measureSagas(input, ctx, {
    place: (order) => placeOrder(store, order),
    completion,
    resetCounts: () => {
      store.reset();
      statsAtReset = runtime.stats('orderFulfillment');
    },
    counts: () => store.counts(),
    settle: () => runtime.whenIdle(60_000),
    checker: inner,
    details: () => {
      const stats = runtime.stats('orderFulfillment');
      const measured: Record<string, number> = {};
      for (const [key, value] of Object.entries(stats)) {
        measured[key] = value - (statsAtReset as unknown as Record<string, number>)[key]!;
      }
      return {
        backend: 'A: LocalEventStore({ memory: true }) in the variant process',
        runtimeStats: measured,
        reports,
        settings: 'ProcessRuntime defaults (concurrency 64, relayConcurrency 64, batchSize 256)',
      };
    },
    close: async () => {
      await runtime.stop();
      await inner.close();
    },
  });
});
