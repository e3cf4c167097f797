import { expect } from 'chai';
import { CheckpointTracker } from '../../lib/runtime/checkpoint-tracker';

describe('CheckpointTracker', () => {
  describe('when messages finish out of order', () => {
    it('never moves past a message that is not done', () => {
      const tracker = new CheckpointTracker(4n);
      const a = tracker.track(5n);
      const b = tracker.track(6n);
      const c = tracker.track(7n);
      c.done();
      expect(tracker.safeCheckpoint).to.equal(4n);
      a.done();
      expect(tracker.safeCheckpoint).to.equal(5n);
      b.done();
      expect(tracker.safeCheckpoint).to.equal(7n);
      expect(tracker.outstanding).to.equal(0);
    });
  });

  describe('when a message needs no work', () => {
    it('advances past it once everything before it is done', () => {
      const tracker = new CheckpointTracker();
      const a = tracker.track(0n);
      tracker.skip(1n);
      expect(tracker.safeCheckpoint).to.equal(undefined);
      a.done();
      expect(tracker.safeCheckpoint).to.equal(1n);
    });
  });

  describe('when a ticket is done twice', () => {
    it('does not count it for the message after it', () => {
      const tracker = new CheckpointTracker();
      const a = tracker.track(1n);
      const b = tracker.track(2n);
      a.done();
      a.done();
      expect(tracker.safeCheckpoint).to.equal(1n);
      expect(tracker.outstanding).to.equal(1);
      b.done();
      expect(tracker.safeCheckpoint).to.equal(2n);
    });
  });
});
