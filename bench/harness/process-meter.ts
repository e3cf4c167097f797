import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

/** What one process spent during a measured window. */
export interface ProcessSample {
  readonly wallMs: number;
  /** `process.cpuUsage()` user + system, in microseconds. */
  readonly cpuUs: number;
  readonly cpuUserUs: number;
  readonly cpuSystemUs: number;
  /** Time spent in garbage collection (sum of `gc` performance entries), ms. */
  readonly gcMs: number;
  readonly gcCount: number;
  /** Major (mark-sweep-compact) collections among `gcCount`. */
  readonly gcMajor: number;
  /** Peak V8 heap in use during the window, sampled, bytes. */
  readonly peakHeapBytes: number;
  /** Peak resident set size of the process over its life (`resourceUsage().maxRSS`), bytes. */
  readonly peakRssBytes: number;
}

/** Options of {@link ProcessMeter}. */
export interface ProcessMeterOptions {
  /** How often the heap is sampled, ms. @default 25 */
  readonly sampleEveryMs?: number;
}

/**
 * Measures this process over a window: CPU (`process.cpuUsage`), GC time from
 * performance entries, peak heap (sampled) and peak RSS. Start it after warm-up.
 *
 * @example
 * const meter = new ProcessMeter().start();
 * await work();
 * const sample = meter.stop();
 */
export class ProcessMeter {
  private startedAt = 0;
  private cpu: NodeJS.CpuUsage | undefined;
  private gcMs = 0;
  private gcCount = 0;
  private gcMajor = 0;
  private peakHeap = 0;
  private observer: PerformanceObserver | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ProcessMeterOptions = {}) {}

  start(): this {
    this.gcMs = 0;
    this.gcCount = 0;
    this.gcMajor = 0;
    this.peakHeap = getHeapStatistics().used_heap_size;
    this.observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        this.gcMs += entry.duration;
        this.gcCount++;
        const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
        if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) this.gcMajor++;
      }
    });
    this.observer.observe({ entryTypes: ['gc'] });
    this.timer = setInterval(() => this.sampleHeap(), this.options.sampleEveryMs ?? 25);
    this.timer.unref();
    this.startedAt = performance.now();
    this.cpu = process.cpuUsage();
    return this;
  }

  stop(): ProcessSample {
    const cpu = process.cpuUsage(this.cpu);
    const wallMs = performance.now() - this.startedAt;
    this.sampleHeap();
    if (this.timer) clearInterval(this.timer);
    // Entries of the last moments are delivered asynchronously; take what is buffered.
    const pending = this.observer?.takeRecords() ?? [];
    for (const entry of pending) {
      this.gcMs += entry.duration;
      this.gcCount++;
    }
    this.observer?.disconnect();
    return {
      wallMs,
      cpuUs: cpu.user + cpu.system,
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      gcMs: this.gcMs,
      gcCount: this.gcCount,
      gcMajor: this.gcMajor,
      peakHeapBytes: this.peakHeap,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    };
  }

  private sampleHeap(): void {
    const used = getHeapStatistics().used_heap_size;
    if (used > this.peakHeap) this.peakHeap = used;
  }
}

/** CPU and memory of a process at one moment, for a sidecar measured from outside. */
export interface CpuSnapshot {
  readonly cpuUserUs: number;
  readonly cpuSystemUs: number;
  readonly heapUsedBytes: number;
  readonly rssBytes: number;
  readonly maxRssBytes: number;
}

/** This process's {@link CpuSnapshot}. */
export function cpuSnapshot(): CpuSnapshot {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return {
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    heapUsedBytes: memory.heapUsed,
    rssBytes: memory.rss,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

/** CPU microseconds (user + system) between two snapshots. */
export function cpuBetween(from: CpuSnapshot, to: CpuSnapshot): number {
  return to.cpuUserUs - from.cpuUserUs + (to.cpuSystemUs - from.cpuSystemUs);
}
