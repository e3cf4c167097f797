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
import type { OpCounts } from './counting-event-store';
import type { SagaChildInput, SagaChildResult } from './workload';

const VARIANTS: Record<string, string> = {
  floor: join(__dirname, 'floor-variant.ts'),
  sagastream: join(__dirname, 'sagastream-variant.ts'),
};
const FRAMEWORK = 'sagastream';
const FLOOR = 'floor';
const TARGET_THROUGHPUT = 0.9;
const TARGET_CLIENT_CPU = 1.1;

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
}

const program = new Command('bench:saga')
  .description(
    'Order-fulfillment sagas end to end on the embedded server: sagastream vs a hand-written floor.',
  )
  .option('--rounds <n>', 'interleaved rounds (each runs every variant at every size)', int('--rounds'), 3)
  .option(
    '--sizes <list>',
    'sagas in flight, comma-separated',
    (v) => v.split(',').map((s) => int('--sizes')(s.trim())),
    [64, 256, 1024],
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
    'comma-separated: floor,sagastream',
    (v) => v.split(',').map((s) => s.trim()),
    [FLOOR, FRAMEWORK],
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

async function main(): Promise<number> {
  const options = program.parse().opts<Options>();
  for (const entry of options.script) {
    const [name, path] = entry.split('=');
    if (!name || !path) throw new Error(`--script wants name=path, got '${entry}'.`);
    VARIANTS[name] = resolve(path);
  }
  for (const v of options.variants)
    if (!VARIANTS[v]) throw new Error(`Unknown variant '${v}' (known: ${Object.keys(VARIANTS).join(', ')}).`);
  const ordersAt = (size: number) => Math.max(options.orders, size);
  const orders = Math.max(...options.sizes.map(ordersAt));
  const out = resolve(options.out);

  // The same seeded input for every variant and run (fresh server per run, so ids never clash).
  const work = mkdtempSync(join(tmpdir(), 'sagastream-bench-saga-'));
  const ordersFile = join(work, 'orders.json');
  writeFileSync(
    ordersFile,
    JSON.stringify(generateOrders(options.warmup + orders, { seed: options.seed, failureShare: 0.1 })),
  );

  const schedule = interleave(options.variants, options.sizes, options.rounds);
  const runs: Run[] = [];
  const backend = `B: embedded server (${options.memory ? 'in-memory' : 'durable, fsynced'} log) in its own process, over @eventstore/db-client 6.2.1`;
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
      const server = await startServerProcess({ memory: options.memory });
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
          connectionString: server.connectionString,
          ordersFile,
          warmup: options.warmup,
          orders: ordersAt(planned.case),
          inFlight: planned.case,
          stallMs: options.stallMs,
          ...(profile ? { profile } : {}),
        };
        const child = await runChild<SagaChildResult>({
          script: VARIANTS[planned.variant] as string,
          input,
          nodeFlags,
          timeoutMs: 600_000,
          onRequest: (kind) => {
            if (kind === 'server-sample') return server.sample();
            throw new Error(`unknown request ${kind}`);
          },
        });
        const r = child.result;
        const budget =
          planned.variant === FRAMEWORK
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
        await server.stop();
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
      inFlight: Number(size),
      runs: list.length,
      sagasPerSecond: metric(list, (r) => r.sagasPerSecond),
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
  const ratios = sizes.map((size) => {
    const ours = find(FRAMEWORK, size);
    const floor = find(FLOOR, size);
    const throughput = ratio(ours?.sagasPerSecond.median ?? NaN, floor?.sagasPerSecond.median ?? NaN);
    const clientCpu = ratio(ours?.clientCpuUsPerSaga.median ?? NaN, floor?.clientCpuUsPerSaga.median ?? NaN);
    const serverCpu = ratio(ours?.serverCpuUsPerSaga.median ?? NaN, floor?.serverCpuUsPerSaga.median ?? NaN);
    return {
      inFlight: size,
      throughput,
      clientCpu,
      serverCpu,
      throughputMet: throughput >= TARGET_THROUGHPUT,
      clientCpuMet: clientCpu <= TARGET_CLIENT_CPU,
    };
  });
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
      sizes.flatMap((size) =>
        options.variants.flatMap((variant) => {
          const s = find(variant, size);
          if (!s) return [];
          return [
            [
              String(size),
              variant,
              formatSpread(s.sagasPerSecond),
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
    targets: { throughputRatioAtLeast: TARGET_THROUGHPUT, clientCpuRatioAtMost: TARGET_CLIENT_CPU },
    frameworkBudget: FRAMEWORK_BUDGET,
    workloadPerRun: runs[0] ? workloadFor(pathsList(runs[0].result.paths)) : undefined,
    summary,
    ratios,
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
  if (options.enforceTargets && ratios.some((r) => !r.throughputMet || !r.clientCpuMet)) code = 1;
  return code;
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
