// Variant "sagastream": the meter process on ProcessRuntime (defaults) over LocalEventStore in
// memory (back-end A). Inputs are appended to `meter-<id>` and reach the runtime through its
// `$ce-meter` subscription, as in production.
import { silentLogger } from '../../lib/runtime/logger';
import { ProcessRuntime } from '../../lib/runtime/process-runtime';
import { LocalEventStore } from '../../lib/store/local/local-event-store';
import { runAsChild } from '../harness/child';
import { CountingEventStore } from '../saga/counting-event-store';
import {
  METER_CATEGORY,
  MeterClosed,
  MeterOpened,
  MeterWatch,
  ReadingTaken,
  meterRegistry,
} from './meter-process';
import { runScale } from './scale-run';
import { inputEvent } from './store-variant';
import { type ScaleChildInput, settledHeap } from './workload';

runAsChild(async (input: ScaleChildInput, ctx) => {
  const local = await LocalEventStore.open({ memory: true });
  const store = new CountingEventStore(local);
  const registry = meterRegistry();
  const beforeRuntime = settledHeap();
  let runtime: ProcessRuntime | undefined = new ProcessRuntime({
    store,
    registry,
    logger: silentLogger,
  }).register(MeterWatch, {
    categories: [METER_CATEGORY],
  });
  await runtime.start();
  const stats = () => runtime?.stats('meterWatch');
  // What an idle runtime holds (subscriptions, queues, trackers): subtracted from what it
  // holds after every instance completed.
  const runtimeFixedHeapBytes = settledHeap() - beforeRuntime;
  const append = async (id: string, message: object) => {
    await store.append(`${METER_CATEGORY}-${id}`, [inputEvent(registry, message)]);
  };
  const appended = () =>
    Object.entries(store.counts())
      .filter(([key]) => key.startsWith('appendEvents:'))
      .reduce((n, [, v]) => n + v, 0);
  const result = await runScale(input, ctx, {
    open: (id) => append(id, new MeterOpened(id)),
    read: (id, value) => append(id, new ReadingTaken(id, value)),
    close: (id) => append(id, new MeterClosed(id)),
    handled: () => stats()?.handled ?? 0,
    idle: () => runtime?.whenIdle(600_000) ?? Promise.resolve(),
    appended,
    details: () => ({
      runtimeStats: stats(),
      runtimeFixedHeapBytes,
      counts: store.counts(),
      settings:
        'ProcessRuntime defaults (concurrency 64, batchSize 256, cacheSize 10000); LocalEventStore memory',
    }),
    release: async () => {
      await runtime?.stop();
      runtime = undefined;
    },
  });
  await local.close();
  return result;
});
