// sagastream's routing path, built from the real components the runtime uses
// (lib/runtime/process-host.ts `takeInput` and `work`):
//   CheckpointTracker.track (one ticket per delivered event, as SubscriptionConsumer does, which
//   hands a page over 256 events at a time, each slice once the queue is below 512)
//   -> MessageRegistry.decode (class-transformer into the @Event class)
//   -> ProcessEngine.route (the route table `defineProcess` builds from @StartedBy/@On)
//   -> KeyedWorkQueue.push(processId) (per-instance FIFO, bounded concurrency 64, the runtime default)
//   -> the worker: `sagastream` calls the decorated handler method the route table names;
//      `sagastream-decide` calls ProcessEngine.handle (the full decision: state draft, handled-input
//      bookkeeping, the events to append) on state kept in memory, as the instance cache does.
// Out of the measured path: reading the page from the store (LocalEventStore / the client),
// storing checkpoints, loading and appending process streams, the outbox relay.
// A page is done when the queue is idle (the consumer waits on the queue the same way).
import { Event, On, ProcessManager, StartedBy } from '../../lib/decorators';
import { type DecodedEvent, MessageRegistry } from '../../lib/messages';
import { ProcessEngine, type ProcessState, defineProcess } from '../../lib/process';
import { CheckpointTracker } from '../../lib/runtime/checkpoint-tracker';
import { KeyedWorkQueue } from '../../lib/runtime/keyed-work-queue';
import type { StoredEventRecord } from '../../lib/store/event-store';
import { runAsChild } from '../harness/child';
import { type Pipeline, type RoutedFields, makeEventClasses, runVariant, typeName } from './workload';

/** The runtime's default batchSize: the consumer's slice, and half the host's queue limit. */
const SLICE = 256;

interface Job {
  readonly event: DecodedEvent;
  readonly done: () => void;
}

function build(handlers: number, decide: boolean): Pipeline {
  let handled = 0;
  const registry = new MessageRegistry();
  const classes = makeEventClasses(handlers);
  classes.forEach((cls, i) => Event(typeName(i))(cls));
  registry.register(...classes);

  // The process class, with one handler per event type, decorated as an application would.
  class RoutingProcess {
    count = 0;
  }
  ProcessManager({ name: 'routing' })(RoutingProcess);
  const proto = RoutingProcess.prototype as unknown as Record<string, unknown>;
  classes.forEach((cls, i) => {
    const method = `on${typeName(i)}`;
    proto[method] = function (this: RoutingProcess, event: RoutedFields) {
      if (event.seq >= 0) this.count++;
    };
    const correlate = (event: RoutedFields) => event.orderId;
    (i === 0 ? StartedBy(cls, correlate) : On(cls, correlate))(proto, method);
  });
  const definition = defineProcess(RoutingProcess, registry);
  const engine = new ProcessEngine(definition);

  const instances = new Map<string, Record<string | symbol, (event: object) => void>>();
  const states = new Map<string, ProcessState<RoutingProcess>>();
  const now = new Date(Date.UTC(2026, 0, 1));
  const worker = decide
    ? async (processId: string, job: Job) => {
        const state = states.get(processId) ?? engine.initialState(processId);
        const decision = engine.handle(state, { kind: 'event', event: job.event }, now);
        states.set(processId, decision.state);
        handled++;
        job.done();
      }
    : async (processId: string, job: Job) => {
        let instance = instances.get(processId);
        if (!instance) {
          instance = new RoutingProcess() as unknown as Record<string | symbol, (event: object) => void>;
          instances.set(processId, instance);
        }
        const spec = definition.handlers.get(job.event.type);
        if (spec) instance[spec.method]?.(job.event.message);
        handled++;
        job.done();
      };
  const queue = new KeyedWorkQueue<Job>({ concurrency: 64, worker });
  const tracker = new CheckpointTracker();

  return {
    deliver: async (page) => {
      let sliced = 0;
      // An index loop, as SubscriptionConsumer.take has: for-of in this async function kept
      // an iterator result object per event (~40 B) that the runtime does not allocate.
      for (let i = 0; i < page.length; i++) {
        const record = page[i] as StoredEventRecord;
        // SubscriptionConsumer.take hands a page over a slice (batchSize, 256) at a time, each
        // once the queue is below the host's limit (2 x batchSize): decode-ahead stays bounded.
        if (sliced++ === SLICE) {
          sliced = 1;
          await queue.whenBelow(2 * SLICE);
        }
        const ticket = tracker.track(record.position ?? record.revision);
        // ProcessHost.takeInput, minus rejection reporting (the input has no bad events).
        if (!definition.handlers.has(record.type)) {
          ticket.done();
          continue;
        }
        const event = registry.decode(record);
        const route = engine.route(event);
        if (!route) {
          ticket.done();
          continue;
        }
        let remaining = route.processIds.length;
        const done = () => {
          if (--remaining === 0) ticket.done();
        };
        for (const processId of route.processIds) queue.push(processId, { event, done });
      }
      await queue.whenIdle();
    },
    handled: () => handled,
  };
}

runAsChild((input: Parameters<typeof runVariant>[0]) =>
  runVariant(input, (i) => build(i.handlers, i.variant === 'sagastream-decide')),
);
