import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { v4 as uuid } from 'uuid';
import {
  DefinitionError,
  MissingDependencyError,
  NonRetryableError,
  SagaFailedError,
} from '../../lib/errors';
import { ProcessEventTypes as P } from '../../lib/process/process-events';
import { ManualClock } from '../../lib/runtime/clock';
import { defineSaga, type SagaContext } from '../../lib/saga/define-saga';
import { SagaExecutor } from '../../lib/saga/saga-executor';
import { EventStoreDbEventStore } from '../../lib/store/eventstoredb/eventstoredb-event-store';
import type { EventStore } from '../../lib/store/event-store';
import { LocalEventStore } from '../../lib/store/local/local-event-store';
import { StepEventTypes as S } from '../../lib/workflow/step-events';
import { startEmbedded } from '../helpers/embedded';
import { until } from '../helpers/until';
import { runChild } from './fixtures/child';
import { countingSaga } from './fixtures/counting-saga';

const typesOf = async (store: EventStore, stream: string) =>
  (await store.readStream(stream)).map((e) => e.type);

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('SagaExecutor', () => {
  let store: LocalEventStore;
  let calls: string[];
  const track =
    (name: string, result: unknown = name) =>
    () => {
      calls.push(name);
      return result;
    };

  beforeEach(async () => {
    store = await LocalEventStore.open({ memory: true });
    calls = [];
  });
  afterEach(() => store.close());

  describe('when every action succeeds', () => {
    it('runs the actions in sequence once each and records the completion', async () => {
      const setup = defineSaga({
        name: 'trip',
        actions: { foo: track('foo', { n: 1 }), bar: track('bar'), baz: track('baz') },
        sequence: ['foo', 'bar', 'baz'],
      });
      const result = await new SagaExecutor({ store }).execute(setup, { sagaId: 's1' });
      expect(calls).to.deep.equal(['foo', 'bar', 'baz']);
      expect(result).to.deep.equal({
        sagaId: 's1',
        status: 'completed',
        results: { foo: { n: 1 }, bar: 'bar', baz: 'baz' },
      });
      expect(await typesOf(store, 'trip-s1')).to.deep.equal([
        P.ProcessStarted,
        P.InputRecorded,
        S.StepCompleted,
        S.StepCompleted,
        S.StepCompleted,
        P.ProcessCompleted,
      ]);
    });
  });

  describe('when an action fails', () => {
    const setup = () =>
      defineSaga({
        name: 'trip',
        actions: {
          foo: track('foo'),
          bar: track('bar'),
          baz: () => {
            calls.push('baz');
            throw new Error('baz is down');
          },
          qux: track('qux'),
          'fix-foo': track('fix-foo'),
          'fix-bar': track('fix-bar'),
        },
        sequence: ['foo', 'bar', 'baz', 'qux'],
        compensate: { foo: 'fix-foo', bar: 'fix-bar' },
      });

    it('skips the remaining actions and compensates the completed ones in reverse order', async () => {
      const error = await rejection(new SagaExecutor({ store }).execute(setup(), { sagaId: 's2' }));
      expect(calls).to.deep.equal(['foo', 'bar', 'baz', 'fix-bar', 'fix-foo']);
      expect(error).to.be.instanceOf(SagaFailedError);
      expect(error).to.include({ action: 'baz', status: 'compensated', sagaId: 's2' });
      const types = await typesOf(store, 'trip-s2');
      expect(types.slice(-7)).to.deep.equal([
        S.StepFailed,
        P.ProcessFailed,
        P.CompensationScheduled,
        P.CompensationCompleted,
        P.CompensationScheduled,
        P.CompensationCompleted,
        P.ProcessCompensated,
      ]);
      const scheduled = (await store.readStream('trip-s2'))
        .filter((e) => e.type === P.CompensationScheduled)
        .map((e) => (e.data as { type: string }).type);
      expect(scheduled).to.deep.equal(['fix-bar', 'fix-foo']);
    });

    it('reports the failure again, without running anything, when the saga is resumed', async () => {
      await rejection(new SagaExecutor({ store }).execute(setup(), { sagaId: 's3' }));
      calls = [];
      const error = await rejection(new SagaExecutor({ store }).resume(setup(), 's3'));
      expect(error).to.include({ action: 'baz', status: 'compensated' });
      expect(calls).to.deep.equal([]);
    });
  });

  describe('when a compensating action fails', () => {
    it('records a terminal compensation failure and leaves the older compensations to an operator', async () => {
      const setup = defineSaga({
        name: 'trip',
        actions: {
          foo: track('foo'),
          bar: track('bar'),
          baz: () => {
            throw new Error('baz is down');
          },
          'fix-foo': track('fix-foo'),
          'fix-bar': () => {
            calls.push('fix-bar');
            throw new Error('cannot undo bar');
          },
        },
        sequence: ['foo', 'bar', 'baz'],
        compensate: { foo: 'fix-foo', bar: 'fix-bar' },
      });
      const error = await rejection(new SagaExecutor({ store }).execute(setup, { sagaId: 's4' }));
      expect(error).to.include({ status: 'compensationFailed', failedCompensation: 'fix-bar' });
      expect(calls).to.deep.equal(['foo', 'bar', 'fix-bar']);
      const events = await store.readStream('trip-s4');
      expect(events.map((e) => e.type).slice(-2)).to.deep.equal([
        P.CompensationFailed,
        P.ProcessCompensationFailed,
      ]);
      expect(events.at(-1)?.data).to.deep.include({ step: 'bar' });
      expect((events.at(-1)?.data as { error: { message: string } }).error.message).to.equal(
        'cannot undo bar',
      );
    });
  });

  describe('when the saga starts with one action that runs the others', () => {
    it('records each called action once and returns recorded results on a second call', async () => {
      const setup = defineSaga({
        name: 'nested',
        actions: {
          bar: async (ctx: SagaContext) => {
            calls.push('bar');
            const first = await ctx.run<{ n: number }>('baz');
            const again = await ctx.run<{ n: number }>('baz');
            return first.n + again.n;
          },
          baz: track('baz', { n: 20 }),
        },
        startWith: 'bar',
      });
      const result = await new SagaExecutor({ store }).execute(setup, { sagaId: 's5' });
      expect(calls).to.deep.equal(['bar', 'baz']);
      expect(result.results).to.deep.equal({ baz: { n: 20 }, bar: 40 });
    });

    it('compensates the nested actions that completed when the outer one fails', async () => {
      const setup = defineSaga({
        name: 'nested',
        actions: {
          bar: async (ctx: SagaContext) => {
            await ctx.run('baz');
            throw new Error('bar gives up');
          },
          baz: track('baz'),
          'fix-baz': track('fix-baz'),
        },
        startWith: 'bar',
        compensate: { baz: 'fix-baz' },
      });
      const error = await rejection(new SagaExecutor({ store }).execute(setup, { sagaId: 's6' }));
      expect(error).to.include({ action: 'bar', status: 'compensated' });
      expect(calls).to.deep.equal(['baz', 'fix-baz']);
    });
  });

  describe('when the action context reaches for a dependency', () => {
    const uses = {
      repository: (ctx: SagaContext) => ctx.repository.load('cart-1'),
      eventBus: (ctx: SagaContext) => ctx.publish({ type: 'Hello' }),
      commandBus: (ctx: SagaContext) => ctx.dispatch({ type: 'DoIt' }),
    };
    for (const [dependency, use] of Object.entries(uses)) {
      it(`fails the action with a MissingDependencyError naming ${dependency} when it is not configured`, async () => {
        let thrown: unknown;
        const setup = defineSaga({
          name: 'deps',
          actions: {
            only: async (ctx: SagaContext) => {
              try {
                await use(ctx);
              } catch (error) {
                thrown = error;
                throw error;
              }
            },
          },
        });
        const error = await rejection(
          new SagaExecutor({ store }).execute(setup, { sagaId: `m-${dependency}` }),
        );
        expect(thrown).to.be.instanceOf(MissingDependencyError);
        expect(thrown).to.include({ dependency });
        expect((thrown as Error).message)
          .to.contain(dependency)
          .and.to.contain("action 'only'");
        expect(error).to.be.instanceOf(SagaFailedError);
        expect((error as SagaFailedError).failure.code).to.equal('MISSING_DEPENDENCY');
      });
    }

    it('loads an event-sourced aggregate, publishes and dispatches through the configured ones', async () => {
      await store.append('cart-1', [
        { id: uuid(), type: 'ItemAdded', data: { price: 3 } },
        { id: uuid(), type: 'ItemAdded', data: { price: 4 } },
      ]);
      const repository = {
        load: async <T>(id: string) => {
          const events = await store.readStream(id);
          return { id, total: events.reduce((sum, e) => sum + (e.data as { price: number }).price, 0) } as T;
        },
      };
      const published: object[] = [];
      const dispatched: object[] = [];
      const setup = defineSaga({
        name: 'deps',
        actions: {
          only: async (ctx: SagaContext) => {
            const cart = await ctx.repository.load<{ total: number }>('cart-1');
            await ctx.publish({ type: 'CartPriced', total: cart.total });
            return ctx.dispatch<string>({ type: 'ChargeCart', total: cart.total });
          },
        },
      });
      const executor = new SagaExecutor({
        store,
        repository,
        eventBus: { publish: (event) => published.push(event) },
        commandBus: { dispatch: (command) => (dispatched.push(command), 'charged') },
      });
      const result = await executor.execute(setup, { sagaId: 'deps-ok' });
      expect(published).to.deep.equal([{ type: 'CartPriced', total: 7 }]);
      expect(dispatched).to.deep.equal([{ type: 'ChargeCart', total: 7 }]);
      expect(result.results.only).to.equal('charged');
    });
  });

  describe('retries', () => {
    const T0 = Date.parse('2030-01-01T00:00:00Z');
    let clock: ManualClock;
    beforeEach(() => (clock = new ManualClock(T0)));
    /** Resolves once the executor waits on the clock (a backoff delay has started). */
    const backingOff = (count = 1) => until(() => clock.pendingTimers === count, 5000, 'a backoff timer');
    const attemptsOf = async (stream: string) =>
      (await store.readStream(stream))
        .filter((e) => e.type === S.StepAttemptFailed)
        .map((e) => e.data as { step: string; attempt: number; retryAt?: string });
    const flaky = (name: string, failures: number, error = () => new Error(`${name} is down`)) => {
      let left = failures;
      return () => {
        calls.push(name);
        if (left-- > 0) throw error();
        return name;
      };
    };
    const policy = { initialDelayMs: 100, maxDelayMs: 1000, random: () => 1 };

    describe('when an action throws and then succeeds', () => {
      it('waits the exponential backoff on the clock between attempts and records each failed one', async () => {
        const setup = defineSaga({
          name: 'trip',
          actions: { foo: flaky('foo', 2), bar: track('bar') },
          sequence: ['foo', 'bar'],
          retry: { maxAttempts: 3, ...policy },
        });
        const done = new SagaExecutor({ store, clock }).execute(setup, { sagaId: 'r1' });
        await backingOff();
        clock.advance(99);
        expect(clock.pendingTimers, 'the first delay is 100 ms').to.equal(1);
        expect(calls).to.deep.equal(['foo']);
        clock.advance(1);
        await until(() => calls.length === 2 && clock.pendingTimers === 1, 5000, 'second attempt');
        clock.advance(199);
        expect(clock.pendingTimers, 'the second delay doubles to 200 ms').to.equal(1);
        clock.advance(1);
        const result = await done;
        expect(calls).to.deep.equal(['foo', 'foo', 'foo', 'bar']);
        expect(result.results).to.deep.equal({ foo: 'foo', bar: 'bar' });
        expect(await attemptsOf('trip-r1')).to.deep.equal([
          {
            step: 'foo',
            attempt: 1,
            error: { message: 'foo is down', name: 'Error' },
            retryAt: new Date(T0 + 100).toISOString(),
          },
          {
            step: 'foo',
            attempt: 2,
            error: { message: 'foo is down', name: 'Error' },
            retryAt: new Date(T0 + 300).toISOString(),
          },
        ]);
      });

      it('draws each delay with jitter between half the cap and the cap', async () => {
        const setup = defineSaga({
          name: 'trip',
          actions: { foo: flaky('foo', 1) },
          retry: { maxAttempts: 2, initialDelayMs: 100, random: () => 0 },
        });
        const done = new SagaExecutor({ store, clock }).execute(setup, { sagaId: 'r-jitter' });
        await backingOff();
        clock.advance(50);
        await done;
        expect((await attemptsOf('trip-r-jitter'))[0]?.retryAt).to.equal(new Date(T0 + 50).toISOString());
      });
    });

    describe('when an action keeps throwing', () => {
      it('fails it after maxAttempts and compensates the completed actions', async () => {
        const setup = defineSaga({
          name: 'trip',
          actions: { foo: track('foo'), bar: flaky('bar', 99), 'fix-foo': track('fix-foo') },
          sequence: ['foo', 'bar'],
          compensate: { foo: 'fix-foo' },
          retry: { maxAttempts: 2, ...policy },
        });
        const done = rejection(new SagaExecutor({ store, clock }).execute(setup, { sagaId: 'r2' }));
        await backingOff();
        clock.advance(100);
        const error = await done;
        expect(error).to.include({ action: 'bar', status: 'compensated' });
        expect((error as SagaFailedError).cause).to.include({ attempts: 2 });
        expect(calls).to.deep.equal(['foo', 'bar', 'bar', 'fix-foo']);
        const events = await store.readStream('trip-r2');
        expect(events.find((e) => e.type === S.StepFailed)?.data).to.deep.equal({
          step: 'bar',
          attempts: 2,
          error: { message: 'bar is down', name: 'Error' },
        });
        expect((await attemptsOf('trip-r2')).map((a) => [a.attempt, a.retryAt !== undefined])).to.deep.equal([
          [1, true],
          [2, false],
        ]);
      });
    });

    describe('when an action throws a NonRetryableError', () => {
      it('fails it at once, whatever the retry policy', async () => {
        const setup = defineSaga({
          name: 'trip',
          actions: { foo: flaky('foo', 99, () => new NonRetryableError('card stolen')) },
          retry: { maxAttempts: 5, ...policy },
        });
        const error = await rejection(new SagaExecutor({ store, clock }).execute(setup, { sagaId: 'r3' }));
        expect(error).to.include({ action: 'foo', status: 'compensated' });
        expect(calls).to.deep.equal(['foo']);
        expect(clock.pendingTimers).to.equal(0);
        expect(await attemptsOf('trip-r3')).to.have.length(1);
      });
    });

    describe('when an action sets its own retry policy', () => {
      it('uses it instead of the saga policy', async () => {
        const setup = defineSaga({
          name: 'trip',
          actions: { foo: { run: flaky('foo', 99), retry: { maxAttempts: 1 } }, bar: track('bar') },
          sequence: ['foo', 'bar'],
          retry: { maxAttempts: 5, ...policy },
        });
        const error = await rejection(new SagaExecutor({ store, clock }).execute(setup, { sagaId: 'r4' }));
        expect(error).to.include({ action: 'foo' });
        expect(calls).to.deep.equal(['foo']);
      });
    });

    describe('when no policy is set', () => {
      it('attempts an action once', async () => {
        const setup = defineSaga({ name: 'trip', actions: { foo: flaky('foo', 1) } });
        const error = await rejection(new SagaExecutor({ store, clock }).execute(setup, { sagaId: 'r5' }));
        expect(error).to.include({ action: 'foo' });
        expect(calls).to.deep.equal(['foo']);
      });
    });

    describe('when a nested action called with ctx.run fails for good', () => {
      it('does not retry the calling action, which would only meet the recorded failure again', async () => {
        const setup = defineSaga({
          name: 'nested',
          actions: {
            bar: async (ctx: SagaContext) => {
              calls.push('bar');
              await ctx.run('baz');
            },
            baz: { run: flaky('baz', 99, () => new NonRetryableError('no')), retry: { maxAttempts: 1 } },
          },
          startWith: 'bar',
          retry: { maxAttempts: 3, ...policy },
        });
        const error = await rejection(new SagaExecutor({ store, clock }).execute(setup, { sagaId: 'r6' }));
        expect(error).to.include({ action: 'baz' });
        expect(calls).to.deep.equal(['bar', 'baz']);
      });
    });

    describe('when a compensating action throws and then succeeds', () => {
      it('retries it with backoff and completes the compensation', async () => {
        const setup = defineSaga({
          name: 'trip',
          actions: {
            foo: track('foo'),
            bar: flaky('bar', 99, () => new NonRetryableError('no')),
            'fix-foo': flaky('fix-foo', 1),
          },
          sequence: ['foo', 'bar'],
          compensate: { foo: 'fix-foo' },
          retry: { maxAttempts: 3, ...policy },
        });
        const done = rejection(new SagaExecutor({ store, clock }).execute(setup, { sagaId: 'r7' }));
        await backingOff();
        clock.advance(100);
        expect(await done).to.include({ status: 'compensated' });
        expect(calls).to.deep.equal(['foo', 'bar', 'fix-foo', 'fix-foo']);
        expect((await attemptsOf('trip-r7')).map((a) => `${a.step} #${a.attempt}`)).to.deep.equal([
          'bar #1',
          'compensate:foo #1',
        ]);
      });
    });

    describe('when a compensating action keeps throwing', () => {
      it('records every attempt, then a terminal ProcessCompensationFailed for an operator', async () => {
        const setup = defineSaga({
          name: 'trip',
          actions: {
            foo: track('foo'),
            bar: track('bar'),
            baz: flaky('baz', 99, () => new NonRetryableError('no')),
            'fix-foo': track('fix-foo'),
            'fix-bar': { run: flaky('fix-bar', 99), retry: { maxAttempts: 2 } },
          },
          sequence: ['foo', 'bar', 'baz'],
          compensate: { foo: 'fix-foo', bar: 'fix-bar' },
          retry: { maxAttempts: 3, ...policy },
        });
        const done = rejection(new SagaExecutor({ store, clock }).execute(setup, { sagaId: 'r8' }));
        await backingOff();
        clock.advance(100);
        const error = await done;
        expect(error).to.include({ status: 'compensationFailed', failedCompensation: 'fix-bar' });
        expect(calls).to.deep.equal(['foo', 'bar', 'baz', 'fix-bar', 'fix-bar']);
        const events = await store.readStream('trip-r8');
        expect(events.map((e) => e.type).slice(-3)).to.deep.equal([
          S.StepAttemptFailed,
          P.CompensationFailed,
          P.ProcessCompensationFailed,
        ]);
        expect((await attemptsOf('trip-r8')).map((a) => `${a.step} #${a.attempt}`)).to.deep.equal([
          'baz #1',
          'compensate:bar #1',
          'compensate:bar #2',
        ]);
      });
    });

    describe('when the executor is gone during a backoff delay', () => {
      it('lets another executor resume after only what is left of the recorded delay', async () => {
        const setup = defineSaga({
          name: 'trip',
          actions: { foo: flaky('foo', 1) },
          retry: { maxAttempts: 2, ...policy },
        });
        // The first executor's clock never moves: it stays parked in the delay, like a dead process.
        void new SagaExecutor({ store, clock: new ManualClock(T0) })
          .execute(setup, { sagaId: 'r9' })
          .catch(() => undefined);
        await until(async () => (await attemptsOf('trip-r9')).length === 1, 5000, 'first attempt');
        const later = new ManualClock(T0 + 60);
        const resumed = new SagaExecutor({ store, clock: later }).resume(setup, 'r9');
        await until(() => later.pendingTimers === 1, 5000, 'the remaining delay');
        later.advance(39);
        expect(later.pendingTimers, '40 ms of the 100 ms delay are left').to.equal(1);
        later.advance(1);
        expect((await resumed).results).to.deep.equal({ foo: 'foo' });
        expect(calls).to.deep.equal(['foo', 'foo']);
      });
    });

    describe('defineSaga', () => {
      it('reports invalid retry policies of the saga and of an action', () => {
        let error: unknown;
        try {
          defineSaga({
            actions: { foo: { run: () => 1, retry: { maxAttempts: 0 } } },
            retry: { initialDelayMs: -1 },
          });
        } catch (e) {
          error = e;
        }
        expect((error as DefinitionError).problems).to.deep.equal([
          'retry.initialDelayMs must be a number >= 0 (got -1).',
          "action 'foo' retry.maxAttempts must be an integer >= 1 (got 0).",
        ]);
      });
    });
  });

  describe('defineSaga', () => {
    it('lists every problem of a definition in one DefinitionError', () => {
      let error: unknown;
      try {
        defineSaga({
          name: 'bad-name',
          actions: { foo: () => 1 },
          sequence: ['foo', 'nope'],
          compensate: { foo: 'fix-foo' },
        });
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(DefinitionError);
      expect((error as DefinitionError).problems).to.have.length(3);
    });
  });

  describe('when the executor process is killed inside an action', () => {
    let embedded: Awaited<ReturnType<typeof startEmbedded>>;
    let remote: EventStoreDbEventStore;
    let dir: string;
    before(async () => {
      embedded = await startEmbedded();
      remote = new EventStoreDbEventStore(embedded.connectionString);
      dir = mkdtempSync(join(tmpdir(), 'saga-crash-'));
    });
    after(async () => {
      await remote.close();
      await embedded.close();
      rmSync(dir, { recursive: true, force: true });
    });

    for (const [title, crashIn, failBaz, effects] of [
      ['in the second action', 'bar', false, ['foo', 'bar', 'baz']],
      ['in a compensation', 'fix-bar', true, ['foo', 'bar', 'baz', 'fix-bar', 'fix-foo']],
    ] as const) {
      it(`resumes ${title} in another process; completed actions and compensations do not run again`, async () => {
        const sagaId = uuid();
        const callsFile = join(dir, `${sagaId}.calls`);
        const { exit } = runChild(join(__dirname, 'fixtures', 'saga-worker.ts'), {
          EVENTSTORE_CONNECTION_STRING: embedded.connectionString,
          SAGA_ID: sagaId,
          SAGA_CALLS_FILE: callsFile,
          SAGA_CRASH_IN: crashIn,
          SAGA_FAIL_BAZ: failBaz ? '1' : '0',
        });
        expect((await exit).signal).to.equal('SIGKILL');
        expect(await typesOf(remote, `countingSaga-${sagaId}`)).not.to.include.members([
          P.ProcessCompleted,
          P.ProcessCompensated,
        ]);

        const setup = countingSaga(remote, callsFile);
        const resumed = await new SagaExecutor({ store: remote }).resumeAll(setup);
        expect(resumed.map((r) => r.sagaId)).to.include(sagaId);

        const lines = readFileSync(callsFile, 'utf8').trim().split('\n');
        const effectsSeen = (await remote.readStream(`effects-${sagaId}`)).map(
          (e) => (e.data as { action: string }).action,
        );
        expect(effectsSeen).to.deep.equal(effects);
        // Only the action the kill interrupted ran twice (same idempotency key, so one effect).
        expect(lines.filter((l) => l === crashIn)).to.have.length(2);
        for (const done of effects.filter((e) => e !== crashIn))
          expect(lines.filter((l) => l === done)).to.have.length(1);
        const last = (await typesOf(remote, `countingSaga-${sagaId}`)).at(-1);
        expect(last).to.equal(failBaz ? P.ProcessCompensated : P.ProcessCompleted);
      });
    }
  });
});
