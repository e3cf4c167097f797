/** Where the runtime reports what it did not expect: decoding failures, retries, quarantines. */
export interface Logger {
  info(this: void, message: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(this: void, message: string, fields?: Readonly<Record<string, unknown>>): void;
  error(this: void, message: string, fields?: Readonly<Record<string, unknown>>): void;
}

const render = (fields?: Readonly<Record<string, unknown>>): string =>
  fields ? ` ${JSON.stringify(fields, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}` : '';

/** Writes warnings and errors to stderr; info is dropped. The runtime's default. */
export const consoleLogger: Logger = {
  info: () => undefined,
  warn: (message, fields) => console.warn(`[sagastream] ${message}${render(fields)}`),
  error: (message, fields) => console.error(`[sagastream] ${message}${render(fields)}`),
};

/** Writes every level to stderr (workers use it so an operator sees progress). */
export const verboseLogger: Logger = {
  info: (message, fields) => console.error(`[sagastream] ${message}${render(fields)}`),
  warn: consoleLogger.warn,
  error: consoleLogger.error,
};

/** Drops everything (tests that assert through the runtime's reports instead). */
export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
