// Variant "sagastream": the restarted worker. The order-fulfillment sample (process manager
// and simulated services) on ProcessRuntime with EventStoreDbEventStore, started on what the
// crash left: it reads its checkpoints, catches up on the tail and finishes the in-flight sagas.
import { join } from 'node:path';
import { map } from 'rxjs';
import { silentLogger } from '../../lib/runtime/logger';
import { EventStoreDbEventStore } from '../../lib/store';
import type { SubscribeOptions, SubscriptionBatch, SubscriptionSource } from '../../lib/store/event-store';
import { createOrderFulfillmentRuntime } from '../../samples/order-fulfillment/app';
import { runAsChild } from '../harness/child';
import { heapSnapshot } from '../harness/heap-summary';
import { CountingEventStore } from '../saga/counting-event-store';
import { classifyStream } from '../saga/streams';
import {
  RestartWindow,
  type RecoveryChildInput,
  type RecoveryChildResult,
  collectGarbage,
  settledHeap,
  until,
} from './workload';

/**
 * Counts store operations (see CountingEventStore) and watches each subscription: a source is
 * caught up once the batch holding the crash's head has been acked, that is taken by the
 * runtime's queues (which ack only when they have room).
 */
class TailWatchingStore extends CountingEventStore {
  tailTaken = 0;
  sourcesPending: number;
  caughtUpAt = 0;
  /** When each source's crash head was taken (performance.now()), to tell which one the catch-up waits for. */
  readonly sourceCaughtUpAt: Record<string, number> = {};

  constructor(
    inner: EventStoreDbEventStore,
    private readonly heads: Readonly<Record<string, string>>,
    onAppended: (stream: string, types: readonly string[]) => void,
  ) {
    super(inner, {
      classify: classifyStream,
      onAppended: (stream, events) =>
        onAppended(
          stream,
          events.map((e) => e.type),
        ),
    });
    this.sourcesPending = Object.keys(heads).length;
  }

  override subscribe(source: SubscriptionSource, options?: SubscribeOptions) {
    const label = 'category' in source ? `$ce-${source.category}` : undefined;
    const headText = label === undefined ? undefined : this.heads[label];
    const head = headText === undefined ? undefined : BigInt(headText);
    let done = head === undefined || (typeof options?.from === 'bigint' && options.from >= head);
    if (done && head !== undefined) this.sourceDone(label ?? '');
    return super.subscribe(source, options).pipe(
      map((batch: SubscriptionBatch): SubscriptionBatch => {
        if (done || head === undefined) return batch;
        let events = 0;
        let reached = false;
        for (const item of batch.items) {
          if (item.kind !== 'event' && item.kind !== 'unresolved') continue;
          if (item.checkpoint > head) break;
          events++;
          if (item.checkpoint >= head) reached = true;
        }
        return {
          items: batch.items,
          ack: () => {
            if (!done) {
              this.tailTaken += events;
              if (reached) {
                done = true;
                this.sourceDone(label ?? '');
              }
            }
            batch.ack();
          },
        };
      }),
    );
  }

  private sourceDone(label: string): void {
    this.sourceCaughtUpAt[label] = performance.now();
    if (--this.sourcesPending === 0) this.caughtUpAt = performance.now();
  }
}

runAsChild(async (input: RecoveryChildInput, ctx): Promise<RecoveryChildResult> => {
  const open = new Set(input.crash.inFlightOrderIds);
  let closed = 0;
  const inner = new EventStoreDbEventStore(input.connectionString);
  const store = new TailWatchingStore(inner, input.crash.heads, (stream, types) => {
    if (
      stream.startsWith('order-') &&
      types.some((t) => t === 'OrderCompleted' || t === 'OrderCancelled') &&
      open.delete(stream.slice('order-'.length))
    )
      closed++;
  });
  const runtime = createOrderFulfillmentRuntime(store, {
    logger: silentLogger,
    services: { transientFailureRate: 0 },
    ...input.runtimeOptions,
  });
  let firstCommandAt = NaN;
  const execute = runtime.bus.execute.bind(runtime.bus);
  runtime.bus.execute = (command, envelope) => {
    if (Number.isNaN(firstCommandAt)) firstCommandAt = performance.now();
    return execute(command, envelope);
  };
  const heapBaselineBytes = settledHeap();
  const window = new RestartWindow(ctx, input);
  await window.start();
  // Connected: the first call answered (as in the floor).
  await inner.getStreamMetadata('sagastreamCheckpoint-orderFulfillment.relay');
  const connectedAt = performance.now();
  await runtime.start();
  await until(
    () => store.sourcesPending === 0,
    () => store.tailTaken,
    input.stallMs,
  );
  const statsAtCatchUp = { ...runtime.stats('orderFulfillment') };
  await window.caughtUp();
  const catchUpMs = store.caughtUpAt - connectedAt;
  const heapAfterCatchUpBytes = settledHeap();
  // Opt-in evidence for heap investigations: a snapshot once the tail is taken.
  const snapshotDir = process.env.BENCH_HEAP_SNAPSHOT_DIR;
  const heapSnapshotFile = snapshotDir
    ? heapSnapshot(join(snapshotDir, `recovery-${input.crash.inFlight}-${Date.now()}.heapsnapshot`))
    : undefined;
  let lost = 0;
  if (input.untilRecovered) {
    try {
      await until(
        () => open.size === 0,
        () => closed,
        input.stallMs,
      );
    } catch {
      lost = open.size;
    }
  }
  const recoveredAt = performance.now();
  const finished = await window.finish();
  const counts = store.counts();
  const stats = runtime.stats('orderFulfillment');
  await runtime.stop();
  await inner.close();
  collectGarbage();
  return {
    variant: input.variant,
    tailEvents: store.tailTaken,
    catchUpMs,
    catchUpEventsPerSecond: (store.tailTaken * 1000) / catchUpMs,
    firstCommandMs: firstCommandAt - connectedAt,
    recoveredMs: input.untilRecovered ? recoveredAt - connectedAt : NaN,
    catchUp: window.catchUp!,
    restart: finished.restart,
    serverCatchUpCpuUs: finished.serverCatchUpCpuUs,
    serverRestartCpuUs: finished.serverRestartCpuUs,
    serverPeakRssBytes: finished.serverPeakRssBytes,
    heapBaselineBytes,
    heapAfterCatchUpBytes,
    closed,
    lost,
    details: {
      counts,
      runtimeStats: stats,
      runtimeStatsAtCatchUp: statsAtCatchUp,
      sourceCaughtUpMs: Object.fromEntries(
        Object.entries(store.sourceCaughtUpAt).map(([label, at]) => [label, Math.round(at - connectedAt)]),
      ),
      settings:
        'ProcessRuntime defaults (concurrency 64, relayConcurrency 64 and 1 while the relay catches up, relayBacklog 16384, batchSize 256, cacheSize 100000)',
      ...(finished.profileFile === undefined ? {} : { profileFile: finished.profileFile }),
      ...(heapSnapshotFile === undefined ? {} : { heapSnapshotFile }),
    },
  };
});
