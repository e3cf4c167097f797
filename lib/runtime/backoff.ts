/** Exponential backoff with full jitter, shared by the outbox relay and conflict retries. */
export interface BackoffOptions {
  /** Delay before the first retry, in ms. @default 50 */
  readonly initialDelayMs?: number;
  /** Upper bound of any delay, in ms. @default 5000 */
  readonly maxDelayMs?: number;
  /** Growth factor per attempt. @default 2 */
  readonly multiplier?: number;
  /** Source of randomness in [0, 1); injectable so tests are deterministic. @default Math.random */
  readonly random?: () => number;
}

/**
 * Delay before retry number `attempt` (1 = first retry). "Full jitter" (a uniform draw
 * in [cap/2, cap]) spreads retries of many instances that failed together, so they do
 * not hammer a recovering service in lockstep.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialDelayMs ?? 50;
  const max = options.maxDelayMs ?? 5000;
  const multiplier = options.multiplier ?? 2;
  const random = options.random ?? Math.random;
  const cap = Math.min(max, initial * multiplier ** Math.max(0, attempt - 1));
  return Math.round(cap / 2 + (random() * cap) / 2);
}
