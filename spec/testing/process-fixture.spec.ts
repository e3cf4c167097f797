import { expect } from 'chai';
import { Apply, Event, On, ProcessManager, StartedBy } from '../../lib/decorators';
import { type ProcessContext } from '../../lib/process';
import { AssertionError, given } from '../../lib/testing';
import {
  ChargePayment,
  OrderFulfillment,
  PaymentCharged,
  anOrder,
} from '../process/fixtures/order-fulfillment';

@Event('Opened')
class Opened {
  constructor(readonly id = '') {}
}
@Event('Bumped')
class Bumped {
  constructor(readonly id = '') {}
}
@Event('Counted')
class Counted {
  constructor(readonly by = 1) {}
}

@ProcessManager({ name: 'sneaky' })
class Sneaky {
  count = 0;
  @StartedBy(Opened, (e) => e.id)
  open(): void {}
  @On(Bumped, (e) => e.id)
  bump(_e: Bumped, ctx: ProcessContext<Sneaky>): void {
    ctx.record(new Counted());
    this.count += 10; // the bug the fixture must catch: state changed outside @Apply
  }
  @Apply(Counted)
  counted(e: Counted): void {
    this.count += e.by;
  }
}

function failure(fn: () => unknown): AssertionError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(AssertionError);
    return err as AssertionError;
  }
  return expect.fail('expected an AssertionError');
}

describe('given (process fixture)', () => {
  describe('when an expectation does not match', () => {
    it('says which step and what differs, with a diff for the runner', () => {
      const err = failure(() =>
        given(OrderFulfillment)
          .when(anOrder('o1'))
          .then({ commands: [new ChargePayment('o1', 99)] }),
      );
      expect(err.message).to.contain('Commands sent when OrderPlaced was handled');
      expect(err.message).to.contain('"amount":99');
      expect(err.showDiff).to.equal(true);
      expect(err.expected).to.deep.equal([{ type: 'ChargePayment', data: { orderId: 'o1', amount: 99 } }]);
    });

    it('reports a wrong status with the stream name', () => {
      const err = failure(() =>
        given(OrderFulfillment, [anOrder('o1')])
          .when(new PaymentCharged('o1', 'c'))
          .then({ status: 'completed' }),
      );
      expect(err.message).to.match(/Status of orderFulfillment-o1 when PaymentCharged was handled/);
    });
  });

  describe('when a handler changes state outside @Apply', () => {
    it('fails the step because a replay would see a different state', () => {
      const err = failure(() => given(Sneaky, [new Opened('s1')]).when(new Bumped('s1')));
      expect(err.message).to.match(/replaying sneaky-s1 gives a different state than the live one/);
    });
  });

  describe('when no step was taken or nothing routes', () => {
    it('explains what to do', () => {
      expect(() => given(OrderFulfillment).then({ commands: [] })).to.throw(
        AssertionError,
        /no step was taken/,
      );
      expect(() => given(Sneaky).when(new Counted())).to.throw(
        AssertionError,
        /Sneaky does not handle Counted/,
      );
      expect(() => given(OrderFulfillment, [anOrder('o1')]).failCommand(PaymentCharged)).to.throw(
        AssertionError,
        /No unanswered PaymentCharged command/,
      );
    });
  });

  describe('when returned from a test (treated as a thenable)', () => {
    it('resolves at once with undefined', async () => {
      const fixture = given(OrderFulfillment, [anOrder('o1')]).when(new PaymentCharged('o1', 'c'));
      const value = await new Promise((resolve) => {
        fixture.then(resolve);
      });
      expect(value).to.equal(undefined);
      expect(fixture.state().stage).to.equal('reserving');
    });
  });

  describe('when time advances', () => {
    it('moves the virtual clock and the decisions see it', () => {
      const fixture = given(OrderFulfillment, [], { now: new Date('2030-01-01T00:00:00Z') });
      fixture.advanceTime(60_000).when(anOrder('o1'));
      expect(fixture.now.toISOString()).to.equal('2030-01-01T00:01:00.000Z');
      expect(fixture.state().startedAt?.toISOString()).to.equal('2030-01-01T00:01:00.000Z');
    });
  });
});
