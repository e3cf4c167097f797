import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';

/** A worker (`samples/order-fulfillment/worker.ts`) running as a child process. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  /** Resolves with the exit code (or the signal) once the child has exited. */
  readonly exited: Promise<number | NodeJS.Signals | null>;
  /** Everything the child wrote to stderr so far. */
  stderr(): string;
}

/**
 * Starts the sample worker as a child process against `connectionString` and resolves
 * once it prints `worker ready`. `env` adds variables (e.g. `SAMPLE_TRANSIENT_FAILURE_RATE`,
 * `SAGASTREAM_CRASH_AT`); `script` runs another worker script with the same protocol.
 */
export async function startWorkerProcess(
  connectionString: string,
  env: Readonly<Record<string, string>> = {},
  readyTimeoutMs = 30_000,
  script = path.join(__dirname, 'worker.ts'),
): Promise<WorkerProcess> {
  const root = path.join(__dirname, '..', '..');
  const child = spawn(process.execPath, ['-r', path.join(root, 'spec', 'register.js'), script], {
    cwd: root,
    env: { ...process.env, ...env, EVENTSTORE_CONNECTION_STRING: connectionString },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err = (err + chunk).slice(-20_000);
  });
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`worker not ready after ${readyTimeoutMs} ms:\n${err}`)),
      readyTimeoutMs,
    );
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('worker ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`worker exited (${String(how)}) before it was ready:\n${err}`));
    });
  });
  return { child, exited, stderr: () => err };
}
