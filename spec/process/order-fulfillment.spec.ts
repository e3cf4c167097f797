import { expect } from 'chai';
import { commandFails, commandSucceeds, given, timePasses } from '../../lib/testing';
import {
  CancelOrder,
  ChargePayment,
  CompleteOrder,
  CreateShipment,
  FulfillmentStageReached,
  FulfillmentStarted,
  InventoryReservationFailed,
  InventoryReserved,
  OrderFulfillment,
  OrderItem,
  PAYMENT_TIMEOUT_MS,
  PaymentCharged,
  PaymentDeclined,
  RefundPayment,
  ReleaseInventory,
  ReserveInventory,
  ShipmentCreated,
  ShipmentFailed,
  anOrder,
} from './fixtures/order-fulfillment';

const START = new Date('2024-01-01T00:00:00.000Z');
const items = [new OrderItem('SKU-1', 2, 50)];

describe('OrderFulfillment (engine through the testing kit)', () => {
  describe('when an order is placed', () => {
    it('records the start, charges the payment and arms the payment timeout', () =>
      given(OrderFulfillment)
        .when(anOrder('o1'))
        .then({
          events: [new FulfillmentStarted('o1', 100, items, 'FR', START)],
          commands: [new ChargePayment('o1', 100)],
          timeouts: [{ key: 'paymentTimeout', delayMs: PAYMENT_TIMEOUT_MS }],
          framework: [
            'sagastream.ProcessStarted',
            'sagastream.InputRecorded',
            'sagastream.CommandScheduled',
            'sagastream.TimeoutScheduled',
          ],
          status: 'running',
          state: { orderId: 'o1', stage: 'charging', startedAt: START, items },
        }));
  });

  describe('when every service succeeds', () => {
    it('reserves, ships, completes the order and ends completed', () =>
      given(OrderFulfillment, [anOrder('o1')])
        .when(new PaymentCharged('o1', 'ch1'))
        .then({
          commands: [new ReserveInventory('o1', items)],
          compensations: [new RefundPayment('o1', 'ch1')],
          cancelledTimeouts: ['paymentTimeout'],
          events: [new FulfillmentStageReached('reserving')],
        })
        .when(new InventoryReserved('o1'))
        .then({ commands: [new CreateShipment('o1', 'FR')], compensations: [new ReleaseInventory('o1')] })
        .when(new ShipmentCreated('o1', 's1'))
        .then({
          commands: [new CompleteOrder('o1')],
          status: 'completed',
          framework: [
            'sagastream.InputRecorded',
            'sagastream.CommandScheduled',
            'sagastream.ProcessCompleted',
          ],
        }));
  });

  describe('when the payment is declined', () => {
    it('cancels the order with nothing to compensate', () =>
      given(OrderFulfillment, [anOrder('o1', { total: 20000 })])
        .when(new PaymentDeclined('o1', 'limit'))
        .then({
          commands: [new CancelOrder('o1', 'payment declined: limit')],
          status: 'compensated',
          cancelledTimeouts: ['paymentTimeout'],
        }));
  });

  describe('when the inventory is out of stock', () => {
    it('cancels the order and refunds the charge', () =>
      given(OrderFulfillment, [anOrder('o1', { sku: 'OOS-1' }), new PaymentCharged('o1', 'ch1')])
        .when(new InventoryReservationFailed('o1', 'OOS-1'))
        .then({
          commands: [new CancelOrder('o1', 'out of stock: OOS-1'), new RefundPayment('o1', 'ch1')],
          status: 'compensating',
        })
        .succeedCommand(RefundPayment)
        .then({
          framework: [
            'sagastream.InputRecorded',
            'sagastream.CompensationCompleted',
            'sagastream.ProcessCompensated',
          ],
          status: 'compensated',
        }));
  });

  describe('when the shipment fails', () => {
    const shipmentFailed = () =>
      given(OrderFulfillment, [
        anOrder('o1', { country: 'XX' }),
        new PaymentCharged('o1', 'ch1'),
        new InventoryReserved('o1'),
      ]).when(new ShipmentFailed('o1', 'no carrier'));

    it('releases the inventory first, then refunds: reverse order of registration', () =>
      shipmentFailed()
        .then({
          commands: [new CancelOrder('o1', 'shipment failed: no carrier'), new ReleaseInventory('o1')],
          status: 'compensating',
        })
        .succeedCommand(ReleaseInventory)
        .then({ commands: [new RefundPayment('o1', 'ch1')], status: 'compensating' })
        .succeedCommand(RefundPayment)
        .then({ commands: [], status: 'compensated' }));

    it('schedules each compensation exactly once, even when its success is reported twice', () => {
      const fixture = shipmentFailed().succeedCommand(ReleaseInventory);
      const release = fixture.processState().compensations.find((c) => c.step === 'ReleaseInventory');
      fixture.succeedCommand(RefundPayment);
      expect(() => fixture.succeedCommand(release?.commandId ?? '')).to.throw(/No unanswered command/);
      const outcome = fixture.engine.handle(
        fixture.processState(),
        { kind: 'commandSucceeded', commandId: release?.commandId ?? '' },
        fixture.now,
      );
      expect(outcome.outcome).to.equal('duplicate');
      const scheduled = fixture
        .stream()
        .filter((e) => e.type === 'sagastream.CompensationScheduled')
        .map((e) => e.data.step);
      expect(scheduled).to.deep.equal(['ReleaseInventory', 'RefundPayment']);
    });

    it('stops in compensationFailed, for an operator, when a compensation fails for good', () =>
      shipmentFailed()
        .failCommand(ReleaseInventory, 'warehouse offline')
        .then({
          framework: [
            'sagastream.InputRecorded',
            'sagastream.CompensationFailed',
            'sagastream.ProcessCompensationFailed',
          ],
          commands: [],
          status: 'compensationFailed',
        })
        .then({ state: (s) => expect(s.stage).to.equal('cancelling') }));

    it('never schedules the refund after the release failed', () => {
      const fixture = shipmentFailed().failCommand(ReleaseInventory, 'warehouse offline');
      expect(fixture.processState().compensations.map((c) => [c.step, c.status])).to.deep.equal([
        ['RefundPayment', 'registered'],
        ['ReleaseInventory', 'failed'],
      ]);
      expect(fixture.processState().compensations[1]?.error).to.deep.equal({ message: 'warehouse offline' });
    });
  });

  describe('when the payment service does not answer in time', () => {
    it('fires the timeout after 30 virtual minutes and cancels the order', () =>
      given(OrderFulfillment, [anOrder('o1')])
        .advanceTime(PAYMENT_TIMEOUT_MS - 1)
        .then({ commands: [], status: 'running' })
        .advanceTime(1)
        .then({
          framework: [
            'sagastream.InputRecorded',
            'sagastream.TimeoutFired',
            'sagastream.CommandScheduled',
            'sagastream.ProcessFailed',
            'sagastream.ProcessCompensated',
          ],
          commands: [new CancelOrder('o1', 'payment timed out')],
          status: 'compensated',
        }));

    it('does not fire a timeout that the payment cancelled', () =>
      given(OrderFulfillment, [anOrder('o1'), new PaymentCharged('o1', 'ch1')])
        .advanceTime(2 * PAYMENT_TIMEOUT_MS)
        .then({ commands: [], status: 'running' }));
  });

  describe('when ChargePayment fails for good', () => {
    it('runs the @OnCommandFailed handler, which cancels the order', () =>
      given(OrderFulfillment, [anOrder('o1')])
        .failCommand(ChargePayment, 'card expired')
        .then({ commands: [new CancelOrder('o1', 'payment failed: card expired')], status: 'compensated' }));
  });

  describe('when ReserveInventory fails for good (no failure handler)', () => {
    it('fails the process and refunds the charge', () =>
      given(OrderFulfillment, [
        anOrder('o1'),
        new PaymentCharged('o1', 'ch1'),
        commandFails(ReserveInventory, 'down'),
      ])
        .succeedCommand(RefundPayment)
        .then({ status: 'compensated' })
        .then({ state: (s) => expect(s.stage).to.equal('reserving') }));

    it('records why the process failed', () => {
      const fixture = given(OrderFulfillment, [
        anOrder('o1'),
        new PaymentCharged('o1', 'ch1'),
        commandFails(ReserveInventory, 'down'),
      ]);
      expect(fixture.processState().failure).to.match(/^command ReserveInventory \(.+\) failed: down$/);
    });
  });

  describe('when events for two orders interleave', () => {
    it('routes each event to its own instance by correlation', () => {
      const fixture = given(OrderFulfillment, [
        anOrder('o1'),
        anOrder('o2', { total: 7 }),
        new PaymentCharged('o2', 'ch2'),
      ]);
      expect(fixture.state('o1').stage).to.equal('charging');
      expect(fixture.state('o2').stage).to.equal('reserving');
      expect(fixture.processState('o2').stream).to.equal('orderFulfillment-o2');
    });
  });

  describe('when the same event is delivered twice', () => {
    it('handles it once and reports the second delivery as a duplicate', () =>
      given(OrderFulfillment, [anOrder('o1')])
        .when(new PaymentCharged('o1', 'ch1'))
        .then({ commands: [new ReserveInventory('o1', items)] })
        .redeliver()
        .then({ outcome: 'duplicate', commands: [], events: [] }));
  });

  describe('when an event arrives before its order was placed', () => {
    it('records it as ignored instead of dropping it', () => {
      const fixture = given(OrderFulfillment)
        .when(new PaymentCharged('o9', 'ch9'))
        .then({
          outcome: 'beforeStart',
          framework: ['sagastream.InputIgnored'],
          status: 'new',
        });
      expect(fixture.lastDecisions[0]?.decision.detail).to.match(
        /PaymentCharged .* arrived before orderFulfillment-o9 started/,
      );
    });
  });

  describe('when an event arrives after the process finished', () => {
    it('records it as ignored and leaves the outcome alone', () =>
      given(OrderFulfillment, [anOrder('o1', { total: 20000 }), new PaymentDeclined('o1', 'limit')])
        .when(new PaymentCharged('o1', 'late'))
        .then({
          outcome: 'afterFinish',
          framework: ['sagastream.InputIgnored'],
          commands: [],
          status: 'compensated',
        }));
  });

  describe('when a history mixes steps', () => {
    it('accepts time passing and command outcomes as history', () =>
      given(OrderFulfillment, [
        anOrder('o1'),
        timePasses(PAYMENT_TIMEOUT_MS),
        commandSucceeds(CancelOrder),
      ]).then({
        status: 'compensated',
      }));
  });
});
