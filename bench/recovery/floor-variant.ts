// Variant "floor": a raw catch-up read with @eventstore/db-client. Reads the same stored
// checkpoints the worker reads, subscribes to the same `$ce-` streams from them (links
// resolved, JSON parsed by the client) and counts events until each reaches the head the
// crash left. No decoding into classes, no routing, no handling: the least a restart must do.
import { EventStoreDBClient, type ResolvedEvent } from '@eventstore/db-client';
import { checkpointStream } from '../../lib/store/checkpoint-streams';
import { runAsChild } from '../harness/child';
import { INPUT_CATEGORIES, PROCESS } from './history';
import {
  RestartWindow,
  type RecoveryChildInput,
  type RecoveryChildResult,
  collectGarbage,
  settledHeap,
  until,
} from './workload';

const SOURCES = [...INPUT_CATEGORIES.map((c) => [c, `${PROCESS}.input.${c}`]), [PROCESS, `${PROCESS}.relay`]];

runAsChild(async (input: RecoveryChildInput, ctx): Promise<RecoveryChildResult> => {
  const client = EventStoreDBClient.connectionString(input.connectionString);
  const heapBaselineBytes = settledHeap();
  const window = new RestartWindow(ctx, input);
  await window.start();
  // Connected: the first call answered (the worker's first call reads its checkpoints too).
  await client.getStreamMetadata(checkpointStream(`${PROCESS}.relay`));
  const connectedAt = performance.now();
  let received = 0;
  let pending = SOURCES.length;
  let caughtUpAt = 0;
  const subscriptions = await Promise.all(
    SOURCES.map(async ([category, checkpointName]) => {
      let from: bigint | 'start' = 'start';
      for await (const e of client.readStream(checkpointStream(checkpointName as string), {
        direction: 'backwards',
        fromRevision: 'end',
        maxCount: 1,
      })) {
        const data = e.event?.data as { checkpoint?: string } | undefined;
        if (data?.checkpoint !== undefined) from = BigInt(data.checkpoint);
      }
      const head = BigInt(input.crash.heads[`$ce-${category}`] as string);
      const subscription = client.subscribeToStream(`$ce-${category}`, {
        fromRevision: from,
        resolveLinkTos: true,
      });
      let done = from !== 'start' && from >= head;
      if (done && --pending === 0) caughtUpAt = performance.now();
      subscription.on('data', (resolved: ResolvedEvent) => {
        if (done) return;
        received++;
        const revision = resolved.link?.revision ?? resolved.event?.revision ?? -1n;
        if (revision >= head) {
          done = true;
          if (--pending === 0) caughtUpAt = performance.now();
        }
      });
      subscription.on('error', () => undefined);
      return subscription;
    }),
  );
  await until(
    () => pending === 0,
    () => received,
    input.stallMs,
  );
  await window.caughtUp();
  const heapAfterCatchUpBytes = settledHeap();
  const finished = await window.finish();
  await Promise.all(subscriptions.map((s) => s.unsubscribe()));
  await client.dispose();
  collectGarbage();
  const catchUpMs = caughtUpAt - connectedAt;
  return {
    variant: input.variant,
    tailEvents: received,
    catchUpMs,
    catchUpEventsPerSecond: (received * 1000) / catchUpMs,
    firstCommandMs: NaN,
    recoveredMs: NaN,
    catchUp: window.catchUp!,
    restart: finished.restart,
    serverCatchUpCpuUs: finished.serverCatchUpCpuUs,
    serverRestartCpuUs: finished.serverRestartCpuUs,
    serverPeakRssBytes: finished.serverPeakRssBytes,
    heapBaselineBytes,
    heapAfterCatchUpBytes,
    closed: 0,
    lost: 0,
    details: {
      what: 'subscribeToStream($ce-<category>, { fromRevision: checkpoint, resolveLinkTos: true }) x5, counting',
      ...(finished.profileFile === undefined ? {} : { profileFile: finished.profileFile }),
    },
  };
});
