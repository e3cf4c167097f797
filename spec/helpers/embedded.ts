import { startEventStore } from '../../lib/server';

/** Options of {@link startEmbedded}. */
export interface EmbeddedOptions {
  /** Keep the log in memory. @default true unless `dbPath` is given */
  readonly memory?: boolean;
  /** Directory of a durable log. */
  readonly dbPath?: string;
}

/** A running embedded server, as tests use it. */
export interface Embedded {
  /** `esdb://127.0.0.1:<port>?tls=false` */
  readonly connectionString: string;
  /** Stops the server and releases the log. */
  close(): Promise<void>;
}

/**
 * Starts the embedded EventStoreDB-compatible server on a free port, for suites that
 * talk to it through the real `@eventstore/db-client`.
 *
 * @example
 * const store = await startEmbedded();
 * const client = EventStoreDBClient.connectionString(store.connectionString);
 * after(async () => { await client.dispose(); await store.close(); });
 */
export async function startEmbedded(options: EmbeddedOptions = {}): Promise<Embedded> {
  const memory = options.memory ?? options.dbPath === undefined;
  const store = await startEventStore({
    port: 0,
    memory,
    ...(options.dbPath === undefined ? {} : { dbPath: options.dbPath }),
  });
  return { connectionString: store.connectionString, close: () => store.close() };
}
