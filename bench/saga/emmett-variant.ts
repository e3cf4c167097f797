// Variant "emmett": the order saga written idiomatically on Emmett 0.42 in memory, the peer
// of sagastream on back-end A. Emmett 0.42 exports no workflow processor, and its
// `inMemoryReactor` has no in-memory consumer to feed it from the event store, so the
// wiring Emmett 0.42 offers in memory is used: `getInMemoryEventStore` with the
// `forwardToMessageBus` after-commit hook into `getInMemoryMessageBus`; the process manager
// subscribes to the services' events on the bus and decides with `CommandHandler` on its
// own stream `orderFulfillment-<id>` (state rebuilt from the stream, one append per input
// with the dedupe record and the decision, as sagastream does); the services are command
// handlers on the bus (`bus.handle`), each a `CommandHandler` on its domain stream,
// idempotent by command id. The same business work as the sample: charge, reserve, ship,
// close, and on a failure release then refund.
import {
  CommandHandler,
  type Event,
  type InMemoryEventStore,
  type ReadEvent,
  STREAM_DOES_NOT_EXIST,
  forwardToMessageBus,
  getInMemoryEventStore,
  getInMemoryMessageBus,
} from '@event-driven-io/emmett';
import type { OrderLine } from '../../samples/order-fulfillment/messages';
import type { PlacedOrderData } from '../../samples/order-fulfillment/place-orders';
import { runAsChild } from '../harness/child';
import { peerRecord, readBackStore } from './read-back-store';
import { Completion, type SagaChildInput, TERMINAL_PROCESS_EVENTS, measureSagas } from './workload';

type Data = Record<string, unknown>;
type AnyEvent = Event<string, Data>;
interface Cmd {
  readonly type: string;
  readonly data: Data & { readonly orderId: string; readonly commandId: string };
}

const ev = (type: string, data: Data): AnyEvent => ({ type, data, kind: 'Event' });

// ---- the process manager

interface Compensation {
  readonly step: string;
  readonly command: { readonly type: string; readonly data: Data };
  scheduled: boolean;
}
interface ProcessState {
  orderId: string;
  items: readonly OrderLine[];
  country: string;
  readonly handled: Set<string>;
  readonly compensations: Compensation[];
}

const initialProcess = (): ProcessState => ({
  orderId: '',
  items: [],
  country: '',
  handled: new Set(),
  compensations: [],
});

function evolveProcess(state: ProcessState, event: AnyEvent): ProcessState {
  const d = event.data;
  switch (event.type) {
    case 'InputRecorded':
      state.handled.add(d.eventId as string);
      break;
    case 'FulfillmentStarted':
      state.orderId = d.orderId as string;
      state.items = d.items as OrderLine[];
      state.country = d.country as string;
      break;
    case 'CompensationRegistered':
      state.compensations.push({
        step: d.step as string,
        command: d.command as Compensation['command'],
        scheduled: false,
      });
      break;
    case 'CompensationScheduled': {
      const step = state.compensations.find((c) => c.step === d.step);
      if (step) step.scheduled = true;
      break;
    }
  }
  return state;
}

const handleProcess = CommandHandler<ProcessState, AnyEvent>({
  evolve: evolveProcess,
  initialState: initialProcess,
  mapToStreamId: (orderId) => `orderFulfillment-${orderId}`,
});

const commandId = (orderId: string, inputId: string) => `${orderId}/${inputId}/command`;

/** The events one input appends to the process stream (the decision), or none if it was seen. */
function decide(state: ProcessState, input: ReadEvent<AnyEvent>): AnyEvent[] {
  const inputId = input.metadata.messageId;
  if (state.handled.has(inputId)) return [];
  const d = input.data;
  const orderId = d.orderId as string;
  const recorded = ev('InputRecorded', { eventId: inputId, type: input.type });
  const command = (type: string, data: Data) =>
    ev('CommandScheduled', { type, data: { ...data, orderId, commandId: commandId(orderId, inputId) } });
  const cancel = (reason: string) => {
    const next = [...state.compensations].reverse().find((c) => !c.scheduled);
    return [
      recorded,
      command('CloseOrder', { reason }),
      ev('ProcessFailed', { reason }),
      next ? schedule(next) : ev('ProcessCompensated', { reason }),
    ];
  };
  const schedule = (c: Compensation) =>
    ev('CompensationScheduled', {
      step: c.step,
      type: c.command.type,
      data: { ...c.command.data, orderId, commandId: `${orderId}/compensation/${c.step}` },
    });
  switch (input.type) {
    case 'OrderPlaced': {
      const order = d as unknown as PlacedOrderData;
      return [
        ev('ProcessStarted', { orderId }),
        recorded,
        ev('FulfillmentStarted', { orderId, items: order.items, country: order.shippingAddress.country }),
        command('ChargePayment', { amount: order.total }),
      ];
    }
    case 'PaymentCharged':
      return [
        recorded,
        ev('CompensationRegistered', {
          step: 'refund-payment',
          command: { type: 'RefundPayment', data: { chargeId: d.chargeId, amount: d.amount } },
        }),
        command('ReserveInventory', { items: state.items }),
      ];
    case 'InventoryReserved':
      return [
        recorded,
        ev('CompensationRegistered', {
          step: 'release-inventory',
          command: { type: 'ReleaseInventory', data: { reservationId: d.reservationId } },
        }),
        command('CreateShipment', { country: state.country }),
      ];
    case 'ShipmentCreated':
      return [recorded, command('CloseOrder', {}), ev('ProcessCompleted', {})];
    case 'PaymentDeclined':
      return cancel('payment-declined');
    case 'InventoryReservationFailed':
      return cancel('out-of-stock');
    case 'ShipmentFailed':
      return cancel('shipment-failed');
    case 'InventoryReleased':
    case 'PaymentRefunded': {
      const next = [...state.compensations].reverse().find((c) => !c.scheduled);
      return [
        recorded,
        ev('CompensationCompleted', { type: input.type }),
        next ? schedule(next) : ev('ProcessCompensated', {}),
      ];
    }
    default:
      return [];
  }
}

// ---- the services: idempotent by command id, the sample's failure rules

interface ServiceState {
  readonly handled: Set<string>;
}
const handleService = CommandHandler<ServiceState, AnyEvent>({
  evolve: (state, event) => {
    state.handled.add((event as unknown as { metadata?: Data }).metadata?.commandId as string);
    return state;
  },
  initialState: () => ({ handled: new Set() }),
});

/** The event a command produces on its domain stream. */
function serviceEvent(command: Cmd): { stream: string; type: string; data: Data } {
  const { orderId, commandId: id } = command.data;
  const d = command.data;
  switch (command.type) {
    case 'ChargePayment':
      return (d.amount as number) > 10000
        ? {
            stream: 'payment',
            type: 'PaymentDeclined',
            data: { orderId, reason: 'amount above the 10000 limit' },
          }
        : {
            stream: 'payment',
            type: 'PaymentCharged',
            data: { orderId, chargeId: `charge/${id}`, amount: d.amount },
          };
    case 'RefundPayment':
      return {
        stream: 'payment',
        type: 'PaymentRefunded',
        data: { orderId, chargeId: d.chargeId, amount: d.amount },
      };
    case 'ReserveInventory': {
      const missing = (d.items as OrderLine[]).find((line) => line.sku.startsWith('OOS-'));
      return missing
        ? { stream: 'inventory', type: 'InventoryReservationFailed', data: { orderId, sku: missing.sku } }
        : {
            stream: 'inventory',
            type: 'InventoryReserved',
            data: { orderId, reservationId: `reservation/${id}` },
          };
    }
    case 'ReleaseInventory':
      return {
        stream: 'inventory',
        type: 'InventoryReleased',
        data: { orderId, reservationId: d.reservationId },
      };
    case 'CreateShipment':
      return d.country === 'XX'
        ? { stream: 'shipment', type: 'ShipmentFailed', data: { orderId, reason: 'undeliverable address' } }
        : { stream: 'shipment', type: 'ShipmentCreated', data: { orderId, shipmentId: `shipment/${id}` } };
    case 'CloseOrder':
      return d.reason === undefined
        ? { stream: 'order', type: 'OrderCompleted', data: { orderId } }
        : { stream: 'order', type: 'OrderCancelled', data: { orderId, reason: d.reason } };
    default:
      throw new Error(`Unknown command ${command.type}`);
  }
}

const INPUTS = [
  'OrderPlaced',
  'PaymentCharged',
  'PaymentDeclined',
  'InventoryReserved',
  'InventoryReservationFailed',
  'ShipmentCreated',
  'ShipmentFailed',
  'InventoryReleased',
  'PaymentRefunded',
];
const COMMANDS = [
  'ChargePayment',
  'RefundPayment',
  'ReserveInventory',
  'ReleaseInventory',
  'CreateShipment',
  'CloseOrder',
];

function wire(completion: Completion): { store: InMemoryEventStore; stats: Record<string, number> } {
  const stats: Record<string, number> = { processAppends: 0, serviceAppends: 0, commands: 0 };
  const bus = getInMemoryMessageBus();
  const store = getInMemoryEventStore({ hooks: { onAfterCommit: forwardToMessageBus(bus) } });

  bus.handle(
    async (command: Cmd) => {
      stats.commands!++;
      const out = serviceEvent(command);
      await handleService(store, `${out.stream}-${command.data.orderId}`, (state) =>
        state.handled.has(command.data.commandId)
          ? []
          : [{ ...ev(out.type, out.data), metadata: { commandId: command.data.commandId } }],
      );
    },
    ...COMMANDS,
  );

  bus.subscribe(
    async (input: ReadEvent<AnyEvent>) => {
      const orderId = input.data.orderId as string;
      const { newEvents } = await handleProcess(store, orderId, (state) => decide(state, input));
      if (newEvents.length === 0) return;
      stats.processAppends!++;
      for (const e of newEvents) {
        if (e.type === 'CommandScheduled' || e.type === 'CompensationScheduled') {
          const { type, data } = e.data as { type: string; data: Cmd['data'] };
          await bus.send({ type, data, kind: 'Command' } as never);
        }
      }
    },
    ...INPUTS,
  );

  // Completion, as the other variants see it: the order's terminal event and the process's.
  bus.subscribe(
    (e: ReadEvent<AnyEvent>) => {
      completion.orderClosed(e.data.orderId as string);
      return Promise.resolve();
    },
    'OrderCompleted',
    'OrderCancelled',
  );
  bus.subscribe(
    (e: ReadEvent<AnyEvent>) => {
      completion.processFinished(e.metadata.streamName.slice('orderFulfillment-'.length));
      return Promise.resolve();
    },
    ...[...TERMINAL_PROCESS_EVENTS].map((t) => t.replace('sagastream.', '')),
  );
  return { store, stats };
}

runAsChild(async (input: SagaChildInput, ctx) => {
  const completion = new Completion();
  const { store, stats } = wire(completion);
  let statsAtReset = { ...stats };
  return measureSagas(input, ctx, {
    place: async (order) => {
      // Emmett's in-memory store runs a whole saga in promise jobs, never yielding to the
      // event loop: orders arrive from I/O in an application, and without a turn of the loop
      // the GC performance entries (and the watchdog) never run. One setImmediate per order.
      await new Promise<void>((resolve) => setImmediate(resolve));
      await store.appendToStream(`order-${order.orderId}`, [ev('OrderPlaced', order as unknown as Data)], {
        expectedStreamVersion: STREAM_DOES_NOT_EXIST,
      });
    },
    completion,
    resetCounts: () => {
      statsAtReset = { ...stats };
    },
    counts: () =>
      Object.fromEntries(Object.entries(stats).map(([k, v]) => [`emmett:${k}`, v - (statsAtReset[k] ?? 0)])),
    settle: () => Promise.resolve(),
    checker: readBackStore(async (stream) => {
      const { events } = await store.readStream<AnyEvent>(stream);
      return events.map((e, i) =>
        peerRecord(stream, i, { type: e.type, data: e.data, position: e.metadata.globalPosition }),
      );
    }),
    details: () => ({
      backend: 'Emmett 0.42.0 getInMemoryEventStore (in process)',
      api: 'getInMemoryEventStore + forwardToMessageBus(getInMemoryMessageBus()); process manager: bus.subscribe -> CommandHandler on orderFulfillment-<id> -> bus.send; services: bus.handle -> CommandHandler on their streams',
    }),
    close: () => Promise.resolve(),
  });
});
