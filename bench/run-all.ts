// npm run bench [-- --full] [--only store,saga] [--skip scale] [--no-docs]
// Runs every benchmark suite in turn, each in its own process with its small default size
// (or the bigger sizes with --full), then regenerates docs/benchmarks.md from the newest
// JSON result of each suite (bench/report/generate-docs.ts). A suite whose script is not
// there yet is reported as "not present" and skipped. Per-suite and total minutes are
// printed and written to bench/results/run-all-<timestamp>.json. Default total: under
// 15 minutes on 2 cores.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { environment, writeResultJson } from './harness/report';

interface Suite {
  readonly name: string;
  readonly script: string;
  /** Arguments for the default (small) run. */
  readonly small: readonly string[];
  /** Arguments for `--full`. */
  readonly full: readonly string[];
}

const ROOT = join(__dirname, '..');
const REGISTER = join(ROOT, 'spec', 'register.js');

/** The suites and their sizes; each suite's own defaults apply where no argument is given. */
export const SUITES: readonly Suite[] = [
  {
    name: 'store',
    script: 'bench/store/run.ts',
    small: ['--rounds', '3', '--duration', '500', '--warm-up', '1000', '--global-warm-up', '500'],
    full: ['--rounds', '5', '--duration', '2000', '--warm-up', '1500', '--catch-up', '100000'],
  },
  {
    name: 'saga',
    script: 'bench/saga/run.ts',
    small: ['--rounds', '2', '--sizes', '1,1024', '--orders', '400', '--latency-orders', '50'],
    full: ['--rounds', '5', '--sizes', '64,256,1024', '--orders', '4000', '--warmup', '500'],
  },
  {
    name: 'routing',
    script: 'bench/routing/run.ts',
    small: [],
    full: ['--full'],
  },
  {
    name: 'recovery',
    script: 'bench/recovery/run.ts',
    small: [],
    full: ['--full'],
  },
  {
    name: 'scale',
    script: 'bench/scale/run.ts',
    small: [],
    full: ['--full'],
  },
  {
    name: 'latency',
    script: 'bench/latency/run.ts',
    // Child start-up (and restate-server's) dominates a latency run, so the small size keeps
    // the rounds, shortens each open-loop window and runs only the loads the targets are set
    // at (50% and 80%; 20% is in --full). That leaves room for floor-a, the bound of back-end
    // A, whose runs are the shortest (in process): 20 runs + 5 calibrations instead of 24 + 4.
    small: [
      '--rounds',
      '2',
      '--loads',
      '0.5,0.8',
      '--duration',
      '1000',
      '--calibrate-ms',
      '1500',
      '--warmup',
      '200',
    ],
    full: ['--full'],
  },
];

/** How one suite went, as printed and recorded. */
interface SuiteOutcome {
  readonly suite: string;
  readonly command: string;
  readonly status: 'ok' | 'failed' | 'not present';
  readonly exitCode?: number;
  readonly minutes: number;
}

function run(args: readonly string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', REGISTER, ...args], { cwd: ROOT, stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    child.on('error', () => resolve(1));
  });
}

function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const full = args.includes('--full');
  const only = option(args, '--only')?.split(',');
  const skip = option(args, '--skip')?.split(',') ?? [];
  for (const name of [...(only ?? []), ...skip])
    if (!SUITES.some((s) => s.name === name))
      throw new Error(`Unknown suite '${name}' (known: ${SUITES.map((s) => s.name).join(', ')}).`);
  const suites = SUITES.filter((s) => (!only || only.includes(s.name)) && !skip.includes(s.name));
  const env = environment();
  const loadBefore = loadavg();
  const started = performance.now();
  const outcomes: SuiteOutcome[] = [];
  let code = 0;
  for (const suite of suites) {
    const suiteArgs = full ? suite.full : suite.small;
    const command = `node -r ./spec/register.js ${suite.script} ${suiteArgs.join(' ')}`.trim();
    if (!existsSync(join(ROOT, suite.script))) {
      console.log(`\n=== bench:${suite.name}: not present (${suite.script} does not exist yet)`);
      outcomes.push({ suite: suite.name, command, status: 'not present', minutes: 0 });
      continue;
    }
    console.log(`\n=== bench:${suite.name}: ${command}\n`);
    const t = performance.now();
    const exit = await run([suite.script, ...suiteArgs]);
    const minutes = (performance.now() - t) / 60_000;
    outcomes.push({
      suite: suite.name,
      command,
      status: exit === 0 ? 'ok' : 'failed',
      exitCode: exit,
      minutes,
    });
    if (exit !== 0) code = 1;
  }
  const totalMinutes = (performance.now() - started) / 60_000;
  const file = writeResultJson(join(ROOT, 'bench', 'results'), 'run-all', {
    suite: 'run-all',
    environment: env,
    size: full ? 'full' : 'small',
    args,
    loadAverageBefore: loadBefore,
    loadAverageAfter: loadavg(),
    suites: outcomes,
    totalMinutes,
    exitCode: code,
  });
  // After the JSON: the page names the last run's suite times, so this run's must be on disk.
  if (!args.includes('--no-docs')) {
    console.log('\n=== docs/benchmarks.md');
    const t = performance.now();
    const exit = await run(['bench/report/generate-docs.ts']);
    outcomes.push({
      suite: 'docs',
      command: 'node -r ./spec/register.js bench/report/generate-docs.ts',
      status: exit === 0 ? 'ok' : 'failed',
      exitCode: exit,
      minutes: (performance.now() - t) / 60_000,
    });
    if (exit !== 0) code = 1;
  }
  console.log('');
  for (const o of outcomes) {
    const status =
      o.status === 'ok' ? 'ok' : o.status === 'failed' ? `FAILED (exit ${o.exitCode})` : o.status;
    console.log(`${o.suite.padEnd(9)} ${o.minutes.toFixed(1).padStart(5)} min  ${status}`);
  }
  console.log(`${'total'.padEnd(9)} ${totalMinutes.toFixed(1).padStart(5)} min`);
  console.log(`\n${file}`);
  return code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
