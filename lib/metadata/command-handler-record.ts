import { type Class, readClassRecord, updateClassRecord } from './class-record';

/** Where `@CommandHandler` stores a service class's record. */
export const COMMAND_HANDLER_RECORD_KEY: symbol = Symbol.for('sagastream:command-handlers');

/** One `@CommandHandler(Command)` method. `command` is validated by `defineCommandHandlers`. */
export interface CommandHandlerMemberRecord {
  readonly method: string | symbol;
  readonly isStatic: boolean;
  readonly command: unknown;
}

/** The command handlers of a service class, in decoration order. */
export interface CommandHandlerRecord {
  readonly handlers: readonly CommandHandlerMemberRecord[];
}

/** The command-handler record of `target`, or undefined when it has none. */
export function commandHandlerRecordOf(target: Class): CommandHandlerRecord | undefined {
  return readClassRecord<CommandHandlerRecord>(COMMAND_HANDLER_RECORD_KEY, target);
}

/** Adds a `@CommandHandler` method to the record of `target`. */
export function addCommandHandler(target: Class, member: CommandHandlerMemberRecord): CommandHandlerRecord {
  return updateClassRecord<CommandHandlerRecord>(COMMAND_HANDLER_RECORD_KEY, target, (prev) => ({
    handlers: Object.freeze([...(prev?.handlers ?? []), Object.freeze({ ...member })]),
  }));
}
