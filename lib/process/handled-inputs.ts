// The ids of an instance's handled inputs, newest last, bounded. Every decision adds one id
// to a state that must stay unchanged (states are immutable), and copying a set of up to
// `handledInputsKept` ids per input made each step of a long process cost more than the
// last. Here states share one append-only log: a state is a window [start, end) of it, and
// the next state, when it extends the newest window, appends in place (O(1)). Only a state
// that is not the newest (a decision retried on an older state) copies its window first.

interface Log {
  readonly ids: string[];
  /**
   * The latest position of each id in `ids`; built only once the log is longer than
   * `INDEX_AFTER` (a short process scans a few ids and saves the map's memory).
   */
  latest: Map<string, number> | undefined;
}

const INDEX_AFTER = 16;

/** A compacting copy is made once this many ids are out of every window. */
const COMPACT_AFTER = 1024;

/**
 * An immutable set of input ids in the order they were handled, oldest first, holding at
 * most `limit` ids (the oldest leave first). Structurally a `ReadonlySet<string>`.
 */
export class HandledInputs implements ReadonlySet<string> {
  private constructor(
    private readonly log: Log,
    private readonly start: number,
    private readonly end: number,
  ) {}

  /** An empty set. */
  static empty(): HandledInputs {
    return new HandledInputs({ ids: [], latest: undefined }, 0, 0);
  }

  /** The set of `ids` (oldest first, without repeats), keeping the newest `limit`. */
  static of(ids: Iterable<string>, limit: number): HandledInputs {
    let set = HandledInputs.empty();
    for (const id of ids) set = set.with(id, limit);
    return set;
  }

  get size(): number {
    return this.end - this.start;
  }

  has(id: string): boolean {
    if (this.log.latest === undefined) {
      const i = this.log.ids.indexOf(id, this.start);
      return i >= 0 && i < this.end;
    }
    const at = this.log.latest.get(id);
    if (at === undefined || at < this.start) return false;
    if (at < this.end) return true;
    // A later state appended it: look in this window itself.
    const i = this.log.ids.indexOf(id, this.start);
    return i >= 0 && i < this.end;
  }

  /** This set plus `id` as the newest, keeping at most `limit` ids. This set is unchanged. */
  with(id: string, limit: number): HandledInputs {
    const { ids } = this.log;
    if (this.has(id)) {
      // Handled again (a skipped quarantine input): it moves to the newest place.
      return HandledInputs.of([...this.values()].filter((x) => x !== id).concat(id), limit);
    }
    const tip = this.end === ids.length && this.start < COMPACT_AFTER;
    const log: Log = tip ? this.log : { ids: ids.slice(this.start, this.end), latest: undefined };
    const start = tip ? this.start : 0;
    log.ids.push(id);
    if (log.latest !== undefined) log.latest.set(id, log.ids.length - 1);
    else if (log.ids.length > INDEX_AFTER) {
      const latest = new Map<string, number>();
      log.ids.forEach((x, i) => latest.set(x, i));
      log.latest = latest;
    }
    const end = log.ids.length;
    return new HandledInputs(log, Math.max(start, end - limit), end);
  }

  *values(): IterableIterator<string> {
    for (let i = this.start; i < this.end; i++) yield this.log.ids[i]!;
  }

  keys(): IterableIterator<string> {
    return this.values();
  }

  *entries(): IterableIterator<[string, string]> {
    for (const id of this.values()) yield [id, id];
  }

  [Symbol.iterator](): IterableIterator<string> {
    return this.values();
  }

  forEach(fn: (value: string, key: string, set: ReadonlySet<string>) => void, thisArg?: unknown): void {
    for (const id of this.values()) fn.call(thisArg, id, id, this);
  }
}
