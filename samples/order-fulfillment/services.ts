import { v5 as uuidv5 } from 'uuid';
import { CommandHandler } from '../../lib/decorators';
import { WrongExpectedVersionError } from '../../lib/errors';
import { CAUSATION_ID, CORRELATION_ID, type MessageRegistry } from '../../lib/messages';
import type { CommandEnvelope } from '../../lib/runtime/command-bus';
import type { EventStore } from '../../lib/store/event-store';
import {
  ChargePayment,
  CloseOrder,
  CreateShipment,
  InventoryReleased,
  InventoryReservationFailed,
  InventoryReserved,
  OrderCancelled,
  OrderCompleted,
  PaymentCharged,
  PaymentDeclined,
  PaymentRefunded,
  RefundPayment,
  ReleaseInventory,
  ReserveInventory,
  ShipmentCreated,
  ShipmentFailed,
} from './messages';

/** Thrown by the simulated services at `SAMPLE_TRANSIENT_FAILURE_RATE`; retrying helps. */
export class SimulatedTransientError extends Error {
  constructor(where: string) {
    super(`simulated transient failure in ${where}`);
    this.name = 'SimulatedTransientError';
  }
}

/** Options shared by the simulated services. */
export interface SimulatedServiceOptions {
  /** Probability (0..1) that a call throws a transient error. @default SAMPLE_TRANSIENT_FAILURE_RATE or 0 */
  readonly transientFailureRate?: number;
  /** Randomness for the faults. @default Math.random */
  readonly random?: () => number;
}

/** The failure rate from `SAMPLE_TRANSIENT_FAILURE_RATE` (0 when unset or invalid). */
export function transientFailureRateFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const rate = Number(env.SAMPLE_TRANSIENT_FAILURE_RATE ?? 0);
  return Number.isFinite(rate) ? Math.min(1, Math.max(0, rate)) : 0;
}

const NAMESPACE = '6f1c2f52-2a51-4a37-9c0e-5b0f5a6c3d10';

/**
 * The part every simulated service shares: write the events a command produces to a
 * domain stream exactly once per command id, whatever the redeliveries, and fail
 * transiently at the configured rate (sometimes before writing, sometimes after, so
 * that a lost acknowledgement is simulated too).
 */
abstract class SimulatedService {
  private readonly rate: number;
  private readonly random: () => number;

  constructor(
    protected readonly store: EventStore,
    protected readonly registry: MessageRegistry,
    options: SimulatedServiceOptions = {},
  ) {
    this.rate = options.transientFailureRate ?? transientFailureRateFromEnv();
    this.random = options.random ?? Math.random;
  }

  protected async writeOnce(stream: string, envelope: CommandEnvelope, decide: () => object): Promise<void> {
    const where = `${this.constructor.name} (${envelope.type} ${envelope.commandId})`;
    if (this.random() < this.rate / 2) throw new SimulatedTransientError(where);
    for (;;) {
      const existing = await this.store.readStream(stream);
      if (existing.some((e) => e.metadata[CAUSATION_ID] === envelope.commandId)) break;
      const { type, data } = this.serialize(decide());
      const last = existing[existing.length - 1];
      try {
        await this.store.append(
          stream,
          [
            {
              id: uuidv5(`${envelope.commandId}/${type}`, NAMESPACE),
              type,
              data,
              metadata: { [CORRELATION_ID]: envelope.processId, [CAUSATION_ID]: envelope.commandId },
            },
          ],
          { expectedRevision: last ? last.revision : 'no_stream' },
        );
        break;
      } catch (error) {
        // A concurrent delivery of the same command won the race: re-read and find it.
        if (!(error instanceof WrongExpectedVersionError)) throw error;
      }
    }
    if (this.random() < this.rate / 2) throw new SimulatedTransientError(`${where}, after writing`);
  }

  /**
   * Type name and data of an event. The services' events are flat records of strings and
   * numbers, so their own fields are their JSON, as a hand-written service would write
   * them: no class-transformer walk per event. The registry still names the type (and
   * rejects an unregistered class).
   */
  private serialize(event: object): { type: string; data: Record<string, unknown> } {
    const type = this.registry.typeOf(event);
    if (type === undefined) return this.registry.serialize(event);
    return { type, data: { ...event } };
  }
}

/** Writes `payment-<orderId>`: charges above 10000 are declined. */
export class PaymentService extends SimulatedService {
  @CommandHandler(ChargePayment)
  charge(command: ChargePayment, envelope: CommandEnvelope): Promise<void> {
    return this.writeOnce(`payment-${command.orderId}`, envelope, () =>
      command.amount > 10000
        ? new PaymentDeclined(command.orderId, 'amount above the 10000 limit')
        : new PaymentCharged(command.orderId, uuidv5(envelope.commandId, NAMESPACE), command.amount),
    );
  }

  @CommandHandler(RefundPayment)
  refund(command: RefundPayment, envelope: CommandEnvelope): Promise<void> {
    return this.writeOnce(
      `payment-${command.orderId}`,
      envelope,
      () => new PaymentRefunded(command.orderId, command.chargeId, command.amount),
    );
  }
}

/** Writes `inventory-<orderId>`: skus starting with `OOS-` are out of stock. */
export class InventoryService extends SimulatedService {
  @CommandHandler(ReserveInventory)
  reserve(command: ReserveInventory, envelope: CommandEnvelope): Promise<void> {
    return this.writeOnce(`inventory-${command.orderId}`, envelope, () => {
      const missing = command.items.find((line) => line.sku.startsWith('OOS-'));
      return missing
        ? new InventoryReservationFailed(command.orderId, missing.sku)
        : new InventoryReserved(command.orderId, uuidv5(envelope.commandId, NAMESPACE));
    });
  }

  @CommandHandler(ReleaseInventory)
  release(command: ReleaseInventory, envelope: CommandEnvelope): Promise<void> {
    return this.writeOnce(
      `inventory-${command.orderId}`,
      envelope,
      () => new InventoryReleased(command.orderId, command.reservationId),
    );
  }
}

/** Writes `shipment-<orderId>`: country `XX` cannot be shipped to. */
export class ShippingService extends SimulatedService {
  @CommandHandler(CreateShipment)
  ship(command: CreateShipment, envelope: CommandEnvelope): Promise<void> {
    return this.writeOnce(`shipment-${command.orderId}`, envelope, () =>
      command.country === 'XX'
        ? new ShipmentFailed(command.orderId, `no carrier serves country ${command.country}`)
        : new ShipmentCreated(command.orderId, uuidv5(envelope.commandId, NAMESPACE)),
    );
  }
}

/** Writes the order's terminal event to `order-<orderId>`. */
export class OrderService extends SimulatedService {
  @CommandHandler(CloseOrder)
  close(command: CloseOrder, envelope: CommandEnvelope): Promise<void> {
    return this.writeOnce(`order-${command.orderId}`, envelope, () =>
      command.cancellationReason === undefined
        ? new OrderCompleted(command.orderId)
        : new OrderCancelled(command.orderId, command.cancellationReason),
    );
  }
}

/** Every simulated service of the sample, sharing one store and options. */
export function createSimulatedServices(
  store: EventStore,
  registry: MessageRegistry,
  options: SimulatedServiceOptions = {},
): object[] {
  return [
    new PaymentService(store, registry, options),
    new InventoryService(store, registry, options),
    new ShippingService(store, registry, options),
    new OrderService(store, registry, options),
  ];
}
