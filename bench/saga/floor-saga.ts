// The floor of bench:saga and bench:latency: the order-fulfillment saga written by hand,
// doing the store work a careful hand-written implementation needs and nothing more:
// - the same appends as the framework: OrderPlaced; one append to orderFulfillment-<id>
//   per input, with the same events (dedupe record, decision, commands, compensations);
//   the services' read-then-append on their domain streams (the sample's services);
// - state and revision kept in memory, so the process stream is never read;
// - inputs from $ce-order/payment/inventory/shipment and an outbox relay on
//   $ce-orderFulfillment (one consumer), each storing a checkpoint every 512 events
//   or 1 s, never ahead of the work.
// It runs on a small store interface (floor-store.ts): @eventstore/db-client to the
// embedded server (back-end B, `floor`) or the framework's EventStore port on
// LocalEventStore in process (back-end A, `floor-a`).
import { hash } from 'node:crypto';
import type { OrderLine } from '../../samples/order-fulfillment/messages';
import type { PlacedOrderData } from '../../samples/order-fulfillment/place-orders';
import type { OpCounts } from './counting-event-store';
import type { FloorData, FloorStore } from './floor-store';
import { classifyStream } from './streams';
import { Completion } from './workload';

const COMMAND_NAMESPACE = uuidBytes('f4b3c1de-5a2b-4c55-9a0e-6d2f1b7c8e90');
const SERVICE_NAMESPACE = uuidBytes('6f1c2f52-2a51-4a37-9c0e-5b0f5a6c3d10');

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replaceAll('-', ''), 'hex');
}

/**
 * RFC 4122 version-5 UUID (the same ids as the `uuid` package's v5) with the namespace
 * parsed once: the package parses and validates it on every call, which cost the floor
 * ~80 us per saga on back-end A, 12% of its CPU, work no careful hand-written saga does.
 */
function uuidv5(name: string, namespace: Buffer): string {
  const digest = hash(
    'sha1',
    Buffer.concat([namespace, Buffer.from(name, 'utf8')]),
    'buffer',
  ) as unknown as Buffer;
  digest[6] = (digest[6]! & 0x0f) | 0x50;
  digest[8] = (digest[8]! & 0x3f) | 0x80;
  const hex = digest.toString('hex', 0, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
const CHECKPOINT_EVERY = 512;
const CHECKPOINT_INTERVAL_MS = 1000;

type Data = FloorData;
interface Out {
  readonly type: string;
  readonly data: Data;
}
interface Compensation {
  readonly step: string;
  readonly command: Out;
  commandId?: string;
}
interface Instance {
  readonly orderId: string;
  revision: bigint;
  items: readonly OrderLine[];
  country: string;
  readonly handled: Set<string>;
  readonly compensations: Compensation[];
  finished: boolean;
  /** Inputs of one instance run one after another. */
  chain: Promise<void>;
}

/** Safe-checkpoint tracking: the position below which every event's work is done. */
class Checkpoints {
  private readonly positions: bigint[] = [];
  private readonly done: boolean[] = [];
  private head = 0;
  private safe: bigint | undefined;
  private stored: bigint | undefined;
  private since = 0;

  constructor(
    private readonly name: string,
    private readonly write: (name: string, position: bigint) => Promise<void>,
  ) {}

  track(position: bigint): () => void {
    const index = this.positions.length;
    this.positions.push(position);
    this.done.push(false);
    return () => {
      this.done[index] = true;
      while (this.head < this.done.length && this.done[this.head]) this.safe = this.positions[this.head++];
      if (this.head > 4096 && this.head * 2 > this.positions.length) {
        this.positions.splice(0, this.head);
        this.done.splice(0, this.head);
        this.head = 0;
      }
      if (++this.since >= CHECKPOINT_EVERY) this.flush();
    };
  }

  flush(): void {
    const safe = this.safe;
    if (safe === undefined || (this.stored !== undefined && safe <= this.stored)) return;
    this.stored = safe;
    this.since = 0;
    void this.write(this.name, safe).catch(() => undefined);
  }
}

export class FloorSaga {
  readonly completion = new Completion();
  private readonly instances = new Map<string, Instance>();
  private tally: OpCounts = {};
  private readonly subscriptions: { unsubscribe(): Promise<void> }[] = [];
  private readonly checkpoints: Checkpoints[] = [];
  private readonly checkpointRevisions = new Map<string, bigint>();
  private readonly checkpointWrites = new Map<string, Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private busy = 0;
  private lastEventAt = 0;

  /**
   * @param onFirstDecision called when an instance's first decision is acknowledged
   *   (bench:latency's first-hop latency).
   */
  constructor(
    private readonly store: FloorStore,
    private readonly onFirstDecision?: (orderId: string) => void,
  ) {}

  counts(): OpCounts {
    return { ...this.tally };
  }

  resetCounts(): void {
    this.tally = {};
  }

  private add(key: string, n = 1): void {
    this.tally[key] = (this.tally[key] ?? 0) + n;
  }

  async start(): Promise<void> {
    const sources = ['order', 'payment', 'inventory', 'shipment', 'orderFulfillment'];
    // Checkpoint streams keep only their last event (set once, before any work).
    await Promise.all(sources.map((s) => this.store.setMaxCount(`floorCheckpoint-${s}`, 1)));
    for (const category of sources) {
      const checkpoints = new Checkpoints(category, (name, position) => this.writeCheckpoint(name, position));
      this.checkpoints.push(checkpoints);
      const label = `subscriptionEvents:$ce-${category}`;
      const onEvent = category === 'orderFulfillment' ? this.relay : this.input;
      const subscription = this.store.subscribeToCategory(
        category,
        (event) => {
          this.add(label);
          this.lastEventAt = performance.now();
          const done = checkpoints.track(event.position);
          this.busy++;
          onEvent(event.type, event.id, event.stream, event.revision, event.data).then(
            () => {
              this.busy--;
              done();
            },
            (error: unknown) => {
              this.busy--;
              console.error(
                `floor: ${event.type} ${event.stream}@${event.revision} failed: ${String(error)}`,
              );
            },
          );
        },
        (error) => console.error(`floor: subscription $ce-${category}: ${String(error)}`),
      );
      this.subscriptions.push(subscription);
    }
    const tick = () => {
      for (const c of this.checkpoints) c.flush();
      this.timer = setTimeout(tick, CHECKPOINT_INTERVAL_MS);
    };
    this.timer = setTimeout(tick, CHECKPOINT_INTERVAL_MS);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await Promise.all(this.subscriptions.map((s) => s.unsubscribe()));
  }

  /** Resolves once nothing is in flight and no event arrived for a moment. */
  async settle(): Promise<void> {
    for (;;) {
      if (this.busy === 0 && performance.now() - this.lastEventAt > 100) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async place(order: PlacedOrderData): Promise<void> {
    const stream = `order-${order.orderId}`;
    const placed = await this.append(
      stream,
      [{ type: 'OrderPlaced', data: order as unknown as Data }],
      'no_stream',
      {
        $correlationId: order.orderId,
      },
    );
    if (placed === undefined) throw new Error(`floor: ${stream} exists already`);
  }

  /**
   * Each checkpoint stream expects the revision of the floor's previous write (the store need
   * not look the event id up, as it does for an `any` append); `any` only for the first write
   * and after another writer moved the stream. Checkpoints of one category run one at a time.
   */
  private writeCheckpoint(name: string, position: bigint): Promise<void> {
    this.add('checkpointWrite');
    const stream = `floorCheckpoint-${name}`;
    const previous = this.checkpointWrites.get(stream) ?? Promise.resolve();
    const write = previous.then(async () => {
      const event = [{ type: 'Checkpoint', data: { checkpoint: position.toString() }, metadata: {} }];
      const expected = this.checkpointRevisions.get(stream);
      const next =
        (expected === undefined ? undefined : await this.store.append(stream, event, expected)) ??
        (await this.store.append(stream, event, 'any'));
      if (next !== undefined) this.checkpointRevisions.set(stream, next);
    });
    this.checkpointWrites.set(
      stream,
      write.catch(() => this.checkpointRevisions.delete(stream)),
    );
    return write;
  }

  /** Appends; `undefined` when the stream was not at `expected`. */
  private append(
    stream: string,
    events: readonly Out[],
    expected: 'no_stream' | bigint,
    metadata: Data,
    ids?: readonly string[],
  ): Promise<bigint | undefined> {
    const kind = classifyStream(stream);
    this.add(`append:${kind}`);
    this.add(`appendEvents:${kind}`, events.length);
    return this.store.append(
      stream,
      events.map((e, i) => ({ id: ids?.[i], type: e.type, data: e.data, metadata })),
      expected,
    );
  }

  // ---- the process

  private readonly input = async (
    type: string,
    eventId: string,
    stream: string,
    revision: bigint,
    data: Data,
  ) => {
    const orderId = data.orderId as string;
    if (type === 'OrderPlaced') {
      if (this.instances.has(orderId)) return;
      const order = data as unknown as PlacedOrderData;
      const instance: Instance = {
        orderId,
        revision: -1n,
        items: order.items,
        country: order.shippingAddress.country,
        handled: new Set(),
        compensations: [],
        finished: false,
        chain: Promise.resolve(),
      };
      this.instances.set(orderId, instance);
      return this.step(instance, eventId, [
        {
          type: 'sagastream.ProcessStarted',
          data: { process: 'orderFulfillment', processId: orderId, definitionVersion: 1 },
        },
        this.recorded(eventId, type, stream, revision),
        { type: 'FulfillmentStarted', data: { orderId, items: order.items, country: instance.country } },
        this.command(orderId, eventId, 'ChargePayment', { orderId, amount: order.total }),
      ]);
    }
    const instance = this.instances.get(orderId);
    if (!instance) return;
    const recorded = this.recorded(eventId, type, stream, revision);
    switch (type) {
      case 'PaymentCharged':
        return this.step(instance, eventId, [
          recorded,
          this.register(instance, 'refund-payment', {
            type: 'RefundPayment',
            data: { orderId, chargeId: data.chargeId, amount: data.amount },
          }),
          this.command(orderId, eventId, 'ReserveInventory', { orderId, items: instance.items }),
        ]);
      case 'InventoryReserved':
        return this.step(instance, eventId, [
          recorded,
          this.register(instance, 'release-inventory', {
            type: 'ReleaseInventory',
            data: { orderId, reservationId: data.reservationId },
          }),
          this.command(orderId, eventId, 'CreateShipment', { orderId, country: instance.country }),
        ]);
      case 'ShipmentCreated':
        instance.finished = true;
        return this.step(instance, eventId, [
          recorded,
          this.command(orderId, eventId, 'CloseOrder', { orderId }),
          { type: 'sagastream.ProcessCompleted', data: {} },
        ]);
      case 'PaymentDeclined':
        return this.cancel(instance, eventId, recorded, 'payment-declined');
      case 'InventoryReservationFailed':
        return this.cancel(instance, eventId, recorded, 'out-of-stock');
      case 'ShipmentFailed':
        return this.cancel(instance, eventId, recorded, 'shipment-failed');
      default:
        return; // OrderCompleted, refunds, releases: nothing to decide
    }
  };

  private cancel(instance: Instance, inputId: string, recorded: Out, reason: string): Promise<void> {
    const { orderId } = instance;
    return this.step(instance, inputId, [
      recorded,
      this.command(orderId, inputId, 'CloseOrder', { orderId, cancellationReason: reason }),
      { type: 'sagastream.ProcessFailed', data: { reason } },
      this.nextCompensation(instance, reason),
    ]);
  }

  /** Schedules the last registered compensation not yet run, or ends the process. */
  private nextCompensation(instance: Instance, reason: string): Out {
    let step: Compensation | undefined;
    for (let i = instance.compensations.length - 1; i >= 0 && !step; i--) {
      if (instance.compensations[i]?.commandId === undefined) step = instance.compensations[i];
    }
    if (!step) {
      instance.finished = true;
      return { type: 'sagastream.ProcessCompensated', data: { reason } };
    }
    step.commandId = uuidv5(`${instance.orderId}\u001fcompensation\u001f${step.step}`, COMMAND_NAMESPACE);
    return {
      type: 'sagastream.CompensationScheduled',
      data: { step: step.step, commandId: step.commandId, type: step.command.type, data: step.command.data },
    };
  }

  private recorded(eventId: string, type: string, stream: string, revision: bigint): Out {
    return {
      type: 'sagastream.InputRecorded',
      data: { eventId, kind: 'event', type, stream, revision: String(revision) },
    };
  }

  private command(orderId: string, inputId: string, type: string, data: Data): Out {
    const commandId = uuidv5(`${orderId}\u001f${inputId}\u001fcommand`, COMMAND_NAMESPACE);
    return { type: 'sagastream.CommandScheduled', data: { commandId, type, data } };
  }

  private register(instance: Instance, step: string, command: Out): Out {
    instance.compensations.push({ step, command });
    return { type: 'sagastream.CompensationRegistered', data: { step, command } };
  }

  /** Appends one decision to the process stream, after the instance's earlier ones, once per input. */
  private step(instance: Instance, inputId: string, events: readonly Out[]): Promise<void> {
    const run = async () => {
      if (instance.handled.has(inputId)) return;
      const expected = instance.revision < 0n ? 'no_stream' : instance.revision;
      const stream = `orderFulfillment-${instance.orderId}`;
      const next = await this.append(stream, events, expected, {
        $correlationId: instance.orderId,
        $causationId: inputId,
      });
      // One writer per process stream: a conflict means the floor itself is wrong.
      if (next === undefined) throw new Error(`floor: ${stream} is not at revision ${String(expected)}`);
      instance.revision = next;
      instance.handled.add(inputId);
      if (expected === 'no_stream') this.onFirstDecision?.(instance.orderId);
      if (
        events.some(
          (e) => e.type === 'sagastream.ProcessCompleted' || e.type === 'sagastream.ProcessCompensated',
        )
      ) {
        this.completion.processFinished(instance.orderId);
        this.instances.delete(instance.orderId);
      }
    };
    instance.chain = instance.chain.then(run);
    return instance.chain;
  }

  // ---- the outbox relay and the services

  private readonly relay = async (
    type: string,
    _id: string,
    stream: string,
    _revision: bigint,
    data: Data,
  ) => {
    if (type !== 'sagastream.CommandScheduled' && type !== 'sagastream.CompensationScheduled') return;
    const orderId = stream.slice('orderFulfillment-'.length);
    const commandId = data.commandId as string;
    await this.execute(data.type as string, data.data as Data, commandId, orderId);
    if (type === 'sagastream.CompensationScheduled') {
      const instance = this.instances.get(orderId);
      if (!instance) return;
      const inputId = uuidv5(`${orderId}\u001fcommandSucceeded\u001f${commandId}`, COMMAND_NAMESPACE);
      await this.step(instance, inputId, [
        {
          type: 'sagastream.InputRecorded',
          data: { eventId: inputId, kind: 'commandSucceeded', type: data.type },
        },
        { type: 'sagastream.CompensationCompleted', data: { step: data.step, commandId } },
        this.nextCompensation(instance, 'compensated'),
      ]);
    }
  };

  private execute(type: string, c: Data, commandId: string, orderId: string): Promise<void> {
    const id = uuidv5(commandId, SERVICE_NAMESPACE);
    switch (type) {
      case 'ChargePayment':
        return this.writeOnce(`payment-${orderId}`, commandId, orderId, () =>
          (c.amount as number) > 10000
            ? { type: 'PaymentDeclined', data: { orderId, reason: 'amount above the 10000 limit' } }
            : { type: 'PaymentCharged', data: { orderId, chargeId: id, amount: c.amount } },
        );
      case 'RefundPayment':
        return this.writeOnce(`payment-${orderId}`, commandId, orderId, () => ({
          type: 'PaymentRefunded',
          data: { orderId, chargeId: c.chargeId, amount: c.amount },
        }));
      case 'ReserveInventory':
        return this.writeOnce(`inventory-${orderId}`, commandId, orderId, () => {
          const missing = (c.items as OrderLine[]).find((line) => line.sku.startsWith('OOS-'));
          return missing
            ? { type: 'InventoryReservationFailed', data: { orderId, sku: missing.sku } }
            : { type: 'InventoryReserved', data: { orderId, reservationId: id } };
        });
      case 'ReleaseInventory':
        return this.writeOnce(`inventory-${orderId}`, commandId, orderId, () => ({
          type: 'InventoryReleased',
          data: { orderId, reservationId: c.reservationId },
        }));
      case 'CreateShipment':
        return this.writeOnce(`shipment-${orderId}`, commandId, orderId, () =>
          c.country === 'XX'
            ? {
                type: 'ShipmentFailed',
                data: { orderId, reason: `no carrier serves country ${String(c.country)}` },
              }
            : { type: 'ShipmentCreated', data: { orderId, shipmentId: id } },
        );
      case 'CloseOrder':
        return this.writeOnce(`order-${orderId}`, commandId, orderId, () =>
          c.cancellationReason === undefined
            ? { type: 'OrderCompleted', data: { orderId } }
            : { type: 'OrderCancelled', data: { orderId, reason: c.cancellationReason } },
        ).then(() => this.completion.orderClosed(orderId));
      default:
        return Promise.reject(new Error(`no service handles ${type}`));
    }
  }

  /** The sample services' idempotent write: read the domain stream, append once per command id. */
  private async writeOnce(
    stream: string,
    commandId: string,
    orderId: string,
    decide: () => Out,
  ): Promise<void> {
    for (;;) {
      this.add('read:domain');
      const events = await this.store.read(stream);
      if (events.some((event) => event.metadata.$causationId === commandId)) return;
      const out = decide();
      const appended = await this.append(
        stream,
        [out],
        events.at(-1)?.revision ?? 'no_stream',
        { $correlationId: orderId, $causationId: commandId },
        [uuidv5(`${commandId}/${out.type}`, SERVICE_NAMESPACE)],
      );
      if (appended !== undefined) return;
    }
  }
}
