// The routing benchmark's shared input and measurement loop. Every variant child builds
// the same seeded input (same seed, same events, same order) before anything is measured,
// then hands it to its pipeline one delivery page at a time and waits for the page to be
// handled before the next (a subscription pulling one page at a time).
import type { StoredEventRecord } from '../../lib/store/event-store';
import { ProcessMeter, type ProcessSample } from '../harness/process-meter';
import { startCpuProfile } from '../harness/profiler';

/** Event types present in the input (BENCHMARKS.md: 10 types). */
export const INPUT_TYPES = 10;

/** What the driver sends each variant child. */
export interface RoutingChildInput {
  readonly variant: string;
  /** Handlers registered (10 or 100): the route table has this many event types. */
  readonly handlers: number;
  /** Delivery page sizes measured, in this order, each over `events` events. */
  readonly pages: readonly number[];
  /** Measured events per page size (at least one whole page). */
  readonly events: number;
  /** Unmeasured events handled before each page size. */
  readonly warmup: number;
  /** Distinct instance (correlation) ids in the input. */
  readonly instances: number;
  readonly seed: number;
  /** Write a CPU profile of the measured windows here. */
  readonly profile?: { readonly dir: string; readonly name: string };
}

/** One page size measured in one child. */
export interface PageResult {
  readonly page: number;
  readonly events: number;
  readonly eventsPerSecond: number;
  /** Events per second of this process's CPU: steadier than wall time on a shared machine. */
  readonly eventsPerCpuSecond: number;
  readonly cpuUsPerEvent: number;
  readonly meter: ProcessSample;
}

/** What a variant child sends back. */
export interface RoutingChildResult {
  readonly variant: string;
  readonly handlers: number;
  readonly results: readonly PageResult[];
  /** Handler invocations counted by the variant over the whole run, warm-up included. */
  readonly handled: number;
  readonly expectedHandled: number;
  readonly setupMs: number;
  readonly profileFile?: string;
}

/** A variant's pipeline: hand it one page, resolve once every event of it was handled. */
export interface Pipeline {
  deliver(page: readonly StoredEventRecord[]): Promise<void>;
  /** Handler invocations so far. */
  handled(): number;
  close?(): Promise<void>;
}

/** Type name of handler `i` of the route table. */
export const typeName = (i: number): string => `Routed${String(i).padStart(3, '0')}`;

/**
 * The route-table slots that carry traffic: 10 types spread over the table, so that with
 * 100 handlers the input is not clustered at the start of any structure.
 */
export function inputTypeIndexes(handlers: number): number[] {
  const step = Math.max(1, Math.floor(handlers / INPUT_TYPES));
  return Array.from({ length: INPUT_TYPES }, (_, i) => i * step);
}

/** mulberry32: a small seeded PRNG, so every variant sees the same input. */
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

/**
 * `count` stored events as the in-memory store delivers them (JSON data already parsed),
 * over the 10 input types of a table of `handlers` types, for `instances` process ids.
 */
export function generateEvents(
  count: number,
  handlers: number,
  instances: number,
  seed: number,
): StoredEventRecord[] {
  const random = prng(seed);
  const types = inputTypeIndexes(handlers).map(typeName);
  const revisions = new Map<string, bigint>();
  const created = new Date(Date.UTC(2026, 0, 1));
  const out: StoredEventRecord[] = new Array<StoredEventRecord>(count);
  for (let i = 0; i < count; i++) {
    const orderId = `o${Math.floor(random() * instances)}`;
    const stream = `order-${orderId}`;
    const revision = revisions.get(stream) ?? 0n;
    revisions.set(stream, revision + 1n);
    out[i] = {
      id: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
      type: types[Math.floor(random() * types.length)] as string,
      stream,
      revision,
      position: BigInt(i),
      created,
      isJson: true,
      data: { orderId, amount: Math.floor(random() * 10_000) / 100, seq: i },
      metadata: {},
    } as StoredEventRecord;
  }
  return out;
}

function* pagesOf<T>(items: readonly T[], from: number, to: number, size: number): Generator<T[]> {
  for (let i = from; i < to; i += size) yield items.slice(i, Math.min(to, i + size));
}

/**
 * Runs the measurement: for every page size, `warmup` unmeasured events then `events`
 * measured ones, through `pipeline`. The input holds `warmup + events` events; every page
 * size replays it from the start (the pipelines keep no per-event state that would make a
 * replay cheaper or dearer).
 */
export async function measurePages(
  input: RoutingChildInput,
  events: readonly StoredEventRecord[],
  pipeline: Pipeline,
  setupMs: number,
): Promise<RoutingChildResult> {
  const results: PageResult[] = [];
  let expectedHandled = 0;
  let profileFile: string | undefined;
  const profile = input.profile ? await startCpuProfile(input.profile.dir, input.profile.name) : undefined;
  for (const page of input.pages) {
    for (const chunk of pagesOf(events, 0, input.warmup, Math.max(page, 100))) await pipeline.deliver(chunk);
    expectedHandled += input.warmup;
    // Pages are cut before the window: slicing is the subscription's cost, not routing's.
    // At least one whole page is measured, however big the page.
    const measured = Math.max(input.events, page);
    const pages = [...pagesOf(events, input.warmup, input.warmup + measured, page)];
    (globalThis as { gc?: () => void }).gc?.();
    // Every pipeline here runs on microtasks only; a subscription's pages arrive from I/O
    // callbacks. Yield to the event loop about every 1000 events (the same for every
    // variant) so GC entries and heap samples get recorded and timers are not starved.
    const yieldEvery = Math.max(1, Math.floor(1000 / page));
    const meter = new ProcessMeter().start();
    for (let i = 0; i < pages.length; i++) {
      await pipeline.deliver(pages[i] as StoredEventRecord[]);
      if (i % yieldEvery === yieldEvery - 1) await new Promise<void>((r) => setImmediate(r));
    }
    await new Promise<void>((r) => setImmediate(r));
    const sample = meter.stop();
    expectedHandled += measured;
    results.push({
      page,
      events: measured,
      eventsPerSecond: (measured * 1000) / sample.wallMs,
      eventsPerCpuSecond: (measured * 1e6) / sample.cpuUs,
      cpuUsPerEvent: sample.cpuUs / measured,
      meter: sample,
    });
  }
  if (profile) profileFile = await profile.stop();
  await pipeline.close?.();
  return {
    variant: input.variant,
    handlers: input.handlers,
    results,
    handled: pipeline.handled(),
    expectedHandled,
    setupMs,
    ...(profileFile ? { profileFile } : {}),
  };
}

/** The fields every routed event carries. */
export interface RoutedFields {
  orderId: string;
  amount: number;
  seq: number;
}

/** One plain class per route-table slot (`Routed000`...), for variants to decorate as they need. */
export function makeEventClasses(handlers: number): (new () => RoutedFields)[] {
  return Array.from({ length: handlers }, (_, i) => {
    // One class declaration per type, the way an application declares its events. Classes
    // stamped out of one class expression in a loop would share one field initializer whose
    // stores then see every class's shape (megamorphic: ~0.5 us per `new`, measured), a cost
    // no application pays and one that hid every variant's own cost behind it.
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const declare = new Function(`return class ${typeName(i)} { orderId = ''; amount = 0; seq = 0; };`);
    return declare() as new () => RoutedFields;
  });
}

/** Builds the input and the pipeline, then measures: the body of every variant child. */
export async function runVariant(
  input: RoutingChildInput,
  build: (input: RoutingChildInput) => Promise<Pipeline> | Pipeline,
): Promise<RoutingChildResult> {
  const started = performance.now();
  const size = input.warmup + Math.max(input.events, ...input.pages);
  const events = generateEvents(size, input.handlers, input.instances, input.seed);
  const pipeline = await build(input);
  return measurePages(input, events, pipeline, performance.now() - started);
}
