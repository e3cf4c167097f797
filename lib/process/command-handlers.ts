import { DefinitionError } from '../errors';
import { type MessageRegistry } from '../messages';
import { type Class, commandHandlerRecordOf } from '../metadata';

/** What a command handler receives besides the command. */
export interface CommandEnvelope {
  /** Deterministic id: handlers must be idempotent by it (delivery is at least once). */
  readonly commandId: string;
  readonly type: string;
  /** The process that scheduled it. */
  readonly processName: string;
  readonly processId: string;
  /** Metadata of the scheduling event (`$correlationId`, `$causationId`). */
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** A validated `@CommandHandler` method bound to its service instance. */
export interface BoundCommandHandler {
  readonly type: string;
  readonly commandClass: Class;
  /** `Service.method`, for logs. */
  readonly name: string;
  handle(command: object, envelope: CommandEnvelope): unknown;
}

/**
 * Collects the `@CommandHandler` methods of service instances into a table by command
 * type, for a command bus. Throws one `DefinitionError` listing every problem: a service
 * without handlers, an unregistered or missing command class, two handlers for one type.
 *
 * @example
 * ```ts
 * const handlers = defineCommandHandlers([new PaymentService(), new InventoryService()], registry);
 * await handlers.get('ChargePayment')?.handle(command, envelope);
 * ```
 */
export function defineCommandHandlers(
  services: readonly object[],
  registry: MessageRegistry,
): ReadonlyMap<string, BoundCommandHandler> {
  const problems: string[] = [];
  const table = new Map<string, BoundCommandHandler>();
  for (const service of services) {
    const cls = (service as { constructor: Class }).constructor;
    const record = commandHandlerRecordOf(cls);
    if (!record || record.handlers.length === 0) {
      problems.push(`${cls.name} has no @CommandHandler(Command) methods.`);
      continue;
    }
    for (const h of record.handlers) {
      const name = `${cls.name}.${String(h.method)}`;
      if (h.isStatic) {
        problems.push(`@CommandHandler on ${name}: must decorate an instance method.`);
        continue;
      }
      if (typeof h.command !== 'function') {
        problems.push(
          `@CommandHandler on ${name}: the command class is ${String(h.command)} (a circular import?).`,
        );
        continue;
      }
      const commandClass = h.command as Class;
      const type = registry.typeOf(commandClass);
      if (type === undefined) {
        problems.push(
          `@CommandHandler on ${name}: ${commandClass.name} is not a registered message; decorate it with @Command.`,
        );
        continue;
      }
      const previous = table.get(type);
      if (previous) {
        problems.push(`command ${type} has two handlers: ${previous.name} and ${name}; keep one.`);
        continue;
      }
      const fn = (service as Record<string | symbol, unknown>)[h.method] as (
        c: object,
        e: CommandEnvelope,
      ) => unknown;
      table.set(type, {
        type,
        commandClass,
        name,
        handle: (command, envelope) => fn.call(service, command, envelope),
      });
    }
  }
  if (problems.length > 0) throw new DefinitionError('command handlers', problems);
  return table;
}
