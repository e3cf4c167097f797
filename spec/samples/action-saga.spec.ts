import { expect } from 'chai';
import { ProcessEventTypes as P } from '../../lib/process/process-events';
import { LocalEventStore } from '../../lib/store/local/local-event-store';
import { runActionSagaSample } from '../../samples/action-saga/app';

describe('action-saga sample', () => {
  let store: LocalEventStore;
  beforeEach(async () => (store = await LocalEventStore.open({ memory: true })));
  afterEach(() => store.close());

  describe('when baz fails', () => {
    it('runs fix-bar then fix-foo and records the saga as compensated', async () => {
      const { ran, error, published, stream } = await runActionSagaSample(store, 's1');
      expect(ran).to.deep.equal(['foo', 'bar', 'baz', 'fix-bar', 'fix-foo']);
      expect(error).to.include({ action: 'baz', status: 'compensated' });
      expect(published.map((e) => (e as { type: string }).type)).to.deep.equal([
        'FooDone',
        'BarDone',
        'BarUndone',
        'FooUndone',
      ]);
      expect(stream[0]).to.equal(P.ProcessStarted);
      expect(stream.at(-1)).to.equal(P.ProcessCompensated);
    });

    it('ends the same way when the saga is hosted by a ProcessRuntime', async () => {
      const { ran, error, stream } = await runActionSagaSample(store, 's2', 'runtime');
      expect(ran).to.deep.equal(['foo', 'bar', 'baz', 'fix-bar', 'fix-foo']);
      expect(error).to.include({ action: 'baz', status: 'compensated' });
      expect(stream.at(-1)).to.equal(P.ProcessCompensated);
    });
  });
});
