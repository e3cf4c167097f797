import { Command, Event } from '../../lib/decorators';

// Events and commands of the order-fulfillment sample. Stream names, type names and
// fields are the contract in DESIGN.md ("The reference sample"); tests outside the sample
// read them, so change neither without changing the contract.

/** One line of an order. */
export interface OrderLine {
  readonly sku: string;
  readonly quantity: number;
  readonly price: number;
}

/** The shop's event in `order-<orderId>` that starts fulfillment. */
@Event('OrderPlaced')
export class OrderPlaced {
  constructor(
    readonly orderId: string,
    readonly customerId: string,
    readonly items: readonly OrderLine[],
    readonly total: number,
    readonly shippingAddress: { readonly country: string },
  ) {}
}

/** In `order-<orderId>`: the order was fulfilled. */
@Event('OrderCompleted')
export class OrderCompleted {
  constructor(readonly orderId: string) {}
}

/** In `order-<orderId>`: the order was cancelled; `reason` is one of `CancellationReasons`. */
@Event('OrderCancelled')
export class OrderCancelled {
  constructor(
    readonly orderId: string,
    readonly reason: string,
  ) {}
}

/** In `payment-<orderId>`. */
@Event('PaymentCharged')
export class PaymentCharged {
  constructor(
    readonly orderId: string,
    readonly chargeId: string,
    readonly amount: number,
  ) {}
}

/** In `payment-<orderId>`: the charge was refused (totals above 10000). */
@Event('PaymentDeclined')
export class PaymentDeclined {
  constructor(
    readonly orderId: string,
    readonly reason: string,
  ) {}
}

/** In `payment-<orderId>`: the compensation of a charge. */
@Event('PaymentRefunded')
export class PaymentRefunded {
  constructor(
    readonly orderId: string,
    readonly chargeId: string,
    readonly amount: number,
  ) {}
}

/** In `inventory-<orderId>`. */
@Event('InventoryReserved')
export class InventoryReserved {
  constructor(
    readonly orderId: string,
    readonly reservationId: string,
  ) {}
}

/** In `inventory-<orderId>`: a sku starting with `OOS-` is out of stock. */
@Event('InventoryReservationFailed')
export class InventoryReservationFailed {
  constructor(
    readonly orderId: string,
    readonly sku: string,
  ) {}
}

/** In `inventory-<orderId>`: the compensation of a reservation. */
@Event('InventoryReleased')
export class InventoryReleased {
  constructor(
    readonly orderId: string,
    readonly reservationId: string,
  ) {}
}

/** In `shipment-<orderId>`. */
@Event('ShipmentCreated')
export class ShipmentCreated {
  constructor(
    readonly orderId: string,
    readonly shipmentId: string,
  ) {}
}

/** In `shipment-<orderId>`: the address cannot be served (country `XX`). */
@Event('ShipmentFailed')
export class ShipmentFailed {
  constructor(
    readonly orderId: string,
    readonly reason: string,
  ) {}
}

/** Charge the order's total. */
@Command('ChargePayment')
export class ChargePayment {
  constructor(
    readonly orderId: string,
    readonly amount: number,
  ) {}
}

/** Give a charge back (compensation). */
@Command('RefundPayment')
export class RefundPayment {
  constructor(
    readonly orderId: string,
    readonly chargeId: string,
    readonly amount: number,
  ) {}
}

/** Reserve the order's items. */
@Command('ReserveInventory')
export class ReserveInventory {
  constructor(
    readonly orderId: string,
    readonly items: readonly OrderLine[],
  ) {}
}

/** Give a reservation back (compensation). */
@Command('ReleaseInventory')
export class ReleaseInventory {
  constructor(
    readonly orderId: string,
    readonly reservationId: string,
  ) {}
}

/** Create the shipment. */
@Command('CreateShipment')
export class CreateShipment {
  constructor(
    readonly orderId: string,
    readonly country: string,
  ) {}
}

/** Write the order's terminal event (`OrderCompleted` or `OrderCancelled`). */
@Command('CloseOrder')
export class CloseOrder {
  constructor(
    readonly orderId: string,
    /** Undefined when the order completed. */
    readonly cancellationReason?: string,
  ) {}
}

/** Every message class of the sample, for registration in a `MessageRegistry`. */
export const orderFulfillmentMessages = [
  OrderPlaced,
  OrderCompleted,
  OrderCancelled,
  PaymentCharged,
  PaymentDeclined,
  PaymentRefunded,
  InventoryReserved,
  InventoryReservationFailed,
  InventoryReleased,
  ShipmentCreated,
  ShipmentFailed,
  ChargePayment,
  RefundPayment,
  ReserveInventory,
  ReleaseInventory,
  CreateShipment,
  CloseOrder,
] as const;
