import { fork } from 'node:child_process';
import { type FromChild, TS_REGISTER, type ToChild } from './ipc';

/** Options of {@link runChild}. */
export interface ChildRunOptions {
  /** The variant script (TypeScript runs through ts-node with SWC). */
  readonly script: string;
  /** Sent to the child's `runAsChild` main function. */
  readonly input: unknown;
  /** Extra Node flags, recorded in the result (e.g. `--max-old-space-size=512`, `--cpu-prof`). */
  readonly nodeFlags?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Answers the child's `ctx.request(kind, payload)`. */
  readonly onRequest?: (kind: string, payload: unknown) => unknown;
  /** Kills the child (SIGKILL) and rejects after this long. @default 300000 */
  readonly timeoutMs?: number;
  readonly cwd?: string;
}

/** A child's result and how it was run. */
export interface ChildRun<R> {
  readonly result: R;
  /** Node flags the child ran with (`process.execArgv` as given to fork). */
  readonly execArgv: readonly string[];
  readonly wallMs: number;
}

/** Keeps the last `max` characters written to a stream, for error reports. */
function tail(max: number): { push(chunk: Buffer): void; text(): string } {
  let text = '';
  return {
    push(chunk) {
      text = (text + chunk.toString()).slice(-max);
    },
    text: () => text,
  };
}

/**
 * Runs one variant in a fresh Node process and resolves with what it sent back.
 * Rejects (with the child's stderr tail) when it fails, exits early or times out.
 */
export function runChild<R>(options: ChildRunOptions): Promise<ChildRun<R>> {
  const execArgv = ['-r', TS_REGISTER, ...(options.nodeFlags ?? [])];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = fork(options.script, [], {
      execArgv,
      env: { ...process.env, ...options.env },
      cwd: options.cwd ?? process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    const output = tail(8000);
    child.stdout?.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk));
    let settled = false;
    const finish = (error: Error | undefined, result?: R) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        if (child.exitCode === null) child.kill('SIGKILL');
        const more = output.text().trim();
        error.message += more ? `\n--- child output (tail) ---\n${more}` : '';
        reject(error);
      } else resolve({ result: result as R, execArgv, wallMs: performance.now() - started });
    };
    const timeoutMs = options.timeoutMs ?? 300_000;
    const timer = setTimeout(
      () => finish(new Error(`${options.script} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.on('message', (message: FromChild) => {
      switch (message.type) {
        case 'result':
          finish(undefined, message.result as R);
          return;
        case 'error':
          finish(new Error(`${options.script} failed: ${message.stack ?? message.message}`));
          return;
        case 'request': {
          const reply = (m: ToChild) => {
            if (child.connected) child.send(m);
          };
          Promise.resolve()
            .then(() => (options.onRequest ? options.onRequest(message.kind, message.payload) : undefined))
            .then(
              (value) => reply({ type: 'response', id: message.id, value }),
              (error: unknown) => reply({ type: 'response', id: message.id, error: String(error) }),
            );
          return;
        }
      }
    });
    child.on('error', (error) => finish(error));
    child.on('exit', (code, signal) => {
      // A result sent just before exit has already settled the promise.
      setImmediate(() =>
        finish(new Error(`${options.script} exited (code ${code}, signal ${signal}) without a result`)),
      );
    });
    child.send({ type: 'input', input: options.input } satisfies ToChild);
  });
}

/** One run of the interleaved schedule. */
export interface ScheduledRun<V, C> {
  readonly variant: V;
  readonly case: C;
  /** 1-based. */
  readonly round: number;
}

/**
 * The interleaved schedule: every round visits every case, and within a case runs each
 * variant once, rotating the variant order from round to round (A-B, B-A, ...) so that
 * neither variant always runs first on a warm or cold machine.
 */
export function interleave<V, C>(
  variants: readonly V[],
  cases: readonly C[],
  rounds: number,
): ScheduledRun<V, C>[] {
  const runs: ScheduledRun<V, C>[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const c of cases) {
      for (let i = 0; i < variants.length; i++) {
        const variant = variants[(i + round - 1) % variants.length] as V;
        runs.push({ variant, case: c, round });
      }
    }
  }
  return runs;
}
