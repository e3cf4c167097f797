/**
 * One benchmark variant in a fresh process: opens its store, runs every workload
 * (setup, then a measured phase), and prints one line `RESULT <json>` for the driver.
 *
 * Usage: node -r ./spec/register.js bench/store/variant-child.ts --variant <name>
 *        [--duration ms] [--warm-up ms] [--global-warm-up ms] [--catch-up events]
 *        [--short-streams n] [--workloads a,b] [--server-cpu-prof <dir>]
 * `--server-cpu-prof` runs the server child with `node --cpu-prof` (profile written to <dir>).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { EventStore } from '../../lib/store/event-store';
import { EventStoreDbEventStore } from '../../lib/store/eventstoredb/eventstoredb-event-store';
import { LocalEventStore } from '../../lib/store/local/local-event-store';
import { ProcessMeter, type PhaseUsage } from './process-meter';
import { InputPool, storeWorkloads, warmUpStore } from './workloads';

/** The variants the driver knows, with the back-end letter BENCHMARKS.md uses. */
export const VARIANTS = {
  'client-embedded-durable': {
    backend: 'B',
    description: 'real client -> embedded server (own process), durable directory',
  },
  'client-embedded-memory': {
    backend: 'B',
    description: 'real client -> embedded server (own process), memory',
  },
  'client-thin-memory': {
    backend: 'floor',
    description: 'real client -> thin in-memory gRPC server (own process), bench/store/thin-server.ts',
  },
  'local-durable': { backend: 'A', description: 'LocalEventStore in-process, durable directory' },
  'local-memory': { backend: 'A', description: 'LocalEventStore in-process, memory' },
  'client-real': { backend: 'C', description: 'real client -> EventStoreDB at EVENTSTORE_CONNECTION_STRING' },
} as const;

/** A variant name. */
export type VariantName = keyof typeof VARIANTS;

/** One workload's measurements in one run of one variant. */
export interface WorkloadResult {
  readonly workload: string;
  readonly operations: number;
  readonly events: number;
  readonly elapsedMs: number;
  readonly eventsPerSec: number;
  readonly opsPerSec: number;
  readonly clientCpuMicrosPerEvent: number;
  /** null when the store runs in the client process or on a server we cannot measure. */
  readonly serverCpuMicrosPerEvent: number | null;
  readonly client: PhaseUsage;
  readonly server: PhaseUsage | null;
}

/** What a variant child prints. */
export interface VariantRun {
  readonly variant: VariantName;
  readonly node: string;
  readonly execArgv: readonly string[];
  readonly results: readonly WorkloadResult[];
}

/** A line-oriented request/response channel to the server child. */
class ServerChild {
  private readonly lines: AsyncIterator<string>;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    reader: Interface,
  ) {
    this.lines = reader[Symbol.asyncIterator]();
  }

  static async start(
    args: string[],
    nodeFlags: readonly string[] = [],
  ): Promise<{ server: ServerChild; connectionString: string }> {
    const child = spawn(
      process.execPath,
      [
        ...nodeFlags,
        '-r',
        join(__dirname, '..', '..', 'spec', 'register.js'),
        join(__dirname, 'server-child.ts'),
        ...args,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    ) as unknown as ChildProcessWithoutNullStreams;
    const server = new ServerChild(child, createInterface({ input: child.stdout }));
    const ready = (await server.read()) as { ready?: string };
    if (ready.ready === undefined) throw new Error(`server child did not start: ${JSON.stringify(ready)}`);
    return { server, connectionString: ready.ready };
  }

  async request(command: 'start' | 'stop'): Promise<unknown> {
    this.child.stdin.write(`${command}\n`);
    return this.read();
  }

  async exit(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin.write('exit\n');
    await exited;
  }

  private async read(): Promise<unknown> {
    const next = await this.lines.next();
    if (next.done === true) throw new Error('server child closed its output');
    return JSON.parse(next.value) as unknown;
  }
}

function option(args: string[], name: string, fallback: string): string {
  const index = args.indexOf(name);
  return index >= 0 ? (args[index + 1] ?? fallback) : fallback;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const variant = option(args, '--variant', '') as VariantName;
  if (!(variant in VARIANTS)) throw new Error(`unknown variant '${variant}'`);
  const settings = {
    durationMs: Number(option(args, '--duration', '350')),
    warmUpMs: Number(option(args, '--warm-up', '200')),
    catchUpEvents: Number(option(args, '--catch-up', '6000')),
    shortStreams: Number(option(args, '--short-streams', '300')),
  };
  const only = option(args, '--workloads', '');
  const profileDir = option(args, '--server-cpu-prof', '');
  const runId = randomUUID().replace(/-/g, '').slice(0, 8);
  const globalWarmUpMs = Number(option(args, '--global-warm-up', '500'));
  const workloads = storeWorkloads(settings, runId).filter(
    (workload) => only === '' || only.split(',').includes(workload.name),
  );

  let dir: string | undefined;
  let server: ServerChild | undefined;
  let store: EventStore;
  switch (variant) {
    case 'client-embedded-durable':
    case 'client-embedded-memory':
    case 'client-thin-memory': {
      if (variant === 'client-embedded-durable') dir = await mkdtemp(join(tmpdir(), 'sagastream-bench-'));
      const started = await ServerChild.start(
        variant === 'client-thin-memory' ? ['--thin'] : dir === undefined ? ['--memory'] : ['--db', dir],
        profileDir === '' ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir],
      );
      server = started.server;
      store = new EventStoreDbEventStore(started.connectionString);
      break;
    }
    case 'local-durable':
      dir = await mkdtemp(join(tmpdir(), 'sagastream-bench-'));
      store = await LocalEventStore.open({ dir });
      break;
    case 'local-memory':
      store = await LocalEventStore.open({ memory: true });
      break;
    case 'client-real': {
      const connectionString = process.env.EVENTSTORE_CONNECTION_STRING;
      if (connectionString === undefined || connectionString === '') {
        throw new Error('client-real needs EVENTSTORE_CONNECTION_STRING');
      }
      store = new EventStoreDbEventStore(connectionString);
      break;
    }
  }

  const meter = new ProcessMeter();
  const input = new InputPool(20_241_122);
  const results: WorkloadResult[] = [];
  try {
    await warmUpStore(store, input, globalWarmUpMs, runId);
    for (const workload of workloads) {
      await workload.setup(store, input);
      if (server !== undefined) await server.request('start');
      meter.start();
      const startedAt = process.hrtime.bigint();
      const count = await workload.run(store, input);
      const elapsedMs = Number(process.hrtime.bigint() - startedAt) / 1e6;
      const client = await meter.stop();
      const serverUsage =
        server === undefined ? null : ((await server.request('stop')) as { usage: PhaseUsage }).usage;
      results.push({
        workload: workload.name,
        operations: count.operations,
        events: count.events,
        elapsedMs,
        eventsPerSec: (count.events * 1000) / elapsedMs,
        opsPerSec: (count.operations * 1000) / elapsedMs,
        clientCpuMicrosPerEvent: client.cpuMicros / count.events,
        serverCpuMicrosPerEvent: serverUsage === null ? null : serverUsage.cpuMicros / count.events,
        client,
        server: serverUsage,
      });
    }
  } finally {
    meter.dispose();
    await store.close();
    await server?.exit();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
  const run: VariantRun = { variant, node: process.version, execArgv: process.execArgv, results };
  process.stdout.write(`RESULT ${JSON.stringify(run)}\n`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(
        `variant failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
