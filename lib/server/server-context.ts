/**
 * What every service handler shares: the event log, limits, the advertised endpoint,
 * and the registry of long-lived calls that shutdown has to end.
 */
import type { EventLog } from '../storage/event-log';

/** The default largest append, in EventStoreDB's size formula (MaxAppendSize, 1 MiB). */
export const DEFAULT_MAX_APPEND_SIZE = 1_048_576;

/**
 * Long-lived calls (reads, subscriptions, BatchAppend) register a stop function here,
 * so `close()` can end them instead of waiting for clients that never hang up.
 */
export class ActiveCalls {
  private readonly stops = new Set<() => void>();

  /**
   * Registers a call's stop function.
   *
   * @returns a function the call runs when it ends by itself, to unregister
   */
  register(stop: () => void): () => void {
    this.stops.add(stop);
    return () => {
      this.stops.delete(stop);
    };
  }

  /** Number of calls still registered. */
  get size(): number {
    return this.stops.size;
  }

  /** Stops every registered call (each stop runs once, errors are ignored). */
  stopAll(): void {
    const stops = [...this.stops];
    this.stops.clear();
    for (const stop of stops) {
      try {
        stop();
      } catch {
        // A call that fails while stopping must not keep the others running.
      }
    }
  }
}

/** Shared state handed to every service implementation. */
export interface ServerContext {
  readonly log: EventLog;
  /** Largest total append in bytes (data + metadata + 2 x type length per event). */
  readonly maxAppendSize: number;
  /** Host and port advertised through Gossip; the port is known only after binding. */
  readonly endpoint: { host: string; port: number };
  readonly calls: ActiveCalls;
  /** True once `close()` has begun; new long-lived calls are refused. */
  readonly closing: () => boolean;
  /** Whether the log writes `$ce-` links (`$by_category`) and `$et-` links (`$by_event_type`). */
  readonly projectionsWritten: { readonly byCategory: boolean; readonly byEventType: boolean };
}
