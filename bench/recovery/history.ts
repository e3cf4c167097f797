// Writes the state a crashed order-fulfillment worker leaves behind, fast: completed sagas as
// history, then sagas half-way through, then the checkpoints where the crashed worker's last
// flushes left them. Every event is what the real worker and the real simulated services
// write (the process engine decides, the sample's services produce the domain events), but
// it is computed in memory and appended stream by stream, not run through a worker.
import { v5 as uuidv5 } from 'uuid';
import type { MessageRegistry } from '../../lib/messages';
import { defineProcess } from '../../lib/process/process-definition';
import { type ProcessInput, ProcessEngine } from '../../lib/process/process-engine';
import { ProcessEventTypes } from '../../lib/process/process-events';
import type { ProcessState } from '../../lib/process/process-state';
import { CommandBus } from '../../lib/runtime/command-bus';
import type { EventStore, EventToAppend, StoredEventRecord } from '../../lib/store/event-store';
import { orderFulfillmentRegistry } from '../../samples/order-fulfillment/app';
import { OrderFulfillment } from '../../samples/order-fulfillment/order-fulfillment';
import { type PlacedOrderData, generateOrders } from '../../samples/order-fulfillment/place-orders';
import { createSimulatedServices } from '../../samples/order-fulfillment/services';

/** The process's name, its input categories and the names of its checkpoints (see ProcessHost). */
export const PROCESS = 'orderFulfillment';
export const INPUT_CATEGORIES = ['order', 'payment', 'inventory', 'shipment'] as const;
export const RELAY_CHECKPOINT = `${PROCESS}.relay`;
export const inputCheckpoint = (category: string): string => `${PROCESS}.input.${category}`;

const ORDER_NAMESPACE = '0c8a3a52-5d5e-4f0e-9d1b-3f5e2b0d7a11';

/** One append: a stream and its events, in the order a worker would have written them. */
export interface StreamAppend {
  readonly stream: string;
  readonly events: readonly EventToAppend[];
}

/** The appends of one saga, in causal order. */
export interface SagaWrites {
  readonly orderId: string;
  readonly appends: readonly StreamAppend[];
}

/**
 * Replays the sample's saga in memory: the engine decides, the simulated services (through a
 * command bus, as the relay delivers) write their domain events into a recording store.
 * `stopBefore` leaves the saga with that command scheduled but not delivered (in flight).
 */
export class SagaSimulator {
  private readonly registry: MessageRegistry = orderFulfillmentRegistry();
  private readonly engine = new ProcessEngine(defineProcess(OrderFulfillment, this.registry));
  private readonly streams = new Map<string, StoredEventRecord[]>();
  private recorded: StreamAppend[] = [];
  private readonly bus: CommandBus;
  private readonly now = new Date('2026-11-01T00:00:00Z');

  constructor() {
    const recording = {
      readStream: (stream: string) => Promise.resolve([...(this.streams.get(stream) ?? [])]),
      append: (stream: string, events: readonly EventToAppend[]) => {
        this.record(stream, events);
        return Promise.resolve({ nextExpectedRevision: 0n, position: 0n });
      },
    } as unknown as EventStore;
    this.bus = new CommandBus(this.registry);
    for (const service of createSimulatedServices(recording, this.registry, { transientFailureRate: 0 }))
      this.bus.registerHandlers(service);
  }

  /** The appends of one saga from OrderPlaced to its end, or to `stopBefore` scheduled. */
  async run(order: PlacedOrderData, stopBefore?: string): Promise<SagaWrites> {
    this.recorded = [];
    this.streams.clear();
    const placed = {
      id: uuidv5(order.orderId, ORDER_NAMESPACE),
      type: 'OrderPlaced',
      data: order,
      metadata: { $correlationId: order.orderId },
    };
    const inputs: ProcessInput[] = [
      { kind: 'event', event: this.registry.decode(this.record(`order-${order.orderId}`, [placed])[0]!) },
    ];
    let state: ProcessState<OrderFulfillment> = this.engine.initialState(order.orderId);
    while (inputs.length > 0) {
      const decision = this.engine.handle(state, inputs.shift()!, this.now);
      state = decision.state;
      if (decision.events.length === 0) continue;
      this.record(state.stream, decision.events);
      for (const e of decision.events) {
        const scheduled = e.type === ProcessEventTypes.CommandScheduled;
        if (!scheduled && e.type !== ProcessEventTypes.CompensationScheduled) continue;
        const data = e.data as { commandId: string; type: string; data: Record<string, unknown> };
        if (data.type === stopBefore) return { orderId: order.orderId, appends: this.recorded };
        const before = this.recorded.length;
        await this.bus.execute(this.registry.deserialize(data.type, data.data), {
          commandId: data.commandId,
          type: data.type,
          processName: PROCESS,
          processId: order.orderId,
          attempt: 1,
        });
        for (const append of this.recorded.slice(before))
          for (const event of append.events) {
            const record = this.streams.get(append.stream)!.find((r) => r.id === event.id)!;
            if (!append.stream.startsWith(`${PROCESS}-`) && !append.stream.startsWith('order-')) {
              inputs.push({ kind: 'event', event: this.registry.decode(record) });
            }
          }
        if (!scheduled) inputs.push({ kind: 'commandSucceeded', commandId: data.commandId });
      }
    }
    return { orderId: order.orderId, appends: this.recorded };
  }

  private record(stream: string, events: readonly EventToAppend[]): StoredEventRecord[] {
    const list = this.streams.get(stream) ?? [];
    this.streams.set(stream, list);
    const records = events.map((e) => {
      const record: StoredEventRecord = {
        id: e.id,
        type: e.type,
        stream,
        revision: BigInt(list.length),
        position: 0n,
        data: e.data,
        isJson: true,
        metadata: e.metadata ?? {},
        rawData: new Uint8Array(0),
        rawMetadata: new Uint8Array(0),
        created: this.now,
      };
      list.push(record);
      return record;
    });
    this.recorded.push({ stream, events });
    return records;
  }
}

/** What {@link writeCrashState} wrote, for the variants and the report. */
export interface CrashState {
  readonly historyEvents: number;
  readonly historySagas: number;
  readonly inFlight: number;
  readonly inFlightEvents: number;
  /** Stored checkpoint per consumer name (decimal strings: revisions in `$ce-` streams). */
  readonly checkpoints: Readonly<Record<string, string>>;
  /** Last revision of each subscribed `$ce-` stream at the crash (decimal strings). */
  readonly heads: Readonly<Record<string, string>>;
  /** Events after the checkpoints, per subscribed category: what a restart must catch up on. */
  readonly tail: Readonly<Record<string, number>>;
  readonly tailEvents: number;
  /** Order ids of the sagas in flight at the crash. */
  readonly inFlightOrderIds: readonly string[];
  readonly setupMs: number;
}

/** Options of {@link writeCrashState}. */
export interface CrashStateOptions {
  /** Events of completed sagas written first (rounded up to whole sagas). */
  readonly historyEvents: number;
  /** Sagas left half-way: payment handled, ReserveInventory scheduled but not delivered. */
  readonly inFlight: number;
  readonly seed: number;
  /**
   * How far the input checkpoints trail the head: the crashed worker flushed every this
   * many events (the runtime's `checkpointEvery`). @default 512
   */
  readonly checkpointEvery?: number;
  /** Appends in flight while writing (more share each fsync). @default 256 */
  readonly concurrency?: number;
}

async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < items.length; i = next++) await fn(items[i] as T);
    }),
  );
}

async function head(store: EventStore, stream: string): Promise<bigint | undefined> {
  const [last] = await store.readStream(stream, { direction: 'backwards', maxCount: 1 });
  return last === undefined ? undefined : (last.link?.revision ?? last.revision);
}

/**
 * Writes history, the in-flight sagas and the checkpoints a crash would leave into `store`:
 * - history: whole sagas (10% compensations), each saga's appends in causal order, sagas
 *   interleaved; every checkpoint ends up past them (the crashed worker had handled them);
 * - in flight, phase by phase over all of them (as a worker behind a burst of orders does):
 *   OrderPlaced, the process's first append (ChargePayment scheduled), the payment event,
 *   the process's second append (ReserveInventory scheduled, or CloseOrder on a decline);
 * - checkpoints: the relay's sits before the first undelivered command (the second process
 *   appends, `after-command-scheduled` crash window); the `order` and `payment` inputs trail
 *   their heads by up to `checkpointEvery` events (their last periodic flush); `inventory`
 *   and `shipment` are at their heads.
 */
export async function writeCrashState(store: EventStore, options: CrashStateOptions): Promise<CrashState> {
  const started = performance.now();
  const concurrency = options.concurrency ?? 256;
  const checkpointEvery = options.checkpointEvery ?? 512;
  const sim = new SagaSimulator();
  // Sagas are ~20 events; generate enough orders for both parts from one seeded sequence.
  const probe = await sim.run(generateOrders(1, { seed: options.seed })[0]!);
  const perSaga = probe.appends.reduce((n, a) => n + a.events.length, 0);
  const historySagas = Math.ceil(options.historyEvents / perSaga);
  const orders = generateOrders(historySagas + options.inFlight, { seed: options.seed, failureShare: 0.1 });

  let historyEvents = 0;
  // In chunks, so a million events of history never sit in memory at once.
  for (let start = 0; start < historySagas; start += 2000) {
    const chunk: SagaWrites[] = [];
    for (const order of orders.slice(start, Math.min(historySagas, start + 2000)))
      chunk.push(await sim.run(order));
    for (const saga of chunk) for (const a of saga.appends) historyEvents += a.events.length;
    await pool(chunk, concurrency, async (saga) => {
      for (const a of saga.appends) await store.append(a.stream, a.events);
    });
  }

  const inFlight: SagaWrites[] = [];
  for (const order of orders.slice(historySagas)) {
    const saga = await sim.run(order, order.total > 10000 ? 'CloseOrder' : 'ReserveInventory');
    if (saga.appends.length !== 4)
      throw new Error(`in-flight saga ${saga.orderId} has ${saga.appends.length} appends, expected 4`);
    inFlight.push(saga);
  }
  let inFlightEvents = 0;
  const ce = (category: string) => `$ce-${category}`;
  let relayCheckpoint: bigint | undefined;
  for (let phase = 0; phase < 4; phase++) {
    if (phase === 3) relayCheckpoint = await head(store, ce(PROCESS));
    await pool(inFlight, concurrency, async (saga) => {
      const a = saga.appends[phase]!;
      inFlightEvents += a.events.length;
      await store.append(a.stream, a.events);
    });
  }

  const checkpoints: Record<string, string> = {};
  const heads: Record<string, string> = {};
  const tail: Record<string, number> = {};
  for (const category of [...INPUT_CATEGORIES, PROCESS]) {
    const last = await head(store, ce(category));
    if (last === undefined) throw new Error(`${ce(category)} is empty`);
    let checkpoint: bigint;
    if (category === PROCESS) checkpoint = relayCheckpoint ?? -1n;
    else if (category === 'order' || category === 'payment') {
      // The last periodic flush: a multiple of checkpointEvery events into the stream.
      const count = last + 1n;
      checkpoint = count - (count % BigInt(checkpointEvery)) - 1n;
    } else checkpoint = last;
    const name = category === PROCESS ? RELAY_CHECKPOINT : inputCheckpoint(category);
    if (checkpoint >= 0n) await store.writeCheckpoint(name, checkpoint);
    checkpoints[name] = checkpoint.toString();
    heads[ce(category)] = last.toString();
    tail[ce(category)] = Number(last - checkpoint);
  }
  return {
    historyEvents,
    historySagas,
    inFlight: inFlight.length,
    inFlightEvents,
    checkpoints,
    heads,
    tail,
    tailEvents: Object.values(tail).reduce((n, v) => n + v, 0),
    inFlightOrderIds: inFlight.map((s) => s.orderId),
    setupMs: performance.now() - started,
  };
}
