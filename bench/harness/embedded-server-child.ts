// The embedded EventStoreDB-compatible server in a process of its own, so a benchmark
// measures its CPU apart from the client's. Driven by bench/harness/embedded-server.ts.
import { startEventStore } from '../../lib/server';
import { cpuSnapshot } from './process-meter';

interface Start {
  readonly type: 'start';
  readonly dbPath?: string;
  readonly memory?: boolean;
}
type Command = Start | { readonly type: 'sample'; readonly id: number } | { readonly type: 'stop' };

let close: (() => Promise<void>) | undefined;

process.on('message', (command: Command) => {
  switch (command.type) {
    case 'start':
      startEventStore({
        port: 0,
        ...(command.memory ? { memory: true } : { dbPath: command.dbPath }),
        log: () => undefined,
      }).then(
        (store) => {
          close = () => store.close();
          process.send?.({ type: 'ready', connectionString: store.connectionString });
        },
        (error: unknown) => {
          process.send?.({ type: 'failed', message: String(error) });
          process.exit(1);
        },
      );
      return;
    case 'sample':
      process.send?.({ type: 'sample', id: command.id, snapshot: cpuSnapshot() });
      return;
    case 'stop':
      void (close?.() ?? Promise.resolve()).finally(() => {
        process.send?.({ type: 'stopped' }, undefined, undefined, () => process.exit(0));
      });
      return;
  }
});
