import { expect } from 'chai';
import { Event, On, ProcessManager, StartedBy } from '../../lib/decorators';
import { DefinitionError, HandlerError } from '../../lib/errors';
import { type DecodedEvent, type EncodedEvent, MessageRegistry } from '../../lib/messages';
import {
  type Decision,
  type ProcessContext,
  ProcessEngine,
  ProcessEventTypes,
  type ProcessInput,
  type ProcessState,
  defineProcess,
} from '../../lib/process';
import {
  Delivery,
  LabelPrinted,
  ParcelBooked,
  ParcelDelivered,
  ParcelScanned,
  deliveryRegistry,
} from './fixtures/delivery';

const NOW = new Date('2024-05-01T10:00:00.000Z');

/** Feeds events through the engine, keeping the stream as the runtime would store it. */
class Instance {
  readonly registry = deliveryRegistry();
  readonly engine = new ProcessEngine(defineProcess(Delivery, this.registry));
  readonly records: EncodedEvent[] = [];
  state: ProcessState<Delivery>;
  private delivered = 0;

  constructor(readonly processId: string) {
    this.state = this.engine.initialState(processId);
  }

  feed(message: object): Decision<Delivery> {
    const event: DecodedEvent = {
      id: `${this.processId}-input-${++this.delivered}`,
      type: this.registry.typeOf(message)!,
      stream: 'source-1',
      revision: BigInt(this.delivered),
      message,
      metadata: {},
    };
    const input: ProcessInput = { kind: 'event', event };
    const decision = this.engine.handle(this.state, input, NOW);
    for (const e of decision.events) {
      this.records.push({
        id: e.id,
        type: e.type,
        stream: this.state.stream,
        revision: BigInt(this.records.length),
        data: JSON.parse(JSON.stringify(e.data)) as EncodedEvent['data'],
        isJson: true,
      });
    }
    this.state = decision.state;
    return decision;
  }
}

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(DefinitionError);
    return (err as DefinitionError).problems;
  }
  return expect.fail('expected a DefinitionError');
}

describe('ProcessEngine correlation keys', () => {
  describe('when a handler associates a key', () => {
    it('appends sagastream.KeyAssociated with the key and keeps it in the state', () => {
      const instance = new Instance('o1');
      instance.feed(new ParcelBooked('o1'));
      const decision = instance.feed(new LabelPrinted('o1', 'TRK-1'));
      const associated = decision.events.filter((e) => e.type === ProcessEventTypes.KeyAssociated);
      expect(associated.map((e) => e.data)).to.deep.equal([{ key: 'TRK-1' }]);
      expect([...instance.state.keys]).to.deep.equal(['TRK-1']);
    });

    it('rebuilds the keys on replay', () => {
      const instance = new Instance('o1');
      instance.feed(new ParcelBooked('o1'));
      instance.feed(new LabelPrinted('o1', 'TRK-1'));
      instance.feed(new LabelPrinted('o1', 'TRK-2'));
      const replayed = instance.engine.replay('o1', instance.records);
      expect([...replayed.keys]).to.deep.equal(['TRK-1', 'TRK-2']);
    });

    it('appends nothing new for a key the instance already has', () => {
      const instance = new Instance('o1');
      instance.feed(new ParcelBooked('o1'));
      instance.feed(new LabelPrinted('o1', 'TRK-1'));
      const again = instance.feed(new LabelPrinted('o1', 'TRK-1'));
      expect(again.events.map((e) => e.type)).to.deep.equal([ProcessEventTypes.InputRecorded]);
    });
  });

  describe('when an event is routed by key', () => {
    it('names the keys to resolve and no process id', () => {
      const { engine } = new Instance('o1');
      const route = engine.route({ type: 'ParcelScanned', message: new ParcelScanned('TRK-9', 'Lyon') });
      expect(route).to.deep.include({ processIds: [], keys: ['TRK-9'], starts: false });
    });

    it('names the process ids and no keys for a route by id', () => {
      const { engine } = new Instance('o1');
      const route = engine.route({ type: 'LabelPrinted', message: new LabelPrinted('o7', 'TRK-9') });
      expect(route).to.deep.include({ processIds: ['o7'], keys: [] });
    });

    it('throws a HandlerError naming byKey when it returns no key', () => {
      const { engine } = new Instance('o1');
      expect(() =>
        engine.route({ type: 'ParcelDelivered', message: new ParcelDelivered(undefined) }),
      ).to.throw(HandlerError, /byKey function of Delivery\.delivered .* non-empty lookup key/);
    });
  });

  describe('when a handler associates an empty key', () => {
    it('throws a HandlerError and appends nothing', () => {
      const instance = new Instance('o1');
      instance.feed(new ParcelBooked('o1'));
      expect(() => instance.feed(new LabelPrinted('o1', ''))).to.throw(
        HandlerError,
        /ctx\.associate needs a non-empty/,
      );
      expect(instance.state.keys.size).to.equal(0);
    });
  });

  describe('when the stream is snapshotted', () => {
    it('keeps the keys in the snapshot', () => {
      @Event('KeyedStarted')
      class KeyedStarted {
        constructor(readonly id = '') {}
      }
      @Event('KeyedLabel')
      class KeyedLabel {
        constructor(
          readonly id = '',
          readonly key = '',
        ) {}
      }
      @ProcessManager({ name: 'keyedSnap', snapshotEvery: 3 })
      class KeyedSnap {
        @StartedBy(KeyedStarted, (e) => e.id)
        start(): void {}
        @On(KeyedLabel, (e) => e.id)
        label(e: KeyedLabel, ctx: ProcessContext): void {
          ctx.associate(e.key);
        }
      }
      const registry = new MessageRegistry();
      const engine = new ProcessEngine(defineProcess(KeyedSnap, registry));
      let state = engine.initialState('s1');
      const records: EncodedEvent[] = [];
      const messages = [new KeyedStarted('s1'), new KeyedLabel('s1', 'A'), new KeyedLabel('s1', 'B')];
      messages.forEach((message, i) => {
        const event: DecodedEvent = {
          id: `in-${i}`,
          type: registry.typeOf(message)!,
          stream: 'src-1',
          revision: BigInt(i),
          message,
          metadata: {},
        };
        const decision = engine.handle(state, { kind: 'event', event }, NOW);
        for (const e of decision.events) {
          records.push({
            id: e.id,
            type: e.type,
            stream: state.stream,
            revision: BigInt(records.length),
            data: JSON.parse(JSON.stringify(e.data)) as EncodedEvent['data'],
            isJson: true,
          });
        }
        state = decision.state;
      });
      const snapshots = records.filter((r) => r.type === ProcessEventTypes.Snapshot);
      expect(snapshots).to.have.length.greaterThan(0);
      const fromSnapshot = engine.replay('s1', records.slice(records.lastIndexOf(snapshots.at(-1)!)));
      expect([...fromSnapshot.keys]).to.deep.equal(['A', 'B']);
    });
  });
});

describe('ProcessEngine.inspector', () => {
  describe('when it replays a quarantined instance without the process class', () => {
    it('sees the quarantine and keys, and builds the same release events as the real engine', () => {
      const instance = new Instance('o1');
      instance.feed(new ParcelBooked('o1'));
      instance.feed(new LabelPrinted('o1', 'TRK-1'));
      const held = instance.feed(new LabelPrinted('o1', 'TRK-2'));
      const quarantined = instance.engine.quarantine(instance.state, 'input-x', new Error('boom'));
      for (const e of quarantined.events) {
        instance.records.push({
          id: e.id,
          type: e.type,
          stream: held.state.stream,
          revision: BigInt(instance.records.length),
          data: JSON.parse(JSON.stringify(e.data)) as EncodedEvent['data'],
          isJson: true,
        });
      }
      const real = instance.engine.replay('o1', instance.records);
      const inspector = ProcessEngine.inspector('delivery');
      const seen = inspector.replay('o1', instance.records);
      expect(seen.status).to.equal('running');
      expect(seen.revision).to.equal(real.revision);
      expect(seen.quarantine).to.deep.equal({
        eventId: 'input-x',
        error: { message: 'boom', name: 'Error' },
      });
      expect([...seen.keys]).to.deep.equal(['TRK-1', 'TRK-2']);
      for (const skip of [false, true]) {
        const fromInspector = inspector.release(seen, { skip });
        const fromEngine = instance.engine.release(real, { skip });
        expect(fromInspector.events).to.deep.equal(fromEngine.events);
        expect(fromInspector.expectedRevision).to.equal(fromEngine.expectedRevision);
      }
    });
  });
});

describe('defineProcess with correlation keys', () => {
  describe('when keys are misused', () => {
    it('lists every problem in one DefinitionError', () => {
      @Event('KeyedThing')
      class KeyedThing {
        constructor(readonly key = '') {}
      }
      @Event('OtherThing')
      class OtherThing {
        constructor(readonly key = '') {}
      }
      @Event('ThirdThing')
      class ThirdThing {
        constructor(readonly key = '') {}
      }
      @ProcessManager({ name: 'badKeys' })
      class BadKeys {
        @StartedBy(KeyedThing, { byKey: (e: KeyedThing) => e.key } as never)
        start(): void {}
        @On(OtherThing, { byKey: 'key' } as never)
        notAFunction(): void {}
        @On(ThirdThing, { byKey: (e: ThirdThing) => e.key, byId: () => 'x' } as never)
        extraOption(): void {}
      }
      const problems = problemsOf(() => defineProcess(BadKeys, new MessageRegistry()));
      const text = problems.join('\n');
      expect(problems).to.have.length(3);
      expect(text).to.match(/@StartedBy on BadKeys\.start: a start event cannot be routed by key/);
      expect(text).to.match(
        /@On on BadKeys\.notAFunction: correlate must be a function .* or \{ byKey: \(event\) => key \}, got \{ byKey: string \}/,
      );
      expect(text).to.match(/@On on BadKeys\.extraOption: .*got an object with byKey, byId/);
    });
  });

  describe('when a handler routes by key', () => {
    it('marks the handler and the definition as routed by key', () => {
      const definition = defineProcess(Delivery, deliveryRegistry());
      expect(definition.routesByKey).to.equal(true);
      expect(definition.handlers.get('ParcelScanned')?.by).to.equal('key');
      expect(definition.handlers.get('LabelPrinted')?.by).to.equal('processId');
    });
  });
});
