// The floor: a hand-written RxJS Subject -> Map lookup by type -> async handler.
// It does the least the job needs: it builds the handler's message object from the stored
// data (Object.assign into the event class, no validation), looks the handler up by type
// and counts the page done when every handler's promise settled. No per-instance ordering,
// no checkpoint tracking.
import { Subject } from 'rxjs';
import type { StoredEventRecord } from '../../lib/store/event-store';
import { runAsChild } from '../harness/child';
import { type Pipeline, type RoutedFields, makeEventClasses, runVariant, typeName } from './workload';

interface Route {
  readonly cls: new () => RoutedFields;
  readonly handler: (message: RoutedFields) => Promise<void>;
}

function build(handlers: number): Pipeline {
  let handled = 0;
  const table = new Map<string, Route>();
  makeEventClasses(handlers).forEach((cls, i) =>
    table.set(typeName(i), {
      cls,
      handler: async (message) => {
        if (message.seq >= 0) handled++;
      },
    }),
  );
  const subject = new Subject<StoredEventRecord>();
  let pending = 0;
  let pageDone: (() => void) | undefined;
  const done = () => {
    if (--pending === 0) pageDone?.();
  };
  subject.subscribe((record) => {
    const route = table.get(record.type);
    if (!route) return done();
    const message = Object.assign(new route.cls(), record.data as object);
    route.handler(message).then(done, done);
  });
  return {
    deliver: (page) =>
      new Promise<void>((resolve) => {
        pending = page.length;
        pageDone = resolve;
        for (const record of page) subject.next(record);
      }),
    handled: () => handled,
  };
}

runAsChild((input: Parameters<typeof runVariant>[0]) => runVariant(input, (i) => build(i.handlers)));
