import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { until } from '../helpers/until';

const ROOT = join(__dirname, '..', '..');

/** A `sagastream` CLI child process with its output captured. */
export interface CliProcess {
  readonly child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | NodeJS.Signals>;
}

/**
 * Runs `sagastream <args>` from the TypeScript sources (so a stale build cannot
 * hide a change), as `bin/sagastream.js` does in a checkout without `dist/`.
 */
export function runCli(args: readonly string[]): CliProcess {
  const child = spawn(
    process.execPath,
    ['-r', join(ROOT, 'spec', 'register.js'), join(ROOT, 'lib', 'cli', 'main.ts'), ...args],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits for the connection string line the `eventstore` command prints once it accepts connections. */
export async function connectionStringOf(cli: CliProcess, timeoutMs = 15_000): Promise<string> {
  let exitedEarly = false;
  void cli.exited.then(() => (exitedEarly = true));
  return until(
    () => {
      if (exitedEarly) throw new Error(`sagastream exited early: ${cli.stderr()}`);
      return /^esdb:\/\/\S+$/m.exec(cli.stdout())?.[0];
    },
    timeoutMs,
    'the connection string',
    20,
  );
}

/** Resolves with the exit code, failing the test if the process outlives `timeoutMs`. */
export async function exitOf(cli: CliProcess, timeoutMs = 15_000): Promise<number | NodeJS.Signals> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`sagastream did not exit within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([cli.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
