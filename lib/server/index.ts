/**
 * The embedded EventStoreDB-compatible gRPC server.
 *
 * @example
 * const store = await startEventStore({ port: 0, memory: true });
 * console.log(store.connectionString); // esdb://127.0.0.1:<port>?tls=false
 * await store.close();
 */
export {
  startEventStore,
  DEFAULT_DB_PATH,
  DEFAULT_HOST,
  DEFAULT_PORT,
  type EmbeddedEventStore,
  type EventStoreServerOptions,
} from './event-store-server';
export { SERVER_VERSION } from './server-features-service';
