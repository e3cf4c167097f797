// npm run bench [-- --full] [--only store,saga,routing] [--no-docs]
// Runs every benchmark suite in turn, each in its own process with its small default size
// (or the bigger sizes with --full), then regenerates docs/benchmarks.md from the newest
// JSON result of each suite (bench/report/generate-docs.ts). Default total: under 15 minutes.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

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
    small: ['--rounds', '3', '--duration', '500', '--warm-up', '200', '--global-warm-up', '500'],
    full: ['--rounds', '5', '--duration', '2000', '--warm-up', '500', '--catch-up', '100000'],
  },
  {
    name: 'saga',
    script: 'bench/saga/run.ts',
    small: ['--rounds', '3', '--sizes', '64,256,1024', '--orders', '400'],
    full: ['--rounds', '5', '--sizes', '64,256,1024', '--orders', '4000', '--warmup', '500'],
  },
  {
    name: 'routing',
    script: 'bench/routing/run.ts',
    small: [],
    full: ['--full'],
  },
];

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
  const suites = SUITES.filter((s) => !only || only.includes(s.name));
  const started = performance.now();
  const outcomes: string[] = [];
  let code = 0;
  for (const suite of suites) {
    const suiteArgs = full ? suite.full : suite.small;
    console.log(
      `\n=== bench:${suite.name}: node -r ./spec/register.js ${suite.script} ${suiteArgs.join(' ')}\n`,
    );
    const t = performance.now();
    const exit = await run([suite.script, ...suiteArgs]);
    const minutes = (performance.now() - t) / 60_000;
    outcomes.push(`${suite.name.padEnd(8)} exit ${exit}  ${minutes.toFixed(1)} min`);
    if (exit !== 0) code = 1;
  }
  if (!args.includes('--no-docs')) {
    console.log('\n=== docs/benchmarks.md');
    if ((await run(['bench/report/generate-docs.ts'])) !== 0) code = 1;
  }
  console.log(`\n${outcomes.join('\n')}\ntotal ${((performance.now() - started) / 60_000).toFixed(1)} min`);
  return code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
