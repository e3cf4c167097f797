// Summarises a .cpuprofile: the functions with the most self time and, for the project's
// own files, inclusive time (time spent in a function and everything it called).
// Usage: node -r ./spec/register.js bench/harness/profile-summary.ts <file.cpuprofile> [top=30]
import { readFileSync } from 'node:fs';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** One row of a summary: a function (`name file:line`) and its time in ms and percent. */
export interface HotSpot {
  readonly where: string;
  readonly ms: number;
  readonly percent: number;
}

/** Self-time and inclusive-time rankings of a profile. */
export interface ProfileSummary {
  readonly totalMs: number;
  readonly self: readonly HotSpot[];
  /** Inclusive time of functions in files whose path contains `ownPrefix`. */
  readonly inclusive: readonly HotSpot[];
  /** Self time grouped by file. */
  readonly byFile: readonly HotSpot[];
}

function label(frame: CallFrame): string {
  const url = frame.url
    .replace(/^file:\/\//, '')
    .replace(/.*node_modules\//, '~/')
    .replace(`${process.cwd()}/`, '');
  return `${frame.functionName || '(anonymous)'} ${url}:${frame.lineNumber + 1}`;
}

/** Ranks where a profile's time went. `ownPrefix` selects the project files for inclusive time. */
export function summarizeProfile(profile: Profile, top = 30, ownPrefix = '/lib/'): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const node = byId.get(id);
    if (!node) return;
    const where = label(node.callFrame);
    self.set(where, (self.get(where) ?? 0) + dt);
    const file = where.slice(where.indexOf(' ') + 1).replace(/:\d+$/, '');
    byFile.set(file, (byFile.get(file) ?? 0) + dt);
    const seen = new Set<string>();
    for (let n: ProfileNode | undefined = node; n; n = byId.get(parent.get(n.id) ?? -1)) {
      if (!n.callFrame.url.includes(ownPrefix) || n.callFrame.url.includes('node_modules')) continue;
      const w = label(n.callFrame);
      if (seen.has(w)) continue;
      seen.add(w);
      inclusive.set(w, (inclusive.get(w) ?? 0) + dt);
    }
  });
  const rank = (m: Map<string, number>): HotSpot[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([where, ms]) => ({ where, ms, percent: (100 * ms) / total }));
  return { totalMs: total, self: rank(self), inclusive: rank(inclusive), byFile: rank(byFile) };
}

function print(title: string, rows: readonly HotSpot[]): void {
  console.log(`\n${title}`);
  for (const r of rows)
    console.log(`${r.ms.toFixed(0).padStart(8)} ms ${r.percent.toFixed(1).padStart(5)}%  ${r.where}`);
}

if (require.main === module) {
  const [file, top = '30', prefix = '/lib/'] = process.argv.slice(2);
  if (!file) {
    console.error('usage: profile-summary.ts <file.cpuprofile> [top] [own path prefix]');
    process.exit(2);
  }
  const summary = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(top), prefix);
  console.log(`total ${summary.totalMs.toFixed(0)} ms`);
  print('self time', summary.self);
  print('self time by file', summary.byFile);
  print(`inclusive time, files under ${prefix}`, summary.inclusive);
}
