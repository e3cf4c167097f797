import { expect } from 'chai';
import { v4 as uuid } from 'uuid';
import { ProcessEventTypes as P } from '../../lib/process/process-events';
import { silentLogger } from '../../lib/runtime/logger';
import { ProcessRuntime } from '../../lib/runtime/process-runtime';
import type { EventStore, ReadOptions } from '../../lib/store/event-store';
import { LocalEventStore } from '../../lib/store/local/local-event-store';
import { createWorkflow } from '../../lib/workflow/create-workflow';
import { until } from '../helpers/until';

/** The store with every readStream counted by stream. */
function countingReads(store: EventStore): { store: EventStore; reads: Map<string, number> } {
  const reads = new Map<string, number>();
  const counted = Object.create(store) as EventStore;
  counted.readStream = (stream: string, options?: ReadOptions) => {
    reads.set(stream, (reads.get(stream) ?? 0) + 1);
    return store.readStream(stream, options);
  };
  return { store: counted, reads };
}

describe('WorkflowHost run-state cache', () => {
  let store: LocalEventStore;
  const runtimes: ProcessRuntime[] = [];
  // Waits for three payments, one at a time: four passes, three inputs.
  const collect = createWorkflow(
    { id: 'collect', triggers: [{ event: 'Invoiced' }], awaits: ['Paid'] },
    async ({ step }) => {
      for (const n of [1, 2, 3]) {
        await step.waitForEvent(`payment-${n}`, { event: 'Paid' });
        await step.run(`receipt-${n}`, () => n);
      }
    },
  );
  const runtimeOn = (on: EventStore, cacheSize?: number) => {
    const runtime = new ProcessRuntime({
      store: on,
      logger: silentLogger,
      checkpointIntervalMs: 20,
      ...(cacheSize === undefined ? {} : { cacheSize }),
    }).register(collect);
    runtimes.push(runtime);
    return runtime;
  };
  const invoice = async (id: string) => {
    const runId = uuid();
    await store.append(`invoice-${id}`, [{ id: runId, type: 'Invoiced', data: {} }]);
    return runId;
  };
  const pay = (id: string) => store.append(`invoice-${id}`, [{ id: uuid(), type: 'Paid', data: {} }]);
  const completed = async (runId: string) =>
    (await store.readStream(`collect-${runId}`)).some((e) => e.type === P.ProcessCompleted);

  beforeEach(async () => {
    store = await LocalEventStore.open({ memory: true });
  });
  afterEach(async () => {
    for (const runtime of runtimes.splice(0)) await runtime.stop();
    await store.close();
  });

  describe('when a running workflow receives event after event', () => {
    it('reads its run stream once instead of replaying it on every event', async () => {
      const counted = countingReads(store);
      const runtime = runtimeOn(counted.store);
      await runtime.start();
      const runId = await invoice('a');
      for (let n = 0; n < 3; n++) {
        await pay('a');
        await runtime.whenIdle();
      }
      await until(() => completed(runId), 5000, 'the run completed');
      expect(counted.reads.get(`collect-${runId}`)).to.equal(1);
    });
  });

  describe('when the cache holds fewer runs than are running', () => {
    it('replays evicted runs and still records every step once', async () => {
      const counted = countingReads(store);
      const runtime = runtimeOn(counted.store, 1);
      await runtime.start();
      const runs = [await invoice('x'), await invoice('y')];
      for (let n = 0; n < 3; n++) {
        await pay('x');
        await pay('y');
        await runtime.whenIdle();
      }
      for (const runId of runs) {
        await until(() => completed(runId), 5000, `run ${runId} completed`);
        const types = (await store.readStream(`collect-${runId}`)).map((e) => e.type);
        expect(types.filter((t) => t === 'sagastream.StepCompleted')).to.have.length(6);
        expect(counted.reads.get(`collect-${runId}`)).to.be.greaterThan(1);
      }
    });
  });

  describe('when another worker moves a cached run on', () => {
    it('notices the conflict, replays, and neither forks the run nor loses an input', async () => {
      const first = runtimeOn(store);
      const second = runtimeOn(store);
      await first.start();
      const runId = await invoice('z');
      await first.whenIdle();
      // Both workers now have the run cached at different times; each payment reaches both.
      await second.start();
      for (let n = 0; n < 3; n++) {
        await pay('z');
        await Promise.all([first.whenIdle(), second.whenIdle()]);
      }
      await until(() => completed(runId), 5000, 'the run completed');
      const types = (await store.readStream(`collect-${runId}`)).map((e) => e.type);
      expect(types.filter((t) => t === 'sagastream.StepCompleted')).to.have.length(6);
      expect(types.filter((t) => t === P.InputRecorded)).to.have.length(4);
      expect(types.filter((t) => t === P.ProcessCompleted)).to.have.length(1);
    });
  });
});
