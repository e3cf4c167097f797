// npm run bench:docs: writes docs/benchmarks.md and docs/benchmarks/*.svg from the newest
// bench/results/<suite>-*.json of each suite (routing, saga, store, recovery, scale, latency;
// the newest run-all-*.json for the timings). A suite without results gets a "not run yet" line. Nothing is measured
// here; run the suites (npm run bench) to refresh the numbers.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import { barChart, compact, percentileChart } from './svg';

const ROOT = join(__dirname, '..', '..');
/** `--results <dir>` and `--docs <dir>` (for trying the generator on other results) or the repository's. */
const argValue = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const RESULTS = resolve(argValue('--results') ?? join(ROOT, 'bench', 'results'));
const DOCS = resolve(argValue('--docs') ?? join(ROOT, 'docs'));
const CHARTS = join(DOCS, 'benchmarks');

interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}
type Json = Record<string, any>;
type Result = { file: string; data: Json };

/** How a section names its source: \`bench/results/<file>\`, wherever the generator read it. */
const sourceOf = (r: { file: string }): string => `bench/results/${basename(r.file)}`;

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
/**
 * The verdict of a target; for a missed one, also the hand-written floor's value on the same
 * back-end (same work, no framework) when it ran. When the floor misses the bound too, the bound
 * is beyond what the store work alone allows there, not only beyond the framework.
 */
const verdictWithFloor = (
  met: boolean | undefined,
  floor: Json | undefined,
  format: (v: number) => string,
): string =>
  met !== false || !floor
    ? verdict(met)
    : `**missed**; ${String(floor.variant)} itself: ${format(Number(floor.value))}${floor.met ? ' (meets it)' : ' (misses it too)'}`;

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

${runLine(d)}

Back-end ${d.backend}. ${o.events} measured events per page size (at least one whole page; NestJS CQRS: ${o.peerEvents}),
${o.warmup} warm-up events before each, 10 event types, ${o.instances} instances, seed ${o.seed}; ${o.rounds} interleaved
rounds, each variant in a fresh process (Node flags: \`${((o.nodeFlags ?? []) as string[]).join(' ')}\`).

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

Reproduce: \`${command}\` (source: \`${sourceOf(r)}\`; the full size: \`npm run bench:routing -- --full\`).
`;
}

// ---- saga

function sagaSection(r: { file: string; data: Json }): string {
  const d = r.data;
  const o = (d.options ?? {}) as Json;
  const summary = (d.summary ?? []) as Json[];
  const variants = [...new Set(summary.map((s) => s.variant as string))];
  const sizes = [...new Set(summary.map((s) => s.inFlight as number))].sort((a, b) => a - b);
  const custom = (o.script as string[] | undefined) ?? [];
  // The scale run is keyed by its saga count; its concurrency is the sagas actually in flight.
  const sizeLabel = (n: number): string => {
    const c = summary.find((s) => s.inFlight === n && s.concurrency !== undefined && s.concurrency !== n);
    return c ? `${compact(n)} sagas @${c.concurrency}` : `${n} in flight`;
  };
  const backendOf = (v: string): string | undefined =>
    summary.find((s) => s.variant === v)?.backend as string | undefined;
  const backendLines = variants.flatMap((v) => {
    const b = backendOf(v);
    return b ? [`- **${v}**: ${b}`] : [];
  });
  const command = `npm run bench:saga -- ${flags([
    ['rounds', o.rounds],
    ['sizes', o.sizes],
    ['orders', o.orders],
    ['warmup', o.warmup],
    ['seed', o.seed],
    ['variants', o.variants],
    ['scale', o.scale],
    ['memory', o.memory],
    ...custom.map((s): [string, unknown] => ['script', s]),
  ])}`;
  const path = writeChart(
    'saga.svg',
    barChart({
      title: `bench:saga: order sagas/s by sagas in flight (median of ${o.rounds ?? '?'} rounds)`,
      yLabel: 'sagas/s',
      series: variants,
      log: true,
      groups: sizes.map((n) => ({
        label: sizeLabel(n),
        values: Object.fromEntries(
          variants.map((v) => [
            v,
            summary.find((s) => s.variant === v && s.inFlight === n)?.sagasPerSecond?.median,
          ]),
        ),
      })),
    }),
  );
  // "x floor" compares with the hand-written floor on the same back-end: floor-a for the
  // in-process variants (A and the in-memory peer), floor for the durable ones.
  const inProcess = new Set(['sagastream-a', 'emmett', 'floor-a']);
  const rows = sizes.flatMap((n) =>
    variants.flatMap((v) => {
      const s = summary.find((x) => x.variant === v && x.inFlight === n);
      if (!s) return [];
      const floorName = inProcess.has(v) ? 'floor-a' : 'floor';
      const floor = summary.find((x) => x.variant === floorName && x.inFlight === n);
      return [
        [
          sizeLabel(n).replace(' in flight', ''),
          v,
          cell(s.sagasPerSecond),
          num(s.sagasPerSecondPerCore?.median),
          cell(s.clientCpuUsPerSaga),
          cell(s.serverCpuUsPerSaga),
          num(s.gcMs?.median),
          mib(s.peakHeapBytes?.median),
          num((s.latencyP50Us?.median ?? NaN) / 1000),
          num((s.latencyP99Us?.median ?? NaN) / 1000),
          ratioText(floor ? s.sagasPerSecond?.median / floor.sagasPerSecond?.median : undefined),
          String(s.lost ?? '-'),
          String(s.duplicates ?? '-'),
        ],
      ];
    }),
  );
  const t = (d.targets ?? {}) as Json;
  const ratios = ((d.ratios ?? []) as Json[]).map((x) => [
    String(x.inFlight),
    ratioText(x.throughput),
    `>= ${t.throughputRatioAtLeast ?? '?'}`,
    verdict(x.throughputMet),
    ratioText(x.clientCpu),
    `<= ${t.clientCpuRatioAtMost ?? '?'}`,
    verdict(x.clientCpuMet),
    ratioText(x.serverCpu),
  ]);
  const checks = ((d.targetChecks ?? []) as Json[]).map((c) => [
    String(c.check ?? '-'),
    String(c.inFlight ?? '-'),
    num(c.value),
    `${c.atMost ? '<=' : '>='} ${num(c.target)}`,
    verdictWithFloor(c.met, c.floor as Json | undefined, (v) => num(v)),
  ]);
  const notes = d.notes ?? d.peerNotes;
  const noteLines = Array.isArray(notes)
    ? (notes as unknown[]).map((n) => `- ${String(n)}`)
    : notes && typeof notes === 'object'
      ? Object.entries(notes as Json).map(([k, v]) => `- **${k}**: ${String(v)}`)
      : [];
  const budget = ((d.budgetFailures ?? []) as Json[]).length;
  return `## Order sagas end to end (\`bench:saga\`)

${runLine(d)}

Back-ends: ${d.backend ?? '?'}. ${o.orders ?? '?'} measured orders per run (+${o.warmup ?? '?'} warm-up), 10% compensations, seed ${o.seed ?? '?'};
${o.rounds ?? '?'} interleaved rounds of ${((o.variants ?? variants) as string[]).join(', ')}.
${custom.length ? `\nExtra variant scripts in this run: ${custom.map((s) => `\`${s}\``).join(', ')}.\n` : ''}
${backendLines.join('\n')}
${noteLines.length ? `\n${noteLines.join('\n')}\n` : ''}
![bench:saga](${path})

${table(['in flight', 'variant', 'sagas/s', 'sagas/s per core', 'client CPU us/saga', 'server CPU us/saga', 'GC ms', 'peak heap MiB', 'p50 ms', 'p99 ms', 'x floor', 'lost', 'dup'], rows, 2)}

Median (min-max) over the rounds; latency is closed-loop (placed to finished). "x floor" is against the
hand-written floor on the same back-end: \`floor-a\` (through the EventStore port on LocalEventStore in
process) for sagastream-a and emmett, \`floor\` (on @eventstore/db-client to the embedded server) for the rest.

${ratios.length ? table(['in flight', 'B sagas/s vs floor', 'target', '', 'client CPU/saga vs floor', 'target', '', 'server CPU/saga vs floor'], ratios) : 'No sagastream-vs-floor ratios in this run.'}
${checks.length ? `\n${table(['target', 'in flight', 'value', 'bound', ''], checks, 2)}\n` : ''}
Store-operation budget (bench/saga/budget.ts): ${budget === 0 ? 'within budget in every run.' : `**exceeded in ${budget} check(s)**.`}

Reproduce: \`${command}\` (source: \`${sourceOf(r)}\`).
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

${runLine(d)}

Back-ends: A = in process (LocalEventStore), B = the real client against the embedded server in its own process,
floor = the real client against a thin in-memory gRPC server.

![bench:store](${path})

${table(['workload', 'variant (back-end)', 'events/s', 'client CPU us/event', 'server CPU us/event', 'client GC ms', 'client heap MiB', 'server RSS MiB'], rows, 2)}

Median (min-max) over the rounds.

${table(['ratio (events/s)', 'workload', 'value', 'target', ''], ratioRows, 2)}

Reproduce: \`${command}\` (source: \`${sourceOf(r)}\`).
`;
}

// ---- latency

/** [percentile, value] pairs of an encoded HDR histogram, for the percentile chart. */
function percentilePoints(encoded: string | undefined): [number, number][] {
  if (!encoded) return [];
  const h = decodeFromCompressedBase64(encoded);
  if (h.totalCount === 0) return [];
  const points: [number, number][] = [];
  const last = Math.min(4, Math.log10(h.totalCount));
  for (let k = 0; k <= last * 8; k++) {
    const p = 100 * (1 - Math.pow(10, -k / 8));
    points.push([p, h.getValueAtPercentile(p)]);
  }
  points.push([100 * (1 - Math.pow(10, -last)), h.maxValue]);
  return points;
}

const usText = (v: number | undefined): string =>
  v === undefined || !Number.isFinite(v) ? '-' : v >= 10_000 ? `${num(v / 1000, 1)} ms` : `${num(v, 0)} us`;

function latencySection(r: Result): string {
  const d = r.data;
  const o = (d.options ?? {}) as Json;
  const vs = (d.variants ?? []) as Json[];
  const names = [...new Set(vs.map((v) => String(v.name)))];
  const loads = [...new Set(vs.map((v) => Number(v.load)))].sort((a, b) => a - b);
  const sustainable = (d.sustainable ?? {}) as Record<string, Json>;
  const given = Object.entries(sustainable)
    .filter(([, s]) => s.source === 'flag')
    .map(([n, s]) => `${n}=${s.sagasPerSecond}`);
  const command = `npm run bench:latency -- ${flags([
    ['rounds', o.rounds],
    ['loads', o.loads],
    ['duration', o.duration],
    ['variants', o.variants],
    ['arrivals', o.arrivals],
    ['warmup', o.warmup],
    ['calibrate-ms', o.calibrateMs],
    ['seed', o.seed],
    ['memory', o.memory],
    ['sustainable', given],
  ])}`;
  const charts = loads.map((load) => {
    const path = writeChart(
      `latency-${Math.round(load * 100)}.svg`,
      percentileChart({
        title: `bench:latency at ${Math.round(load * 100)}% of each variant's sustainable rate: saga latency by percentile (all rounds)`,
        yLabel: 'latency, us',
        series: vs
          .filter((v) => Number(v.load) === load)
          .map((v) => ({
            name: `${v.name} (${v.backend}, ${num(v.ratePerSecond)}/s)`,
            points: percentilePoints(v.histogram as string | undefined),
          })),
      }),
    );
    return `![bench:latency at ${Math.round(load * 100)}%](${path})`;
  });
  const rows = loads.flatMap((load) =>
    names.flatMap((name) => {
      const v = vs.find((x) => x.name === name && Number(x.load) === load);
      if (!v) return [];
      const p = (v.percentilesUs ?? {}) as Json;
      return [
        [
          `${Math.round(load * 100)}%`,
          `${name} (${v.backend ?? '?'})`,
          num(v.ratePerSecond),
          usText(p.p50?.median),
          usText(p.p90?.median),
          usText(p.p99?.median),
          usText(p.p999?.median),
          usText(p.max?.median),
          `${usText(v.firstDecisionUs?.p50?.median)} / ${usText(v.firstDecisionUs?.p99?.median)}`,
          num(v.clientCpuUsPerSaga?.median),
          num(v.serverCpuUsPerSaga?.median),
          num(v.gcMs?.median),
          mib(v.peakHeapBytes?.median),
          String(v.unfinished ?? '-'),
        ],
      ];
    }),
  );
  const sustainRows = Object.entries(sustainable).map(([name, s]) => [
    name,
    num(s.sagasPerSecond),
    String(s.source ?? '-'),
    num(s.clientCpuUsPerSaga),
    num(s.serverCpuUsPerSaga),
  ]);
  const targets = ((d.targets ?? []) as Json[]).map((t) => {
    const format = (v: number) => (String(t.bound ?? '').endsWith('x') ? ratioText(v) : usText(v));
    return [
      String(t.target),
      `${Math.round(Number(t.load) * 100)}%`,
      format(t.value as number),
      String(t.bound ?? '-'),
      verdictWithFloor(t.met as boolean | undefined, t.floor as Json | undefined, format),
    ];
  });
  const failures = ((d.failures ?? []) as Json[]).map((f) => `${f.variant}${f.load ? ` @${f.load}` : ''}`);
  return `## Latency under open-loop load (\`bench:latency\`)

${runLine(d)}

${d.endpoint ? `${String(d.endpoint).replace(/^from/, 'Latency runs from')}. ` : ''}Arrivals: ${o.arrivals ?? 'poisson'}, at fixed
intended times computed in advance (no coordinated omission), at ${loads.map((l) => `${Math.round(l * 100)}%`).join('/')} of each
variant's sustainable rate (closed loop at ${o.calibrateInFlight ?? 64} in flight, below), ${o.duration ?? '?'} ms per run,
${o.rounds ?? '?'} interleaved rounds, a fresh server and variant process per run. Restate: ${d.restate ?? 'not run'}.
${failures.length ? `\nFailed runs: ${failures.join(', ')}.\n` : ''}
${charts.join('\n\n')}

${table(['load', 'variant (back-end)', 'sagas/s', 'p50', 'p90', 'p99', 'p99.9', 'max', 'first hop p50 / p99', 'client CPU us/saga', 'server CPU us/saga', 'GC ms', 'peak heap MiB', 'unfinished'], rows, 2)}

Median over the rounds of each run's percentile. "First hop": intended time to the saga's first decision
acknowledged (one delivery and one decision of the ~17 chained store round trips of a whole saga). Client
CPU includes the generator's polling; the closed-loop CPU below is the clean one.

${table(['variant', 'sustainable sagas/s', 'source', 'client CPU us/saga', 'server CPU us/saga'], sustainRows)}

${table(['target', 'load', 'value', 'bound', ''], targets, 2)}

Reproduce: \`${command}\` (source: \`${sourceOf(r)}\`; the full size: \`npm run bench:latency -- --full\`).
`;
}

// ---- recovery

/** The parts of a suite run by case (recovery, scale): options, targets, results, variants. */
function caseSuite(r: Result) {
  const d = r.data;
  const vs = (d.variants ?? []) as Json[];
  return {
    d,
    o: (d.options ?? {}) as Json,
    t: (d.targets ?? {}) as Json,
    res: (d.results ?? {}) as Json,
    vs,
    names: [...new Set(vs.map((v) => String(v.name)))],
    cases: [...new Set(vs.map((v) => String(v.case?.name)))],
  };
}

function recoverySection(r: Result): string {
  const { d, o, t, res, vs, names, cases } = caseSuite(r);
  const casesFlag = Array.isArray(o.cases)
    ? (o.cases as Json[]).map((c) => `${c.historyEvents}:${c.inFlight}`)
    : undefined;
  const command = `npm run bench:recovery -- ${flags([
    ['rounds', o.rounds],
    ['cases', casesFlag],
    ['variants', o.variants],
    ['seed', o.seed],
  ])}`;
  const m = (v: Json | undefined, key: string): Spread | undefined => v?.metrics?.[key] as Spread | undefined;
  const path = writeChart(
    'recovery.svg',
    barChart({
      title: `bench:recovery: catch-up events/s after a SIGKILL, by case (history + in flight; median of ${o.rounds ?? '?'} rounds)`,
      yLabel: 'events/s',
      series: names,
      groups: cases.map((c) => ({
        label: c,
        values: Object.fromEntries(
          names.map((n) => [
            n,
            m(
              vs.find((v) => v.name === n && v.case?.name === c),
              'catchUpEventsPerSecond',
            )?.median,
          ]),
        ),
      })),
    }),
  );
  const rows = vs.map((v) => [
    String(v.case?.name ?? '-'),
    String(v.name),
    num(m(v, 'tailEvents')?.median, 0),
    cell(m(v, 'catchUpEventsPerSecond')),
    num(m(v, 'clientCpuUsPerTailEvent')?.median),
    num(m(v, 'serverCpuUsPerTailEvent')?.median),
    num(m(v, 'firstCommandMs')?.median),
    num(m(v, 'gcMs')?.median),
    mib(m(v, 'peakHeapGrowthBytes')?.median),
    mib(m(v, 'heapAfterCatchUpGrowthBytes')?.median),
    mib(m(v, 'peakRssBytes')?.median),
  ]);
  const targets = [
    ...((res.catchUp ?? []) as Json[]).map((x) => [
      `catch-up ${x.variant} vs floor, ${x.case}`,
      ratioText(x.overFloorCatchUp),
      `>= ${t.catchUpRatioAtLeast ?? '?'}x`,
      verdict(x.met),
    ]),
    ...((res.firstCommand ?? []) as Json[]).map((x) => [
      `first command after connect, ${x.case}`,
      `${num(x.firstCommandMsMax)} ms (max)`,
      `<= ${t.firstCommandMsAtMost ?? '?'} ms`,
      verdict(x.met),
    ]),
    ...((res.heapPerInFlightSaga ?? []) as Json[]).map((x) => [
      `heap per in-flight saga, ${x.from} -> ${x.to}`,
      `${num(x.peakHeapBytesPerUnit)} B`,
      `<= ${t.heapBytesPerInFlightSagaAtMost ?? '?'} B`,
      verdict(x.met),
    ]),
    ...((res.heapPerHistoryEvent ?? []) as Json[]).map((x) => [
      `heap per history event, ${x.from} -> ${x.to}`,
      `${num(x.peakHeapBytesPerUnit, 2)} B`,
      `<= ${t.heapBytesPerHistoryEventAtMost ?? '?'} B`,
      verdict(x.met),
    ]),
  ];
  return `## Recovery after a crash (\`bench:recovery\`)

${runLine(d)}

Back-end ${d.backend ?? '?'}. A worker killed with SIGKILL mid-burst is restarted on the crash state (case = history
events + sagas in flight); the floor is a raw catch-up read from the stored checkpoints over the same client and server.
${o.rounds ?? '?'} interleaved rounds of ${names.join(', ')}.

![bench:recovery](${path})

${table(['case', 'variant', 'tail events', 'catch-up events/s', 'client CPU us/event', 'server CPU us/event', 'first command ms', 'GC ms', 'peak heap +MiB', 'retained +MiB', 'RSS MiB'], rows, 2)}

Median (min-max) over the rounds; heap growth over the heap after GC before connecting.

${table(['target', 'value', 'bound', ''], targets)}

Reproduce: \`${command}\` (source: \`${sourceOf(r)}\`; the full size: \`npm run bench:recovery -- --full\`).
`;
}

// ---- scale

function scaleSection(r: Result): string {
  const { d, o, t, res, vs, names, cases } = caseSuite(r);
  const liveCases = [...new Set(vs.filter((v) => v.case?.kind !== 'long').map((v) => String(v.case?.name)))];
  const command = `npm run bench:scale -- ${flags([
    ['rounds', o.rounds],
    ['sizes', o.sizes],
    ['steps', o.steps],
    ['long-instances', o.longInstances],
    ['long-steps', o.longSteps],
    ['variants', o.variants],
    ['seed', o.seed],
  ])}`;
  const m = (v: Json | undefined, key: string): Spread | undefined => v?.metrics?.[key] as Spread | undefined;
  const path = writeChart(
    'scale.svg',
    barChart({
      title: `bench:scale: process steps/s by live instances (median of ${o.rounds ?? '?'} rounds)`,
      yLabel: 'steps/s',
      series: names,
      log: true,
      groups: liveCases.map((c) => ({
        label: c,
        values: Object.fromEntries(
          names.map((n) => [
            n,
            m(
              vs.find((v) => v.name === n && v.case?.name === c),
              'stepsPerSecond',
            )?.median,
          ]),
        ),
      })),
    }),
  );
  const rows = cases.flatMap((c) =>
    names.flatMap((n) => {
      const v = vs.find((x) => x.name === n && x.case?.name === c);
      if (!v) return [];
      return [
        [
          c,
          n,
          cell(m(v, 'stepsPerSecond')),
          num(m(v, 'cpuUsPerStep')?.median),
          num(m(v, 'gcMs')?.median),
          mib(m(v, 'peakHeapBytes')?.median),
          num(m(v, 'heapPerLiveInstanceBytes')?.median, 0),
          num(m(v, 'heapAfterCompletionPerInstanceBytes')?.median, 0),
        ],
      ];
    }),
  );
  const back = (res.backToBaseline ?? {}) as Json;
  const long = (res.longProcess ?? {}) as Json;
  const targets = [
    ...((res.throughput ?? []) as Json[]).map((x) => [
      `steps/s ${x.to} / ${x.from}`,
      `${ratioText(x.sagastreamRatio)} (by CPU per step ${ratioText(x.sagastreamCpuRatio)})`,
      `>= ${t.throughputLargestOverSmallestAtLeast ?? '?'}x`,
      verdict(x.met),
    ]),
    ...((res.memory ?? []) as Json[]).map((x) => [
      `runtime heap per live instance, ${x.case}`,
      `${num(x.runtimeHeapBytesPerLiveInstance, 0)} B`,
      `<= ${t.runtimeHeapBytesPerLiveInstanceAtMost ?? '?'} B`,
      verdict(x.perLiveMet),
    ]),
    ...(res.backToBaseline
      ? [
          [
            `heap back to baseline after completion, ${back.from} -> ${back.to}`,
            `${num(back.retainedBytesPerCompletedInstance, 1)} B per completed instance`,
            `<= ${t.runtimeHeapBytesRetainedPerCompletedInstanceAtMost ?? '?'} B`,
            verdict(back.met),
          ],
        ]
      : []),
    ...(res.longProcess
      ? [
          [
            `step 100 / step 1, ${long.case}`,
            `${ratioText(long.step100OverStep1)} (${num(long.step100CostUs)} / ${num(long.step1CostUs)} us)`,
            `<= ${t.step100OverStep1AtMost ?? '?'}x`,
            verdict(long.met),
          ],
        ]
      : []),
  ];
  return `## Many live instances (\`bench:scale\`)

${runLine(d)}

Back-end ${d.backend ?? 'A'}. ${o.rounds ?? '?'} interleaved rounds of ${names.join(', ')}; each case in a fresh process.

![bench:scale](${path})

${table(['case', 'variant', 'steps/s', 'CPU us/step', 'GC ms', 'peak heap MiB', 'B per live instance', 'B per instance after completion'], rows, 2)}

Median (min-max) over the rounds; heap after GC over the heap before any instance.

${table(['target', 'value', 'bound', ''], targets)}

Reproduce: \`${command}\` (source: \`${sourceOf(r)}\`; the full size: \`npm run bench:scale -- --full\`).
`;
}

// ---- page

/** The machine a result ran on, from its recorded environment. */
function machineOf(d: Json): string {
  const env = d.environment as Json | undefined;
  const legacy = d.machine as Json | undefined;
  if (env?.cpuModel) {
    return `${env.cpuModel}, ${env.cpus} cores, ${(Number(env.totalMemoryBytes) / 2 ** 30).toFixed(1)} GiB memory, ${env.platform}/${env.arch}, Node ${env.node} (V8 ${env.v8})`;
  }
  return legacy
    ? `${legacy.cpuModel}, ${legacy.cpus} cores, ${legacy.platform}, Node ${legacy.node}`
    : 'unknown';
}

/** "Machine: ...; run at ...; load average ..." for the top of a section. */
function runLine(d: Json): string {
  const at = (d.environment?.startedAt ?? d.startedAt) as string | undefined;
  const load = (d.loadAverage ?? d.loadAverageBefore) as number[] | undefined;
  return `Machine: ${machineOf(d)}. Run ${at ?? '(time unknown)'}${
    Array.isArray(load) ? `, load average ${load.map((l) => l.toFixed(1)).join(' / ')} (1/5/15 min)` : ''
  }.`;
}

interface SectionSpec {
  readonly suite: string;
  readonly title: string;
  readonly command: string;
  readonly render: (r: Result) => string;
}

const SECTIONS: readonly SectionSpec[] = [
  {
    suite: 'routing',
    title: 'Routing (`bench:routing`)',
    command: 'npm run bench:routing',
    render: routingSection,
  },
  {
    suite: 'saga',
    title: 'Order sagas end to end (`bench:saga`)',
    command: 'npm run bench:saga',
    render: sagaSection,
  },
  { suite: 'store', title: 'Store (`bench:store`)', command: 'npm run bench:store', render: storeSection },
  {
    suite: 'recovery',
    title: 'Recovery after a crash (`bench:recovery`)',
    command: 'npm run bench:recovery',
    render: recoverySection,
  },
  {
    suite: 'scale',
    title: 'Many live instances (`bench:scale`)',
    command: 'npm run bench:scale',
    render: scaleSection,
  },
  {
    suite: 'latency',
    title: 'Latency under open-loop load (`bench:latency`)',
    command: 'npm run bench:latency',
    render: latencySection,
  },
];

/** A section, or a "not run yet" line, or (for a result this generator cannot read) why not. */
function section(spec: SectionSpec, r: Result | undefined): string {
  if (!r) return `## ${spec.title}\n\nNot run yet: \`${spec.command}\`.\n`;
  try {
    return spec.render(r);
  } catch (error) {
    console.error(`${spec.suite}: ${String(error)}`);
    return `## ${spec.title}\n\nThe newest result (\`${sourceOf(r)}\`) could not be rendered (${
      error instanceof Error ? error.message : String(error)
    }); run \`${spec.command}\` again.\n`;
  }
}

function runAllLine(r: Result | undefined): string {
  if (!r) return '';
  const suites = (r.data.suites ?? []) as Json[];
  const parts = suites.map(
    (s) => `${s.suite} ${num(s.minutes, 1)} min${s.status === 'ok' ? '' : ` (${String(s.status)})`}`,
  );
  return `- **Last \`npm run bench${r.data.size === 'full' ? ' -- --full' : ''}\`** (${
    r.data.environment?.startedAt ?? '?'
  }): ${parts.join(', ')}; total ${num(r.data.totalMinutes, 1)} min.\n`;
}

function main(): void {
  const results = new Map(SECTIONS.map((s) => [s.suite, latest(s.suite)]));
  const present = [...results.values()].filter((r): r is Result => r !== undefined);
  const dates = present
    .map((r) => (r.data.environment?.startedAt ?? r.data.startedAt) as string | undefined)
    .filter((x): x is string => !!x)
    .sort();
  const missing = SECTIONS.filter((s) => !results.get(s.suite)).map((s) => `\`bench:${s.suite}\``);
  // Results that recorded the whole environment describe the machine best.
  const described = present.filter((r) => r.data.environment);
  const machines = [...new Set((described.length ? described : present).map((r) => machineOf(r.data)))];
  const page = `# Benchmarks

<!-- Generated by bench/report/generate-docs.ts (npm run bench:docs) from bench/results/*.json; do not edit by hand. -->

Where sagastream stands against a hand-written floor doing the same work and against its peers, measured
side by side in one run on one machine. Absolute numbers on a shared machine are noisy; the ratios, measured
in the same run with the variants interleaved, are what holds. Harness rules: each variant runs in a fresh
process, interleaved with the others, at least 3-5 rounds, median (min-max) reported, warm-up excluded, the
same seeded input for every variant (see \`bench/harness\`). Each section names the machine and the time of
its run, its targets with met/missed, and the one command that reproduces it.

- **Machine${machines.length > 1 ? 's' : ''}**: ${machines.length ? machines.join('; ') : 'unknown'}
- **Results from**: ${dates[0] ?? '-'}${dates.length > 1 ? ` to ${dates[dates.length - 1]}` : ''}
- **All suites**: \`npm run bench\` (small sizes, under 15 minutes on 2 cores) or \`npm run bench -- --full\`; then
  \`npm run bench:docs\` regenerates this page and its charts from the newest JSON of each suite.
${runAllLine(latest('run-all'))}${missing.length ? `\nNot run yet: ${missing.join(', ')}.\n` : ''}
${SECTIONS.map((s) => section(s, results.get(s.suite))).join('\n')}`;
  mkdirSync(DOCS, { recursive: true });
  writeFileSync(join(DOCS, 'benchmarks.md'), page.replace(/\n{3,}/g, '\n\n'));
  console.log(`wrote ${relative(ROOT, join(DOCS, 'benchmarks.md'))} and ${relative(ROOT, CHARTS)}/*.svg`);
}

main();
