import type { FromChild, ToChild } from './ipc';

/** What a variant's main function gets besides its input. */
export interface ChildContext {
  /** Asks the driver something (see {@link ChildRunOptions.onRequest}); resolves with its answer. */
  request<T = unknown>(kind: string, payload?: unknown): Promise<T>;
}

function send(message: FromChild): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error('Not started by a benchmark driver: no IPC channel.'));
    process.send(message, undefined, undefined, (error) => (error ? reject(error) : resolve()));
  });
}

/**
 * Runs `main` as a benchmark child: waits for the driver's input, runs, sends the
 * result (or the error) and exits. Call it once at the bottom of a variant script.
 *
 * @example
 * runAsChild(async (input: { orders: number }, ctx) => {
 *   const before = await ctx.request('server-cpu');
 *   ...
 *   return { sagasPerSecond };
 * });
 */
export function runAsChild<I, R>(main: (input: I, ctx: ChildContext) => Promise<R>): void {
  let nextId = 1;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const ctx: ChildContext = {
    request: <T>(kind: string, payload?: unknown) =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++;
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
        send({ type: 'request', id, kind, payload }).catch(reject);
      }),
  };
  process.on('message', (message: ToChild) => {
    if (message.type === 'response') {
      const pending = waiting.get(message.id);
      waiting.delete(message.id);
      if (message.error !== undefined) pending?.reject(new Error(message.error));
      else pending?.resolve(message.value);
      return;
    }
    main(message.input as I, ctx).then(
      async (result) => {
        await send({ type: 'result', result });
        process.exit(0);
      },
      async (error: unknown) => {
        const e = error instanceof Error ? error : new Error(String(error));
        await send({
          type: 'error',
          message: e.message,
          ...(e.stack === undefined ? {} : { stack: e.stack }),
        }).catch(() => undefined);
        process.exit(1);
      },
    );
  });
}

// ts-node installs source-map-support, whose Error.prepareStackTrace maps every stack
// that anything formats (the gRPC client formats some on each failed read). Production
// runs compiled JavaScript without it, so benchmark children drop it unless asked.
if (process.env.BENCH_SOURCE_MAPS !== '1')
  delete (Error as { prepareStackTrace?: unknown }).prepareStackTrace;
