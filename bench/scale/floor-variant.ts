// Variant "floor": a Map of live instances doing the same state transitions by hand, no
// store and no runtime: what holding and stepping an instance costs at the least.
import { runAsChild } from '../harness/child';
import { runScale } from './scale-run';
import type { ScaleChildInput } from './workload';

interface Meter {
  readonly meterId: string;
  readings: number;
  total: number;
}

runAsChild(async (input: ScaleChildInput, ctx) => {
  const live = new Map<string, Meter>();
  let handled = 0;
  return runScale(input, ctx, {
    open: (id) => {
      live.set(id, { meterId: id, readings: 0, total: 0 });
      handled++;
    },
    read: (id, value) => {
      const meter = live.get(id);
      if (meter) {
        meter.readings++;
        meter.total += value;
      }
      handled++;
    },
    close: (id) => {
      live.delete(id);
      handled++;
    },
    handled: () => handled,
    idle: () => Promise.resolve(),
    appended: () => 0,
    details: () => ({ what: 'Map<id, { meterId, readings, total }>, transitions applied inline' }),
  });
});
