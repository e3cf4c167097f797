// Variant "restate" (durable peer): the order saga on Restate through bench/saga/restate-peer.ts
// (restate-server from npm in its own process, RocksDB with its WAL fsynced, the saga served by
// the SDK's HTTP/2 endpoint in this process). An order is placed by calling the saga through
// the ingress; the call returns after the saga's last step (order closed, compensations done),
// which is when its latency ends. The server's CPU is restate-server's, read from /proc.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PlacedOrderData } from '../../samples/order-fulfillment/place-orders';
import { runAsChild } from '../harness/child';
import type { CpuSnapshot } from '../harness/process-meter';
import { Completion } from '../saga/workload';
import { type LatencyChildInput, measureLatency } from './workload';

/** What this variant uses of restate-peer.ts's `RestatePeer`. */
interface Peer {
  readonly ingressUrl: string;
  readonly pid: number;
  runSaga(order: PlacedOrderData): Promise<string>;
  serverSample(): CpuSnapshot;
  close(): Promise<void>;
}

/** The peer module's path: loaded at run time, so this suite builds without it (bench:latency lists it only when present). */
export const RESTATE_PEER = join(__dirname, '..', 'saga', 'restate-peer.ts');

runAsChild(async (input: LatencyChildInput, ctx) => {
  const { start } = (await import(RESTATE_PEER)) as {
    start(options: { baseDir: string }): Promise<Peer>;
  };
  const baseDir = mkdtempSync(join(tmpdir(), 'sagastream-bench-latency-restate-'));
  const completion = new Completion();
  const outcomes: Record<string, number> = {};
  try {
    const peer = await start({ baseDir });
    try {
      return await measureLatency(input, ctx, {
        place: async (order) => {
          const outcome = await peer.runSaga(order);
          outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
          completion.orderClosed(order.orderId);
          completion.processFinished(order.orderId);
        },
        completion,
        settle: () => Promise.resolve(),
        serverSample: () => Promise.resolve(peer.serverSample()),
        details: () => ({
          backend:
            'Restate server (own process, default config: RocksDB, WAL fsynced) + SDK HTTP/2 endpoint in the variant process',
          ingressUrl: peer.ingressUrl,
          serverPid: peer.pid,
          outcomes,
        }),
        close: () => Promise.resolve(),
      });
    } finally {
      await peer.close();
    }
  } finally {
    rmSync(baseDir, { recursive: true, force: true });
  }
});
