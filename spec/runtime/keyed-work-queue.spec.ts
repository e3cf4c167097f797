import { expect } from 'chai';
import { Fifo, KeyedWorkQueue } from '../../lib/runtime/keyed-work-queue';

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

  describe('when 100k items back up behind 1k keys', () => {
    it('runs each key strictly in push order and never more keys than the concurrency', async () => {
      const last = new Map<string, number>();
      let outOfOrder = 0;
      let running = 0;
      let peak = 0;
      const queue = new KeyedWorkQueue<number>({
        concurrency: 8,
        worker: async (key, item) => {
          running++;
          peak = Math.max(peak, running);
          if ((last.get(key) ?? -1) >= item) outOfOrder++;
          last.set(key, item);
          await Promise.resolve();
          running--;
        },
      });
      for (let i = 0; i < 100_000; i++) queue.push(`k${(i * 7919) % 1000}`, i);
      await queue.whenIdle();
      expect(outOfOrder).to.equal(0);
      expect(last.size).to.equal(1000);
      expect(peak).to.equal(8);
      expect(queue.size).to.equal(0);
    });
  });

  describe('when one key has a long backlog', () => {
    it('lets another key run after at most one burst of it', async () => {
      const order: string[] = [];
      const queue = new KeyedWorkQueue<number>({
        concurrency: 1,
        burst: 4,
        worker: async (key) => void order.push(key),
      });
      for (let i = 0; i < 20; i++) queue.push('busy', i);
      queue.push('other', 0);
      await queue.whenIdle();
      expect(order.indexOf('other')).to.equal(4);
      expect(order.filter((k) => k === 'busy')).to.have.length(20);
    });
  });

  describe('when the worker finishes synchronously', () => {
    it('drains a 100k backlog without growing the stack and then reports idle', async () => {
      const seen: number[] = [];
      const queue = new KeyedWorkQueue<number>({
        concurrency: 4,
        worker: (_k, item) => void seen.push(item),
      });
      for (let i = 0; i < 100_000; i++) queue.push(`k${i % 3}`, i);
      await queue.whenIdle();
      expect(seen).to.have.length(100_000);
      const ofKey0 = seen.filter((i) => i % 3 === 0);
      expect(ofKey0).to.deep.equal([...ofKey0].sort((a, b) => a - b));
    });

    it('reports a synchronous throw to onError and goes on with the next item', async () => {
      const errors: number[] = [];
      const done: number[] = [];
      const queue = new KeyedWorkQueue<number>({
        worker: (_k, item) => {
          if (item === 1) throw new Error('boom');
          done.push(item);
        },
        onError: (_e, _k, item) => errors.push(item),
      });
      for (let i = 0; i < 3; i++) queue.push('a', i);
      await queue.whenIdle();
      expect(errors).to.deep.equal([1]);
      expect(done).to.deep.equal([0, 2]);
    });
  });

  describe('when thousands of keys come and go', () => {
    it('keeps a paused key and its held items while emptied keys are swept, and runs them on resume', async () => {
      const ran = new Map<string, number[]>();
      const queue = new KeyedWorkQueue<number>({
        concurrency: 16,
        worker: async (key, item) => {
          const list = ran.get(key) ?? [];
          list.push(item);
          ran.set(key, list);
        },
      });
      for (let i = 0; i < 5000; i++) queue.push(`k${i}`, 0);
      await queue.whenIdle();
      queue.pause('k1');
      queue.push('k1', 1);
      for (let i = 0; i < 5000; i++) queue.push(`k${i + 5000}`, 0);
      for (let i = 0; i < 5000; i++) if (i !== 1) queue.push(`k${i}`, 1);
      await queue.whenIdle();
      expect(queue.isPaused('k1')).to.equal(true);
      expect(ran.get('k1')).to.deep.equal([0]);
      expect(ran.get('k2')).to.deep.equal([0, 1]);
      expect(ran.get('k9999')).to.deep.equal([0]);
      queue.resume('k1');
      await queue.whenIdle();
      expect(ran.get('k1')).to.deep.equal([0, 1]);
      expect(queue.size).to.equal(0);
    });
  });

  describe('when a key is paused from inside its own worker', () => {
    it('stops before its next queued item', async () => {
      const done: number[] = [];
      const queue = new KeyedWorkQueue<number>({
        concurrency: 1,
        worker: async (key, item) => {
          done.push(item);
          if (item === 1) queue.pause(key);
        },
      });
      for (let i = 0; i < 4; i++) queue.push('a', i);
      await queue.whenIdle();
      expect(done).to.deep.equal([0, 1]);
      expect(queue.take('a')).to.deep.equal([2, 3]);
    });
  });
});

describe('Fifo', () => {
  describe('when pushes and shifts interleave past its capacity', () => {
    it('hands items back oldest first', () => {
      const fifo = new Fifo<number>();
      const out: number[] = [];
      let next = 0;
      for (let round = 0; round < 50; round++) {
        for (let i = 0; i < 7; i++) fifo.push(next++);
        for (let i = 0; i < 5; i++) out.push(fifo.shift() as number);
      }
      expect(fifo.length).to.equal(100);
      expect(fifo.peek()).to.equal(250);
      out.push(...fifo.drain());
      expect(out).to.deep.equal(Array.from({ length: 350 }, (_, i) => i));
      expect(fifo.length).to.equal(0);
      expect(fifo.shift()).to.equal(undefined);
    });
  });
});
