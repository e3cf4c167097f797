// Variant "restate": the order saga on Restate (restate-server from npm, durable: RocksDB
// with its WAL fsynced, as shipped), started by this process with restate-peer.ts. Sagas
// are submitted through the ingress with the same in-flight sizes as the other variants;
// the server's CPU is restate-server's, read from /proc.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAsChild } from '../harness/child';
import { readBackStore } from './read-back-store';
import { type RestateSagaOutcome, start } from './restate-peer';
import { Completion, type SagaChildInput, measureSagas } from './workload';

runAsChild(async (input: SagaChildInput, ctx) => {
  const baseDir = mkdtempSync(join(tmpdir(), 'sagastream-bench-restate-'));
  const peer = await start({ baseDir });
  const completion = new Completion();
  const outcomes: Record<string, number> = {};
  let calls = 0;
  try {
    return await measureSagas(input, ctx, {
      place: async (order) => {
        calls++;
        const outcome: RestateSagaOutcome = await peer.runSaga(order);
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        // The saga's response comes after its last step: the order is closed and the
        // compensations are done.
        completion.orderClosed(order.orderId);
        completion.processFinished(order.orderId);
      },
      completion,
      resetCounts: () => {
        calls = 0;
      },
      counts: () => ({ ingressCalls: calls }),
      settle: () => Promise.resolve(),
      checker: readBackStore((stream) => peer.readStream(stream)),
      serverSample: () => Promise.resolve(peer.serverSample()),
      details: () => ({
        backend:
          'Restate 1.7.12 server (own process, default config: RocksDB, WAL fsynced) + SDK 1.17.2 HTTP/2 endpoint in the variant process',
        ingressUrl: peer.ingressUrl,
        serverPid: peer.pid,
        outcomes,
        settings:
          'service orderFulfillment.run calls virtual objects order/payment/inventory/shipment (state: events); ingress call with idempotencyKey = orderId',
      }),
      close: () => Promise.resolve(),
    });
  } finally {
    await peer.close();
    rmSync(baseDir, { recursive: true, force: true });
  }
});
