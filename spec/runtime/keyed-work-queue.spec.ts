import { expect } from 'chai';
import { KeyedWorkQueue } from '../../lib/runtime/keyed-work-queue';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

describe('KeyedWorkQueue', () => {
  describe('when one key has several items', () => {
    it('runs them one at a time in push order', async () => {
      const log: string[] = [];
      let running = 0;
      let overlap = false;
      const queue = new KeyedWorkQueue<number>({
        concurrency: 8,
        worker: async (key, item) => {
          running++;
          if (running > 1) overlap = true;
          await new Promise((r) => setImmediate(r));
          log.push(`${key}:${item}`);
          running--;
        },
      });
      for (let i = 0; i < 5; i++) queue.push('a', i);
      await queue.whenIdle();
      expect(log).to.deep.equal(['a:0', 'a:1', 'a:2', 'a:3', 'a:4']);
      expect(overlap).to.equal(false);
    });
  });

  describe('when many keys have work', () => {
    it('never runs more keys at once than the concurrency', async () => {
      let running = 0;
      let peak = 0;
      const queue = new KeyedWorkQueue<number>({
        concurrency: 3,
        worker: async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setImmediate(r));
          running--;
        },
      });
      for (let i = 0; i < 50; i++) queue.push(`k${i % 10}`, i);
      await queue.whenIdle();
      expect(peak).to.equal(3);
    });
  });

  describe('when a key is paused', () => {
    it('holds its items while other keys keep flowing, and runs them after resume', async () => {
      const done: string[] = [];
      const queue = new KeyedWorkQueue<string>({
        concurrency: 2,
        worker: async (_k, item) => void done.push(item),
      });
      queue.pause('stuck');
      queue.push('stuck', 's1');
      queue.push('other', 'o1');
      await queue.whenIdle();
      expect(done).to.deep.equal(['o1']);
      expect(queue.size).to.equal(1);
      queue.resume('stuck');
      await queue.whenIdle();
      expect(done).to.deep.equal(['o1', 's1']);
    });
  });

  describe('when waiting for capacity', () => {
    it('resolves only once the backlog falls below the limit', async () => {
      const gate = deferred();
      const queue = new KeyedWorkQueue<number>({ concurrency: 1, worker: () => gate.promise });
      queue.push('a', 1);
      queue.push('a', 2);
      let resolved = false;
      const below = queue.whenBelow(2).then(() => (resolved = true));
      await new Promise((r) => setImmediate(r));
      expect(resolved).to.equal(false);
      gate.resolve();
      await below;
      expect(resolved).to.equal(true);
    });
  });

  describe('when the backlog is large', () => {
    it('drains 100k items across 1k keys in linear time', async () => {
      let count = 0;
      const queue = new KeyedWorkQueue<number>({ concurrency: 16, worker: async () => void count++ });
      const started = process.hrtime.bigint();
      for (let i = 0; i < 100_000; i++) queue.push(`k${i % 1000}`, i);
      await queue.whenIdle();
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      expect(count).to.equal(100_000);
      // Quadratic bookkeeping (Array.shift on the backlog) takes tens of seconds here.
      expect(ms).to.be.below(5000);
    });
  });
});
