import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { v4 as uuid } from 'uuid';
import { ProcessEventTypes as P } from '../../lib/process/process-events';
import { EventStoreDbEventStore } from '../../lib/store/eventstoredb/eventstoredb-event-store';
import { startEmbedded } from '../helpers/embedded';
import { until } from '../helpers/until';
import { runChild } from '../saga/fixtures/child';

const WORKER = join(__dirname, 'fixtures', 'workflow-worker.ts');
/** A deadline, not a sleep: a child worker compiles and connects first, slow on a loaded machine. */
const RECOVERY_MS = 60_000;

describe('ProcessRuntime crash recovery of workflows', function () {
  this.timeout(4 * RECOVERY_MS);
  let embedded: Awaited<ReturnType<typeof startEmbedded>>;
  let store: EventStoreDbEventStore;
  let dir: string;
  const children: { kill(signal: NodeJS.Signals): boolean }[] = [];

  before(async () => {
    embedded = await startEmbedded();
    store = new EventStoreDbEventStore(embedded.connectionString);
    dir = mkdtempSync(join(tmpdir(), 'wf-crash-'));
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await store.close();
    await embedded.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cases = [
    {
      title: 'inside a step',
      crashIn: 'reserve',
      failShip: false,
      end: P.ProcessCompleted,
      effects: ['charge', 'reserve', 'ship'],
    },
    {
      title: 'inside a compensation',
      crashIn: 'release',
      failShip: true,
      end: P.ProcessCompensated,
      effects: ['charge', 'reserve', 'ship', 'release', 'refund'],
    },
  ];

  for (const { title, crashIn, failShip, end, effects } of cases) {
    describe(`when the worker is SIGKILLed ${title}`, () => {
      it('finishes the run after a restart with every step and compensation effective exactly once', async () => {
        const callsFile = join(dir, `${crashIn}.calls`);
        const env = { EVENTSTORE_CONNECTION_STRING: embedded.connectionString, WF_CALLS_FILE: callsFile };
        const first = runChild(WORKER, { ...env, WF_CRASH_IN: crashIn });
        children.push(first.child);
        const runId = uuid();
        await store.append(`crashorder-${runId}`, [
          { id: runId, type: 'CrashOrderPlaced', data: { failShip } },
        ]);
        const exit = await first.exit;
        expect(exit.signal, exit.stderr).to.equal('SIGKILL');
        const stream = `crashy-${runId}`;
        expect((await store.readStream(stream)).map((e) => e.type)).not.to.include(end);

        const second = runChild(WORKER, { ...env, WF_CRASH_IN: crashIn });
        children.push(second.child);
        await until(
          async () => (await store.readStream(stream)).some((e) => e.type === end),
          RECOVERY_MS,
          `${end}`,
        );
        second.child.kill('SIGTERM');
        expect((await second.exit).code).to.equal(0);

        const effectsSeen = (await store.readStream(`effects-${runId}`)).map(
          (e) => (e.data as { name: string }).name,
        );
        expect(effectsSeen).to.deep.equal(effects);
        const calls = readFileSync(callsFile, 'utf8').trim().split('\n');
        // The interrupted step ran again (same idempotency key); nothing recorded before the kill did.
        for (const name of effects)
          expect(
            calls.filter((c) => c === name),
            name,
          ).to.have.length(name === crashIn ? 2 : 1);
        const types = (await store.readStream(stream)).map((e) => e.type);
        expect(types.filter((t) => t === P.ProcessStarted)).to.have.length(1);
        expect(types.filter((t) => t === end)).to.have.length(1);
      });
    });
  }

  describe('when one worker hosts a process manager and a workflow and is SIGKILLed inside a step', () => {
    it('recovers both after a restart: every input noted once, the due timer fired once, every step effective once', async () => {
      const callsFile = join(dir, 'mixed.calls');
      const env = {
        EVENTSTORE_CONNECTION_STRING: embedded.connectionString,
        WF_CALLS_FILE: callsFile,
        WF_CRASH_IN: 'reserve',
        WF_WITH_PROCESS: '1',
      };
      const first = runChild(WORKER, env);
      children.push(first.child);
      const id = uuid();
      const pokes = async () =>
        (await store.readStream(`reminder-${id}`))
          .filter((e) => e.type === 'PokeNoted')
          .map((e) => (e.data as { n: number }).n);
      // The reminder's timer is due after the kill, so only the restarted worker can fire it.
      await store.append(`request-${id}`, [
        { id: uuid(), type: 'ReminderRequested', data: { id, delayMs: 20_000 } },
      ]);
      for (const n of [1, 2])
        await store.append(`poke-${id}`, [{ id: uuid(), type: 'Poke', data: { id, n } }]);
      await until(async () => (await pokes()).length === 2, RECOVERY_MS, 'the first two pokes noted');

      const runId = uuid();
      await store.append(`crashorder-${runId}`, [
        { id: runId, type: 'CrashOrderPlaced', data: { failShip: false } },
      ]);
      const exit = await first.exit;
      expect(exit.signal, exit.stderr).to.equal('SIGKILL');
      // Inputs that arrive while no worker runs wait in their category.
      await store.append(`poke-${id}`, [{ id: uuid(), type: 'Poke', data: { id, n: 3 } }]);
      expect(await store.readStream(`reminderSent-${id}`)).to.have.length(0);

      const second = runChild(WORKER, env);
      children.push(second.child);
      const stream = `crashy-${runId}`;
      await until(
        async () => (await store.readStream(stream)).some((e) => e.type === P.ProcessCompleted),
        RECOVERY_MS,
        'the workflow run completed',
      );
      await until(async () => (await pokes()).length === 3, RECOVERY_MS, 'the third poke noted');
      await until(
        async () => (await store.readStream(`reminderSent-${id}`)).length === 1,
        RECOVERY_MS,
        'the reminder sent',
      );
      second.child.kill('SIGTERM');
      expect((await second.exit).code).to.equal(0);

      expect(await pokes()).to.deep.equal([1, 2, 3]);
      expect(await store.readStream(`reminderSent-${id}`)).to.have.length(1);
      const effects = (await store.readStream(`effects-${runId}`)).map(
        (e) => (e.data as { name: string }).name,
      );
      expect(effects).to.deep.equal(['charge', 'reserve', 'ship']);
      const calls = readFileSync(callsFile, 'utf8').trim().split('\n');
      expect(calls).to.deep.equal(['charge', 'reserve', 'reserve', 'ship']);
    });
  });
});
