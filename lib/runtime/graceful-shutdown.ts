/** Something that can stop gracefully: stop taking work, finish in-flight work, store checkpoints. */
export interface Stoppable {
  stop(): Promise<void>;
}

/** Options of {@link stopOnSignals}. */
export interface StopOnSignalsOptions {
  /** Signals that start the shutdown. @default ['SIGTERM', 'SIGINT'] */
  readonly signals?: readonly NodeJS.Signals[];
  /** Exit the process after stopping (code 0, or 1 when stopping failed). @default true */
  readonly exit?: boolean;
  /** Called once the shutdown is complete, before exiting. */
  readonly onStopped?: (error?: unknown) => void;
}

/**
 * Stops `target` gracefully on SIGTERM or SIGINT. A second signal while stopping exits
 * at once (an operator pressing Ctrl-C twice means it). Returns a function that removes
 * the handlers.
 *
 * @example
 * await runtime.start();
 * stopOnSignals(runtime);
 */
export function stopOnSignals(target: Stoppable, options: StopOnSignalsOptions = {}): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    target.stop().then(
      () => {
        options.onStopped?.();
        if (options.exit ?? true) process.exit(0);
      },
      (error: unknown) => {
        console.error(`[sagastream] stopping on ${signal} failed:`, error);
        options.onStopped?.(error);
        if (options.exit ?? true) process.exit(1);
      },
    );
  };
  for (const signal of signals) process.on(signal, handler);
  return () => {
    for (const signal of signals) process.off(signal, handler);
  };
}
