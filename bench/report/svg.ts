// A grouped bar chart as a standalone SVG string, written by hand (no dependencies).

/** One group of bars (e.g. one page size), a value per series. */
export interface BarGroup {
  readonly label: string;
  /** Series name -> value; missing or non-finite values draw no bar. */
  readonly values: Readonly<Record<string, number | undefined>>;
}

/** Options of {@link barChart}. */
export interface BarChartOptions {
  readonly title: string;
  readonly yLabel: string;
  readonly series: readonly string[];
  readonly groups: readonly BarGroup[];
  /** Logarithmic value axis (for values spanning orders of magnitude). @default false */
  readonly log?: boolean;
  /** Formats a value for the bar labels and the axis. */
  readonly format?: (value: number) => string;
}

const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#9c755f'];

const escape = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Compact numbers: 1234567 -> 1.23M, 4560 -> 4.56k. */
export function compact(value: number): string {
  const abs = Math.abs(value);
  if (abs === 0) return '0';
  const fixed = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
  if (abs >= 1e9) return `${fixed(value / 1e9)}G`;
  if (abs >= 1e6) return `${fixed(value / 1e6)}M`;
  if (abs >= 1e3) return `${fixed(value / 1e3)}k`;
  return fixed(value);
}

/** Renders the chart; the SVG scales with its container (viewBox). */
export function barChart(options: BarChartOptions): string {
  const format = options.format ?? compact;
  const { series, groups } = options;
  const values = groups.flatMap((g) =>
    series.map((s) => g.values[s]).filter((v): v is number => v !== undefined && Number.isFinite(v) && v > 0),
  );
  const max = values.length ? Math.max(...values) : 1;
  const min = values.length ? Math.min(...values) : 1;
  const log = options.log ?? false;
  const lo = log ? Math.pow(10, Math.floor(Math.log10(min))) : 0;
  const hi = log ? Math.pow(10, Math.ceil(Math.log10(max))) : niceCeil(max);
  const left = 70;
  const top = 40;
  const plotH = 260;
  const barW = 18;
  const gap = 24;
  const groupW = series.length * barW + gap;
  const plotW = Math.max(groups.length * groupW, 620, options.title.length * 7.5 - left);
  const legendH = 20 * Math.ceil(series.length / 4);
  const width = left + plotW + 20;
  const height = top + plotH + 50 + legendH;
  const y = (v: number): number => {
    const f = log ? (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : v / hi;
    return top + plotH - Math.max(0, Math.min(1, f)) * plotH;
  };
  const ticks = log
    ? Array.from({ length: Math.round(Math.log10(hi / lo)) + 1 }, (_, i) => lo * Math.pow(10, i))
    : Array.from({ length: 6 }, (_, i) => (hi * i) / 5);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">${escape(options.title)}</text>`,
    `<text transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(options.yLabel)}${log ? ' (log scale)' : ''}</text>`,
  ];
  for (const t of ticks) {
    const ty = y(log ? t : Math.max(t, 0));
    out.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${ty.toFixed(1)}" y2="${ty.toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${(ty + 4).toFixed(1)}" text-anchor="end">${escape(format(t))}</text>`,
    );
  }
  out.push(
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`,
    `<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`,
  );
  groups.forEach((g, gi) => {
    const x0 = left + gi * groupW + gap / 2;
    series.forEach((s, si) => {
      const v = g.values[s];
      if (v === undefined || !Number.isFinite(v) || v <= 0) return;
      const x = x0 + si * barW;
      const by = y(v);
      out.push(
        `<rect x="${x}" y="${by.toFixed(1)}" width="${barW - 2}" height="${(top + plotH - by).toFixed(1)}" fill="${COLORS[si % COLORS.length]}"><title>${escape(`${s} @ ${g.label}: ${format(v)}`)}</title></rect>`,
        `<text x="${x + (barW - 2) / 2}" y="${(by - 3).toFixed(1)}" text-anchor="middle" font-size="8">${escape(format(v))}</text>`,
      );
    });
    out.push(
      `<text x="${x0 + (series.length * barW) / 2}" y="${top + plotH + 16}" text-anchor="middle">${escape(g.label)}</text>`,
    );
  });
  series.forEach((s, si) => {
    const lx = left + (si % 4) * 160;
    const ly = top + plotH + 36 + Math.floor(si / 4) * 20;
    out.push(
      `<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${COLORS[si % COLORS.length]}"/>`,
      `<text x="${lx + 14}" y="${ly}">${escape(s)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function niceCeil(v: number): number {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** One line of a {@link percentileChart}: latency (any unit) at each percentile. */
export interface PercentileSeries {
  readonly name: string;
  /** [percentile 0-100, value] pairs, percentile ascending; non-positive values are skipped. */
  readonly points: readonly (readonly [number, number])[];
}

/** Options of {@link percentileChart}. */
export interface PercentileChartOptions {
  readonly title: string;
  readonly yLabel: string;
  readonly series: readonly PercentileSeries[];
  /** Formats a value for the axis. */
  readonly format?: (value: number) => string;
}

/**
 * A latency-by-percentile chart, the usual view of an HDR histogram: the x axis in "nines"
 * (0%, 90%, 99%, 99.9%, 99.99% equally spaced), the value axis logarithmic, one line per series.
 */
export function percentileChart(options: PercentileChartOptions): string {
  const format = options.format ?? compact;
  const nines = (p: number): number => -Math.log10(Math.max(1e-6, 1 - p / 100));
  const all = options.series.flatMap((s) => s.points.filter(([, v]) => Number.isFinite(v) && v > 0));
  const values = all.map(([, v]) => v);
  const lo = values.length ? Math.pow(10, Math.floor(Math.log10(Math.min(...values)))) : 1;
  const hi = values.length ? Math.pow(10, Math.ceil(Math.log10(Math.max(...values)))) : 10;
  const maxNines = Math.max(2, Math.ceil(Math.max(0, ...all.map(([p]) => nines(p)))));
  const left = 70;
  const top = 40;
  const plotH = 260;
  const plotW = Math.max(620, options.title.length * 7.5 - left);
  const legendH = 20 * Math.ceil(options.series.length / 4);
  const width = left + plotW + 20;
  const height = top + plotH + 50 + legendH;
  const x = (p: number): number => left + (Math.min(nines(p), maxNines) / maxNines) * plotW;
  const y = (v: number): number => {
    const f = (Math.log10(v) - Math.log10(lo)) / Math.max(1e-9, Math.log10(hi) - Math.log10(lo));
    return top + plotH - Math.max(0, Math.min(1, f)) * plotH;
  };
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">${escape(options.title)}</text>`,
    `<text transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(options.yLabel)} (log scale)</text>`,
  ];
  for (let t = lo; t <= hi * 1.0001; t *= 10) {
    const ty = y(t).toFixed(1);
    out.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${ty}" y2="${ty}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${(Number(ty) + 4).toFixed(1)}" text-anchor="end">${escape(format(t))}</text>`,
    );
  }
  for (let n = 0; n <= maxNines; n++) {
    const p = 100 * (1 - Math.pow(10, -n));
    const tx = x(p).toFixed(1);
    const label = n === 0 ? '0%' : `${Number(p.toFixed(n))}%`;
    out.push(
      `<line x1="${tx}" x2="${tx}" y1="${top}" y2="${top + plotH}" stroke="#eee"/>`,
      `<text x="${tx}" y="${top + plotH + 16}" text-anchor="middle">${escape(label)}</text>`,
    );
  }
  out.push(
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`,
    `<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`,
  );
  options.series.forEach((s, si) => {
    const points = s.points.filter(([, v]) => Number.isFinite(v) && v > 0);
    if (points.length === 0) return;
    const color = COLORS[si % COLORS.length] as string;
    out.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map(([p, v]) => `${x(p).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"><title>${escape(s.name)}</title></polyline>`,
    );
    const lx = left + (si % 4) * 160;
    const ly = top + plotH + 36 + Math.floor(si / 4) * 20;
    out.push(
      `<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${color}"/>`,
      `<text x="${lx + 14}" y="${ly}">${escape(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
