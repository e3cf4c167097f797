/**
 * The messages a benchmark driver and its child processes exchange over Node's IPC
 * channel. The driver sends the input once; the child may ask the driver things (e.g.
 * "snapshot the server's CPU now") and ends with its result or an error.
 */
export type ToChild =
  | { readonly type: 'input'; readonly input: unknown }
  | { readonly type: 'response'; readonly id: number; readonly value?: unknown; readonly error?: string };

export type FromChild =
  | { readonly type: 'request'; readonly id: number; readonly kind: string; readonly payload?: unknown }
  | { readonly type: 'result'; readonly result: unknown }
  | { readonly type: 'error'; readonly message: string; readonly stack?: string };

/** The path that makes a forked Node process run TypeScript (ts-node with SWC, decorator metadata kept). */
export const TS_REGISTER = require.resolve('../../spec/register.js');
