// npm run bench:docs: writes docs/benchmarks.md and docs/benchmarks/*.svg from the newest
// bench/results/<suite>-*.json of each suite (store, saga, routing). Nothing is measured
// here; run the suites (npm run bench) to refresh the numbers.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { barChart, compact } from './svg';

const ROOT = join(__dirname, '..', '..');
const RESULTS = join(ROOT, 'bench', 'results');
const DOCS = join(ROOT, 'docs');
const CHARTS = join(DOCS, 'benchmarks');

interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}
type Json = Record<string, any>;

/** The newest result file of a suite (names carry an ISO timestamp, so they sort by time). */
function latest(suite: string): { file: string; data: Json } | undefined {
  if (!existsSync(RESULTS)) return undefined;
  const files = readdirSync(RESULTS)
    .filter((f) => f.startsWith(`${suite}-`) && f.endsWith('.json'))
    .sort();
  const name = files[files.length - 1];
  if (!name) return undefined;
  const file = join(RESULTS, name);
  return { file, data: JSON.parse(readFileSync(file, 'utf8')) as Json };
}

const num = (v: number | undefined | null, d?: number): string => {
  if (v === undefined || v === null || !Number.isFinite(v)) return '-';
  const digits = d ?? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2);
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
};
const cell = (s: Spread | undefined | null, scale = 1, d?: number): string =>
  !s || !Number.isFinite(s.median)
    ? '-'
    : s.min === s.max
      ? num(s.median * scale, d)
      : `${num(s.median * scale, d)} (${num(s.min * scale, d)}-${num(s.max * scale, d)})`;
const mib = (bytes: number | undefined): string =>
  bytes === undefined || !Number.isFinite(bytes) ? '-' : (bytes / 1048576).toFixed(0);
const ratioText = (v: number | undefined): string =>
  v === undefined || !Number.isFinite(v) ? '-' : `${num(v, 2)}x`;
const verdict = (met: boolean | undefined): string =>
  met === undefined ? '-' : met ? '**met**' : '**missed**';

function table(header: readonly string[], rows: readonly (readonly string[])[], right = 1): string {
  const align = header.map((_, i) => (i < right ? ':--' : '--:'));
  return [header, align, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

function writeChart(name: string, svg: string): string {
  mkdirSync(CHARTS, { recursive: true });
  writeFileSync(join(CHARTS, name), svg);
  return `benchmarks/${name}`;
}

/** `--name value` pairs, skipping defaults we cannot know and empty values. */
function flags(pairs: readonly [string, unknown][]): string {
  return pairs
    .filter(([, v]) => v !== undefined && v !== false && v !== '' && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => (v === true ? `--${k}` : `--${k} ${Array.isArray(v) ? v.join(',') : String(v)}`))
    .join(' ');
}

// ---- routing

function routingSection(r: { file: string; data: Json }): string {
  const d = r.data;
  const o = d.options as Json;
  const summary = d.summary as Json[];
  const variants = [...new Set(summary.map((s) => s.variant as string))];
  const handlers = [...new Set(summary.map((s) => s.handlers as number))].sort((a, b) => a - b);
  const find = (v: string, h: number, p: number) =>
    summary.find((s) => s.variant === v && s.handlers === h && s.page === p);
  const command = `npm run bench:routing -- ${flags([
    ['rounds', o.rounds],
    ['events', o.events],
    ['warmup', o.warmup],
    ['pages', o.pages],
    ['handlers', o.handlers],
    ['variants', o.variants],
    ['peer-events', o.peerEvents],
    ['peer-pages', o.peerPages],
    ['instances', o.instances],
    ['seed', o.seed],
  ])}`;
  const rows = [...summary]
    .sort((a, b) => a.handlers - b.handlers || a.page - b.page)
    .map((s) => {
      const floor = find('floor', s.handlers, s.page);
      const peer = find('nestjs', s.handlers, s.page);
      return [
        String(s.handlers),
        String(s.page),
        s.variant,
        cell(s.eventsPerSecond, 1e-6, 3),
        cell(s.cpuUsPerEvent, 1, 3),
        num(s.gcMsPerMillionEvents?.median),
        mib(s.peakHeapBytes?.median),
        ratioText(floor ? s.eventsPerSecond.median / floor.eventsPerSecond.median : undefined),
        ratioText(peer ? s.eventsPerSecond.median / peer.eventsPerSecond.median : undefined),
      ];
    });
  const charts = handlers.map((h) => {
    const pages = [...new Set(summary.filter((s) => s.handlers === h).map((s) => s.page as number))].sort(
      (a, b) => a - b,
    );
    const path = writeChart(
      `routing-${h}-handlers.svg`,
      barChart({
        title: `bench:routing, ${h} handlers: events/s by delivery page size (median of ${o.rounds} rounds)`,
        yLabel: 'events/s',
        series: variants,
        log: true,
        groups: pages.map((p) => ({
          label: `${compact(p)}-event pages`,
          values: Object.fromEntries(variants.map((v) => [v, find(v, h, p)?.eventsPerSecond.median])),
        })),
      }),
    );
    return `![bench:routing, ${h} handlers](${path})`;
  });
  const checks = (d.targetChecks as Json[]).map((t) => [
    t.target,
    t.case,
    ratioText(t.value),
    ratioText(t.cpuValue),
    t.bound,
    verdict(t.met),
  ]);
  const paths = d.measuredPath as Record<string, string>;
  return `## Routing (\`bench:routing\`)

Back-end ${d.backend}. ${o.events} measured events per page size (at least one whole page; NestJS CQRS: ${o.peerEvents}),
${o.warmup} warm-up events before each, 10 event types, ${o.instances} instances, seed ${o.seed}; ${o.rounds} interleaved
rounds, each variant in a fresh process (Node flags: \`${(o.nodeFlags as string[]).join(' ')}\`). Run ${d.environment.startedAt}.

What each variant runs in the measured window:

${Object.entries(paths)
  .map(([k, v]) => `- **${k}**: ${v}`)
  .join('\n')}

${charts.join('\n\n')}

${table(['handlers', 'page', 'variant', 'M events/s', 'CPU us/event', 'GC ms per 1M events', 'peak heap MiB', 'x floor', 'x NestJS'], rows, 3)}

Median (min-max) over the rounds. Peak heap includes the pre-generated input.

${table(['target', 'case', 'value (wall)', 'value (CPU)', 'bound', ''], checks, 2)}

The verdict is judged on wall-clock events/s; the CPU column is the same ratio from CPU time per event,
steadier on a shared machine.

Reproduce: \`${command}\` (source: \`${relative(ROOT, r.file)}\`; the full size: \`npm run bench:routing -- --full\`).
`;
}

// ---- saga

function sagaSection(r: { file: string; data: Json }): string {
  const d = r.data;
  const o = d.options as Json;
  const summary = d.summary as Json[];
  const variants = [...new Set(summary.map((s) => s.variant as string))];
  const sizes = [...new Set(summary.map((s) => s.inFlight as number))].sort((a, b) => a - b);
  const custom = (o.script as string[] | undefined) ?? [];
  const command = `npm run bench:saga -- ${flags([
    ['rounds', o.rounds],
    ['sizes', o.sizes],
    ['orders', o.orders],
    ['warmup', o.warmup],
    ['seed', o.seed],
    ['variants', o.variants],
    ['memory', o.memory],
    ...custom.map((s): [string, unknown] => ['script', s]),
  ])}`;
  const path = writeChart(
    'saga.svg',
    barChart({
      title: `bench:saga: order sagas/s by sagas in flight (median of ${o.rounds} rounds)`,
      yLabel: 'sagas/s',
      series: variants,
      groups: sizes.map((n) => ({
        label: `${n} in flight`,
        values: Object.fromEntries(
          variants.map((v) => [
            v,
            summary.find((s) => s.variant === v && s.inFlight === n)?.sagasPerSecond.median,
          ]),
        ),
      })),
    }),
  );
  const rows = sizes.flatMap((n) =>
    variants.flatMap((v) => {
      const s = summary.find((x) => x.variant === v && x.inFlight === n);
      if (!s) return [];
      const floor = summary.find((x) => x.variant === 'floor' && x.inFlight === n);
      return [
        [
          String(n),
          v,
          cell(s.sagasPerSecond),
          cell(s.clientCpuUsPerSaga),
          cell(s.serverCpuUsPerSaga),
          num(s.gcMs?.median),
          mib(s.peakHeapBytes?.median),
          num((s.latencyP50Us?.median ?? NaN) / 1000),
          num((s.latencyP99Us?.median ?? NaN) / 1000),
          ratioText(floor ? s.sagasPerSecond.median / floor.sagasPerSecond.median : undefined),
          String(s.lost),
          String(s.duplicates),
        ],
      ];
    }),
  );
  const t = d.targets as Json;
  const ratios = (d.ratios as Json[]).map((x) => [
    String(x.inFlight),
    ratioText(x.throughput),
    `>= ${t.throughputRatioAtLeast}`,
    verdict(x.throughputMet),
    ratioText(x.clientCpu),
    `<= ${t.clientCpuRatioAtMost}`,
    verdict(x.clientCpuMet),
    ratioText(x.serverCpu),
  ]);
  const budget = (d.budgetFailures as Json[]).length;
  return `## Order sagas end to end (\`bench:saga\`)

Back-end ${d.backend}. ${o.orders} measured orders per run (+${o.warmup} warm-up), 10% compensations, seed ${o.seed};
${o.rounds} interleaved rounds of ${(o.variants as string[]).join(', ')}. Run ${d.environment.startedAt}.
${custom.length ? `\nExtra variant scripts in this run: ${custom.map((s) => `\`${s}\``).join(', ')}.\n` : ''}
![bench:saga](${path})

${table(['in flight', 'variant', 'sagas/s', 'client CPU us/saga', 'server CPU us/saga', 'GC ms', 'peak heap MiB', 'p50 ms', 'p99 ms', 'x floor', 'lost', 'dup'], rows, 2)}

Median (min-max) over the rounds; latency is closed-loop (placed to finished).

${table(['in flight', 'sagas/s vs floor', 'target', '', 'client CPU/saga vs floor', 'target', '', 'server CPU/saga vs floor'], ratios)}

Store-operation budget (bench/saga/budget.ts): ${budget === 0 ? 'within budget in every run.' : `**exceeded in ${budget} check(s)**.`}

Reproduce: \`${command}\` (source: \`${relative(ROOT, r.file)}\`).
`;
}

// ---- store

function storeSection(r: { file: string; data: Json }): string {
  const d = r.data;
  const s = d.settings as Json;
  const variants = d.variants as Json[];
  const workloads = [...new Set(variants.flatMap((v) => Object.keys(v.summary as Json)))];
  const command = `npm run bench:store -- ${flags([
    ['rounds', s.rounds],
    ['duration', s.duration],
    ['warm-up', s.warmUp],
    ['global-warm-up', s.globalWarmUp],
    ['catch-up', s.catchUp],
    ['short-streams', s.shortStreams],
    ['workloads', s.workloads],
    ['variants', variants.map((v) => v.variant)],
  ])}`;
  const path = writeChart(
    'store.svg',
    barChart({
      title: `bench:store: events/s by workload (median of ${s.rounds} rounds)`,
      yLabel: 'events/s',
      series: variants.map((v) => `${v.variant} (${v.backend})`),
      log: true,
      groups: workloads.map((w) => ({
        label: w.replace(/-subscription$/, ''),
        values: Object.fromEntries(
          variants.map((v) => [`${v.variant} (${v.backend})`, (v.summary as Json)[w]?.eventsPerSec?.median]),
        ),
      })),
    }),
  );
  const rows = workloads.flatMap((w) =>
    variants.map((v) => {
      const m = (v.summary as Json)[w] ?? {};
      return [
        w,
        `${v.variant} (${v.backend})`,
        cell(m.eventsPerSec),
        cell(m.clientCpuMicrosPerEvent),
        cell(m.serverCpuMicrosPerEvent),
        num(m.clientGcMs?.median),
        num(m.clientPeakHeapMB?.median, 0),
        num(m.serverPeakRssMB?.median, 0),
      ];
    }),
  );
  const ratioRows = (d.ratios as Json[]).flatMap((x) =>
    Object.entries(x.workloads as Record<string, Spread>).map(([w, sp]) => {
      const bound = Number(String(x.target).replace(/[^0-9.]/g, ''));
      return [x.label, w, cell(sp), x.target, verdict(sp.median >= bound)];
    }),
  );
  return `## Store (\`bench:store\`)

Back-ends: A = in process (LocalEventStore), B = the real client against the embedded server in its own process,
floor = the real client against a thin in-memory gRPC server. Run ${d.startedAt}.

![bench:store](${path})

${table(['workload', 'variant (back-end)', 'events/s', 'client CPU us/event', 'server CPU us/event', 'client GC ms', 'client heap MiB', 'server RSS MiB'], rows, 2)}

Median (min-max) over the rounds.

${table(['ratio (events/s)', 'workload', 'value', 'target', ''], ratioRows, 2)}

Reproduce: \`${command}\` (source: \`${relative(ROOT, r.file)}\`).
`;
}

// ---- page

function machine(results: readonly ({ data: Json } | undefined)[]): string {
  const env = results.map((r) => r?.data.environment as Json | undefined).find((e) => e);
  const legacy = results.map((r) => r?.data.machine as Json | undefined).find((m) => m);
  if (env) {
    return `${env.cpuModel}, ${env.cpus} cores, ${(env.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB memory, ${env.platform}/${env.arch}, Node ${env.node} (V8 ${env.v8})`;
  }
  return legacy
    ? `${legacy.cpuModel}, ${legacy.cpus} cores, ${legacy.platform}, Node ${legacy.node}`
    : 'unknown';
}

function main(): void {
  const routing = latest('routing');
  const saga = latest('saga');
  const store = latest('store');
  const dates = [routing, saga, store]
    .map((r) => (r?.data.environment?.startedAt ?? r?.data.startedAt) as string | undefined)
    .filter((x): x is string => !!x)
    .sort();
  const sections = [
    routing
      ? routingSection(routing)
      : '## Routing (`bench:routing`)\n\nNo result yet: run `npm run bench:routing`.\n',
    saga
      ? sagaSection(saga)
      : '## Order sagas end to end (`bench:saga`)\n\nNo result yet: run `npm run bench:saga`.\n',
    store ? storeSection(store) : '## Store (`bench:store`)\n\nNo result yet: run `npm run bench:store`.\n',
  ];
  const page = `# Benchmarks

<!-- Generated by bench/report/generate-docs.ts (npm run bench:docs) from bench/results/*.json; do not edit by hand. -->

Where sagastream stands against a hand-written floor doing the same work and against its peers, measured
side by side in one run on one machine. Absolute numbers on a shared machine are noisy; the ratios, measured
in the same run with the variants interleaved, are what holds. Harness rules: each variant runs in a fresh
process, interleaved with the others, at least 3-5 rounds, median (min-max) reported, warm-up excluded, the
same seeded input for every variant (see \`bench/harness\`).

- **Machine**: ${machine([routing, saga, store])}
- **Results from**: ${dates[0] ?? '-'}${dates.length > 1 ? ` to ${dates[dates.length - 1]}` : ''}
- **All suites**: \`npm run bench\` (small sizes, under 15 minutes) or \`npm run bench -- --full\`; then
  \`npm run bench:docs\` regenerates this page and its charts from the newest JSON of each suite.

Not covered yet (issue 5): \`bench:recovery\`, \`bench:latency\`, \`bench:scale\`, and the Emmett and Restate peers of \`bench:saga\`.

${sections.join('\n')}`;
  mkdirSync(DOCS, { recursive: true });
  writeFileSync(join(DOCS, 'benchmarks.md'), page);
  console.log(`wrote ${relative(ROOT, join(DOCS, 'benchmarks.md'))} and ${relative(ROOT, CHARTS)}/*.svg`);
}

main();
