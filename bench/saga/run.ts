// npm run bench:saga: the order-fulfillment saga end to end on the embedded server (back-end B),
// the framework side by side with a hand-written floor. See /work/shared/BENCHMARKS.md and
// bench/saga/README.md.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { SingleBar } from 'cli-progress';
import { generateOrders } from '../../samples/order-fulfillment/place-orders';
import { startServerProcess } from '../harness/embedded-server';
import { summarizeProfile } from '../harness/profile-summary';
import {
  environment,
  formatMiB,
  formatNumber,
  formatSpread,
  formatTable,
  writeResultJson,
} from '../harness/report';
import { interleave, runChild } from '../harness/runner';
import { ratio, spread, type Spread } from '../harness/stats';
import {
  type Actual,
  type BudgetLine,
  budgetFor,
  checkBudget,
  type SagaPath,
  workloadFor,
  FRAMEWORK_BUDGET,
} from './budget';
import type { CpuSnapshot } from '../harness/process-meter';
import type { OpCounts } from './counting-event-store';
import type { SagaChildInput, SagaChildResult } from './workload';

/**
 * Where a variant keeps its events: `B` the embedded server the driver starts in its own
 * process for the run; `A` in the variant's own process (nothing to start); `own` a server
 * the variant starts and measures itself (restate-server).
 */
type Backend = 'A' | 'B' | 'own';
interface VariantSpec {
  readonly script: string;
  readonly backend: Backend;
}
const VARIANTS: Record<string, VariantSpec> = {
  floor: { script: join(__dirname, 'floor-variant.ts'), backend: 'B' },
  'floor-a': { script: join(__dirname, 'floor-variant.ts'), backend: 'A' },
  sagastream: { script: join(__dirname, 'sagastream-variant.ts'), backend: 'B' },
  'sagastream-a': { script: join(__dirname, 'sagastream-local-variant.ts'), backend: 'A' },
  emmett: { script: join(__dirname, 'emmett-variant.ts'), backend: 'A' },
  restate: { script: join(__dirname, 'restate-variant.ts'), backend: 'own' },
};
/** What each variant is, for the tables and the JSON. */
const BACKEND_OF: Record<string, string> = {
  floor: 'B: hand-written on @eventstore/db-client, embedded server (own process)',
  'floor-a': 'A: hand-written through the EventStore port on LocalEventStore({ memory: true }), in process',
  sagastream: 'B: ProcessRuntime on EventStoreDbEventStore, embedded server (own process)',
  'sagastream-a': 'A: ProcessRuntime on LocalEventStore({ memory: true }), in process',
  emmett:
    'in-memory peer: Emmett 0.42.0 getInMemoryEventStore + in-memory message bus, CommandHandler per stream, in process',
  restate:
    'durable peer: Restate 1.7.12 server (own process, RocksDB WAL fsynced) + SDK 1.17.2 endpoint in the variant process',
};
const FRAMEWORK = 'sagastream';
const FRAMEWORK_A = 'sagastream-a';
const FLOOR = 'floor';
const FLOOR_A = 'floor-a';
const EMMETT = 'emmett';
const RESTATE = 'restate';
/** Variants whose store operations are checked against the framework budget. */
const BUDGETED = new Set([FRAMEWORK, FRAMEWORK_A]);
const TARGET_THROUGHPUT = 0.9;
const TARGET_CLIENT_CPU = 1.1;
/** Back-end A: sagas/s per core used (client + server CPU seconds per wall second). */
const TARGET_A_PER_CORE = 30_000;
/** Back-end A at the scale size: per-saga CPU at most this times the small run's ("no collapse"). */
const TARGET_SCALE_CPU_RATIO = 1.5;
const TARGET_OVER_EMMETT = 10;
const TARGET_OVER_RESTATE = 2;

const int = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer.`);
  return n;
};

interface Options {
  rounds: number;
  sizes: number[];
  orders: number;
  warmup: number;
  seed: number;
  variants: string[];
  memory: boolean;
  profile: string[] | boolean;
  nodeFlags: string[];
  out: string;
  stallMs: number;
  enforceTargets: boolean;
  script: string[];
  latencyOrders: number;
  scale: number;
  scaleVariants: string[];
  scaleInFlight: number;
  scaleMaxMs: number;
  scaleRounds: number;
  full: boolean;
  latencyVariants: string[];
}

const program = new Command('bench:saga')
  .description(
    'Order-fulfillment sagas end to end: sagastream on back-ends A and B against a hand-written floor and the peers.',
  )
  .option('--rounds <n>', 'interleaved rounds (each runs every variant at every size)', int('--rounds'), 3)
  .option(
    '--sizes <list>',
    'sagas in flight, comma-separated (1 measures the latency of one saga alone)',
    (v) => v.split(',').map((s) => int('--sizes')(s.trim())),
    [1, 64, 256, 1024],
  )
  .option('--latency-orders <n>', 'measured orders at 1 in flight', int('--latency-orders'), 100)
  .option(
    '--latency-variants <list>',
    'variants run at 1 in flight (the latency of one saga alone: durable against durable)',
    (v) => v.split(',').map((s) => s.trim()),
    [FLOOR, FRAMEWORK, RESTATE],
  )
  .option(
    '--scale <n>',
    'sagas in one extra run per round of each --scale-variants (the "no collapse at 1e5 instances" check); 0 skips it',
    (v) => (v === '0' ? 0 : int('--scale')(v)),
    100_000,
  )
  .option(
    '--scale-variants <list>',
    'variants of the scale run (those also in --variants)',
    (v) => v.split(',').map((s) => s.trim()),
    [FRAMEWORK_A, EMMETT],
  )
  .option(
    '--scale-rounds <n>',
    'rounds that end with the scale run (the first ones)',
    int('--scale-rounds'),
    1,
  )
  .option('--scale-in-flight <n>', 'sagas in flight in the scale run', int('--scale-in-flight'), 1024)
  .option(
    '--scale-max-ms <n>',
    "stop placing new orders in a peer's scale run after this long (sagastream-a always runs them all)",
    int('--scale-max-ms'),
    10_000,
  )
  .option(
    '--full',
    'the bigger run: 5 rounds, 2000 orders per size, 500 at 1 in flight, the scale run in every round with a 120 s cap (explicit options still win)',
    false,
  )
  .option(
    '--orders <n>',
    'measured orders per run (at least the sagas in flight; raise it for steadier numbers at large sizes)',
    int('--orders'),
    400,
  )
  .option('--warmup <n>', 'warm-up orders per run, excluded from the numbers', int('--warmup'), 100)
  .option('--seed <n>', 'seed of the order generator', int('--seed'), 42)
  .option(
    '--variants <list>',
    `comma-separated, of: ${Object.keys(VARIANTS).join(', ')}`,
    (v) => v.split(',').map((s) => s.trim()),
    Object.keys(VARIANTS),
  )
  .option('--memory', 'in-memory server log instead of the durable one', false)
  .option(
    '--profile [variants]',
    `CPU-profile the measured window of these variants (default ${FRAMEWORK}) into <out>/profiles; numbers then carry the profiler's overhead`,
    (v) => v.split(',').map((s) => s.trim()),
  )
  .option(
    '--node-flags <flags>',
    'extra Node flags for the variant children, space-separated',
    (v) => v.split(' ').filter(Boolean),
    [],
  )
  .option('--out <dir>', 'where the JSON result goes', join(__dirname, '..', 'results'))
  .option('--stall-ms <n>', 'count sagas as lost after this long without progress', int('--stall-ms'), 20_000)
  .option(
    '--script <name=path>',
    'add (or replace) a variant script, e.g. an experiment; repeatable',
    (v: string, all: string[]) => [...all, v],
    [] as string[],
  )
  .option('--enforce-targets', 'also exit non-zero when a throughput or CPU target is missed', false);

interface Run {
  readonly variant: string;
  readonly inFlight: number;
  readonly round: number;
  readonly execArgv: readonly string[];
  readonly result: SagaChildResult;
  readonly budget?: readonly BudgetLine[];
}

/** What the framework was counted doing, in the terms of the budget. */
function actualOf(counts: OpCounts): Actual {
  const known = new Set(['append:process', 'appendEvents:process', 'read:process', 'checkpointWrite']);
  let subscriptionEvents = 0;
  let other = 0;
  for (const [key, n] of Object.entries(counts)) {
    if (key.startsWith('subscriptionEvents:')) subscriptionEvents += n;
    else if (
      known.has(key) ||
      key.startsWith('readEvents:') ||
      key.startsWith('subscriptionBatches:') ||
      key.startsWith('subscribe:') ||
      key === 'checkpointRead' ||
      key === 'append:domain' ||
      key === 'appendEvents:domain' ||
      key === 'read:domain' ||
      // whenIdle() probes the heads of the subscribed categories: tooling, not saga work.
      key === 'read:category'
    )
      continue;
    else other += n;
  }
  return {
    processAppends: counts['append:process'] ?? 0,
    processEvents: counts['appendEvents:process'] ?? 0,
    processReads: counts['read:process'] ?? 0,
    subscriptionEvents,
    checkpointWrites: counts.checkpointWrite ?? 0,
    other,
  };
}

function pathsList(paths: Readonly<Record<SagaPath, number>>): SagaPath[] {
  return (Object.entries(paths) as [SagaPath, number][]).flatMap(([path, n]) =>
    Array<SagaPath>(n).fill(path),
  );
}

const perSaga = (n: number, r: SagaChildResult) => n / Math.max(1, r.finished);

/** Cores the run kept busy: client and server CPU seconds per wall second. */
const coresOf = (r: SagaChildResult) => (r.client.cpuUs + r.serverCpuUs) / 1000 / r.client.wallMs;

/** The `server-sample` answer for a variant without a server process (back-end A). */
const NO_SERVER: CpuSnapshot = {
  cpuUserUs: 0,
  cpuSystemUs: 0,
  heapUsedBytes: 0,
  rssBytes: 0,
  maxRssBytes: 0,
};

async function main(): Promise<number> {
  program.parse();
  const options = program.opts<Options>();
  if (options.full) {
    // Only what was left at its default changes.
    const given = (name: string) => program.getOptionValueSource(name) === 'cli';
    if (!given('rounds')) options.rounds = 5;
    if (!given('orders')) options.orders = 2000;
    if (!given('latencyOrders')) options.latencyOrders = 500;
    if (!given('scaleRounds')) options.scaleRounds = options.rounds;
    if (!given('scaleMaxMs')) options.scaleMaxMs = 120_000;
  }
  for (const entry of options.script) {
    const [name, path] = entry.split('=');
    if (!name || !path) throw new Error(`--script wants name=path, got '${entry}'.`);
    VARIANTS[name] = { script: resolve(path), backend: VARIANTS[name]?.backend ?? 'B' };
  }
  for (const v of options.variants)
    if (!VARIANTS[v]) throw new Error(`Unknown variant '${v}' (known: ${Object.keys(VARIANTS).join(', ')}).`);
  const scaleVariants =
    options.scale > 0 ? options.scaleVariants.filter((v) => options.variants.includes(v)) : [];
  const scaleCase = scaleVariants.length > 0 ? options.scale : 0;
  /** The measured orders of a case: the scale case is `scale` sagas; 1 in flight is the latency case. */
  const ordersAt = (size: number) =>
    size === scaleCase && scaleCase > 0
      ? scaleCase
      : size === 1
        ? options.latencyOrders
        : Math.max(options.orders, size);
  const inFlightAt = (size: number) =>
    size === scaleCase && scaleCase > 0 ? Math.min(options.scaleInFlight, scaleCase) : size;
  const orders = Math.max(...options.sizes.map(ordersAt), scaleCase);
  const out = resolve(options.out);

  // The same seeded input for every variant and run (fresh server per run, so ids never clash).
  const work = mkdtempSync(join(tmpdir(), 'sagastream-bench-saga-'));
  const ordersFile = join(work, 'orders.json');
  writeFileSync(
    ordersFile,
    JSON.stringify(generateOrders(options.warmup + orders, { seed: options.seed, failureShare: 0.1 })),
  );

  // The scale case (keyed by its saga count) follows each round's sizes, for its variants only.
  const schedule = interleave(options.variants, options.sizes, options.rounds)
    .filter((run) => run.case !== 1 || options.latencyVariants.includes(run.variant))
    .flatMap((run, i, all) => {
      const lastOfRound = all[i + 1]?.round !== run.round;
      return lastOfRound && scaleCase > 0 && run.round <= options.scaleRounds
        ? [run, ...scaleVariants.map((variant) => ({ variant, case: scaleCase, round: run.round }))]
        : [run];
    });
  const runs: Run[] = [];
  const backend = `B: embedded server (${options.memory ? 'in-memory' : 'durable, fsynced'} log) in its own process, over @eventstore/db-client 6.2.1; A: LocalEventStore in memory, in the variant process`;
  console.log(`bench:saga  ${backend}`);
  console.log(
    `  ${options.sizes.map((n) => `${ordersAt(n)}@${n}`).join(', ')} measured orders + ${options.warmup} warm-up per run (10% compensations), seed ${options.seed}; ` +
      `${options.rounds} rounds x sizes ${options.sizes.join('/')} x ${options.variants.join('/')} = ${schedule.length} runs\n`,
  );
  const bar = process.stdout.isTTY
    ? new SingleBar({ format: '  {bar} {value}/{total} runs  {what}' })
    : undefined;
  bar?.start(schedule.length, 0, { what: '' });
  let failures = 0;
  try {
    for (const [i, planned] of schedule.entries()) {
      const what = `${planned.variant} @${planned.case} round ${planned.round}`;
      bar?.update(i, { what });
      const spec = VARIANTS[planned.variant] as VariantSpec;
      const server = spec.backend === 'B' ? await startServerProcess({ memory: options.memory }) : undefined;
      try {
        const profiled = options.profile === true ? [FRAMEWORK] : options.profile || [];
        const profile = profiled.includes(planned.variant)
          ? {
              dir: join(out, 'profiles'),
              name: `saga-${planned.variant}-${planned.case}-r${planned.round}-${Date.now()}`,
            }
          : undefined;
        const nodeFlags = options.nodeFlags;
        const input: SagaChildInput = {
          variant: planned.variant,
          connectionString: server?.connectionString ?? '',
          ordersFile,
          warmup: options.warmup,
          orders: ordersAt(planned.case),
          inFlight: inFlightAt(planned.case),
          stallMs: options.stallMs,
          ...(profile ? { profile } : {}),
          // The framework always runs all the scale sagas (the claim is about 1e5 instances);
          // a peer that collapses is stopped at the cap and reports the rate it reached.
          ...(planned.case === scaleCase && planned.variant !== FRAMEWORK_A
            ? { maxMeasuredMs: options.scaleMaxMs }
            : {}),
        };
        const child = await runChild<SagaChildResult>({
          script: spec.script,
          input,
          nodeFlags,
          timeoutMs: 600_000,
          onRequest: (kind) => {
            if (kind === 'server-sample') return server ? server.sample() : NO_SERVER;
            throw new Error(`unknown request ${kind}`);
          },
        });
        const r = child.result;
        const budget = BUDGETED.has(planned.variant)
          ? checkBudget(actualOf(r.counts), budgetFor(pathsList(r.paths), r.client.wallMs), r.finished)
          : undefined;
        runs.push({
          variant: planned.variant,
          inFlight: planned.case,
          round: planned.round,
          execArgv: child.execArgv,
          result: r,
          ...(budget ? { budget } : {}),
        });
        if (!bar) {
          console.log(
            `  ${what.padEnd(28)} ${formatNumber(r.sagasPerSecond).padStart(6)} sagas/s  ` +
              `client ${formatNumber(perSaga(r.client.cpuUs, r)).padStart(5)} us/saga  server ${formatNumber(perSaga(r.serverCpuUs, r)).padStart(5)} us/saga  lost ${r.lost}`,
          );
        }
      } catch (error) {
        failures++;
        console.error(`\n  ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        await server?.stop();
      }
    }
  } finally {
    bar?.update(schedule.length, { what: 'done' });
    bar?.stop();
    rmSync(work, { recursive: true, force: true });
  }

  // ---- aggregate
  const groups = new Map<string, Run[]>();
  for (const run of runs) {
    const key = `${run.variant}@${run.inFlight}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  const metric = (list: Run[], f: (r: SagaChildResult) => number): Spread =>
    spread(list.map((run) => f(run.result)));
  const summary = [...groups.entries()].map(([key, list]) => {
    const [variant, size] = key.split('@') as [string, string];
    return {
      variant,
      backend: BACKEND_OF[variant] ?? VARIANTS[variant]?.backend ?? '?',
      inFlight: Number(size),
      /** Sagas kept in flight (differs from `inFlight` only in the scale case, keyed by its saga count). */
      concurrency: list[0]?.result.inFlight ?? Number(size),
      sagas: metric(list, (r) => r.finished),
      runs: list.length,
      sagasPerSecond: metric(list, (r) => r.sagasPerSecond),
      cores: metric(list, coresOf),
      sagasPerSecondPerCore: metric(list, (r) => r.sagasPerSecond / coresOf(r)),
      clientCpuUsPerSaga: metric(list, (r) => perSaga(r.client.cpuUs, r)),
      serverCpuUsPerSaga: metric(list, (r) => perSaga(r.serverCpuUs, r)),
      gcMs: metric(list, (r) => r.client.gcMs),
      gcMsPerSaga: metric(list, (r) => perSaga(r.client.gcMs, r)),
      peakHeapBytes: metric(list, (r) => r.client.peakHeapBytes),
      peakRssBytes: metric(list, (r) => r.client.peakRssBytes),
      serverPeakRssBytes: metric(list, (r) => r.serverPeakRssBytes),
      latencyP50Us: metric(list, (r) => r.latencyUs.p50),
      latencyP99Us: metric(list, (r) => r.latencyUs.p99),
      lost: list.reduce((n, run) => n + run.result.lost, 0),
      duplicates: list.reduce(
        (n, run) => n + run.result.outcome.duplicates + run.result.duplicateTerminals,
        0,
      ),
      violations: list.reduce((n, run) => n + run.result.outcome.violationCount, 0),
      opsPerSaga: opsPerSaga(list),
    };
  });
  const sizes = options.sizes;
  const find = (variant: string, size: number) =>
    summary.find((s) => s.variant === variant && s.inFlight === size);
  // Only the sizes where both ran (a run without the floor or sagastream has no ratio to judge).
  const ratios = sizes
    .filter((size) => find(FRAMEWORK, size) && find(FLOOR, size))
    .map((size) => {
      const ours = find(FRAMEWORK, size);
      const floor = find(FLOOR, size);
      const throughput = ratio(ours?.sagasPerSecond.median ?? NaN, floor?.sagasPerSecond.median ?? NaN);
      const clientCpu = ratio(
        ours?.clientCpuUsPerSaga.median ?? NaN,
        floor?.clientCpuUsPerSaga.median ?? NaN,
      );
      const serverCpu = ratio(
        ours?.serverCpuUsPerSaga.median ?? NaN,
        floor?.serverCpuUsPerSaga.median ?? NaN,
      );
      return {
        inFlight: size,
        throughput,
        clientCpu,
        serverCpu,
        throughputMet: throughput >= TARGET_THROUGHPUT,
        clientCpuMet: clientCpu <= TARGET_CLIENT_CPU,
      };
    });
  const targetChecks = peerChecks(summary, sizes, scaleCase, options.scaleInFlight);
  const budgetFailures = runs.flatMap((run) =>
    (run.budget ?? [])
      .filter((line) => !line.ok)
      .map((line) => ({ inFlight: run.inFlight, round: run.round, ...line })),
  );
  const correctness = summary.filter((s) => s.lost > 0 || s.duplicates > 0 || s.violations > 0);

  // ---- print
  console.log('');
  console.log(
    formatTable(
      [
        { header: 'in flight' },
        { header: 'variant', align: 'left' },
        { header: 'sagas/s' },
        { header: 'cores' },
        { header: 'client us/saga' },
        { header: 'server us/saga' },
        { header: 'GC ms' },
        { header: 'heap MiB' },
        { header: 'RSS MiB' },
        { header: 'p50 ms' },
        { header: 'p99 ms' },
        { header: 'lost' },
        { header: 'dup' },
      ],
      [...sizes, ...(scaleCase > 0 ? [scaleCase] : [])].flatMap((size) =>
        options.variants.flatMap((variant) => {
          const s = find(variant, size);
          if (!s) return [];
          return [
            [
              String(size),
              variant,
              formatSpread(s.sagasPerSecond),
              formatNumber(s.cores.median, 2),
              formatSpread(s.clientCpuUsPerSaga),
              formatSpread(s.serverCpuUsPerSaga),
              formatNumber(s.gcMs.median),
              formatMiB(s.peakHeapBytes.median),
              formatMiB(s.peakRssBytes.median),
              formatNumber(s.latencyP50Us.median / 1000),
              formatNumber(s.latencyP99Us.median / 1000),
              String(s.lost),
              String(s.duplicates),
            ],
          ];
        }),
      ),
    ),
  );
  console.log('  median (min-max) of the rounds; latency is closed-loop (whole saga, placed to finished)\n');
  if (options.variants.includes(FRAMEWORK) && options.variants.includes(FLOOR)) {
    console.log(
      formatTable(
        [
          { header: 'in flight' },
          { header: `${FRAMEWORK}/${FLOOR} sagas/s` },
          { header: `target >= ${TARGET_THROUGHPUT}` },
          { header: 'client CPU/saga' },
          { header: `target <= ${TARGET_CLIENT_CPU}` },
          { header: 'server CPU/saga' },
        ],
        ratios.map((r) => [
          String(r.inFlight),
          `${formatNumber(r.throughput, 2)}x`,
          r.throughputMet ? 'met' : 'MISSED',
          `${formatNumber(r.clientCpu, 2)}x`,
          r.clientCpuMet ? 'met' : 'MISSED',
          `${formatNumber(r.serverCpu, 2)}x`,
        ]),
      ),
    );
    console.log('');
  }
  if (targetChecks.length > 0) {
    console.log(
      formatTable(
        [
          { header: 'target', align: 'left' },
          { header: 'in flight' },
          { header: 'value' },
          { header: 'wanted' },
          { header: '' },
          { header: 'floor (same back-end)' },
        ],
        targetChecks.map((c) => [
          c.check,
          String(c.inFlight),
          formatNumber(c.value, 2),
          `${c.atMost ? '<=' : '>='} ${formatNumber(c.target, 2)}`,
          c.met ? 'met' : 'MISSED',
          c.floor
            ? `${c.floor.variant} ${formatNumber(c.floor.value, 2)} ${c.floor.met ? 'met' : 'MISSED'}`
            : '-',
        ]),
      ),
    );
    console.log('');
  }
  const opsRows = summary
    .filter((s) => s.inFlight === sizes[0])
    .map((s) => [s.variant, ...OPS_COLUMNS.map(([key]) => formatNumber(s.opsPerSaga[key] ?? 0, 2))]);
  console.log(`Store operations per saga (at ${sizes[0]} in flight, median run):`);
  console.log(
    formatTable(
      [{ header: 'variant', align: 'left' }, ...OPS_COLUMNS.map(([, header]) => ({ header }))],
      opsRows,
    ),
  );
  const budgetRun = runs.find((run) => run.variant === FRAMEWORK && run.budget);
  if (budgetRun?.budget) {
    console.log(
      `\nBudget (bench/saga/budget.ts), per saga, ${FRAMEWORK} @${budgetRun.inFlight} round ${budgetRun.round}:`,
    );
    console.log(
      formatTable(
        [{ header: 'metric', align: 'left' }, { header: 'actual' }, { header: 'budget' }, { header: '' }],
        budgetRun.budget.map((l) => [
          l.metric,
          formatNumber(l.perSagaActual, 3),
          formatNumber(l.perSagaBudget, 3),
          l.ok ? 'ok' : 'OVER',
        ]),
      ),
    );
  }

  const profiles = runs.filter((run) => typeof run.result.details.profileFile === 'string');
  for (const variant of options.variants) {
    const run = profiles.find((p) => p.variant === variant);
    if (!run) continue;
    const file = run.result.details.profileFile as string;
    const s = summarizeProfile(
      JSON.parse(readFileSync(file, 'utf8')) as Parameters<typeof summarizeProfile>[0],
      15,
    );
    console.log(
      `\nProfile of ${variant} @${run.inFlight} (measured window, ${formatNumber(s.totalMs)} ms): ${file}`,
    );
    for (const h of s.inclusive)
      console.log(`  ${formatNumber(h.ms).padStart(7)} ms ${h.percent.toFixed(1).padStart(5)}%  ${h.where}`);
  }

  const file = writeResultJson(out, 'saga', {
    benchmark: 'bench:saga',
    backend,
    environment: environment(),
    options: {
      ...options,
      ordersPerSize: Object.fromEntries(options.sizes.map((n) => [n, ordersAt(n)])),
      out: undefined,
    },
    targets: {
      throughputRatioAtLeast: TARGET_THROUGHPUT,
      clientCpuRatioAtMost: TARGET_CLIENT_CPU,
      backendASagasPerSecondPerCoreAtLeast: TARGET_A_PER_CORE,
      backendAOverEmmettAtLeast: TARGET_OVER_EMMETT,
      backendBOverRestateAtLeast: TARGET_OVER_RESTATE,
      scaleCpuPerSagaRatioAtMost: TARGET_SCALE_CPU_RATIO,
    },
    frameworkBudget: FRAMEWORK_BUDGET,
    workloadPerRun: runs[0] ? workloadFor(pathsList(runs[0].result.paths)) : undefined,
    summary,
    ratios,
    targetChecks,
    budgetFailures,
    runs,
  });
  console.log(`\nJSON: ${file}`);

  let code = 0;
  if (failures > 0) {
    console.error(`${failures} run(s) failed.`);
    code = 1;
  }
  if (budgetFailures.length > 0) {
    console.error(`${FRAMEWORK} exceeded its store-operation budget in ${budgetFailures.length} check(s):`);
    for (const f of budgetFailures.slice(0, 10)) {
      console.error(
        `  @${f.inFlight} round ${f.round}: ${f.metric} ${formatNumber(f.perSagaActual, 3)}/saga > ${formatNumber(f.perSagaBudget, 3)}`,
      );
    }
    code = 1;
  }
  if (correctness.length > 0) {
    for (const s of correctness)
      console.error(
        `${s.variant} @${s.inFlight}: lost ${s.lost}, duplicates ${s.duplicates}, contract violations ${s.violations}`,
      );
    code = 1;
  }
  if (
    options.enforceTargets &&
    (ratios.some((r) => r.inFlight > 1 && (!r.throughputMet || !r.clientCpuMet)) ||
      targetChecks.some((c) => !c.met))
  )
    code = 1;
  return code;
}

/** One target of BENCHMARKS.md suite 3 beyond the floor ratios, checked on the medians. */
interface TargetCheck {
  readonly check: string;
  /** Sagas in flight, or the scale case's saga count. */
  readonly inFlight: number;
  readonly value: number;
  readonly target: number;
  /** The value must stay at or below the target (else at or above). */
  readonly atMost: boolean;
  readonly met: boolean;
  /**
   * The same check with the hand-written floor of the same back-end in place of sagastream
   * (`floor-a` for A, `floor` for B), when it ran: how far the store work alone gets.
   */
  readonly floor?: { readonly variant: string; readonly value: number; readonly met: boolean };
}

interface SummaryLike {
  readonly variant: string;
  readonly inFlight: number;
  readonly sagasPerSecond: Spread;
  readonly sagasPerSecondPerCore: Spread;
  readonly clientCpuUsPerSaga: Spread;
  readonly serverCpuUsPerSaga: Spread;
}

/**
 * The peer and back-end A targets: A's sagas/s per core, A against Emmett, B against
 * Restate (throughput sizes only, not the 1-in-flight latency case), and A's per-saga CPU
 * at the scale size against its run at the same concurrency.
 */
function peerChecks(
  summary: readonly SummaryLike[],
  sizes: readonly number[],
  scaleCase: number,
  scaleInFlight: number,
): TargetCheck[] {
  const find = (variant: string, size: number) =>
    summary.find((s) => s.variant === variant && s.inFlight === size);
  const checks: TargetCheck[] = [];
  const meets = (value: number, target: number, atMost: boolean) =>
    atMost ? value <= target : value >= target;
  const add = (
    check: string,
    inFlight: number,
    value: number,
    target: number,
    atMost = false,
    floor?: { variant: string; value: number },
  ) => {
    if (Number.isFinite(value))
      checks.push({
        check,
        inFlight,
        value,
        target,
        atMost,
        met: meets(value, target, atMost),
        ...(floor && Number.isFinite(floor.value)
          ? { floor: { ...floor, met: meets(floor.value, target, atMost) } }
          : {}),
      });
  };
  const throughputSizes = [...sizes.filter((n) => n > 1), ...(scaleCase > 0 ? [scaleCase] : [])];
  for (const size of throughputSizes) {
    const a = find(FRAMEWORK_A, size);
    const floorA = find(FLOOR_A, size);
    const emmett = find(EMMETT, size)?.sagasPerSecond.median ?? NaN;
    const restate = find(RESTATE, size)?.sagasPerSecond.median ?? NaN;
    add(
      `${FRAMEWORK_A} sagas/s per core`,
      size,
      a?.sagasPerSecondPerCore.median ?? NaN,
      TARGET_A_PER_CORE,
      false,
      { variant: FLOOR_A, value: floorA?.sagasPerSecondPerCore.median ?? NaN },
    );
    add(
      `${FRAMEWORK_A}/${EMMETT} sagas/s`,
      size,
      ratio(a?.sagasPerSecond.median ?? NaN, emmett),
      TARGET_OVER_EMMETT,
      false,
      { variant: FLOOR_A, value: ratio(floorA?.sagasPerSecond.median ?? NaN, emmett) },
    );
    add(
      `${FRAMEWORK}/${RESTATE} sagas/s`,
      size,
      ratio(find(FRAMEWORK, size)?.sagasPerSecond.median ?? NaN, restate),
      TARGET_OVER_RESTATE,
      false,
      { variant: FLOOR, value: ratio(find(FLOOR, size)?.sagasPerSecond.median ?? NaN, restate) },
    );
  }
  if (scaleCase > 0) {
    // The small run at the scale run's concurrency (or the largest size below it).
    const small = Math.max(...sizes.filter((n) => n <= scaleInFlight));
    for (const variant of [FRAMEWORK_A, EMMETT]) {
      const big = find(variant, scaleCase);
      const base = find(variant, small);
      const cpu = (s?: SummaryLike) => (s ? s.clientCpuUsPerSaga.median + s.serverCpuUsPerSaga.median : NaN);
      add(
        `${variant} CPU/saga at ${scaleCase} sagas vs ${small} in flight`,
        scaleCase,
        ratio(cpu(big), cpu(base)),
        TARGET_SCALE_CPU_RATIO,
        true,
      );
    }
  }
  return checks;
}

/** Columns of the operations table: [key in opsPerSaga, header]. */
const OPS_COLUMNS: readonly [string, string][] = [
  ['processAppends', 'process appends'],
  ['processEvents', 'process events'],
  ['processReads', 'process reads'],
  ['domainAppends', 'domain appends'],
  ['domainReads', 'domain reads'],
  ['inputEvents', 'input sub. events'],
  ['processCategoryEvents', 'process-category sub. events'],
  ['checkpointWrites', 'checkpoints'],
  ['other', 'other'],
];

function opsPerSaga(list: readonly Run[]): Record<string, number> {
  const median = (f: (counts: OpCounts) => number) =>
    spread(list.map((run) => perSaga(f(run.result.counts), run.result))).median;
  const sum = (counts: OpCounts, prefix: string, exclude?: string) =>
    Object.entries(counts)
      .filter(([key]) => key.startsWith(prefix) && key !== exclude)
      .reduce((n, [, v]) => n + v, 0);
  return {
    processAppends: median((c) => c['append:process'] ?? 0),
    processEvents: median((c) => c['appendEvents:process'] ?? 0),
    processReads: median((c) => c['read:process'] ?? 0),
    domainAppends: median((c) => c['append:domain'] ?? 0),
    domainReads: median((c) => c['read:domain'] ?? 0),
    inputEvents: median((c) => sum(c, 'subscriptionEvents:', 'subscriptionEvents:$ce-orderFulfillment')),
    processCategoryEvents: median((c) => c['subscriptionEvents:$ce-orderFulfillment'] ?? 0),
    checkpointWrites: median((c) => c.checkpointWrite ?? 0),
    other: median((c) => actualOf(c).other),
  };
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
