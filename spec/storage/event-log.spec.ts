import { expect } from 'chai';
import {
  InvalidEventError,
  InvalidPositionError,
  MaxAppendSizeExceededError,
  StoreClosedError,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
} from '../../lib/errors';
import {
  EventLog,
  TOMBSTONE_REVISION,
  type EventLogOptions,
  type ExpectedRevision,
  type ProposedEvent,
} from '../../lib/storage';
import { event, events, ids, json, tempDir, text } from './helpers';

const memory = (options: Partial<EventLogOptions> = {}): Promise<EventLog> =>
  EventLog.open({ memory: true, ...options });

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an exception');
}

describe('EventLog', () => {
  let log: EventLog;
  afterEach(async () => {
    await log?.close();
  });

  describe('when appending', () => {
    beforeEach(async () => {
      log = await memory({ byCategory: false, byEventType: false });
    });

    it('numbers events from 0 and returns the last revision and position', async () => {
      const result = await log.append('order-1', 'no_stream', events(3));
      const read = log.readStream('order-1');
      expect(read.map((r) => r.event!.revision)).to.deep.equal([0n, 1n, 2n]);
      expect(result).to.deep.equal({ nextRevision: 2n, position: read[2]!.position });
      expect(log.lastPosition).to.equal(read[2]!.position);
    });

    it('gives sparse increasing positions with commit == prepare and .NET-tick timestamps', async () => {
      const before = BigInt(Date.now()) * 10_000n;
      await log.append('a', 'any', events(2));
      await log.append('b', 'any', events(2));
      const all = log.readAll();
      const positions = all.map((r) => r.position);
      for (let i = 1; i < positions.length; i++)
        expect(positions[i]! - positions[i - 1]! > 1n).to.equal(true);
      for (const r of all) {
        expect(r.event!.position).to.equal(r.position);
        expect(r.event!.created >= before && r.event!.created <= BigInt(Date.now()) * 10_000n).to.equal(true);
      }
    });

    it('stores type, content flag, data and metadata as given', async () => {
      const id = '5b8b1f2a-7a0e-4c8e-9f43-0b0c9d9f1a11';
      await log.append('s', 'any', [
        { id, type: 'T', isJson: false, data: Buffer.from([1, 2]), metadata: Buffer.from('m') },
      ]);
      const stored = log.readStream('s')[0]!.event!;
      expect(stored).to.include({ id, type: 'T', isJson: false, stream: 's' });
      expect([...stored.data]).to.deep.equal([1, 2]);
      expect(text(stored.metadata)).to.equal('m');
    });

    it('rejects an empty id or type with InvalidEventError and writes nothing', async () => {
      const noId = await rejection(log.append('s', 'any', [{ ...event(), id: '' }]));
      const noType = await rejection(log.append('s', 'any', [event(), { ...event(), type: '' }]));
      expect(noId).to.be.instanceOf(InvalidEventError);
      expect(noType).to.be.instanceOf(InvalidEventError);
      expect(log.lastPosition).to.equal(-1n);
    });

    it('rejects an append over maxAppendSize (data + metadata + 2 x type length) and writes nothing', async () => {
      await log.close();
      log = await memory({ maxAppendSize: 100 });
      const fits = { ...event('ab'), data: Buffer.alloc(90), metadata: Buffer.alloc(6) }; // 90 + 6 + 4 = 100
      await log.append('s', 'any', [fits]);
      const position = log.lastPosition;
      const err = await rejection(log.append('s', 'any', [event('ab'), { ...fits, id: 'x' }]));
      expect(err).to.be.instanceOf(MaxAppendSizeExceededError);
      expect((err as MaxAppendSizeExceededError).maxAppendSize).to.equal(100);
      expect(log.lastPosition).to.equal(position);
      expect(log.readStream('s')).to.have.length(1);
    });

    it('answers an empty append to a new stream with revision -1 and writes nothing', async () => {
      expect(await log.append('s', 'no_stream', [])).to.deep.equal({ nextRevision: -1n, position: -1n });
      expect(log.lastPosition).to.equal(-1n);
    });
  });

  describe('when checking the expected revision', () => {
    const wev = async (p: Promise<unknown>, actual: bigint | undefined): Promise<void> => {
      const err = await rejection(p);
      expect(err).to.be.instanceOf(WrongExpectedVersionError);
      expect((err as WrongExpectedVersionError).actual).to.equal(actual);
    };

    beforeEach(async () => {
      log = await memory({ byCategory: false, byEventType: false });
    });

    describe('on a stream that does not exist', () => {
      for (const expected of ['any', 'no_stream'] as const) {
        it(`accepts ${expected}`, async () => {
          expect((await log.append('s', expected, events(1))).nextRevision).to.equal(0n);
        });
      }
      for (const expected of ['stream_exists', 0n, 5n] as ExpectedRevision[]) {
        it(`rejects ${String(expected)} with actual undefined`, async () => {
          await wev(log.append('s', expected, events(1)), undefined);
        });
      }
      it('accepts stream_exists once the stream has metadata', async () => {
        await log.append('$$s', 'any', [event('$metadata', { data: { custom: 1 } })]);
        expect((await log.append('s', 'stream_exists', events(1))).nextRevision).to.equal(0n);
      });
    });

    describe('on a stream at revision 1', () => {
      const first = events(2);
      beforeEach(async () => {
        await log.append('s', 'no_stream', first);
      });

      for (const expected of ['any', 'stream_exists', 1n] as ExpectedRevision[]) {
        it(`writes with ${String(expected)}`, async () => {
          expect((await log.append('s', expected, events(1))).nextRevision).to.equal(2n);
        });
      }
      for (const expected of ['no_stream', 0n, 2n, 7n] as ExpectedRevision[]) {
        it(`rejects ${String(expected)} with new ids and reports actual 1`, async () => {
          await wev(log.append('s', expected, events(1)), 1n);
        });
      }

      it('treats a no_stream retry of the same batch as success without writing', async () => {
        const original = log.readStream('s');
        const position = log.lastPosition;
        const result = await log.append('s', 'no_stream', first);
        expect(result).to.deep.equal({ nextRevision: 1n, position: original[1]!.position });
        expect(log.lastPosition).to.equal(position);
      });

      it('treats an exact-revision retry of a suffix as success', async () => {
        const result = await log.append('s', 0n, [first[1]!]);
        expect(result.nextRevision).to.equal(1n);
        expect(log.readStream('s')).to.have.length(2);
      });

      it('rejects a partial match at an exact revision', async () => {
        await wev(log.append('s', 'no_stream', [first[0]!, event()]), 1n);
        await wev(log.append('s', 0n, [first[1]!, event()]), 1n);
      });

      it('treats an any retry of the same batch as success from the recent-ids cache', async () => {
        const position = log.lastPosition;
        expect(await log.append('s', 'any', first)).to.deep.equal({ nextRevision: 1n, position });
        expect(log.lastPosition).to.equal(position);
      });

      it('treats an any retry as success after appends that created other streams', async () => {
        for (let i = 0; i < 50; i++) await log.append(`other-${i}`, 'any', events(3));
        await log.append('s', 'any', events(1));
        const position = log.lastPosition;
        expect((await log.append('s', 'any', first)).nextRevision).to.equal(1n);
        expect(log.lastPosition).to.equal(position);
      });

      it('keeps an any retry idempotent across a backlog longer than the id cache', async () => {
        await log.close();
        log = await memory({ byCategory: false, byEventType: false });
        // 120 000 events land on new streams (no lookups); the last batch is still recent.
        let last: ProposedEvent[] = [];
        for (let i = 0; i < 120; i++) {
          last = events(1000);
          await log.append(`bulk-${i}`, 'any', last);
        }
        const position = log.lastPosition;
        expect(await log.append('bulk-119', 'any', last)).to.deep.equal({ nextRevision: 999n, position });
        expect(log.lastPosition).to.equal(position);
      });

      it('rejects an any retry whose later ids were not written', async () => {
        await wev(log.append('s', 'any', [first[0]!, event()]), 1n);
        await wev(log.append('s', 'stream_exists', [first[0]!, event()]), 1n);
      });

      it('writes ids again when the expected revision equals the current one', async () => {
        expect((await log.append('s', 1n, first)).nextRevision).to.equal(3n);
        expect(log.readStream('s').map((r) => r.event!.id)).to.deep.equal(
          [...first, ...first].map((e) => e.id),
        );
      });
    });

    for (const mode of ['memory', 'dir'] as const) {
      it(`lets exactly one of many concurrent appends at one revision win (${mode})`, async () => {
        const tmp = tempDir();
        try {
          await log.close();
          log = await EventLog.open(mode === 'memory' ? { memory: true } : { dir: tmp.dir });
          await log.append('race', 'no_stream', events(1));
          const outcomes = await Promise.allSettled(
            Array.from({ length: 20 }, () => log.append('race', 0n, events(1))),
          );
          expect(outcomes.filter((o) => o.status === 'fulfilled')).to.have.length(1);
          for (const o of outcomes) {
            if (o.status === 'rejected') expect(o.reason).to.be.instanceOf(WrongExpectedVersionError);
          }
          expect(log.streamRevision('race')).to.equal(1n);
        } finally {
          await log.close();
          tmp.cleanup();
        }
      });
    }
  });

  describe('when reading a stream', () => {
    beforeEach(async () => {
      log = await memory({ byCategory: false, byEventType: false });
      await log.append('s', 'no_stream', events(5));
    });

    it('reads forwards from an inclusive revision with maxCount', () => {
      expect(ids(log.readStream('s', { from: 2n, maxCount: 2 }))).to.deep.equal(['s@2', 's@3']);
    });

    it('reads backwards from the end or from an inclusive revision', () => {
      expect(ids(log.readStream('s', { direction: 'backwards', maxCount: 2 }))).to.deep.equal(['s@4', 's@3']);
      expect(ids(log.readStream('s', { direction: 'backwards', from: 1n }))).to.deep.equal(['s@1', 's@0']);
    });

    it('returns nothing forwards from the end', () => {
      expect(log.readStream('s', { from: 'end' })).to.deep.equal([]);
    });

    it('throws StreamNotFoundError for a stream that never existed', () => {
      expect(thrown(() => log.readStream('missing'))).to.be.instanceOf(StreamNotFoundError);
    });
  });

  describe('when reading $all', () => {
    beforeEach(async () => {
      log = await memory({ byCategory: false, byEventType: false });
      await log.append('a', 'any', events(2));
      await log.append('b', 'any', events(2));
    });

    it('reads forwards from an inclusive position', () => {
      const all = log.readAll();
      expect(ids(log.readAll({ from: all[1]!.position }))).to.deep.equal(['a@1', 'b@0', 'b@1']);
    });

    it('reads backwards strictly before a position', () => {
      const all = log.readAll();
      expect(ids(log.readAll({ direction: 'backwards', from: all[2]!.position }))).to.deep.equal([
        'a@1',
        'a@0',
      ]);
      expect(ids(log.readAll({ direction: 'backwards', maxCount: 1 }))).to.deep.equal(['b@1']);
    });

    it('rejects a position that is not a record boundary', () => {
      const all = log.readAll();
      expect(thrown(() => log.readAll({ from: all[1]!.position + 1n }))).to.be.instanceOf(
        InvalidPositionError,
      );
    });
  });

  describe('when a stream has metadata', () => {
    let now = Date.now();
    beforeEach(async () => {
      now = Date.now();
      log = await memory({ byCategory: false, byEventType: false, now: () => now });
      await log.append('s', 'no_stream', events(5));
    });

    const setMetadata = (stream: string, data: unknown): Promise<unknown> =>
      log.append(`$$${stream}`, 'any', [event('$metadata', { data })]);

    it('hides all but the last $maxCount events', async () => {
      await setMetadata('s', { $maxCount: 2 });
      expect(ids(log.readStream('s'))).to.deep.equal(['s@3', 's@4']);
      expect(ids(log.readStream('s', { from: 0n, maxCount: 1 }))).to.deep.equal(['s@3']);
    });

    it('hides events before $tb', async () => {
      await setMetadata('s', { $tb: 3 });
      expect(ids(log.readStream('s'))).to.deep.equal(['s@3', 's@4']);
      expect(ids(log.readStream('s', { direction: 'backwards' }))).to.deep.equal(['s@4', 's@3']);
    });

    it('hides events older than $maxAge seconds', async () => {
      await setMetadata('s', { $maxAge: 60 });
      expect(log.readStream('s')).to.have.length(5);
      now += 61_000;
      await log.append('s', 'any', events(1));
      expect(ids(log.readStream('s'))).to.deep.equal(['s@5']);
    });

    it('keeps custom keys and shows only the latest metadata event', async () => {
      await setMetadata('s', { $maxCount: 10 });
      await setMetadata('s', { custom: { a: 1 }, $maxCount: 3 });
      const meta = log.readStream('$$s');
      expect(meta).to.have.length(1);
      expect(meta[0]!.event!.revision).to.equal(1n);
      expect(json(meta[0]!.event!.data)).to.deep.equal({ custom: { a: 1 }, $maxCount: 3 });
    });

    it('leaves $all untouched', async () => {
      await setMetadata('s', { $maxCount: 1 });
      expect(log.readAll().filter((r) => r.event!.stream === 's')).to.have.length(5);
    });
  });

  describe('when a stream is soft-deleted', () => {
    beforeEach(async () => {
      log = await memory({ byCategory: false, byEventType: false });
      await log.append('s', 'no_stream', events(3));
    });

    it('refuses to delete a stream with no events and no metadata', async () => {
      expect(await rejection(log.deleteStream('missing', 'any'))).to.be.instanceOf(WrongExpectedVersionError);
    });

    it('checks the expected revision', async () => {
      expect(await rejection(log.deleteStream('s', 1n))).to.be.instanceOf(WrongExpectedVersionError);
      await log.deleteStream('s', 2n);
    });

    it('reports not found on reads while $all keeps the events', async () => {
      const { position } = await log.deleteStream('s', 'any');
      expect(thrown(() => log.readStream('s'))).to.be.instanceOf(StreamNotFoundError);
      expect(log.streamRevision('s')).to.equal(undefined);
      expect(log.readAll().filter((r) => r.event!.stream === 's')).to.have.length(3);
      const meta = log.readStream('$$s')[0]!;
      expect(meta.position).to.equal(position);
      expect(text(meta.event!.data)).to.equal('{"$tb":9223372036854775807}');
    });

    for (const expected of ['any', 'no_stream', 2n] as ExpectedRevision[]) {
      it(`recreates it with ${String(expected)}, continuing the revisions`, async () => {
        await log.deleteStream('s', 'any');
        const result = await log.append('s', expected, events(2));
        expect(result.nextRevision).to.equal(4n);
        expect(ids(log.readStream('s'))).to.deep.equal(['s@3', 's@4']);
        expect(json(log.readStream('$$s')[0]!.event!.data)).to.deep.equal({ $tb: 3 });
      });
    }

    it('keeps custom metadata keys when recreating', async () => {
      const deleted = Buffer.from('{"owner":"x","$tb":9223372036854775807}', 'utf8');
      await log.append('$$s', 'any', [{ ...event('$metadata'), data: deleted }]);
      await log.append('s', 'any', events(1));
      expect(json(log.readStream('$$s')[0]!.event!.data)).to.deep.equal({ owner: 'x', $tb: 3 });
    });

    it('undeletes it when new metadata is written', async () => {
      await log.deleteStream('s', 'any');
      await log.append('$$s', 'any', [event('$metadata', { data: { owner: 'y' } })]);
      expect(json(log.readStream('$$s')[0]!.event!.data)).to.deep.equal({ owner: 'y', $tb: 3 });
      expect(log.readStream('s')).to.deep.equal([]);
    });

    it('answers stream_exists with StreamDeletedError', async () => {
      await log.deleteStream('s', 'any');
      expect(await rejection(log.append('s', 'stream_exists', events(1)))).to.be.instanceOf(
        StreamDeletedError,
      );
    });
  });

  describe('when a stream is tombstoned', () => {
    beforeEach(async () => {
      log = await memory({ byCategory: false, byEventType: false });
      await log.append('s', 'no_stream', events(2));
    });

    it('writes a $streamDeleted record at revision long.MaxValue, visible in $all', async () => {
      const { position } = await log.tombstoneStream('s', 1n);
      const last = log.readAll({ direction: 'backwards', maxCount: 1 })[0]!;
      expect(last.position).to.equal(position);
      expect(last.event).to.include({ stream: 's', type: '$streamDeleted', revision: TOMBSTONE_REVISION });
    });

    it('fails every later operation with StreamDeletedError', async () => {
      await log.tombstoneStream('s', 'any');
      expect(thrown(() => log.readStream('s'))).to.be.instanceOf(StreamDeletedError);
      expect(thrown(() => log.readStream('$$s'))).to.be.instanceOf(StreamDeletedError);
      expect(await rejection(log.append('s', 'any', events(1)))).to.be.instanceOf(StreamDeletedError);
      expect(await rejection(log.append('$$s', 'any', events(1)))).to.be.instanceOf(StreamDeletedError);
      expect(await rejection(log.deleteStream('s', 'any'))).to.be.instanceOf(StreamDeletedError);
      expect(await rejection(log.tombstoneStream('s', 'any'))).to.be.instanceOf(StreamDeletedError);
    });

    it('tombstones a stream that does not exist with no_stream or any', async () => {
      await log.tombstoneStream('never-1', 'no_stream');
      await log.tombstoneStream('never-2', 'any');
      expect(thrown(() => log.readStream('never-1'))).to.be.instanceOf(StreamDeletedError);
    });

    it('checks the expected revision', async () => {
      expect(await rejection(log.tombstoneStream('s', 0n))).to.be.instanceOf(WrongExpectedVersionError);
    });
  });

  describe('when projecting $ce- and $et- links', () => {
    beforeEach(async () => {
      log = await memory();
    });

    it('appends a $> link per event to $ce-<category> and $et-<type>, after the source', async () => {
      const source = event('OrderPlaced', { metadata: { $correlationId: 'corr-1' } });
      await log.append('order-1', 'any', [source]);
      await log.append('order-2', 'any', events(1, 'OrderPlaced'));
      const ce = log.readStream('$ce-order');
      expect(ce.map((r) => r.event!.revision)).to.deep.equal([0n, 1n]);
      const link = ce[0]!.event!;
      const original = log.readStream('order-1')[0]!;
      expect(link).to.include({ type: '$>', isJson: false });
      expect(text(link.data)).to.equal('0@order-1');
      expect(json(link.metadata)).to.include({
        $o: 'order-1',
        $causedBy: source.id,
        $correlationId: 'corr-1',
      });
      expect(link.position > original.position).to.equal(true);
      expect(ids(log.readStream('$et-OrderPlaced'))).to.deep.equal([
        '$et-OrderPlaced@0',
        '$et-OrderPlaced@1',
      ]);
    });

    it('categorises by the text before the first dash only', async () => {
      await log.append('orders', 'any', events(1));
      await log.append('-x', 'any', events(1));
      await log.append('order-1-2', 'any', events(1));
      await log.append('$system-1', 'any', events(1));
      const categories = log
        .readAll()
        .map((r) => r.event!.stream)
        .filter((s) => s.startsWith('$ce-'));
      expect(categories).to.deep.equal(['$ce-order']);
    });

    it('resolves links to the target event when asked', async () => {
      await log.append('order-1', 'any', events(2));
      const resolved = log.readStream('$ce-order', { resolveLinks: true });
      expect(resolved.map((r) => r.event)).to.deep.equal(log.readStream('order-1').map((r) => r.event));
      expect(resolved[0]!.link!.stream).to.equal('$ce-order');
      expect(resolved[0]!.position).to.equal(resolved[0]!.link!.position);
    });

    it('leaves event undefined when the target is deleted or truncated', async () => {
      await log.append('order-1', 'any', events(2));
      await log.append('$$order-1', 'any', [event('$metadata', { data: { $maxCount: 1 } })]);
      await log.append('order-2', 'any', events(1));
      await log.deleteStream('order-2', 'any');
      const resolved = log.readStream('$ce-order', { resolveLinks: true });
      expect(resolved.map((r) => r.event?.revision)).to.deep.equal([undefined, 1n, undefined]);
      expect(resolved.every((r) => r.link !== undefined)).to.equal(true);
    });

    it('writes no links when the projections are off', async () => {
      await log.close();
      log = await memory({ byCategory: false, byEventType: false });
      await log.append('order-1', 'any', events(1));
      expect(log.readAll()).to.have.length(1);
    });
  });

  describe('when closed', () => {
    it('rejects later calls with StoreClosedError', async () => {
      log = await memory();
      await log.close();
      expect(await rejection(log.append('s', 'any', events(1)))).to.be.instanceOf(StoreClosedError);
      expect(thrown(() => log.readAll())).to.be.instanceOf(StoreClosedError);
      expect(thrown(() => log.subscribeToAll({ from: 'start' }))).to.be.instanceOf(StoreClosedError);
    });
  });
});
