import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { v4 as uuid } from 'uuid';
import { NonRetryableError } from '../../lib/errors';
import { ProcessEventTypes as P } from '../../lib/process/process-events';
import { ManualClock } from '../../lib/runtime/clock';
import { silentLogger } from '../../lib/runtime/logger';
import type { AppendOptions, EventStore, EventToAppend } from '../../lib/store/event-store';
import { LocalEventStore } from '../../lib/store/local/local-event-store';
import { createWorkflow } from '../../lib/workflow/create-workflow';
import { leaseStream } from '../../lib/workflow/concurrency-lease';
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
  describe('when two runtimes share a store and see the runs of one concurrency key in different orders', () => {
    // Runtime A records the start of run 2 before that of run 1 (its start jobs run in
    // parallel); runtime B, started then, recovers run 2 alone and drives it; A, in trigger
    // order, would drive run 1 at the same time without the key's lease in the store.
    it('never runs two runs of the key at once, across the two runtimes', async () => {
      const active = new Set<number>();
      const log: string[] = [];
      let most = 0;
      const workflow = createWorkflow<{ customer: string; n: number }>(
        { id: 'serial', triggers: [{ event: 'Go' }], concurrencyKey: (e) => e.data.customer },
        async ({ event, step }) => {
          const n = event.data.n;
          await step.run('begin', () => {
            active.add(n);
            most = Math.max(most, active.size);
            if (!log.includes(`begin ${n}`)) log.push(`begin ${n}`);
          });
          await step.sleep('work', 1000);
          await step.run('end', () => {
            active.delete(n);
            if (!log.includes(`end ${n}`)) log.push(`end ${n}`);
          });
        },
      );
      const first = uuid();
      const second = uuid();
      let unblock!: () => void;
      const blocked = new Promise<void>((resolve) => (unblock = resolve));
      let holding!: () => void;
      const held = new Promise<void>((resolve) => (holding = resolve));
      // A's view of the store: the start of run 1 waits until the test lets it through.
      const slowStart = {
        readStream: (...args: Parameters<EventStore['readStream']>) => store.readStream(...args),
        readAll: (...args: Parameters<EventStore['readAll']>) => store.readAll(...args),
        subscribe: (...args: Parameters<EventStore['subscribe']>) => store.subscribe(...args),
        readCheckpoint: (name: string) => store.readCheckpoint(name),
        writeCheckpoint: (name: string, checkpoint: bigint) => store.writeCheckpoint(name, checkpoint),
        append: async (stream: string, events: readonly EventToAppend[], options?: AppendOptions) => {
          if (stream === `serial-${first}` && options?.expectedRevision === 'no_stream') {
            holding();
            await blocked;
          }
          return store.append(stream, events, options);
        },
      } as EventStore;

      const a = newRuntime({ store: slowStart }).register(workflow);
      await a.start();
      await store.append('go-1', [{ id: first, type: 'Go', data: { customer: 'c1', n: 1 } }]);
      await store.append('go-2', [{ id: second, type: 'Go', data: { customer: 'c1', n: 2 } }]);
      await held;
      await until(
        async () => (await typesOf(store, `serial-${second}`)).includes(P.ProcessStarted),
        5000,
        'run 2 started by A',
      );

      const b = newRuntime().register(workflow);
      await b.start();
      await until(() => log.includes('begin 2'), 5000, 'B drives run 2');
      await b.whenIdle();

      unblock();
      await a.whenIdle();
      await b.whenIdle();
      expect(log).to.deep.equal(['begin 2']);
      expect(a.reports.some((r) => r.runId === first && r.kind === 'queued')).to.equal(true);

      clock.advance(1000);
      await until(() => log.includes('begin 1'), 5000, 'run 1 after run 2');
      await a.whenIdle();
      await b.whenIdle();
      clock.advance(1000);
      await until(
        async () => (await typesOf(store, `serial-${first}`)).includes(P.ProcessCompleted),
        5000,
        'run 1 completed',
      );
      expect(log).to.deep.equal(['begin 2', 'end 2', 'begin 1', 'end 1']);
      expect(most).to.equal(1);
      const lease = await typesOf(store, leaseStream('serial', 'c1'));
      expect(lease).to.deep.equal([
        S.ConcurrencyKeyAcquired,
        S.ConcurrencyKeyReleased,
        S.ConcurrencyKeyAcquired,
        S.ConcurrencyKeyReleased,
      ]);
    });
  });
  describe('when the key lease is held by a run that ended before its worker released it', () => {
    it('releases the key on behalf of that run and runs the next run of the key', async () => {
      const calls: string[] = [];
      const workflow = createWorkflow<{ customer: string }>(
        { id: 'serial', triggers: [{ event: 'Go' }], concurrencyKey: (e) => e.data.customer },
        async ({ step }) => {
          await step.run('work', () => calls.push('work'));
        },
      );
      const ended = uuid();
      await store.append(`serial-${ended}`, [
        { id: uuid(), type: P.ProcessStarted, data: { process: 'serial', processId: ended } },
        { id: uuid(), type: P.ProcessCompleted, data: {} },
      ]);
      await store.append(leaseStream('serial', 'c1'), [
        { id: uuid(), type: S.ConcurrencyKeyAcquired, data: { key: 'c1', runId: ended } },
      ]);
      const runtime = newRuntime().register(workflow);
      await runtime.start();
      const id = uuid();
      await store.append('go-1', [{ id, type: 'Go', data: { customer: 'c1' } }]);
      await until(
        async () => (await typesOf(store, `serial-${id}`)).includes(P.ProcessCompleted),
        5000,
        'the next run completed',
      );
      expect(calls).to.deep.equal(['work']);
      expect(
        (await store.readStream(leaseStream('serial', 'c1'))).map((e) => [
          e.type,
          (e.data as { runId: string }).runId,
        ]),
      ).to.deep.equal([
        [S.ConcurrencyKeyAcquired, ended],
        [S.ConcurrencyKeyReleased, ended],
        [S.ConcurrencyKeyAcquired, id],
        [S.ConcurrencyKeyReleased, id],
      ]);
    });
  });
});
