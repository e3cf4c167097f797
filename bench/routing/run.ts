// npm run bench:routing: routing decoded events to handlers on back-end A (in process),
// sagastream's pipeline side by side with the hand-written RxJS floor and NestJS CQRS.
// See /work/shared/BENCHMARKS.md (suite 1) and bench/routing/README.md.
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
import { ratio, spread, type Spread } from '../harness/stats';
import type { RoutingChildInput, RoutingChildResult } from './workload';

const VARIANTS: Record<string, string> = {
  floor: join(__dirname, 'floor-variant.ts'),
  sagastream: join(__dirname, 'sagastream-variant.ts'),
  'sagastream-decide': join(__dirname, 'sagastream-variant.ts'),
  nestjs: join(__dirname, 'nestjs-variant.ts'),
};
const FRAMEWORK = 'sagastream';
const FLOOR = 'floor';
const PEER = 'nestjs';
export const TARGETS = {
  floorRatioAtLeast: 1 / 3,
  bigPageRatioAtLeast: 0.8,
  handlersCostRatioAtMost: 1.2,
  peerRatioAtLeast: 10,
  peerPage: 1000,
} as const;
const BACKEND =
  'A: in process; pre-generated StoredEventRecords as the in-memory LocalEventStore delivers them (store reads not measured)';

const int = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer.`);
  return n;
};
const ints = (name: string) => (value: string) => value.split(',').map((s) => int(name)(s.trim()));

interface Options {
  rounds: number;
  events: number;
  warmup: number;
  pages: number[];
  handlers: number[];
  variants: string[];
  peerEvents: number;
  peerPages: number[];
  instances: number;
  seed: number;
  full: boolean;
  profile: string[] | boolean;
  nodeFlags: string[];
  out: string;
  enforceTargets: boolean;
}

const program = new Command('bench:routing')
  .description('Routing decoded events to handlers: sagastream vs a hand-written RxJS floor and NestJS CQRS.')
  .option('--rounds <n>', 'interleaved rounds', int('--rounds'), 5)
  .option('--events <n>', 'measured events per page size (default 50000; --full 1000000)', int('--events'))
  .option('--warmup <n>', 'unmeasured events before each page size (default events/4)', int('--warmup'))
  .option('--pages <list>', 'delivery page sizes', ints('--pages'), [1, 100, 1000, 100_000])
  .option('--handlers <list>', 'handlers in the route table', ints('--handlers'), [10, 100])
  .option(
    '--variants <list>',
    `comma-separated: ${Object.keys(VARIANTS).join(',')}`,
    (v) => v.split(',').map((s) => s.trim()),
    [FLOOR, FRAMEWORK, PEER],
  )
  .option(
    '--peer-events <n>',
    'measured events per page size for NestJS CQRS (slower; default 20000, --full 200000)',
    int('--peer-events'),
  )
  .option('--peer-pages <list>', 'page sizes for NestJS CQRS', ints('--peer-pages'), [1, 100, 1000])
  .option('--instances <n>', 'distinct process ids in the input', int('--instances'), 1000)
  .option('--seed <n>', 'input seed', int('--seed'), 42)
  .option('--full', 'the full size: 1e6 events per page size', false)
  .option(
    '--profile [variants]',
    `CPU-profile the measured windows of these variants (default ${FRAMEWORK}) into <out>/profiles`,
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

interface Run {
  readonly variant: string;
  readonly handlers: number;
  readonly round: number;
  readonly execArgv: readonly string[];
  readonly result: RoutingChildResult;
}

/** One (variant, handlers, page) cell: spreads over the rounds. */
export interface RoutingSummary {
  readonly variant: string;
  readonly handlers: number;
  readonly page: number;
  readonly runs: number;
  readonly eventsPerSecond: Spread;
  readonly eventsPerCpuSecond: Spread;
  readonly cpuUsPerEvent: Spread;
  readonly gcMs: Spread;
  readonly gcMsPerMillionEvents: Spread;
  readonly peakHeapBytes: Spread;
  readonly peakRssBytes: Spread;
}

/** A target check: what was compared, the number, the bound, met or not. */
export interface TargetCheck {
  readonly target: string;
  readonly case: string;
  /** The ratio of wall-clock rates (what the target is judged on). */
  readonly value: number;
  /** The same ratio computed from CPU time per event (steadier on a shared machine). */
  readonly cpuValue: number;
  readonly bound: string;
  readonly met: boolean;
}

async function main(): Promise<number> {
  const options = program.parse().opts<Options>();
  const events = options.events ?? (options.full ? 1_000_000 : 50_000);
  const warmup = options.warmup ?? Math.max(1000, Math.floor(events / 4));
  const peerEvents = Math.min(events, options.peerEvents ?? (options.full ? 200_000 : 20_000));
  for (const v of options.variants)
    if (!VARIANTS[v]) throw new Error(`Unknown variant '${v}' (known: ${Object.keys(VARIANTS).join(', ')}).`);
  const out = resolve(options.out);
  const nodeFlags = [
    '--expose-gc',
    ...(options.full ? ['--max-old-space-size=4096'] : []),
    ...options.nodeFlags,
  ];

  const schedule = interleave(options.variants, options.handlers, options.rounds);
  console.log(`bench:routing  back-end ${BACKEND}`);
  console.log(
    `  ${events} measured + ${warmup} warm-up events per page size (peer: ${peerEvents}), 10 types, ${options.instances} instances, seed ${options.seed}; ` +
      `pages ${options.pages.join('/')} (peer ${options.peerPages.join('/')}); ${options.rounds} rounds x handlers ${options.handlers.join('/')} x ${options.variants.join('/')} = ${schedule.length} child processes\n`,
  );
  const runs: Run[] = [];
  let failures = 0;
  for (const planned of schedule) {
    const what = `${planned.variant} ${planned.case} handlers round ${planned.round}`;
    const peer = planned.variant === PEER;
    const profiled = options.profile === true ? [FRAMEWORK] : options.profile || [];
    const input: RoutingChildInput = {
      variant: planned.variant,
      handlers: planned.case,
      pages: peer ? options.peerPages : options.pages,
      events: peer ? peerEvents : events,
      warmup: peer ? Math.min(warmup, peerEvents) : warmup,
      instances: options.instances,
      seed: options.seed,
      ...(profiled.includes(planned.variant)
        ? {
            profile: {
              dir: join(out, 'profiles'),
              name: `routing-${planned.variant}-${planned.case}-r${planned.round}-${Date.now()}`,
            },
          }
        : {}),
    };
    try {
      const child = await runChild<RoutingChildResult>({
        script: VARIANTS[planned.variant] as string,
        input,
        nodeFlags,
        timeoutMs: 900_000,
      });
      const r = child.result;
      if (r.handled !== r.expectedHandled)
        throw new Error(`handled ${r.handled} events, expected ${r.expectedHandled}`);
      runs.push({
        variant: planned.variant,
        handlers: planned.case,
        round: planned.round,
        execArgv: child.execArgv,
        result: r,
      });
      console.log(
        `  ${what.padEnd(38)} ${r.results
          .map((p) => `${p.page}: ${formatNumber(p.eventsPerSecond / 1e6, 2)}M/s`)
          .join('  ')}`,
      );
    } catch (error) {
      failures++;
      console.error(`  ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  // ---- aggregate
  const summary: RoutingSummary[] = [];
  for (const variant of options.variants)
    for (const handlers of options.handlers) {
      const list = runs.filter((r) => r.variant === variant && r.handlers === handlers);
      const pages = [...new Set(list.flatMap((r) => r.result.results.map((p) => p.page)))];
      for (const page of pages) {
        const cells = list.flatMap((r) => r.result.results.filter((p) => p.page === page));
        summary.push({
          variant,
          handlers,
          page,
          runs: cells.length,
          eventsPerSecond: spread(cells.map((c) => c.eventsPerSecond)),
          eventsPerCpuSecond: spread(cells.map((c) => c.eventsPerCpuSecond)),
          cpuUsPerEvent: spread(cells.map((c) => c.cpuUsPerEvent)),
          gcMs: spread(cells.map((c) => c.meter.gcMs)),
          gcMsPerMillionEvents: spread(cells.map((c) => (c.meter.gcMs * 1e6) / c.events)),
          peakHeapBytes: spread(cells.map((c) => c.meter.peakHeapBytes)),
          peakRssBytes: spread(cells.map((c) => c.meter.peakRssBytes)),
        });
      }
    }
  const find = (variant: string, handlers: number, page: number) =>
    summary.find((s) => s.variant === variant && s.handlers === handlers && s.page === page);
  const rate = (variant: string, handlers: number, page: number) =>
    find(variant, handlers, page)?.eventsPerSecond.median ?? NaN;
  const cpu = (variant: string, handlers: number, page: number) =>
    find(variant, handlers, page)?.cpuUsPerEvent.median ?? NaN;

  const targets: TargetCheck[] = [];
  const check = (target: string, c: string, value: number, cpuValue: number, bound: string, met: boolean) => {
    if (Number.isFinite(value)) targets.push({ target, case: c, value, cpuValue, bound, met });
  };
  const cpuRate = (variant: string, handlers: number, page: number) =>
    find(variant, handlers, page)?.eventsPerCpuSecond.median ?? NaN;
  const [small, large] = [Math.min(...options.handlers), Math.max(...options.handlers)];
  for (const handlers of options.handlers) {
    for (const page of options.pages) {
      const v = ratio(rate(FRAMEWORK, handlers, page), rate(FLOOR, handlers, page));
      check(
        'sagastream / floor events/s',
        `${handlers} handlers, ${page}-event pages`,
        v,
        ratio(cpuRate(FRAMEWORK, handlers, page), cpuRate(FLOOR, handlers, page)),
        '>= 0.33',
        v >= TARGETS.floorRatioAtLeast,
      );
    }
    const big = Math.max(...options.pages);
    if (options.pages.includes(100) && big > 100) {
      const v = ratio(rate(FRAMEWORK, handlers, big), rate(FRAMEWORK, handlers, 100));
      check(
        `sagastream events/s at ${big}-event pages / at 100`,
        `${handlers} handlers`,
        v,
        ratio(cpuRate(FRAMEWORK, handlers, big), cpuRate(FRAMEWORK, handlers, 100)),
        '>= 0.8',
        v >= TARGETS.bigPageRatioAtLeast,
      );
    }
    const v = ratio(rate(FRAMEWORK, handlers, TARGETS.peerPage), rate(PEER, handlers, TARGETS.peerPage));
    check(
      `sagastream / NestJS CQRS events/s at ${TARGETS.peerPage}-event pages`,
      `${handlers} handlers`,
      v,
      ratio(cpuRate(FRAMEWORK, handlers, TARGETS.peerPage), cpuRate(PEER, handlers, TARGETS.peerPage)),
      '>= 10',
      v >= TARGETS.peerRatioAtLeast,
    );
  }
  if (large > small)
    for (const page of options.pages) {
      const v = ratio(cpu(FRAMEWORK, large, page), cpu(FRAMEWORK, small, page));
      check(
        `sagastream CPU/event, ${large} handlers / ${small}`,
        `${page}-event pages`,
        v,
        v,
        '<= 1.2',
        v <= TARGETS.handlersCostRatioAtMost,
      );
    }

  // ---- print
  console.log('');
  console.log(
    formatTable(
      [
        { header: 'handlers' },
        { header: 'page' },
        { header: 'variant', align: 'left' },
        { header: 'M events/s' },
        { header: 'CPU us/event' },
        { header: 'GC ms/1M ev' },
        { header: 'heap MiB' },
        { header: 'RSS MiB' },
        { header: 'x floor' },
      ],
      summary
        .slice()
        .sort((a, b) => a.handlers - b.handlers || a.page - b.page)
        .map((s) => [
          String(s.handlers),
          String(s.page),
          s.variant,
          formatSpread({
            ...s.eventsPerSecond,
            median: s.eventsPerSecond.median / 1e6,
            min: s.eventsPerSecond.min / 1e6,
            max: s.eventsPerSecond.max / 1e6,
          }),
          formatSpread(s.cpuUsPerEvent, 3),
          formatNumber(s.gcMsPerMillionEvents.median),
          formatMiB(s.peakHeapBytes.median),
          formatMiB(s.peakRssBytes.median),
          `${formatNumber(ratio(s.eventsPerSecond.median, rate(FLOOR, s.handlers, s.page)), 2)}x`,
        ]),
    ),
  );
  console.log('  median (min-max) of the rounds; heap includes the pre-generated input\n');
  console.log(
    '  targets are judged on wall-clock rates; "by CPU" is the same ratio from CPU time per event\n',
  );
  console.log(
    formatTable(
      [
        { header: 'target', align: 'left' },
        { header: 'case', align: 'left' },
        { header: 'value' },
        { header: 'by CPU' },
        { header: 'bound' },
        { header: '' },
      ],
      targets.map((t) => [
        t.target,
        t.case,
        `${formatNumber(t.value, 2)}x`,
        `${formatNumber(t.cpuValue, 2)}x`,
        t.bound,
        t.met ? 'met' : 'MISSED',
      ]),
    ),
  );

  for (const variant of options.variants) {
    const run = runs.find((r) => r.variant === variant && r.result.profileFile);
    const file = run?.result.profileFile;
    if (!file) continue;
    const s = summarizeProfile(
      JSON.parse(readFileSync(file, 'utf8')) as Parameters<typeof summarizeProfile>[0],
      15,
    );
    console.log(
      `\nProfile of ${variant} (${run.handlers} handlers, measured windows, ${formatNumber(s.totalMs)} ms): ${file}`,
    );
    for (const h of s.self)
      console.log(
        `  self ${formatNumber(h.ms).padStart(7)} ms ${h.percent.toFixed(1).padStart(5)}%  ${h.where}`,
      );
    for (const h of s.inclusive)
      console.log(
        `  incl ${formatNumber(h.ms).padStart(7)} ms ${h.percent.toFixed(1).padStart(5)}%  ${h.where}`,
      );
  }

  const file = writeResultJson(out, 'routing', {
    benchmark: 'bench:routing',
    backend: BACKEND,
    measuredPath: {
      floor:
        'RxJS Subject -> Map lookup by type -> Object.assign into the event class -> async handler; page done when every handler promise settled',
      sagastream:
        'CheckpointTracker.track -> MessageRegistry.decode (class-transformer only for classes with its metadata) -> ProcessEngine.route (route table from @StartedBy/@On) -> KeyedWorkQueue (per-instance FIFO, concurrency 64) -> decorated handler method; page done at queue.whenIdle()',
      'sagastream-decide':
        'as sagastream, but the worker runs ProcessEngine.handle (full decision) on state kept in memory',
      nestjs:
        'Object.assign into the event class -> EventBus.publishAll -> one @Saga per handler (ofType -> map to command) -> CommandBus.execute -> no-op @CommandHandler',
      notMeasured:
        'store reads (subscription), checkpoint writes, process stream loads and appends, outbox relay',
    },
    environment: environment(),
    options: { ...options, events, warmup, peerEvents, nodeFlags, out: undefined },
    targets: TARGETS,
    summary,
    targetChecks: targets,
    runs,
  });
  console.log(`\nJSON: ${file}`);
  let code = failures > 0 ? 1 : 0;
  if (failures > 0) console.error(`${failures} run(s) failed.`);
  if (options.enforceTargets && targets.some((t) => !t.met)) code = 1;
  return code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
