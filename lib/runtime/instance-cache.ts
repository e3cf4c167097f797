/**
 * A bounded least-recently-used cache of process states, so a hot instance is loaded
 * once and not replayed per event (BENCHMARKS.md: a 3-event stream read costs 400-930 us
 * of client CPU). A Map keeps insertion order; re-inserting on access makes it LRU.
 */
export class InstanceCache<V> {
  private readonly entries = new Map<string, V>();

  /** @param capacity most entries kept. @default 10000 */
  constructor(private readonly capacity = 10_000) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
