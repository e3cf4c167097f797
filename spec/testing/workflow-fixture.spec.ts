import { expect } from 'chai';
import { NonRetryableError } from '../../lib/errors';
import { AssertionError } from '../../lib/testing/process-fixture';
import { type WorkflowFixture, testWorkflow } from '../../lib/testing/workflow-fixture';
import { type Workflow, createWorkflow } from '../../lib/workflow/create-workflow';

interface Order {
  readonly total: number;
}

async function failure(fixture: PromiseLike<unknown>): Promise<Error> {
  try {
    await fixture;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the fixture to fail');
}

describe('testWorkflow', () => {
  let calls: string[];
  let fixture: WorkflowFixture | undefined;
  const order = createWorkflow<Order>(
    { id: 'order', triggers: [{ event: 'OrderPlaced' }], awaits: ['PaymentConfirmed'] },
    async ({ event, step }) => {
      const charge = await step.run('charge', () => {
        calls.push('charge');
        return { id: `ch-${event.data.total}` };
      });
      step.compensate('charge', () => calls.push(`refund ${charge.id}`));
      await step.run('reserve', () => calls.push('reserve'));
      step.compensate('reserve', () => calls.push('release'));
      await step.run('ship', () => calls.push('ship'));
      await step.publish('announce', 'shipments', { type: 'OrderShipped', data: { charge: charge.id } });
    },
  );
  const test = (workflow: Workflow<any, unknown> = order) => (fixture = testWorkflow(workflow));

  beforeEach(() => (calls = []));
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  describe('when every step succeeds', () => {
    it('reports the completed steps, the status and the published events', async () => {
      await test()
        .given({ type: 'OrderPlaced', data: { total: 30 } })
        .expect({
          steps: ['charge', 'reserve', 'ship', 'announce'],
          compensations: [],
          status: 'completed',
          published: [{ type: 'OrderShipped', data: { charge: 'ch-30' }, stream: 'shipments' }],
        });
      expect(calls).to.deep.equal(['charge', 'reserve', 'ship']);
    });
  });

  describe('when the test makes a step fail for good', () => {
    it('shows the compensations of the completed steps, newest first, and the compensated status', async () => {
      await test()
        .failStep('ship', new NonRetryableError('no carrier'))
        .given({ type: 'OrderPlaced', data: { total: 30 } })
        .expect({
          steps: ['charge', 'reserve'],
          failedSteps: ['ship'],
          attempts: { ship: 1 },
          compensations: ['reserve', 'charge'],
          status: 'compensated',
          published: [],
        });
      expect(calls).to.deep.equal(['charge', 'reserve', 'release', 'refund ch-30']);
    });
  });

  describe('when a step fails twice and then runs', () => {
    it('waits for virtual time to reach each retry', async () => {
      const run = test().failStep('reserve', 'inventory busy', { times: 2 });
      await run
        .given({ type: 'OrderPlaced', data: { total: 5 } })
        .expect({ steps: ['charge'], attempts: { reserve: 1 }, status: 'running' })
        .advanceTime(999)
        .expect({ attempts: { reserve: 1 } })
        .advanceTime(1)
        .expect({ attempts: { reserve: 2 }, status: 'running' })
        .advanceTime(2000)
        .expect({ steps: ['charge', 'reserve', 'ship', 'announce'], status: 'completed' });
      expect(calls).to.deep.equal(['charge', 'reserve', 'ship']);
    });

    it('fires every due retry within one long advanceTime', async () => {
      await test()
        .failStep('reserve', 'inventory busy', { times: 2 })
        .given({ type: 'OrderPlaced', data: { total: 5 } })
        .advanceTime(60_000)
        .expect({ attempts: { reserve: 2 }, status: 'completed' });
    });
  });

  describe('when the test makes a step succeed', () => {
    it('returns the given result without calling the service', async () => {
      await test()
        .succeedStep('charge', { id: 'ch-test' })
        .given({ type: 'OrderPlaced', data: { total: 5 } })
        .expect({
          status: 'completed',
          published: [{ type: 'OrderShipped', data: { charge: 'ch-test' } }],
        });
      expect(calls).to.deep.equal(['reserve', 'ship']);
    });
  });

  describe('when a compensation keeps failing', () => {
    it('shows the terminal compensationFailed status and the attempts of the compensation', async () => {
      await test()
        .failStep('ship', new NonRetryableError('no carrier'))
        .failCompensation('reserve', 'warehouse down')
        .given({ type: 'OrderPlaced', data: { total: 5 } })
        .advanceTime(10_000)
        .expect({
          compensations: [],
          attempts: { ship: 1, 'compensate:reserve': 3 },
          status: 'compensationFailed',
        });
      expect(calls).to.deep.equal(['charge', 'reserve']);
    });
  });

  describe('when the workflow sleeps and waits for an event', () => {
    const paced = createWorkflow(
      { id: 'paced', triggers: [{ event: 'OrderPlaced' }], awaits: ['PaymentConfirmed'] },
      async ({ step }) => {
        await step.sleep('cool-off', 60_000);
        const paid = await step.waitForEvent('payment', { event: 'PaymentConfirmed', timeout: 3_600_000 });
        await step.run('ship', () => calls.push(paid ? 'ship' : 'cancel'));
      },
    );

    it('wakes the sleep on advanceTime and delivers a received event to the wait', async () => {
      await test(paced)
        .given({ type: 'OrderPlaced', stream: 'order-7' })
        .advanceTime(59_999)
        .expect({ steps: [], status: 'running' })
        .advanceTime(1)
        .expect({ steps: ['cool-off'], status: 'running' })
        .receive({ type: 'PaymentConfirmed' })
        .expect({ steps: ['cool-off', 'payment', 'ship'], status: 'completed' });
      expect(calls).to.deep.equal(['ship']);
    });

    it('times the wait out on virtual time', async () => {
      await test(paced)
        .given({ type: 'OrderPlaced' })
        .advanceTime(60_000 + 3_600_000)
        .expect({ steps: ['cool-off', 'payment', 'ship'], status: 'completed' });
      expect(calls).to.deep.equal(['cancel']);
    });
  });

  describe('when an expectation does not hold', () => {
    it('names what differs, the run and the last step, with expected, actual and the history', async () => {
      const error = await failure(
        test()
          .failStep('ship', new NonRetryableError('no carrier'))
          .given({ type: 'OrderPlaced', id: 'a7c1b6de-58a4-4a4e-a3a4-0b8e4b1b3d2f', data: { total: 1 } })
          .expect({ steps: ['charge', 'reserve', 'ship'] }),
      );
      expect(error).to.be.instanceOf(AssertionError);
      expect(error.message).to.equal(
        'Completed steps of run order-a7c1b6de-58a4-4a4e-a3a4-0b8e4b1b3d2f after given OrderPlaced:\n' +
          '  expected ["charge","reserve","ship"]\n' +
          '  actual   ["charge","reserve"]\n' +
          '  history  StepCompleted charge, CompensationRegistered charge, StepCompleted reserve, ' +
          'CompensationRegistered reserve, StepAttemptFailed ship #1, StepFailed ship, ProcessFailed, ' +
          'CompensationScheduled reserve, CompensationCompleted reserve, CompensationScheduled charge, ' +
          'CompensationCompleted charge, ProcessCompensated',
      );
      expect(error).to.deep.include({
        actual: ['charge', 'reserve'],
        expected: ['charge', 'reserve', 'ship'],
      });
    });

    it('reports a wrong status after advanceTime with the time step in the message', async () => {
      const error = await failure(
        test()
          .failStep('reserve', 'busy', { times: 1 })
          .given({ type: 'OrderPlaced', data: { total: 1 } })
          .advanceTime(500)
          .expect({ status: 'completed' }),
      );
      expect(error.message).to.match(/^Status of run order-\S+ after advanceTime\(500 ms\):\n/);
      expect(error.message).to.contain('expected "completed"\n  actual   "running"');
    });

    it('rejects a trigger the workflow does not start on, naming its triggers', async () => {
      const error = await failure(test().given({ type: 'OrderShipped' }));
      expect(error.message).to.equal(
        "given(): 'OrderShipped' does not trigger workflow 'order' (its triggers: OrderPlaced).",
      );
    });

    it('rejects a received event the workflow does not subscribe to', async () => {
      const error = await failure(
        test()
          .given({ type: 'OrderPlaced', data: { total: 1 } })
          .receive({ type: 'Nope' }),
      );
      expect(error.message).to.contain("does not subscribe to 'Nope'; list it in the workflow's awaits");
    });
  });
});
