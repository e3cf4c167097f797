import { expect } from 'chai';
import { NonRetryableError } from '../../lib/errors';
import { defineSaga } from '../../lib/saga/define-saga';
import {
  AssertionError,
  commandFails,
  compensationFails,
  given,
  stepFails,
  stepSucceeds,
  timePasses,
} from '../../lib/testing';
import { createWorkflow } from '../../lib/workflow/create-workflow';

interface Order {
  readonly orderId: string;
  readonly total: number;
}

async function failure(done: Promise<void>): Promise<Error> {
  return done.then(
    () => expect.fail('expected the scenario to fail'),
    (error: unknown) => error as Error,
  );
}

describe('given (one entry point for every style)', () => {
  let calls: string[];
  beforeEach(() => (calls = []));

  const fulfillOrder = createWorkflow<Order>(
    { id: 'fulfillOrder', triggers: [{ event: 'OrderPlaced' }], awaits: ['PaymentConfirmed'] },
    async ({ event, step }) => {
      const payment = await step.run('charge-payment', () => {
        calls.push('charge');
        return { id: `ch-${event.data.orderId}` };
      });
      step.compensate('charge-payment', () => calls.push(`refund ${payment.id}`));
      await step.run('reserve-inventory', () => calls.push('reserve'));
      step.compensate('reserve-inventory', () => calls.push('release'));
      await step.run('create-shipment', () => calls.push('ship'));
      await step.publish('announce', `shipment-${event.data.orderId}`, {
        type: 'OrderShipped',
        data: { orderId: event.data.orderId },
      });
    },
  );
  const placed = { type: 'OrderPlaced', data: { orderId: 'o1', total: 30 } };

  describe('given a step workflow', () => {
    it('runs the trigger through the real runtime and checks steps, compensations and published events', () =>
      given(fulfillOrder)
        .when(placed)
        .then({
          steps: ['charge-payment', 'reserve-inventory', 'create-shipment', 'announce'],
          compensations: [],
          published: [{ type: 'OrderShipped', data: { orderId: 'o1' }, stream: 'shipment-o1' }],
          status: 'completed',
        }));

    it('compensates newest first when a step fails for good in the history', async () => {
      await given(fulfillOrder, [stepFails('create-shipment', new NonRetryableError('no carrier'))])
        .when(placed)
        .then({
          steps: ['charge-payment', 'reserve-inventory'],
          failedSteps: ['create-shipment'],
          compensations: ['reserve-inventory', 'charge-payment'],
          published: [],
          status: 'compensated',
        })
        .done();
      expect(calls).to.deep.equal(['charge', 'reserve', 'release', 'refund ch-o1']);
    });

    it('moves virtual time through sleeps and retries', () => {
      const nap = createWorkflow({ id: 'nap', triggers: [{ event: 'Tired' }] }, async ({ step }) => {
        await step.sleep('siesta', 60 * 60_000);
        await step.run('wake', () => calls.push('wake'));
      });
      return given(nap, [stepFails('wake', 'alarm broken', { times: 1 })])
        .when({ type: 'Tired' })
        .then({ steps: [], status: 'running' })
        .advanceTime(60 * 60_000)
        .then({ steps: ['siesta'], attempts: { wake: 1 }, status: 'running' })
        .advanceTime(1000)
        .then({ steps: ['siesta', 'wake'], status: 'completed' });
    });

    it('delivers a later event to the run that awaits it', () => {
      const pay = createWorkflow<Order>(
        { id: 'pay', triggers: [{ event: 'OrderPlaced' }], awaits: ['PaymentConfirmed'] },
        async ({ step }) => {
          const paid = await step.waitForEvent('paid', { event: 'PaymentConfirmed', timeout: 60_000 });
          await step.run(paid ? 'ship' : 'cancel', () => paid?.data ?? null);
        },
      );
      return given(pay, [placed])
        .when({ type: 'PaymentConfirmed', data: { amount: 30 } })
        .then({ steps: ['paid', 'ship'], status: 'completed' });
    });

    it('fails with an AssertionError naming what differs', async () => {
      const error = await failure(
        given(fulfillOrder)
          .when(placed)
          .then({ steps: ['charge-payment'] })
          .done(),
      );
      expect(error).to.be.instanceOf(AssertionError);
      expect(error.message).to.contain('Completed steps of run fulfillOrder-');
    });

    it('refuses a process-manager step in a workflow history', () => {
      expect(() => given(fulfillOrder, [commandFails('ChargePayment')])).to.throw(
        AssertionError,
        /commandFails\(\) is a process-manager step/,
      );
    });
  });

  describe('given an action saga', () => {
    const published: object[] = [];
    const fooBarBaz = defineSaga<{ who: string }>({
      name: 'fooBarBaz',
      actions: {
        foo: async (ctx) => {
          await ctx.publish({ type: 'FooDone', who: ctx.input.who });
          return { foo: 1 };
        },
        bar: () => ({ bar: 2 }),
        baz: () => ({ baz: 3 }),
        'fix-foo': async (ctx) => ctx.publish({ type: 'FooUndone' }),
        'fix-bar': () => undefined,
      },
      sequence: ['foo', 'bar', 'baz'],
      compensate: { foo: 'fix-foo', bar: 'fix-bar' },
      retry: { maxAttempts: 2, initialDelayMs: 1000, maxDelayMs: 1000 },
    });
    beforeEach(() => (published.length = 0));

    it('runs it with the input of when() and checks steps, results and published events', () =>
      given(fooBarBaz)
        .when({ who: 'ann' })
        .then({
          steps: ['foo', 'bar', 'baz'],
          results: { foo: { foo: 1 }, bar: { bar: 2 }, baz: { baz: 3 } },
          published: [{ type: 'FooDone', who: 'ann' }],
          status: 'completed',
        }));

    it('compensates bar then foo when baz fails for good', () =>
      given(fooBarBaz, [stepFails('baz', new NonRetryableError('remote said no'))])
        .when({ who: 'bob' })
        .then({
          steps: ['foo', 'bar'],
          failedActions: ['baz'],
          compensations: ['fix-bar', 'fix-foo'],
          published: [{ type: 'FooDone', who: 'bob' }, { type: 'FooUndone' }],
          error: { action: 'baz', status: 'compensated' },
        }));

    it('waits out a retry delay on virtual time', () =>
      given(fooBarBaz, [stepFails('bar', 'busy', { times: 1 })])
        .when({ who: 'cy' })
        .then({ steps: ['foo'], attempts: { bar: 1 }, status: 'running' })
        .advanceTime(1000)
        .then({ steps: ['foo', 'bar', 'baz'], status: 'completed' }));

    it('records a terminal compensation failure', () =>
      given(fooBarBaz, [
        stepSucceeds('foo', { foo: 'stub' }),
        stepFails('baz', new NonRetryableError('no')),
        compensationFails('bar', new NonRetryableError('cannot undo bar')),
        timePasses(0),
      ])
        .when({ who: 'dee' })
        .then({
          steps: ['foo', 'bar'],
          compensations: [],
          status: 'compensationFailed',
          error: { status: 'compensationFailed', failedCompensation: 'fix-bar' },
        }));
  });
});
