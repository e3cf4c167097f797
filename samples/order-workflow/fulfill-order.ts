import { NonRetryableError } from '../../lib/errors';
import { createWorkflow } from '../../lib/workflow/create-workflow';
import type { OrderPlaced, SimulatedServices } from './services';

/**
 * The order fulfilment as a step workflow: charge, reserve, ship, each a recorded step
 * with its compensation, then close the order. A declined payment, missing stock or an
 * unavailable carrier fails the run; the registered compensations then run newest first
 * (release the stock, refund, cancel the order).
 */
export function fulfillOrderWorkflow(services: SimulatedServices) {
  return createWorkflow<OrderPlaced>(
    {
      id: 'fulfillOrder',
      triggers: [{ event: 'OrderPlaced' }],
      retry: { maxAttempts: 10, backoff: { initialDelayMs: 5, maxDelayMs: 50 } },
    },
    async ({ event, step }) => {
      const order = event.data;
      step.compensate('accept-order', ({ idempotencyKey }) =>
        services.closeOrder(idempotencyKey, order.orderId, { cancelled: 'fulfilment failed' }),
      );
      const payment = await step.run('charge-payment', async ({ idempotencyKey }) => {
        const charged = await services.charge(idempotencyKey, order);
        if (!charged.ok) throw new NonRetryableError('Payment declined');
        return charged;
      });
      step.compensate('charge-payment', ({ idempotencyKey }) =>
        services.refund(idempotencyKey, order.orderId, payment.id),
      );
      const reservation = await step.run('reserve-inventory', async ({ idempotencyKey }) => {
        const reserved = await services.reserve(idempotencyKey, order);
        if (!reserved.ok) throw new NonRetryableError('Out of stock');
        return reserved;
      });
      step.compensate('reserve-inventory', ({ idempotencyKey }) =>
        services.release(idempotencyKey, order.orderId, reservation.id),
      );
      await step.run('create-shipment', async ({ idempotencyKey }) => {
        const label = await services.createLabel(idempotencyKey, order);
        if (!label.ok) throw new NonRetryableError('Shipping unavailable');
        return label;
      });
      await step.run('complete-order', ({ idempotencyKey }) =>
        services.closeOrder(idempotencyKey, order.orderId, {}),
      );
    },
  );
}
