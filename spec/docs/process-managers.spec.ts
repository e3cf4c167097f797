// The examples in docs/process-managers.md, run against the sample, so the docs cannot rot.
import { given } from '../../lib/testing';
import {
  CloseOrder,
  InventoryReservationFailed,
  OrderPlaced,
  PaymentCharged,
  RefundPayment,
} from '../../samples/order-fulfillment/messages';
import { OrderFulfillment } from '../../samples/order-fulfillment/order-fulfillment';

const anOrder = (orderId: string) =>
  new OrderPlaced(orderId, 'c1', [{ sku: 'OOS-1', quantity: 1, price: 99 }], 99, { country: 'NL' });

describe('docs/process-managers.md', () => {
  describe('when the stock is missing after the payment was charged', () => {
    it('refunds the charge and starts compensating', () =>
      given(OrderFulfillment, [anOrder('o1'), new PaymentCharged('o1', 'c1', 99)])
        .when(new InventoryReservationFailed('o1', 'OOS-1'))
        .then({
          commands: [new CloseOrder('o1', 'out-of-stock'), new RefundPayment('o1', 'c1', 99)],
          status: 'compensating',
        }));
  });
});
