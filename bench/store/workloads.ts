import { randomUUID } from 'node:crypto';
import type { EventStore, EventToAppend } from '../../lib/store/event-store';

/** How big each workload is; the same for every variant. */
export interface WorkloadSettings {
  /** Longest measured phase of a duration-bound workload, ms. */
  readonly durationMs: number;
  /** Unmeasured warm-up before each workload, ms. */
  readonly warmUpMs: number;
  /** Events in the stream the catch-up workload reads. */
  readonly catchUpEvents: number;
  /** Number of 3-event streams the read workload cycles through. */
  readonly shortStreams: number;
}

/** What a measured phase did. */
export interface WorkloadCount {
  readonly operations: number;
  readonly events: number;
}

/** One workload: an unmeasured setup, then a measured run (warm-up is part of setup). */
export interface Workload {
  readonly name: string;
  readonly description: string;
  setup(store: EventStore, input: InputPool): Promise<void>;
  run(store: EventStore, input: InputPool): Promise<WorkloadCount>;
}

/** Deterministic pseudo-random numbers (mulberry32), so every variant gets the same input. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Pre-generated event bodies shaped like the sample's OrderPlaced (~250 bytes of JSON). */
export class InputPool {
  private readonly payloads: Record<string, unknown>[];
  private next = 0;

  constructor(seed: number, size = 4096) {
    const random = seeded(seed);
    const pick = (n: number): number => Math.floor(random() * n);
    this.payloads = Array.from({ length: size }, (_, i) => {
      const items = Array.from({ length: 1 + pick(3) }, () => ({
        sku: `SKU-${pick(10_000)}`,
        quantity: 1 + pick(5),
        price: pick(100_00) / 100,
      }));
      return {
        orderId: `order-${i}`,
        customerId: `customer-${pick(1000)}`,
        items,
        total: items.reduce((sum, item) => sum + item.quantity * item.price, 0),
        shippingAddress: { country: ['NL', 'DE', 'FR', 'GB'][pick(4)] },
      };
    });
  }

  /** The next event (ids are fresh; bodies cycle through the pool). */
  event(): EventToAppend {
    const data = this.payloads[this.next]!;
    this.next = (this.next + 1) % this.payloads.length;
    return { id: randomUUID(), type: 'OrderPlaced', data, metadata: { $correlationId: data.orderId } };
  }

  /** The next `count` events. */
  events(count: number): EventToAppend[] {
    return Array.from({ length: count }, () => this.event());
  }
}

/** JIT and connection warm-up: repeats `operation` for `ms`, unmeasured. */
async function warmFor(ms: number, operation: (i: number) => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + ms;
  for (let i = 0; Date.now() < deadline; i++) await operation(i);
}

/** Runs `worker` on `concurrency` concurrent lanes and waits for all of them. */
async function lanes(concurrency: number, worker: (lane: number) => Promise<void>): Promise<void> {
  await Promise.all(Array.from({ length: concurrency }, (_, lane) => worker(lane)));
}

/**
 * Warms the whole path (JIT of the client, the connection, the server) before the
 * first workload, whose own warm-up alone leaves the first measurement cold.
 */
export async function warmUpStore(
  store: EventStore,
  input: InputPool,
  ms: number,
  runId: string,
): Promise<void> {
  await warmFor(ms, async (i) => {
    const stream = `warmUp${runId}-${i % 50}`;
    await store.append(stream, i % 10 === 0 ? input.events(20) : [input.event()]);
    if (i % 4 === 0) await store.readStream(stream, { maxCount: 3 });
  });
}

/** The store workloads of BENCHMARKS.md (`bench:store`), in run order. */
export function storeWorkloads(settings: WorkloadSettings, runId: string): Workload[] {
  const stream = (name: string): string => `${name}${runId}`;
  const timed = async (body: (deadline: number) => Promise<WorkloadCount>): Promise<WorkloadCount> =>
    body(Date.now() + settings.durationMs);

  return [
    {
      name: 'append-single-sequential',
      description: 'one-event appends, one at a time',
      setup: async (store, input) => {
        await warmFor(settings.warmUpMs, (i) => store.append(stream(`warmSeq-${i % 10}`), [input.event()]));
      },
      run: (store, input) =>
        timed(async (deadline) => {
          let operations = 0;
          while (Date.now() < deadline) {
            await store.append(stream(`seq-${operations % 100}`), [input.event()]);
            operations += 1;
          }
          return { operations, events: operations };
        }),
    },
    {
      name: 'append-single-64-writers',
      description: 'one-event appends, 64 concurrent writers',
      setup: async (store, input) => {
        const deadline = Date.now() + settings.warmUpMs;
        await lanes(64, async (lane) => {
          while (Date.now() < deadline) await store.append(stream(`warmC64-${lane}`), [input.event()]);
        });
      },
      run: (store, input) =>
        timed(async (deadline) => {
          let operations = 0;
          await lanes(64, async (lane) => {
            while (Date.now() < deadline) {
              await store.append(stream(`c64-${lane}`), [input.event()]);
              operations += 1;
            }
          });
          return { operations, events: operations };
        }),
    },
    {
      name: 'append-batch-100',
      description: '100-event appends, one at a time',
      setup: async (store, input) => {
        await warmFor(settings.warmUpMs, (i) => store.append(stream(`warmBatch-${i}`), input.events(100)));
      },
      run: (store, input) =>
        timed(async (deadline) => {
          let operations = 0;
          while (Date.now() < deadline) {
            await store.append(stream(`batch-${operations}`), input.events(100));
            operations += 1;
          }
          return { operations, events: operations * 100 };
        }),
    },
    {
      name: 'read-short-stream',
      description: 'whole reads of 3-event streams, one at a time',
      setup: async (store, input) => {
        let next = 0;
        await lanes(64, async () => {
          while (next < settings.shortStreams) {
            const index = next++;
            await store.append(stream(`short-${index}`), input.events(3), { expectedRevision: 'no_stream' });
          }
        });
        await warmFor(settings.warmUpMs, (i) =>
          store.readStream(stream(`short-${i % settings.shortStreams}`)),
        );
      },
      run: (store) =>
        timed(async (deadline) => {
          let operations = 0;
          let events = 0;
          while (Date.now() < deadline) {
            events += (await store.readStream(stream(`short-${operations % settings.shortStreams}`))).length;
            operations += 1;
          }
          return { operations, events };
        }),
    },
    {
      name: 'catch-up-subscription',
      description: `subscribe from the start of a ${settings.catchUpEvents}-event stream until caught up`,
      setup: async (store, input) => {
        for (let written = 0; written < settings.catchUpEvents; written += 500) {
          await store.append(
            stream('catchUp-1'),
            input.events(Math.min(500, settings.catchUpEvents - written)),
          );
        }
        for (let i = 0; i < 20; i++) await store.append(stream('warmCatchUp-1'), input.events(100));
        await warmFor(settings.warmUpMs, () => catchUp(store, stream('warmCatchUp-1')));
      },
      run: async (store) => {
        const events = await catchUp(store, stream('catchUp-1'));
        return { operations: 1, events };
      },
    },
  ];
}

/** Subscribes from the start, acks every batch, and resolves with the event count at caughtUp. */
function catchUp(store: EventStore, stream: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let events = 0;
    let done = false;
    const subscription = store.subscribe({ stream }, { batchSize: 256 }).subscribe({
      next: (batch) => {
        if (done) return;
        for (const item of batch.items) {
          if (item.kind === 'event') events += 1;
          else if (item.kind === 'caughtUp') done = true;
        }
        if (done) {
          resolve(events);
          queueMicrotask(() => subscription.unsubscribe());
        } else {
          batch.ack();
        }
      },
      error: (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))),
    });
  });
}
