import type { EventStore } from '../../lib/store/event-store';

/** An order as the shop appends it (`OrderPlaced` in `order-<orderId>`). */
export interface OrderPlaced {
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly { readonly sku: string; readonly quantity: number; readonly price: number }[];
  readonly total: number;
  readonly shippingAddress: { readonly country: string };
}

/** Thrown at the configured rate by the simulated services; retrying helps. */
export class SimulatedTransientError extends Error {
  constructor(where: string) {
    super(`simulated transient failure in ${where}`);
    this.name = 'SimulatedTransientError';
  }
}

/** Options of {@link SimulatedServices}. */
export interface SimulatedServicesOptions {
  /** Probability (0..1) that a call throws a transient error (before or after its write). @default 0 */
  readonly transientFailureRate?: number;
  /** @default Math.random */
  readonly random?: () => number;
}

/**
 * Payments, inventory and shipping, simulated: each call writes its outcome to the order's
 * domain stream (`payment-<id>`, `inventory-<id>`, `shipment-<id>`, `order-<id>`) with the
 * caller's idempotency key as event id, so a repeated call changes nothing, as a real
 * service behind a workflow engine must behave.
 */
export class SimulatedServices {
  private readonly rate: number;
  private readonly random: () => number;

  constructor(
    private readonly store: EventStore,
    options: SimulatedServicesOptions = {},
  ) {
    this.rate = options.transientFailureRate ?? 0;
    this.random = options.random ?? Math.random;
  }

  /** Charges the customer; declines totals over 10000. */
  async charge(key: string, order: OrderPlaced): Promise<{ ok: boolean; id: string }> {
    const ok = order.total <= 10_000;
    await this.write('payments', `payment-${order.orderId}`, key, ok ? 'PaymentCharged' : 'PaymentDeclined', {
      orderId: order.orderId,
      amount: order.total,
    });
    return { ok, id: key };
  }

  async refund(key: string, orderId: string, paymentId: string): Promise<void> {
    await this.write('payments', `payment-${orderId}`, key, 'PaymentRefunded', { orderId, paymentId });
  }

  /** Reserves the items; fails for skus starting with `OOS-`. */
  async reserve(key: string, order: OrderPlaced): Promise<{ ok: boolean; id: string }> {
    const ok = !order.items.some((item) => item.sku.startsWith('OOS-'));
    await this.write(
      'inventory',
      `inventory-${order.orderId}`,
      key,
      ok ? 'InventoryReserved' : 'InventoryReservationFailed',
      { orderId: order.orderId },
    );
    return { ok, id: key };
  }

  async release(key: string, orderId: string, reservationId: string): Promise<void> {
    await this.write('inventory', `inventory-${orderId}`, key, 'InventoryReleased', {
      orderId,
      reservationId,
    });
  }

  /** Creates a shipping label; shipping to country `XX` is unavailable. */
  async createLabel(key: string, order: OrderPlaced): Promise<{ ok: boolean; trackingNumber?: string }> {
    const ok = order.shippingAddress.country !== 'XX';
    await this.write(
      'shipping',
      `shipment-${order.orderId}`,
      key,
      ok ? 'ShipmentCreated' : 'ShipmentFailed',
      {
        orderId: order.orderId,
      },
    );
    return ok ? { ok, trackingNumber: `TRK-${order.orderId}` } : { ok };
  }

  /** Closes the order: `OrderCompleted`, or `OrderCancelled { reason }`. */
  async closeOrder(key: string, orderId: string, outcome: { cancelled?: string }): Promise<void> {
    const type = outcome.cancelled === undefined ? 'OrderCompleted' : 'OrderCancelled';
    await this.write('orders', `order-${orderId}`, key, type, {
      orderId,
      ...(outcome.cancelled === undefined ? {} : { reason: outcome.cancelled }),
    });
  }

  private async write(
    where: string,
    stream: string,
    id: string,
    type: string,
    data: Record<string, unknown>,
  ) {
    // Fail before or after the write: the second case is a lost acknowledgement.
    if (this.random() < this.rate / 2) throw new SimulatedTransientError(where);
    await this.store.append(stream, [{ id, type, data }]);
    if (this.random() < this.rate / 2) throw new SimulatedTransientError(where);
  }
}
