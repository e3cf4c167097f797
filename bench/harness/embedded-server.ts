import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TS_REGISTER } from './ipc';
import type { CpuSnapshot } from './process-meter';

/** Options of {@link startServerProcess}. */
export interface ServerProcessOptions {
  /**
   * Durable log directory (fsynced appends, as in production). Omit for a fresh temporary
   * directory that {@link ServerProcess.stop} removes. Ignored with `memory`.
   */
  readonly dbPath?: string;
  /** In-memory log instead of the durable one. @default false */
  readonly memory?: boolean;
  /** Extra Node flags for the server process. */
  readonly nodeFlags?: readonly string[];
  /** @default 30000 */
  readonly startTimeoutMs?: number;
}

/** The embedded server running in its own process. */
export interface ServerProcess {
  readonly connectionString: string;
  /** `durable` or `memory`, for the report. */
  readonly mode: 'durable' | 'memory';
  readonly execArgv: readonly string[];
  /** The server process's CPU and memory now. */
  sample(): Promise<CpuSnapshot>;
  /** Closes the server, waits for its process to exit and removes a temporary directory. */
  stop(): Promise<void>;
}

/**
 * Starts `startEventStore({ port: 0, dbPath | memory })` in a child process, so that its
 * CPU is measured apart from the client's (`sample()` before and after a window).
 *
 * @example
 * const server = await startServerProcess();
 * const before = await server.sample();
 * // ... run the client against server.connectionString ...
 * const serverCpuUs = cpuBetween(before, await server.sample());
 * await server.stop();
 */
export async function startServerProcess(options: ServerProcessOptions = {}): Promise<ServerProcess> {
  const memory = options.memory ?? false;
  const tempDir =
    !memory && options.dbPath === undefined ? mkdtempSync(join(tmpdir(), 'sagastream-bench-')) : undefined;
  const dbPath = options.dbPath ?? (tempDir ? join(tempDir, 'db') : undefined);
  const execArgv = ['-r', TS_REGISTER, ...(options.nodeFlags ?? [])];
  const child: ChildProcess = fork(require.resolve('./embedded-server-child'), [], {
    execArgv,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const removeTemp = () => {
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  };

  type Reply =
    | { type: 'ready'; connectionString: string }
    | { type: 'failed'; message: string }
    | { type: 'sample'; id: number; snapshot: CpuSnapshot }
    | { type: 'stopped' };
  const samples = new Map<number, (s: CpuSnapshot) => void>();
  let nextId = 1;
  let stopped: (() => void) | undefined;
  const connectionString = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('The embedded server process did not start in time.'));
    }, options.startTimeoutMs ?? 30_000);
    child.on('message', (reply: Reply) => {
      if (reply.type === 'ready') {
        clearTimeout(timer);
        resolve(reply.connectionString);
      } else if (reply.type === 'failed') {
        clearTimeout(timer);
        reject(new Error(`The embedded server failed to start: ${reply.message}`));
      } else if (reply.type === 'sample') {
        samples.get(reply.id)?.(reply.snapshot);
        samples.delete(reply.id);
      } else stopped?.();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`The embedded server process exited with code ${code}.`));
    });
    child.send({ type: 'start', memory, ...(dbPath === undefined ? {} : { dbPath }) });
  }).catch((error: unknown) => {
    removeTemp();
    throw error;
  });

  return {
    connectionString,
    mode: memory ? 'memory' : 'durable',
    execArgv,
    sample: () =>
      new Promise<CpuSnapshot>((resolve, reject) => {
        if (!child.connected) return reject(new Error('The embedded server process is gone.'));
        const id = nextId++;
        samples.set(id, resolve);
        child.send({ type: 'sample', id });
      }),
    stop: async () => {
      if (child.exitCode === null && child.connected) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, 10_000);
          stopped = () => {
            clearTimeout(timer);
            resolve();
          };
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.send({ type: 'stop' });
        });
      }
      removeTemp();
    },
  };
}
