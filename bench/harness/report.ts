import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Spread } from './stats';

/** Where and on what a benchmark ran, recorded in every JSON result. */
export interface Environment {
  readonly node: string;
  readonly v8: string;
  readonly platform: string;
  readonly arch: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly totalMemoryBytes: number;
  /** Node flags of the driver itself. */
  readonly driverExecArgv: readonly string[];
  readonly startedAt: string;
}

/** This machine and Node. */
export function environment(): Environment {
  const list = cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: process.platform,
    arch: process.arch,
    cpus: list.length,
    cpuModel: list[0]?.model ?? 'unknown',
    totalMemoryBytes: totalmem(),
    driverExecArgv: process.execArgv,
    startedAt: new Date().toISOString(),
  };
}

/**
 * Writes `result` as pretty JSON to `<dir>/<name>-<timestamp>.json` (bigints as strings)
 * and returns the path.
 */
export function writeResultJson(dir: string, name: string, result: unknown): string {
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = join(dir, `${name}-${stamp}.json`);
  writeFileSync(
    file,
    `${JSON.stringify(result, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value), 2)}\n`,
  );
  return file;
}

/** A column of {@link formatTable}: a header, and right- or left-aligned cells. */
export interface Column {
  readonly header: string;
  readonly align?: 'left' | 'right';
}

/** A plain-text table with a header rule, columns padded to their widest cell. */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (text: string, i: number) =>
    columns[i]?.align === 'left' ? text.padEnd(widths[i] ?? 0) : text.padStart(widths[i] ?? 0);
  const line = (cells: readonly string[]) => cells.map(cell).join('  ').trimEnd();
  return [
    line(columns.map((c) => c.header)),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
  ].join('\n');
}

/** A number with a fixed count of significant-looking decimals: 12345 -> "12345", 1.234 -> "1.23". */
export function formatNumber(value: number, decimals?: number): string {
  if (!Number.isFinite(value)) return '-';
  const d = decimals ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);
  return value.toFixed(d);
}

/** `median (min-max)`, the way tables show a {@link Spread}. */
export function formatSpread(s: Spread, decimals?: number): string {
  if (s.n === 0) return '-';
  if (s.n === 1 || s.min === s.max) return formatNumber(s.median, decimals);
  return `${formatNumber(s.median, decimals)} (${formatNumber(s.min, decimals)}-${formatNumber(s.max, decimals)})`;
}

/** Bytes as MiB with one decimal. */
export function formatMiB(bytes: number): string {
  return Number.isFinite(bytes) ? (bytes / 1048576).toFixed(1) : '-';
}
