/**
 * The `sagastream` command line. Each subcommand lives in its own file and registers
 * itself on the program here.
 */
import { Command, CommanderError } from 'commander';
import { SagastreamError } from '../errors';
import { registerEventStoreCommand } from './eventstore-command';
import { registerProcessesCommand } from './processes-command';

/** Builds the `sagastream` program with every subcommand registered. */
export function createProgram(): Command {
  const program = new Command('sagastream')
    .description('Event-sourced process managers and sagas for EventStoreDB.')
    .exitOverride()
    .showHelpAfterError();
  registerEventStoreCommand(program);
  registerProcessesCommand(program);
  return program;
}

/**
 * Runs the CLI with `argv` (the arguments after the executable and script, i.e.
 * `process.argv.slice(2)`), then exits: 0 on success, 1 on failure with the error's
 * message on stderr.
 *
 * @example
 * main(['eventstore', '--port', '0', '--memory']);
 */
export async function main(argv: string[]): Promise<void> {
  try {
    await createProgram().parseAsync(argv, { from: 'user' });
    process.exit(0);
  } catch (error) {
    if (error instanceof CommanderError) process.exit(error.exitCode);
    const message =
      error instanceof SagastreamError || error instanceof Error ? error.message : String(error);
    process.stderr.write(`sagastream: ${message}\n`);
    process.exit(1);
  }
}

if (require.main === module) void main(process.argv.slice(2));
