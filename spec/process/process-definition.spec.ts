import { expect } from 'chai';
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
import { DefinitionError } from '../../lib/errors';
import { MessageRegistry } from '../../lib/messages';
import { defineProcess } from '../../lib/process';
import { OrderFulfillment, OrderPlaced, PaymentCharged } from './fixtures/order-fulfillment';

class NotAMessage {
  constructor(readonly id = '') {}
}

@Event('Thing.Happened')
class ThingHappened {
  constructor(readonly id = '') {}
}

@Command('DoThing')
class DoThing {}

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(DefinitionError);
    return (err as DefinitionError).problems;
  }
  expect.fail('expected a DefinitionError');
}

describe('defineProcess', () => {
  describe('when the definition is valid', () => {
    it('lists the input types, start types and registers the classes it names', () => {
      const registry = new MessageRegistry();
      const definition = defineProcess(OrderFulfillment, registry);
      expect(definition.name).to.equal('orderFulfillment');
      expect(definition.version).to.equal(1);
      expect(definition.startEventTypes).to.deep.equal(['OrderPlaced']);
      expect(definition.inputEventTypes).to.include.members([
        'OrderPlaced',
        'PaymentCharged',
        'ShipmentFailed',
      ]);
      expect(registry.classOf('FulfillmentStarted')?.name).to.equal('FulfillmentStarted');
      expect(registry.classOf('PaymentCharged')).to.equal(PaymentCharged);
    });
  });

  describe('when the class has several problems', () => {
    it('throws one DefinitionError listing every problem', () => {
      @ProcessManager({ name: 'order-fulfillment', version: 0 })
      class Broken {
        @On(PaymentCharged, (e) => e.orderId)
        first(): void {}
        @On(PaymentCharged, (e) => e.orderId)
        second(): void {}
        @On(ThingHappened, 'id' as never)
        notAFunction(): void {}
        @Apply(NotAMessage)
        applyUnregistered(): void {}
        @OnTimeout('late')
        late1(): void {}
        @OnTimeout('late')
        late2(): void {}
        @On(undefined as unknown as typeof OrderPlaced, (e) => e.orderId)
        circular(): void {}
      }
      const problems = problemsOf(() => defineProcess(Broken, new MessageRegistry()));
      expect(problems).to.have.length(8);
      const text = problems.join('\n');
      expect(text).to.match(
        /process name 'order-fulfillment' contains '-'.*use camelCase \(e\.g\. 'orderFulfillment'\)/,
      );
      expect(text).to.match(/version must be a positive integer, got 0/);
      expect(text).to.match(/PaymentCharged has two handlers: Broken\.first and Broken\.second/);
      expect(text).to.match(/@On on Broken\.notAFunction: correlate must be a function/);
      expect(text).to.match(/@Apply on Broken\.applyUnregistered: NotAMessage is not a registered message/);
      expect(text).to.match(/timeout 'late' has two handlers/);
      expect(text).to.match(/@On on Broken\.circular: the event class is undefined \(a circular import\?\)/);
      expect(text).to.match(/Broken has no @StartedBy/);
    });

    it('names the class and the count in the message', () => {
      @ProcessManager({ name: 'x-y' })
      class Dashed {}
      expect(() => defineProcess(Dashed, new MessageRegistry())).to.throw(
        DefinitionError,
        /Invalid definition of process Dashed \(2 problems\)/,
      );
    });
  });

  describe('when @ProcessManager is missing', () => {
    it('reports it', () => {
      class Plain {
        @StartedBy(OrderPlaced, (e) => e.orderId)
        placed(): void {}
      }
      expect(problemsOf(() => defineProcess(Plain, new MessageRegistry()))).to.deep.equal([
        'Plain has no @ProcessManager({ name }) decorator.',
      ]);
    });
  });

  describe('when a handler names a command failure of an unregistered class or is static', () => {
    it('reports both', () => {
      @ProcessManager({ name: 'p' })
      class P {
        @StartedBy(ThingHappened, (e) => e.id)
        start(): void {}
        @OnCommandFailed(NotAMessage)
        failed(): void {}
        @OnCommandFailed(DoThing)
        static failedStatic(): void {}
      }
      const problems = problemsOf(() => defineProcess(P, new MessageRegistry()));
      expect(problems).to.have.length(2);
      expect(problems[0]).to.match(/@OnCommandFailed on P\.failed: NotAMessage is not a registered message/);
      expect(problems[1]).to.match(/must decorate an instance method/);
    });
  });

  describe('when the state class needs constructor arguments', () => {
    it('reports that the state needs a no-argument constructor', () => {
      @ProcessManager({ name: 'p' })
      class P {
        constructor(readonly dep: { x: number }) {
          void dep.x;
        }
        @StartedBy(ThingHappened, (e) => e.id)
        start(): void {}
      }
      expect(problemsOf(() => defineProcess(P, new MessageRegistry()))[0]).to.match(
        /no-argument constructor/,
      );
    });
  });
});
