import * as path from 'node:path';
import { expect } from 'chai';
import { v4 as uuid } from 'uuid';
import type { CrashPoint } from '../../lib/runtime/crash-point';
import { EventStoreDbEventStore } from '../../lib/store/eventstoredb/eventstoredb-event-store';
import { readOutcomes, waitUntilSettled } from '../../samples/order-fulfillment/outcome';
import { generateOrders, placeOrders } from '../../samples/order-fulfillment/place-orders';
import { type WorkerProcess, startWorkerProcess } from '../../samples/order-fulfillment/worker-process';
import { type Embedded, startEmbedded } from '../helpers/embedded';
import { until } from '../helpers/until';

// Each test starts the sample worker as a child process with SAGASTREAM_CRASH_AT set: the
// worker kills itself with a real SIGKILL the N-th time it reaches that point. A fresh
// worker then recovers from the store alone, and the streams must show every effect once.

describe('crash recovery', function () {
  this.timeout(120_000);
  let server: Embedded;
  let store: EventStoreDbEventStore;
  let worker: WorkerProcess | undefined;

  beforeEach(async () => {
    server = await startEmbedded();
    store = new EventStoreDbEventStore(server.connectionString);
  });
  afterEach(async () => {
    if (worker && worker.child.exitCode === null && worker.child.signalCode === null) {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
    worker = undefined;
    await store.close();
    await server.close();
  });

  const windows: [CrashPoint, string][] = [
    ['after-append', 'after the process append, before the checkpoint'],
    ['after-command-scheduled', 'after CommandScheduled, before delivery'],
    ['during-delivery', 'during delivery (the handler ran, its completion is not recorded)'],
    ['during-compensation', 'in the middle of compensation'],
  ];

  for (const [point, window] of windows) {
    describe(`when the worker is killed ${window}`, () => {
      it('recovers on restart with every effect exactly once', async () => {
        const orders = generateOrders(24, { seed: 11, failureShare: 0.6 });
        const ids = orders.map((o) => o.orderId);
        worker = await startWorkerProcess(server.connectionString, {
          SAGASTREAM_CRASH_AT: point,
          SAGASTREAM_CRASH_AFTER: '3',
        });
        const crashed = worker.exited;
        await placeOrders(store, orders);
        expect(await crashed).to.equal('SIGKILL');

        worker = await startWorkerProcess(server.connectionString);
        await waitUntilSettled(store, ids, { timeoutMs: 60_000 });
        const { summary } = await readOutcomes(store, ids);
        expect(summary.violations).to.deep.equal([]);
        expect(summary.duplicates).to.equal(0);
        expect(summary.orders).to.equal(24);
      });
    });
  }

  describe('when the worker is killed while a timer fires', () => {
    it('fires it exactly once after the restart', async () => {
      const script = path.join(__dirname, 'fixtures', 'reminder-worker.ts');
      worker = await startWorkerProcess(
        server.connectionString,
        { SAGASTREAM_CRASH_AT: 'while-timer-fires' },
        30_000,
        script,
      );
      const crashed = worker.exited;
      const ids = ['t1', 't2', 't3'];
      for (const id of ids) {
        await store.append(`request-${id}`, [
          { id: uuid(), type: 'ReminderRequested', data: { id, delayMs: 300 } },
        ]);
      }
      expect(await crashed).to.equal('SIGKILL');

      worker = await startWorkerProcess(server.connectionString, {}, 30_000, script);
      const sent = async (id: string) => (await store.readStream(`reminderSent-${id}`)).length;
      await until(
        async () => (await Promise.all(ids.map(sent))).every((n) => n === 1),
        30_000,
        'every reminder sent',
      );
      for (const id of ids) {
        const fired = (await store.readStream(`reminder-${id}`)).filter(
          (e) => e.type === 'sagastream.TimeoutFired',
        );
        expect(fired, id).to.have.length(1);
        expect(await sent(id), id).to.equal(1);
      }
    });
  });
});
