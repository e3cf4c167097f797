import { type Class, defineMessageRecord } from '../metadata';

/**
 * Marks a class as an event and names its type in the store. Register the class in a
 * `MessageRegistry` so stored events of that type decode to it.
 *
 * @example
 * ```ts
 * @Event('OrderPlaced')
 * export class OrderPlaced {
 *   constructor(readonly orderId: string, readonly total: number) {}
 * }
 * ```
 */
export function Event(type: string): (target: Class) => void {
  return (target) => {
    defineMessageRecord(target, { kind: 'event', type });
  };
}

/**
 * Marks a class as a command and names its type (as written into `CommandScheduled`).
 *
 * @example
 * ```ts
 * @Command('ChargePayment')
 * export class ChargePayment {
 *   constructor(readonly orderId: string, readonly amount: number) {}
 * }
 * ```
 */
export function Command(type: string): (target: Class) => void {
  return (target) => {
    defineMessageRecord(target, { kind: 'command', type });
  };
}
