import { PerformanceObserver } from 'node:perf_hooks';

/** Resource use of one process over one measured phase. */
export interface PhaseUsage {
  /** User + system CPU, microseconds. */
  readonly cpuMicros: number;
  /** Time spent in garbage collection, milliseconds. */
  readonly gcMs: number;
  readonly peakHeapBytes: number;
  readonly peakRssBytes: number;
}

/**
 * Measures this process: CPU (process.cpuUsage), GC pauses (perf_hooks 'gc' entries)
 * and peak heap/RSS (sampled every 20 ms plus at each phase boundary).
 */
export class ProcessMeter {
  private gcMs = 0;
  private peakHeap = 0;
  private peakRss = 0;
  private cpuStart = process.cpuUsage();
  private gcStart = 0;
  private readonly observer: PerformanceObserver;
  private readonly sampler: NodeJS.Timeout;

  constructor() {
    this.observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) this.gcMs += entry.duration;
    });
    this.observer.observe({ entryTypes: ['gc'] });
    this.sampler = setInterval(() => this.sample(), 20);
    this.sampler.unref();
  }

  /** Starts a phase: resets peaks and remembers CPU and GC totals. */
  start(): void {
    this.peakHeap = 0;
    this.peakRss = 0;
    this.sample();
    this.cpuStart = process.cpuUsage();
    this.gcStart = this.gcMs;
  }

  /** Ends the phase; waits one turn so GC entries of the phase are delivered. */
  async stop(): Promise<PhaseUsage> {
    const cpu = process.cpuUsage(this.cpuStart);
    this.sample();
    await new Promise((resolve) => setImmediate(resolve));
    return {
      cpuMicros: cpu.user + cpu.system,
      gcMs: this.gcMs - this.gcStart,
      peakHeapBytes: this.peakHeap,
      peakRssBytes: this.peakRss,
    };
  }

  /** Stops sampling and observing GC. */
  dispose(): void {
    clearInterval(this.sampler);
    this.observer.disconnect();
  }

  private sample(): void {
    const usage = process.memoryUsage();
    this.peakHeap = Math.max(this.peakHeap, usage.heapUsed);
    this.peakRss = Math.max(this.peakRss, usage.rss);
  }
}
