import { expect } from 'chai';
import { v4 as uuid } from 'uuid';
import { DuplicateStepError, NonDeterminismError, NonRetryableError } from '../../lib/errors';
import { ProcessEventTypes as P } from '../../lib/process/process-events';
import { ManualClock } from '../../lib/runtime/clock';
import { silentLogger } from '../../lib/runtime/logger';

import { LocalEventStore } from '../../lib/store/local/local-event-store';
import { type Workflow, createWorkflow } from '../../lib/workflow/create-workflow';
import type { WorkflowEvent } from '../../lib/workflow/run-state';
import { StepEventTypes as S } from '../../lib/workflow/step-events';
import { WorkflowRuntime, type WorkflowReport } from '../../lib/workflow/workflow-runtime';
import { until } from '../helpers/until';

const RETRY_DELAY = 100;

describe('Workflow steps', () => {
  let store: LocalEventStore;
  let clock: ManualClock;
  let runtime: WorkflowRuntime | undefined;
  let calls: string[];

  const start = async (...workflows: Workflow<never, unknown>[]) => {
    runtime = new WorkflowRuntime({
      store,
      clock,
      logger: silentLogger,
      retry: {
        maxAttempts: 3,
        backoff: { initialDelayMs: RETRY_DELAY, maxDelayMs: RETRY_DELAY, random: () => 1 },
      },
      checkpointIntervalMs: 20,
    }).register(...workflows);
    await runtime.start();
    return runtime;
  };
  const restart = async (...workflows: Workflow<never, unknown>[]) => {
    await runtime?.stop();
    return start(...workflows);
  };
  const emit = async (stream: string, type: string, data: Record<string, unknown> = {}) => {
    const id = uuid();
    await store.append(stream, [{ id, type, data }]);
    return id;
  };
  const events = (workflowId: string, runId: string) => store.readStream(`${workflowId}-${runId}`);
  const typesOf = async (workflowId: string, runId: string) =>
    (await events(workflowId, runId)).map((e) => e.type);
  const ended = (workflowId: string, runId: string, type: string = P.ProcessCompleted) =>
    until(
      async () => (await typesOf(workflowId, runId)).includes(type),
      5000,
      `${workflowId}-${runId} ${type}`,
    );
  /** Resolves once the run has reported `count` suspensions (so its wake-up timer is set). */
  const suspended = (runId: string, count = 1) =>
    until(
      () =>
        (runtime?.reports ?? []).filter((r) => r.runId === runId && r.kind === 'suspended').length >= count,
      5000,
      `suspension #${count} of ${runId}`,
    );

  beforeEach(async () => {
    store = await LocalEventStore.open({ memory: true });
    clock = new ManualClock(Date.parse('2030-01-01T00:00:00Z'));
    calls = [];
  });
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
    await store.close();
  });

  describe('step.run', () => {
    describe('when a step throws and then succeeds', () => {
      it('retries it after the backoff delay and records each failed attempt', async () => {
        let failures = 2;
        const wf = createWorkflow({ id: 'flaky', triggers: [{ event: 'Go' }] }, async ({ step }) => {
          const value = await step.run('call', ({ attempt }) => {
            calls.push(`attempt ${attempt}`);
            if (failures-- > 0) throw new Error('503');
            return 'ok';
          });
          await step.run('after', () => calls.push(`after ${value}`));
        });
        await start(wf);
        const runId = await emit('go-1', 'Go');
        await suspended(runId, 1);
        expect(calls).to.deep.equal(['attempt 1']);
        clock.advance(RETRY_DELAY - 1);
        await runtime?.whenIdle();
        expect(calls).to.deep.equal(['attempt 1']);
        clock.advance(1);
        await suspended(runId, 2);
        clock.advance(RETRY_DELAY);
        await ended('flaky', runId);
        expect(calls).to.deep.equal(['attempt 1', 'attempt 2', 'attempt 3', 'after ok']);
        const attempts = (await events('flaky', runId)).filter((e) => e.type === S.StepAttemptFailed);
        expect(attempts.map((e) => e.data)).to.deep.equal([
          {
            step: 'call',
            attempt: 1,
            error: { message: '503', name: 'Error' },
            retryAt: new Date(Date.parse('2030-01-01T00:00:00Z') + RETRY_DELAY).toISOString(),
          },
          {
            step: 'call',
            attempt: 2,
            error: { message: '503', name: 'Error' },
            retryAt: new Date(Date.parse('2030-01-01T00:00:00Z') + 2 * RETRY_DELAY).toISOString(),
          },
        ]);
      });
    });

    describe('when a step keeps failing', () => {
      it('fails the run after the last attempt and compensates the earlier steps in reverse order', async () => {
        const wf = createWorkflow({ id: 'doomed', triggers: [{ event: 'Go' }] }, async ({ step }) => {
          await step.run('a', () => calls.push('a'));
          step.compensate('a', () => calls.push('undo a'));
          await step.run('b', () => calls.push('b'));
          step.compensate('b', () => calls.push('undo b'));
          await step.run('c', () => {
            calls.push('c');
            throw new Error('c is down');
          });
          step.compensate('c', () => calls.push('undo c'));
        });
        await start(wf);
        const runId = await emit('go-1', 'Go');
        await suspended(runId, 1);
        clock.advance(RETRY_DELAY);
        await suspended(runId, 2);
        clock.advance(RETRY_DELAY);
        await ended('doomed', runId, P.ProcessCompensated);
        expect(calls).to.deep.equal(['a', 'b', 'c', 'c', 'c', 'undo b', 'undo a']);
        const failed = (await events('doomed', runId)).find((e) => e.type === S.StepFailed);
        expect(failed?.data).to.deep.equal({
          step: 'c',
          attempts: 3,
          error: { message: 'c is down', name: 'Error' },
        });
      });
    });

    describe('when a step throws a NonRetryableError', () => {
      it('fails the run at once, without another attempt', async () => {
        const wf = createWorkflow({ id: 'final', triggers: [{ event: 'Go' }] }, async ({ step }) => {
          await step.run('a', () => calls.push('a'));
          step.compensate('a', () => calls.push('undo a'));
          await step.run('b', () => {
            calls.push('b');
            throw new NonRetryableError('card stolen');
          });
        });
        await start(wf);
        const runId = await emit('go-1', 'Go');
        await ended('final', runId, P.ProcessCompensated);
        expect(calls).to.deep.equal(['a', 'b', 'undo a']);
        const failed = (await events('final', runId)).find((e) => e.type === P.ProcessFailed);
        expect((failed?.data as { reason: string }).reason).to.contain('card stolen');
      });
    });

    describe('when the workflow catches a failed step', () => {
      it('goes on with its own fallback instead of compensating', async () => {
        const wf = createWorkflow({ id: 'fallback', triggers: [{ event: 'Go' }] }, async ({ step }) => {
          const primary = await step
            .run('primary', () => {
              throw new NonRetryableError('primary down');
            })
            .catch(() => undefined);
          if (primary === undefined) await step.run('secondary', () => calls.push('secondary'));
        });
        await start(wf);
        const runId = await emit('go-1', 'Go');
        await ended('fallback', runId);
        expect(calls).to.deep.equal(['secondary']);
      });
    });
  });

  describe('compensations', () => {
    describe('when a compensation keeps failing', () => {
      it('retries it, then records a terminal ProcessCompensationFailed and runs no older compensation', async () => {
        const wf = createWorkflow({ id: 'stuck', triggers: [{ event: 'Go' }] }, async ({ step }) => {
          await step.run('a', () => calls.push('a'));
          step.compensate('a', () => calls.push('undo a'));
          await step.run('b', () => calls.push('b'));
          step.compensate('b', ({ attempt }) => {
            calls.push(`undo b #${attempt}`);
            throw new Error('refund API down');
          });
          await step.run('c', () => {
            throw new NonRetryableError('no');
          });
        });
        await start(wf);
        const runId = await emit('go-1', 'Go');
        await suspended(runId, 1);
        clock.advance(RETRY_DELAY);
        await suspended(runId, 2);
        clock.advance(RETRY_DELAY);
        await ended('stuck', runId, P.ProcessCompensationFailed);
        expect(calls).to.deep.equal(['a', 'b', 'undo b #1', 'undo b #2', 'undo b #3']);
        const last = (await events('stuck', runId)).at(-1);
        expect(last?.data).to.deep.equal({ step: 'b', error: { message: 'refund API down', name: 'Error' } });
        expect(runtime?.reports.some((r) => r.runId === runId && r.kind === 'compensationFailed')).to.equal(
          true,
        );
      });
    });
  });

  describe('branches', () => {
    describe('when a run resumes after a restart', () => {
      it('takes the branch its recorded step result chose, whatever the step would return now', async () => {
        let score = 90;
        const wf = createWorkflow({ id: 'risk', triggers: [{ event: 'Go' }] }, async ({ step }) => {
          const risk = await step.run('score', () => ({ score }));
          await step.sleep('cool-off', 1000);
          if (risk.score > 80) await step.run('manual-review', () => calls.push('manual-review'));
          else await step.run('auto-approve', () => calls.push('auto-approve'));
        });
        await start(wf);
        const runId = await emit('go-1', 'Go');
        await suspended(runId);
        score = 10;
        await restart(wf);
        await runtime?.whenIdle();
        clock.advance(1000);
        await ended('risk', runId);
        expect(calls).to.deep.equal(['manual-review']);
      });
    });
  });

  describe('non-determinism', () => {
    describe('when the step order changes under a running workflow', () => {
      it('quarantines the run with a NonDeterminismError naming the expected and the actual step', async () => {
        const v1 = createWorkflow({ id: 'order', triggers: [{ event: 'Go' }] }, async ({ step }) => {
          await step.run('charge', () => calls.push('charge'));
          await step.sleep('wait', 1000);
          await step.run('ship', () => calls.push('ship'));
        });
        const v2 = createWorkflow({ id: 'order', triggers: [{ event: 'Go' }] }, async ({ step }) => {
          await step.run('reserve', () => calls.push('reserve'));
          await step.run('charge', () => calls.push('charge'));
          await step.sleep('wait', 1000);
          await step.run('ship', () => calls.push('ship'));
        });
        await start(v1);
        const runId = await emit('go-1', 'Go');
        await suspended(runId);
        await restart(v2);
        await until(
          () => runtime?.reports.find((r) => r.runId === runId && r.kind === 'quarantined'),
          5000,
          'quarantine',
        );
        const report = runtime?.reports.find((r) => r.kind === 'quarantined') as WorkflowReport;
        expect(report.error).to.be.instanceOf(NonDeterminismError);
        expect(report.error).to.include({ expectedStep: 'charge', actualStep: 'reserve', position: 0 });
        expect(calls).to.deep.equal(['charge']);
        const last = (await events('order', runId)).at(-1);
        expect(last?.type).to.equal(P.ProcessQuarantined);
        expect(last?.data).to.deep.include({ eventId: runId });
        clock.advance(1000);
        await runtime?.whenIdle();
        expect(calls).to.deep.equal(['charge']);
      });

      it('drives the run on once it is released under the original code', async () => {
        const v1 = createWorkflow({ id: 'order', triggers: [{ event: 'Go' }] }, async ({ step }) => {
          await step.run('charge', () => calls.push('charge'));
          await step.sleep('wait', 1000);
          await step.run('ship', () => calls.push('ship'));
        });
        const v2 = createWorkflow({ id: 'order', triggers: [{ event: 'Go' }] }, async ({ step }) => {
          await step.run('ship', () => calls.push('ship too early'));
        });
        await start(v1);
        const runId = await emit('go-1', 'Go');
        await suspended(runId);
        await restart(v2);
        await until(() => runtime?.reports.find((r) => r.kind === 'quarantined'), 5000, 'quarantine');
        await restart(v1);
        await runtime?.release('order', runId);
        await runtime?.whenIdle();
        clock.advance(1000);
        await ended('order', runId);
        expect(calls).to.deep.equal(['charge', 'ship']);
      });
    });
  });

  describe('non-determinism of compensations', () => {
    const quarantined = (runId: string) =>
      until(
        () => runtime?.reports.find((r) => r.runId === runId && r.kind === 'quarantined'),
        5000,
        `quarantine of ${runId}`,
      );

    describe('when a compensation is renamed under a running workflow', () => {
      it('quarantines the run before its next step, naming the recorded and the new compensation', async () => {
        const version = (undo: string) =>
          createWorkflow({ id: 'order', triggers: [{ event: 'Go' }] }, async ({ step }) => {
            await step.run('charge', () => calls.push('charge'));
            step.compensate(undo, () => calls.push(`undo ${undo}`));
            await step.sleep('wait', 1000);
            await step.run('ship', () => calls.push('ship'));
          });
        await start(version('charge'));
        const runId = await emit('go-1', 'Go');
        await suspended(runId);
        await restart(version('refund'));
        clock.advance(1000);
        const report = await quarantined(runId);
        expect(report.error).to.be.instanceOf(NonDeterminismError);
        expect(report.error).to.include({
          position: 0,
          expectedStep: 'compensate:charge',
          actualStep: 'compensate:refund',
        });
        expect((report.error as Error).message).to.contain(
          "recorded as 'compensate:charge' but the code now calls 'compensate:refund'",
        );
        expect(calls).to.deep.equal(['charge']);
      });
    });

    describe('when two compensations swap places and the counts still match', () => {
      it('quarantines the run at the first compensation that differs', async () => {
        const version = (first: string, second: string) =>
          createWorkflow({ id: 'order', triggers: [{ event: 'Go' }] }, async ({ step }) => {
            await step.run('a', () => calls.push('a'));
            await step.run('b', () => calls.push('b'));
            step.compensate(first, () => calls.push(`undo ${first}`));
            step.compensate(second, () => calls.push(`undo ${second}`));
            await step.sleep('wait', 1000);
            await step.run('c', () => calls.push('c'));
          });
        await start(version('a', 'b'));
        const runId = await emit('go-1', 'Go');
        await suspended(runId);
        await restart(version('b', 'a'));
        clock.advance(1000);
        const report = await quarantined(runId);
        expect(report.error).to.include({
          position: 0,
          expectedStep: 'compensate:a',
          actualStep: 'compensate:b',
        });
        expect(calls).to.deep.equal(['a', 'b']);
      });
    });

    describe('when a compensation is renamed while the run is compensating', () => {
      it('quarantines the run instead of running the renamed compensation', async () => {
        const version = (undoB: string) =>
          createWorkflow({ id: 'order', triggers: [{ event: 'Go' }] }, async ({ step }) => {
            await step.run('a', () => calls.push('a'));
            step.compensate('a', () => calls.push('undo a'));
            await step.run('b', () => calls.push('b'));
            step.compensate(undoB, ({ attempt }) => {
              calls.push(`undo ${undoB} #${attempt}`);
              throw new Error('refund API down');
            });
            await step.run('c', () => {
              throw new NonRetryableError('no');
            });
          });
        await start(version('b'));
        const runId = await emit('go-1', 'Go');
        await suspended(runId);
        expect(calls).to.deep.equal(['a', 'b', 'undo b #1']);
        await restart(version('b2'));
        clock.advance(RETRY_DELAY);
        const report = await quarantined(runId);
        expect(report.error).to.include({
          position: 1,
          expectedStep: 'compensate:b',
          actualStep: 'compensate:b2',
        });
        expect(calls).to.deep.equal(['a', 'b', 'undo b #1']);
        expect(await typesOf('order', runId)).not.to.include(P.CompensationCompleted);
      });
    });
  });

  describe('misuse', () => {
    it('quarantines a run that calls two steps by the same name, before running the second', async () => {
      const wf = createWorkflow({ id: 'twice', triggers: [{ event: 'Go' }] }, async ({ step }) => {
        await step.run('same', () => calls.push('first'));
        await step.run('same', () => calls.push('second'));
      });
      await start(wf);
      const runId = await emit('go-1', 'Go');
      const report = await until(
        () => runtime?.reports.find((r) => r.runId === runId && r.kind === 'quarantined'),
        5000,
        'quarantine',
      );
      expect(report.error).to.be.instanceOf(DuplicateStepError);
      expect(calls).to.deep.equal(['first']);
    });

    it('quarantines a run that waits for an event type its definition does not await', async () => {
      const wf = createWorkflow({ id: 'undeclared', triggers: [{ event: 'Go' }] }, async ({ step }) => {
        await step.waitForEvent('never', { event: 'Unlisted' });
      });
      await start(wf);
      const runId = await emit('go-1', 'Go');
      const report = await until(
        () => runtime?.reports.find((r) => r.runId === runId && r.kind === 'quarantined'),
        5000,
        'quarantine',
      );
      expect((report.error as Error).message)
        .to.contain("'Unlisted'")
        .and.to.contain('awaits');
    });
  });

  describe('when two workers drive the same workflow', () => {
    it('records every step and the completion once per run', async () => {
      const wf = createWorkflow<{ n: number }>(
        { id: 'raced', triggers: [{ event: 'Go' }] },
        async ({ step }) => {
          for (const name of ['a', 'b', 'c']) await step.run(name, () => name);
        },
      );
      const workers = [0, 1].map(() =>
        new WorkflowRuntime({ store, logger: silentLogger, checkpointIntervalMs: 20 }).register(wf),
      );
      await Promise.all(workers.map((w) => w.start()));
      try {
        const runIds = await Promise.all(Array.from({ length: 20 }, (_, n) => emit(`go-${n}`, 'Go', { n })));
        for (const runId of runIds) {
          await ended('raced', runId);
          const types = await typesOf('raced', runId);
          expect(types.filter((t) => t === S.StepCompleted)).to.have.length(3);
          expect(types.filter((t) => t === P.ProcessStarted)).to.have.length(1);
          expect(types.filter((t) => t === P.ProcessCompleted)).to.have.length(1);
        }
      } finally {
        await Promise.all(workers.map((w) => w.stop()));
      }
    });
  });

  describe('step.sleep', () => {
    it('wakes the run when the clock reaches the due time, not before', async () => {
      const wf = createWorkflow({ id: 'nap', triggers: [{ event: 'Go' }] }, async ({ step }) => {
        await step.sleep('nap', 5000);
        await step.run('up', () => calls.push('up'));
      });
      await start(wf);
      const runId = await emit('go-1', 'Go');
      await suspended(runId);
      clock.advance(4999);
      await runtime?.whenIdle();
      expect(calls).to.deep.equal([]);
      clock.advance(1);
      await ended('nap', runId);
      expect(calls).to.deep.equal(['up']);
    });
  });

  describe('step.waitForEvent', () => {
    const waiting = (timeout?: number) =>
      createWorkflow(
        { id: 'shipping', triggers: [{ event: 'OrderPlaced' }], awaits: ['PaymentConfirmed'] },
        async ({ step }) => {
          await step.run('prepare', () => calls.push('prepare'));
          await step.sleep('warehouse', 1000);
          const payment = await step.waitForEvent<{ amount: number }>('payment', {
            event: 'PaymentConfirmed',
            match: (e) => e.data.amount > 0,
            ...(timeout === undefined ? {} : { timeout }),
          });
          await step.run('ship', () => calls.push(payment ? `ship ${payment.data.amount}` : 'cancel'));
        },
      );

    describe('when the awaited event arrives while the run waits', () => {
      it('returns the first matching event and goes on', async () => {
        await start(waiting());
        const runId = await emit('order-1', 'OrderPlaced');
        await suspended(runId);
        clock.advance(1000);
        await suspended(runId, 2);
        await emit('order-1', 'PaymentConfirmed', { amount: 0 });
        await emit('order-2', 'PaymentConfirmed', { amount: 99 });
        await emit('order-1', 'PaymentConfirmed', { amount: 12 });
        await ended('shipping', runId);
        expect(calls).to.deep.equal(['prepare', 'ship 12']);
      });
    });

    describe('when the awaited event arrives before the wait is registered', () => {
      it('records it with the run and hands it to the wait later', async () => {
        await start(waiting());
        const runId = await emit('order-1', 'OrderPlaced');
        await suspended(runId);
        const paymentId = await emit('order-1', 'PaymentConfirmed', { amount: 7 });
        await until(
          async () => (await typesOf('shipping', runId)).filter((t) => t === P.InputRecorded).length === 2,
          5000,
        );
        expect(await typesOf('shipping', runId)).not.to.include(S.EventAwaited);
        clock.advance(1000);
        await ended('shipping', runId);
        expect(calls).to.deep.equal(['prepare', 'ship 7']);
        const completed = (await events('shipping', runId)).find(
          (e) => e.type === S.StepCompleted && (e.data as { step: string }).step === 'payment',
        );
        expect(completed?.data).to.deep.include({ inputId: paymentId });
      });
    });

    describe('when nothing arrives before the timeout', () => {
      it('returns null at the timeout', async () => {
        await start(waiting(30_000));
        const runId = await emit('order-1', 'OrderPlaced');
        await suspended(runId);
        clock.advance(1000);
        await suspended(runId, 2);
        clock.advance(29_999);
        await runtime?.whenIdle();
        expect(calls).to.deep.equal(['prepare']);
        clock.advance(1);
        await ended('shipping', runId);
        expect(calls).to.deep.equal(['prepare', 'cancel']);
      });
    });

    describe('when the worker restarts while the run waits', () => {
      it('delivers an event that arrived while no worker ran', async () => {
        const wf = waiting(60_000);
        await start(wf);
        const runId = await emit('order-1', 'OrderPlaced');
        await suspended(runId);
        clock.advance(1000);
        await suspended(runId, 2);
        await runtime?.stop();
        runtime = undefined;
        await emit('order-1', 'PaymentConfirmed', { amount: 5 });
        await start(wf);
        await ended('shipping', runId);
        expect(calls).to.deep.equal(['prepare', 'ship 5']);
      });
    });
  });

  describe('step.publish', () => {
    it('appends an event once that triggers another workflow', async () => {
      const orders = createWorkflow<{ orderId: string }>(
        { id: 'orders', triggers: [{ event: 'OrderPlaced' }] },
        async ({ event, step }) => {
          await step.publish('announce', `invoice-${event.data.orderId}`, {
            type: 'InvoiceRequested',
            data: { orderId: event.data.orderId },
          });
        },
      );
      const invoices = createWorkflow<{ orderId: string }>(
        { id: 'invoices', triggers: [{ event: 'InvoiceRequested' }] },
        async ({ event, step }) => {
          await step.run('issue', () => calls.push(`invoice ${event.data.orderId}`));
        },
      );
      await start(orders, invoices);
      const runId = await emit('order-9', 'OrderPlaced', { orderId: '9' });
      await ended('orders', runId);
      const [published] = await store.readStream('invoice-9');
      await ended('invoices', published?.id ?? '');
      expect(calls).to.deep.equal(['invoice 9']);
      expect(published?.metadata).to.include({ $causationId: runId });
    });
  });

  describe('concurrency keys', () => {
    it('runs one run per key at a time, in trigger order, and others in parallel', async () => {
      const wf = createWorkflow<{ customer: string; n: number }>(
        { id: 'serial', triggers: [{ event: 'Go' }], concurrencyKey: (e) => e.data.customer },
        async ({ event, step }) => {
          await step.run('begin', () => calls.push(`begin ${event.data.n}`));
          await step.sleep('work', 1000);
          await step.run('end', () => calls.push(`end ${event.data.n}`));
        },
      );
      await start(wf);
      const first = await emit('go-1', 'Go', { customer: 'c1', n: 1 });
      const second = await emit('go-2', 'Go', { customer: 'c1', n: 2 });
      const other = await emit('go-3', 'Go', { customer: 'c2', n: 3 });
      await suspended(first);
      await suspended(other);
      await runtime?.whenIdle();
      expect(calls).to.deep.equal(['begin 1', 'begin 3']);
      expect(runtime?.reports.some((r) => r.runId === second && r.kind === 'queued')).to.equal(true);
      clock.advance(1000);
      await ended('serial', first);
      await suspended(second);
      expect(calls.slice(0, 4).sort()).to.deep.equal(['begin 1', 'begin 3', 'end 1', 'end 3']);
      expect(calls[4]).to.equal('begin 2');
      clock.advance(1000);
      await ended('serial', second);
    });
  });

  describe('correlation', () => {
    it('routes awaited events by the correlate function', async () => {
      const wf = createWorkflow<{ orderId: string }>(
        {
          id: 'corr',
          triggers: [{ event: 'OrderPlaced' }],
          awaits: ['PaymentConfirmed'],
          correlate: (e: WorkflowEvent) => String(e.data.orderId),
        },
        async ({ step }) => {
          const paid = await step.waitForEvent('paid', { event: 'PaymentConfirmed' });
          await step.run('done', () => calls.push(`paid via ${paid?.stream}`));
        },
      );
      await start(wf);
      const runId = await emit('order-1', 'OrderPlaced', { orderId: 'x' });
      await suspended(runId);
      await emit('payment-1', 'PaymentConfirmed', { orderId: 'x' });
      await ended('corr', runId);
      expect(calls).to.deep.equal(['paid via payment-1']);
    });
  });
});

describe('createWorkflow', () => {
  it('lists every problem of a definition in one DefinitionError', () => {
    expect(() =>
      createWorkflow(
        { id: 'fulfil-order', triggers: [{ event: 'sagastream.ProcessStarted' }], retry: { maxAttempts: 0 } },
        async () => undefined,
      ),
    )
      .to.throw(/3 problems/)
      .with.property('problems')
      .that.has.length(3);
  });
});
