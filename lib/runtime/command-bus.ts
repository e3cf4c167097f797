import { DefinitionError } from '../errors';
import type { MessageRegistry } from '../messages';
import { type Class, commandHandlerRecordOf, messageRecordOf } from '../metadata';

/** What a command handler learns about the delivery besides the command itself. */
export interface CommandEnvelope {
  /**
   * Deterministic id of the command (the same on every redelivery): handlers must be
   * idempotent by it, since delivery is at least once.
   */
  readonly commandId: string;
  readonly type: string;
  /** The process that dispatched it and its instance id (also the `$correlationId`). */
  readonly processName: string;
  readonly processId: string;
  /** Delivery attempt, from 1. */
  readonly attempt: number;
}

/** A function that handles one command type. */
export type CommandHandlerFn = (command: object, envelope: CommandEnvelope) => unknown;

/**
 * The in-process command bus: one handler per command type, found from
 * `@CommandHandler` methods of service instances. The outbox relay delivers through it.
 *
 * @example
 * const bus = new CommandBus(registry).registerHandlers(new PaymentService(store));
 * await bus.execute(new ChargePayment('o1', 10), envelope);
 */
export class CommandBus {
  private readonly handlers = new Map<string, CommandHandlerFn>();

  constructor(private readonly registry: MessageRegistry) {}

  /**
   * Registers every `@CommandHandler` method of `service` (bound to it; static methods
   * to its class). Throws one `DefinitionError` listing every problem: no handlers,
   * undecorated command classes, a command type handled twice.
   */
  registerHandlers(service: object): this {
    const cls = (typeof service === 'function' ? service : service.constructor) as Class;
    const record = commandHandlerRecordOf(cls);
    const problems: string[] = [];
    if (!record || record.handlers.length === 0) problems.push(`${cls.name} has no @CommandHandler methods.`);
    const found: [string, CommandHandlerFn][] = [];
    for (const member of record?.handlers ?? []) {
      const name = `${cls.name}.${String(member.method)}`;
      const commandClass = member.command as Class;
      const message = typeof commandClass === 'function' ? messageRecordOf(commandClass) : undefined;
      if (!message || message.kind !== 'command') {
        problems.push(
          `${name} handles ${String((commandClass as { name?: string } | undefined)?.name ?? commandClass)}, which has no @Command('Type').`,
        );
        continue;
      }
      const owner = (member.isStatic ? cls : service) as Record<string | symbol, unknown>;
      const fn = owner[member.method];
      if (typeof fn !== 'function') {
        problems.push(`${name} is not a method.`);
        continue;
      }
      if (this.handlers.has(message.type) || found.some(([type]) => type === message.type)) {
        problems.push(
          `${name} handles '${message.type}', which already has a handler (one handler per command type).`,
        );
        continue;
      }
      this.registry.typeOf(commandClass);
      found.push([
        message.type,
        (command, envelope) => (fn as CommandHandlerFn).call(owner, command, envelope),
      ]);
    }
    if (problems.length > 0) throw new DefinitionError(`command handlers of ${cls.name}`, problems);
    for (const [type, fn] of found) this.handlers.set(type, fn);
    return this;
  }

  /** True when `type` has a handler. */
  has(type: string): boolean {
    return this.handlers.has(type);
  }

  /** Command types that have handlers. */
  types(): string[] {
    return [...this.handlers.keys()];
  }

  /** Runs the handler of `envelope.type`; rejects with whatever the handler throws. */
  async execute(command: object, envelope: CommandEnvelope): Promise<void> {
    const handler = this.handlers.get(envelope.type);
    if (!handler) throw new Error(`No handler for command type '${envelope.type}'.`);
    await handler(command, envelope);
  }
}
