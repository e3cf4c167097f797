import { expect } from 'chai';
import { Command } from 'commander';
import { v4 as uuid } from 'uuid';
import { registerProcessesCommand } from '../../lib/cli/processes-command';
import { NonRetryableError, ProcessNotFoundError } from '../../lib/errors';
import { silentLogger } from '../../lib/runtime/logger';
import { ProcessRuntime } from '../../lib/runtime/process-runtime';
import { defineSaga } from '../../lib/saga/define-saga';
import { createWorkflow } from '../../lib/workflow/create-workflow';
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

/** A workflow whose run `q` repeats a step name (a code problem that quarantines it) while `buggy.on`. */
const buggy = { on: false };
const parcel = createWorkflow<{ id: string; fail?: boolean }>(
  { id: 'parcel', triggers: [{ event: 'ParcelBooked' }] },
  async ({ event, step }) => {
    const label = await step.run('label', () => ({ label: `L-${event.data.id}` }));
    step.compensate('label', () => ({ voided: label.label }));
    if (buggy.on && event.data.id === 'q') await step.run('label', () => 'twice');
    await step.run('pickup', () => {
      if (event.data.fail) throw new NonRetryableError('no courier today');
      return 'picked up';
    });
  },
);
const refund = defineSaga({
  name: 'refund',
  actions: {
    credit: () => ({ credited: 12 }),
    notify: () => {
      throw new NonRetryableError('mail server down');
    },
    debit: () => ({ debited: 12 }),
  },
  sequence: ['credit', 'notify'],
  compensate: { credit: 'debit' },
});

describe('sagastream processes', () => {
  let server: Embedded;
  let store: EventStoreDbEventStore;
  let runtime: ProcessRuntime;

  /** Runs `sagastream processes ...` in-process against the embedded server; resolves with stdout lines. */
  async function run(...args: string[]): Promise<string[]> {
    const lines: string[] = [];
    const program = new Command('sagastream').exitOverride();
    // The command gets an adapter over the worker's own client: @eventstore/db-client 6.2.1
    // keeps one process-wide table of pending BatchAppend replies, so disposing a second client
    // while the worker's appends are in flight fails them and leaves their late replies without
    // an owner, and that client's appends then never answer (fixed upstream in the KurrentDB
    // client, PR #523). The child-process tests cover the command opening its own connection.
    registerProcessesCommand(
      program,
      { out: (line) => lines.push(line), err: (line) => lines.push(line) },
      { openStore: () => new EventStoreDbEventStore(store.client) },
    );
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
      .registerCommandHandlers(new ReminderService(store))
      .register(parcel)
      .registerSaga(refund);
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
      expect(quarantined[0]).to.match(/^ID\s+KIND\s+STATUS\s+LAST STEP\s+ERROR$/);
      expect(quarantined).to.have.length(2);
      expect(quarantined[1]).to.match(/^q\s+process\s+quarantined\s+Poke poke-q@0\s+.*poke 2 is poison/);

      const all = await run('list', 'reminder');
      expect(all.slice(1).map((line) => line.split(/\s+/)[0])).to.have.members(['q', 'fine']);
      expect(all.find((line) => line.startsWith('fine'))).to.match(
        /^fine\s+process\s+running\s+ReminderRequested request-fine@0/,
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

  describe('when the runtime also hosts a workflow and a saga', () => {
    const book = async (id: string, fail = false) => {
      const runId = uuid();
      await store.append(`parcel-${id}`, [{ id: runId, type: 'ParcelBooked', data: { id, fail } }]);
      return runId;
    };
    afterEach(() => {
      buggy.on = false;
    });

    it('lists workflow runs and saga runs with kind, status, last step and error', async () => {
      const ok = await book('ok');
      const failed = await book('nope', true);
      await runtime.executeSaga(refund, { sagaId: 'rf1' }).catch(() => undefined);
      await runtime.whenIdle();

      const cli = runCli(['processes', 'list', 'parcel', '--connection', server.connectionString]);
      expect(await exitOf(cli, 30_000), cli.stderr()).to.equal(0);
      const lines = cli.stdout().trim().split('\n');
      expect(lines[0]).to.match(/^ID\s+KIND\s+STATUS\s+LAST STEP\s+ERROR$/);
      expect(lines.find((l) => l.startsWith(ok))).to.match(
        /^\S+\s+workflow\s+completed\s+pickup completed\s+-$/,
      );
      expect(lines.find((l) => l.startsWith(failed))).to.match(
        /^\S+\s+workflow\s+compensated\s+compensate:label completed\s+pickup: no courier today$/,
      );
      expect(await run('list', 'refund')).to.deep.equal([
        'ID   KIND  STATUS       LAST STEP                    ERROR',
        'rf1  saga  compensated  compensate:credit completed  notify: mail server down',
      ]);
    });

    it('shows the steps and compensations a run recorded', async () => {
      const failed = await book('nope', true);
      await runtime.whenIdle();
      const lines = await run('show', 'parcel', failed);
      expect(lines).to.include.members([
        'kind:        workflow',
        'status:      compensated (definition version 1)',
        `trigger:     ParcelBooked parcel-nope@0`,
        'steps:       2 recorded (in the order the code reached them)',
        '  label  completed  {"label":"L-nope"}',
        '  pickup  failed after 1 attempt: no courier today',
        'compensations: 1 registered (run newest first)',
        '  compensate:label  completed',
      ]);
      await runtime.executeSaga(refund, { sagaId: 'rf2' }).catch(() => undefined);
      expect(await run('show', 'refund', 'rf2')).to.include.members([
        'kind:        saga',
        '  credit  completed  {"credited":12}',
        '  notify  failed after 1 attempt: mail server down',
        '  compensate:credit  completed',
      ]);
    });

    it('releases a quarantined workflow run through the sagastream command, and the running worker finishes it', async () => {
      buggy.on = true;
      const runId = await book('q');
      await until(
        () =>
          runtime.reports.some(
            (r) => r.owner === 'workflow' && r.kind === 'quarantined' && r.processId === runId,
          ),
        10_000,
        'the quarantine of the run',
      );
      const [row] = (await run('list', 'parcel', '--status', 'quarantined')).slice(1);
      expect(row).to.match(/^\S+\s+workflow\s+quarantined\s+label completed\s+.*'label'/);
      buggy.on = false; // the fix is deployed

      const cli = runCli(['processes', 'release', 'parcel', runId, '--connection', server.connectionString]);
      expect(await exitOf(cli, 30_000), cli.stderr()).to.equal(0);
      expect(cli.stdout()).to.contain(`parcel-${runId} released`);

      await until(
        async () => (await runtime.stateOf(parcel, runId)).status === 'completed',
        10_000,
        'the released run to complete',
      );
      expect((await runtime.stateOf(parcel, runId)).steps).to.deep.equal(['label', 'pickup']);
      expect(await run('release', 'parcel', runId)).to.deep.equal([
        `parcel-${runId} is not quarantined; nothing to do.`,
      ]);
    });
  });
});
