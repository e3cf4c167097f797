// The Restate peer: restate-server (from npm) as a child process with its own base
// directory and free ports, the order-fulfillment saga served as Restate services over the
// SDK's HTTP/2 endpoint in this process, registered through the admin API, and driven
// through the ingress with @restatedev/restate-sdk-clients. Used by bench:saga
// (restate-variant.ts) and reusable by other suites (bench/latency).
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import { createServer } from 'node:net';
import * as restate from '@restatedev/restate-sdk';
import * as clients from '@restatedev/restate-sdk-clients';
import type { OrderLine } from '../../samples/order-fulfillment/messages';
import type { PlacedOrderData } from '../../samples/order-fulfillment/place-orders';
import type { CpuSnapshot } from '../harness/process-meter';
import { type PeerEvent, peerRecord } from './read-back-store';
import type { StoredEventRecord } from '../../lib/store/event-store';

// @restatedev/restate-sdk 1.17 calls Promise.withResolvers (Node >= 22); this repository runs
// Node 20, where the endpoint fails every invocation with "Promise.withResolvers is not a
// function". The standard polyfill, installed only when missing:
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

/** The restate-server binary of @restatedev/restate-server (its bin script only spawns this). */
export function restateServerBinary(): string {
  return require.resolve(`@restatedev/restate-server-${process.platform}-${process.arch}/bin/restate-server`);
}

// ---- the saga, as Restate services

/** One command's payload: what to do, and where its event falls in the order's history. */
interface Step<T> {
  readonly seq: number;
  readonly data: T;
}

/** Appends an event to the object's `events` state (the peer's counterpart of a domain stream). */
async function record(ctx: restate.ObjectContext, seq: number, type: string, data: unknown): Promise<void> {
  const events = (await ctx.get<PeerEvent[]>('events')) ?? [];
  events.push({ type, data, position: seq });
  ctx.set('events', events);
}

const readEvents = restate.handlers.object.shared(
  async (ctx: restate.ObjectSharedContext): Promise<PeerEvent[]> =>
    (await ctx.get<PeerEvent[]>('events')) ?? [],
);

/** `order-<id>`: the shop's OrderPlaced and the saga's close. */
const order = restate.object({
  name: 'order',
  handlers: {
    place: async (ctx: restate.ObjectContext, step: Step<PlacedOrderData>) =>
      record(ctx, step.seq, 'OrderPlaced', step.data),
    close: async (ctx: restate.ObjectContext, step: Step<{ reason?: string }>) =>
      step.data.reason === undefined
        ? record(ctx, step.seq, 'OrderCompleted', { orderId: ctx.key })
        : record(ctx, step.seq, 'OrderCancelled', { orderId: ctx.key, reason: step.data.reason }),
    events: readEvents,
  },
});

/** `payment-<id>`: charges above 10000 are declined (the sample's rule). */
const payment = restate.object({
  name: 'payment',
  handlers: {
    charge: async (ctx: restate.ObjectContext, step: Step<{ amount: number }>) => {
      if (step.data.amount > 10000) {
        await record(ctx, step.seq, 'PaymentDeclined', {
          orderId: ctx.key,
          reason: 'amount above the 10000 limit',
        });
        return { chargeId: undefined };
      }
      const chargeId = ctx.rand.uuidv4();
      await record(ctx, step.seq, 'PaymentCharged', { orderId: ctx.key, chargeId, amount: step.data.amount });
      return { chargeId };
    },
    refund: async (ctx: restate.ObjectContext, step: Step<{ chargeId: string; amount: number }>) =>
      record(ctx, step.seq, 'PaymentRefunded', { orderId: ctx.key, ...step.data }),
    events: readEvents,
  },
});

/** `inventory-<id>`: a sku starting with `OOS-` is out of stock. */
const inventory = restate.object({
  name: 'inventory',
  handlers: {
    reserve: async (ctx: restate.ObjectContext, step: Step<{ items: readonly OrderLine[] }>) => {
      const missing = step.data.items.find((line) => line.sku.startsWith('OOS-'));
      if (missing) {
        await record(ctx, step.seq, 'InventoryReservationFailed', { orderId: ctx.key, sku: missing.sku });
        return { reservationId: undefined };
      }
      const reservationId = ctx.rand.uuidv4();
      await record(ctx, step.seq, 'InventoryReserved', { orderId: ctx.key, reservationId });
      return { reservationId };
    },
    release: async (ctx: restate.ObjectContext, step: Step<{ reservationId: string }>) =>
      record(ctx, step.seq, 'InventoryReleased', { orderId: ctx.key, ...step.data }),
    events: readEvents,
  },
});

/** `shipment-<id>`: country `XX` cannot be shipped to. */
const shipment = restate.object({
  name: 'shipment',
  handlers: {
    create: async (ctx: restate.ObjectContext, step: Step<{ country: string }>) => {
      if (step.data.country === 'XX') {
        await record(ctx, step.seq, 'ShipmentFailed', { orderId: ctx.key, reason: 'undeliverable address' });
        return { shipmentId: undefined };
      }
      const shipmentId = ctx.rand.uuidv4();
      await record(ctx, step.seq, 'ShipmentCreated', { orderId: ctx.key, shipmentId });
      return { shipmentId };
    },
    events: readEvents,
  },
});

/** How a saga ended: `completed` or the cancellation reason. */
export type RestateSagaOutcome = 'completed' | 'payment-declined' | 'out-of-stock' | 'shipment-failed';

/**
 * The order saga as a Restate service, the idiomatic way (durable execution): each step is
 * a durable call to the keyed service that owns it, each success pushes its undo, and a
 * business failure closes the order and runs the undos in reverse. Restate's journal is the
 * process state; a replay after a crash skips the calls already answered.
 */
const orderFulfillment = restate.service({
  name: 'orderFulfillment',
  handlers: {
    run: async (ctx: restate.Context, placed: PlacedOrderData): Promise<RestateSagaOutcome> => {
      const id = placed.orderId;
      let seq = 0;
      const undo: (() => Promise<void>)[] = [];
      const cancel = async (reason: Exclude<RestateSagaOutcome, 'completed'>) => {
        await ctx.objectClient(order, id).close({ seq: seq++, data: { reason } });
        for (const step of undo.reverse()) await step();
        return reason;
      };
      await ctx.objectClient(order, id).place({ seq: seq++, data: placed });
      const { chargeId } = await ctx.objectClient(payment, id).charge({
        seq: seq++,
        data: { amount: placed.total },
      });
      if (chargeId === undefined) return cancel('payment-declined');
      undo.push(() =>
        ctx.objectClient(payment, id).refund({ seq: seq++, data: { chargeId, amount: placed.total } }),
      );
      const { reservationId } = await ctx.objectClient(inventory, id).reserve({
        seq: seq++,
        data: { items: placed.items },
      });
      if (reservationId === undefined) return cancel('out-of-stock');
      undo.push(() => ctx.objectClient(inventory, id).release({ seq: seq++, data: { reservationId } }));
      const { shipmentId } = await ctx.objectClient(shipment, id).create({
        seq: seq++,
        data: { country: placed.shippingAddress.country },
      });
      if (shipmentId === undefined) return cancel('shipment-failed');
      await ctx.objectClient(order, id).close({ seq: seq++, data: {} });
      return 'completed';
    },
  },
});

// ---- the server

/** Options of {@link start}. */
export interface RestatePeerOptions {
  /** restate-server's `--base-dir` (its RocksDB, logs and metadata); the caller creates and removes it. */
  readonly baseDir: string;
  /** Where restate-server's own output goes. @default ignored (only the last lines are kept for errors) */
  readonly serverLog?: (chunk: string) => void;
  /** @default 60000 */
  readonly startTimeoutMs?: number;
}

/** A running restate-server with the order saga registered. */
export interface RestatePeer {
  readonly ingressUrl: string;
  readonly adminUrl: string;
  /** The restate-server process id (its CPU is the "server" CPU). */
  readonly pid: number;
  /** Runs one saga to its end through the ingress (idempotent per order id). */
  runSaga(order: PlacedOrderData): Promise<RestateSagaOutcome>;
  /** The sample's four streams of an order, read back from the objects' state. */
  readStream(stream: string): Promise<StoredEventRecord[]>;
  /** restate-server's CPU and memory now, from /proc. */
  serverSample(): CpuSnapshot;
  /** Stops the SDK endpoint and restate-server (SIGTERM, then SIGKILL after 10 s). */
  close(): Promise<void>;
}

/** A free TCP port on loopback (released before use; the window for a clash is small). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

const CLOCK_TICKS_US = 10_000; // USER_HZ is 100 on Linux: one tick is 10 ms.

/** A process's CPU (from /proc/<pid>/stat) and RSS (from /proc/<pid>/status), as a {@link CpuSnapshot}. */
export function procSnapshot(pid: number): CpuSnapshot {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return {
    cpuUserUs: Number(fields[11]) * CLOCK_TICKS_US,
    cpuSystemUs: Number(fields[12]) * CLOCK_TICKS_US,
    heapUsedBytes: 0,
    rssBytes: kib('VmRSS'),
    maxRssBytes: kib('VmHWM'),
  };
}

async function until(what: string, deadline: number, probe: () => Promise<boolean>): Promise<void> {
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`Restate: ${what} did not happen in time.`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Starts restate-server in `baseDir` on free loopback ports (ingress, admin, node-to-node:
 * not the defaults 8080/9070/5122), serves the order saga on an HTTP/2 endpoint in this
 * process, registers it as a deployment and waits until the ingress routes to it.
 *
 * @example
 * const peer = await start({ baseDir: mkdtempSync(join(tmpdir(), 'restate-')) });
 * await peer.runSaga(order); // 'completed'
 * await peer.close();
 */
export async function start(options: RestatePeerOptions): Promise<RestatePeer> {
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  const [ingressPort, adminPort, nodePort] = [await freePort(), await freePort(), await freePort()];
  const ingressUrl = `http://127.0.0.1:${ingressPort}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;

  let output = '';
  const server: ChildProcess = spawn(
    restateServerBinary(),
    ['--base-dir', options.baseDir, '--node-name', 'bench', '--no-logo', '--listen-mode', 'tcp'],
    {
      env: {
        ...process.env,
        RESTATE_INGRESS__BIND_ADDRESS: `127.0.0.1:${ingressPort}`,
        RESTATE_ADMIN__BIND_ADDRESS: `127.0.0.1:${adminPort}`,
        RESTATE_BIND_ADDRESS: `127.0.0.1:${nodePort}`,
        RESTATE_ADVERTISED_ADDRESS: `http://127.0.0.1:${nodePort}`,
        RESTATE_DISABLE_TELEMETRY: 'true',
        RESTATE_LOG_DISABLE_ANSI_CODES: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const onOutput = (chunk: Buffer) => {
    const text = chunk.toString();
    output = (output + text).slice(-4000);
    options.serverLog?.(text);
  };
  server.stdout?.on('data', onOutput);
  server.stderr?.on('data', onOutput);
  let exited: string | undefined;
  // Never leave restate-server behind when this process ends without close() (an error, or
  // process.exit). A SIGKILL of this process still orphans it: its --base-dir names it.
  const killOnExit = () => server.kill('SIGKILL');
  process.once('exit', killOnExit);
  server.once('exit', (code, signal) => {
    exited = `restate-server exited (code ${code}, signal ${signal})`;
    process.removeListener('exit', killOnExit);
  });

  const endpoint = http2.createServer(
    restate.createEndpointHandler({
      services: [orderFulfillment, order, payment, inventory, shipment],
      // The SDK logs two lines per invocation at info: keep errors only, as a tuned deployment would.
      logger: (meta, message: unknown, ...more: unknown[]) => {
        if (String(meta.level) === 'error') console.error('[restate sdk]', message, ...more);
      },
    }),
  );
  // Restate keeps its HTTP/2 sessions to the endpoint open: close() alone would wait forever.
  const sessions = new Set<http2.ServerHttp2Session>();
  endpoint.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  const stopEndpoint = () =>
    new Promise<void>((resolve) => {
      endpoint.close(() => resolve());
      for (const session of sessions) session.destroy();
    });
  const kill = async () => {
    if (server.exitCode === null && server.signalCode === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
        server.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        server.kill('SIGTERM');
      });
    }
    await stopEndpoint();
  };

  try {
    const endpointPort = await new Promise<number>((resolve, reject) => {
      endpoint.once('error', reject);
      endpoint.listen(0, '127.0.0.1', () => {
        const address = endpoint.address();
        if (typeof address === 'object' && address) resolve(address.port);
        else reject(new Error('The Restate endpoint has no port.'));
      });
    });
    const alive = () => {
      if (exited) throw new Error(exited);
    };
    await until('admin API up', deadline, async () => {
      alive();
      return (await fetch(`${adminUrl}/health`)).ok;
    });
    await until('ingress up', deadline, async () => {
      alive();
      return (await fetch(`${ingressUrl}/restate/health`)).ok;
    });
    const registered = await fetch(`${adminUrl}/deployments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uri: `http://127.0.0.1:${endpointPort}`, force: true }),
    });
    if (!registered.ok)
      throw new Error(`Registering the deployment failed: ${registered.status} ${await registered.text()}`);
    const ingress = clients.connect({ url: ingressUrl });
    // The ingress learns of new services asynchronously: wait until it serves a read (each
    // probe bounded, since Restate retries a failing invocation instead of answering).
    await until('the ingress routing to the deployment', deadline, async () => {
      alive();
      const probe = await fetch(`${ingressUrl}/order/probe/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        signal: AbortSignal.timeout(5000),
      });
      return probe.ok;
    });

    return {
      ingressUrl,
      adminUrl,
      pid: server.pid as number,
      runSaga: async (placed) =>
        ingress
          .serviceClient(orderFulfillment)
          .run(placed, clients.rpc.opts({ idempotencyKey: placed.orderId })),
      readStream: async (stream) => {
        const dash = stream.indexOf('-');
        const [kind, key] = [stream.slice(0, dash), stream.slice(dash + 1)];
        const target = { order, payment, inventory, shipment }[kind];
        if (!target) return [];
        const events = await ingress.objectClient(target as typeof order, key).events();
        return events.map((e, i) => peerRecord(stream, i, e));
      },
      serverSample: () => procSnapshot(server.pid as number),
      close: kill,
    };
  } catch (error) {
    await kill();
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message}\n--- restate-server output (tail) ---\n${output.trim()}`);
  }
}
