/**
 * `sagastream eventstore`: runs the embedded EventStoreDB-compatible server until
 * SIGTERM or SIGINT, printing its connection string once it accepts connections.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_DB_PATH, DEFAULT_PORT, startEventStore } from '../server';

/** Where the command writes; injectable so tests and embedders can capture output. */
export interface CommandIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const processIo: CommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) {
    throw new InvalidArgumentError('Expected a port number between 0 and 65535 (0 picks a free port).');
  }
  return port;
}

/**
 * Adds the `eventstore` subcommand to `program`.
 *
 * @param io where the connection string and errors are written
 */
export function registerEventStoreCommand(program: Command, io: CommandIo = processIo): Command {
  return program
    .command('eventstore')
    .description('Run the embedded EventStoreDB-compatible server (prints its connection string).')
    .option('--port <port>', 'TCP port, 0 for a free one', parsePort, DEFAULT_PORT)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--db <dir>', 'directory of the durable event log', DEFAULT_DB_PATH)
    .option('--memory', 'keep events in memory only (nothing is written to disk)', false)
    .action(async (options: { port: number; host: string; db: string; memory: boolean }) => {
      // Listen for signals before starting, so a stop requested during start-up still
      // closes the log cleanly; once stopping, a second signal gets the default (force) exit.
      let stopRequested = false;
      let wake: (() => void) | undefined;
      const stop = (): void => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        stopRequested = true;
        wake?.();
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      try {
        const store = await startEventStore({
          port: options.port,
          host: options.host,
          dbPath: options.db,
          memory: options.memory,
        });
        if (!stopRequested) {
          io.out(store.connectionString);
          await new Promise<void>((resolve) => (wake = resolve));
        }
        await store.close();
      } finally {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
      }
    });
}
