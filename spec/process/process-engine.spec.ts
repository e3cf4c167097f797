import { expect } from 'chai';
import { Type } from 'class-transformer';
import {
  Apply,
  Command,
  Event,
  On,
  OnCommandFailed,
  OnTimeout,
  ProcessManager,
  StartedBy,
} from '../../lib/decorators';
import { HandlerError, UnknownEventTypeError } from '../../lib/errors';
import { CAUSATION_ID, CORRELATION_ID, type DecodedEvent, MessageRegistry } from '../../lib/messages';
import {
  type CommandFailure,
  type Decision,
  type ProcessContext,
  ProcessEngine,
  type ProcessInput,
  type ProcessState,
  defineProcess,
  deterministicId,
  isSnapshotRecord,
} from '../../lib/process';

@Event('Started')
class Started {
  constructor(readonly id = '') {}
}
@Event('Ping')
class Ping {
  constructor(
    readonly ids: string[] = [],
    readonly n = 0,
  ) {}
}
class Detail {
  constructor(readonly label = '') {}
  shout(): string {
    return this.label.toUpperCase();
  }
}
@Event('Pinged')
class Pinged {
  @Type(() => Date) readonly at: Date;
  @Type(() => Detail) readonly detail: Detail;
  constructor(
    readonly n = 0,
    at = new Date(0),
    detail = new Detail(),
  ) {
    this.at = at;
    this.detail = detail;
  }
}
@Command('Pong')
class Pong {
  constructor(readonly n = 0) {}
}

let handlerCalls = 0;

@ProcessManager({ name: 'pinger', snapshotEvery: 5, handledInputsKept: 4 })
class Pinger {
  count = 0;
  @Type(() => Date) last: Date | undefined;
  @Type(() => Detail) detail = new Detail();

  @StartedBy(Started, (e) => e.id)
  start(_e: Started, ctx: ProcessContext<Pinger>): void {
    handlerCalls++;
    ctx.schedule('tick', 1000);
  }

  @On(Ping, (e) => e.ids)
  ping(e: Ping, ctx: ProcessContext<Pinger>): unknown {
    handlerCalls++;
    if (e.n === -1) throw new Error('negative ping');
    if (e.n === -2) return Promise.resolve();
    if (e.n === -3) ctx.schedule('unknown', 5);
    if (e.n === -4) ctx.record(new Pong(1));
    ctx.record(new Pinged(e.n, ctx.now, new Detail(`ping ${e.n}`)));
    ctx.dispatch(new Pong(e.n));
    ctx.dispatch(new Pong(e.n + 1));
    return undefined;
  }

  @OnTimeout('tick')
  tick(_t: unknown, ctx: ProcessContext<Pinger>): void {
    ctx.record(new Pinged(-100, ctx.now));
  }

  @Apply(Pinged)
  pinged(e: Pinged): void {
    this.count++;
    this.last = e.at;
    this.detail = e.detail;
  }
}

const NOW = new Date('2024-05-01T10:00:00.000Z');

function setup(): { registry: MessageRegistry; engine: ProcessEngine<Pinger> } {
  const registry = new MessageRegistry();
  return { registry, engine: new ProcessEngine(defineProcess(Pinger, registry)) };
}

let deliveries = 0;
function input(registry: MessageRegistry, message: object, id = `evt-${++deliveries}`): ProcessInput {
  const event: DecodedEvent = {
    id,
    type: registry.typeOf(message)!,
    stream: 'source-1',
    revision: BigInt(deliveries),
    message,
    metadata: {},
  };
  return { kind: 'event', event };
}

/** An in-memory process stream: what the runtime would append and read back. */
class Log {
  readonly records: {
    id: string;
    type: string;
    stream: string;
    revision: bigint;
    data: unknown;
    isJson: true;
  }[] = [];
  append(state: ProcessState<Pinger>, decision: Decision<Pinger>): ProcessState<Pinger> {
    expect(decision.expectedRevision).to.equal(state.revision ?? 'no_stream');
    for (const e of decision.events) {
      this.records.push({
        id: e.id,
        type: e.type,
        stream: state.stream,
        revision: BigInt(this.records.length),
        data: JSON.parse(JSON.stringify(e.data)),
        isJson: true,
      });
    }
    return decision.state;
  }
}

function comparable(state: ProcessState<Pinger>): unknown {
  return {
    ...state,
    handled: [...state.handled],
    commands: [...state.commands],
    timers: [...state.timers],
    data: JSON.parse(JSON.stringify(state.data)),
  };
}

describe('ProcessEngine', () => {
  beforeEach(() => {
    handlerCalls = 0;
  });

  describe('when replaying a stream', () => {
    it('rebuilds the state through appliers and framework events without running a handler', () => {
      const { registry, engine } = setup();
      const log = new Log();
      let state = log.append(
        engine.initialState('a'),
        engine.handle(engine.initialState('a'), input(registry, new Started('a')), NOW),
      );
      state = log.append(state, engine.handle(state, input(registry, new Ping(['a'], 7)), NOW));
      const calls = handlerCalls;
      const replayed = engine.replay('a', log.records);
      expect(handlerCalls).to.equal(calls);
      expect(replayed.data.count).to.equal(1);
      expect(replayed.data.last).to.deep.equal(NOW);
      expect(replayed.data.detail.shout()).to.equal('PING 7');
      expect(replayed.revision).to.equal(BigInt(log.records.length - 1));
      expect(comparable(replayed)).to.deep.equal(comparable(state));
    });

    it('continues a cached state with only the events after its revision', () => {
      const { registry, engine } = setup();
      const log = new Log();
      let state = log.append(
        engine.initialState('a'),
        engine.handle(engine.initialState('a'), input(registry, new Started('a')), NOW),
      );
      const cached = state;
      state = log.append(state, engine.handle(state, input(registry, new Ping(['a'], 1)), NOW));
      const caughtUp = engine.replay(cached, log.records.slice(Number(cached.revision) + 1));
      expect(comparable(caughtUp)).to.deep.equal(comparable(state));
    });

    it('reports an own event of an unknown type with its stream and revision', () => {
      const { engine } = setup();
      const records = [
        { id: 'e-1', type: 'Mystery', stream: 'pinger-a', revision: 3n, data: {}, isJson: true },
      ];
      try {
        engine.replay('a', records);
        expect.fail('replay should throw');
      } catch (err) {
        expect(err).to.be.instanceOf(UnknownEventTypeError);
        expect(err).to.include({ stream: 'pinger-a', revision: 3n, eventId: 'e-1', eventType: 'Mystery' });
      }
    });
  });

  describe('when the stream grows past snapshotEvery', () => {
    it('appends snapshots, and replay from the last snapshot equals a full replay', () => {
      const { registry, engine } = setup();
      const log = new Log();
      let state = log.append(
        engine.initialState('a'),
        engine.handle(engine.initialState('a'), input(registry, new Started('a')), NOW),
      );
      for (let n = 0; n < 12; n++) {
        const at = new Date(NOW.getTime() + n * 60_000);
        state = log.append(state, engine.handle(state, input(registry, new Ping(['a'], n)), at));
      }
      const snapshots = log.records.filter(isSnapshotRecord);
      expect(snapshots.length).to.be.greaterThan(2);
      const lastSnapshot = log.records.lastIndexOf(snapshots[snapshots.length - 1]!);
      const fromSnapshot = engine.replay('a', log.records.slice(lastSnapshot));
      const full = engine.replay('a', log.records, { useSnapshots: false });
      expect(comparable(fromSnapshot)).to.deep.equal(comparable(full));
      expect(comparable(full)).to.deep.equal(comparable(state));
      expect(fromSnapshot.data.last).to.be.instanceOf(Date);
      expect(fromSnapshot.data.detail.shout()).to.equal('PING 11');
      expect(fromSnapshot.timers.get('tick')?.dueAt).to.deep.equal(new Date(NOW.getTime() + 1000));
    });

    it('keeps only the newest handled ids, so the snapshot stays bounded', () => {
      const { registry, engine } = setup();
      let state = engine.handle(
        engine.initialState('a'),
        input(registry, new Started('a'), 'start'),
        NOW,
      ).state;
      for (let n = 0; n < 6; n++)
        state = engine.handle(state, input(registry, new Ping(['a'], n), `ping-${n}`), NOW).state;
      expect([...state.handled]).to.deep.equal(['ping-2', 'ping-3', 'ping-4', 'ping-5']);
    });
  });

  describe('when deciding', () => {
    it('produces the same event and command ids when the same decision runs again', () => {
      const { registry, engine } = setup();
      const state = engine.handle(engine.initialState('a'), input(registry, new Started('a')), NOW).state;
      const ping = input(registry, new Ping(['a'], 3), 'ping-3');
      const first = engine.handle(state, ping, NOW);
      const second = engine.handle(state, ping, NOW);
      expect(second.events).to.deep.equal(first.events);
      const scheduled = first.events
        .filter((e) => e.type === 'sagastream.CommandScheduled')
        .map((e) => e.data.commandId);
      expect(scheduled).to.deep.equal([
        deterministicId('a', 'ping-3', 'command', '0'),
        deterministicId('a', 'ping-3', 'command', '1'),
      ]);
      expect(new Set(first.events.map((e) => e.id)).size).to.equal(first.events.length);
    });

    it('puts $correlationId and $causationId on every event it produces', () => {
      const { registry, engine } = setup();
      const decision = engine.handle(
        engine.initialState('a'),
        input(registry, new Started('a'), 'start-a'),
        NOW,
      );
      expect(decision.events.length).to.be.greaterThan(1);
      for (const e of decision.events)
        expect(e.metadata).to.deep.equal({ [CORRELATION_ID]: 'a', [CAUSATION_ID]: 'start-a' });
    });

    it('never changes the state it was given', () => {
      const { registry, engine } = setup();
      const state = engine.handle(engine.initialState('a'), input(registry, new Started('a')), NOW).state;
      const before = comparable(state);
      engine.handle(state, input(registry, new Ping(['a'], 1)), NOW);
      expect(comparable(state)).to.deep.equal(before);
    });

    it('copies the user state only for inputs that run user code', () => {
      const { registry, engine } = setup();
      const started = engine.handle(engine.initialState('a'), input(registry, new Started('a')), NOW).state;
      const pinged = engine.handle(started, input(registry, new Ping(['a'], 1)), NOW);
      expect(pinged.state.data).not.to.equal(started.data);
      expect(pinged.state.data.count).to.equal(1);
      expect(started.data.count).to.equal(0);
      // A failed command with no failure handler: framework events only, the same user state.
      const commandId = [...pinged.state.commands.keys()][0]!;
      const failed = engine.handle(
        pinged.state,
        { kind: 'commandFailed', commandId, error: { message: 'no' } },
        NOW,
      );
      expect(failed.outcome).to.equal('handled');
      expect(failed.state.status).to.equal('compensated');
      expect(failed.state.data).to.equal(pinged.state.data);
    });

    it('never changes the state it was given when the handler mutates an undecorated state in place', () => {
      class Entry {
        constructor(readonly n = 0) {}
        double(): number {
          return this.n * 2;
        }
      }
      @Event('Tallied')
      class Tallied {
        constructor(readonly n = 0) {}
      }
      @ProcessManager({ name: 'tally' })
      class Tally {
        total = 0;
        since = new Date(0);
        entries: Entry[] = [];
        byParity: { even: number[]; odd: number[] } = { even: [], odd: [] };

        @StartedBy(Started, (e) => e.id)
        start(): void {}

        @On(Tallied, () => 't')
        tallied(e: Tallied, ctx: ProcessContext<Tally>): void {
          ctx.record(e);
        }

        @Apply(Tallied)
        add(e: Tallied): void {
          this.total += e.n;
          this.since = new Date(this.since.getTime() + e.n);
          this.entries.push(new Entry(e.n));
          (e.n % 2 === 0 ? this.byParity.even : this.byParity.odd).push(e.n);
        }
      }
      const registry = new MessageRegistry();
      const engine = new ProcessEngine(defineProcess(Tally, registry));
      const log: { id: string; type: string; stream: string; revision: bigint; data: unknown }[] = [];
      let state = engine.initialState('t');
      const states: { state: ProcessState<Tally>; json: string }[] = [];
      for (const [i, message] of [
        new Started('t'),
        new Tallied(1),
        new Tallied(2),
        new Tallied(3),
      ].entries()) {
        const decision = engine.handle(state, input(registry, message, `t-${i}`), NOW);
        for (const e of decision.events) {
          log.push({
            id: e.id,
            type: e.type,
            stream: state.stream,
            revision: BigInt(log.length),
            data: e.data,
          });
        }
        states.push({ state, json: JSON.stringify(state.data) });
        state = decision.state;
      }
      for (const { state: earlier, json } of states) expect(JSON.stringify(earlier.data)).to.equal(json);
      expect(state.data).to.be.instanceOf(Tally);
      expect(state.data.total).to.equal(6);
      expect(state.data.since).to.be.instanceOf(Date);
      expect(state.data.since.getTime()).to.equal(6);
      expect(state.data.entries.map((e) => e.double())).to.deep.equal([2, 4, 6]);
      expect(state.data.byParity).to.deep.equal({ even: [2], odd: [1, 3] });
      const replayed = engine.replay('t', log);
      expect(JSON.stringify(replayed.data)).to.equal(JSON.stringify(state.data));
    });

    it('records the input id in the same batch as the decision', () => {
      const { registry, engine } = setup();
      const state = engine.handle(engine.initialState('a'), input(registry, new Started('a')), NOW).state;
      const decision = engine.handle(state, input(registry, new Ping(['a'], 1), 'p1'), NOW);
      expect(decision.events[0]).to.deep.include({ type: 'sagastream.InputRecorded' });
      expect(decision.events[0]?.data).to.deep.include({
        eventId: 'p1',
        kind: 'event',
        type: 'Ping',
        stream: 'source-1',
      });
      expect(engine.handle(decision.state, input(registry, new Ping(['a'], 1), 'p1'), NOW)).to.deep.include({
        outcome: 'duplicate',
        events: [],
      });
    });
  });

  describe('when routing', () => {
    it('sends an event to every instance its correlate names, once each', () => {
      const { registry, engine } = setup();
      expect(engine.route({ type: 'Ping', message: new Ping(['a', 'b', 'a']) })).to.deep.equal({
        processIds: ['a', 'b'],
        keys: [],
        starts: false,
        handler: 'Pinger.ping',
      });
      expect(engine.route({ type: 'Started', message: new Started('z') })?.starts).to.equal(true);
      expect(engine.route({ type: 'Pong', message: new Pong() })).to.equal(undefined);
      void registry;
    });

    it('routes one id, a one-element array and an empty array without losing or doubling ids', () => {
      const { engine } = setup();
      const first = engine.route({ type: 'Ping', message: new Ping(['a']) });
      expect(first).to.deep.equal({ processIds: ['a'], keys: [], starts: false, handler: 'Pinger.ping' });
      expect(engine.route({ type: 'Ping', message: new Ping(['a']) })?.processIds).not.to.equal(
        first?.processIds,
      );
      expect(engine.route({ type: 'Ping', message: new Ping([]) })?.processIds).to.deep.equal([]);
      expect(engine.route({ type: 'Started', message: new Started('z') })).to.deep.equal({
        processIds: ['z'],
        keys: [],
        starts: true,
        handler: 'Pinger.start',
      });
      expect(() => engine.route({ id: 'e8', type: 'Ping', message: new Ping(['a', '']) })).to.throw(
        HandlerError,
        /Pinger\.ping returned \["a",""\] for event e8/,
      );
    });

    it('throws a HandlerError when correlate returns no id', () => {
      const { engine } = setup();
      expect(() => engine.route({ id: 'e9', type: 'Started', message: new Started('') })).to.throw(
        HandlerError,
        /Pinger\.start returned "" for event e9/,
      );
    });
  });

  describe('when a handler misbehaves', () => {
    const running = () => {
      const { registry, engine } = setup();
      return {
        registry,
        engine,
        state: engine.handle(engine.initialState('a'), input(registry, new Started('a')), NOW).state,
      };
    };

    it('wraps a thrown error in a HandlerError with the process, input and handler', () => {
      const { registry, engine, state } = running();
      try {
        engine.handle(state, input(registry, new Ping(['a'], -1), 'bad'), NOW);
        expect.fail('handle should throw');
      } catch (err) {
        expect(err).to.be.instanceOf(HandlerError);
        expect(err).to.include({
          processName: 'pinger',
          processId: 'a',
          inputId: 'bad',
          handler: 'Pinger.ping',
        });
        expect((err as HandlerError).cause).to.be.instanceOf(Error);
      }
    });

    it('rejects an async handler', () => {
      const { registry, engine, state } = running();
      expect(() => engine.handle(state, input(registry, new Ping(['a'], -2)), NOW)).to.throw(
        HandlerError,
        /returned a promise/,
      );
    });

    it('rejects a timeout key without an @OnTimeout handler', () => {
      const { registry, engine, state } = running();
      expect(() => engine.handle(state, input(registry, new Ping(['a'], -3)), NOW)).to.throw(
        HandlerError,
        /no @OnTimeout\('unknown'\)/,
      );
    });

    it('rejects recording a command as an own event', () => {
      const { registry, engine, state } = running();
      expect(() => engine.handle(state, input(registry, new Ping(['a'], -4)), NOW)).to.throw(
        HandlerError,
        /use ctx\.dispatch/,
      );
    });
  });

  describe('when an instance is quarantined', () => {
    it('holds every later input until released, then handles it', () => {
      const { registry, engine } = setup();
      let state = engine.handle(engine.initialState('a'), input(registry, new Started('a')), NOW).state;
      const bad = input(registry, new Ping(['a'], 5), 'poison');
      const quarantine = engine.quarantine(state, bad, new Error('db down'));
      expect(quarantine.events.map((e) => e.type)).to.deep.equal(['sagastream.ProcessQuarantined']);
      expect(quarantine.events[0]?.data).to.deep.equal({
        eventId: 'poison',
        error: { message: 'db down', name: 'Error' },
      });
      state = quarantine.state;
      expect(engine.handle(state, input(registry, new Ping(['a'], 6)), NOW).outcome).to.equal('quarantined');
      state = engine.release(state).state;
      expect(engine.handle(state, bad, NOW).outcome).to.equal('handled');
    });

    it('skips the poison input when released with skip', () => {
      const { registry, engine } = setup();
      let state = engine.handle(engine.initialState('a'), input(registry, new Started('a')), NOW).state;
      const bad = input(registry, new Ping(['a'], 5), 'poison');
      state = engine.release(engine.quarantine(state, bad, 'boom').state, { skip: true }).state;
      expect(engine.handle(state, bad, NOW).outcome).to.equal('duplicate');
      expect(engine.release(state).outcome).to.equal('stale');
    });
  });

  describe('when a timeout input is not pending', () => {
    it('answers stale for a wrong due time and fires the pending one once', () => {
      const { registry, engine } = setup();
      const state = engine.handle(engine.initialState('a'), input(registry, new Started('a')), NOW).state;
      const dueAt = state.timers.get('tick')!.dueAt;
      expect(
        engine.handle(state, { kind: 'timeout', key: 'tick', dueAt: new Date(dueAt.getTime() + 1) }, dueAt)
          .outcome,
      ).to.equal('stale');
      const fired = engine.handle(state, { kind: 'timeout', key: 'tick', dueAt }, dueAt);
      expect(fired.events.map((e) => e.type).slice(0, 3)).to.deep.equal([
        'sagastream.InputRecorded',
        'sagastream.TimeoutFired',
        'Pinged',
      ]);
      expect(fired.state.timers.size).to.equal(0);
      expect(engine.handle(fired.state, { kind: 'timeout', key: 'tick', dueAt }, dueAt).outcome).to.equal(
        'duplicate',
      );
    });
  });

  describe('when the beforeStart policy is ignore', () => {
    it('reports the early event without writing anything', () => {
      @ProcessManager({ name: 'quiet', beforeStart: 'ignore' })
      class Quiet {
        @StartedBy(Started, (e) => e.id)
        start(): void {}
        @On(Ping, (e) => e.ids)
        ping(): void {}
      }
      const registry = new MessageRegistry();
      const engine = new ProcessEngine(defineProcess(Quiet, registry));
      const decision = engine.handle(engine.initialState('q'), input(registry, new Ping(['q'])), NOW);
      expect(decision).to.deep.include({ outcome: 'beforeStart', events: [], expectedRevision: 'no_stream' });
    });
  });

  describe('when a start event reaches a running instance', () => {
    it('records it as ignored instead of starting twice', () => {
      const { registry, engine } = setup();
      const state = engine.handle(engine.initialState('a'), input(registry, new Started('a')), NOW).state;
      const again = engine.handle(state, input(registry, new Started('a')), NOW);
      expect(again.outcome).to.equal('alreadyStarted');
      expect(again.events.map((e) => e.type)).to.deep.equal(['sagastream.InputIgnored']);
    });
  });
});

@Event('ParcelReady')
class ParcelReady {
  constructor(
    readonly id = '',
    readonly address = '',
  ) {}
}
@Command('Ship')
class Ship {
  constructor(readonly address = '') {}
}
@Command('Notify')
class Notify {
  constructor(readonly text = '') {}
}

@ProcessManager({ name: 'parcel' })
class Parcel {
  failedAddress: string | undefined;

  @StartedBy(ParcelReady, (e) => e.id)
  ready(e: ParcelReady, ctx: ProcessContext<Parcel>): void {
    ctx.dispatch(new Ship(e.address));
    ctx.dispatch(new Notify(`shipping to ${e.address}`));
  }

  @OnCommandFailed(Ship)
  shipFailed(failure: CommandFailure<Ship>): void {
    this.failedAddress = failure.command.address;
  }
}

describe('ProcessEngine command payloads', () => {
  const setupParcel = () => {
    const registry = new MessageRegistry();
    const engine = new ProcessEngine(defineProcess(Parcel, registry));
    const started = engine.handle(
      engine.initialState('p1'),
      input(registry, new ParcelReady('p1', '1 Main St')),
      NOW,
    );
    return { engine, started };
  };

  describe('when a process schedules commands', () => {
    it('keeps the payload only of a command type with an @OnCommandFailed handler', () => {
      const { started } = setupParcel();
      const kept = [...started.state.commands.values()].map((c) => [c.type, c.data]);
      expect(kept).to.deep.equal([
        ['Ship', { address: '1 Main St' }],
        ['Notify', undefined],
      ]);
    });

    it('still writes every payload into the stream for the relay', () => {
      const { started } = setupParcel();
      const scheduled = started.events.filter((e) => e.type === 'sagastream.CommandScheduled');
      expect(scheduled.map((e) => (e.data as { data: unknown }).data)).to.deep.equal([
        { address: '1 Main St' },
        { text: 'shipping to 1 Main St' },
      ]);
    });
  });

  describe('when a command fails and the state holds no payload for it', () => {
    it('gives the @OnCommandFailed handler the payload the input carries', () => {
      const { engine, started } = setupParcel();
      const ship = [...started.state.commands.values()].find((c) => c.type === 'Ship')!;
      // A snapshot that kept no payloads (one written before the handler existed).
      const snapshot = engine.replay('p1', [
        {
          id: 'snap',
          type: 'sagastream.Snapshot',
          stream: 'parcel-p1',
          revision: 4n,
          isJson: true,
          metadata: {},
          data: {
            schema: 1,
            status: 'running',
            data: {},
            handled: [],
            commands: [{ commandId: ship.commandId, type: 'Ship' }],
            compensations: [],
            timers: [],
          },
        },
      ]);
      expect(snapshot.commands.get(ship.commandId)?.data).to.equal(undefined);
      const decision = engine.handle(
        snapshot,
        {
          kind: 'commandFailed',
          commandId: ship.commandId,
          error: { message: 'no such street' },
          data: { address: '1 Main St' },
        },
        NOW,
      );
      expect(decision.outcome).to.equal('handled');
      expect(decision.state.data.failedAddress).to.equal('1 Main St');
    });
  });
});
