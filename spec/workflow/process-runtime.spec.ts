import { expect } from 'chai';
import { v4 as uuid } from 'uuid';
import { DefinitionError, NonRetryableError, SagaFailedError } from '../../lib/errors';
import { ProcessEventTypes as P } from '../../lib/process/process-events';
import { silentLogger } from '../../lib/runtime/logger';
import { ProcessRuntime } from '../../lib/runtime/process-runtime';
import type { RuntimeReport } from '../../lib/runtime/runtime-events';
import { defineSaga } from '../../lib/saga/define-saga';
import { SagaExecutor } from '../../lib/saga/saga-executor';
import { LocalEventStore } from '../../lib/store/local/local-event-store';
import { createWorkflow } from '../../lib/workflow/create-workflow';
import { until } from '../helpers/until';
import {
  REMINDER_CATEGORIES,
  Reminder,
  ReminderService,
  faults,
  reminderRegistry,
} from '../runtime/fixtures/reminder';

describe('ProcessRuntime hosting workflows and sagas', () => {
  let store: LocalEventStore;
  const runtimes: ProcessRuntime[] = [];

  const newRuntime = () => {
    const runtime = new ProcessRuntime({
      store,
      registry: reminderRegistry(),
      logger: silentLogger,
      backoff: { initialDelayMs: 1, maxDelayMs: 5 },
      checkpointIntervalMs: 20,
    });
    runtimes.push(runtime);
    return runtime;
  };
  const calls: string[] = [];
  const shipping = createWorkflow<{ orderId: string }>(
    { id: 'shipping', triggers: [{ event: 'ShippingRequested' }] },
    async ({ event, step }) => {
      await step.run('label', () => calls.push(`label ${event.data.orderId}`));
      step.compensate('label', () => calls.push(`void label ${event.data.orderId}`));
      await step.run('pickup', () => {
        calls.push(`pickup ${event.data.orderId}`);
        if (event.data.orderId === 'bad') throw new NonRetryableError('no courier');
      });
    },
  );
  const refund = defineSaga<{ amount: number }>({
    name: 'refund',
    actions: {
      credit: (ctx) => {
        calls.push(`credit ${ctx.input.amount}`);
        return { credited: ctx.input.amount };
      },
      notify: () => {
        calls.push('notify');
      },
    },
    sequence: ['credit', 'notify'],
  });

  beforeEach(async () => {
    calls.length = 0;
    faults.failingPokes.clear();
    store = await LocalEventStore.open({ memory: true });
  });
  afterEach(async () => {
    for (const runtime of runtimes.splice(0)) await runtime.stop();
    await store.close();
  });

  describe('when one runtime hosts a process manager, a workflow and a saga', () => {
    it('runs each of them and reports each under its owner', async () => {
      const runtime = newRuntime()
        .register(Reminder, { categories: REMINDER_CATEGORIES })
        .registerCommandHandlers(new ReminderService(store))
        .register(shipping)
        .registerSaga(refund);
      await runtime.start();

      await store.append('request-r1', [
        { id: uuid(), type: 'ReminderRequested', data: { id: 'r1', delayMs: 60_000 } },
      ]);
      await store.append('poke-r1', [{ id: uuid(), type: 'Poke', data: { id: 'r1', n: 7 } }]);
      const runId = uuid();
      await store.append('ship-o1', [{ id: runId, type: 'ShippingRequested', data: { orderId: 'o1' } }]);
      const result = await runtime.executeSaga(refund, { sagaId: 'rf1', input: { amount: 12 } });
      await runtime.whenIdle();
      const reports: readonly RuntimeReport[] = runtime.reports;

      expect(result.results).to.deep.equal({ credit: { credited: 12 }, notify: undefined });
      expect(((await runtime.stateOf('reminder', 'r1')).data as Reminder).pokes).to.deep.equal([7]);
      const run = await runtime.stateOf(shipping, runId);
      expect(run.status).to.equal('completed');
      expect(run.steps).to.deep.equal(['label', 'pickup']);
      expect((await runtime.stateOf(refund, 'rf1')).status).to.equal('completed');
      expect((await runtime.runStateOf('shipping', runId)).status).to.equal('completed');
      expect(calls).to.have.members(['label o1', 'pickup o1', 'credit 12', 'notify']);

      const owned = (owner: string) =>
        reports.filter((r) => r.owner === owner).map((r) => `${r.kind} ${r.processName}-${r.processId}`);
      expect(owned('workflow')).to.include.members([
        `started shipping-${runId}`,
        `completed shipping-${runId}`,
      ]);
      expect(owned('saga')).to.deep.equal(['started refund-rf1', 'completed refund-rf1']);
      expect(reports.every((r) => r.owner !== undefined)).to.equal(true);
    });

    it('reports a failed workflow run and a failed saga with their compensations', async () => {
      const failing = defineSaga({
        name: 'failing',
        actions: {
          reserve: () => calls.push('reserve'),
          charge: () => {
            throw new NonRetryableError('card refused');
          },
          unreserve: () => calls.push('unreserve'),
        },
        sequence: ['reserve', 'charge'],
        compensate: { reserve: 'unreserve' },
      });
      const runtime = newRuntime().register(shipping).registerSaga(failing);
      await runtime.start();
      const runId = uuid();
      await store.append('ship-bad', [{ id: runId, type: 'ShippingRequested', data: { orderId: 'bad' } }]);
      const error = await runtime.executeSaga(failing, { sagaId: 'f1' }).then(
        () => expect.fail('the saga should fail'),
        (e: unknown) => e,
      );
      await runtime.whenIdle();

      expect(error).to.be.instanceOf(SagaFailedError);
      expect(calls).to.include.members(['reserve', 'unreserve', 'label bad', 'void label bad']);
      const kinds = runtime.reports.map((r) => `${r.owner}:${r.kind}:${r.processName}`);
      expect(kinds).to.include.members(['workflow:compensated:shipping', 'saga:compensated:failing']);
      expect((await runtime.stateOf(shipping, runId)).status).to.equal('compensated');
    });
  });

  describe('when a saga was left unfinished by an executor that went away', () => {
    it('resumes it on start without running its completed action again', async () => {
      let release!: () => void;
      const stuck = new Promise<void>((resolve) => (release = resolve));
      const gone = defineSaga<{ amount: number }>({
        name: 'refund',
        actions: { credit: () => calls.push('credit'), notify: () => stuck },
        sequence: ['credit', 'notify'],
      });
      void new SagaExecutor({ store }).execute(gone, { sagaId: 'left', input: { amount: 1 } });
      await until(
        async () =>
          (await store.readStream('refund-left')).some((e) => e.type === 'sagastream.StepCompleted'),
        5000,
        'the first action recorded',
      );

      const runtime = newRuntime().registerSaga(refund);
      await runtime.start();
      await runtime.whenIdle();
      release();

      expect(calls).to.deep.equal(['credit', 'notify']);
      const types = (await store.readStream('refund-left')).map((e) => e.type);
      expect(types.filter((t) => t === P.ProcessCompleted)).to.have.length(1);
      expect(runtime.reports.map((r) => `${r.owner}:${r.kind}`)).to.deep.equal(['saga:completed']);
    });
  });

  describe('when two definitions share a name', () => {
    it('refuses the second one: the name is the stream category of both', () => {
      const runtime = newRuntime().register(shipping);
      const clash = defineSaga({ name: 'shipping', actions: { a: () => 1 } });
      expect(() => runtime.registerSaga(clash))
        .to.throw(DefinitionError)
        .with.property('problems')
        .that.deep.equals([
          "a workflow named 'shipping' is already registered (the name is its stream category).",
        ]);
    });
  });

  describe('when a saga is passed to register', () => {
    it('throws a DefinitionError pointing at registerSaga', () => {
      expect(() => newRuntime().register(refund as never)).to.throw(DefinitionError, /registerSaga/);
    });
  });

  describe('when a saga is executed before start', () => {
    it('rejects with a DefinitionError saying to start the runtime', async () => {
      const runtime = newRuntime().registerSaga(refund);
      const error = await runtime.executeSaga(refund).then(
        () => expect.fail('expected a rejection'),
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(DefinitionError);
      expect((error as Error).message).to.contain('start the runtime');
    });
  });
});
