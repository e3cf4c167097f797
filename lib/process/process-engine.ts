import { HandlerError, SagastreamError } from '../errors';
import {
  type DecodedEvent,
  type EncodedEvent,
  MessageRegistry,
  type PlainData,
  cloneInstance,
  fromPlain,
  toPlain,
  withCorrelation,
} from '../messages';
import { HandledInputs } from './handled-inputs';
import { deterministicId } from './ids';
import { type CommandFailure, type ProcessContext, type TimeoutFired } from './process-context';
import { type EventHandlerSpec, PROCESS_DEFAULTS, type ProcessDefinition } from './process-definition';
import {
  type FailureInfo,
  type InputKind,
  type ProcessEventData,
  ProcessEventTypes as T,
  type SnapshotData,
  isFrameworkEventType,
} from './process-events';
import {
  type CompensationStep,
  type PendingTimer,
  type ProcessState,
  type ProcessStatus,
  type ScheduledCommand,
  isTerminal,
} from './process-state';

/**
 * An input for one instance:
 * - `event`: a decoded domain event routed to it (see {@link ProcessEngine.route});
 * - `commandSucceeded` / `commandFailed`: the outcome of a command it scheduled, fed back
 *   by the outbox relay (`commandFailed` only once the failure is terminal: retries
 *   exhausted or `NonRetryableError`);
 * - `timeout`: a pending timer that is due (from `state.timers`).
 */
export type ProcessInput =
  | { readonly kind: 'event'; readonly event: DecodedEvent }
  | { readonly kind: 'commandSucceeded'; readonly commandId: string }
  | {
      readonly kind: 'commandFailed';
      readonly commandId: string;
      readonly error: FailureInfo;
      /**
       * The command's payload as scheduled (the relay passes it from the stream): the
       * `@OnCommandFailed` handler gets it when the state did not keep it (see `ScheduledCommand`).
       */
      readonly data?: Record<string, unknown>;
    }
  | { readonly kind: 'timeout'; readonly key: string; readonly dueAt: Date };

/** An event the engine produced, ready to append (structurally an `EventToAppend`). */
export interface ProcessEvent {
  /** Deterministic: the same decision on the same state yields the same ids. */
  readonly id: string;
  readonly type: string;
  readonly data: PlainData;
  /** Carries `$correlationId` (the process id) and `$causationId` (the input id). */
  readonly metadata: Readonly<Record<string, unknown>>;
}

/**
 * What became of an input:
 * - `handled`: a handler (or the compensation machinery) ran; append `events`;
 * - `duplicate`: its id is in the handled set; nothing to append;
 * - `beforeStart` / `afterFinish` / `alreadyStarted`: the instance could not take it; per
 *   the definition's policy `events` holds a `sagastream.InputIgnored` to append (report it either way);
 * - `stale`: a timeout that is no longer pending, the outcome of a command that needs
 *   nothing, or an event type the process does not handle; nothing to append;
 * - `quarantined`: the instance is quarantined; hold the input until it is released.
 */
export type DecisionOutcome =
  'handled' | 'duplicate' | 'beforeStart' | 'afterFinish' | 'alreadyStarted' | 'stale' | 'quarantined';

/** The result of {@link ProcessEngine.handle} (and of quarantine / release). */
export interface Decision<S extends object = object> {
  readonly outcome: DecisionOutcome;
  /** The input's id (the event id, or one derived from the command id or timer). */
  readonly inputId: string;
  /** A sentence for logs, e.g. why an input was not handled. */
  readonly detail: string;
  /** Append these, all in one append, at `expectedRevision`. Empty: append nothing. */
  readonly events: readonly ProcessEvent[];
  /** `state.revision` of the input state, or `'no_stream'`. */
  readonly expectedRevision: bigint | 'no_stream';
  /** The state once `events` are appended (the input state when there are none). */
  readonly state: ProcessState<S>;
}

/** Where an event goes. */
export interface Route {
  /** The instances it concerns (usually one); empty for a route by key. */
  readonly processIds: readonly string[];
  /**
   * Lookup keys to resolve to instances (`@On(E, { byKey })`): the instances that associated
   * them with `ctx.associate`. Empty for a route by process id.
   */
  readonly keys: readonly string[];
  /** True when the handler is `@StartedBy`. */
  readonly starts: boolean;
  /** `Class.method` of the handler. */
  readonly handler: string;
}

/** Options of {@link ProcessEngine.replay}. */
export interface ReplayOptions {
  /** Start from the last `sagastream.Snapshot` among the events. @default true */
  readonly useSnapshots?: boolean;
}

interface RouteEntry {
  readonly spec: EventHandlerSpec;
  /** `Class.method` of the handler. */
  readonly handler: string;
  readonly starts: boolean;
  readonly byKey: boolean;
}

function isNonEmptyString(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0;
}

/** The process class behind {@link ProcessEngine.inspector}: no handlers, empty user state. */
class InspectedProcess {}

/**
 * The process-manager engine: pure decisions over one process definition, no I/O. The
 * runtime owns reading, appending, retrying and delivery; the engine tells it what to append.
 *
 * The runtime's loop for one instance:
 * 1. `state = engine.replay(processId, await store.readStream(engine.streamFor(processId)))`
 *    (or a cached state; for a long stream read backwards to the last `sagastream.Snapshot`
 *    and replay from it: {@link isSnapshotRecord});
 * 2. `decision = engine.handle(state, input, now)`;
 * 3. if `decision.events.length > 0`, append them to `state.stream` with
 *    `expectedRevision: decision.expectedRevision`; on a conflict, replay again and retry;
 *    on success cache `decision.state`;
 * 4. report `decision.outcome` when it is not `handled`/`duplicate`.
 * A handler that throws makes `handle` throw a `HandlerError` (nothing to append); after
 * the runtime's retries, append `engine.quarantine(state, input, error).events`;
 * `engine.release(state, { skip })` lifts it.
 *
 * What to deliver is in the stream: `sagastream.CommandScheduled` and
 * `sagastream.CompensationScheduled` events carry `{ commandId, type, data }` (decode the
 * command with `registry.deserialize(type, data)`); feed each outcome back as a
 * `commandSucceeded` / `commandFailed` input. Timers: `state.timers` (and the
 * `sagastream.TimeoutScheduled/Cancelled/Fired` events) give what is due; feed
 * `{ kind: 'timeout', key, dueAt }` once due. Inputs are idempotent: feeding one twice
 * yields `duplicate` or `stale`, never a second effect.
 *
 * @example
 * ```ts
 * const registry = new MessageRegistry();
 * const engine = new ProcessEngine(defineProcess(OrderFulfillment, registry));
 * const decoded = registry.decode(record);              // from $ce-order
 * const route = engine.route(decoded);                  // { processIds: ['o1'], starts: true, ... }
 * let state = engine.replay('o1', await store.readStream(engine.streamFor('o1')));
 * const decision = engine.handle(state, { kind: 'event', event: decoded }, new Date());
 * await store.append(state.stream, decision.events, { expectedRevision: decision.expectedRevision });
 * state = decision.state;
 * ```
 */
export class ProcessEngine<S extends object = object> {
  readonly #proto: Record<string | symbol, unknown>;
  readonly #hooks: BatchHooks<S>;
  // The route table, with what route() reports precomputed per event type.
  readonly #routes = new Map<string, RouteEntry>();
  #skipOwnEvents = false;

  constructor(readonly definition: ProcessDefinition<S>) {
    this.#proto = definition.processClass.prototype as Record<string | symbol, unknown>;
    this.#hooks = {
      applyOwn: (draft, type, message, eventId) => this.#applyOwn(draft, type, message, eventId),
      method: (name) => this.#proto[name] as (...args: unknown[]) => unknown,
    };
    for (const [type, spec] of definition.handlers) {
      this.#routes.set(type, {
        spec,
        handler: `${definition.processClass.name}.${String(spec.method)}`,
        starts: spec.kind === 'startedBy',
        byKey: spec.by === 'key',
      });
    }
  }

  /**
   * An engine for operator tools (the `sagastream processes` CLI) that do not load the
   * process class: `replay` rebuilds the framework part of a state (status, commands,
   * compensations, timers, keys, quarantine) and skips the process's own events, so the
   * user state stays empty; `release` and `quarantine` build events in exactly the format
   * the runtime writes. It has no handlers and never snapshots: do not feed it inputs.
   *
   * @example
   * ```ts
   * const engine = ProcessEngine.inspector('orderFulfillment');
   * const state = engine.replay('o1', await store.readStream('orderFulfillment-o1'));
   * const decision = engine.release(state, { skip: true });
   * await store.append(state.stream, decision.events, { expectedRevision: decision.expectedRevision });
   * ```
   */
  static inspector(processName: string): ProcessEngine {
    const definition: ProcessDefinition = Object.freeze({
      processClass: InspectedProcess,
      name: processName,
      version: PROCESS_DEFAULTS.version,
      snapshotEvery: Number.MAX_SAFE_INTEGER,
      handledInputsKept: PROCESS_DEFAULTS.handledInputsKept,
      beforeStart: 'ignore',
      afterFinish: 'ignore',
      registry: new MessageRegistry(),
      handlers: new Map(),
      appliers: new Map(),
      timeouts: new Map(),
      commandFailureHandlers: new Map(),
      inputEventTypes: [],
      startEventTypes: [],
      routesByKey: false,
    });
    const engine = new ProcessEngine(definition);
    engine.#skipOwnEvents = true;
    return engine;
  }

  /** The process name (stream category). */
  get name(): string {
    return this.definition.name;
  }

  /** `<name>-<processId>`. */
  streamFor(processId: string): string {
    return `${this.definition.name}-${processId}`;
  }

  /** The process id of one of this process's streams, or undefined for another stream. */
  processIdOf(stream: string): string | undefined {
    const prefix = `${this.definition.name}-`;
    return stream.startsWith(prefix) && stream.length > prefix.length
      ? stream.slice(prefix.length)
      : undefined;
  }

  /** The state of an instance whose stream does not exist yet. */
  initialState(processId: string): ProcessState<S> {
    if (typeof processId !== 'string' || processId.length === 0) {
      throw new HandlerError(
        `A process id must be a non-empty string, got ${JSON.stringify(processId)}.`,
        this.definition.name,
        String(processId),
        undefined,
        undefined,
      );
    }
    return new Draft<S>(this.definition, processId, new this.definition.processClass()).toState();
  }

  /**
   * Where a decoded event goes, or undefined when this process does not consume its type.
   * Throws `HandlerError` when the correlate function throws or returns no string id.
   */
  route(
    event: Pick<DecodedEvent, 'type' | 'message'> & Partial<Pick<DecodedEvent, 'id'>>,
  ): Route | undefined {
    const entry = this.#routes.get(event.type);
    if (!entry) return undefined;
    let result: unknown;
    try {
      result = entry.spec.correlate(event.message);
    } catch (err) {
      throw new HandlerError(
        `The correlate function of ${entry.handler} threw for event ${event.id ?? event.type}: ${messageOf(err)}`,
        this.definition.name,
        '?',
        event.id,
        entry.handler,
        { cause: err },
      );
    }
    let ids: string[];
    if (typeof result === 'string') {
      if (result.length === 0) throw this.#badCorrelation(entry, event, result);
      ids = [result];
    } else if (Array.isArray(result)) {
      if (!result.every(isNonEmptyString)) throw this.#badCorrelation(entry, event, result);
      // One id needs no dedupe.
      ids = result.length <= 1 ? [...(result as string[])] : [...new Set(result as string[])];
    } else {
      throw this.#badCorrelation(entry, event, result);
    }
    return entry.byKey
      ? { processIds: [], keys: ids, starts: entry.starts, handler: entry.handler }
      : { processIds: ids, keys: [], starts: entry.starts, handler: entry.handler };
  }

  #badCorrelation(
    entry: RouteEntry,
    event: Partial<Pick<DecodedEvent, 'id' | 'type'>>,
    result: unknown,
  ): HandlerError {
    return new HandlerError(
      `The ${entry.byKey ? 'byKey' : 'correlate'} function of ${entry.handler} returned ${JSON.stringify(result)} for event ${event.id ?? event.type}; ` +
        `it must return a non-empty ${entry.byKey ? 'lookup key' : 'process id'} or an array of them.`,
      this.definition.name,
      '?',
      event.id,
      entry.handler,
    );
  }

  /**
   * Rebuilds a state from stream events: framework events and `@Apply` methods only, never
   * handlers, so a replay sends nothing. `from` is a process id (replay from the start of the
   * stream or from a snapshot among `events`) or a state to continue (events after its revision).
   * Throws `UnknownEventTypeError` / `MalformedEventError` for own events that cannot be
   * decoded and `HandlerError` when an applier throws.
   */
  replay(
    from: string | ProcessState<S>,
    events: readonly EncodedEvent[],
    options: ReplayOptions = {},
  ): ProcessState<S> {
    let start = 0;
    let draft: Draft<S>;
    const last = options.useSnapshots === false ? -1 : findLastIndex(events, (e) => e.type === T.Snapshot);
    const snapshot = events[last];
    const processId = typeof from === 'string' ? from : from.processId;
    if (snapshot) {
      draft = Draft.fromSnapshot(
        this.definition,
        processId,
        snapshot.data as SnapshotData,
        snapshot.revision,
      );
      start = last + 1;
    } else if (typeof from === 'string') {
      draft = new Draft<S>(this.definition, processId, new this.definition.processClass());
    } else {
      draft = Draft.from(this.definition, from);
    }
    for (let i = start; i < events.length; i++) {
      const record = events[i] as EncodedEvent;
      if (draft.revision !== undefined && record.revision <= draft.revision) continue;
      if (isFrameworkEventType(record.type)) {
        applyFrameworkEvent(draft, record.type, record.data as PlainData);
      } else if (!this.#skipOwnEvents) {
        const decoded = this.definition.registry.decode(record);
        this.#applyOwn(draft, record.type, decoded.message, record.id);
      }
      draft.revision = record.revision;
      if (record.type !== T.Snapshot) draft.eventsSinceSnapshot++;
    }
    return draft.toState();
  }

  /**
   * Decides what an input leads to. Pure: `state` is not changed; the returned decision
   * holds the events to append and the state after them. An input already in the handled
   * set yields `duplicate` and no events; the `sagastream.InputRecorded` dedupe record is
   * part of the same batch as the decision it led to. Throws `HandlerError` when a handler
   * throws, returns a promise, or misuses its context.
   */
  handle(state: ProcessState<S>, input: ProcessInput, now: Date): Decision<S> {
    const inputId = inputIdOf(state.processId, input);
    if (state.handled.has(inputId))
      return nothing(state, inputId, 'duplicate', `input ${inputId} was already handled`);
    if (state.quarantine) {
      const detail = `${state.stream} is quarantined since input ${state.quarantine.eventId}`;
      return nothing(state, inputId, 'quarantined', detail);
    }
    const batch = this.#batch(state, inputId, now);
    const outcome = this.#decide(batch, input);
    if (outcome) return nothing(state, inputId, outcome[0], outcome[1]);
    return batch.finish(state);
  }

  /**
   * Quarantines the instance because `input` kept failing: appending the returned events
   * makes later `handle` calls answer `quarantined` until {@link release}.
   */
  quarantine(state: ProcessState<S>, input: ProcessInput | string, error: unknown): Decision<S> {
    const inputId = typeof input === 'string' ? input : inputIdOf(state.processId, input);
    const batch = this.#batch(state, inputId, new Date(0));
    batch.emit(
      T.ProcessQuarantined,
      { eventId: inputId, error: failureInfo(error) },
      String(state.revision ?? -1n),
    );
    return batch.finish(state, `quarantined by input ${inputId}`, false);
  }

  /**
   * Lifts a quarantine. With `skip`, the input that caused it is marked handled and will
   * never run; without, it runs again when redelivered. `stale` when not quarantined.
   */
  release(state: ProcessState<S>, options: { readonly skip?: boolean } = {}): Decision<S> {
    const q = state.quarantine;
    if (!q) {
      return {
        outcome: 'stale',
        inputId: '',
        detail: `${state.stream} is not quarantined`,
        events: [],
        expectedRevision: state.revision ?? 'no_stream',
        state,
      };
    }
    const batch = this.#batch(state, q.eventId, new Date(0));
    batch.emit(
      T.ProcessReleased,
      { eventId: q.eventId, skipped: options.skip === true },
      String(state.revision ?? -1n),
    );
    return batch.finish(state, `released${options.skip ? ', skipping' : ''} input ${q.eventId}`, false);
  }

  #decide(batch: Batch<S>, input: ProcessInput): [DecisionOutcome, string] | undefined {
    const draft = batch.draft;
    const def = this.definition;
    switch (input.kind) {
      case 'event': {
        const { event } = input;
        const spec = def.handlers.get(event.type);
        if (!spec) return ['stale', `${def.name} does not handle ${event.type}`];
        if (draft.status === 'new') {
          if (spec.kind !== 'startedBy') {
            return ignored(
              batch,
              event,
              'beforeStart',
              def.beforeStart,
              `${whereOf(event)} arrived before ${draft.stream} started`,
            );
          }
          batch.emit(T.ProcessStarted, {
            process: def.name,
            processId: draft.processId,
            definitionVersion: def.version,
          });
        } else if (isTerminal(draft.status)) {
          return ignored(
            batch,
            event,
            'afterFinish',
            def.afterFinish,
            `${whereOf(event)} arrived after ${draft.stream} finished (${draft.status})`,
          );
        } else if (spec.kind === 'startedBy') {
          return ignored(
            batch,
            event,
            'alreadyStarted',
            'record',
            `${whereOf(event)} would start ${draft.stream}, which has already started`,
          );
        }
        batch.recordInput('event', event.type, event.stream, event.revision);
        batch.invoke(spec.method, event.message);
        return undefined;
      }
      case 'commandSucceeded':
      case 'commandFailed': {
        const command = draft.commands.get(input.commandId);
        if (!command) return ['stale', `${draft.stream} scheduled no command ${input.commandId}`];
        if (command.step !== undefined) {
          const index = draft.compensations.findIndex((c) => c.step === command.step);
          const step = draft.compensations[index];
          if (!step || step.status !== 'scheduled' || step.commandId !== input.commandId) {
            return [
              'stale',
              `compensation ${command.step} of ${draft.stream} is not awaiting command ${input.commandId}`,
            ];
          }
          batch.recordInput(input.kind, command.type);
          if (input.kind === 'commandSucceeded') {
            batch.emit(T.CompensationCompleted, { step: step.step, commandId: input.commandId });
          } else {
            batch.emit(T.CompensationFailed, {
              step: step.step,
              commandId: input.commandId,
              error: input.error,
            });
            batch.cancelTimers();
            batch.emit(T.ProcessCompensationFailed, { step: step.step, error: input.error });
          }
          return undefined;
        }
        if (input.kind === 'commandSucceeded')
          return ['stale', `command ${command.type} ${input.commandId} needs no follow-up`];
        if (isTerminal(draft.status)) return ['stale', `${draft.stream} has finished (${draft.status})`];
        batch.recordInput('commandFailed', command.type);
        const method = def.commandFailureHandlers.get(command.type);
        if (method !== undefined) {
          const failure: CommandFailure = {
            commandId: command.commandId,
            type: command.type,
            command: def.registry.deserialize(command.type, command.data ?? input.data ?? {}),
            error: input.error,
          };
          batch.invoke(method, failure);
        } else if (draft.status === 'running') {
          batch.failWith(`command ${command.type} (${command.commandId}) failed: ${input.error.message}`);
        }
        return undefined;
      }
      case 'timeout': {
        const timer = draft.timers.get(input.key);
        if (!timer || timer.dueAt.getTime() !== input.dueAt.getTime()) {
          return [
            'stale',
            `timeout '${input.key}' due ${input.dueAt.toISOString()} is not pending on ${draft.stream}`,
          ];
        }
        batch.recordInput('timeout', input.key);
        batch.emit(T.TimeoutFired, { key: input.key, dueAt: timer.dueAt.toISOString() });
        const method = def.timeouts.get(input.key);
        if (method !== undefined) {
          const fired: TimeoutFired = { key: input.key, dueAt: timer.dueAt };
          batch.invoke(method, fired);
        }
        return undefined;
      }
    }
  }

  /** Runs the `@Apply` method of an own event (if any) on the draft's state. */
  #applyOwn(draft: Draft<S>, type: string, message: object, eventId: string): void {
    const method = this.definition.appliers.get(type);
    if (method === undefined) return;
    try {
      (this.#proto[method] as (e: object) => void).call(draft.data, message);
    } catch (err) {
      throw new HandlerError(
        `Applier ${this.definition.processClass.name}.${String(method)} threw on ${type} ${eventId}: ${messageOf(err)}. ` +
          `Appliers must not throw: they also run on every replay.`,
        this.definition.name,
        draft.processId,
        eventId,
        `${this.definition.processClass.name}.${String(method)}`,
        { cause: err },
      );
    }
  }

  #batch(state: ProcessState<S>, inputId: string, now: Date): Batch<S> {
    return new Batch(this.definition, Draft.from(this.definition, state), inputId, now, this.#hooks);
  }
}

/** A decision that appends nothing. */
function nothing<S extends object>(
  state: ProcessState<S>,
  inputId: string,
  outcome: DecisionOutcome,
  detail: string,
): Decision<S> {
  return { outcome, inputId, detail, events: [], expectedRevision: state.revision ?? 'no_stream', state };
}

/** An event the instance cannot take: `InputIgnored` per `policy`, or nothing. */
function ignored<S extends object>(
  batch: Batch<S>,
  event: DecodedEvent,
  reason: 'beforeStart' | 'afterFinish' | 'alreadyStarted',
  policy: 'record' | 'ignore',
  detail: string,
): [DecisionOutcome, string] | undefined {
  if (policy === 'ignore') return [reason, detail];
  batch.emit(T.InputIgnored, {
    eventId: event.id,
    type: event.type,
    stream: event.stream,
    revision: String(event.revision),
    reason,
  });
  batch.outcome = reason;
  batch.detail = detail;
  return undefined;
}

// Built only for the detail of an input not taken: every input paying for it cost a string.
function whereOf(event: DecodedEvent): string {
  return `${event.type} ${event.id} (${event.stream}@${event.revision})`;
}

/** True for a `sagastream.Snapshot` record: replay may start from the last one. */
export function isSnapshotRecord(record: Pick<EncodedEvent, 'type'>): boolean {
  return record.type === T.Snapshot;
}

/** The id the engine dedupes an input by. */
export function inputIdOf(processId: string, input: ProcessInput): string {
  switch (input.kind) {
    case 'event':
      return input.event.id;
    case 'commandSucceeded':
      return deterministicId(processId, 'commandSucceeded', input.commandId);
    case 'commandFailed':
      return deterministicId(processId, 'commandFailed', input.commandId);
    case 'timeout':
      return deterministicId(processId, 'timeout', input.key, input.dueAt.toISOString());
  }
}

/** Turns anything thrown into the JSON form events carry. */
export function failureInfo(error: unknown): FailureInfo {
  if (error instanceof SagastreamError) return { message: error.message, code: error.code, name: error.name };
  if (error instanceof Error) return { message: error.message, name: error.name };
  if (error && typeof error === 'object' && typeof (error as FailureInfo).message === 'string') {
    const e = error as FailureInfo;
    return { message: e.message, ...(e.code ? { code: e.code } : {}), ...(e.name ? { name: e.name } : {}) };
  }
  return { message: String(error) };
}

const OWN_COMMANDS = 1;
const OWN_TIMERS = 2;
const OWN_KEYS = 4;
const OWN_ALL = OWN_COMMANDS | OWN_TIMERS | OWN_KEYS;

// The mutable working copy of a state while replaying or deciding; never escapes.
class Draft<S extends object> {
  revision: bigint | undefined = undefined;
  status: ProcessStatus = 'new';
  definitionVersion: number | undefined = undefined;
  handled: HandledInputs;
  compensations: CompensationStep[] = [];
  failure: string | undefined = undefined;
  quarantine: { eventId: string; error: FailureInfo } | undefined = undefined;
  eventsSinceSnapshot = 0;
  readonly stream: string;
  // The user state. Copy on write: a draft made from a state reads that state's data until
  // something may change it (a handler or an applier runs, or `ctx.state` is read); only
  // then is it deep-copied, so inputs that run no user code copy nothing.
  #data: S;
  #shared: boolean;
  // Copy on write as well: most inputs change one of these collections or none, so a draft
  // reads its input state's until it writes (see the `writable*` methods).
  #commands: ReadonlyMap<string, ScheduledCommand>;
  #timers: ReadonlyMap<string, PendingTimer>;
  #keys: ReadonlySet<string>;
  #owned = 0;

  constructor(
    readonly definition: ProcessDefinition<S>,
    readonly processId: string,
    data: S,
    from?: ProcessState<S>,
  ) {
    this.#data = data;
    this.#shared = from !== undefined;
    this.stream = `${definition.name}-${processId}`;
    if (from === undefined) {
      this.handled = HandledInputs.empty();
      this.#commands = new Map();
      this.#timers = new Map();
      this.#keys = new Set();
      this.#owned = OWN_ALL;
      return;
    }
    this.revision = from.revision;
    this.status = from.status;
    this.definitionVersion = from.definitionVersion;
    this.handled =
      from.handled instanceof HandledInputs
        ? from.handled
        : HandledInputs.of(from.handled, definition.handledInputsKept);
    this.#commands = from.commands;
    // Steps are replaced, never changed in place (updateStep), so sharing the array is safe.
    this.compensations = from.compensations as CompensationStep[];
    this.#timers = from.timers;
    this.#keys = from.keys;
    this.failure = from.failure;
    this.quarantine = from.quarantine;
    this.eventsSinceSnapshot = from.eventsSinceSnapshot;
  }

  /** The user state, for code that may change it. */
  get data(): S {
    if (this.#shared) {
      this.#data = cloneInstance(this.#data);
      this.#shared = false;
    }
    return this.#data;
  }

  set data(value: S) {
    this.#data = value;
    this.#shared = false;
  }

  get commands(): ReadonlyMap<string, ScheduledCommand> {
    return this.#commands;
  }

  get timers(): ReadonlyMap<string, PendingTimer> {
    return this.#timers;
  }

  get keys(): ReadonlySet<string> {
    return this.#keys;
  }

  /** `command` as the state keeps it: without its payload unless a decision may need it. */
  scheduled(command: ScheduledCommand): ScheduledCommand {
    if (command.data === undefined || this.keepsPayloadOf(command.type)) return command;
    const { commandId, type, step } = command;
    return step === undefined ? { commandId, type } : { commandId, type, step };
  }

  // An @OnCommandFailed handler is given the command; the inspector shows it to operators.
  keepsPayloadOf(type: string): boolean {
    return (
      this.definition.commandFailureHandlers.has(type) || this.definition.processClass === InspectedProcess
    );
  }

  writableCommands(): Map<string, ScheduledCommand> {
    if ((this.#owned & OWN_COMMANDS) === 0) {
      this.#commands = new Map(this.#commands);
      this.#owned |= OWN_COMMANDS;
    }
    return this.#commands as Map<string, ScheduledCommand>;
  }

  writableTimers(): Map<string, PendingTimer> {
    if ((this.#owned & OWN_TIMERS) === 0) {
      this.#timers = new Map(this.#timers);
      this.#owned |= OWN_TIMERS;
    }
    return this.#timers as Map<string, PendingTimer>;
  }

  writableKeys(): Set<string> {
    if ((this.#owned & OWN_KEYS) === 0) {
      this.#keys = new Set(this.#keys);
      this.#owned |= OWN_KEYS;
    }
    return this.#keys as Set<string>;
  }

  static from<S extends object>(definition: ProcessDefinition<S>, state: ProcessState<S>): Draft<S> {
    return new Draft<S>(definition, state.processId, state.data, state);
  }

  static fromSnapshot<S extends object>(
    definition: ProcessDefinition<S>,
    processId: string,
    s: SnapshotData,
    revision: bigint,
  ): Draft<S> {
    const d = new Draft<S>(definition, processId, fromPlain(definition.processClass, s.data));
    d.restore(s);
    d.revision = revision;
    return d;
  }

  restore(s: SnapshotData): void {
    this.data = fromPlain(this.definition.processClass, s.data);
    this.status = s.status as ProcessStatus;
    this.definitionVersion = s.definitionVersion;
    this.handled = HandledInputs.of(s.handled, this.definition.handledInputsKept);
    this.#commands = new Map(s.commands.map((c) => [c.commandId, this.scheduled(c)]));
    this.compensations = [...s.compensations];
    this.#timers = new Map(s.timers.map((t) => [t.key, { key: t.key, dueAt: new Date(t.dueAt) }]));
    this.#keys = new Set(s.keys ?? []);
    this.#owned = OWN_ALL;
    this.failure = s.failure;
    this.quarantine = s.quarantine;
    this.eventsSinceSnapshot = 0;
  }

  snapshot(): SnapshotData {
    return {
      schema: 1,
      status: this.status,
      ...(this.definitionVersion === undefined ? {} : { definitionVersion: this.definitionVersion }),
      data: toPlain(this.#data),
      handled: [...this.handled],
      commands: [...this.commands.values()],
      compensations: this.compensations,
      timers: [...this.timers.values()].map((t) => ({ key: t.key, dueAt: t.dueAt.toISOString() })),
      ...(this.keys.size === 0 ? {} : { keys: [...this.keys] }),
      ...(this.failure === undefined ? {} : { failure: this.failure }),
      ...(this.quarantine === undefined ? {} : { quarantine: this.quarantine }),
    };
  }

  markHandled(id: string): void {
    this.handled = this.handled.with(id, this.definition.handledInputsKept);
  }

  updateStep(step: string, change: Partial<CompensationStep>): void {
    this.compensations = this.compensations.map((c) => (c.step === step ? { ...c, ...change } : c));
  }

  toState(): ProcessState<S> {
    // The state takes the collections over: a later write through this draft copies them.
    this.#owned = 0;
    return Object.freeze({
      processName: this.definition.name,
      processId: this.processId,
      stream: this.stream,
      revision: this.revision,
      status: this.status,
      definitionVersion: this.definitionVersion,
      data: this.#data,
      handled: this.handled,
      commands: this.#commands,
      compensations: Object.freeze(this.compensations),
      timers: this.#timers,
      keys: this.#keys,
      failure: this.failure,
      quarantine: this.quarantine,
      eventsSinceSnapshot: this.eventsSinceSnapshot,
    });
  }
}

// The one place framework events change state: used by replay and, event by event, by
// decisions, so a decided state always equals the replayed one.
function applyFrameworkEvent<S extends object>(draft: Draft<S>, type: string, data: PlainData): void {
  switch (type) {
    case T.ProcessStarted: {
      const d = data as ProcessEventData['sagastream.ProcessStarted'];
      draft.status = 'running';
      draft.definitionVersion = d.definitionVersion;
      break;
    }
    case T.InputRecorded:
      draft.markHandled((data as ProcessEventData['sagastream.InputRecorded']).eventId);
      break;
    case T.InputIgnored:
      draft.markHandled((data as ProcessEventData['sagastream.InputIgnored']).eventId);
      break;
    case T.CommandScheduled: {
      const d = data as ProcessEventData['sagastream.CommandScheduled'];
      draft
        .writableCommands()
        .set(
          d.commandId,
          draft.keepsPayloadOf(d.type)
            ? { commandId: d.commandId, type: d.type, data: d.data }
            : { commandId: d.commandId, type: d.type },
        );
      break;
    }
    case T.CompensationRegistered: {
      const d = data as ProcessEventData['sagastream.CompensationRegistered'];
      draft.compensations = [
        ...draft.compensations,
        { step: d.step, command: d.command, status: 'registered' },
      ];
      break;
    }
    case T.ProcessFailed:
      draft.status = 'compensating';
      draft.failure = (data as ProcessEventData['sagastream.ProcessFailed']).reason;
      break;
    case T.CompensationScheduled: {
      const d = data as ProcessEventData['sagastream.CompensationScheduled'];
      draft.updateStep(d.step, { status: 'scheduled', commandId: d.commandId });
      // The step keeps the compensation's payload; nothing handles its failure with it.
      draft
        .writableCommands()
        .set(
          d.commandId,
          draft.keepsPayloadOf(d.type)
            ? { commandId: d.commandId, type: d.type, data: d.data, step: d.step }
            : { commandId: d.commandId, type: d.type, step: d.step },
        );
      break;
    }
    case T.CompensationCompleted:
      draft.updateStep((data as ProcessEventData['sagastream.CompensationCompleted']).step, {
        status: 'completed',
      });
      break;
    case T.CompensationFailed: {
      const d = data as ProcessEventData['sagastream.CompensationFailed'];
      draft.updateStep(d.step, { status: 'failed', error: d.error });
      break;
    }
    case T.TimeoutScheduled: {
      const d = data as ProcessEventData['sagastream.TimeoutScheduled'];
      draft.writableTimers().set(d.key, { key: d.key, dueAt: new Date(d.dueAt) });
      break;
    }
    case T.TimeoutCancelled:
    case T.TimeoutFired:
      draft.writableTimers().delete((data as ProcessEventData['sagastream.TimeoutCancelled']).key);
      break;
    case T.KeyAssociated:
      draft.writableKeys().add((data as ProcessEventData['sagastream.KeyAssociated']).key);
      break;
    case T.ProcessQuarantined: {
      const d = data as ProcessEventData['sagastream.ProcessQuarantined'];
      draft.quarantine = { eventId: d.eventId, error: d.error };
      break;
    }
    case T.ProcessReleased: {
      const d = data as ProcessEventData['sagastream.ProcessReleased'];
      draft.quarantine = undefined;
      if (d.skipped) draft.markHandled(d.eventId);
      break;
    }
    case T.ProcessCompleted:
      draft.status = 'completed';
      break;
    case T.ProcessCompensated:
      draft.status = 'compensated';
      break;
    case T.ProcessCompensationFailed:
      draft.status = 'compensationFailed';
      break;
    case T.Snapshot:
      // Replaying through a snapshot: the state already equals it.
      draft.eventsSinceSnapshot = 0;
      break;
    default:
      // Types of a newer version of the vocabulary: skipping keeps old workers replaying.
      break;
  }
}

interface BatchHooks<S extends object> {
  applyOwn(draft: Draft<S>, type: string, message: object, eventId: string): void;
  method(name: string | symbol): (...args: unknown[]) => unknown;
}

// One decision in the making: emits events, applying each to the draft as it goes.
class Batch<S extends object> implements ProcessContext<S> {
  readonly events: ProcessEvent[] = [];
  outcome: DecisionOutcome = 'handled';
  detail = 'handled';
  #commands = 0;
  #metadata: Readonly<Record<string, unknown>> | undefined;
  #completed = false;
  #failReason: string | undefined;
  #handler: string | undefined;

  constructor(
    readonly definition: ProcessDefinition<S>,
    readonly draft: Draft<S>,
    readonly inputId: string,
    readonly now: Date,
    readonly hooks: BatchHooks<S>,
  ) {}

  get processName(): string {
    return this.definition.name;
  }
  get processId(): string {
    return this.draft.processId;
  }
  get state(): S {
    return this.draft.data;
  }
  get status(): ProcessStatus {
    return this.draft.status;
  }

  emit<K extends keyof ProcessEventData>(type: K, data: ProcessEventData[K], salt?: string): void {
    this.#push(type, data as unknown as PlainData, salt);
    applyFrameworkEvent(this.draft, type, data as unknown as PlainData);
  }

  #push(type: string, data: PlainData, salt?: string): ProcessEvent {
    const { processId } = this.draft;
    const position = String(this.events.length);
    // Every event of a batch has the same correlation: one frozen record serves them all
    // (and lets a store adapter serialise it once per append).
    this.#metadata ??= Object.freeze(
      withCorrelation(undefined, { correlationId: processId, causationId: this.inputId }),
    );
    const event: ProcessEvent = {
      id:
        salt === undefined
          ? deterministicId(processId, this.inputId, position)
          : deterministicId(processId, this.inputId, position, salt),
      type,
      data,
      metadata: this.#metadata,
    };
    this.events.push(event);
    this.draft.eventsSinceSnapshot++;
    return event;
  }

  recordInput(kind: InputKind, type: string, stream?: string, revision?: bigint): void {
    this.emit(T.InputRecorded, {
      eventId: this.inputId,
      kind,
      type,
      ...(stream === undefined ? {} : { stream }),
      ...(revision === undefined ? {} : { revision: String(revision) }),
    });
  }

  invoke(method: string | symbol, argument: unknown): void {
    this.#handler = `${this.definition.processClass.name}.${String(method)}`;
    let result: unknown;
    try {
      result = this.hooks.method(method).call(this.draft.data, argument, this);
    } catch (err) {
      if (err instanceof HandlerError) throw err;
      throw this.#error(`Handler ${this.#handler} threw on input ${this.inputId}: ${messageOf(err)}`, err);
    }
    if (
      result !== null &&
      typeof result === 'object' &&
      typeof (result as PromiseLike<unknown>).then === 'function'
    ) {
      throw this.#error(
        `Handler ${this.#handler} returned a promise; handlers must be synchronous (they only record intents, with no I/O).`,
      );
    }
    if (this.#completed && this.#failReason !== undefined) {
      throw this.#error(
        `Handler ${this.#handler} both completed and failed the process; do one or the other.`,
      );
    }
    if (this.#failReason !== undefined && this.draft.status === 'running') this.failWith(this.#failReason);
    if (this.#completed) {
      this.cancelTimers();
      this.emit(T.ProcessCompleted, {});
    }
  }

  failWith(reason: string): void {
    this.emit(T.ProcessFailed, { reason });
  }

  cancelTimers(): void {
    for (const key of [...this.draft.timers.keys()]) this.emit(T.TimeoutCancelled, { key });
  }

  finish(input: ProcessState<S>, detail?: string, advance = true): Decision<S> {
    if (advance && this.draft.status === 'compensating') this.#advanceCompensation();
    if (this.draft.eventsSinceSnapshot >= this.definition.snapshotEvery && this.events.length > 0) {
      const snapshot = this.draft.snapshot();
      this.#push(T.Snapshot, snapshot as unknown as PlainData);
      this.draft.eventsSinceSnapshot = 0;
    }
    if (this.events.length > 0) this.draft.revision = (input.revision ?? -1n) + BigInt(this.events.length);
    return {
      outcome: this.outcome,
      inputId: this.inputId,
      detail:
        detail ?? (this.#handler && this.outcome === 'handled' ? `handled by ${this.#handler}` : this.detail),
      events: this.events,
      expectedRevision: input.revision ?? 'no_stream',
      state: this.draft.toState(),
    };
  }

  #advanceCompensation(): void {
    const steps = this.draft.compensations;
    if (steps.some((c) => c.status === 'scheduled' || c.status === 'failed')) return;
    const next = findLastIndex(steps, (c) => c.status === 'registered');
    const step = steps[next];
    if (step) {
      this.emit(T.CompensationScheduled, {
        step: step.step,
        commandId: deterministicId(this.draft.processId, 'compensation', step.step),
        type: step.command.type,
        data: step.command.data,
      });
    } else {
      this.cancelTimers();
      this.emit(T.ProcessCompensated, { reason: this.draft.failure ?? '' });
    }
  }

  // ProcessContext

  dispatch(command: object): string {
    const { type, data } = this.#serialize(command, 'dispatch');
    const commandId = deterministicId(
      this.draft.processId,
      this.inputId,
      'command',
      String(this.#commands++),
    );
    this.emit(T.CommandScheduled, { commandId, type, data });
    return commandId;
  }

  record(event: object): void {
    const { type, data } = this.#serialize(event, 'record');
    if (this.definition.registry.kindOf(type) === 'command') {
      throw this.#error(`ctx.record(${type}) was given a command; use ctx.dispatch for commands.`);
    }
    const pushed = this.#push(type, data);
    // Apply the stored form, not the handler's instance: replay sees exactly this.
    const message = fromPlain(this.definition.registry.classOf(type)!, data);
    this.hooks.applyOwn(this.draft, type, message, pushed.id);
  }

  compensateWith(command: object, step?: string): void {
    const serialized = this.#serialize(command, 'compensateWith');
    const taken = (name: string): boolean => this.draft.compensations.some((c) => c.step === name);
    let name = step ?? serialized.type;
    if (step !== undefined && taken(step)) {
      throw this.#error(
        `ctx.compensateWith: compensation step '${step}' is already registered; step names are unique.`,
      );
    }
    for (let n = 2; taken(name); n++) name = `${serialized.type}#${n}`;
    this.emit(T.CompensationRegistered, { step: name, command: serialized });
  }

  schedule(key: string, at: Date | number): void {
    if (!this.definition.timeouts.has(key)) {
      throw this.#error(
        `ctx.schedule('${key}'): ${this.definition.processClass.name} has no @OnTimeout('${key}') handler.`,
      );
    }
    const dueAt = typeof at === 'number' ? new Date(this.now.getTime() + at) : at;
    if (!(dueAt instanceof Date) || Number.isNaN(dueAt.getTime())) {
      throw this.#error(
        `ctx.schedule('${key}') needs a valid Date or a delay in milliseconds, got ${String(at)}.`,
      );
    }
    this.emit(T.TimeoutScheduled, { key, dueAt: dueAt.toISOString() });
  }

  cancel(key: string): void {
    if (this.draft.timers.has(key)) this.emit(T.TimeoutCancelled, { key });
  }

  timer(key: string): PendingTimer | undefined {
    return this.draft.timers.get(key);
  }

  associate(key: string): void {
    if (typeof key !== 'string' || key.length === 0) {
      throw this.#error(`ctx.associate needs a non-empty string key, got ${JSON.stringify(key)}.`);
    }
    if (!this.draft.keys.has(key)) this.emit(T.KeyAssociated, { key });
  }

  complete(): void {
    if (this.draft.status === 'compensating') {
      throw this.#error(
        `ctx.complete(): ${this.draft.stream} has failed and is compensating; it cannot complete.`,
      );
    }
    this.#completed = true;
  }

  fail(reason: string): void {
    this.#failReason ??= String(reason);
  }

  #serialize(message: object, call: string): { type: string; data: PlainData } {
    if (message === null || typeof message !== 'object') {
      throw this.#error(`ctx.${call} needs a message instance, got ${String(message)}.`);
    }
    try {
      return this.definition.registry.serialize(message);
    } catch (err) {
      throw this.#error(`ctx.${call}: ${messageOf(err)}`, err);
    }
  }

  #error(message: string, cause?: unknown): HandlerError {
    return new HandlerError(
      message,
      this.definition.name,
      this.draft.processId,
      this.inputId,
      this.#handler,
      { cause },
    );
  }
}

function findLastIndex<X>(items: readonly X[], predicate: (x: X) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (predicate(items[i] as X)) return i;
  return -1;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
