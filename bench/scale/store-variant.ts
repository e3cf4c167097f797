// Variant "store": the same appends as sagastream (each input, then the engine's decision on
// the instance's process stream) into LocalEventStore in memory, with states in a Map and no
// runtime (no subscription, queues or cache). It tells the store's share of the heap and of
// the time apart from the runtime's.
import { v4 as uuid } from 'uuid';
import type { MessageRegistry } from '../../lib/messages';
import { defineProcess } from '../../lib/process/process-definition';
import { ProcessEngine } from '../../lib/process/process-engine';
import { type ProcessState, isTerminal } from '../../lib/process/process-state';
import type { EventToAppend, StoredEventRecord } from '../../lib/store/event-store';
import { LocalEventStore } from '../../lib/store/local/local-event-store';
import { runAsChild } from '../harness/child';
import {
  METER_CATEGORY,
  MeterClosed,
  MeterOpened,
  MeterWatch,
  ReadingTaken,
  meterRegistry,
} from './meter-process';
import { type MeterSystem, runScale } from './scale-run';
import type { ScaleChildInput } from './workload';

/** An input event as the shop appends it. */
export function inputEvent(registry: MessageRegistry, message: object): EventToAppend {
  const { type, data } = registry.serialize(message);
  return { id: uuid(), type, data };
}

if (require.main === module) {
  runAsChild(async (input: ScaleChildInput, ctx) => {
    const store = await LocalEventStore.open({ memory: true });
    const registry = meterRegistry();
    const engine = new ProcessEngine(defineProcess(MeterWatch, registry));
    const states = new Map<string, ProcessState<MeterWatch>>();
    const now = new Date();
    let handled = 0;
    let appended = 0;
    const step = async (id: string, message: object) => {
      const stream = `${METER_CATEGORY}-${id}`;
      const event = inputEvent(registry, message);
      const outcome = await store.append(stream, [event]);
      appended++;
      const record = {
        ...event,
        stream,
        revision: outcome.nextExpectedRevision,
        position: outcome.position,
        isJson: true,
        metadata: {},
      } as unknown as StoredEventRecord;
      const state = states.get(id) ?? engine.initialState(id);
      const decision = engine.handle(state, { kind: 'event', event: registry.decode(record) }, now);
      if (decision.events.length > 0) {
        await store.append(decision.state.stream, decision.events, {
          expectedRevision: decision.expectedRevision,
        });
        appended += decision.events.length;
      }
      if (isTerminal(decision.state.status)) states.delete(id);
      else states.set(id, decision.state);
      handled++;
    };
    const system: MeterSystem = {
      open: (id) => step(id, new MeterOpened(id)),
      read: (id, value) => step(id, new ReadingTaken(id, value)),
      close: (id) => step(id, new MeterClosed(id)),
      handled: () => handled,
      idle: () => Promise.resolve(),
      appended: () => appended,
      details: () => ({
        what: 'engine.handle on states in a Map, appends to LocalEventStore memory; no runtime',
      }),
    };
    const result = await runScale(input, ctx, system);
    await store.close();
    return result;
  });
}
