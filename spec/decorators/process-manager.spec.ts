import { expect } from 'chai';
import {
  Apply,
  Command,
  Event,
  OnCommandFailed,
  OnTimeout,
  ProcessManager,
  StartedBy,
} from '../../lib/decorators';
import { processRecordOf } from '../../lib/metadata';

@Event('Begun')
class Begun {
  constructor(readonly id = '') {}
}
@Command('Act')
class Act {}

describe('process decorators', () => {
  describe('when every kind is used on one class', () => {
    it('records each with what it names, in declaration order', () => {
      const correlate = (e: Begun) => e.id;
      @ProcessManager({ name: 'all' })
      class All {
        @StartedBy(Begun, correlate)
        start(): void {}
        @Apply(Begun)
        applied(): void {}
        @OnTimeout('soon')
        soon(): void {}
        @OnCommandFailed(Act)
        failed(): void {}
      }
      expect(processRecordOf(All)?.members).to.deep.equal([
        { kind: 'startedBy', method: 'start', isStatic: false, event: Begun, correlate },
        { kind: 'apply', method: 'applied', isStatic: false, event: Begun },
        { kind: 'timeout', method: 'soon', isStatic: false, key: 'soon' },
        { kind: 'commandFailed', method: 'failed', isStatic: false, command: Act },
      ]);
    });
  });
});
