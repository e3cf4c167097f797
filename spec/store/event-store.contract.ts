import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { MaxAppendSizeExceededError, StreamDeletedError, WrongExpectedVersionError } from '../../lib/errors';
import type { EventStore, EventToAppend, StoredEventRecord } from '../../lib/store/event-store';
import { until } from '../helpers/until';
import { HeldSubscription, atLeastEvents, collectUntil, eventsOf } from './subscription-probe';

/** What each run of the contract gets: a store, and how to release it. */
export interface EventStoreFixture {
  readonly store: EventStore;
  close(): Promise<void>;
}

/** Longest wait for asynchronous effects (a real server's `$ce-` projection, live delivery). */
const DEADLINE_MS = 15_000;

/** A name unique to this test run, so a shared real server never mixes tests. */
function unique(prefix: string): string {
  return `${prefix}${randomUUID().replace(/-/g, '').slice(0, 16)}`;
}

function event(type: string, data: unknown, metadata?: Record<string, unknown>): EventToAppend {
  return { id: randomUUID(), type, data, ...(metadata === undefined ? {} : { metadata }) };
}

function numbered(count: number, from = 0): EventToAppend[] {
  return Array.from({ length: count }, (_, i) => event('Numbered', { n: from + i }));
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('Expected the operation to fail, but it succeeded');
}

function revisions(records: readonly StoredEventRecord[]): bigint[] {
  return records.map((record) => record.revision);
}

function range(from: number, to: number): bigint[] {
  return Array.from({ length: to - from }, (_, i) => BigInt(from + i));
}

async function lastAllPosition(store: EventStore): Promise<bigint | undefined> {
  const [last] = await store.readAll({ direction: 'backwards', maxCount: 1 });
  return last?.position;
}

/**
 * The behaviour every {@link EventStore} adapter must share, as EventStoreDB 24.10
 * defines it. Runs against the in-process store, the embedded server through the real
 * client, and a real EventStoreDB; every stream and category name is unique per test so
 * a shared server works.
 */
export function eventStoreContract(name: string, factory: () => Promise<EventStoreFixture>): void {
  describe(`EventStore contract: ${name}`, function () {
    this.timeout(60_000);
    let fixture: EventStoreFixture | undefined;
    let store: EventStore;

    beforeEach(async () => {
      fixture = undefined;
      fixture = await factory();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture?.close();
    });

    describe('when events are appended and read back', () => {
      it('returns their ids, types, data, metadata, revisions and creation time', async () => {
        const stream = unique('order-');
        const before = Date.now();
        const appended = [
          event('OrderPlaced', { total: 42, items: [{ sku: 'a', quantity: 2 }] }, { $correlationId: 'c-1' }),
          event('OrderPaid', { amount: 42 }),
          event('OrderShipped', 'by post', { carrier: 'post' }),
        ];
        await store.append(stream, appended, { expectedRevision: 'no_stream' });
        const after = Date.now();

        const read = await store.readStream(stream);

        expect(read.map((r) => r.id)).to.deep.equal(appended.map((e) => e.id));
        expect(read.map((r) => r.type)).to.deep.equal(['OrderPlaced', 'OrderPaid', 'OrderShipped']);
        expect(read.map((r) => r.data)).to.deep.equal(appended.map((e) => e.data));
        expect(read.map((r) => r.metadata)).to.deep.equal([
          { $correlationId: 'c-1' },
          {},
          { carrier: 'post' },
        ]);
        expect(read.map((r) => r.isJson)).to.deep.equal([true, true, true]);
        expect(read.map((r) => r.stream)).to.deep.equal([stream, stream, stream]);
        expect(revisions(read)).to.deep.equal([0n, 1n, 2n]);
        for (const record of read) {
          expect(record.created.getTime()).to.be.within(before - 10_000, after + 10_000);
        }
      });

      it('reports the position of the last event, and positions increase', async () => {
        const stream = unique('order-');
        const first = await store.append(stream, numbered(2));
        const second = await store.append(stream, numbered(1, 2));

        const read = await store.readStream(stream);

        expect(first.nextExpectedRevision).to.equal(1n);
        expect(second.nextExpectedRevision).to.equal(2n);
        expect(read[1]?.position).to.equal(first.position);
        expect(read[2]?.position).to.equal(second.position);
        expect(read[0]!.position < read[1]!.position).to.equal(true);
        expect(read[1]!.position < read[2]!.position).to.equal(true);
      });

      it('keeps binary data as bytes', async () => {
        const stream = unique('blob-');
        const bytes = Uint8Array.from([0, 1, 2, 254, 255]);
        await store.append(stream, [event('Blob', bytes)]);

        const [read] = await store.readStream(stream);

        expect(read?.isJson).to.equal(false);
        expect(Buffer.from(read?.data as Uint8Array)).to.deep.equal(Buffer.from(bytes));
        expect(Buffer.from(read!.rawData)).to.deep.equal(Buffer.from(bytes));
      });

      it('returns nothing for a stream that does not exist', async () => {
        expect(await store.readStream(unique('missing-'))).to.deep.equal([]);
      });

      it('reads backwards, from a revision, and at most maxCount events', async () => {
        const stream = unique('order-');
        await store.append(stream, numbered(6));

        expect(revisions(await store.readStream(stream, { direction: 'backwards' }))).to.deep.equal([
          5n,
          4n,
          3n,
          2n,
          1n,
          0n,
        ]);
        expect(revisions(await store.readStream(stream, { fromRevision: 2n, maxCount: 3 }))).to.deep.equal([
          2n,
          3n,
          4n,
        ]);
        expect(
          revisions(
            await store.readStream(stream, { fromRevision: 3n, direction: 'backwards', maxCount: 2 }),
          ),
        ).to.deep.equal([3n, 2n]);
      });
    });

    describe('when an append states an expected revision', () => {
      it('accepts no_stream for a new stream and rejects it for an existing one', async () => {
        const stream = unique('order-');
        const outcome = await store.append(stream, numbered(1), { expectedRevision: 'no_stream' });
        expect(outcome.nextExpectedRevision).to.equal(0n);

        const err = await rejectionOf(store.append(stream, numbered(1), { expectedRevision: 'no_stream' }));

        expect(err).to.be.instanceOf(WrongExpectedVersionError);
        expect((err as WrongExpectedVersionError).stream).to.equal(stream);
        expect((err as WrongExpectedVersionError).actual).to.equal(0n);
        expect(revisions(await store.readStream(stream))).to.deep.equal([0n]);
      });

      it('rejects stream_exists for a missing stream and accepts it for an existing one', async () => {
        const stream = unique('order-');
        const err = await rejectionOf(
          store.append(stream, numbered(1), { expectedRevision: 'stream_exists' }),
        );
        expect(err).to.be.instanceOf(WrongExpectedVersionError);
        expect((err as WrongExpectedVersionError).actual).to.equal(undefined);

        await store.append(stream, numbered(1));
        const outcome = await store.append(stream, numbered(1), { expectedRevision: 'stream_exists' });

        expect(outcome.nextExpectedRevision).to.equal(1n);
      });

      it('accepts the exact current revision and rejects any other', async () => {
        const stream = unique('order-');
        await store.append(stream, numbered(2));

        const ahead = await rejectionOf(store.append(stream, numbered(1), { expectedRevision: 5n }));
        const behind = await rejectionOf(store.append(stream, numbered(1), { expectedRevision: 0n }));
        const outcome = await store.append(stream, numbered(1), { expectedRevision: 1n });

        expect(ahead).to.be.instanceOf(WrongExpectedVersionError);
        expect((ahead as WrongExpectedVersionError).expected).to.equal(5n);
        expect((ahead as WrongExpectedVersionError).actual).to.equal(1n);
        expect(behind).to.be.instanceOf(WrongExpectedVersionError);
        expect(outcome.nextExpectedRevision).to.equal(2n);
        expect(revisions(await store.readStream(stream))).to.deep.equal([0n, 1n, 2n]);
      });

      it('accepts any whatever the stream holds', async () => {
        const stream = unique('order-');
        await store.append(stream, numbered(1), { expectedRevision: 'any' });
        const outcome = await store.append(stream, numbered(1), { expectedRevision: 'any' });
        expect(outcome.nextExpectedRevision).to.equal(1n);
      });

      it('treats a re-append of the same ids at the same expected revision as done, writing nothing', async () => {
        const stream = unique('order-');
        const first = numbered(2);
        const original = await store.append(stream, first, { expectedRevision: 'no_stream' });
        const repeated = await store.append(stream, first, { expectedRevision: 'no_stream' });
        const next = numbered(1, 2);
        const third = await store.append(stream, next, { expectedRevision: 1n });
        const thirdAgain = await store.append(stream, next, { expectedRevision: 1n });

        expect(repeated).to.deep.equal(original);
        expect(thirdAgain).to.deep.equal(third);
        expect((await store.readStream(stream)).map((r) => r.id)).to.deep.equal(
          [...first, ...next].map((e) => e.id),
        );
      });

      it('rejects a re-append whose ids only partly match', async () => {
        const stream = unique('order-');
        const first = numbered(2);
        await store.append(stream, first, { expectedRevision: 'no_stream' });

        const err = await rejectionOf(
          store.append(stream, [first[0]!, event('Other', {})], { expectedRevision: 'no_stream' }),
        );

        expect(err).to.be.instanceOf(WrongExpectedVersionError);
        expect(revisions(await store.readStream(stream))).to.deep.equal([0n, 1n]);
      });

      it('lets exactly one of 20 concurrent appends at the same revision win', async () => {
        const stream = unique('order-');
        await store.append(stream, numbered(1));

        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) =>
            store.append(stream, numbered(1, i + 1), { expectedRevision: 0n }),
          ),
        );

        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
        expect(won).to.have.length(1);
        expect(lost).to.have.length(19);
        for (const err of lost) expect(err).to.be.instanceOf(WrongExpectedVersionError);
        expect(revisions(await store.readStream(stream))).to.deep.equal([0n, 1n]);
      });
    });

    describe('when an append is larger than the maximum append size', () => {
      it('rejects it with MaxAppendSizeExceededError and writes nothing', async () => {
        const stream = unique('big-');
        const chunk = 'x'.repeat(400 * 1024);
        const err = await rejectionOf(
          store.append(stream, [event('Big', { chunk }), event('Big', { chunk }), event('Big', { chunk })]),
        );

        expect(err).to.be.instanceOf(MaxAppendSizeExceededError);
        expect((err as MaxAppendSizeExceededError).maxAppendSize).to.equal(1_048_576);
        expect(await store.readStream(stream)).to.deep.equal([]);
      });
    });

    describe('when a stream is soft-deleted', () => {
      it('reads as empty, and an append recreates it with revisions continuing', async () => {
        const stream = unique('order-');
        await store.append(stream, numbered(3));
        await store.deleteStream(stream);
        expect(await store.readStream(stream)).to.deep.equal([]);

        const outcome = await store.append(stream, numbered(1, 3));

        expect(outcome.nextExpectedRevision).to.equal(3n);
        expect(revisions(await store.readStream(stream))).to.deep.equal([3n]);
      });

      it('rejects a delete at the wrong expected revision', async () => {
        const stream = unique('order-');
        await store.append(stream, numbered(2));

        const err = await rejectionOf(store.deleteStream(stream, { expectedRevision: 0n }));

        expect(err).to.be.instanceOf(WrongExpectedVersionError);
        expect(revisions(await store.readStream(stream))).to.deep.equal([0n, 1n]);
      });
    });

    describe('when a stream is tombstoned', () => {
      it('rejects every later append and read with StreamDeletedError', async () => {
        const stream = unique('order-');
        await store.append(stream, numbered(2));
        await store.tombstoneStream(stream);

        const appendError = await rejectionOf(store.append(stream, numbered(1)));
        const readError = await rejectionOf(store.readStream(stream));

        expect(appendError).to.be.instanceOf(StreamDeletedError);
        expect((appendError as StreamDeletedError).stream).to.equal(stream);
        expect(readError).to.be.instanceOf(StreamDeletedError);
      });

      it('can tombstone a stream that never existed', async () => {
        const stream = unique('order-');
        await store.tombstoneStream(stream, { expectedRevision: 'no_stream' });
        expect(await rejectionOf(store.append(stream, numbered(1)))).to.be.instanceOf(StreamDeletedError);
      });
    });

    describe('when stream metadata is set', () => {
      it('returns {} for a stream without metadata', async () => {
        expect(await store.getStreamMetadata(unique('order-'))).to.deep.equal({});
      });

      it('round-trips maxCount, maxAge, truncateBefore and custom keys', async () => {
        const stream = unique('order-');
        const metadata = {
          maxCount: 50,
          maxAge: 3600,
          truncateBefore: 2n,
          owner: 'billing',
          limits: { a: 1 },
        };
        await store.setStreamMetadata(stream, metadata);
        expect(await store.getStreamMetadata(stream)).to.deep.equal(metadata);
      });

      it('keeps only the last maxCount events readable', async () => {
        const stream = unique('order-');
        await store.append(stream, numbered(5));
        await store.setStreamMetadata(stream, { maxCount: 2 });
        expect(revisions(await store.readStream(stream))).to.deep.equal([3n, 4n]);
      });

      it('hides events before truncateBefore', async () => {
        const stream = unique('order-');
        await store.append(stream, numbered(5));
        await store.setStreamMetadata(stream, { truncateBefore: 3n });
        expect(revisions(await store.readStream(stream))).to.deep.equal([3n, 4n]);
        expect(revisions(await store.readStream(stream, { direction: 'backwards' }))).to.deep.equal([4n, 3n]);
      });

      it('hides events older than maxAge', async () => {
        const stream = unique('order-');
        await store.append(stream, numbered(2));
        await store.setStreamMetadata(stream, { maxAge: 3600 });
        expect(revisions(await store.readStream(stream))).to.deep.equal([0n, 1n]);

        await store.setStreamMetadata(stream, { maxAge: 1 });

        await until(
          async () => (await store.readStream(stream)).length === 0,
          5_000,
          'events older than 1 s hidden',
        );
      });
    });

    describe('when a category is subscribed to', () => {
      it('delivers the events of every stream in the category, resolved, with link revisions as checkpoints', async () => {
        const category = unique('cat');
        const a = `${category}-a`;
        const b = `${category}-b`;
        await store.append(a, numbered(2));
        await store.append(b, numbered(1));
        await store.append(a, numbered(1, 2));

        const items = await collectUntil(store.subscribe({ category }), atLeastEvents(4), DEADLINE_MS);

        const delivered = items.flatMap((item) => (item.kind === 'event' ? [item] : []));
        expect(delivered.map((item) => `${item.event.stream}@${item.event.revision}`)).to.deep.equal([
          `${a}@0`,
          `${a}@1`,
          `${b}@0`,
          `${a}@2`,
        ]);
        expect(delivered.map((item) => item.event.type)).to.deep.equal([
          'Numbered',
          'Numbered',
          'Numbered',
          'Numbered',
        ]);
        expect(delivered.map((item) => item.event.link?.stream)).to.deep.equal(
          Array(4).fill(`$ce-${category}`),
        );
        expect(delivered.map((item) => item.checkpoint)).to.deep.equal([0n, 1n, 2n, 3n]);
      });

      it('reports links to truncated events as unresolved, advancing the checkpoint', async () => {
        const category = unique('cat');
        await store.append(`${category}-a`, numbered(2));
        await store.append(`${category}-b`, numbered(1));
        await store.setStreamMetadata(`${category}-a`, { truncateBefore: 1n });

        const items = await collectUntil(store.subscribe({ category }), atLeastEvents(2), DEADLINE_MS);

        const delivered = items.flatMap((item) =>
          item.kind === 'event'
            ? [`event ${item.event.stream}@${item.event.revision} #${item.checkpoint}`]
            : item.kind === 'unresolved'
              ? [`unresolved #${item.checkpoint}`]
              : [],
        );
        expect(delivered).to.deep.equal([
          'unresolved #0',
          `event ${category}-a@1 #1`,
          `event ${category}-b@0 #2`,
        ]);
      });

      it('resumes after a checkpoint, exclusively', async () => {
        const category = unique('cat');
        for (let i = 0; i < 5; i++) await store.append(`${category}-${i}`, numbered(1));
        const all = eventsOf(
          await collectUntil(store.subscribe({ category }), atLeastEvents(5), DEADLINE_MS),
        );

        const resumed = await collectUntil(
          store.subscribe({ category }, { from: 1n }),
          atLeastEvents(3),
          DEADLINE_MS,
        );

        expect(eventsOf(resumed).map((e) => e.stream)).to.deep.equal(all.slice(2).map((e) => e.stream));
      });
    });

    describe('when a subscription catches up while events are appended', () => {
      it('delivers every event once, in order, with caughtUp once between catch-up and live', async () => {
        const stream = unique('order-');
        await store.append(stream, numbered(10));
        await store.append(stream, numbered(10, 10));

        const received = collectUntil(
          store.subscribe({ stream }, { batchSize: 7 }),
          atLeastEvents(60),
          DEADLINE_MS,
        );
        const appends: Promise<unknown>[] = [];
        for (let i = 20; i < 60; i += 4) appends.push(store.append(stream, numbered(4, i)));
        await Promise.all(appends);
        const items = await received;

        const events = eventsOf(items);
        expect(revisions(events)).to.deep.equal(range(0, 60));
        expect(events.map((e) => (e.data as { n: number }).n).sort((x, y) => x - y)).to.deep.equal(
          Array.from({ length: 60 }, (_, i) => i),
        );
        const caughtUp = items.flatMap((item, index) => (item.kind === 'caughtUp' ? [index] : []));
        expect(caughtUp).to.have.length(1);
        expect(eventsOf(items.slice(0, caughtUp[0]))).to.have.length.of.at.least(20);
        const checkpoints = items.flatMap((item) => (item.kind === 'event' ? [item.checkpoint] : []));
        expect(checkpoints).to.deep.equal(range(0, 60));
      });

      it('places caughtUp right after the last catch-up event when the consumer is slow', async () => {
        const stream = unique('order-');
        await store.append(stream, numbered(40));
        const slow = new HeldSubscription(store.subscribe({ stream }, { batchSize: 5 }));
        try {
          await until(() => slow.batches.length >= 1, DEADLINE_MS, 'the first batch');
          // Another subscriber catching up means the slow one's catch-up has been sent too.
          await collectUntil(store.subscribe({ stream }), (items) =>
            items.some((i) => i.kind === 'caughtUp'),
          );

          await until(
            () => {
              slow.ackLatest();
              return slow.items.some((item) => item.kind === 'caughtUp');
            },
            DEADLINE_MS,
            'caughtUp after acking',
          );

          const kinds = slow.items.map((item) => item.kind);
          expect(kinds.indexOf('caughtUp')).to.equal(40);
          expect(revisions(eventsOf(slow.items))).to.deep.equal(range(0, 40));
        } finally {
          slow.unsubscribe();
        }
      });

      it('keeps per-stream order across a category under concurrent writers', async () => {
        const category = unique('cat');
        const streams = [0, 1, 2, 3].map((i) => `${category}-${i}`);
        await Promise.all(streams.map((s) => store.append(s, numbered(2))));

        const received = collectUntil(
          store.subscribe({ category }, { batchSize: 5 }),
          atLeastEvents(40),
          DEADLINE_MS,
        );
        await Promise.all(
          streams.map(async (s) => {
            for (let i = 2; i < 10; i++) await store.append(s, numbered(1, i));
          }),
        );
        const items = await received;

        const events = eventsOf(items);
        expect(events).to.have.length(40);
        for (const s of streams) {
          expect(revisions(events.filter((e) => e.stream === s))).to.deep.equal(range(0, 10));
        }
        const checkpoints = items.flatMap((item) => (item.kind === 'event' ? [item.checkpoint] : []));
        expect(checkpoints).to.deep.equal(range(0, 40));
      });
    });

    describe('when a stream subscription starts from a checkpoint', () => {
      it('delivers only events after it', async () => {
        const stream = unique('order-');
        await store.append(stream, numbered(5));
        const items = await collectUntil(
          store.subscribe({ stream }, { from: 2n }),
          atLeastEvents(2),
          DEADLINE_MS,
        );
        expect(revisions(eventsOf(items))).to.deep.equal([3n, 4n]);
      });

      it("delivers only new events from 'end'", async () => {
        const stream = unique('order-');
        await store.append(stream, numbered(3));
        const live = new HeldSubscription(store.subscribe({ stream }, { from: 'end' }));
        try {
          await until(() => live.items.some((item) => item.kind === 'caughtUp'), DEADLINE_MS, 'caughtUp');
          live.ackLatest();
          await store.append(stream, numbered(1, 3));
          await until(() => eventsOf(live.items).length === 1, DEADLINE_MS, 'the live event');
          expect(revisions(eventsOf(live.items))).to.deep.equal([3n]);
        } finally {
          live.unsubscribe();
        }
      });
    });

    describe('when $all is subscribed to with a stream-name prefix filter', () => {
      it('delivers only matching streams, with positions as checkpoints, and resumes exclusively', async () => {
        const prefix = unique('pfx');
        const other = unique('oth');
        const start = await lastAllPosition(store);
        await store.append(`${prefix}-1`, numbered(2));
        await store.append(`${other}-1`, numbered(3));
        await store.append(`${prefix}-2`, numbered(1));
        const source = { all: true as const, filter: { streamNamePrefixes: [prefix] } };

        const items = await collectUntil(
          store.subscribe(source, start === undefined ? {} : { from: start }),
          atLeastEvents(3),
          DEADLINE_MS,
        );

        const events = items.flatMap((item) => (item.kind === 'event' ? [item] : []));
        expect(events.map((item) => `${item.event.stream}@${item.event.revision}`)).to.deep.equal([
          `${prefix}-1@0`,
          `${prefix}-1@1`,
          `${prefix}-2@0`,
        ]);
        expect(events.map((item) => item.checkpoint)).to.deep.equal(
          events.map((item) => item.event.position),
        );

        const resumed = await collectUntil(
          store.subscribe(source, { from: events[0]!.checkpoint }),
          atLeastEvents(2),
          DEADLINE_MS,
        );
        expect(eventsOf(resumed).map((e) => e.id)).to.deep.equal(
          events.slice(1).map((item) => item.event.id),
        );
      });
    });

    describe('when $all is subscribed to with an event-type filter', () => {
      it('delivers only events whose type has one of the prefixes, and no system events', async () => {
        const type = unique('Type');
        const stream = unique('order-');
        const start = await lastAllPosition(store);
        await store.append(stream, [
          event(`${type}Placed`, { n: 0 }),
          event('Unrelated', { n: 1 }),
          event(`${type}Paid`, { n: 2 }),
          event(`Other${type}`, { n: 3 }),
        ]);
        await store.setStreamMetadata(stream, { owner: 'billing' });
        await store.append(stream, [event(`${type}Pinned`, { n: 4 })]);

        const items = await collectUntil(
          store.subscribe(
            { all: true, filter: { eventTypePrefixes: [`${type}P`, '$meta'], excludeSystemEvents: true } },
            start === undefined ? {} : { from: start },
          ),
          atLeastEvents(3),
          DEADLINE_MS,
        );

        expect(eventsOf(items).map((e) => e.type)).to.deep.equal([
          `${type}Placed`,
          `${type}Paid`,
          `${type}Pinned`,
        ]);
      });
    });

    describe('when a consumer does not ack', () => {
      it('receives no further batch while hundreds of events are appended, then all of them after acking', async () => {
        const stream = unique('order-');
        await store.append(stream, numbered(5));
        const slow = new HeldSubscription(store.subscribe({ stream }, { batchSize: 10 }));
        try {
          await until(() => slow.batches.length >= 1, DEADLINE_MS, 'the first batch');
          const control = collectUntil(
            store.subscribe({ stream }, { batchSize: 10 }),
            atLeastEvents(305),
            DEADLINE_MS,
          );
          for (let i = 5; i < 305; i += 50) await store.append(stream, numbered(50, i));
          await control;

          expect(slow.batches).to.have.length(1);

          await until(
            () => {
              slow.ackLatest();
              return eventsOf(slow.items).length >= 305;
            },
            DEADLINE_MS,
            'the held events after acking',
          );
          expect(revisions(eventsOf(slow.items))).to.deep.equal(range(0, 305));
          for (const batch of slow.batches) expect(batch.items.length).to.be.at.most(10);
        } finally {
          slow.unsubscribe();
        }
      });
    });

    describe('when the store is closed with a subscription open', () => {
      it('completes the subscription', async () => {
        const stream = unique('order-');
        await store.append(stream, numbered(1));
        let completed = false;
        const subscription = store.subscribe({ stream }).subscribe({
          next: (batch) => batch.ack(),
          complete: () => {
            completed = true;
          },
        });
        try {
          await store.close();
          await until(() => completed, DEADLINE_MS, 'completion');
        } finally {
          subscription.unsubscribe();
        }
      });
    });

    describe('when checkpoints are written', () => {
      it('reads back the last one and keeps a single event', async () => {
        const name = unique('consumer');
        expect(await store.readCheckpoint(name)).to.equal(undefined);

        await store.writeCheckpoint(name, 5n);
        await store.writeCheckpoint(name, 12345678901234n);

        expect(await store.readCheckpoint(name)).to.equal(12345678901234n);
        expect((await store.getStreamMetadata(`sagastreamCheckpoint-${name}`)).maxCount).to.equal(1);
        expect(await store.readStream(`sagastreamCheckpoint-${name}`)).to.have.length(1);
      });
    });

    describe('when $all is read', () => {
      it('reads forwards from a position inclusively and backwards exclusively', async () => {
        const stream = unique('order-');
        const appended = numbered(3);
        await store.append(stream, appended);
        const positions = (await store.readStream(stream)).map((r) => r.position);

        const forwards = (await store.readAll({ fromPosition: positions[0], maxCount: 100 })).filter(
          (r) => r.stream === stream,
        );
        const backwards = await store.readAll({
          fromPosition: positions[2],
          direction: 'backwards',
          maxCount: 100,
        });

        expect(forwards.map((r) => r.id)).to.deep.equal(appended.map((e) => e.id));
        expect(backwards.every((r) => r.position < positions[2]!)).to.equal(true);
        expect(backwards.filter((r) => r.stream === stream).map((r) => r.id)).to.deep.equal([
          appended[1]!.id,
          appended[0]!.id,
        ]);
      });

      it('returns events in increasing position order forwards and decreasing backwards', async () => {
        await store.append(unique('order-'), numbered(3));
        const forwards = await store.readAll({ maxCount: 50 });
        const backwards = await store.readAll({ direction: 'backwards', maxCount: 50 });

        expect(forwards.length).to.be.greaterThan(0);
        expect(isStrictlyIncreasing(forwards.map((r) => r.position))).to.equal(true);
        expect(isStrictlyIncreasing(backwards.map((r) => r.position).reverse())).to.equal(true);
      });
    });
  });
}

function isStrictlyIncreasing(values: readonly bigint[]): boolean {
  return values.every((value, i) => i === 0 || values[i - 1]! < value);
}
