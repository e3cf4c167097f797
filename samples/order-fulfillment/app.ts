import { MessageRegistry } from '../../lib/messages';
import { ProcessRuntime, type ProcessRuntimeOptions } from '../../lib/runtime/process-runtime';
import type { EventStore } from '../../lib/store/event-store';
import { orderFulfillmentMessages } from './messages';
import { FulfillmentStarted, OrderFulfillment } from './order-fulfillment';
import { type SimulatedServiceOptions, createSimulatedServices } from './services';

/** The categories the process consumes: the shop's orders and the services' results. */
export const ORDER_FULFILLMENT_CATEGORIES = ['order', 'payment', 'inventory', 'shipment'] as const;

/** A registry with every message class of the sample. */
export function orderFulfillmentRegistry(): MessageRegistry {
  return new MessageRegistry().register(...orderFulfillmentMessages, FulfillmentStarted);
}

/**
 * The sample wired up: the process manager and the simulated services on one runtime.
 * `services` tunes the simulated faults; the rest goes to the runtime.
 */
export function createOrderFulfillmentRuntime(
  store: EventStore,
  options: Omit<ProcessRuntimeOptions, 'store' | 'registry'> & {
    readonly services?: SimulatedServiceOptions;
  } = {},
): ProcessRuntime {
  const registry = orderFulfillmentRegistry();
  const { services, ...runtimeOptions } = options;
  return new ProcessRuntime({ ...runtimeOptions, store, registry })
    .register(OrderFulfillment, { categories: ORDER_FULFILLMENT_CATEGORIES })
    .registerCommandHandlers(...createSimulatedServices(store, registry, services));
}
