import type { ChildContext } from '../harness/child';
import { type CpuSnapshot, type ProcessSample, ProcessMeter, cpuBetween } from '../harness/process-meter';
import { type CpuProfileRecording, startCpuProfile } from '../harness/profiler';
import type { CrashState } from './history';

/** What the driver sends each variant child: where the server is and what the crash left. */
export interface RecoveryChildInput {
  readonly variant: string;
  readonly connectionString: string;
  readonly crash: CrashState;
  /** Give up when the restart makes no progress for this long. */
  readonly stallMs: number;
  /** Also wait until every in-flight saga is closed (`recoveredMs`); otherwise stop after the catch-up. */
  readonly untilRecovered: boolean;
  /** ProcessRuntime options for experiments (e.g. `{ batchSize: 4096 }`). */
  readonly runtimeOptions?: Readonly<Record<string, number>>;
  /** Profile the measured window into this directory. */
  readonly profile?: { readonly dir: string; readonly name: string };
}

/** What a variant reports for one restart. */
export interface RecoveryChildResult {
  readonly variant: string;
  /** Events after the checkpoints (the tail) received and taken by the consumer. */
  readonly tailEvents: number;
  /** Connect (first answered call) to the whole tail taken, ms. */
  readonly catchUpMs: number;
  readonly catchUpEventsPerSecond: number;
  /** Connect to the first command handed to a handler, ms (the floor dispatches none: NaN). */
  readonly firstCommandMs: number;
  /** Connect to every in-flight saga closed, ms (NaN for the floor, or without `untilRecovered`). */
  readonly recoveredMs: number;
  /** The catch-up window in this process. */
  readonly catchUp: ProcessSample;
  /** The whole restart (catch-up and finishing the in-flight sagas) in this process. */
  readonly restart: ProcessSample;
  readonly serverCatchUpCpuUs: number;
  readonly serverRestartCpuUs: number;
  readonly serverPeakRssBytes: number;
  /** Heap in use after a forced GC before connecting, and once the tail was taken (bytes). */
  readonly heapBaselineBytes: number;
  readonly heapAfterCatchUpBytes: number;
  /** In-flight sagas closed after the restart, and those that were not within the stall limit. */
  readonly closed: number;
  readonly lost: number;
  readonly details: Readonly<Record<string, unknown>>;
}

/** `global.gc` when the child runs with --expose-gc, else a no-op. */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Heap in use after a full GC. */
export function settledHeap(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/** The measured window of a restart: two meters (catch-up, whole restart) and the server's CPU. */
export class RestartWindow {
  private readonly catchUpMeter = new ProcessMeter();
  private readonly restartMeter = new ProcessMeter();
  private serverAtStart: CpuSnapshot | undefined;
  private serverAtCatchUp: CpuSnapshot | undefined;
  private recording: CpuProfileRecording | undefined;
  catchUp: ProcessSample | undefined;
  startedAt = 0;

  constructor(
    private readonly ctx: ChildContext,
    private readonly input: RecoveryChildInput,
  ) {}

  async start(): Promise<void> {
    this.serverAtStart = await this.ctx.request<CpuSnapshot>('server-sample');
    if (this.input.profile)
      this.recording = await startCpuProfile(this.input.profile.dir, this.input.profile.name);
    this.catchUpMeter.start();
    this.restartMeter.start();
    this.startedAt = performance.now();
  }

  async caughtUp(): Promise<void> {
    this.catchUp = this.catchUpMeter.stop();
    this.serverAtCatchUp = await this.ctx.request<CpuSnapshot>('server-sample');
  }

  async finish(): Promise<{
    restart: ProcessSample;
    serverCatchUpCpuUs: number;
    serverRestartCpuUs: number;
    serverPeakRssBytes: number;
    profileFile?: string;
  }> {
    const restart = this.restartMeter.stop();
    const end = await this.ctx.request<CpuSnapshot>('server-sample');
    const profileFile = await this.recording?.stop();
    const start = this.serverAtStart as CpuSnapshot;
    return {
      restart,
      serverCatchUpCpuUs: cpuBetween(start, this.serverAtCatchUp ?? end),
      serverRestartCpuUs: cpuBetween(start, end),
      serverPeakRssBytes: end.maxRssBytes,
      ...(profileFile === undefined ? {} : { profileFile }),
    };
  }
}

/** Resolves when `done()` turns true; rejects after `stallMs` without `progress()` changing. */
export async function until(done: () => boolean, progress: () => number, stallMs: number): Promise<void> {
  let last = progress();
  let lastAt = Date.now();
  while (!done()) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    const now = progress();
    if (now !== last) {
      last = now;
      lastAt = Date.now();
    } else if (Date.now() - lastAt > stallMs) throw new Error(`no progress for ${stallMs} ms (at ${now})`);
  }
}
