/** Median, min and max of repeated measurements: what every benchmark table reports. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** How many values went in. */
  readonly n: number;
}

/** The spread of `values` (NaN fields when empty). Non-finite values are dropped. */
export function spread(values: readonly number[]): Spread {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const mid = Math.floor(n / 2);
  const median =
    n % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[n - 1] as number, n };
}

/**
 * Applies {@link spread} to every numeric field of a list of flat records, so a
 * variant's repeated runs become one record of spreads.
 */
export function spreadOf<K extends string>(
  records: readonly Readonly<Record<K, number>>[],
  keys: readonly K[],
): Record<K, Spread> {
  const out = {} as Record<K, Spread>;
  for (const key of keys) out[key] = spread(records.map((r) => r[key]));
  return out;
}

/** `a / b`, or NaN when either is missing or `b` is 0. */
export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN;
}
