// The measurement every bench:latency variant shares: a closed-loop phase (the warm-up, or
// the whole run when the driver calibrates the sustainable rate), then an open-loop phase in
// which orders are placed at intended times fixed in advance, whatever the system does, and
// each saga's latency is taken from its intended start (no coordinated omission).
import { build as buildHistogram, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import type { PlacedOrderData } from '../../samples/order-fulfillment/place-orders';
import type { ChildContext } from '../harness/child';
import { type CpuSnapshot, type ProcessSample, ProcessMeter, cpuBetween } from '../harness/process-meter';
import { startCpuProfile } from '../harness/profiler';
import { type Completion, loadOrders } from '../saga/workload';

/** How arrivals are spaced in the open-loop phase. */
export type Arrivals = 'poisson' | 'constant';

/** What the driver sends each variant child. */
export interface LatencyChildInput {
  readonly variant: string;
  /**
   * A: LocalEventStore in memory in the child; B: the embedded server the driver started;
   * `peer`: a system the variant runs itself (Restate).
   */
  readonly backend: 'A' | 'B' | 'peer';
  /** The embedded server's (back-end B); empty for A. */
  readonly connectionString: string;
  /** JSON file of pre-generated orders, taken in order by the phases. */
  readonly ordersFile: string;
  /** Warm-up, not measured: closed loop, `orders` orders with `inFlight` outstanding. */
  readonly warmup: { readonly orders: number; readonly inFlight: number };
  /** Measured closed loop (the calibration): stopped after `maxMs`. */
  readonly closedLoop?: { readonly orders: number; readonly inFlight: number; readonly maxMs: number };
  /** Open loop at `ratePerSecond` for `durationMs`; omitted when calibrating. */
  readonly openLoop?: {
    readonly ratePerSecond: number;
    readonly durationMs: number;
    readonly arrivals: Arrivals;
    readonly seed: number;
    /** After the last arrival, wait this long for the sagas still running, then count them unfinished. */
    readonly drainMs: number;
  };
  /** CPU-profile the open-loop window into this directory. */
  readonly profile?: { readonly dir: string; readonly name: string };
}

/** Percentiles of one histogram, microseconds. */
export interface LatencyPercentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
  readonly count: number;
}

/** The open-loop phase of one run. */
export interface OpenLoopResult {
  readonly intendedRatePerSecond: number;
  /** Orders placed / time from the first to the last intended arrival. */
  readonly achievedRatePerSecond: number;
  readonly placed: number;
  readonly finished: number;
  /** Sagas not finished `drainMs` after the last arrival; recorded at the give-up time. */
  readonly unfinished: number;
  /** The generator's lag behind the schedule when it placed an order, microseconds (p99, max). */
  readonly generatorLagUs: { readonly p99: number; readonly max: number };
  readonly latencyUs: LatencyPercentiles;
  /** OrderPlaced's intended time to the saga's first decision acknowledged (see {@link FirstDecision}). */
  readonly firstDecisionUs?: LatencyPercentiles;
  /** The HDR histogram (values in microseconds), `encodeIntoCompressedBase64`. */
  readonly histogram: string;
  /** This process over the open-loop window (includes the generator's polling, see README). */
  readonly client: ProcessSample;
  readonly clientCpuUsPerSaga: number;
  readonly serverCpuUsPerSaga: number;
  readonly serverPeakRssBytes: number;
}

/** What a variant child reports. */
export interface LatencyChildResult {
  readonly variant: string;
  /** The measured closed-loop phase (calibration runs). */
  readonly closedLoop?: {
    readonly sagas: number;
    readonly finished: number;
    readonly sagasPerSecond: number;
    readonly clientCpuUsPerSaga: number;
    readonly serverCpuUsPerSaga: number;
  };
  readonly openLoop?: OpenLoopResult;
  readonly duplicateTerminals: number;
  readonly details: Readonly<Record<string, unknown>>;
}

/** What a variant gives the shared measurement. */
export interface LatencySystem {
  /** Appends OrderPlaced (the shop's side). */
  place(order: PlacedOrderData): Promise<void>;
  readonly completion: Completion;
  /** Told when a saga's first decision (the process stream's first append) is acknowledged. */
  readonly firstDecision?: FirstDecision;
  /** Resolves once the work following the last finished saga is done. */
  settle(): Promise<void>;
  /**
   * The CPU of a server the variant runs itself (restate-server); when absent the driver is
   * asked (`server-sample`: the embedded server, or zeros on back-end A).
   */
  serverSample?(): Promise<CpuSnapshot>;
  details(): Record<string, unknown>;
  close(): Promise<void>;
}

/** A new histogram for saga latencies in microseconds (1 us to 10 minutes, 3 significant digits). */
export function latencyHistogram(): Histogram {
  return buildHistogram({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/** The percentiles the suite reports. */
export function percentilesOf(h: Histogram): LatencyPercentiles {
  return {
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
    mean: h.mean,
    count: h.totalCount,
  };
}

/**
 * The first hop of a saga alone: OrderPlaced's intended time to the process stream's first
 * append (ProcessStarted ... ChargePayment scheduled) acknowledged. One subscription delivery
 * and one decision, the unit the per-step targets speak of; the saga has four of them, plus
 * the three service calls and the order's closing.
 */
export class FirstDecision {
  private readonly intended = new Map<string, number>();
  private histogram: Histogram | undefined;

  /** Starts recording into `histogram` the orders announced from now on. */
  record(histogram: Histogram | undefined): void {
    this.histogram = histogram;
    this.intended.clear();
  }

  expect(orderId: string, intendedAt: number): void {
    if (this.histogram) this.intended.set(orderId, intendedAt);
  }

  /** The variant saw the first append to the process stream of `orderId`. */
  seen(orderId: string): void {
    const at = this.intended.get(orderId);
    if (at === undefined || !this.histogram) return;
    this.intended.delete(orderId);
    this.histogram.recordValue(Math.max(1, Math.round((performance.now() - at) * 1000)));
  }
}

/** mulberry32, so a seed gives the same arrival times in every variant. */
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

/** Intended arrival offsets in ms from the start: `count` arrivals at `ratePerSecond`. */
export function arrivalOffsets(
  count: number,
  ratePerSecond: number,
  arrivals: Arrivals,
  seed: number,
): number[] {
  const meanGapMs = 1000 / ratePerSecond;
  const random = prng(seed);
  const offsets: number[] = [];
  let t = 0;
  for (let i = 0; i < count; i++) {
    offsets.push(t);
    t += arrivals === 'constant' ? meanGapMs : -Math.log(1 - random()) * meanGapMs;
  }
  return offsets;
}

/** Closed loop: `inFlight` workers, each placing the next order when its saga finishes. */
async function closedLoop(
  system: LatencySystem,
  orders: readonly PlacedOrderData[],
  inFlight: number,
  maxMs: number,
): Promise<{ placed: number; finished: number }> {
  const deadline = performance.now() + maxMs;
  let next = 0;
  let finished = 0;
  let timer: NodeJS.Timeout | undefined;
  // One give-up for the whole phase: sagas still running 10 s after the deadline are lost.
  const giveUp = new Promise<boolean>((resolve) => {
    timer = setTimeout(resolve, maxMs + 10_000, false);
  });
  const worker = async () => {
    while (next < orders.length && performance.now() < deadline) {
      const order = orders[next++] as PlacedOrderData;
      const done = system.completion.expect(order.orderId);
      await system.place(order);
      if (!(await Promise.race([done.then(() => true), giveUp]))) return;
      finished++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, orders.length) }, worker));
  clearTimeout(timer);
  return { placed: next, finished };
}

/**
 * Open loop: order `i` is due at `start + offsets[i]`. The generator sleeps with a timer
 * while the next arrival is more than 2 ms away and polls with `setImmediate` closer in,
 * placing every order that is due without waiting for any saga. Latency runs from the
 * intended time, so a generator or event loop that falls behind shows in the numbers.
 */
async function openLoop(
  system: LatencySystem,
  orders: readonly PlacedOrderData[],
  offsets: readonly number[],
  drainMs: number,
  histogram: Histogram,
): Promise<{ placed: number; finished: number; unfinished: number; lag: Histogram; spanMs: number }> {
  const lag = latencyHistogram();
  const outstanding = new Set<Promise<void>>();
  /** Intended start of every saga not finished yet, by order id. */
  const pending = new Map<string, number>();
  let finished = 0;
  const start = performance.now() + 5;
  await new Promise<void>((resolveAll) => {
    let i = 0;
    const launch = (order: PlacedOrderData, intended: number) => {
      pending.set(order.orderId, intended);
      system.firstDecision?.expect(order.orderId, intended);
      const done = system.completion.expect(order.orderId).then(() => {
        histogram.recordValue(Math.max(1, Math.round((performance.now() - intended) * 1000)));
        finished++;
        pending.delete(order.orderId);
        outstanding.delete(done);
      });
      outstanding.add(done);
      system.place(order).catch((error: unknown) => {
        console.error(`placing ${order.orderId} failed: ${String(error)}`);
      });
    };
    const tick = () => {
      const now = performance.now();
      while (i < offsets.length && start + (offsets[i] as number) <= now) {
        const intended = start + (offsets[i] as number);
        lag.recordValue(Math.max(1, Math.round((now - intended) * 1000)));
        launch(orders[i] as PlacedOrderData, intended);
        i++;
      }
      if (i >= offsets.length) return resolveAll();
      const wait = start + (offsets[i] as number) - performance.now();
      if (wait > 2) setTimeout(tick, wait - 1.5);
      else setImmediate(tick);
    };
    setTimeout(tick, 4);
  });
  const lastIntended = start + (offsets[offsets.length - 1] ?? 0);
  const drained = Promise.all(outstanding).then(() => true);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([drained, new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)))]);
  clearTimeout(timer);
  // Sagas still running are recorded at the give-up time: a lower bound on their latency.
  const unfinished = pending.size;
  const now = performance.now();
  for (const intended of pending.values()) {
    histogram.recordValue(Math.max(1, Math.round((now - intended) * 1000)));
  }
  return { placed: offsets.length, finished, unfinished, lag, spanMs: lastIntended - start };
}

/**
 * Runs the closed-loop phase and, if asked, the open-loop phase of one run, and closes
 * the system. CPU of the server (back-end B) comes from the driver (`server-sample`).
 */
export async function measureLatency(
  input: LatencyChildInput,
  ctx: ChildContext,
  system: LatencySystem,
): Promise<LatencyChildResult> {
  const all = loadOrders(input.ordersFile);
  let used = 0;
  const take = (n: number) => {
    const orders = all.slice(used, used + n);
    if (orders.length < n)
      throw new Error(`${input.ordersFile} holds ${all.length} orders; this run needs ${used + n}.`);
    return orders;
  };
  const serverSample = () =>
    system.serverSample ? system.serverSample() : ctx.request<CpuSnapshot>('server-sample');

  const warm = await closedLoop(system, take(input.warmup.orders), input.warmup.inFlight, 120_000);
  used += warm.placed;
  await system.settle();

  let serverBefore = await serverSample();
  let meter: ProcessMeter;
  let closedResult: LatencyChildResult['closedLoop'];
  if (input.closedLoop) {
    const c = input.closedLoop;
    meter = new ProcessMeter().start();
    const closed = await closedLoop(system, take(c.orders), c.inFlight, c.maxMs);
    const client = meter.stop();
    const serverUs = cpuBetween(serverBefore, await serverSample());
    used += closed.placed;
    await system.settle();
    closedResult = {
      sagas: closed.placed,
      finished: closed.finished,
      sagasPerSecond: closed.finished / (client.wallMs / 1000),
      clientCpuUsPerSaga: client.cpuUs / Math.max(1, closed.finished),
      serverCpuUsPerSaga: serverUs / Math.max(1, closed.finished),
    };
  }

  let open: OpenLoopResult | undefined;
  if (input.openLoop) {
    const o = input.openLoop;
    const count = Math.max(1, Math.round((o.ratePerSecond * o.durationMs) / 1000));
    const orders = take(count);
    const offsets = arrivalOffsets(count, o.ratePerSecond, o.arrivals, o.seed);
    const histogram = latencyHistogram();
    const firstHistogram = system.firstDecision ? latencyHistogram() : undefined;
    system.firstDecision?.record(firstHistogram);
    serverBefore = await serverSample();
    const profiling = input.profile
      ? await startCpuProfile(input.profile.dir, input.profile.name)
      : undefined;
    meter = new ProcessMeter().start();
    const r = await openLoop(system, orders, offsets, o.drainMs, histogram);
    const client = meter.stop();
    await profiling?.stop();
    const serverAfter = await serverSample();
    const serverUs = cpuBetween(serverBefore, serverAfter);
    open = {
      intendedRatePerSecond: o.ratePerSecond,
      achievedRatePerSecond: r.spanMs > 0 ? ((r.placed - 1) * 1000) / r.spanMs : NaN,
      placed: r.placed,
      finished: r.finished,
      unfinished: r.unfinished,
      generatorLagUs: { p99: r.lag.getValueAtPercentile(99), max: r.lag.maxValue },
      latencyUs: percentilesOf(histogram),
      histogram: encodeIntoCompressedBase64(histogram),
      ...(firstHistogram ? { firstDecisionUs: percentilesOf(firstHistogram) } : {}),
      client,
      clientCpuUsPerSaga: client.cpuUs / Math.max(1, r.finished),
      serverCpuUsPerSaga: serverUs / Math.max(1, r.finished),
      serverPeakRssBytes: serverAfter.maxRssBytes,
    };
    if (r.unfinished === 0) await system.settle();
  }
  const details = system.details();
  await system.close();
  return {
    variant: input.variant,
    ...(closedResult ? { closedLoop: closedResult } : {}),
    ...(open ? { openLoop: open } : {}),
    duplicateTerminals: system.completion.duplicates,
    details,
  };
}
