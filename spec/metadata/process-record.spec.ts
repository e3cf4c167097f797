import { expect } from 'chai';
import 'reflect-metadata';
import { CommandHandler, Event, On, ProcessManager, StartedBy } from '../../lib/decorators';
import {
  PROCESS_RECORD_KEY,
  commandHandlerRecordOf,
  messageRecordOf,
  processRecordOf,
} from '../../lib/metadata';

@Event('Happened')
class Happened {
  constructor(readonly id = '') {}
}

@ProcessManager({ name: 'recorded', version: 2 })
class Recorded {
  @StartedBy(Happened, (e) => e.id)
  start(): void {}
  @On(Happened, (e) => e.id)
  again(): void {}
}

class Service {
  @CommandHandler(Happened)
  handle(): void {}
}

describe('decorator records', () => {
  describe('when a process class is decorated', () => {
    it('stores one frozen record under the shared Symbol.for key', () => {
      const record = processRecordOf(Recorded);
      expect(Reflect.getOwnMetadata(Symbol.for('sagastream:process'), Recorded)).to.equal(record);
      expect(PROCESS_RECORD_KEY).to.equal(Symbol.for('sagastream:process'));
      expect(record?.options).to.deep.equal({ name: 'recorded', version: 2 });
      expect(record?.members.map((m) => [m.kind, m.method])).to.deep.equal([
        ['startedBy', 'start'],
        ['on', 'again'],
      ]);
      expect(Object.isFrozen(record)).to.equal(true);
      expect(Object.isFrozen(record?.members)).to.equal(true);
    });

    it('does not leak a base class record onto a subclass', () => {
      class Sub extends Recorded {}
      expect(processRecordOf(Sub)).to.equal(undefined);
    });
  });

  describe('when message and service classes are decorated', () => {
    it('records the type name and the command handlers', () => {
      expect(messageRecordOf(Happened)).to.deep.equal({ kind: 'event', type: 'Happened' });
      expect(commandHandlerRecordOf(Service)?.handlers.map((h) => [h.method, h.command])).to.deep.equal([
        ['handle', Happened],
      ]);
    });
  });
});
