import { v5 as uuidv5 } from 'uuid';
import type { ProcessSample } from '../harness/process-meter';

/** One case: `live` keeps `instances` alive and steps them round-robin; `long` steps a few far. */
export type ScaleCase =
  | { readonly kind: 'live'; readonly instances: number; readonly steps: number }
  | { readonly kind: 'long'; readonly instances: number; readonly steps: number };

/** What the driver sends each variant child. */
export interface ScaleChildInput {
  readonly variant: string;
  readonly case: ScaleCase;
  readonly seed: number;
  /** Inputs appended ahead of those handled, at most (the shop's side never floods the worker). */
  readonly lead: number;
  readonly profile?: { readonly dir: string; readonly name: string };
}

/** Heap in use after a full GC at each point of a `live` run, bytes. */
export interface HeapPoints {
  /** Before any instance. */
  readonly baseline: number;
  /** Every instance started, none stepped. */
  readonly live: number;
  /** Every instance stepped. */
  readonly stepped: number;
  /** Every instance completed, the runtime still running. */
  readonly done: number;
  /** Then the runtime stopped and dropped (the store kept): `done - released` is what the runtime held. */
  readonly released: number;
}

/** What a variant reports for one run. */
export interface ScaleChildResult {
  readonly variant: string;
  readonly case: ScaleCase;
  /** `live`: inputs handled per second while `instances` are live (the step phase). */
  readonly stepsPerSecond: number;
  readonly startsPerSecond: number;
  readonly closesPerSecond: number;
  /** The step phase in this process. */
  readonly steps: ProcessSample;
  readonly heap: HeapPoints;
  /** Events appended to the store (inputs and process events) at the `live` point and at the end. */
  readonly eventsAtLive: number;
  readonly eventsAtEnd: number;
  /** `long`: mean CPU microseconds per step over windows of steps, keyed by the window's first step. */
  readonly stepCostUs: Readonly<Record<string, number>>;
  readonly details: Readonly<Record<string, unknown>>;
}

const NAMESPACE = '3b0f5f7e-1c1d-4c6a-9a55-7d1e0c2a4b90';

/** The instance ids of a case: deterministic, uuid-sized. */
export function instanceIds(count: number, seed: number): string[] {
  return Array.from({ length: count }, (_, i) => uuidv5(`${seed}/${i}`, NAMESPACE));
}

/** A seeded reading value (mulberry32 of the step). */
export function readingValue(seed: number, step: number): number {
  let t = (seed + step * 0x6d2b79f5) >>> 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) % 1000;
}

/** `global.gc` twice (with --expose-gc), then the heap in use. */
export function settledHeap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

/** Windows of steps the `long` case reports: [first, last] inclusive, 1-based. */
export function stepWindows(steps: number): [number, number][] {
  const windows: [number, number][] = [[1, Math.min(10, steps)]];
  for (let at = 100; at <= steps; at += 100) windows.push([at - 9, Math.min(at + 10, steps)]);
  return windows;
}
