// npm run bench:latency: saga latency under open-loop load (no coordinated omission) at
// 20/50/80% of each variant's sustainable rate, sagastream on back-ends A and B and the
// hand-written floor. See /work/shared/BENCHMARKS.md (suite 5) and bench/latency/README.md.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { decodeFromCompressedBase64, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { generateOrders } from '../../samples/order-fulfillment/place-orders';
import { type ServerProcess, startServerProcess } from '../harness/embedded-server';
import type { CpuSnapshot } from '../harness/process-meter';
import { environment, formatMiB, formatNumber, formatTable, writeResultJson } from '../harness/report';
import { type ChildRun, interleave, runChild } from '../harness/runner';
import { type Spread, ratio, spread } from '../harness/stats';
import {
  type Arrivals,
  type LatencyChildInput,
  type LatencyChildResult,
  type OpenLoopResult,
  latencyHistogram,
  percentilesOf,
} from './workload';

interface VariantSpec {
  readonly script: string;
  readonly backend: 'A' | 'B' | 'peer';
  readonly description: string;
}

const VARIANTS: Record<string, VariantSpec> = {
  'sagastream-a': {
    script: join(__dirname, 'sagastream-variant.ts'),
    backend: 'A',
    description:
      'the order-fulfillment sample on ProcessRuntime + LocalEventStore({ memory: true }), in process',
  },
  'sagastream-b': {
    script: join(__dirname, 'sagastream-variant.ts'),
    backend: 'B',
    description:
      'the order-fulfillment sample on ProcessRuntime + EventStoreDbEventStore, embedded server in its own process',
  },
  floor: {
    script: join(__dirname, 'floor.ts'),
    backend: 'B',
    description: "bench/saga's hand-written saga on @eventstore/db-client, the same embedded server",
  },
  'floor-a': {
    script: join(__dirname, 'floor.ts'),
    backend: 'A',
    description:
      "bench/saga's hand-written saga through the EventStore port on LocalEventStore({ memory: true }), in process",
  },
};
/** Restate runs only once bench/saga/restate-peer.ts (another suite's) is there. */
const RESTATE_PEER = join(__dirname, '..', 'saga', 'restate-peer.ts');
if (existsSync(RESTATE_PEER)) {
  VARIANTS.restate = {
    script: join(__dirname, 'restate-variant.ts'),
    backend: 'peer',
    description:
      'Restate (restate-server from npm, durable, own process) through bench/saga/restate-peer.ts; latency ends when the ingress call returns',
  };
}

/** When a saga's latency ends (the same rule as bench:saga's Completion). */
const ENDPOINT =
  'from the intended arrival time of OrderPlaced to the moment the variant sees both its order closed ' +
  '(OrderCompleted/OrderCancelled appended to order-<id>) and its process stream ended ' +
  '(ProcessCompleted/ProcessCompensated/ProcessCompensationFailed appended), each observed when the append is acknowledged';

/** Targets of suite 5 (BENCHMARKS.md), microseconds. */
const TARGETS = {
  aP50AtHalf: 20,
  aP99AtHalf: 200,
  bP50AtHalf: 1000,
  bP99AtHalf: 5000,
  bP99VsFloorAt80: 3,
};

const NO_SERVER: CpuSnapshot = {
  cpuUserUs: 0,
  cpuSystemUs: 0,
  heapUsedBytes: 0,
  rssBytes: 0,
  maxRssBytes: 0,
};

const int = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer.`);
  return n;
};

interface Options {
  full: boolean;
  rounds?: number;
  loads: number[];
  duration?: number;
  variants: string[];
  sustainable: Record<string, number>;
  calibrateMs: number;
  calibrateInFlight: number;
  warmup: number;
  arrivals: Arrivals;
  seed: number;
  memory: boolean;
  profile?: string[] | boolean;
  out: string;
  enforceTargets: boolean;
}

const program = new Command('bench:latency')
  .description(
    'Saga latency under open-loop arrivals: sagastream on back-ends A and B vs the hand-written floor.',
  )
  .option('--full', 'the big size: 5 rounds, 10 s per open-loop run', false)
  .option('--rounds <n>', 'interleaved rounds (default 3, 5 with --full)', int('--rounds'))
  .option(
    '--loads <list>',
    'offered load as fractions of the sustainable rate, comma-separated',
    (v) =>
      v.split(',').map((s) => {
        const n = Number(s.trim());
        if (!(n > 0 && n <= 2))
          throw new InvalidArgumentError('--loads wants fractions such as 0.2,0.5,0.8.');
        return n;
      }),
    [0.2, 0.5, 0.8],
  )
  .option('--duration <ms>', 'open-loop phase per run (default 2000, 10000 with --full)', int('--duration'))
  .option(
    '--variants <list>',
    `comma-separated: ${Object.keys(VARIANTS).join(',')}`,
    (v) => v.split(',').map((s) => s.trim()),
    Object.keys(VARIANTS),
  )
  .option(
    '--sustainable <list>',
    'take the sustainable rate (sagas/s) from here instead of calibrating, e.g. sagastream-b=600,floor=900',
    (v) =>
      Object.fromEntries(
        v.split(',').map((pair) => {
          const [name, rate] = pair.split('=');
          const n = Number(rate);
          if (!name || !(n > 0))
            throw new InvalidArgumentError(`--sustainable wants name=rate, got '${pair}'.`);
          return [name.trim(), n];
        }),
      ),
    {} as Record<string, number>,
  )
  .option('--calibrate-ms <ms>', 'closed-loop calibration run per variant', int('--calibrate-ms'), 3000)
  .option('--calibrate-in-flight <n>', 'sagas in flight while calibrating', int('--calibrate-in-flight'), 64)
  .option('--warmup <n>', 'closed-loop warm-up orders per run (16 in flight), excluded', int('--warmup'), 300)
  .option(
    '--arrivals <kind>',
    'poisson or constant',
    (v) => {
      if (v !== 'poisson' && v !== 'constant')
        throw new InvalidArgumentError('--arrivals: poisson or constant');
      return v;
    },
    'poisson' as Arrivals,
  )
  .option('--seed <n>', 'seed of the orders and the arrival times', int('--seed'), 42)
  .option('--memory', 'in-memory server log for back-end B instead of the durable one', false)
  .option(
    '--profile [variants]',
    'CPU-profile the open-loop window of these variants (default sagastream-a,sagastream-b) into <out>/profiles',
    (v) => v.split(',').map((s) => s.trim()),
  )
  .option('--out <dir>', 'where the JSON result goes', join(__dirname, '..', 'results'))
  .option('--enforce-targets', 'exit non-zero when a latency target is missed', false);

interface Run {
  readonly variant: string;
  readonly load: number;
  readonly round: number;
  readonly ratePerSecond: number;
  readonly execArgv: readonly string[];
  readonly wallMs: number;
  readonly result: LatencyChildResult;
}

/** One target of suite 5 and whether this run met it. */
interface TargetCheck {
  readonly target: string;
  readonly variant: string;
  readonly load: number;
  /** The measured value (median over rounds), microseconds or a ratio. */
  readonly value: number;
  readonly bound: string;
  /** Undefined when the variants or loads it needs were not run. */
  readonly met?: boolean;
  /**
   * The same percentile of the hand-written floor on the same back-end (`floor-a` for A,
   * `floor` for B) at the same load, when it ran: what the store work alone allows.
   */
  readonly floor?: { readonly variant: string; readonly value: number; readonly met: boolean };
}

async function withServer<T>(
  backend: VariantSpec['backend'],
  memory: boolean,
  f: (server: ServerProcess | undefined) => Promise<T>,
): Promise<T> {
  const server = backend === 'B' ? await startServerProcess({ memory }) : undefined;
  try {
    return await f(server);
  } finally {
    await server?.stop();
  }
}

function childRun(
  spec: VariantSpec,
  input: LatencyChildInput,
  server: ServerProcess | undefined,
): Promise<ChildRun<LatencyChildResult>> {
  return runChild<LatencyChildResult>({
    script: spec.script,
    input,
    timeoutMs: 300_000,
    onRequest: (kind) => {
      if (kind === 'server-sample') return server ? server.sample() : NO_SERVER;
      throw new Error(`unknown request ${kind}`);
    },
  });
}

const us = (v: number) =>
  Number.isFinite(v) ? (v >= 10_000 ? `${(v / 1000).toFixed(1)}ms` : `${Math.round(v)}`) : '-';

async function main(): Promise<number> {
  const options = program.parse().opts<Options>();
  const rounds = options.rounds ?? (options.full ? 5 : 3);
  const durationMs = options.duration ?? (options.full ? 10_000 : 2000);
  for (const v of options.variants)
    if (!VARIANTS[v]) throw new Error(`Unknown variant '${v}' (known: ${Object.keys(VARIANTS).join(', ')}).`);
  const out = resolve(options.out);
  const work = mkdtempSync(join(tmpdir(), 'sagastream-bench-latency-'));
  const started = performance.now();
  const failures: { variant: string; load?: number; round?: number; error: string }[] = [];
  console.log(
    `bench:latency  open-loop ${options.arrivals} arrivals at ${options.loads.map((l) => `${l * 100}%`).join('/')} of each variant's sustainable rate, ` +
      `${durationMs} ms per run, ${rounds} rounds of ${options.variants.join('/')}; back-end B log: ${options.memory ? 'in memory' : 'durable, fsynced'}`,
  );
  console.log(`  latency: ${ENDPOINT}.\n`);

  try {
    // ---- the sustainable rate: a short closed-loop run per variant (or the flag)
    const calibrationFile = join(work, 'calibration-orders.json');
    const calibrationOrders = 40_000;
    writeFileSync(
      calibrationFile,
      JSON.stringify(
        generateOrders(calibrationOrders + options.warmup, { seed: options.seed, failureShare: 0.1 }),
      ),
    );
    const sustainable: Record<
      string,
      {
        sagasPerSecond: number;
        source: 'calibrated' | 'flag';
        clientCpuUsPerSaga?: number;
        serverCpuUsPerSaga?: number;
      }
    > = {};
    for (const variant of options.variants) {
      const given = options.sustainable[variant];
      if (given !== undefined) {
        sustainable[variant] = { sagasPerSecond: given, source: 'flag' };
        continue;
      }
      const spec = VARIANTS[variant] as VariantSpec;
      try {
        const child = await withServer(spec.backend, options.memory, (server) =>
          childRun(
            spec,
            {
              variant,
              backend: spec.backend,
              connectionString: server?.connectionString ?? '',
              ordersFile: calibrationFile,
              warmup: { orders: options.warmup, inFlight: options.calibrateInFlight },
              closedLoop: {
                orders: calibrationOrders,
                inFlight: options.calibrateInFlight,
                maxMs: options.calibrateMs,
              },
            },
            server,
          ),
        );
        const c = child.result.closedLoop;
        if (!c) throw new Error(`${variant} returned no closed-loop result`);
        sustainable[variant] = {
          sagasPerSecond: c.sagasPerSecond,
          source: 'calibrated',
          clientCpuUsPerSaga: c.clientCpuUsPerSaga,
          serverCpuUsPerSaga: c.serverCpuUsPerSaga,
        };
        console.log(
          `  sustainable ${variant.padEnd(13)} ${formatNumber(c.sagasPerSecond).padStart(7)} sagas/s closed loop @${options.calibrateInFlight}  ` +
            `client ${formatNumber(c.clientCpuUsPerSaga)} us/saga  server ${formatNumber(c.serverCpuUsPerSaga)} us/saga`,
        );
      } catch (error) {
        failures.push({ variant, error: error instanceof Error ? error.message : String(error) });
        console.error(
          `  calibrating ${variant} failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    const variants = options.variants.filter((v) => sustainable[v]);

    // ---- the measured runs: fresh server and child per run, interleaved
    const countAt = (v: string, load: number) =>
      Math.max(1, Math.round(((sustainable[v]?.sagasPerSecond ?? 0) * load * durationMs) / 1000));
    const needed =
      options.warmup + Math.max(0, ...variants.flatMap((v) => options.loads.map((l) => countAt(v, l))));
    const ordersFile = join(work, 'orders.json');
    writeFileSync(
      ordersFile,
      JSON.stringify(generateOrders(needed, { seed: options.seed, failureShare: 0.1 })),
    );
    const schedule = interleave(variants, options.loads, rounds);
    console.log(`\n  ${schedule.length} runs\n`);
    const runs: Run[] = [];
    const profiled = options.profile === true ? ['sagastream-a', 'sagastream-b'] : options.profile || [];
    for (const planned of schedule) {
      const what = `${planned.variant} @${planned.case * 100}% round ${planned.round}`;
      const spec = VARIANTS[planned.variant] as VariantSpec;
      const ratePerSecond = (sustainable[planned.variant]?.sagasPerSecond ?? 0) * planned.case;
      try {
        const child = await withServer(spec.backend, options.memory, (server) =>
          childRun(
            spec,
            {
              variant: planned.variant,
              backend: spec.backend,
              connectionString: server?.connectionString ?? '',
              ordersFile,
              warmup: { orders: options.warmup, inFlight: 16 },
              openLoop: {
                ratePerSecond,
                durationMs,
                arrivals: options.arrivals,
                seed: options.seed + planned.round,
                drainMs: Math.max(5000, 2 * durationMs),
              },
              ...(profiled.includes(planned.variant)
                ? {
                    profile: {
                      dir: join(out, 'profiles'),
                      name: `latency-${planned.variant}-${planned.case}-r${planned.round}-${Date.now()}`,
                    },
                  }
                : {}),
            },
            server,
          ),
        );
        runs.push({
          variant: planned.variant,
          load: planned.case,
          round: planned.round,
          ratePerSecond,
          execArgv: child.execArgv,
          wallMs: child.wallMs,
          result: child.result,
        });
        const o = child.result.openLoop as OpenLoopResult;
        console.log(
          `  ${what.padEnd(30)} ${formatNumber(ratePerSecond).padStart(6)}/s  p50 ${us(o.latencyUs.p50).padStart(6)}  p99 ${us(o.latencyUs.p99).padStart(7)}  ` +
            `p99.9 ${us(o.latencyUs.p999).padStart(7)}  max ${us(o.latencyUs.max).padStart(7)} us  unfinished ${o.unfinished}`,
        );
      } catch (error) {
        failures.push({
          variant: planned.variant,
          load: planned.case,
          round: planned.round,
          error: error instanceof Error ? error.message : String(error),
        });
        console.error(`  ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }

    // ---- aggregate: spreads over rounds, and one histogram merged from every round
    const summary = variants.flatMap((variant) =>
      options.loads.flatMap((load) => {
        const list = runs.filter((r) => r.variant === variant && r.load === load);
        if (list.length === 0) return [];
        const opens = list.map((r) => r.result.openLoop as OpenLoopResult);
        const m = (f: (o: OpenLoopResult) => number): Spread => spread(opens.map(f));
        const merged = latencyHistogram();
        for (const o of opens) merged.add(decodeFromCompressedBase64(o.histogram));
        const spec = VARIANTS[variant] as VariantSpec;
        return [
          {
            name: variant,
            backend: spec.backend,
            description: spec.description,
            load,
            ratePerSecond: list[0]?.ratePerSecond ?? NaN,
            runs: list.length,
            /** Median (min-max) over the rounds of each run's percentiles, microseconds. */
            percentilesUs: {
              p50: m((o) => o.latencyUs.p50),
              p90: m((o) => o.latencyUs.p90),
              p99: m((o) => o.latencyUs.p99),
              p999: m((o) => o.latencyUs.p999),
              max: m((o) => o.latencyUs.max),
            },
            /** OrderPlaced's intended time to the first decision acknowledged: one hop of the saga. */
            firstDecisionUs: {
              p50: m((o) => o.firstDecisionUs?.p50 ?? NaN),
              p99: m((o) => o.firstDecisionUs?.p99 ?? NaN),
            },
            /** Percentiles of the histogram merged over the rounds, microseconds. */
            mergedUs: percentilesOf(merged),
            /** The merged HDR histogram (microseconds), hdr-histogram-js encodeIntoCompressedBase64. */
            histogram: encodeIntoCompressedBase64(merged),
            achievedRatePerSecond: m((o) => o.achievedRatePerSecond),
            sagas: opens.reduce((n, o) => n + o.placed, 0),
            unfinished: opens.reduce((n, o) => n + o.unfinished, 0),
            duplicates: list.reduce((n, r) => n + r.result.duplicateTerminals, 0),
            generatorLagP99Us: m((o) => o.generatorLagUs.p99),
            clientCpuUsPerSaga: m((o) => o.clientCpuUsPerSaga),
            serverCpuUsPerSaga: m((o) => o.serverCpuUsPerSaga),
            gcMs: m((o) => o.client.gcMs),
            gcMsPerSaga: m((o) => o.client.gcMs / Math.max(1, o.finished)),
            peakHeapBytes: m((o) => o.client.peakHeapBytes),
            peakRssBytes: m((o) => o.client.peakRssBytes),
            serverPeakRssBytes: m((o) => o.serverPeakRssBytes),
          },
        ];
      }),
    );
    const at = (name: string, load: number) => summary.find((s) => s.name === name && s.load === load);
    const check = (
      target: string,
      variant: string,
      load: number,
      value: number | undefined,
      bound: string,
      ok: (v: number) => boolean,
      floor?: { variant: string; value: number | undefined },
    ): TargetCheck => {
      const v = value ?? NaN;
      const f = floor?.value ?? NaN;
      return {
        target,
        variant,
        load,
        value: v,
        bound,
        ...(Number.isFinite(v) ? { met: ok(v) } : {}),
        ...(floor && Number.isFinite(f) ? { floor: { variant: floor.variant, value: f, met: ok(f) } } : {}),
      };
    };
    const a50 = at('sagastream-a', 0.5);
    const fa50 = at('floor-a', 0.5);
    const f50 = at('floor', 0.5);
    const b50 = at('sagastream-b', 0.5);
    const b80 = at('sagastream-b', 0.8);
    const f80 = at('floor', 0.8);
    const targets: TargetCheck[] = [
      check(
        'A p50 at 50%',
        'sagastream-a',
        0.5,
        a50?.percentilesUs.p50.median,
        `<= ${TARGETS.aP50AtHalf} us`,
        (v) => v <= TARGETS.aP50AtHalf,
        { variant: 'floor-a', value: fa50?.percentilesUs.p50.median },
      ),
      check(
        'A p99 at 50%',
        'sagastream-a',
        0.5,
        a50?.percentilesUs.p99.median,
        `<= ${TARGETS.aP99AtHalf} us`,
        (v) => v <= TARGETS.aP99AtHalf,
        { variant: 'floor-a', value: fa50?.percentilesUs.p99.median },
      ),
      check(
        'B p50 at 50%',
        'sagastream-b',
        0.5,
        b50?.percentilesUs.p50.median,
        `<= ${TARGETS.bP50AtHalf} us`,
        (v) => v <= TARGETS.bP50AtHalf,
        { variant: 'floor', value: f50?.percentilesUs.p50.median },
      ),
      check(
        'B p99 at 50%',
        'sagastream-b',
        0.5,
        b50?.percentilesUs.p99.median,
        `<= ${TARGETS.bP99AtHalf} us`,
        (v) => v <= TARGETS.bP99AtHalf,
        { variant: 'floor', value: f50?.percentilesUs.p99.median },
      ),
      check(
        'B p99 vs floor p99 at 80%',
        'sagastream-b',
        0.8,
        ratio(b80?.percentilesUs.p99.median ?? NaN, f80?.percentilesUs.p99.median ?? NaN),
        `<= ${TARGETS.bP99VsFloorAt80}x`,
        (v) => v <= TARGETS.bP99VsFloorAt80,
      ),
    ];

    // ---- print
    console.log('');
    console.log(
      formatTable(
        [
          { header: 'variant', align: 'left' },
          { header: 'load' },
          { header: 'sagas/s' },
          { header: 'p50 us' },
          { header: 'p90 us' },
          { header: 'p99 us' },
          { header: 'p99.9 us' },
          { header: 'max us' },
          { header: '1st hop p50/p99 us' },
          { header: 'client us/saga' },
          { header: 'server us/saga' },
          { header: 'GC ms' },
          { header: 'heap MiB' },
          { header: 'unfinished' },
        ],
        summary.map((s) => [
          s.name,
          `${s.load * 100}%`,
          formatNumber(s.ratePerSecond),
          us(s.percentilesUs.p50.median),
          us(s.percentilesUs.p90.median),
          us(s.percentilesUs.p99.median),
          us(s.percentilesUs.p999.median),
          us(s.percentilesUs.max.median),
          `${us(s.firstDecisionUs.p50.median)}/${us(s.firstDecisionUs.p99.median)}`,
          formatNumber(s.clientCpuUsPerSaga.median),
          formatNumber(s.serverCpuUsPerSaga.median),
          formatNumber(s.gcMs.median),
          formatMiB(s.peakHeapBytes.median),
          String(s.unfinished),
        ]),
      ),
    );
    console.log(
      "\n  Median over the rounds of each run's percentiles; client CPU includes the generator's polling.",
    );
    console.log('');
    for (const t of targets) {
      const withUnit = (v: number) => (v >= 10_000 ? us(v) : `${us(v)} us`);
      const value = t.target.includes('floor') ? `${formatNumber(t.value)}x` : withUnit(t.value);
      const floor = t.floor
        ? `  (${t.floor.variant} ${withUnit(t.floor.value)}, ${t.floor.met ? 'met' : 'MISSED'})`
        : '';
      console.log(
        `  ${t.target.padEnd(28)} ${value.padStart(10)}  ${t.bound.padEnd(10)} ${t.met === undefined ? 'not measured' : t.met ? 'met' : 'MISSED'}${floor}`,
      );
    }
    const file = writeResultJson(out, 'latency', {
      suite: 'latency',
      environment: environment(),
      loadAverage: loadavg(),
      elapsedMs: performance.now() - started,
      options: { ...options, rounds, duration: durationMs },
      endpoint: ENDPOINT,
      generator:
        'intended arrival times precomputed from the seed (Poisson or constant); the generator sleeps on a timer while the next arrival is over 2 ms away and polls with setImmediate closer in, placing every due order without waiting for any saga; latency is measured from the intended time',
      sustainable,
      variants: summary,
      targets,
      restate: !existsSync(RESTATE_PEER)
        ? 'not run: bench/saga/restate-peer.ts is not there yet'
        : options.variants.includes('restate')
          ? 'variant restate (durable peer); its latency ends when the ingress call returns'
          : 'not run in this invocation (--variants)',
      failures,
      runs: runs.map((r) => ({
        ...r.result,
        load: r.load,
        round: r.round,
        ratePerSecond: r.ratePerSecond,
        execArgv: r.execArgv,
        wallMs: r.wallMs,
      })),
    });
    console.log(`\n  ${file}  (${((performance.now() - started) / 60_000).toFixed(1)} min)`);
    const missed = targets.filter((t) => t.met === false).length;
    if (failures.length > 0) return 1;
    if (summary.some((s) => s.unfinished > 0 || s.duplicates > 0)) {
      console.error('  some sagas did not finish or finished twice');
      return 1;
    }
    return options.enforceTargets && missed > 0 ? 1 : 0;
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
