// `npm start`: the order-fulfillment sample end to end on the embedded store, with a
// worker killed by SIGKILL half-way through and restarted. Exits 0 when every order has
// exactly the outcome the contract promises, 1 otherwise.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { startEventStore } from '../lib/server';
import { EventStoreDbEventStore } from '../lib/store/eventstoredb/eventstoredb-event-store';
import { formatOutcomeTable, readOutcomes, waitUntilSettled } from './order-fulfillment/outcome';
import { generateOrders, placeOrders } from './order-fulfillment/place-orders';
import { startWorkerProcess } from './order-fulfillment/worker-process';

const ORDERS = Number(process.env.DEMO_ORDERS ?? 300);
// A little transient failure makes the retries visible in the numbers; override with the env var.
const FAILURE_RATE = process.env.SAMPLE_TRANSIENT_FAILURE_RATE ?? '0.05';

async function main(): Promise<number> {
  const started = Date.now();
  const dbPath = fs.mkdtempSync(path.join(os.tmpdir(), 'sagastream-demo-'));
  const server = await startEventStore({ port: 0, dbPath });
  const store = new EventStoreDbEventStore(server.connectionString);
  console.log(`embedded EventStoreDB-compatible server at ${server.connectionString} (durable, ${dbPath})`);
  try {
    const env = { SAMPLE_TRANSIENT_FAILURE_RATE: FAILURE_RATE };
    let worker = await startWorkerProcess(server.connectionString, env);
    console.log(`worker started (pid ${worker.child.pid}); transient failure rate ${FAILURE_RATE}`);

    const orders = generateOrders(ORDERS, { seed: Date.now() % 100_000 });
    const bar = new SingleBar(
      { format: '  {task} [{bar}] {value}/{total}', hideCursor: true },
      Presets.shades_classic,
    );
    bar.start(ORDERS, 0, { task: 'placing orders ' });
    const half = Math.floor(ORDERS / 2);
    await placeOrders(store, orders.slice(0, half), (n) => bar.update(n));
    worker.child.kill('SIGKILL');
    await worker.exited;
    bar.stop();
    console.log(`  worker killed with SIGKILL after ${half} orders, mid-flight; restarting it`);
    worker = await startWorkerProcess(server.connectionString, env);
    bar.start(ORDERS, half, { task: 'placing orders ' });
    await placeOrders(store, orders.slice(half), (n) => bar.update(half + n));
    bar.stop();

    bar.start(ORDERS, 0, { task: 'orders settled ' });
    await waitUntilSettled(
      store,
      orders.map((o) => o.orderId),
      { timeoutMs: 180_000, onProgress: (n) => bar.update(n) },
    );
    bar.stop();

    worker.child.kill('SIGTERM');
    await worker.exited;
    const { summary } = await readOutcomes(
      store,
      orders.map((o) => o.orderId),
    );
    console.log('\noutcomes:');
    console.log(formatOutcomeTable(summary));
    for (const violation of summary.violations.slice(0, 20)) console.log(`  VIOLATION ${violation}`);
    console.log(
      `\n${ORDERS} orders in ${((Date.now() - started) / 1000).toFixed(1)} s, one SIGKILL included`,
    );
    return summary.violations.length === 0 && summary.duplicates === 0 ? 0 : 1;
  } finally {
    await store.close();
    await server.close();
    fs.rmSync(dbPath, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('demo failed:', error);
    process.exit(1);
  },
);
