// npm run bench:scale: many live process instances on back-end A (LocalEventStore in memory):
// sagastream side by side with a Map of live instances (the floor) and the same appends
// without the runtime (store). See /work/shared/BENCHMARKS.md (suite 6) and bench/scale/README.md.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
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
import { type Spread, ratio, spread } from '../harness/stats';
import type { ScaleCase, ScaleChildInput, ScaleChildResult } from './workload';

const VARIANTS: Record<string, string> = {
  floor: join(__dirname, 'floor-variant.ts'),
  store: join(__dirname, 'store-variant.ts'),
  sagastream: join(__dirname, 'sagastream-variant.ts'),
};
const FRAMEWORK = 'sagastream';
const STORE = 'store';
/** Targets (BENCHMARKS.md, suite 6). */
const TARGETS = {
  throughputLargestOverSmallestAtLeast: 0.7,
  runtimeHeapBytesPerLiveInstanceAtMost: 1024,
  /**
   * "Back to baseline": what the runtime still holds once every instance completed (heap with
   * it running minus heap once it is stopped and dropped, minus an idle runtime's own) may be a
   * constant (tables keep their high-water capacity) but must not grow with the instances that
   * ran: slope between the smallest and the largest live case, bytes per instance.
   */
  runtimeHeapBytesRetainedPerCompletedInstanceAtMost: 16,
  step100OverStep1AtMost: 1.2,
} as const;

const ints = (name: string) => (value: string) =>
  value.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} wants positive integers.`);
    return n;
  });
const int = (name: string) => (value: string) => ints(name)(value)[0] as number;

interface Options {
  rounds?: number;
  sizes?: number[];
  steps?: number;
  longInstances: number;
  longSteps: number;
  full: boolean;
  seed: number;
  lead: number;
  variants: string[];
  profile: string[] | boolean;
  nodeFlags: string[];
  out: string;
  enforceTargets: boolean;
}

const program = new Command('bench:scale')
  .description(
    'Many live process instances on back-end A: sagastream vs a Map of instances (and the bare store).',
  )
  .option('--rounds <n>', 'interleaved rounds (default 3; --full 5)', int('--rounds'))
  .option(
    '--sizes <list>',
    'live instances (default 1000,10000,100000; --full adds 1000000)',
    ints('--sizes'),
  )
  .option(
    '--steps <n>',
    'measured steps per live size, round-robin over the instances (default 50000; --full 200000)',
    int('--steps'),
  )
  .option('--long-instances <n>', 'instances of the long-process case', int('--long-instances'), 100)
  .option('--long-steps <n>', 'steps per instance of the long-process case', int('--long-steps'), 300)
  .option('--full', 'the full sizes: up to 1e6 live instances, 5 rounds', false)
  .option('--seed <n>', 'seed of the inputs', int('--seed'), 42)
  .option('--lead <n>', 'inputs appended ahead of those handled, at most', int('--lead'), 4096)
  .option(
    '--variants <list>',
    'comma-separated: floor,store,sagastream',
    (v) => v.split(',').map((s) => s.trim()),
    ['floor', STORE, FRAMEWORK],
  )
  .option(
    '--profile [variants]',
    `CPU-profile the step phase of these variants (default ${FRAMEWORK}) into <out>/profiles`,
    (v) => v.split(',').map((s) => s.trim()),
  )
  .option(
    '--node-flags <flags>',
    'extra Node flags for the variant children, space-separated',
    (v) => v.split(' ').filter(Boolean),
    [],
  )
  .option('--out <dir>', 'where the JSON result goes', join(__dirname, '..', 'results'))
  .option('--enforce-targets', 'exit non-zero when a target is missed', false);

const caseName = (c: ScaleCase) =>
  c.kind === 'live' ? `live ${c.instances}` : `long ${c.instances}x${c.steps}`;

interface Run {
  readonly variant: string;
  readonly case: ScaleCase;
  readonly round: number;
  readonly execArgv: readonly string[];
  readonly result: ScaleChildResult;
}

function metricsOf(r: ScaleChildResult): Record<string, number> {
  const stepCount = r.case.kind === 'live' ? r.case.steps : r.case.steps * r.case.instances;
  const n = r.case.instances;
  const step1 = r.stepCostUs['1'] ?? NaN;
  const step100 = r.stepCostUs['91'] ?? NaN;
  const step100Peak = r.stepCostUs['peak91'] ?? NaN;
  return {
    stepsPerSecond: r.stepsPerSecond,
    startsPerSecond: r.startsPerSecond,
    closesPerSecond: r.closesPerSecond,
    cpuUsPerStep: r.steps.cpuUs / stepCount,
    gcMs: r.steps.gcMs,
    peakHeapBytes: r.steps.peakHeapBytes,
    peakRssBytes: r.steps.peakRssBytes,
    heapPerLiveInstanceBytes: (r.heap.live - r.heap.baseline) / n,
    heapPerSteppedInstanceBytes: (r.heap.stepped - r.heap.baseline) / n,
    heapAfterCompletionPerInstanceBytes: (r.heap.done - r.heap.baseline) / n,
    runtimeHeapRetainedAfterCompletionBytes:
      r.heap.done - r.heap.released - ((r.details.runtimeFixedHeapBytes as number | undefined) ?? 0),
    ...(r.case.kind === 'long'
      ? {
          step1CostUs: step1,
          step100CostUs: step100,
          step100OverStep1: step100 / step1,
          step100PeakRoundCostUs: step100Peak,
        }
      : {}),
    ...Object.fromEntries(
      Object.entries(r.stepCostUs).map(([first, us]) => [
        first.startsWith('peak') ? `stepPeakRoundCostUsFrom${first.slice(4)}` : `stepCostUsFrom${first}`,
        us,
      ]),
    ),
  };
}

async function main(): Promise<number> {
  const options = program.parse().opts<Options>();
  for (const v of options.variants)
    if (!VARIANTS[v]) throw new Error(`Unknown variant '${v}' (known: ${Object.keys(VARIANTS).join(', ')}).`);
  const rounds = options.rounds ?? (options.full ? 5 : 3);
  const sizes =
    options.sizes ?? (options.full ? [1000, 10_000, 100_000, 1_000_000] : [1000, 10_000, 100_000]);
  const steps = options.steps ?? (options.full ? 200_000 : 50_000);
  const cases: ScaleCase[] = [
    ...sizes.map((instances): ScaleCase => ({ kind: 'live', instances, steps })),
    { kind: 'long', instances: options.longInstances, steps: options.longSteps },
  ];
  const out = resolve(options.out);
  const nodeFlags = [
    '--expose-gc',
    ...(Math.max(...sizes) > 100_000 ? ['--max-old-space-size=8192'] : []),
    ...options.nodeFlags,
  ];
  const backend = 'A: LocalEventStore (storage engine in memory), in process';
  const schedule = interleave(options.variants, cases, rounds);
  console.log(`bench:scale  ${backend}`);
  console.log(
    `  ${steps} measured steps per live size, round-robin; long case ${options.longInstances} instances x ${options.longSteps} steps; seed ${options.seed}\n` +
      `  ${rounds} rounds x ${cases.length} cases x ${options.variants.join('/')} = ${schedule.length} runs, node flags ${nodeFlags.join(' ')}\n`,
  );

  const runs: Run[] = [];
  let failures = 0;
  for (const planned of schedule) {
    const what = `${planned.variant} @${caseName(planned.case)} round ${planned.round}`;
    const profiled = options.profile === true ? [FRAMEWORK] : options.profile || [];
    const input: ScaleChildInput = {
      variant: planned.variant,
      case: planned.case,
      seed: options.seed,
      lead: options.lead,
      ...(profiled.includes(planned.variant)
        ? {
            profile: {
              dir: join(out, 'profiles'),
              name: `scale-${planned.variant}-${caseName(planned.case).replace(/\s/g, '')}-r${planned.round}-${Date.now()}`,
            },
          }
        : {}),
    };
    try {
      const child = await runChild<ScaleChildResult>({
        script: VARIANTS[planned.variant] as string,
        input,
        nodeFlags,
        timeoutMs: 1_800_000,
      });
      const r = child.result;
      runs.push({
        variant: planned.variant,
        case: planned.case,
        round: planned.round,
        execArgv: child.execArgv,
        result: r,
      });
      const m = metricsOf(r);
      console.log(
        `  ${what.padEnd(36)} ${formatNumber(r.stepsPerSecond).padStart(8)} steps/s  ${formatNumber(m.cpuUsPerStep!).padStart(6)} us CPU/step  ` +
          `heap/live instance ${formatNumber(m.heapPerLiveInstanceBytes!).padStart(6)} B  runtime retained after completion ${formatMiB(m.runtimeHeapRetainedAfterCompletionBytes!)} MiB` +
          (r.case.kind === 'long' ? `  step 100/step 1 ${formatNumber(m.step100OverStep1!, 2)}` : ''),
      );
    } catch (error) {
      failures++;
      console.error(`  ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  // ---- aggregate: one object per variant and case
  const variants = cases.flatMap((c) =>
    options.variants.flatMap((name) => {
      const list = runs.filter((run) => run.variant === name && run.case === c);
      if (list.length === 0) return [];
      const perRun = list.map((run) => metricsOf(run.result));
      const metrics: Record<string, Spread> = {};
      for (const key of Object.keys(perRun[0]!)) metrics[key] = spread(perRun.map((m) => m[key] ?? NaN));
      return [{ name, backend: 'A', case: { ...c, name: caseName(c) }, runs: list.length, metrics }];
    }),
  );
  type Variant = (typeof variants)[number];
  const find = (name: string, c: ScaleCase): Variant | undefined =>
    variants.find((v) => v.name === name && v.case.name === caseName(c));
  const med = (v: Variant | undefined, key: string) => v?.metrics[key]?.median ?? NaN;

  const liveCases = cases.filter((c) => c.kind === 'live');
  const smallest = liveCases[0];
  const largestDefault = liveCases.filter((c) => c.instances <= 100_000).at(-1);
  const largest = liveCases.at(-1);
  const targetCases: ScaleCase[] = [];
  for (const c of [largestDefault, largest])
    if (c !== undefined && c !== smallest && !targetCases.includes(c)) targetCases.push(c);
  const throughput = targetCases.map((c) => {
    const base = smallest as ScaleCase;
    const value = ratio(
      med(find(FRAMEWORK, c), 'stepsPerSecond'),
      med(find(FRAMEWORK, base), 'stepsPerSecond'),
    );
    const floor = ratio(med(find('floor', c), 'stepsPerSecond'), med(find('floor', base), 'stepsPerSecond'));
    return {
      from: caseName(base),
      to: caseName(c),
      sagastreamRatio: value,
      floorRatio: floor,
      sagastreamCpuRatio: ratio(
        med(find(FRAMEWORK, base), 'cpuUsPerStep'),
        med(find(FRAMEWORK, c), 'cpuUsPerStep'),
      ),
      met: value >= TARGETS.throughputLargestOverSmallestAtLeast,
    };
  });
  // The runtime's own heap: sagastream's minus the same appends without the runtime (store).
  const memory = liveCases.map((c) => {
    const ours = find(FRAMEWORK, c);
    const perLive = med(ours, 'heapPerLiveInstanceBytes') - med(find(STORE, c), 'heapPerLiveInstanceBytes');
    return {
      case: caseName(c),
      totalHeapBytesPerLiveInstance: med(ours, 'heapPerLiveInstanceBytes'),
      runtimeHeapBytesPerLiveInstance: perLive,
      floorHeapBytesPerLiveInstance: med(find('floor', c), 'heapPerLiveInstanceBytes'),
      runtimeHeapRetainedAfterCompletionBytes: med(ours, 'runtimeHeapRetainedAfterCompletionBytes'),
      perLiveMet: perLive <= TARGETS.runtimeHeapBytesPerLiveInstanceAtMost,
    };
  });
  const first = liveCases[0];
  const last = liveCases.at(-1);
  const retainedOf = (c: ScaleCase | undefined) =>
    c === undefined ? NaN : med(find(FRAMEWORK, c), 'runtimeHeapRetainedAfterCompletionBytes');
  const retainedSlope =
    first && last && last !== first
      ? (retainedOf(last) - retainedOf(first)) / (last.instances - first.instances)
      : NaN;
  const backToBaseline = {
    from: first ? caseName(first) : undefined,
    to: last ? caseName(last) : undefined,
    retainedBytesFrom: retainedOf(first),
    retainedBytesTo: retainedOf(last),
    retainedBytesPerCompletedInstance: retainedSlope,
    met: retainedSlope <= TARGETS.runtimeHeapBytesRetainedPerCompletedInstanceAtMost,
  };
  const longCase = cases.find((c) => c.kind === 'long')!;
  const long = {
    case: caseName(longCase),
    step1CostUs: med(find(FRAMEWORK, longCase), 'step1CostUs'),
    step100CostUs: med(find(FRAMEWORK, longCase), 'step100CostUs'),
    step100OverStep1: med(find(FRAMEWORK, longCase), 'step100OverStep1'),
    met: med(find(FRAMEWORK, longCase), 'step100OverStep1') <= TARGETS.step100OverStep1AtMost,
  };

  // ---- print
  console.log('');
  console.log(
    formatTable(
      [
        { header: 'case', align: 'left' },
        { header: 'variant', align: 'left' },
        { header: 'steps/s' },
        { header: 'CPU us/step' },
        { header: 'starts/s' },
        { header: 'GC ms' },
        { header: 'peak heap MiB' },
        { header: 'RSS MiB' },
        { header: 'B/live instance' },
        { header: 'B/instance after completion' },
        { header: 'runtime retained MiB' },
      ],
      variants.map((v) => [
        v.case.name,
        v.name,
        formatSpread(v.metrics.stepsPerSecond!),
        formatNumber(med(v, 'cpuUsPerStep')),
        formatNumber(med(v, 'startsPerSecond')),
        formatNumber(med(v, 'gcMs')),
        formatMiB(med(v, 'peakHeapBytes')),
        formatMiB(med(v, 'peakRssBytes')),
        formatNumber(med(v, 'heapPerLiveInstanceBytes')),
        formatNumber(med(v, 'heapAfterCompletionPerInstanceBytes')),
        formatMiB(med(v, 'runtimeHeapRetainedAfterCompletionBytes')),
      ]),
    ),
  );
  console.log(
    '  median (min-max) of the rounds; heap after GC (--expose-gc) over the heap before any instance\n',
  );
  const windows = Object.keys(find(FRAMEWORK, longCase)?.metrics ?? {}).filter((k) =>
    k.startsWith('stepCostUsFrom'),
  );
  if (windows.length > 0) {
    console.log(
      `Cost per step of the long process (${caseName(longCase)}), mean CPU us over the window starting at step:`,
    );
    console.log(
      formatTable(
        [
          { header: 'variant', align: 'left' },
          ...windows.map((k) => ({ header: k.replace('stepCostUsFrom', 'step ') })),
        ],
        options.variants.map((name) => [
          name,
          ...windows.map((k) => formatNumber(med(find(name, longCase), k))),
        ]),
      ),
    );
    console.log('');
  }
  const mark = (met: boolean) => (met ? 'met' : 'MISSED');
  console.log(
    formatTable(
      [{ header: 'target', align: 'left' }, { header: 'measured' }, { header: 'target' }, { header: '' }],
      [
        ...throughput.map((t) => [
          `throughput ${t.to} / ${t.from}`,
          `${formatNumber(t.sagastreamRatio, 2)}x (by CPU/step ${formatNumber(t.sagastreamCpuRatio, 2)}x; floor ${formatNumber(t.floorRatio, 2)}x)`,
          `>= ${TARGETS.throughputLargestOverSmallestAtLeast}x`,
          mark(t.met),
        ]),
        ...memory.map((m) => [
          `runtime heap per live instance, ${m.case}`,
          `${formatNumber(m.runtimeHeapBytesPerLiveInstance)} B (with store ${formatNumber(m.totalHeapBytesPerLiveInstance)} B)`,
          `<= ${TARGETS.runtimeHeapBytesPerLiveInstanceAtMost} B`,
          mark(m.perLiveMet),
        ]),
        [
          `runtime heap after completion, ${backToBaseline.from} -> ${backToBaseline.to}`,
          `${formatNumber(backToBaseline.retainedBytesPerCompletedInstance, 1)} B/instance (${formatMiB(backToBaseline.retainedBytesFrom)} -> ${formatMiB(backToBaseline.retainedBytesTo)} MiB)`,
          `<= ${TARGETS.runtimeHeapBytesRetainedPerCompletedInstanceAtMost} B`,
          mark(backToBaseline.met),
        ],
        [
          `step 100 / step 1 (${long.case})`,
          `${formatNumber(long.step100OverStep1, 2)}x (${formatNumber(long.step100CostUs)} / ${formatNumber(long.step1CostUs)} us)`,
          `<= ${TARGETS.step100OverStep1AtMost}x`,
          mark(long.met),
        ],
      ],
    ),
  );

  for (const variant of options.variants) {
    const run = runs.find((p) => p.variant === variant && typeof p.result.details.profileFile === 'string');
    if (!run) continue;
    const file = run.result.details.profileFile as string;
    const s = summarizeProfile(
      JSON.parse(readFileSync(file, 'utf8')) as Parameters<typeof summarizeProfile>[0],
      15,
    );
    console.log(
      `\nProfile of ${variant} @${caseName(run.case)} (step phase, ${formatNumber(s.totalMs)} ms): ${file}`,
    );
    for (const h of s.inclusive)
      console.log(`  ${formatNumber(h.ms).padStart(7)} ms ${h.percent.toFixed(1).padStart(5)}%  ${h.where}`);
  }

  const file = writeResultJson(out, 'scale', {
    benchmark: 'bench:scale',
    backend,
    environment: environment(),
    options: { ...options, rounds, sizes, steps, nodeFlags, out: undefined },
    targets: TARGETS,
    variants,
    results: { throughput, memory, backToBaseline, longProcess: long },
    runs: runs.map((run) => ({ ...run, case: caseName(run.case) })),
  });
  console.log(`\nJSON: ${file}`);

  let code = 0;
  if (failures > 0) {
    console.error(`${failures} run(s) failed.`);
    code = 1;
  }
  const missed =
    throughput.some((t) => !t.met) || memory.some((m) => !m.perLiveMet) || !backToBaseline.met || !long.met;
  if (options.enforceTargets && missed) code = 1;
  return code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
