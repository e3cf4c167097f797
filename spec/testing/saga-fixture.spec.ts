import { expect } from 'chai';
import { NonRetryableError } from '../../lib/errors';
import { defineSaga, type SagaContext } from '../../lib/saga/define-saga';
import { AssertionError } from '../../lib/testing/process-fixture';
import { type SagaFixture, testSaga } from '../../lib/testing/saga-fixture';

async function failure(fixture: PromiseLike<unknown>): Promise<Error> {
  try {
    await fixture;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the fixture to fail');
}

describe('testSaga', () => {
  let calls: string[];
  let fixture: SagaFixture<{ orderId: string }> | undefined;
  const act = (name: string) => async (ctx: SagaContext<{ orderId: string }>) => {
    calls.push(name);
    await ctx.publish({ type: `${name}:done`, orderId: ctx.input.orderId });
    return `${name} ok`;
  };
  const trip = () =>
    defineSaga<{ orderId: string }>({
      name: 'trip',
      actions: {
        foo: act('foo'),
        bar: act('bar'),
        baz: async (ctx) => {
          calls.push('baz');
          return ctx.dispatch({ type: 'Book', orderId: ctx.input.orderId });
        },
        'fix-foo': act('fix-foo'),
        'fix-bar': act('fix-bar'),
      },
      sequence: ['foo', 'bar', 'baz'],
      compensate: { foo: 'fix-foo', bar: 'fix-bar' },
      retry: { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 1000, random: () => 1 },
    });
  const test = () => (fixture = testSaga(trip()));

  beforeEach(() => (calls = []));
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  describe('when every action succeeds', () => {
    it('reports the actions, results, status and what was published and dispatched', async () => {
      await test()
        .execute({ input: { orderId: 'o1' } })
        .expect({
          actions: ['foo', 'bar', 'baz'],
          compensations: [],
          status: 'completed',
          results: { foo: 'foo ok', bar: 'bar ok', baz: undefined },
          published: [
            { type: 'foo:done', orderId: 'o1' },
            { type: 'bar:done', orderId: 'o1' },
          ],
          dispatched: [{ type: 'Book', orderId: 'o1' }],
        });
      expect(calls).to.deep.equal(['foo', 'bar', 'baz']);
    });
  });

  describe('when the test makes an action fail for good', () => {
    it('shows the compensating actions that ran, newest first, and the error', async () => {
      await test()
        .failAction('baz', new NonRetryableError('remote said no'))
        .execute({ input: { orderId: 'o2' } })
        .expect({
          actions: ['foo', 'bar'],
          failedActions: ['baz'],
          attempts: { baz: 1 },
          compensations: ['fix-bar', 'fix-foo'],
          status: 'compensated',
          error: { action: 'baz', status: 'compensated' },
          dispatched: [],
        });
      expect(calls).to.deep.equal(['foo', 'bar', 'fix-bar', 'fix-foo']);
    });
  });

  describe('when an action fails and is retried', () => {
    it('waits on virtual time for each retry', async () => {
      await test()
        .failAction('bar', 'busy', { times: 2 })
        .execute({ input: { orderId: 'o3' } })
        .expect({ actions: ['foo'], attempts: { bar: 1 }, status: 'running' })
        .advanceTime(99)
        .expect({ attempts: { bar: 1 }, status: 'running' })
        .advanceTime(1)
        .expect({ attempts: { bar: 2 }, status: 'running' })
        .advanceTime(200)
        .expect({ actions: ['foo', 'bar', 'baz'], status: 'completed' });
      expect(calls).to.deep.equal(['foo', 'bar', 'baz']);
    });

    it('runs every due retry within one long advanceTime', async () => {
      await test()
        .failAction('bar', 'busy')
        .execute({ input: { orderId: 'o4' } })
        .advanceTime(60_000)
        .expect({
          attempts: { bar: 3 },
          compensations: ['fix-foo'],
          status: 'compensated',
          error: { action: 'bar' },
        });
    });
  });

  describe('when a compensating action keeps failing', () => {
    it('shows its attempts under its own name and the terminal compensationFailed status', async () => {
      await test()
        .failAction('baz', new NonRetryableError('no'))
        .failAction('fix-bar', 'cannot undo')
        .execute({ input: { orderId: 'o5' } })
        .advanceTime(10_000)
        .expect({
          attempts: { baz: 1, 'fix-bar': 3 },
          compensations: [],
          status: 'compensationFailed',
          error: { status: 'compensationFailed', failedCompensation: 'fix-bar' },
        });
    });
  });

  describe('when the test makes an action succeed', () => {
    it('returns the given result without running it', async () => {
      await test()
        .succeedAction('baz', { booking: 'b-1' })
        .execute({ input: { orderId: 'o6' } })
        .expect({ results: { foo: 'foo ok', bar: 'bar ok', baz: { booking: 'b-1' } }, dispatched: [] });
      expect(calls).to.deep.equal(['foo', 'bar']);
    });
  });

  describe('when an expectation does not hold', () => {
    it('names what differs, the saga and the last step, with expected, actual and the history', async () => {
      const error = await failure(
        test()
          .failAction('baz', new NonRetryableError('no'))
          .execute({ sagaId: 's-msg', input: { orderId: 'o7' } })
          .expect({ compensations: ['fix-foo', 'fix-bar'] }),
      );
      expect(error).to.be.instanceOf(AssertionError);
      expect(error.message).to.equal(
        'Compensations of saga trip-s-msg after execute:\n' +
          '  expected ["fix-foo","fix-bar"]\n' +
          '  actual   ["fix-bar","fix-foo"]\n' +
          '  history  StepCompleted foo, CompensationRegistered foo, StepCompleted bar, ' +
          'CompensationRegistered bar, StepAttemptFailed baz #1, StepFailed baz, ProcessFailed, ' +
          'CompensationScheduled bar, CompensationCompleted bar, CompensationScheduled foo, ' +
          'CompensationCompleted foo, ProcessCompensated',
      );
    });

    it('says the saga completed when a failure was expected', async () => {
      const error = await failure(
        test()
          .execute({ sagaId: 's-ok', input: { orderId: 'o8' } })
          .expect({ error: { action: 'baz' } }),
      );
      expect(error.message).to.match(
        /^SagaFailedError of saga trip-s-ok after execute: expected the saga to have failed, but it completed\./,
      );
    });

    it('reports a status checked too early, after the time step', async () => {
      const error = await failure(
        test()
          .failAction('bar', 'busy', { times: 1 })
          .execute({ input: { orderId: 'o9' } })
          .advanceTime(50)
          .expect({ status: 'completed' }),
      );
      expect(error.message).to.match(/^Status of saga trip-\S+ after advanceTime\(50 ms\):\n/);
      expect(error.message).to.contain('expected "completed"\n  actual   "running"');
    });

    it('rejects an override of an action the saga does not have', async () => {
      const error = await failure(test().failAction('qux'));
      expect(error.message).to.equal(
        "failAction('qux'): saga 'trip' has no such action (its actions: foo, bar, baz, fix-foo, fix-bar).",
      );
    });
  });
});
