import { createHash } from 'node:crypto';
import {
  CorrelationKeyConflictError,
  UnknownCorrelationKeyError,
  WrongExpectedVersionError,
} from '../errors';
import type { DecodedEvent } from '../messages';
import { deterministicId } from '../process/ids';
import { type Decision, type ProcessEngine, type Route, failureInfo } from '../process/process-engine';
import { ProcessEventTypes } from '../process/process-events';
import type { EventStore, StoredEventRecord } from '../store/event-store';
import { type BackoffOptions, backoffDelay } from './backoff';
import type { CheckpointTicket } from './checkpoint-tracker';
import { type Clock, sleep } from './clock';
import { InstanceCache } from './instance-cache';
import type { Logger } from './logger';
import {
  type InputRejectedData,
  type RuntimeReport,
  RuntimeEventTypes,
  rejectedStreamOf,
} from './runtime-events';

/** Events of the key streams (`<processName>Key-<sha1(key)>`). */
export const CorrelationKeyEventTypes = {
  /** The first (and only) event of a key stream: which instance holds the key. */
  KeyClaimed: 'sagastream.KeyClaimed',
} as const;

/** Data of `sagastream.KeyClaimed`. */
export interface KeyClaimedData {
  readonly process: string;
  readonly processId: string;
  readonly key: string;
}

/**
 * The stream that claims `key` for one instance of `processName`: `<processName>Key-<sha1 hex>`.
 * Hashing keeps any key (spaces, '-', unicode, length) a valid stream name in one category.
 */
export function keyStreamOf(processName: string, key: string): string {
  return `${processName}Key-${createHash('sha1').update(key, 'utf8').digest('hex')}`;
}

/** What a {@link CorrelationIndex} needs from its host. */
export interface CorrelationIndexOptions {
  readonly store: EventStore;
  readonly engine: ProcessEngine;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly backoff: BackoffOptions;
  readonly report: (report: RuntimeReport) => void;
  /** Key owners cached (claims never move, so entries never go stale). */
  readonly cacheSize: number;
  /** Resolves once every input queued so far has been handled: a miss is final only after it. */
  readonly whenQueueIdle: () => Promise<void>;
}

/**
 * Lookup keys of one process (`ctx.associate(key)` / `@On(E, { byKey })`), kept durable in
 * key streams written with expected revision `no_stream`, so one key can only ever belong to
 * one instance:
 * - {@link claim} runs before a decision is appended: it claims each key the decision
 *   associates, and answers a `CorrelationKeyConflictError` when another instance holds one
 *   (the host then quarantines the instance instead of appending). A crash between the claim
 *   and the process append is harmless: the redelivered input claims again, idempotently.
 * - {@link route} resolves an input routed by key to its instance, reading the key stream on
 *   a cache miss. Inputs keep their order: once one waits for a lookup, later inputs wait
 *   behind it. A key still unknown after every input queued before it has been handled (so an
 *   association in flight is not missed) follows the process's `beforeStart` policy: reported
 *   as `ignored`, and with `'record'` written to `sagastreamRejected-<process>` with an
 *   `UnknownCorrelationKeyError`; never silently dropped.
 */
export class CorrelationIndex {
  private readonly owners: InstanceCache<string>;
  private chain: Promise<void> = Promise.resolve();
  private waiting = 0;

  constructor(private readonly options: CorrelationIndexOptions) {
    this.owners = new InstanceCache(options.cacheSize);
  }

  /** True when no input waits for a lookup. */
  get idle(): boolean {
    return this.waiting === 0;
  }

  private get name(): string {
    return this.options.engine.name;
  }

  /**
   * True when the host must hand `route` to {@link route} rather than queue it itself: it is
   * routed by key, or earlier inputs still wait for lookups (and order must hold).
   */
  takes(route: Route): boolean {
    return route.keys.length > 0 || this.waiting > 0;
  }

  /**
   * Resolves `route` and calls `push` once per instance; `ticket` is done once every instance
   * has handled it (and an unknown key is recorded). Synchronous when every key is cached.
   */
  route(
    record: StoredEventRecord,
    event: DecodedEvent,
    route: Route,
    ticket: CheckpointTicket,
    push: (processId: string, done: () => void) => void,
  ): void {
    const cached = this.waiting === 0 ? this.cachedOwners(route.keys) : undefined;
    if (cached) return this.dispatch([...new Set([...route.processIds, ...cached])], true, ticket, push);
    this.waiting++;
    this.chain = this.chain
      .then(async () => {
        const resolved = await this.resolve(record, event, route.keys);
        if (resolved) {
          this.dispatch(
            [...new Set([...route.processIds, ...resolved.ids])],
            resolved.recorded,
            ticket,
            push,
          );
        }
      })
      .catch((error: unknown) =>
        // Not routed: the checkpoint stays before the input, so a restart routes it again.
        this.options.logger.error('routing an input by key failed', {
          process: this.name,
          eventId: record.id,
          error: String(error),
        }),
      )
      .finally(() => this.waiting--);
  }

  /**
   * Claims the keys `decision` associates for `processId`, before the decision is appended.
   * Answers the conflict when another instance holds one; throws on store failures (retry).
   */
  async claim(processId: string, decision: Decision): Promise<CorrelationKeyConflictError | undefined> {
    const keys: { key: string; cause: string }[] = [];
    for (const e of decision.events) {
      if (e.type !== ProcessEventTypes.KeyAssociated) continue;
      const key = (e.data as { key: string }).key;
      if (this.owners.get(key) !== processId) keys.push({ key, cause: e.id });
    }
    if (keys.length === 0) return undefined;
    // With several keys, look first, so a conflict on one leaves no claim behind for the others.
    if (keys.length > 1) {
      for (const { key } of keys) {
        const owner = await this.lookup(key);
        if (owner !== undefined && owner !== processId) return this.conflict(processId, key, owner, decision);
      }
    }
    for (const { key, cause } of keys) {
      const stream = keyStreamOf(this.name, key);
      const data: KeyClaimedData = { process: this.name, processId, key };
      try {
        await this.options.store.append(
          stream,
          [
            {
              id: deterministicId(this.name, 'keyClaimed', key, processId),
              type: CorrelationKeyEventTypes.KeyClaimed,
              data,
              metadata: { $correlationId: processId, $causationId: cause },
            },
          ],
          { expectedRevision: 'no_stream' },
        );
        this.owners.set(key, processId);
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError)) throw error;
        const owner = await this.lookup(key);
        if (owner === undefined) throw error;
        if (owner !== processId) return this.conflict(processId, key, owner, decision);
      }
    }
    return undefined;
  }

  /** The instance holding `key`, from the cache or its key stream; undefined when none does. */
  async lookup(key: string): Promise<string | undefined> {
    const cached = this.owners.get(key);
    if (cached !== undefined) return cached;
    const [first] = await this.options.store.readStream(keyStreamOf(this.name, key), { maxCount: 1 });
    const owner = (first?.data as Partial<KeyClaimedData> | undefined)?.processId;
    if (typeof owner !== 'string') return undefined;
    this.owners.set(key, owner);
    return owner;
  }

  private cachedOwners(keys: readonly string[]): string[] | undefined {
    const ids: string[] = [];
    for (const key of keys) {
      const owner = this.owners.get(key);
      if (owner === undefined) return undefined;
      ids.push(owner);
    }
    return ids;
  }

  private dispatch(
    ids: readonly string[],
    recorded: boolean,
    ticket: CheckpointTicket,
    push: (processId: string, done: () => void) => void,
  ): void {
    if (ids.length === 0) {
      if (recorded) ticket.done();
      return;
    }
    let remaining = ids.length;
    const done = () => {
      if (--remaining === 0 && recorded) ticket.done();
    };
    for (const id of ids) push(id, done);
  }

  private async resolve(
    record: StoredEventRecord,
    event: DecodedEvent,
    keys: readonly string[],
  ): Promise<{ ids: string[]; recorded: boolean }> {
    const ids: string[] = [];
    const unknown: string[] = [];
    let drained = false;
    for (const key of keys) {
      let owner = await this.retrying(() => this.lookup(key));
      if (owner === undefined && !drained) {
        // The association may be in a decision still queued: let everything before it land.
        await this.options.whenQueueIdle();
        drained = true;
        owner = await this.retrying(() => this.lookup(key));
      }
      if (owner === undefined) unknown.push(key);
      else ids.push(owner);
    }
    const recorded = unknown.length === 0 || (await this.unknown(record, event, unknown));
    return { ids, recorded };
  }

  /** Reports (and per policy records) the unknown keys; false when recording failed. */
  private async unknown(
    record: StoredEventRecord,
    event: DecodedEvent,
    keys: readonly string[],
  ): Promise<boolean> {
    const errors = keys.map(
      (key) =>
        new UnknownCorrelationKeyError(this.name, key, event.type, record.stream, record.revision, record.id),
    );
    if (this.options.engine.definition.beforeStart === 'record') {
      const events = errors.map((error) => {
        const data: InputRejectedData = {
          eventId: record.id,
          type: record.type,
          stream: record.stream,
          revision: String(record.revision),
          error: failureInfo(error),
        };
        return {
          id: deterministicId(this.name, 'unknownKey', record.id, error.key),
          type: RuntimeEventTypes.InputRejected,
          data,
          metadata: { $causationId: record.id },
        };
      });
      try {
        await this.retrying(() => this.options.store.append(rejectedStreamOf(this.name), events));
      } catch {
        return false;
      }
    }
    for (const error of errors) {
      this.options.report({
        kind: 'ignored',
        processName: this.name,
        eventId: record.id,
        stream: record.stream,
        revision: record.revision,
        error,
        detail: error.message,
      });
    }
    return true;
  }

  private async retrying<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        if (attempt >= 5) throw error;
        this.options.logger.warn(`a correlation key operation failed (attempt ${attempt}); retrying`, {
          process: this.name,
          error: String(error),
        });
        await sleep(this.options.clock, backoffDelay(attempt, this.options.backoff));
      }
    }
  }

  private conflict(
    processId: string,
    key: string,
    owner: string,
    decision: Decision,
  ): CorrelationKeyConflictError {
    return new CorrelationKeyConflictError(this.name, processId, key, owner, decision.inputId);
  }
}
