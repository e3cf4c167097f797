import { expect } from 'chai';
import { InvalidFilterError, InvalidPositionError, StreamDeletedError } from '../../lib/errors';
import { EventLog, type SubscriptionMessage } from '../../lib/storage';
import { event, eventIds, events, pull, tempDir } from './helpers';

const kinds = (messages: readonly SubscriptionMessage[]): string[] => messages.map((m) => m.kind);
const checkpoints = (messages: readonly SubscriptionMessage[]): bigint[] =>
  messages.flatMap((m) => (m.kind === 'checkpoint' ? [m.position] : []));
const caughtUp = (messages: readonly SubscriptionMessage[]): boolean =>
  messages.some((m) => m.kind === 'caughtUp');
const eventCount =
  (n: number) =>
  (messages: readonly SubscriptionMessage[]): boolean =>
    eventIds(messages).length >= n;

describe('LogSubscription', () => {
  let log: EventLog;
  beforeEach(async () => {
    log = await EventLog.open({ memory: true, byCategory: false, byEventType: false });
  });
  afterEach(async () => {
    await log.close();
  });

  describe('when subscribing to a stream', () => {
    it('catches up, sends one caughtUp, then delivers live events', async () => {
      await log.append('s', 'any', events(2));
      const sub = log.subscribeToStream('s', { from: 'start' });
      const first = await pull(sub, caughtUp);
      expect(kinds(first)).to.deep.equal(['event', 'event', 'caughtUp']);
      await log.append('s', 'any', events(1));
      const live = await pull(sub, eventCount(1));
      expect(eventIds(live)).to.deep.equal(['s@2']);
      sub.close();
    });

    it('starts after an exclusive revision, or after the end', async () => {
      await log.append('s', 'any', events(3));
      const fromOne = log.subscribeToStream('s', { from: 1n });
      expect(eventIds(await pull(fromOne, caughtUp))).to.deep.equal(['s@2']);
      const fromEnd = log.subscribeToStream('s', { from: 'end' });
      expect(kinds(await pull(fromEnd, caughtUp))).to.deep.equal(['caughtUp']);
      await log.append('s', 'any', events(1));
      expect(eventIds(await pull(fromEnd, eventCount(1)))).to.deep.equal(['s@3']);
      fromOne.close();
      fromEnd.close();
    });

    it('delivers every event once, in order, while appends race the catch-up', async () => {
      await log.append('s', 'any', events(50));
      const sub = log.subscribeToStream('s', { from: 'start' });
      const writes = (async () => {
        for (let i = 0; i < 50; i++) await log.append('s', 'any', events(1));
      })();
      const messages = await pull(sub, eventCount(100));
      await writes;
      expect(eventIds(messages)).to.deep.equal(Array.from({ length: 100 }, (_, i) => `s@${i}`));
      expect(kinds(messages).filter((k) => k === 'caughtUp')).to.have.length(1);
      sub.close();
    });

    it('waits for a stream that does not exist yet', async () => {
      const sub = log.subscribeToStream('later', { from: 'start' });
      expect(kinds(await pull(sub, caughtUp))).to.deep.equal(['caughtUp']);
      await log.append('later', 'no_stream', events(1));
      expect(eventIds(await pull(sub, eventCount(1)))).to.deep.equal(['later@0']);
      sub.close();
    });

    it('continues with the new revisions after a soft delete and recreate', async () => {
      await log.append('s', 'any', events(2));
      const sub = log.subscribeToStream('s', { from: 'start' });
      await pull(sub, caughtUp);
      await log.deleteStream('s', 'any');
      await log.append('s', 'any', events(1));
      expect(eventIds(await pull(sub, eventCount(1)))).to.deep.equal(['s@2']);
      const late = log.subscribeToStream('s', { from: 'start' });
      expect(eventIds(await pull(late, caughtUp))).to.deep.equal(['s@2']);
      sub.close();
      late.close();
    });

    it('resolves $ce- links when asked', async () => {
      await log.close();
      log = await EventLog.open({ memory: true });
      await log.append('order-1', 'any', events(1, 'OrderPlaced'));
      const sub = log.subscribeToStream('$ce-order', { from: 'start', resolveLinks: true });
      const message = (await pull(sub, eventCount(1)))[0]!;
      expect(message.kind === 'event' && message.event.event?.stream).to.equal('order-1');
      expect(message.kind === 'event' && message.event.link?.stream).to.equal('$ce-order');
      sub.close();
    });

    it('fails with StreamDeletedError on a tombstoned stream', async () => {
      await log.append('s', 'any', events(1));
      await log.tombstoneStream('s', 'any');
      const sub = log.subscribeToStream('s', { from: 'start' });
      const err = await pull(sub, caughtUp).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(StreamDeletedError);
    });

    it('delivers the tombstone to a live subscriber, then fails', async () => {
      await log.append('s', 'any', events(1));
      const sub = log.subscribeToStream('s', { from: 'start' });
      await pull(sub, caughtUp);
      await log.tombstoneStream('s', 'any');
      const it = sub[Symbol.asyncIterator]();
      const tombstone = await it.next();
      expect(
        !tombstone.done && tombstone.value.kind === 'event' && tombstone.value.event.event?.type,
      ).to.equal('$streamDeleted');
      const err = await it.next().catch((e: unknown) => e);
      expect(err).to.be.instanceOf(StreamDeletedError);
    });

    it('ends a pending pull when closed', async () => {
      const sub = log.subscribeToStream('s', { from: 'start' });
      await pull(sub, caughtUp);
      const pending = sub[Symbol.asyncIterator]().next();
      sub.close();
      expect((await pending).done).to.equal(true);
    });

    it('ends when the log closes', async () => {
      const sub = log.subscribeToStream('s', { from: 'start' });
      await pull(sub, caughtUp);
      const pending = sub[Symbol.asyncIterator]().next();
      await log.close();
      expect((await pending).done).to.equal(true);
    });
  });

  describe('when the filter regex does not compile', () => {
    it('throws InvalidFilterError naming the pattern', () => {
      expect(() =>
        log.subscribeToAll({
          from: 'start',
          filter: { on: 'streamName', regex: '(order', checkpointInterval: 1 },
        }),
      )
        .to.throw(InvalidFilterError)
        .with.property('expression', '(order');
    });
  });

  describe('when subscribing to $all', () => {
    it('catches up, sends one caughtUp, then delivers live events from all streams', async () => {
      await log.append('a', 'any', events(1));
      const sub = log.subscribeToAll({ from: 'start' });
      expect(kinds(await pull(sub, caughtUp))).to.deep.equal(['event', 'caughtUp']);
      await log.append('b', 'any', events(1));
      expect(eventIds(await pull(sub, eventCount(1)))).to.deep.equal(['b@0']);
      sub.close();
    });

    it('starts after an exclusive position and rejects a position that is not a boundary', async () => {
      await log.append('a', 'any', events(3));
      const all = log.readAll();
      const sub = log.subscribeToAll({ from: all[0]!.position });
      expect(eventIds(await pull(sub, caughtUp))).to.deep.equal(['a@1', 'a@2']);
      sub.close();
      expect(() => log.subscribeToAll({ from: all[0]!.position + 1n })).to.throw(InvalidPositionError);
    });

    it('delivers every event once, in order, while appends race the catch-up', async () => {
      for (let i = 0; i < 40; i++) await log.append(`s-${i % 4}`, 'any', events(1));
      const sub = log.subscribeToAll({ from: 'start' });
      const writes = Promise.all(
        Array.from({ length: 40 }, (_, i) => log.append(`s-${i % 4}`, 'any', events(1))),
      );
      const messages = await pull(sub, eventCount(80));
      await writes;
      const positions = messages.flatMap((m) => (m.kind === 'event' ? [m.event.position] : []));
      expect(positions).to.deep.equal(log.readAll().map((r) => r.position));
      sub.close();
    });

    it('filters by stream-name regex and by event-type prefix', async () => {
      await log.append('order-1', 'any', [event('Placed'), event('Paid')]);
      await log.append('payment-1', 'any', [event('Charged')]);
      const byStream = log.subscribeToAll({
        from: 'start',
        filter: { on: 'streamName', regex: 'ment-', checkpointInterval: 100 },
      });
      expect(eventIds(await pull(byStream, caughtUp))).to.deep.equal(['payment-1@0']);
      const byType = log.subscribeToAll({
        from: 'start',
        filter: { on: 'eventType', prefixes: ['Pa', 'Ch'], checkpointInterval: 100 },
      });
      expect(eventIds(await pull(byType, caughtUp))).to.deep.equal(['order-1@1', 'payment-1@0']);
      byStream.close();
      byType.close();
    });

    it('checkpoints every interval of considered events and at the end of catch-up', async () => {
      // 7 events, 2 of which match; interval 3 counts the filtered-out ones too.
      await log.append('other', 'any', events(2));
      await log.append('wanted', 'any', events(1));
      await log.append('other', 'any', events(3));
      await log.append('wanted', 'any', events(1));
      const all = log.readAll();
      const sub = log.subscribeToAll({
        from: 'start',
        filter: { on: 'streamName', prefixes: ['wanted'], checkpointInterval: 3 },
      });
      const catchUp = await pull(sub, caughtUp);
      expect(kinds(catchUp)).to.deep.equal([
        'event',
        'checkpoint',
        'checkpoint',
        'event',
        'checkpoint',
        'caughtUp',
      ]);
      expect(checkpoints(catchUp)).to.deep.equal([all[2]!.position, all[5]!.position, all[6]!.position]);
      await log.append('other', 'any', events(2));
      const live = await pull(sub, (m) => checkpoints(m).length === 1);
      expect(checkpoints(live)).to.deep.equal([log.lastPosition]);
      sub.close();
    });

    it('delivers group-committed appends in order once durable (dir mode)', async () => {
      const tmp = tempDir();
      const durable = await EventLog.open({ dir: tmp.dir, byCategory: false, byEventType: false });
      try {
        const sub = durable.subscribeToAll({ from: 'start' });
        await pull(sub, caughtUp);
        await Promise.all(Array.from({ length: 30 }, () => durable.append('s', 'any', events(1))));
        expect(eventIds(await pull(sub, eventCount(30)))).to.deep.equal(
          Array.from({ length: 30 }, (_, i) => `s@${i}`),
        );
        sub.close();
      } finally {
        await durable.close();
        tmp.cleanup();
      }
    });
  });
});
