import { Apply, Event, On, ProcessManager, StartedBy } from '../../lib/decorators';
import type { ProcessContext } from '../../lib/process/process-context';
import { CancellationReasons } from './outcome';
import {
  ChargePayment,
  CloseOrder,
  CreateShipment,
  InventoryReservationFailed,
  InventoryReserved,
  type OrderLine,
  OrderPlaced,
  PaymentCharged,
  PaymentDeclined,
  RefundPayment,
  ReleaseInventory,
  ReserveInventory,
  ShipmentCreated,
  ShipmentFailed,
} from './messages';

/** The process's own event: what it keeps from the order to drive the next steps. */
@Event('FulfillmentStarted')
export class FulfillmentStarted {
  constructor(
    readonly orderId: string,
    readonly items: readonly OrderLine[],
    readonly country: string,
  ) {}
}

type Ctx = ProcessContext<OrderFulfillment>;

/**
 * Charges the payment, reserves inventory, creates the shipment and closes the order.
 * Each step that succeeds registers its undo; a failure cancels the order and runs the
 * undos in reverse (release the inventory, then refund the payment).
 */
@ProcessManager({ name: 'orderFulfillment' })
export class OrderFulfillment {
  orderId = '';
  items: OrderLine[] = [];
  country = '';

  @StartedBy(OrderPlaced, (e) => e.orderId)
  placed(e: OrderPlaced, ctx: Ctx): void {
    ctx.record(new FulfillmentStarted(e.orderId, e.items, e.shippingAddress.country));
    ctx.dispatch(new ChargePayment(e.orderId, e.total));
  }

  @Apply(FulfillmentStarted)
  started(e: FulfillmentStarted): void {
    this.orderId = e.orderId;
    this.items = [...e.items];
    this.country = e.country;
  }

  @On(PaymentCharged, (e) => e.orderId)
  charged(e: PaymentCharged, ctx: Ctx): void {
    ctx.compensateWith(new RefundPayment(e.orderId, e.chargeId, e.amount), 'refund-payment');
    ctx.dispatch(new ReserveInventory(e.orderId, this.items));
  }

  @On(PaymentDeclined, (e) => e.orderId)
  declined(e: PaymentDeclined, ctx: Ctx): void {
    this.cancel(ctx, CancellationReasons.paymentDeclined);
  }

  @On(InventoryReserved, (e) => e.orderId)
  reserved(e: InventoryReserved, ctx: Ctx): void {
    ctx.compensateWith(new ReleaseInventory(e.orderId, e.reservationId), 'release-inventory');
    ctx.dispatch(new CreateShipment(e.orderId, this.country));
  }

  @On(InventoryReservationFailed, (e) => e.orderId)
  outOfStock(_e: InventoryReservationFailed, ctx: Ctx): void {
    this.cancel(ctx, CancellationReasons.outOfStock);
  }

  @On(ShipmentCreated, (e) => e.orderId)
  shipped(_e: ShipmentCreated, ctx: Ctx): void {
    ctx.dispatch(new CloseOrder(this.orderId));
    ctx.complete();
  }

  @On(ShipmentFailed, (e) => e.orderId)
  shipmentFailed(_e: ShipmentFailed, ctx: Ctx): void {
    this.cancel(ctx, CancellationReasons.shipmentFailed);
  }

  private cancel(ctx: Ctx, reason: string): void {
    ctx.dispatch(new CloseOrder(this.orderId, reason));
    ctx.fail(reason);
  }
}
