/**
 * `npm run bench:store`: the store benchmark driver (BENCHMARKS.md harness rules).
 *
 * Each round spawns every variant as a fresh child process, in the same interleaved
 * order (A-B-C-D, A-B-C-D, ...); a client variant's child starts the embedded server
 * in a process of its own, so client and server CPU are measured separately. Every
 * variant gets the same seeded input; each workload's setup and warm-up are excluded
 * from its measured phase. Results go to bench/results/store-<timestamp>.json (one
 * object per variant, every run plus median/min/max) and to a table on stdout.
 *
 * Variants: the embedded server (durable and memory) through the real client, the floor
 * (`client-thin-memory`: the same client against bench/store/thin-server.ts, the thinnest
 * server it accepts), and LocalEventStore (durable and memory). After the table it prints
 * events/s ratios paired within each round (the two variants ran back to back, under the
 * same machine load), which is what to compare on a shared machine, not absolute numbers.
 * Before each round it measures the disk's sync latency (`diskSyncMicros`): durable ratios
 * from rounds where that is far above ~90 us measure other work on the disk.
 *
 * Options: --rounds <n> (default 5), --variants a,b, --workloads a,b,
 *          --duration <ms per duration-bound workload> (default 350),
 *          --warm-up <unmeasured ms before each workload> (default 1000),
 *          --global-warm-up <unmeasured ms before the first workload> (default 500),
 *          --catch-up <events> (default 6000), --short-streams <n> (default 300),
 *          --server-cpu-prof <dir> (run every server child under `node --cpu-prof`, profiles in <dir>).
 * The defaults finish in about 3 minutes on 2 cores. With EVENTSTORE_CONNECTION_STRING
 * set, the variant `client-real` (back-end C) is added.
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  constants,
  fsyncSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { VARIANTS, type VariantName, type VariantRun, type WorkloadResult } from './variant-child';

interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

const METRICS: Record<string, (result: WorkloadResult) => number | null> = {
  eventsPerSec: (r) => r.eventsPerSec,
  opsPerSec: (r) => r.opsPerSec,
  clientCpuMicrosPerEvent: (r) => r.clientCpuMicrosPerEvent,
  serverCpuMicrosPerEvent: (r) => r.serverCpuMicrosPerEvent,
  clientGcMs: (r) => r.client.gcMs,
  serverGcMs: (r) => r.server?.gcMs ?? null,
  clientPeakHeapMB: (r) => r.client.peakHeapBytes / 2 ** 20,
  clientPeakRssMB: (r) => r.client.peakRssBytes / 2 ** 20,
  serverPeakRssMB: (r) => (r.server === null ? null : r.server.peakRssBytes / 2 ** 20),
};

function option(args: string[], name: string, fallback: string): string {
  const index = args.indexOf(name);
  return index >= 0 ? (args[index + 1] ?? fallback) : fallback;
}

function spread(values: readonly number[]): Spread | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/**
 * The ratios the store issue sets targets for: [label, numerator, denominator, target].
 * 1/1.3 = 0.77 is "within 1.3x of the thin floor".
 */
const RATIOS: ReadonlyArray<readonly [string, VariantName, VariantName, string]> = [
  ['embedded durable / thin', 'client-embedded-durable', 'client-thin-memory', '>= 0.77'],
  ['embedded memory / thin', 'client-embedded-memory', 'client-thin-memory', '>= 0.77'],
  ['local durable / embedded durable', 'local-durable', 'client-embedded-durable', '>= 20'],
  ['local memory / embedded durable', 'local-memory', 'client-embedded-durable', '>= 20'],
];

/**
 * events/s of `numerator` over `denominator`, one ratio per round (the two ran back to
 * back, under the same load), summarised per workload.
 */
function pairedRatios(
  numerator: readonly VariantRun[],
  denominator: readonly VariantRun[],
): Record<string, Spread> {
  const perWorkload = new Map<string, number[]>();
  for (let round = 0; round < Math.min(numerator.length, denominator.length); round++) {
    for (const result of numerator[round]!.results) {
      const other = denominator[round]!.results.find((r) => r.workload === result.workload);
      if (other === undefined || other.eventsPerSec === 0) continue;
      const list = perWorkload.get(result.workload) ?? [];
      list.push(result.eventsPerSec / other.eventsPerSec);
      perWorkload.set(result.workload, list);
    }
  }
  return Object.fromEntries([...perWorkload].map(([workload, values]) => [workload, spread(values)!]));
}

/**
 * p50 of 50 `O_DSYNC` 450-byte writes inside an ftruncate-sized file in the temporary
 * directory the durable variants use: what one durable append waits for on this disk right
 * now (about 90 us when quiet; 1-3 ms while other benchmarks sync the same disk).
 */
function diskSyncMicros(): number {
  const dir = mkdtempSync(join(tmpdir(), 'sagastream-bench-sync-'));
  const { O_RDWR, O_CREAT, O_DSYNC } = constants;
  const fd = openSync(join(dir, 'probe'), O_RDWR | O_CREAT | O_DSYNC, 0o644);
  try {
    const record = Buffer.alloc(450, 0x61);
    ftruncateSync(fd, 64 * record.length);
    fsyncSync(fd);
    const micros: number[] = [];
    for (let i = 0; i < 50; i++) {
      const start = process.hrtime.bigint();
      writeSync(fd, record, 0, record.length, i * record.length);
      micros.push(Number(process.hrtime.bigint() - start) / 1000);
    }
    return spread(micros)!.median;
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

function runVariant(variant: VariantName, childArgs: string[]): Promise<VariantRun> {
  return new Promise<VariantRun>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '-r',
        join(__dirname, '..', '..', 'spec', 'register.js'),
        join(__dirname, 'variant-child.ts'),
        '--variant',
        variant,
        ...childArgs,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = output.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || line === undefined) {
        reject(new Error(`variant ${variant} exited with ${String(code)}:\n${output}`));
        return;
      }
      resolve(JSON.parse(line.slice('RESULT '.length)) as VariantRun);
    });
  });
}

function format(value: number): string {
  if (value >= 100) return Math.round(value).toLocaleString('en-US');
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function cell(s: Spread | null | undefined): string {
  return s === null || s === undefined ? '-' : `${format(s.median)} (${format(s.min)}-${format(s.max)})`;
}

const USAGE = `usage: node -r ./spec/register.js bench/store/run.ts [options]
  --rounds <n>               rounds of every variant, interleaved (default 5)
  --variants a,b             ${Object.keys(VARIANTS).join(', ')}
  --workloads a,b            append-single-sequential, append-single-64-writers, append-batch-100,
                             read-short-stream, catch-up-subscription (default: all)
  --duration <ms>            measured phase of each duration-bound workload (default 350)
  --warm-up <ms>             unmeasured warm-up before each workload (default 1000)
  --global-warm-up <ms>      unmeasured warm-up before the first workload (default 500)
  --catch-up <events>        events in the catch-up stream (default 6000)
  --short-streams <n>        3-event streams the read workload cycles through (default 300)
  --server-cpu-prof <dir>    run every server child under node --cpu-prof, profiles in <dir>`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help')) {
    console.log(USAGE);
    return;
  }
  const rounds = Math.max(1, Number(option(args, '--rounds', '5')));
  const defaultVariants: VariantName[] = [
    'client-embedded-durable',
    'client-embedded-memory',
    'client-thin-memory',
    'local-durable',
    'local-memory',
  ];
  if (process.env.EVENTSTORE_CONNECTION_STRING) defaultVariants.push('client-real');
  const variants = (option(args, '--variants', '') || defaultVariants.join(',')).split(',') as VariantName[];
  for (const variant of variants) if (!(variant in VARIANTS)) throw new Error(`unknown variant '${variant}'`);
  const settings = {
    duration: option(args, '--duration', '350'),
    warmUp: option(args, '--warm-up', '1000'),
    globalWarmUp: option(args, '--global-warm-up', '500'),
    catchUp: option(args, '--catch-up', '6000'),
    shortStreams: option(args, '--short-streams', '300'),
    workloads: option(args, '--workloads', ''),
    serverCpuProf: option(args, '--server-cpu-prof', ''),
  };
  const childArgs = [
    '--duration',
    settings.duration,
    '--warm-up',
    settings.warmUp,
    '--global-warm-up',
    settings.globalWarmUp,
    '--catch-up',
    settings.catchUp,
    '--short-streams',
    settings.shortStreams,
    ...(settings.workloads === '' ? [] : ['--workloads', settings.workloads]),
    ...(settings.serverCpuProf === '' ? [] : ['--server-cpu-prof', settings.serverCpuProf]),
  ];

  const startedAt = new Date();
  const loadAtStart = loadavg();
  const runs = new Map<VariantName, VariantRun[]>(variants.map((v) => [v, []]));
  const diskSyncP50: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    diskSyncP50.push(diskSyncMicros());
    for (const variant of variants) {
      const childStart = Date.now();
      runs.get(variant)!.push(await runVariant(variant, childArgs));
      process.stderr.write(
        `round ${round}/${rounds}: ${variant} (${((Date.now() - childStart) / 1000).toFixed(1)} s, ` +
          `load ${loadavg()[0]!.toFixed(1)})\n`,
      );
    }
  }

  const report = variants.map((variant) => {
    const variantRuns = runs.get(variant)!;
    const workloads = [...new Set(variantRuns.flatMap((run) => run.results.map((r) => r.workload)))];
    const summary = Object.fromEntries(
      workloads.map((workload) => {
        const results = variantRuns.flatMap((run) => run.results.filter((r) => r.workload === workload));
        const metrics = Object.fromEntries(
          Object.entries(METRICS).map(([name, pick]) => [
            name,
            spread(results.map(pick).filter((v): v is number => v !== null)),
          ]),
        );
        return [workload, metrics];
      }),
    ) as Record<string, Record<string, Spread | null>>;
    return {
      variant,
      backend: VARIANTS[variant].backend,
      description: VARIANTS[variant].description,
      node: variantRuns[0]?.node,
      nodeFlags: variantRuns[0]?.execArgv,
      rounds: variantRuns.length,
      summary,
      runs: variantRuns,
    };
  });

  const ratios = RATIOS.filter(
    ([, numerator, denominator]) => runs.has(numerator) && runs.has(denominator),
  ).map(([label, numerator, denominator, target]) => ({
    label,
    numerator,
    denominator,
    target,
    workloads: pairedRatios(runs.get(numerator)!, runs.get(denominator)!),
  }));

  const outDir = join(__dirname, '..', 'results');
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, `store-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(
    file,
    `${JSON.stringify(
      {
        benchmark: 'store',
        startedAt: startedAt.toISOString(),
        machine: {
          platform: platform(),
          cpus: cpus().length,
          cpuModel: cpus()[0]?.model,
          node: process.version,
          // The machine is shared: load averages say how noisy absolute numbers are.
          loadAverageAtStart: loadAtStart,
          loadAverageAtEnd: loadavg(),
        },
        elapsedSeconds: (Date.now() - startedAt.getTime()) / 1000,
        settings: { rounds, ...settings },
        // Durable variants wait for this disk; other work on it moves their numbers.
        diskSyncMicrosP50PerRound: diskSyncP50,
        ratios,
        variants: report,
      },
      null,
      2,
    )}\n`,
  );

  const header = [
    'variant',
    'workload',
    'events/s',
    'client us/event',
    'server us/event',
    'client GC ms',
    'server GC ms',
    'client heap MB',
    'client RSS MB',
    'server RSS MB',
  ];
  const rows = report.flatMap((entry) =>
    Object.entries(entry.summary).map(([workload, m]) => [
      `${entry.variant} (${entry.backend})`,
      workload,
      cell(m.eventsPerSec),
      cell(m.clientCpuMicrosPerEvent),
      cell(m.serverCpuMicrosPerEvent),
      cell(m.clientGcMs),
      cell(m.serverGcMs),
      cell(m.clientPeakHeapMB),
      cell(m.clientPeakRssMB),
      cell(m.serverPeakRssMB),
    ]),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  console.log(
    `\nstore benchmark: median (min-max) over ${rounds} rounds, ${process.version}, ${cpus().length} cpus, ` +
      `load average ${loadAtStart[0]!.toFixed(1)} -> ${loadavg()[0]!.toFixed(1)}, ` +
      `disk sync p50 per round ${diskSyncP50.map((us) => `${Math.round(us)} us`).join(', ')}, ` +
      `${Math.round((Date.now() - startedAt.getTime()) / 1000)} s`,
  );
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const row of rows) console.log(line(row));
  if (ratios.length > 0) {
    console.log(
      '\nratios of events/s, paired within each round (same round = same machine load): median (min-max)',
    );
    const workloadNames = [...new Set(ratios.flatMap((r) => Object.keys(r.workloads)))];
    const ratioHeader = ['ratio', 'target', ...workloadNames];
    const ratioRows = ratios.map((r) => [
      r.label,
      r.target,
      ...workloadNames.map((w) => cell(r.workloads[w])),
    ]);
    const ratioWidths = ratioHeader.map((h, i) =>
      Math.max(h.length, ...ratioRows.map((row) => row[i]!.length)),
    );
    const ratioLine = (cells: string[]): string => cells.map((c, i) => c.padEnd(ratioWidths[i]!)).join(' | ');
    console.log(ratioLine(ratioHeader));
    console.log(ratioWidths.map((w) => '-'.repeat(w)).join('-|-'));
    for (const row of ratioRows) console.log(ratioLine(row));
  }
  console.log(`\nwritten to ${file}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
