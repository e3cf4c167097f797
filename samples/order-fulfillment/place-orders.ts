import { v4 as uuid } from 'uuid';
import type { EventStore } from '../../lib/store/event-store';
import type { OrderLine } from './messages';

/** An order as the shop places it (the `OrderPlaced` payload). */
export interface PlacedOrderData {
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly OrderLine[];
  readonly total: number;
  readonly shippingAddress: { readonly country: string };
}

/** Options of {@link generateOrders}. */
export interface GenerateOrdersOptions {
  /** Seed of the generator, so a run can be repeated. @default 1 */
  readonly seed?: number;
  /** Share of orders that take each failure path (declined, out of stock, undeliverable). @default 0.1 */
  readonly failureShare?: number;
}

/** A small deterministic PRNG (mulberry32): the same seed gives the same orders. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Generates `count` orders. `failureShare` of them fail, split evenly between the
 * three failure rules: a total above 10000, an `OOS-` sku, and country `XX`.
 */
export function generateOrders(count: number, options: GenerateOrdersOptions = {}): PlacedOrderData[] {
  const random = prng(options.seed ?? 1);
  const failureShare = options.failureShare ?? 0.1;
  const orders: PlacedOrderData[] = [];
  for (let i = 0; i < count; i++) {
    const roll = random();
    const failure = roll < failureShare ? Math.floor((roll / failureShare) * 3) : -1;
    const items: OrderLine[] = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, n) => ({
      sku: `${failure === 1 && n === 0 ? 'OOS-' : 'SKU-'}${100 + Math.floor(random() * 900)}`,
      quantity: 1 + Math.floor(random() * 3),
      price: failure === 0 ? 6000 : Math.round(random() * 20000) / 100,
    }));
    const total = Math.round(items.reduce((sum, line) => sum + line.quantity * line.price, 0) * 100) / 100;
    orders.push({
      orderId: uuid(),
      customerId: `customer-${Math.floor(random() * 1000)}`,
      items,
      total,
      shippingAddress: {
        country: failure === 2 ? 'XX' : ['DE', 'FR', 'NL', 'US'][Math.floor(random() * 4)]!,
      },
    });
  }
  return orders;
}

/** Appends `OrderPlaced` to `order-<orderId>` (the shop's side of the sample). */
export async function placeOrder(store: EventStore, order: PlacedOrderData): Promise<void> {
  await store.append(
    `order-${order.orderId}`,
    [{ id: uuid(), type: 'OrderPlaced', data: order, metadata: { $correlationId: order.orderId } }],
    { expectedRevision: 'no_stream' },
  );
}

/**
 * Places `orders` with up to `concurrency` appends in flight, calling `onPlaced` after each.
 *
 * @param concurrency appends in flight. @default 16
 */
export async function placeOrders(
  store: EventStore,
  orders: readonly PlacedOrderData[],
  onPlaced?: (placed: number) => void,
  concurrency = 16,
): Promise<void> {
  let next = 0;
  let placed = 0;
  const worker = async () => {
    for (let i = next++; i < orders.length; i = next++) {
      await placeOrder(store, orders[i] as PlacedOrderData);
      onPlaced?.(++placed);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
}
