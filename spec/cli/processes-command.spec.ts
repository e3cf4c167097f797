import { expect } from 'chai';
import { Command } from 'commander';
import { v4 as uuid } from 'uuid';
import { registerProcessesCommand } from '../../lib/cli/processes-command';
import { ProcessNotFoundError } from '../../lib/errors';
import { silentLogger } from '../../lib/runtime/logger';
import { ProcessRuntime } from '../../lib/runtime/process-runtime';
import { EventStoreDbEventStore } from '../../lib/store/eventstoredb/eventstoredb-event-store';
import type { EventStore } from '../../lib/store/event-store';
import { type Embedded, startEmbedded } from '../helpers/embedded';
import { until } from '../helpers/until';
import {
  REMINDER_CATEGORIES,
  Reminder,
  ReminderService,
  faults,
  reminderRegistry,
} from '../runtime/fixtures/reminder';
import { exitOf, runCli } from './cli-process';

const request = (store: EventStore, id: string) =>
  store.append(`request-${id}`, [{ id: uuid(), type: 'ReminderRequested', data: { id, delayMs: -1 } }]);
const poke = (store: EventStore, id: string, n: number) =>
  store.append(`poke-${id}`, [{ id: uuid(), type: 'Poke', data: { id, n } }]);

describe('sagastream processes', () => {
  let server: Embedded;
  let store: EventStoreDbEventStore;
  let runtime: ProcessRuntime;

  /** Runs `sagastream processes ...` in-process against the embedded server; resolves with stdout lines. */
  async function run(...args: string[]): Promise<string[]> {
    const lines: string[] = [];
    const program = new Command('sagastream').exitOverride();
    registerProcessesCommand(program, { out: (line) => lines.push(line), err: (line) => lines.push(line) });
    await program.parseAsync(['processes', ...args, '--connection', server.connectionString], {
      from: 'user',
    });
    return lines;
  }
  const pokesOf = async (id: string) => ((await runtime.stateOf('reminder', id)).data as Reminder).pokes;
  const quarantine = async (id: string) => {
    await request(store, id);
    for (const n of [1, 2, 3]) await poke(store, id, n);
    await until(
      () => runtime.reports.some((r) => r.kind === 'quarantined' && r.processId === id),
      10_000,
      `the quarantine of ${id}`,
    );
  };

  beforeEach(async () => {
    faults.failingPokes.clear();
    faults.failingPokes.add(2);
    server = await startEmbedded();
    store = new EventStoreDbEventStore(server.connectionString);
    runtime = new ProcessRuntime({
      store,
      registry: reminderRegistry(),
      logger: silentLogger,
      backoff: { initialDelayMs: 1, maxDelayMs: 5 },
      checkpointIntervalMs: 50,
    })
      .register(Reminder, { categories: REMINDER_CATEGORIES })
      .registerCommandHandlers(new ReminderService(store));
    await runtime.start();
  });

  afterEach(async () => {
    faults.failingPokes.clear();
    await runtime.stop();
    await store.close();
    await server.close();
  });

  describe('when an instance is quarantined by a throwing handler', () => {
    it('lists it with its status, last input and error, and filters by status', async () => {
      await quarantine('q');
      await request(store, 'fine');
      await runtime.whenIdle();

      const quarantined = await run('list', 'reminder', '--status', 'quarantined');
      expect(quarantined[0]).to.match(/^PROCESS ID\s+STATUS\s+LAST INPUT\s+ERROR$/);
      expect(quarantined).to.have.length(2);
      expect(quarantined[1]).to.match(/^q\s+quarantined\s+Poke poke-q@0\s+.*poke 2 is poison/);

      const all = await run('list', 'reminder');
      expect(all.slice(1).map((line) => line.split(/\s+/)[0])).to.have.members(['q', 'fine']);
      expect(all.find((line) => line.startsWith('fine'))).to.match(
        /^fine\s+running\s+ReminderRequested request-fine@0/,
      );
      expect(await run('list', 'reminder', '--status', 'completed')).to.deep.equal([
        'No completed instances of reminder.',
      ]);
    });

    it('shows the quarantine and how to lift it', async () => {
      await quarantine('q');
      const lines = await run('show', 'reminder', 'q');
      expect(lines[0]).to.match(/^stream:\s+reminder-q \(revision \d+, \d+ events\)$/);
      expect(lines).to.include('status:      running (definition version 1)');
      expect(lines.find((l) => l.startsWith('quarantined:'))).to.match(
        /by input \S+: .*poke 2 is poison \[HANDLER\]/,
      );
      expect(lines.join('\n')).to.contain('sagastream processes release|skip reminder q');
      expect(lines).to.include('timers:      0 pending');
    });

    it('releases it through the sagastream command, and the running worker handles the held inputs', async () => {
      await quarantine('q');
      expect(await pokesOf('q')).to.deep.equal([1]);
      faults.failingPokes.clear();

      const cli = runCli(['processes', 'release', 'reminder', 'q', '--connection', server.connectionString]);
      expect(await exitOf(cli, 30_000), cli.stderr()).to.equal(0);
      expect(cli.stdout()).to.match(
        /reminder-q released; running workers retry input \S+, then the held inputs\./,
      );

      await until(async () => (await pokesOf('q')).length === 3, 10_000, 'the held pokes');
      expect(await pokesOf('q')).to.deep.equal([1, 2, 3]);
      expect(await run('list', 'reminder', '--status', 'quarantined')).to.deep.equal([
        'No quarantined instances of reminder.',
      ]);
    });

    it('skips the failing input and the worker handles the later ones', async () => {
      await quarantine('s');
      const [said] = await run('skip', 'reminder', 's');
      expect(said).to.match(/reminder-s released; input \S+ is skipped/);
      await until(async () => (await pokesOf('s')).length === 2, 10_000, 'the pokes after the skip');
      expect(await pokesOf('s')).to.deep.equal([1, 3]);
    });
  });

  describe('when the instance is not quarantined', () => {
    it('appends nothing and says so', async () => {
      await request(store, 'calm');
      await runtime.whenIdle();
      const before = (await store.readStream('reminder-calm')).length;
      expect(await run('release', 'reminder', 'calm')).to.deep.equal([
        'reminder-calm is not quarantined; nothing to do.',
      ]);
      expect(await store.readStream('reminder-calm')).to.have.length(before);
    });
  });

  describe('when the instance does not exist', () => {
    it('fails with a ProcessNotFoundError naming it', async () => {
      const error = await run('show', 'reminder', 'ghost').then(
        () => expect.fail('expected an error'),
        (err: unknown) => err,
      );
      expect(error).to.be.instanceOf(ProcessNotFoundError);
      expect((error as Error).message).to.contain('No instance reminder-ghost');
    });
  });
});
