import { type Class, addCommandHandler } from '../metadata';

/**
 * Marks a method of a service class as the handler of a command type, for the runtime's
 * command bus. Handlers receive `(command, envelope)`; they must be idempotent by
 * `envelope.commandId` (delivery is at least once). Throw `NonRetryableError` for a
 * failure that retrying cannot fix.
 *
 * @example
 * ```ts
 * class PaymentService {
 *   @CommandHandler(ChargePayment)
 *   async charge(cmd: ChargePayment, { commandId }: CommandEnvelope) { ... }
 * }
 * ```
 */
export function CommandHandler<C extends object>(
  command: Class<C>,
): (target: object, method: string | symbol, descriptor?: PropertyDescriptor) => void {
  return (target, method) => {
    const isStatic = typeof target === 'function';
    const cls = (isStatic ? target : (target as { constructor: Class }).constructor) as Class;
    addCommandHandler(cls, { method, isStatic, command });
  };
}
