import { NonRetryableError, SagaFailedError } from '../../lib/errors';
import { defineSaga } from '../../lib/saga/define-saga';
import { silentLogger } from '../../lib/runtime/logger';
import { ProcessRuntime } from '../../lib/runtime/process-runtime';
import { SagaExecutor } from '../../lib/saga/saga-executor';
import type { EventStore } from '../../lib/store/event-store';
import { LocalEventStore } from '../../lib/store/local/local-event-store';

/** What the sample saw: the actions in the order they ran, and how the saga ended. */
export interface ActionSagaOutcome {
  readonly ran: string[];
  readonly error: SagaFailedError | undefined;
  /** What the actions published on the event bus. */
  readonly published: object[];
  /** Event types of the saga's stream. */
  readonly stream: string[];
}

/**
 * The foo/bar/baz saga: three actions in sequence, `baz` fails, so `bar` and `foo` are
 * undone by their compensating actions, newest first. The actions publish through
 * `ctx.publish`, on the executor's event bus.
 */
export function fooBarBaz(ran: string[]) {
  return defineSaga({
    name: 'fooBarBaz',
    actions: {
      foo: async (ctx) => {
        ran.push('foo');
        await ctx.publish({ type: 'FooDone', sagaId: ctx.sagaId });
        return { foo: 1 };
      },
      bar: async (ctx) => {
        ran.push('bar');
        await ctx.publish({ type: 'BarDone', sagaId: ctx.sagaId });
        return { bar: 2 };
      },
      baz: () => {
        ran.push('baz');
        throw new NonRetryableError('baz: the remote system said no');
      },
      'fix-foo': async (ctx) => {
        ran.push('fix-foo');
        await ctx.publish({ type: 'FooUndone', sagaId: ctx.sagaId });
      },
      'fix-bar': async (ctx) => {
        ran.push('fix-bar');
        await ctx.publish({ type: 'BarUndone', sagaId: ctx.sagaId });
      },
    },
    sequence: ['foo', 'bar', 'baz'],
    compensate: { foo: 'fix-foo', bar: 'fix-bar' },
  });
}

/**
 * Runs the saga once on `store` and reports what happened: with a `SagaExecutor` (the default),
 * or hosted by a worker's `ProcessRuntime` next to process managers and workflows.
 */
export async function runActionSagaSample(
  store: EventStore,
  sagaId = 'demo',
  host: 'executor' | 'runtime' = 'executor',
): Promise<ActionSagaOutcome> {
  const ran: string[] = [];
  const published: object[] = [];
  const eventBus = { publish: (event: object) => published.push(event) };
  const setup = fooBarBaz(ran);
  const runtime =
    host === 'runtime'
      ? new ProcessRuntime({ store, logger: silentLogger }).registerSaga(setup, { eventBus })
      : undefined;
  let error: SagaFailedError | undefined;
  try {
    if (runtime) {
      await runtime.start();
      await runtime.executeSaga(setup, { sagaId });
    } else await new SagaExecutor({ store, eventBus }).execute(setup, { sagaId });
  } catch (failure) {
    if (!(failure instanceof SagaFailedError)) throw failure;
    error = failure;
  } finally {
    await runtime?.stop();
  }
  const stream = (await store.readStream(`fooBarBaz-${sagaId}`)).map((e) => e.type);
  return { ran, error, published, stream };
}

if (require.main === module) {
  void (async () => {
    const store = await LocalEventStore.open({ memory: true });
    const { ran, error, stream } = await runActionSagaSample(store);
    console.log(`actions run: ${ran.join(' -> ')}`);
    console.log(`outcome:     ${error ? `${error.status} after '${error.action}' failed` : 'completed'}`);
    console.log(`stream:      ${stream.map((t) => t.replace('sagastream.', '')).join(', ')}`);
    await store.close();
  })();
}
