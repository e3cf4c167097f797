// The sagastream variants of bench:saga: the order-fulfillment sample (process manager +
// simulated services) on ProcessRuntime, every store operation counted by a
// CountingEventStore; the variants differ only in the store underneath.
import { silentLogger } from '../../lib/runtime/logger';
import type { RuntimeReport } from '../../lib/runtime/runtime-events';
import type { EventStore } from '../../lib/store/event-store';
import { createOrderFulfillmentRuntime } from '../../samples/order-fulfillment/app';
import { placeOrder } from '../../samples/order-fulfillment/place-orders';
import type { ChildContext } from '../harness/child';
import { CountingEventStore } from './counting-event-store';
import { classifyStream, orderIdOfOrderStream, orderIdOfProcessStream } from './streams';
import { Completion, type SagaChildInput, TERMINAL_PROCESS_EVENTS, measureSagas } from './workload';

/**
 * `inner` with every operation counted, telling `completion` when an order is closed and when
 * a process stream ends, as the appends are acknowledged; `onProcessAppend` sees every append
 * to a process stream first (bench:latency times the first decision with it).
 */
export function completionCountingStore(
  inner: EventStore,
  completion: Completion,
  onProcessAppend?: (processId: string, events: readonly { readonly type: string }[]) => void,
): CountingEventStore {
  return new CountingEventStore(inner, {
    classify: classifyStream,
    onAppended: (stream, events) => {
      const orderId = orderIdOfOrderStream(stream);
      if (orderId !== undefined) {
        if (events.some((e) => e.type === 'OrderCompleted' || e.type === 'OrderCancelled'))
          completion.orderClosed(orderId);
        return;
      }
      const processId = orderIdOfProcessStream(stream);
      if (processId === undefined) return;
      onProcessAppend?.(processId, events);
      if (events.some((e) => TERMINAL_PROCESS_EVENTS.has(e.type))) completion.processFinished(processId);
    },
  });
}

/**
 * Runs the sample on `inner` (closed at the end), every operation counted, and measures it.
 *
 * @param backend what `inner` is, recorded in the result (omitted for back-end B, the default)
 */
export async function measureSample(
  input: SagaChildInput,
  ctx: ChildContext,
  inner: EventStore,
  backend?: string,
): ReturnType<typeof measureSagas> {
  const completion = new Completion();
  const store = completionCountingStore(inner, completion);
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
        ...(backend === undefined ? {} : { backend }),
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
}
