import { expect } from 'chai';
import { map } from 'rxjs';
import { v4 as uuid } from 'uuid';
import { ManualClock } from '../../lib/runtime/clock';
import { silentLogger } from '../../lib/runtime/logger';
import { ProcessRuntime, type ProcessRuntimeOptions } from '../../lib/runtime/process-runtime';
import { EventStoreDbEventStore } from '../../lib/store/eventstoredb/eventstoredb-event-store';
import type { EventStore } from '../../lib/store/event-store';
import { LocalEventStore } from '../../lib/store/local/local-event-store';
import { startEmbedded } from '../helpers/embedded';
import { until } from '../helpers/until';
import {
  REMINDER_CATEGORIES,
  Reminder,
  ReminderService,
  faults,
  reminderRegistry,
} from './fixtures/reminder';

const types = async (store: EventStore, stream: string) =>
  (await store.readStream(stream)).map((e) => e.type);
const count = async (store: EventStore, stream: string, type: string) =>
  (await types(store, stream)).filter((t) => t === type).length;

function newRuntime(store: EventStore, options: Partial<ProcessRuntimeOptions> = {}) {
  const service = new ReminderService(store);
  const runtime = new ProcessRuntime({
    store,
    registry: reminderRegistry(),
    logger: silentLogger,
    backoff: { initialDelayMs: 1, maxDelayMs: 5 },
    checkpointIntervalMs: 50,
    ...options,
  })
    .register(Reminder, { categories: REMINDER_CATEGORIES })
    .registerCommandHandlers(service);
  return { runtime, service };
}

const request = (store: EventStore, id: string, delayMs = -1) =>
  store.append(`request-${id}`, [{ id: uuid(), type: 'ReminderRequested', data: { id, delayMs } }]);
const poke = (store: EventStore, id: string, n: number) =>
  store.append(`poke-${id}`, [{ id: uuid(), type: 'Poke', data: { id, n } }]);

describe('ProcessRuntime', () => {
  let store: LocalEventStore;
  const running: ProcessRuntime[] = [];
  const start = async (options: Partial<ProcessRuntimeOptions> = {}) => {
    const made = newRuntime(store, options);
    running.push(made.runtime);
    await made.runtime.start();
    return made;
  };

  beforeEach(async () => {
    store = await LocalEventStore.open({ memory: true });
    faults.failingPokes.clear();
    faults.reminderRejected = false;
    faults.reminderTransientFailures = 0;
  });
  afterEach(async () => {
    for (const runtime of running.splice(0)) await runtime.stop();
    await store.close();
  });

  describe('when an event starts an instance and another follows', () => {
    it('records both inputs and delivers the dispatched command once', async () => {
      const { runtime } = await start();
      await request(store, 'a');
      await poke(store, 'a', 0);
      await runtime.whenIdle();
      expect(await types(store, 'reminder-a')).to.include.members([
        'sagastream.ProcessStarted',
        'PokeNoted',
        'sagastream.CommandScheduled',
      ]);
      expect(await count(store, 'reminder-a', 'sagastream.InputRecorded')).to.equal(2);
      expect(await count(store, 'reminderSent-a', 'ReminderSent')).to.equal(1);
    });
  });

  describe('when one instance receives many events', () => {
    it('handles them in order and never reads its stream (a new instance starts from the empty state)', async () => {
      const { runtime } = await start();
      await request(store, 'hot');
      for (let n = 1; n <= 40; n++) await poke(store, 'hot', n);
      await runtime.whenIdle();
      const state = await runtime.stateOf('reminder', 'hot');
      expect((state.data as Reminder).pokes).to.deep.equal(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(runtime.stats('reminder')).to.include({ loads: 0, freshStarts: 1, freshMisses: 0 });
    });
  });

  describe('when a restarted worker sees a start event again in catch-up', () => {
    it('reads the stream instead of presuming a new instance, and records the input once', async () => {
      const first = await start();
      await request(store, 'r');
      await poke(store, 'r', 1);
      await first.runtime.whenIdle();
      await first.runtime.stop();
      // Losing the input checkpoints makes the next worker see r's inputs again.
      await store.deleteStream('sagastreamCheckpoint-reminder.input.request');
      await store.deleteStream('sagastreamCheckpoint-reminder.input.poke');
      const second = await start();
      await second.runtime.whenIdle();
      expect(second.runtime.stats('reminder')).to.include({ loads: 1, freshStarts: 0, freshMisses: 0 });
      expect(await count(store, 'reminder-r', 'sagastream.ProcessStarted')).to.equal(1);
      expect(await count(store, 'reminder-r', 'sagastream.InputRecorded')).to.equal(2);
      expect(second.service.deliveries).to.equal(0);
      expect(((await second.runtime.stateOf('reminder', 'r')).data as Reminder).pokes).to.deep.equal([1]);
    });
  });

  describe('when a live start event names an instance that exists but is not cached', () => {
    it('finds the stream on the no_stream append, then reads it and decides again', async () => {
      const first = await start();
      await request(store, 's');
      await first.runtime.whenIdle();
      await first.runtime.stop();
      const second = await start();
      await second.runtime.whenIdle();
      await request(store, 's');
      await second.runtime.whenIdle();
      expect(second.runtime.stats('reminder')).to.include({ loads: 1, freshStarts: 0, freshMisses: 1 });
      expect(await count(store, 'reminder-s', 'sagastream.ProcessStarted')).to.equal(1);
      expect(second.runtime.reports.map((r) => r.kind)).to.include('ignored');
    });
  });

  describe('when a category holds unknown and malformed events', () => {
    it('records and reports each with its stream and revision, and keeps handling the rest', async () => {
      const { runtime } = await start();
      await request(store, 'm');
      await store.append('poke-m', [{ id: uuid(), type: 'MysteryHappened', data: { x: 1 } }]);
      await store.append('poke-m', [{ id: uuid(), type: 'Poke', data: [1, 2, 3] }]);
      await poke(store, 'm', 7);
      await runtime.whenIdle();
      const rejected = runtime.reports.filter((r) => r.kind === 'rejected');
      expect(rejected.map((r) => [r.stream, r.revision, (r.error as { code?: string }).code])).to.deep.equal([
        ['poke-m', 0n, 'UNKNOWN_EVENT_TYPE'],
        ['poke-m', 1n, 'MALFORMED_EVENT'],
      ]);
      const recorded = await store.readStream('sagastreamRejected-reminder');
      expect(recorded.map((e) => (e.data as { revision: string }).revision)).to.deep.equal(['0', '1']);
      expect(((await runtime.stateOf('reminder', 'm')).data as Reminder).pokes).to.deep.equal([7]);
    });
  });

  describe('when a handler keeps throwing', () => {
    beforeEach(() => faults.failingPokes.add(2));

    it('quarantines that instance while the others keep flowing, and runs the held inputs on release', async () => {
      const { runtime } = await start();
      await request(store, 'q');
      await request(store, 'ok');
      for (const n of [1, 2, 3]) await poke(store, 'q', n);
      await poke(store, 'ok', 1);
      await until(() => runtime.reports.some((r) => r.kind === 'quarantined'), 5000, 'a quarantine');
      await runtime.whenIdle();
      expect(((await runtime.stateOf('reminder', 'ok')).data as Reminder).pokes).to.deep.equal([1]);
      const held = await runtime.stateOf('reminder', 'q');
      expect((held.data as Reminder).pokes).to.deep.equal([1]);
      expect(held.quarantine).to.not.equal(undefined);
      expect(await count(store, 'reminder-q', 'sagastream.ProcessQuarantined')).to.equal(1);

      faults.failingPokes.clear();
      await runtime.release('reminder', 'q');
      await until(
        async () => ((await runtime.stateOf('reminder', 'q')).data as Reminder).pokes.length === 3,
        5000,
        'held pokes',
      );
      expect(((await runtime.stateOf('reminder', 'q')).data as Reminder).pokes).to.deep.equal([1, 2, 3]);
    });

    it('skips the poison input on skip and runs the later ones', async () => {
      const { runtime } = await start();
      await request(store, 's');
      for (const n of [1, 2, 3]) await poke(store, 's', n);
      await until(() => runtime.reports.some((r) => r.kind === 'quarantined'), 5000, 'a quarantine');
      await runtime.skip('reminder', 's');
      await until(
        async () => ((await runtime.stateOf('reminder', 's')).data as Reminder).pokes.length === 2,
        5000,
        'pokes after skip',
      );
      expect(((await runtime.stateOf('reminder', 's')).data as Reminder).pokes).to.deep.equal([1, 3]);
    });

    it('keeps the quarantine across a restart', async () => {
      const first = await start();
      await request(store, 'r');
      for (const n of [1, 2, 3]) await poke(store, 'r', n);
      await until(() => first.runtime.reports.some((r) => r.kind === 'quarantined'), 5000, 'a quarantine');
      await first.runtime.stop();
      faults.failingPokes.clear();
      const second = await start();
      await second.runtime.whenIdle();
      expect(((await second.runtime.stateOf('reminder', 'r')).data as Reminder).pokes).to.deep.equal([1]);
      await second.runtime.release('reminder', 'r');
      await until(
        async () => ((await second.runtime.stateOf('reminder', 'r')).data as Reminder).pokes.length === 3,
        5000,
        'held pokes',
      );
    });
  });

  describe('when a timeout is scheduled and the worker restarts before it is due', () => {
    it('fires it once after the restart', async () => {
      const clock = new ManualClock(Date.parse('2030-01-01T00:00:00Z'));
      const first = await start({ clock });
      await request(store, 't', 60_000);
      await first.runtime.whenIdle();
      expect(await count(store, 'reminder-t', 'sagastream.TimeoutScheduled')).to.equal(1);
      await first.runtime.stop();

      const second = await start({ clock });
      await second.runtime.whenIdle();
      expect(await count(store, 'reminderSent-t', 'ReminderSent')).to.equal(0);
      clock.advance(60_000);
      await until(
        async () => (await count(store, 'reminderSent-t', 'ReminderSent')) === 1,
        5000,
        'the reminder',
      );
      await second.runtime.whenIdle();
      await second.runtime.stop();

      const third = await start({ clock });
      clock.advance(60_000);
      await third.runtime.whenIdle();
      expect(await count(store, 'reminder-t', 'sagastream.TimeoutFired')).to.equal(1);
      expect(await count(store, 'reminderSent-t', 'ReminderSent')).to.equal(1);
    });
  });

  describe('when a restarted worker finds a backlog of commands to deliver', () => {
    // The first worker delivered everything; losing the relay checkpoint makes the next one
    // deliver all 12 commands again (the service dedupes them by command id).
    const backlog = async () => {
      const first = await start();
      for (let i = 0; i < 12; i++) {
        await request(store, `b${i}`);
        await poke(store, `b${i}`, 0);
      }
      await first.runtime.whenIdle();
      await first.runtime.stop();
      await store.deleteStream('sagastreamCheckpoint-reminder.relay');
    };

    /** Drops from the relay's subscription its caught-up markers and, if given, one event. */
    const hideFromRelay = (checkpoint?: bigint) => {
      const subscribe = store.subscribe.bind(store);
      store.subscribe = (source, options) =>
        subscribe(source, options).pipe(
          map((batch) =>
            'category' in source && source.category === 'reminder'
              ? {
                  ...batch,
                  items: batch.items.filter(
                    (item) =>
                      item.kind !== 'caughtUp' && !(item.kind === 'event' && item.checkpoint === checkpoint),
                  ),
                }
              : batch,
          ),
        );
    };

    it('delivers one command at a time until its relay has read the backlog', async () => {
      await backlog();
      // The relay never gets the last event (b11's command), so it never catches up.
      const [last] = await store.readStream('$ce-reminder', { direction: 'backwards', maxCount: 1 });
      hideFromRelay(last!.link?.revision ?? last!.revision);
      const second = await start();
      await until(() => second.service.deliveries === 11, 5000, 'the redeliveries');
      expect(second.service.maxInFlight).to.equal(1);
      for (let i = 0; i < 11; i++)
        expect(await count(store, `reminderSent-b${i}`, 'ReminderSent')).to.equal(1);
    });

    it('delivers relayCatchUpConcurrency commands at once while it reads the backlog', async () => {
      await backlog();
      const [last] = await store.readStream('$ce-reminder', { direction: 'backwards', maxCount: 1 });
      hideFromRelay(last!.link?.revision ?? last!.revision);
      const made = newRuntime(store, { relayCatchUpConcurrency: 4 });
      running.push(made.runtime);
      let open!: () => void;
      made.service.hold = new Promise<void>((resolve) => (open = resolve));
      await made.runtime.start();
      await until(() => made.service.inFlight === 4, 5000, '4 deliveries running at once');
      open();
      await until(() => made.service.deliveries === 11, 5000, 'the redeliveries');
      expect(made.service.maxInFlight).to.equal(4);
    });

    it('ends the catch-up at the head its source had on start when the store never reports it', async () => {
      await backlog();
      hideFromRelay();
      const made = newRuntime(store);
      running.push(made.runtime);
      let open!: () => void;
      made.service.hold = new Promise<void>((resolve) => (open = resolve));
      await made.runtime.start();
      await until(() => made.service.inFlight === 12, 5000, 'all 12 deliveries running at once');
      open();
      // Not whenIdle: idleness needs the store to report the catch-up.
      await until(() => made.service.inFlight === 0, 5000, 'the deliveries');
      for (let i = 0; i < 12; i++)
        expect(await count(store, `reminderSent-b${i}`, 'ReminderSent')).to.equal(1);
    });

    it('reads the whole backlog while a delivery hangs, then delivers at relayConcurrency', async () => {
      await backlog();
      let open!: () => void;
      const made = newRuntime(store);
      running.push(made.runtime);
      made.service.hold = new Promise<void>((resolve) => (open = resolve));
      await made.runtime.start();
      await until(() => made.service.inFlight === 12, 5000, 'all 12 deliveries running at once');
      open();
      await made.runtime.whenIdle();
      for (let i = 0; i < 12; i++)
        expect(await count(store, `reminderSent-b${i}`, 'ReminderSent')).to.equal(1);
    });
  });

  describe('when a command fails transiently', () => {
    it('retries until it is delivered', async () => {
      faults.reminderTransientFailures = 3;
      const { runtime, service } = await start();
      await request(store, 'c');
      await poke(store, 'c', 0);
      await runtime.whenIdle();
      expect(await count(store, 'reminderSent-c', 'ReminderSent')).to.equal(1);
      expect(service.deliveries).to.equal(4);
      expect(runtime.reports.filter((r) => r.kind === 'commandRetry')).to.have.length(3);
    });
  });

  describe('when a command fails for good', () => {
    it('feeds the failure back to the process, which fails and compensates', async () => {
      faults.reminderRejected = true;
      const { runtime } = await start();
      await request(store, 'f');
      await poke(store, 'f', 0);
      await runtime.whenIdle();
      const state = await runtime.stateOf('reminder', 'f');
      expect(state.status).to.equal('compensated');
      expect(state.failure).to.contain('reminders are switched off');
      expect(runtime.reports.filter((r) => r.kind === 'commandFailed')).to.have.length(1);
    });
  });

  describe('when an event arrives for an instance that has not started', () => {
    it('records it as ignored in the process stream and reports it', async () => {
      const { runtime } = await start();
      await poke(store, 'early', 1);
      await runtime.whenIdle();
      expect(await types(store, 'reminder-early')).to.deep.equal(['sagastream.InputIgnored']);
      expect(runtime.reports.filter((r) => r.kind === 'ignored').map((r) => r.processId)).to.deep.equal([
        'early',
      ]);
    });
  });

  describe('when two workers run on the same store', () => {
    it('handles every input once and delivers every effect once', async () => {
      const a = await start();
      const b = await start();
      const ids = Array.from({ length: 20 }, (_, i) => `w${i}`);
      for (const id of ids) {
        await request(store, id);
        await poke(store, id, 0);
        await poke(store, id, 1);
      }
      await a.runtime.whenIdle();
      await b.runtime.whenIdle();
      for (const id of ids) {
        expect(await count(store, `reminder-${id}`, 'sagastream.InputRecorded'), id).to.equal(3);
        expect(await count(store, `reminder-${id}`, 'PokeNoted'), id).to.equal(2);
        expect(await count(store, `reminderSent-${id}`, 'ReminderSent'), id).to.equal(1);
      }
    });
  });

  describe('when commands are delivered again', () => {
    it('keeps each effect single because handlers dedupe by command id', async () => {
      const first = await start();
      await request(store, 'd');
      await poke(store, 'd', 0);
      await first.runtime.whenIdle();
      await first.runtime.stop();
      // Losing the relay's checkpoint makes the next worker redeliver everything.
      await store.deleteStream('sagastreamCheckpoint-reminder.relay');
      const second = await start();
      await second.runtime.whenIdle();
      expect(second.service.deliveries).to.equal(1);
      expect(await count(store, 'reminderSent-d', 'ReminderSent')).to.equal(1);
    });
  });

  describe('when stopped gracefully', () => {
    it('stores checkpoints at the end of what it handled', async () => {
      const { runtime } = await start({ checkpointIntervalMs: 60_000, checkpointEvery: 10_000 });
      await request(store, 'g');
      for (let n = 1; n <= 5; n++) await poke(store, 'g', n);
      await runtime.whenIdle();
      await runtime.stop();
      expect(await store.readCheckpoint('reminder.input.poke')).to.equal(4n);
      expect(await store.readCheckpoint('reminder.input.request')).to.equal(0n);
    });
  });
});

describe('ProcessRuntime on the embedded server', () => {
  describe('when instances run through the real client', () => {
    it('handles inputs and delivers commands exactly once', async () => {
      const server = await startEmbedded();
      const store = new EventStoreDbEventStore(server.connectionString);
      const { runtime } = newRuntime(store);
      try {
        await runtime.start();
        for (const id of ['e1', 'e2', 'e3']) {
          await request(store, id);
          await poke(store, id, 0);
        }
        await runtime.whenIdle();
        for (const id of ['e1', 'e2', 'e3']) {
          expect(await count(store, `reminderSent-${id}`, 'ReminderSent')).to.equal(1);
          expect(await count(store, `reminder-${id}`, 'sagastream.InputRecorded')).to.equal(2);
        }
      } finally {
        await runtime.stop();
        await store.close();
        await server.close();
      }
    });
  });
});
