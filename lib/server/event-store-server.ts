/**
 * Starts the EventStoreDB-compatible gRPC server on the storage engine: the real
 * `@eventstore/db-client` connects to it with `esdb://127.0.0.1:<port>?tls=false`.
 */
import { createServer } from 'node:net';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { GossipService } from '@eventstore/db-client/generated/gossip_grpc_pb';
import { PersistentSubscriptionsService } from '@eventstore/db-client/generated/persistent_grpc_pb';
import { ProjectionsService } from '@eventstore/db-client/generated/projections_grpc_pb';
import { ServerFeaturesService } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import { StreamsService } from '@eventstore/db-client/generated/streams_grpc_pb';
import { StoreUnavailableError } from '../errors';
import { EventLog } from '../storage/event-log';
import { createGossipService } from './gossip-service';
import { createPersistentSubscriptionsService } from './persistent-subscriptions-service';
import { createProjectionsService } from './projections-service';
import { ActiveCalls, DEFAULT_MAX_APPEND_SIZE, type ServerContext } from './server-context';
import { createServerFeaturesService } from './server-features-service';
import { createStreamsService } from './streams-service';
import { dialableHost } from './wire';

/** Options of {@link startEventStore}. */
export interface EventStoreServerOptions {
  /** TCP port; 0 picks a free one. @default 2113 */
  readonly port?: number;
  /** Interface to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** Directory of the durable log (created if missing; locked while the server runs). @default '.sagastream/db' */
  readonly dbPath?: string;
  /** Keep everything in memory (tests); `dbPath` is ignored. @default false */
  readonly memory?: boolean;
  /** Largest total append in bytes, as EventStoreDB's MaxAppendSize. @default 1_048_576 */
  readonly maxAppendSize?: number;
  /** Write `$ce-<category>` links ($by_category). @default true */
  readonly byCategory?: boolean;
  /** Write `$et-<type>` links ($by_event_type). @default true */
  readonly byEventType?: boolean;
  /** Where recovery notices from the log go. @default console.warn */
  readonly log?: (message: string) => void;
}

/** A running embedded server. */
export interface EmbeddedEventStore {
  /** `esdb://<host>:<port>?tls=false`, ready for `EventStoreDBClient.connectionString`. */
  readonly connectionString: string;
  /** The port actually bound (useful with `port: 0`). */
  readonly port: number;
  /** Long-lived calls in progress (subscriptions, BatchAppend streams): a diagnostic that shows clean-up. */
  readonly openCalls: number;
  /**
   * Stops accepting calls, ends subscriptions (clients see UNAVAILABLE and may
   * reconnect), waits for in-flight appends, then flushes and unlocks the log.
   * Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

/** The default port of EventStoreDB. */
export const DEFAULT_PORT = 2113;
/** The default host: loopback only. */
export const DEFAULT_HOST = '127.0.0.1';
/** The default directory of the durable log. */
export const DEFAULT_DB_PATH = '.sagastream/db';

// BatchAppend chunks reach 3 MiB and one event up to 16 MiB; the client itself accepts 17 MiB.
const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;
// How long close() waits for clients to finish calls before cutting them off.
const SHUTDOWN_GRACE_MS = 2000;

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Fails fast with EADDRINUSE for a taken port, before grpc-js logs its own error line
 * to stderr; grpc-js's bind still reports a port lost to a race after this check.
 */
function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

function listenError(host: string, port: number, error: unknown): StoreUnavailableError {
  const reason = error instanceof Error ? error.message : String(error);
  const inUse = /EADDRINUSE|address already in use/i.test(reason);
  return new StoreUnavailableError(
    inUse
      ? `Port ${port} on ${host} is already in use. Stop the process using it or choose another port (--port, or 0 for a free one).`
      : `Cannot listen on ${host}:${port}: ${reason}`,
    { cause: error },
  );
}

function bind(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(
      `${formatHost(host)}:${port}`,
      ServerCredentials.createInsecure(),
      (error, boundPort) => {
        if (error !== null) reject(error);
        else resolve(boundPort);
      },
    );
  });
}

function shutdown(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, SHUTDOWN_GRACE_MS);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Opens the log and starts the gRPC server; resolves once it accepts connections.
 *
 * @throws StoreLockedError when another process holds `dbPath`
 * @throws StoreUnavailableError when the port is in use or the directory cannot be written
 * @example
 * const store = await startEventStore({ port: 0, memory: true });
 * const client = EventStoreDBClient.connectionString(store.connectionString);
 * // ...
 * await client.dispose();
 * await store.close();
 */
export async function startEventStore(options: EventStoreServerOptions = {}): Promise<EmbeddedEventStore> {
  const host = options.host ?? DEFAULT_HOST;
  const requestedPort = options.port ?? DEFAULT_PORT;
  const maxAppendSize = options.maxAppendSize ?? DEFAULT_MAX_APPEND_SIZE;
  const byCategory = options.byCategory ?? true;
  const byEventType = options.byEventType ?? true;
  const memory = options.memory ?? false;

  // Checked before opening the log, so a taken port does not cost a log replay.
  await checkPortFree(host, requestedPort).catch((error: unknown) => {
    throw listenError(host, requestedPort, error);
  });
  const log = await EventLog.open({
    ...(memory ? { memory: true } : { dir: options.dbPath ?? DEFAULT_DB_PATH }),
    maxAppendSize,
    byCategory,
    byEventType,
    ...(options.log === undefined ? {} : { log: options.log }),
  });

  let closing = false;
  const calls = new ActiveCalls();
  const endpoint = { host, port: requestedPort };
  const context: ServerContext = {
    log,
    maxAppendSize,
    endpoint,
    calls,
    closing: () => closing,
    projectionsWritten: { byCategory, byEventType },
  };

  const server = new Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    // The client pings every 10 s, even when idle; do not answer that with GOAWAY.
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5000,
  });
  server.addService(StreamsService, createStreamsService(context));
  server.addService(ServerFeaturesService, createServerFeaturesService());
  server.addService(GossipService, createGossipService(context));
  server.addService(ProjectionsService, createProjectionsService(context));
  server.addService(PersistentSubscriptionsService, createPersistentSubscriptionsService());

  try {
    endpoint.port = await bind(server, host, requestedPort);
  } catch (error) {
    server.forceShutdown();
    await log.close();
    throw listenError(host, requestedPort, error);
  }

  let closed: Promise<void> | undefined;
  return {
    connectionString: `esdb://${formatHost(dialableHost(host))}:${endpoint.port}?tls=false`,
    port: endpoint.port,
    get openCalls() {
      return calls.size;
    },
    close: () => {
      closed ??= (async () => {
        closing = true;
        calls.stopAll();
        await shutdown(server);
        await log.close();
      })();
      return closed;
    },
  };
}
