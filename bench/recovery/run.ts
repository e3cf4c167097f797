// npm run bench:recovery: a crashed order-fulfillment worker restarted on the embedded server
// (back-end B), side by side with a raw catch-up read of the same tail. See
// /work/shared/BENCHMARKS.md (suite 4) and bench/recovery/README.md.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { LocalEventStore } from '../../lib/store/local/local-event-store';
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
import { type Spread, ratio, spread } from '../harness/stats';
import { type CrashState, writeCrashState } from './history';
import type { RecoveryChildInput, RecoveryChildResult } from './workload';

const VARIANTS: Record<string, string> = {
  floor: join(__dirname, 'floor-variant.ts'),
  sagastream: join(__dirname, 'sagastream-variant.ts'),
  // An experiment, not in the default set: pages of 4096 events instead of 256 (input queues
  // take up to 2 pages; the relay's bound is relayBacklog, 16384, either way).
  'sagastream-batch4096': join(__dirname, 'sagastream-variant.ts'),
};
/** Runtime options of the experimental variants. */
const RUNTIME_OPTIONS: Record<string, Record<string, number>> = {
  'sagastream-batch4096': { batchSize: 4096 },
};
const FRAMEWORK = 'sagastream';
const FLOOR = 'floor';
/** Targets (BENCHMARKS.md, suite 4). */
const TARGETS = {
  catchUpRatioAtLeast: 0.8,
  firstCommandMsAtMost: 1000,
  heapBytesPerInFlightSagaAtMost: 1024,
  /** "Not with history": a few bytes per history event at most (16 MB at 1e6 events). */
  heapBytesPerHistoryEventAtMost: 16,
} as const;

interface Case {
  readonly historyEvents: number;
  readonly inFlight: number;
}
const caseName = (c: Case) => `${c.historyEvents / 1000}k+${c.inFlight / 1000}k`;

function parseCases(value: string): Case[] {
  return value.split(',').map((pair) => {
    const [h, n] = pair.split(':').map((s) => Number(s.trim()));
    if (!Number.isInteger(h) || !Number.isInteger(n) || (h as number) < 1 || (n as number) < 1)
      throw new InvalidArgumentError(`--cases wants history:inFlight pairs, got '${pair}'.`);
    return { historyEvents: h as number, inFlight: n as number };
  });
}

const int = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer.`);
  return n;
};

interface Options {
  rounds?: number;
  cases?: Case[];
  full: boolean;
  seed: number;
  variants: string[];
  profile: string[] | boolean;
  nodeFlags: string[];
  out: string;
  stallMs: number;
  untilRecovered: boolean;
  enforceTargets: boolean;
}

const program = new Command('bench:recovery')
  .description('A crashed worker restarted on the embedded server: sagastream vs a raw catch-up read.')
  .option('--rounds <n>', 'interleaved rounds (default 3; --full 5)', int('--rounds'))
  .option(
    '--cases <list>',
    'history:inFlight pairs (default 100000:1000,100000:4000,20000:1000; --full 100000:10000,1000000:10000,1000000:100000)',
    parseCases,
  )
  .option('--full', 'the full sizes: 1e6 events of history, up to 1e5 sagas in flight, 5 rounds', false)
  .option('--seed <n>', 'seed of the order generator', int('--seed'), 42)
  .option(
    '--variants <list>',
    'comma-separated: floor,sagastream',
    (v) => v.split(',').map((s) => s.trim()),
    [FLOOR, FRAMEWORK],
  )
  .option(
    '--profile [variants]',
    `CPU-profile the measured window of these variants (default ${FRAMEWORK}) into <out>/profiles`,
    (v) => v.split(',').map((s) => s.trim()),
  )
  .option(
    '--node-flags <flags>',
    'extra Node flags for the variant children, space-separated',
    (v) => v.split(' ').filter(Boolean),
    [],
  )
  .option('--out <dir>', 'where the JSON result goes', join(__dirname, '..', 'results'))
  .option('--stall-ms <n>', 'give a restart up after this long without progress', int('--stall-ms'), 30_000)
  .option(
    '--until-recovered',
    'also wait until every in-flight saga is closed (recoveredMs); long at 1e4+ sagas in flight',
    false,
  )
  .option('--enforce-targets', 'exit non-zero when a target is missed', false);

interface Run {
  readonly variant: string;
  readonly case: Case;
  readonly round: number;
  readonly execArgv: readonly string[];
  readonly serverOpenMs: number;
  readonly result: RecoveryChildResult;
}

/** Per-run numbers that the summary spreads over rounds: units in the names. */
function metricsOf(r: RecoveryChildResult, serverOpenMs: number): Record<string, number> {
  const perEvent = (us: number) => us / Math.max(1, r.tailEvents);
  return {
    catchUpEventsPerSecond: r.catchUpEventsPerSecond,
    catchUpMs: r.catchUpMs,
    tailEvents: r.tailEvents,
    clientCpuUsPerTailEvent: perEvent(r.catchUp.cpuUs),
    serverCpuUsPerTailEvent: perEvent(r.serverCatchUpCpuUs),
    firstCommandMs: r.firstCommandMs,
    recoveredMs: r.recoveredMs,
    restartClientCpuMs: r.restart.cpuUs / 1000,
    restartServerCpuMs: r.serverRestartCpuUs / 1000,
    gcMs: r.restart.gcMs,
    peakHeapBytes: r.restart.peakHeapBytes,
    peakHeapGrowthBytes: r.restart.peakHeapBytes - r.heapBaselineBytes,
    heapAfterCatchUpGrowthBytes: r.heapAfterCatchUpBytes - r.heapBaselineBytes,
    peakRssBytes: r.restart.peakRssBytes,
    serverPeakRssBytes: r.serverPeakRssBytes,
    serverOpenMs,
    lostSagas: r.lost,
  };
}

async function main(): Promise<number> {
  const options = program.parse().opts<Options>();
  for (const v of options.variants)
    if (!VARIANTS[v]) throw new Error(`Unknown variant '${v}' (known: ${Object.keys(VARIANTS).join(', ')}).`);
  const rounds = options.rounds ?? (options.full ? 5 : 3);
  const cases =
    options.cases ??
    (options.full
      ? parseCases('100000:10000,1000000:10000,1000000:100000')
      : parseCases('100000:1000,100000:4000,20000:1000'));
  const out = resolve(options.out);
  const nodeFlags = [
    '--expose-gc',
    ...(options.full ? ['--max-old-space-size=4096'] : []),
    ...options.nodeFlags,
  ];
  const backend =
    'B: embedded server (durable, fsynced log) in its own process, over @eventstore/db-client 6.2.1';
  const work = mkdtempSync(join(tmpdir(), 'sagastream-bench-recovery-'));
  console.log(`bench:recovery  ${backend}`);

  // ---- the crash states, written once per case and copied for every run
  const states = new Map<Case, { dir: string; crash: CrashState }>();
  try {
    for (const [i, c] of cases.entries()) {
      const dir = join(work, `case-${i}`);
      const store = await LocalEventStore.open({ dir, log: () => undefined });
      const crash = await writeCrashState(store, { ...c, seed: options.seed });
      await store.close();
      states.set(c, { dir, crash });
      console.log(
        `  case ${caseName(c)}: ${crash.historyEvents} history events (${crash.historySagas} sagas), ` +
          `${crash.inFlight} in flight (${crash.inFlightEvents} events); tail after the checkpoints ` +
          `${crash.tailEvents} events (${Object.entries(crash.tail)
            .filter(([, n]) => n > 0)
            .map(([s, n]) => `${s} ${n}`)
            .join(', ')}); written in ${formatNumber(crash.setupMs / 1000)} s`,
      );
    }
    const schedule = interleave(options.variants, cases, rounds);
    console.log(
      `  ${rounds} rounds x ${cases.length} cases x ${options.variants.join('/')} = ${schedule.length} runs, node flags ${nodeFlags.join(' ')}\n`,
    );

    const runs: Run[] = [];
    let failures = 0;
    for (const planned of schedule) {
      const what = `${planned.variant} @${caseName(planned.case)} round ${planned.round}`;
      const state = states.get(planned.case)!;
      const runDir = join(work, 'run');
      rmSync(runDir, { recursive: true, force: true });
      cpSync(state.dir, runDir, { recursive: true });
      const openStarted = performance.now();
      const server = await startServerProcess({ dbPath: runDir, startTimeoutMs: 300_000 });
      const serverOpenMs = performance.now() - openStarted;
      try {
        const profiled = options.profile === true ? [FRAMEWORK] : options.profile || [];
        const input: RecoveryChildInput = {
          variant: planned.variant,
          connectionString: server.connectionString,
          crash: state.crash,
          stallMs: options.stallMs,
          untilRecovered: options.untilRecovered,
          ...(RUNTIME_OPTIONS[planned.variant] ? { runtimeOptions: RUNTIME_OPTIONS[planned.variant] } : {}),
          ...(profiled.includes(planned.variant)
            ? {
                profile: {
                  dir: join(out, 'profiles'),
                  name: `recovery-${planned.variant}-${caseName(planned.case)}-r${planned.round}-${Date.now()}`,
                },
              }
            : {}),
        };
        const child = await runChild<RecoveryChildResult>({
          script: VARIANTS[planned.variant] as string,
          input,
          nodeFlags,
          timeoutMs: 900_000,
          onRequest: (kind) => {
            if (kind === 'server-sample') return server.sample();
            throw new Error(`unknown request ${kind}`);
          },
        });
        const r = child.result;
        runs.push({
          variant: planned.variant,
          case: planned.case,
          round: planned.round,
          execArgv: child.execArgv,
          serverOpenMs,
          result: r,
        });
        console.log(
          `  ${what.padEnd(34)} ${formatNumber(r.catchUpEventsPerSecond).padStart(7)} tail events/s  ` +
            `catch-up ${formatNumber(r.catchUpMs).padStart(6)} ms  first command ${formatNumber(r.firstCommandMs).padStart(5)} ms  ` +
            `recovered ${formatNumber(r.recoveredMs).padStart(6)} ms  peak heap +${formatMiB(r.restart.peakHeapBytes - r.heapBaselineBytes)} MiB  lost ${r.lost}`,
        );
      } catch (error) {
        failures++;
        console.error(`  ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        await server.stop();
        rmSync(runDir, { recursive: true, force: true });
      }
    }

    // ---- aggregate: one object per variant and case
    const variants = cases.flatMap((c) =>
      options.variants.flatMap((name) => {
        const list = runs.filter((run) => run.variant === name && run.case === c);
        if (list.length === 0) return [];
        const perRun = list.map((run) => metricsOf(run.result, run.serverOpenMs));
        const metrics: Record<string, Spread> = {};
        for (const key of Object.keys(perRun[0]!)) metrics[key] = spread(perRun.map((m) => m[key]!));
        return [
          {
            name,
            backend: 'B',
            case: { ...c, name: caseName(c) },
            runs: list.length,
            metrics,
          },
        ];
      }),
    );
    type Variant = (typeof variants)[number];
    const find = (name: string, c: Case): Variant | undefined =>
      variants.find(
        (v) => v.name === name && v.case.historyEvents === c.historyEvents && v.case.inFlight === c.inFlight,
      );
    const med = (v: Variant | undefined, key: string) => v?.metrics[key]?.median ?? NaN;

    const catchUp = cases.flatMap((c) =>
      options.variants
        .filter((name) => name !== FLOOR && find(name, c) !== undefined)
        .map((name) => {
          const value = ratio(
            med(find(name, c), 'catchUpEventsPerSecond'),
            med(find(FLOOR, c), 'catchUpEventsPerSecond'),
          );
          return {
            case: caseName(c),
            variant: name,
            overFloorCatchUp: value,
            clientCpuPerTailEventOverFloor: ratio(
              med(find(name, c), 'clientCpuUsPerTailEvent'),
              med(find(FLOOR, c), 'clientCpuUsPerTailEvent'),
            ),
            met: value >= TARGETS.catchUpRatioAtLeast,
          };
        }),
    );
    const firstCommand = cases.map((c) => {
      const v = find(FRAMEWORK, c);
      const worst = v?.metrics.firstCommandMs?.max ?? NaN;
      return {
        case: caseName(c),
        firstCommandMsMedian: med(v, 'firstCommandMs'),
        firstCommandMsMax: worst,
        met: worst <= TARGETS.firstCommandMsAtMost,
      };
    });
    // Heap slopes between cases that differ in one dimension only.
    const slopes = (key: 'historyEvents' | 'inFlight', other: 'historyEvents' | 'inFlight') =>
      cases.flatMap((a) =>
        cases
          .filter((b) => b[other] === a[other] && b[key] > a[key])
          .map((b) => {
            const growth = (c: Case) => med(find(FRAMEWORK, c), 'peakHeapGrowthBytes');
            const retained = (c: Case) => med(find(FRAMEWORK, c), 'heapAfterCatchUpGrowthBytes');
            return {
              from: caseName(a),
              to: caseName(b),
              peakHeapBytesPerUnit: (growth(b) - growth(a)) / (b[key] - a[key]),
              retainedHeapBytesPerUnit: (retained(b) - retained(a)) / (b[key] - a[key]),
            };
          }),
      );
    const perInFlight = slopes('inFlight', 'historyEvents').map((s) => ({
      ...s,
      met: s.peakHeapBytesPerUnit <= TARGETS.heapBytesPerInFlightSagaAtMost,
    }));
    const perHistory = slopes('historyEvents', 'inFlight').map((s) => ({
      ...s,
      met: s.peakHeapBytesPerUnit <= TARGETS.heapBytesPerHistoryEventAtMost,
    }));

    // ---- print
    console.log('');
    console.log(
      formatTable(
        [
          { header: 'case', align: 'left' },
          { header: 'variant', align: 'left' },
          { header: 'tail events' },
          { header: 'catch-up events/s' },
          { header: 'client us/event' },
          { header: 'server us/event' },
          { header: 'first cmd ms' },
          { header: 'recovered s' },
          { header: 'GC ms' },
          { header: 'peak heap +MiB' },
          { header: 'retained +MiB' },
          { header: 'RSS MiB' },
        ],
        variants.map((v) => [
          v.case.name,
          v.name,
          formatNumber(med(v, 'tailEvents')),
          formatSpread(v.metrics.catchUpEventsPerSecond!),
          formatNumber(med(v, 'clientCpuUsPerTailEvent')),
          formatNumber(med(v, 'serverCpuUsPerTailEvent')),
          formatNumber(med(v, 'firstCommandMs')),
          formatNumber(med(v, 'recoveredMs') / 1000),
          formatNumber(med(v, 'gcMs')),
          formatMiB(med(v, 'peakHeapGrowthBytes')),
          formatMiB(med(v, 'heapAfterCatchUpGrowthBytes')),
          formatMiB(med(v, 'peakRssBytes')),
        ]),
      ),
    );
    console.log(
      '  median (min-max) of the rounds; case = history events + sagas in flight; heap growth over the heap after GC before connecting\n',
    );
    const mark = (met: boolean) => (met ? 'met' : 'MISSED');
    const targetRows = [
      ...catchUp.map((r) => [
        `catch-up ${r.variant} ${r.case}`,
        `${formatNumber(r.overFloorCatchUp, 2)}x floor (client CPU/event ${formatNumber(r.clientCpuPerTailEventOverFloor, 1)}x)`,
        `>= ${TARGETS.catchUpRatioAtLeast}x`,
        mark(r.met),
      ]),
      ...firstCommand.map((r) => [
        `first command ${r.case}`,
        `${formatNumber(r.firstCommandMsMax)} ms (max)`,
        `<= ${TARGETS.firstCommandMsAtMost} ms`,
        mark(r.met),
      ]),
      ...perInFlight.map((r) => [
        `heap per in-flight saga ${r.from} -> ${r.to}`,
        `${formatNumber(r.peakHeapBytesPerUnit)} B peak (${formatNumber(r.retainedHeapBytesPerUnit)} B retained)`,
        `<= ${TARGETS.heapBytesPerInFlightSagaAtMost} B`,
        mark(r.met),
      ]),
      ...perHistory.map((r) => [
        `heap per history event ${r.from} -> ${r.to}`,
        `${formatNumber(r.peakHeapBytesPerUnit, 2)} B peak (${formatNumber(r.retainedHeapBytesPerUnit, 2)} B retained)`,
        `<= ${TARGETS.heapBytesPerHistoryEventAtMost} B`,
        mark(r.met),
      ]),
    ];
    console.log(
      formatTable(
        [{ header: 'target', align: 'left' }, { header: 'measured' }, { header: 'target' }, { header: '' }],
        targetRows,
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
        `\nProfile of ${variant} @${caseName(run.case)} (whole restart, ${formatNumber(s.totalMs)} ms): ${file}`,
      );
      for (const h of s.inclusive)
        console.log(
          `  ${formatNumber(h.ms).padStart(7)} ms ${h.percent.toFixed(1).padStart(5)}%  ${h.where}`,
        );
    }

    const file = writeResultJson(out, 'recovery', {
      benchmark: 'bench:recovery',
      backend,
      environment: environment(),
      options: { ...options, rounds, cases, nodeFlags, out: undefined },
      targets: TARGETS,
      crashStates: cases.map((c) => {
        const { inFlightOrderIds: _ids, ...crash } = states.get(c)!.crash;
        return { case: caseName(c), ...crash };
      }),
      variants,
      results: { catchUp, firstCommand, heapPerInFlightSaga: perInFlight, heapPerHistoryEvent: perHistory },
      runs: runs.map((run) => ({ ...run, case: caseName(run.case) })),
    });
    console.log(`\nJSON: ${file}`);

    const lost = runs.reduce((n, run) => n + run.result.lost, 0);
    let code = 0;
    if (failures > 0) {
      console.error(`${failures} run(s) failed.`);
      code = 1;
    }
    if (lost > 0) {
      console.error(`${lost} in-flight saga(s) did not finish after the restart.`);
      code = 1;
    }
    const missed = [
      ...catchUp.filter((r) => r.variant === FRAMEWORK),
      ...firstCommand,
      ...perInFlight,
      ...perHistory,
    ].some((r) => !r.met);
    if (options.enforceTargets && missed) code = 1;
    return code;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
