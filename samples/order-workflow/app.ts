import { randomUUID } from 'node:crypto';
import { ProcessEventTypes as P } from '../../lib/process/process-events';
import { silentLogger } from '../../lib/runtime/logger';
import { ProcessRuntime } from '../../lib/runtime/process-runtime';
import type { EventStore } from '../../lib/store/event-store';
import { LocalEventStore } from '../../lib/store/local/local-event-store';
import { fulfillOrderWorkflow } from './fulfill-order';
import { type OrderPlaced, SimulatedServices, type SimulatedServicesOptions } from './services';

/** What became of one order. */
export interface OrderOutcome {
  readonly orderId: string;
  /** The run's terminal event, e.g. `sagastream.ProcessCompleted`. */
  readonly run: string;
  /** Event types of the order's domain streams, in order. */
  readonly payment: string[];
  readonly inventory: string[];
  readonly shipment: string[];
  readonly order: string[];
}

/** Four orders: one that ships, and one for each failure rule. */
export function sampleOrders(): OrderPlaced[] {
  const order = (orderId: string, patch: Partial<OrderPlaced> = {}): OrderPlaced => ({
    orderId,
    customerId: 'c1',
    items: [{ sku: 'BOOK-1', quantity: 1, price: 20 }],
    total: 20,
    shippingAddress: { country: 'FR' },
    ...patch,
  });
  return [
    order('ok'),
    order('declined', { total: 20_000 }),
    order('oos', { items: [{ sku: 'OOS-LAMP', quantity: 1, price: 20 }] }),
    order('noship', { shippingAddress: { country: 'XX' } }),
  ];
}

/**
 * Places `orders` on `store`, runs the `fulfillOrder` workflow until every run has ended,
 * and reads each outcome back from the streams.
 */
export async function runOrderWorkflowSample(
  store: EventStore,
  orders: readonly OrderPlaced[] = sampleOrders(),
  services: SimulatedServicesOptions = {},
): Promise<OrderOutcome[]> {
  const runtime = new ProcessRuntime({ store, logger: silentLogger }).register(
    fulfillOrderWorkflow(new SimulatedServices(store, services)),
  );
  await runtime.start();
  try {
    const runs = new Map<string, string>();
    for (const order of orders) {
      const id = randomUUID();
      runs.set(order.orderId, id);
      await store.append(`order-${order.orderId}`, [{ id, type: 'OrderPlaced', data: { ...order } }]);
    }
    const terminal = new Set<string>([P.ProcessCompleted, P.ProcessCompensated, P.ProcessCompensationFailed]);
    const outcomes: OrderOutcome[] = [];
    const types = async (stream: string) => (await store.readStream(stream)).map((e) => e.type);
    for (const order of orders) {
      const stream = `fulfillOrder-${runs.get(order.orderId) ?? ''}`;
      let run: string | undefined;
      const deadline = Date.now() + 30_000;
      while ((run = (await types(stream)).find((t) => terminal.has(t))) === undefined) {
        if (Date.now() > deadline) throw new Error(`Run ${stream} did not end within 30 s.`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      outcomes.push({
        orderId: order.orderId,
        run,
        payment: await types(`payment-${order.orderId}`),
        inventory: await types(`inventory-${order.orderId}`),
        shipment: await types(`shipment-${order.orderId}`),
        order: (await types(`order-${order.orderId}`)).filter((t) => t !== 'OrderPlaced'),
      });
    }
    return outcomes;
  } finally {
    await runtime.stop();
  }
}

if (require.main === module) {
  void (async () => {
    const store = await LocalEventStore.open({ memory: true });
    const outcomes = await runOrderWorkflowSample(store, sampleOrders(), { transientFailureRate: 0.2 });
    console.table(
      outcomes.map((o) => ({
        order: o.orderId,
        run: o.run.replace('sagastream.', ''),
        payment: o.payment.join(' > '),
        inventory: o.inventory.join(' > '),
        shipment: o.shipment.join(' > '),
        closed: o.order.join(' > '),
      })),
    );
    await store.close();
  })();
}
