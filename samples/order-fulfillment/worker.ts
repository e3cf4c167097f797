// `npm run sample:worker`: the order-fulfillment process manager and the simulated
// services against EVENTSTORE_CONNECTION_STRING, until SIGTERM/SIGINT (graceful).
import { stopOnSignals } from '../../lib/runtime/graceful-shutdown';
import { consoleLogger, verboseLogger } from '../../lib/runtime/logger';
import { EventStoreDbEventStore } from '../../lib/store/eventstoredb/eventstoredb-event-store';
import { createOrderFulfillmentRuntime } from './app';

async function main(): Promise<void> {
  const connectionString = process.env.EVENTSTORE_CONNECTION_STRING;
  if (!connectionString) {
    console.error(
      'EVENTSTORE_CONNECTION_STRING is not set. Start a store (npx sagastream eventstore) and set it to the connection string it prints.',
    );
    process.exit(2);
  }
  const store = new EventStoreDbEventStore(connectionString);
  const runtime = createOrderFulfillmentRuntime(store, {
    logger: process.env.SAGASTREAM_VERBOSE ? verboseLogger : consoleLogger,
  });
  await runtime.start();
  stopOnSignals({
    stop: async () => {
      await runtime.stop();
      await store.close();
    },
  });
  // The parent (demo, crash tests) waits for this line before placing orders.
  console.log('worker ready');
}

main().catch((error: unknown) => {
  console.error('worker failed:', error);
  process.exit(1);
});
