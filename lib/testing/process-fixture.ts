import { deepStrictEqual } from 'node:assert';
import { type DecodedEvent, MessageRegistry, type PlainData, toPlain } from '../messages';
import { type Class } from '../metadata';
import type { SagaFixture } from './saga-fixture';
import type { WorkflowFixture } from './workflow-fixture';
import {
  type Decision,
  type DecisionOutcome,
  type FailureInfo,
  type ProcessEvent,
  type ProcessInput,
  type ProcessState,
  type ProcessStatus,
  ProcessEngine,
  ProcessEventTypes,
  defineProcess,
  deterministicId,
  isFrameworkEventType,
} from '../process';

/** A stored process-stream event as the fixture keeps it. */
export interface FixtureStreamEvent extends ProcessEvent {
  readonly stream: string;
  readonly revision: bigint;
  readonly isJson: true;
}

/** A timeout expected to be scheduled: by due date or by delay from the step's time. */
export interface ExpectedTimeout {
  readonly key: string;
  readonly dueAt?: Date;
  /** Milliseconds from the time the step started. */
  readonly delayMs?: number;
}

/** What the last step (`when`, `advanceTime`, `failCommand`, ...) should have produced. Omitted keys are not checked. */
export interface Expectation<S extends object> {
  /** Own events recorded (`ctx.record`), in order. Compared by type and serialised data. */
  readonly events?: readonly object[];
  /** Commands sent: dispatched ones and compensations scheduled, in order. */
  readonly commands?: readonly object[];
  /** Compensations registered (`ctx.compensateWith`), in order. */
  readonly compensations?: readonly object[];
  /** Timeouts scheduled, in order. */
  readonly timeouts?: readonly ExpectedTimeout[];
  /** Keys of timeouts cancelled (explicitly or because the process ended). */
  readonly cancelledTimeouts?: readonly string[];
  /** Framework event types appended, in order (e.g. `sagastream.ProcessFailed`). */
  readonly framework?: readonly string[];
  /** The outcome of every decision of the step (usually one). */
  readonly outcome?: DecisionOutcome;
  /** The instance's status afterwards. */
  readonly status?: ProcessStatus;
  /** The instance's state afterwards: the listed fields, deep-equal, or a function that asserts. */
  readonly state?: Partial<S> | ((state: S) => void);
  /** Which instance `status` and `state` look at. @default the instance the last step touched */
  readonly processId?: string;
}

/** Options of {@link given}. */
export interface GivenOptions {
  /** The registry; a new one (auto-registering decorated classes) when omitted. */
  readonly registry?: MessageRegistry;
  /** Where virtual time starts. @default 2024-01-01T00:00:00.000Z */
  readonly now?: Date;
}

/** Options of {@link ProcessFixture.when} for one delivery. */
export interface DeliveryOptions {
  /** The event id (reuse one to simulate a duplicate delivery). @default a fresh deterministic id */
  readonly eventId?: string;
  /** The source stream. @default `test-<first process id>` */
  readonly stream?: string;
}

/** Any fixture a {@link FixtureStep} applies to: a process manager's, a workflow's or a saga's. */
export type AnyFixture = ProcessFixture<any> | WorkflowFixture | SagaFixture<any>;

/**
 * A history step other than an event, for `given`: see {@link timePasses} (every style),
 * {@link commandFails}, {@link commandSucceeds} (process managers), and `stepFails`,
 * `stepSucceeds`, `compensationFails` (workflows and sagas).
 */
export class FixtureStep {
  /** @param run applies the step to a fixture. */
  constructor(readonly run: (fixture: AnyFixture) => void) {}
}

/** History step: virtual time moves on by `ms`, firing due timeouts, sleeps and retries. */
export function timePasses(ms: number): FixtureStep {
  return new FixtureStep((f) => {
    f.advanceTime(ms);
  });
}

function processFixtureOf(f: AnyFixture, step: string): ProcessFixture<any> {
  if (f instanceof ProcessFixture) return f;
  throw new AssertionError({
    message: `${step}() is a process-manager step; for a workflow or a saga use stepFails()/stepSucceeds().`,
  });
}

/** History step: the newest unanswered command of `command`'s class (or that id) fails for good. */
export function commandFails(
  command: Class | string,
  error: string | FailureInfo = 'command failed',
): FixtureStep {
  return new FixtureStep((f) => {
    processFixtureOf(f, 'commandFails').failCommand(command, error);
  });
}

/** History step: the newest unanswered command of `command`'s class (or that id) succeeds. */
export function commandSucceeds(command: Class | string): FixtureStep {
  return new FixtureStep((f) => {
    processFixtureOf(f, 'commandSucceeds').succeedCommand(command);
  });
}

interface StepResult {
  readonly label: string;
  readonly now: Date;
  readonly decisions: readonly { readonly processId: string; readonly decision: Decision<any> }[];
  /** Lookup keys of the delivered event that no instance had associated (outcome `beforeStart`). */
  readonly unknownKeys?: readonly string[];
}

/**
 * A failed fixture expectation. Carries `actual`, `expected` and `showDiff` so mocha (and
 * other runners) print a diff under the message.
 */
export class AssertionError extends Error {
  readonly actual: unknown;
  readonly expected: unknown;
  readonly showDiff: boolean;
  constructor(details: { message: string; actual?: unknown; expected?: unknown }) {
    super(details.message);
    this.name = 'AssertionError';
    this.actual = details.actual;
    this.expected = details.expected;
    this.showDiff = 'actual' in details;
  }
}

const DEFAULT_NOW = new Date('2024-01-01T00:00:00.000Z');

/**
 * Starts a given/when/then test of a process manager: `history` (events and
 * {@link FixtureStep}s) is fed through the real engine, then `when` feeds one more input
 * and `then` asserts what that produced. Time is virtual: `advanceTime(ms)` fires due
 * timeouts. After every step the fixture also checks that replaying the stream rebuilds
 * the same state (catching handlers that assign to `this` and types that do not survive
 * serialisation).
 *
 * @example
 * ```ts
 * it('charges the payment when an order is placed', () =>
 *   given(OrderFulfillment)
 *     .when(new OrderPlaced('o1', 'c1', items, 100, address))
 *     .then({ commands: [new ChargePayment('o1', 100)], timeouts: [{ key: 'paymentTimeout', delayMs: 1_800_000 }] }));
 *
 * it('cancels when the payment times out', () =>
 *   given(OrderFulfillment, [anOrder()])
 *     .advanceTime(30 * 60_000)
 *     .then({ commands: [new CancelOrder('o1', 'payment timed out')], status: 'compensated' }));
 * ```
 */
export function given<S extends object>(
  processClass: Class<S>,
  history: readonly (object | FixtureStep)[] = [],
  options: GivenOptions = {},
): ProcessFixture<S> {
  const fixture = new ProcessFixture(processClass, options);
  for (const item of history) {
    if (item instanceof FixtureStep) item.run(fixture);
    else fixture.when(item);
  }
  return fixture;
}

/**
 * A process manager under test, in memory: the engine, the instances' streams and a
 * virtual clock. Every step method returns the fixture, so steps and `then` chain.
 */
export class ProcessFixture<S extends object> {
  readonly registry: MessageRegistry;
  readonly engine: ProcessEngine<S>;
  #now: Date;
  #states = new Map<string, ProcessState<S>>();
  #streams = new Map<string, FixtureStreamEvent[]>();
  #answered = new Set<string>();
  #deliveries = 0;
  #sourceRevisions = new Map<string, bigint>();
  #lastDelivery: { message: object; options: DeliveryOptions } | undefined;
  #last: StepResult | undefined;
  #mainId: string | undefined;
  /** Lookup key -> the instance that associated it (`ctx.associate`), as the runtime's key streams hold them. */
  #keyOwners = new Map<string, string>();

  constructor(processClass: Class<S>, options: GivenOptions = {}) {
    this.registry = options.registry ?? new MessageRegistry();
    this.engine = new ProcessEngine(defineProcess(processClass, this.registry));
    this.#now = new Date((options.now ?? DEFAULT_NOW).getTime());
  }

  /** The virtual clock. */
  get now(): Date {
    return new Date(this.#now.getTime());
  }

  /** The first instance started in this fixture. */
  get processId(): string {
    if (this.#mainId === undefined)
      throw new AssertionError({ message: 'No process instance has started in this fixture yet.' });
    return this.#mainId;
  }

  /** The engine state of an instance. @param processId defaults to {@link processId} */
  processState(processId = this.processId): ProcessState<S> {
    return this.#states.get(processId) ?? this.engine.initialState(processId);
  }

  /** The user state of an instance. */
  state(processId = this.processId): S {
    return this.processState(processId).data;
  }

  /** Every event appended to an instance's stream so far. */
  stream(processId = this.processId): readonly FixtureStreamEvent[] {
    return this.#streams.get(processId) ?? [];
  }

  /** The instance that associated lookup `key` with `ctx.associate`, if any. */
  ownerOfKey(key: string): string | undefined {
    return this.#keyOwners.get(key);
  }

  /** The decisions of the last step. */
  get lastDecisions(): readonly { readonly processId: string; readonly decision: Decision<S> }[] {
    return this.#last?.decisions ?? [];
  }

  /** The events the last step appended, across instances. */
  get lastEvents(): readonly ProcessEvent[] {
    return this.lastDecisions.flatMap((d) => d.decision.events);
  }

  /**
   * Delivers a domain event to the instance(s) its handler correlates it to; an event routed
   * by key (`@On(E, { byKey })`) goes to the instance that associated the key, and one whose
   * key no instance associated reaches none (outcome `beforeStart`, as the runtime reports
   * it). Throws when the process does not handle the event's type, or when a handler throws
   * (a `HandlerError`).
   */
  when(event: object, options: DeliveryOptions = {}): this {
    const type = this.registry.typeOf(event);
    if (type === undefined)
      throw new AssertionError({ message: `${event.constructor.name} is not a registered message class.` });
    const route = this.engine.route({ type, message: event });
    if (!route) {
      throw new AssertionError({
        message: `${this.engine.definition.processClass.name} does not handle ${type}; add an @On(${event.constructor.name}, ...) handler.`,
      });
    }
    const unknownKeys = route.keys.filter((key) => !this.#keyOwners.has(key));
    const processIds = [
      ...new Set([...route.processIds, ...route.keys.flatMap((key) => this.#keyOwners.get(key) ?? [])]),
    ];
    const stream = options.stream ?? `test-${processIds[0] ?? route.keys[0] ?? 'none'}`;
    const revision = this.#sourceRevisions.get(stream) ?? 0n;
    this.#sourceRevisions.set(stream, revision + 1n);
    const decoded: DecodedEvent = {
      id: options.eventId ?? deterministicId('sagastream.testing', String(this.#deliveries++)),
      type,
      stream,
      revision,
      message: event,
      metadata: {},
    };
    this.#lastDelivery = { message: event, options: { ...options, eventId: decoded.id } };
    const decisions = processIds.map((processId) => {
      if (route.starts && this.#mainId === undefined) this.#mainId = processId;
      return this.#feed(processId, { kind: 'event', event: decoded }, `${type} ${decoded.id}`);
    });
    this.#last = { label: `${type} was handled`, now: this.now, decisions, unknownKeys };
    return this;
  }

  /** Delivers the last event again with the same id, as an at-least-once transport may. */
  redeliver(): this {
    if (!this.#lastDelivery) throw new AssertionError({ message: 'redeliver(): nothing was delivered yet.' });
    return this.when(this.#lastDelivery.message, this.#lastDelivery.options);
  }

  /** Moves virtual time on by `ms`, firing each due timeout at its due time, in due order. */
  advanceTime(ms: number): this {
    const started = this.now;
    const until = started.getTime() + ms;
    const decisions: { processId: string; decision: Decision<S> }[] = [];
    for (;;) {
      let next: { processId: string; key: string; dueAt: Date } | undefined;
      for (const [processId, state] of this.#states) {
        for (const timer of state.timers.values()) {
          if (timer.dueAt.getTime() <= until && (!next || timer.dueAt < next.dueAt))
            next = { processId, ...timer };
        }
      }
      if (!next) break;
      if (next.dueAt.getTime() > this.#now.getTime()) this.#now = new Date(next.dueAt.getTime());
      decisions.push(
        this.#feed(
          next.processId,
          { kind: 'timeout', key: next.key, dueAt: next.dueAt },
          `timeout '${next.key}'`,
        ),
      );
    }
    this.#now = new Date(until);
    this.#last = { label: `time advanced by ${ms} ms`, now: started, decisions };
    return this;
  }

  /** Feeds a terminal failure of the newest unanswered command of that class (or with that id). */
  failCommand(command: Class | string, error: string | FailureInfo = 'command failed'): this {
    const { processId, commandId, type } = this.#findCommand(command);
    const failure = typeof error === 'string' ? { message: error } : error;
    const decision = this.#feed(
      processId,
      { kind: 'commandFailed', commandId, error: failure },
      `${type} failure`,
    );
    this.#answered.add(commandId);
    this.#last = { label: `${type} failed`, now: this.now, decisions: [decision] };
    return this;
  }

  /** Feeds the success of the newest unanswered command of that class (or with that id). */
  succeedCommand(command: Class | string): this {
    const { processId, commandId, type } = this.#findCommand(command);
    const decision = this.#feed(processId, { kind: 'commandSucceeded', commandId }, `${type} success`);
    this.#answered.add(commandId);
    this.#last = { label: `${type} succeeded`, now: this.now, decisions: [decision] };
    return this;
  }

  /**
   * Asserts what the last step produced. Returning the fixture from a mocha test is fine:
   * mocha sees a thenable and calls `then(resolve, reject)`, which resolves at once (the
   * assertions have already run).
   */
  then(expectation: Expectation<S> | ((value: undefined) => unknown)): this {
    if (typeof expectation === 'function') {
      expectation(undefined);
      return this;
    }
    const last = this.#last;
    if (!last)
      throw new AssertionError({
        message: 'then(): no step was taken; call when(), advanceTime() or failCommand() first.',
      });
    const events = last.decisions.flatMap((d) => d.decision.events);
    const ofType = (type: string) => events.filter((e) => e.type === type);
    const label = `when ${last.label}`;
    const check = (what: string, actual: unknown, expected: unknown): void => {
      try {
        deepStrictEqual(actual, expected);
      } catch {
        throw new AssertionError({
          message: `${what} ${label}:\n  expected ${show(expected)}\n  actual   ${show(actual)}`,
          actual,
          expected,
        });
      }
    };
    if (expectation.events) {
      check(
        'Recorded events',
        events.filter((e) => !isFrameworkEventType(e.type)).map((e) => ({ type: e.type, data: e.data })),
        expectation.events.map((e) => this.#serialized(e)),
      );
    }
    if (expectation.commands) {
      const sent = events
        .filter(
          (e) =>
            e.type === ProcessEventTypes.CommandScheduled ||
            e.type === ProcessEventTypes.CompensationScheduled,
        )
        .map((e) => ({ type: e.data.type, data: e.data.data }));
      check(
        'Commands sent',
        sent,
        expectation.commands.map((c) => this.#serialized(c)),
      );
    }
    if (expectation.compensations) {
      check(
        'Compensations registered',
        ofType(ProcessEventTypes.CompensationRegistered).map((e) => e.data.command),
        expectation.compensations.map((c) => this.#serialized(c)),
      );
    }
    if (expectation.timeouts) {
      const scheduled = ofType(ProcessEventTypes.TimeoutScheduled).map((e) => ({
        key: e.data.key as string,
        dueAt: new Date(e.data.dueAt as string),
      }));
      check(
        'Timeouts scheduled',
        scheduled.map((t, i) => pick(t, expectation.timeouts?.[i], last.now)),
        expectation.timeouts.map((t) => pick(t, t, last.now)),
      );
    }
    if (expectation.cancelledTimeouts) {
      check(
        'Timeouts cancelled',
        ofType(ProcessEventTypes.TimeoutCancelled).map((e) => e.data.key),
        [...expectation.cancelledTimeouts],
      );
    }
    if (expectation.framework) {
      check(
        'Framework events',
        events.filter((e) => isFrameworkEventType(e.type)).map((e) => e.type),
        [...expectation.framework],
      );
    }
    if (expectation.outcome) {
      const outcomes = [
        ...last.decisions.map((d) => d.decision.outcome),
        ...(last.unknownKeys ?? []).map((): DecisionOutcome => 'beforeStart'),
      ];
      check(
        'Outcome',
        outcomes,
        outcomes.map(() => expectation.outcome),
      );
    }
    const processId = expectation.processId ?? last.decisions[0]?.processId ?? this.#mainId;
    if (expectation.status !== undefined || expectation.state !== undefined) {
      if (processId === undefined)
        throw new AssertionError({ message: `No process instance to check ${label}.` });
      const state = this.processState(processId);
      if (expectation.status !== undefined)
        check(`Status of ${state.stream}`, state.status, expectation.status);
      if (typeof expectation.state === 'function') expectation.state(state.data);
      else if (expectation.state) {
        const actual: Record<string, unknown> = {};
        for (const key of Object.keys(expectation.state))
          actual[key] = (state.data as Record<string, unknown>)[key];
        check(`State of ${state.stream}`, toPlain(actual), toPlain(expectation.state));
      }
    }
    return this;
  }

  #feed(processId: string, input: ProcessInput, label: string): { processId: string; decision: Decision<S> } {
    const state = this.processState(processId);
    const decision = this.engine.handle(state, input, this.now);
    this.#claimKeys(processId, decision, label);
    if (decision.events.length > 0) {
      const stream = this.#streams.get(processId) ?? [];
      let revision = state.revision ?? -1n;
      for (const event of decision.events) {
        stream.push({ ...event, stream: state.stream, revision: ++revision, isJson: true });
      }
      this.#streams.set(processId, stream);
      this.#states.set(processId, decision.state);
      this.#checkReplay(processId, decision.state, label);
    }
    return { processId, decision };
  }

  // The runtime claims each associated key for one instance before appending; a second
  // claimant is quarantined with a CorrelationKeyConflictError. Here that is a failed step.
  #claimKeys(processId: string, decision: Decision<S>, label: string): void {
    const keys = decision.events
      .filter((e) => e.type === ProcessEventTypes.KeyAssociated)
      .map((e) => e.data.key as string);
    for (const key of keys) {
      const owner = this.#keyOwners.get(key);
      if (owner !== undefined && owner !== processId) {
        throw new AssertionError({
          message:
            `After ${label}, ${this.engine.streamFor(processId)} associated key '${key}', which ${this.engine.streamFor(owner)} already holds. ` +
            `The runtime would quarantine ${this.engine.streamFor(processId)} with a CorrelationKeyConflictError: a key routes to one instance.`,
        });
      }
    }
    for (const key of keys) this.#keyOwners.set(key, processId);
  }

  // The live state must equal the state replayed from the stream (in full and from the last
  // snapshot): otherwise a worker restart would see a different process.
  #checkReplay(processId: string, live: ProcessState<S>, label: string): void {
    const events = this.stream(processId);
    for (const useSnapshots of [false, true]) {
      const replayed = this.engine.replay(processId, events, { useSnapshots });
      try {
        deepStrictEqual(comparable(replayed), comparable(live));
      } catch {
        throw new AssertionError({
          message:
            `After ${label}, replaying ${live.stream}${useSnapshots ? ' from its last snapshot' : ''} gives a different state than the live one:\n` +
            `  live     ${show(comparable(live))}\n  replayed ${show(comparable(replayed))}\n` +
            `Handlers must change state only through ctx.record and @Apply, and state fields need @Type(() => X) for Dates and nested classes.`,
        });
      }
    }
  }

  #findCommand(command: Class | string): { processId: string; commandId: string; type: string } {
    const wanted = typeof command === 'string' ? undefined : this.registry.typeOf(command);
    const candidates: { processId: string; commandId: string; type: string }[] = [];
    for (const [processId, events] of this.#streams) {
      for (const e of events) {
        if (
          e.type !== ProcessEventTypes.CommandScheduled &&
          e.type !== ProcessEventTypes.CompensationScheduled
        )
          continue;
        const commandId = e.data.commandId as string;
        const type = e.data.type as string;
        if (this.#answered.has(commandId)) continue;
        if (typeof command === 'string' ? commandId === command : type === wanted)
          candidates.push({ processId, commandId, type });
      }
    }
    const found = candidates[candidates.length - 1];
    if (!found) {
      const name = typeof command === 'string' ? `command ${command}` : `${command.name} command`;
      throw new AssertionError({ message: `No unanswered ${name} was sent by the process.` });
    }
    return found;
  }

  #serialized(message: object): { type: string; data: PlainData } {
    return this.registry.serialize(message);
  }
}

function comparable(state: ProcessState<object>): unknown {
  return {
    revision: state.revision,
    status: state.status,
    definitionVersion: state.definitionVersion,
    data: toPlain(state.data),
    handled: [...state.handled],
    commands: [...state.commands.values()],
    compensations: state.compensations,
    timers: [...state.timers.values()].map((t) => ({ key: t.key, dueAt: t.dueAt.toISOString() })),
    keys: [...state.keys],
    failure: state.failure,
    quarantine: state.quarantine,
  };
}

function pick(
  actual: { key: string; dueAt?: Date; delayMs?: number },
  shape: ExpectedTimeout | undefined,
  now: Date,
): ExpectedTimeout {
  const dueAt =
    actual.dueAt ?? (actual.delayMs === undefined ? undefined : new Date(now.getTime() + actual.delayMs));
  return {
    key: actual.key,
    ...(shape?.dueAt !== undefined && dueAt ? { dueAt } : {}),
    ...(shape?.delayMs !== undefined && dueAt ? { delayMs: dueAt.getTime() - now.getTime() } : {}),
  };
}

function show(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}
