import { readFileSync } from 'node:fs';
import { build as buildHistogram } from 'hdr-histogram-js';
import { type OutcomeSummary, expectedOutcome, readOutcomes } from '../../samples/order-fulfillment/outcome';
import type { PlacedOrderData } from '../../samples/order-fulfillment/place-orders';
import type { EventStore } from '../../lib/store/event-store';
import type { ChildContext } from '../harness/child';
import { type CpuSnapshot, type ProcessSample, ProcessMeter, cpuBetween } from '../harness/process-meter';
import { startCpuProfile } from '../harness/profiler';
import type { SagaPath } from './budget';
import type { OpCounts } from './counting-event-store';

/** What the driver sends each variant child. */
export interface SagaChildInput {
  readonly variant: string;
  readonly connectionString: string;
  /** JSON file of pre-generated orders: `warmup` orders, then `orders` measured ones. */
  readonly ordersFile: string;
  readonly warmup: number;
  readonly orders: number;
  /** Sagas kept in flight. */
  readonly inFlight: number;
  /** Give up (and count the rest as lost) after this long without a saga finishing. */
  readonly stallMs: number;
  /** Profile the measured window (not start-up or warm-up) into this directory. */
  readonly profile?: { readonly dir: string; readonly name: string };
  /**
   * Stop placing new measured orders after this long (the ones in flight still finish);
   * the result then covers the orders placed. For a peer that collapses at a large size.
   */
  readonly maxMeasuredMs?: number;
}

/** Latency of whole sagas, closed loop (a new order is placed when one finishes), in microseconds. */
export interface SagaLatency {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** What a variant child reports for one run. */
export interface SagaChildResult {
  readonly variant: string;
  readonly inFlight: number;
  readonly sagas: number;
  readonly finished: number;
  /** Sagas that did not finish before the stall limit. */
  readonly lost: number;
  readonly sagasPerSecond: number;
  readonly client: ProcessSample;
  readonly serverCpuUs: number;
  readonly serverPeakRssBytes: number;
  readonly latencyUs: SagaLatency;
  /** Store operations in the measured window (warm-up excluded), see CountingEventStore. */
  readonly counts: OpCounts;
  /** The path each measured order takes by the sample's failure rules, counted. */
  readonly paths: Readonly<Record<SagaPath, number>>;
  /** Read back from the streams with the sample's outcome checker. */
  readonly outcome: Omit<OutcomeSummary, 'violations'> & {
    readonly violationCount: number;
    readonly firstViolations: readonly string[];
  };
  /** Terminal events written more than once per order, seen as they were appended. */
  readonly duplicateTerminals: number;
  /** Variant-specific facts (settings, runtime stats). */
  readonly details: Readonly<Record<string, unknown>>;
}

/**
 * Tells when a saga is finished: its order is closed (OrderCompleted or OrderCancelled
 * appended to `order-<id>`) and its process reached a terminal event (compensations,
 * which may still run after OrderCancelled, are part of the saga).
 */
export class Completion {
  private readonly open = new Map<string, { closed: boolean; terminal: boolean; resolve: () => void }>();
  private readonly seenClosed = new Set<string>();
  private readonly seenTerminal = new Set<string>();
  duplicates = 0;

  /** Registers an order before it is placed; resolves once its saga is finished. */
  expect(orderId: string): Promise<void> {
    return new Promise((resolve) => this.open.set(orderId, { closed: false, terminal: false, resolve }));
  }

  /** OrderCompleted or OrderCancelled was appended for `orderId`. */
  orderClosed(orderId: string): void {
    if (this.seenClosed.has(orderId)) this.duplicates++;
    this.seenClosed.add(orderId);
    const entry = this.open.get(orderId);
    if (!entry) return;
    entry.closed = true;
    this.settle(orderId, entry);
  }

  /** The process of `orderId` appended a terminal event. */
  processFinished(orderId: string): void {
    if (this.seenTerminal.has(orderId)) this.duplicates++;
    this.seenTerminal.add(orderId);
    const entry = this.open.get(orderId);
    if (!entry) return;
    entry.terminal = true;
    this.settle(orderId, entry);
  }

  private settle(orderId: string, entry: { closed: boolean; terminal: boolean; resolve: () => void }): void {
    if (!entry.closed || !entry.terminal) return;
    this.open.delete(orderId);
    entry.resolve();
  }
}

/** The process events that end a saga (lib/process/process-events.ts). */
export const TERMINAL_PROCESS_EVENTS: ReadonlySet<string> = new Set([
  'sagastream.ProcessCompleted',
  'sagastream.ProcessCompensated',
  'sagastream.ProcessCompensationFailed',
]);

/** What a variant gives the shared measurement loop. */
export interface SagaSystem {
  /** Appends OrderPlaced (the shop's side). */
  place(order: PlacedOrderData): Promise<void>;
  readonly completion: Completion;
  resetCounts(): void;
  counts(): OpCounts;
  /** Resolves once the work that follows the last finished saga (tail deliveries) is done. */
  settle(): Promise<void>;
  /** An uncounted store for reading the outcome back. */
  readonly checker: EventStore;
  /**
   * The CPU of the server this variant runs itself (e.g. restate-server); when absent the
   * driver is asked (`server-sample`: the embedded server, or zeros for in-process back-ends).
   */
  serverSample?(): Promise<CpuSnapshot>;
  details(): Record<string, unknown>;
  close(): Promise<void>;
}

/** The pre-generated orders of a run. */
export function loadOrders(file: string): PlacedOrderData[] {
  return JSON.parse(readFileSync(file, 'utf8')) as PlacedOrderData[];
}

/** The sample's failure rules applied to each order. */
export function pathOf(order: PlacedOrderData): SagaPath {
  return expectedOutcome(order) as SagaPath;
}

async function drive(
  system: SagaSystem,
  orders: readonly PlacedOrderData[],
  inFlight: number,
  stallMs: number,
  onLatencyUs?: (us: number) => void,
  maxMs = Infinity,
): Promise<{ finished: number; placed: number }> {
  const deadline = performance.now() + maxMs;
  let next = 0;
  let finished = 0;
  let lastProgress = performance.now();
  let stalled = false;
  let wakeStalled: () => void = () => undefined;
  const stall = new Promise<void>((resolve) => {
    wakeStalled = resolve;
  });
  const watchdog = setInterval(() => {
    if (performance.now() - lastProgress > stallMs) {
      stalled = true;
      wakeStalled();
    }
  }, 250);
  const worker = async () => {
    while (!stalled && next < orders.length && performance.now() < deadline) {
      const order = orders[next++] as PlacedOrderData;
      const started = performance.now();
      const done = system.completion.expect(order.orderId);
      await system.place(order);
      const won = await Promise.race([done.then(() => true), stall.then(() => false)]);
      if (!won) return;
      finished++;
      lastProgress = performance.now();
      onLatencyUs?.(Math.round((lastProgress - started) * 1000));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(inFlight, orders.length) }, worker));
  } finally {
    clearInterval(watchdog);
  }
  return { finished, placed: next };
}

/**
 * The measurement shared by every variant: warm-up orders run to the end and are
 * excluded; then, with counters reset and the client meter and server CPU snapshot
 * taken, the measured orders run with `inFlight` sagas outstanding; finally the tail
 * settles, counts are taken and the outcome is read back from the streams.
 */
export async function measureSagas(
  input: SagaChildInput,
  ctx: ChildContext,
  system: SagaSystem,
): Promise<SagaChildResult> {
  const all = loadOrders(input.ordersFile);
  const warmup = all.slice(0, input.warmup);
  const planned = all.slice(input.warmup, input.warmup + input.orders);
  if (planned.length < input.orders) throw new Error(`${input.ordersFile} holds too few orders.`);

  await drive(system, warmup, input.inFlight, input.stallMs);
  await system.settle();
  system.resetCounts();

  const histogram = buildHistogram({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const serverSample = () =>
    system.serverSample ? system.serverSample() : ctx.request<CpuSnapshot>('server-sample');
  const serverBefore = await serverSample();
  const profiling = input.profile ? await startCpuProfile(input.profile.dir, input.profile.name) : undefined;
  const meter = new ProcessMeter().start();
  const { finished, placed } = await drive(
    system,
    planned,
    input.inFlight,
    input.stallMs,
    (us) => histogram.recordValue(us),
    input.maxMeasuredMs,
  );
  const client = meter.stop();
  const profileFile = await profiling?.stop();
  const serverAfter = await serverSample();
  const measured = planned.slice(0, placed);
  if (finished === measured.length) await system.settle();
  const counts = system.counts();

  const { summary } = await readOutcomes(
    system.checker,
    measured.map((o) => o.orderId),
    false,
  );
  const paths: Record<SagaPath, number> = {
    completed: 0,
    'payment-declined': 0,
    'out-of-stock': 0,
    'shipment-failed': 0,
  };
  for (const order of measured) paths[pathOf(order)]++;
  const details = { ...system.details(), ...(profileFile ? { profileFile } : {}) };
  await system.close();
  const { violations, ...rest } = summary;
  return {
    variant: input.variant,
    inFlight: input.inFlight,
    sagas: measured.length,
    finished,
    lost: Math.max(measured.length - finished, summary.pending),
    sagasPerSecond: finished / (client.wallMs / 1000),
    client,
    serverCpuUs: cpuBetween(serverBefore, serverAfter),
    serverPeakRssBytes: serverAfter.maxRssBytes,
    latencyUs: {
      p50: histogram.getValueAtPercentile(50),
      p90: histogram.getValueAtPercentile(90),
      p99: histogram.getValueAtPercentile(99),
      max: histogram.maxValue,
    },
    counts,
    paths,
    outcome: { ...rest, violationCount: violations.length, firstViolations: violations.slice(0, 10) },
    duplicateTerminals: system.completion.duplicates,
    details,
  };
}
