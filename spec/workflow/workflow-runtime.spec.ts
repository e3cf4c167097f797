import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { v4 as uuid } from 'uuid';
import { NonRetryableError } from '../../lib/errors';
import { ProcessEventTypes as P } from '../../lib/process/process-events';
import { ManualClock } from '../../lib/runtime/clock';
import { silentLogger } from '../../lib/runtime/logger';
import type { EventStore } from '../../lib/store/event-store';
import { LocalEventStore } from '../../lib/store/local/local-event-store';
import { createWorkflow } from '../../lib/workflow/create-workflow';
import { StepEventTypes as S } from '../../lib/workflow/step-events';
import { WorkflowRuntime, type WorkflowRuntimeOptions } from '../../lib/workflow/workflow-runtime';
import { until } from '../helpers/until';

const typesOf = async (store: EventStore, stream: string) =>
  (await store.readStream(stream)).map((e) => e.type);

describe('WorkflowRuntime', () => {
  let store: LocalEventStore;
  let clock: ManualClock;
  const runtimes: WorkflowRuntime[] = [];
  const dirs: string[] = [];

  const newRuntime = (options: Partial<WorkflowRuntimeOptions> = {}) => {
    const runtime = new WorkflowRuntime({
      store,
      clock,
      logger: silentLogger,
      retry: { maxAttempts: 3, backoff: { initialDelayMs: 100, maxDelayMs: 100, random: () => 1 } },
      checkpointIntervalMs: 20,
      ...options,
    });
    runtimes.push(runtime);
    return runtime;
  };

  beforeEach(async () => {
    store = await LocalEventStore.open({ memory: true });
    clock = new ManualClock(Date.parse('2030-01-01T00:00:00Z'));
  });
  afterEach(async () => {
    for (const runtime of runtimes.splice(0)) await runtime.stop();
    await store.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  describe('when a two-step workflow fails in its second step', () => {
    it('runs the first step once, then its compensation, and ends compensated', async () => {
      const calls: string[] = [];
      const workflow = createWorkflow<{ total: number }>(
        { id: 'pay', triggers: [{ event: 'OrderPlaced' }] },
        async ({ event, step }) => {
          const charge = await step.run('charge', () => {
            calls.push('charge');
            return { id: `ch-${event.data.total}` };
          });
          step.compensate('charge', () => calls.push(`refund ${charge.id}`));
          await step.run('ship', () => {
            calls.push('ship');
            throw new NonRetryableError('no carrier');
          });
        },
      );
      const runtime = newRuntime().register(workflow);
      await runtime.start();
      const id = uuid();
      await store.append('order-1', [{ id, type: 'OrderPlaced', data: { total: 5 } }]);
      await until(
        async () => (await typesOf(store, `pay-${id}`)).includes(P.ProcessCompensated),
        5000,
        'compensated',
      );
      expect(calls).to.deep.equal(['charge', 'ship', 'refund ch-5']);
      expect(await typesOf(store, `pay-${id}`)).to.deep.equal([
        P.ProcessStarted,
        P.InputRecorded,
        S.StepCompleted,
        P.CompensationRegistered,
        S.StepAttemptFailed,
        S.StepFailed,
        P.ProcessFailed,
        P.CompensationScheduled,
        P.CompensationCompleted,
        P.ProcessCompensated,
      ]);
    });
  });

  describe('when the runtime restarts on a durable store during a sleep', () => {
    it('resumes the run from its stream without re-running its first step', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'wf-'));
      dirs.push(dir);
      await store.close();
      store = await LocalEventStore.open({ dir });
      const calls: string[] = [];
      const workflow = createWorkflow({ id: 'nap', triggers: [{ event: 'Tired' }] }, async ({ step }) => {
        await step.run('yawn', () => calls.push('yawn'));
        await step.sleep('nap', 60_000);
        await step.run('wake', () => calls.push('wake'));
      });
      const first = newRuntime().register(workflow);
      await first.start();
      const id = uuid();
      await store.append('person-1', [{ id, type: 'Tired', data: {} }]);
      await until(
        async () => (await typesOf(store, `nap-${id}`)).includes(P.TimeoutScheduled),
        5000,
        'asleep',
      );
      await first.stop();
      runtimes.splice(runtimes.indexOf(first), 1);
      await store.close();

      store = await LocalEventStore.open({ dir });
      const second = newRuntime().register(workflow);
      await second.start();
      await second.whenIdle();
      clock.advance(60_000);
      await until(
        async () => (await typesOf(store, `nap-${id}`)).includes(P.ProcessCompleted),
        5000,
        'completed',
      );
      expect(calls).to.deep.equal(['yawn', 'wake']);
    });
  });
});
