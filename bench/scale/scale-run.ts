import type { ChildContext } from '../harness/child';
import { ProcessMeter, type ProcessSample } from '../harness/process-meter';
import { startCpuProfile } from '../harness/profiler';
import {
  type HeapPoints,
  type ScaleChildInput,
  type ScaleChildResult,
  instanceIds,
  readingValue,
  settledHeap,
  stepWindows,
} from './workload';

/** What a variant offers the common runner: feed inputs, tell how far it got. */
export interface MeterSystem {
  open(id: string): Promise<void> | void;
  read(id: string, value: number): Promise<void> | void;
  close(id: string): Promise<void> | void;
  /** Inputs whose effects are done (appended, or applied for the floor). */
  handled(): number;
  /** Resolves once every input fed so far is handled. */
  idle(): Promise<void>;
  /** Events appended to a store so far (0 without one). */
  appended(): number;
  details(): Record<string, unknown>;
  /** Stops the runtime and drops every reference to it (the store stays), for the last heap point. */
  release?(): Promise<void>;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Runs a case on a system: `live` opens every instance, steps them round-robin (measured),
 * closes them, taking the heap after GC at each point; `long` steps a few instances far and
 * times each step.
 */
export async function runScale(
  input: ScaleChildInput,
  _ctx: ChildContext,
  system: MeterSystem,
): Promise<ScaleChildResult> {
  const c = input.case;
  const ids = instanceIds(c.instances, input.seed);
  let fed = 0;
  const feed = async (f: () => Promise<void> | void) => {
    await f();
    fed++;
    while (fed - system.handled() > input.lead) await tick();
  };
  if (c.kind === 'long') {
    // Warm-up on other instances through every step, so the JIT has seen each path
    // (snapshots included) before step 1 is timed.
    const warm = instanceIds(Math.min(20, c.instances), input.seed + 1);
    for (const id of warm) await feed(() => system.open(id));
    for (let step = 1; step <= c.steps; step++)
      for (const id of warm) await feed(() => system.read(id, readingValue(input.seed, step)));
    for (const id of warm) await feed(() => system.close(id));
    await system.idle();
  }
  const baseline = settledHeap();
  const phase = async (each: (id: string, i: number) => Promise<void> | void, count = ids.length) => {
    const started = performance.now();
    for (let i = 0; i < count; i++) await feed(() => each(ids[i % ids.length] as string, i));
    await system.idle();
    return (count * 1000) / (performance.now() - started);
  };
  const startsPerSecond = await phase((id) => system.open(id));
  const live = settledHeap();
  const eventsAtLive = system.appended();
  const profile = input.profile ? await startCpuProfile(input.profile.dir, input.profile.name) : undefined;
  const meter = new ProcessMeter().start();
  let stepsPerSecond = NaN;
  const stepCostUs: Record<string, number> = {};
  if (c.kind === 'live') {
    stepsPerSecond = await phase((id, i) => system.read(id, readingValue(input.seed, i)), c.steps);
  } else {
    // Step cost in CPU time per round (every instance one step), so that a busy machine's
    // waits do not count; rounds are short, so wall time would be mostly noise.
    const costs: number[] = [];
    for (let step = 1; step <= c.steps; step++) {
      const cpu = process.cpuUsage();
      for (const id of ids) await feed(() => system.read(id, readingValue(input.seed, step)));
      await system.idle();
      const used = process.cpuUsage(cpu);
      costs.push((used.user + used.system) / ids.length);
    }
    stepsPerSecond = (c.steps * ids.length * 1e6) / costs.reduce((a, b) => a + b * ids.length, 0);
    for (const [first, last] of stepWindows(c.steps)) {
      const window = costs.slice(first - 1, last);
      stepCostUs[String(first)] = window.reduce((a, b) => a + b, 0) / window.length;
      // The dearest round of the window: the one that wrote the snapshots.
      if (first > 1) stepCostUs[`peak${first}`] = Math.max(...window);
    }
  }
  const steps: ProcessSample = meter.stop();
  const profileFile = await profile?.stop();
  const stepped = settledHeap();
  const closesPerSecond = await phase((id) => system.close(id));
  const done = settledHeap();
  const eventsAtEnd = system.appended();
  const details = system.details();
  await system.release?.();
  const heap: HeapPoints = { baseline, live, stepped, done, released: settledHeap() };
  return {
    variant: input.variant,
    case: c,
    stepsPerSecond,
    startsPerSecond,
    closesPerSecond,
    steps,
    heap,
    eventsAtLive,
    eventsAtEnd,
    stepCostUs,
    details: { ...details, ...(profileFile === undefined ? {} : { profileFile }) },
  };
}
