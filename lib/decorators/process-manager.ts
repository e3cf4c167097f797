import {
  type Class,
  type Correlate,
  type Correlation,
  type ProcessManagerOptions,
  addProcessMember,
  defineProcessOptions,
} from '../metadata';

type MethodDecorator = (target: object, method: string | symbol, descriptor?: PropertyDescriptor) => void;

function classOf(target: object): { cls: Class; isStatic: boolean } {
  return typeof target === 'function'
    ? { cls: target as Class, isStatic: true }
    : { cls: (target as { constructor: Class }).constructor, isStatic: false };
}

/**
 * Declares a class as a process manager. Its instances are the process state, rebuilt by
 * its `@Apply` methods; its `@StartedBy` / `@On` methods decide what happens next through a
 * `ProcessContext`. Instances live in streams `<name>-<processId>`.
 *
 * @example
 * ```ts
 * @ProcessManager({ name: 'orderFulfillment' })
 * export class OrderFulfillment {
 *   orderId = '';
 *   @StartedBy(OrderPlaced, (e) => e.orderId)
 *   placed(e: OrderPlaced, ctx: ProcessContext<OrderFulfillment>) {
 *     ctx.record(new FulfillmentStarted(e.orderId));
 *     ctx.dispatch(new ChargePayment(e.orderId, e.total));
 *   }
 *   @Apply(FulfillmentStarted)
 *   started(e: FulfillmentStarted) { this.orderId = e.orderId; }
 * }
 * ```
 */
export function ProcessManager(options: ProcessManagerOptions): (target: Class) => void {
  return (target) => {
    defineProcessOptions(target, options);
  };
}

/**
 * Handles the event that starts an instance. `correlate` returns the process id (or ids)
 * the event starts; an instance that already started treats it like `@On`.
 */
export function StartedBy<E extends object>(event: Class<E>, correlate: Correlate<E>): MethodDecorator {
  return (target, method) => {
    const { cls, isStatic } = classOf(target);
    addProcessMember(cls, { kind: 'startedBy', method, isStatic, event, correlate });
  };
}

/**
 * Handles an event for a running instance. `correlate` returns the process id (or ids) it
 * concerns, or is `{ byKey }` returning a lookup key (or keys) that an instance associated
 * earlier with `ctx.associate(key)`; the runtime resolves the key through its correlation index.
 *
 * @example
 * ```ts
 * @On(PaymentCharged, (e) => e.orderId)
 * charged(e: PaymentCharged, ctx: ProcessContext<OrderFulfillment>) { ctx.associate(e.chargeId); }
 *
 * @On(ChargeDisputed, { byKey: (e) => e.chargeId })   // carries no order id
 * disputed(e: ChargeDisputed, ctx: ProcessContext<OrderFulfillment>) { ctx.fail('charge disputed'); }
 * ```
 */
export function On<E extends object>(event: Class<E>, correlate: Correlation<E>): MethodDecorator {
  return (target, method) => {
    const { cls, isStatic } = classOf(target);
    addProcessMember(cls, { kind: 'on', method, isStatic, event, correlate });
  };
}

/**
 * Applies one of the process's own events (recorded with `ctx.record`) to its state.
 * Appliers are the only code that runs on replay, so they must be pure: no I/O, no clock.
 */
export function Apply<E extends object>(event: Class<E>): MethodDecorator {
  return (target, method) => {
    const { cls, isStatic } = classOf(target);
    addProcessMember(cls, { kind: 'apply', method, isStatic, event });
  };
}

/** Handles the firing of the timeout scheduled with `ctx.schedule(key, ...)`. */
export function OnTimeout(key: string): MethodDecorator {
  return (target, method) => {
    const { cls, isStatic } = classOf(target);
    addProcessMember(cls, { kind: 'timeout', method, isStatic, key });
  };
}

/**
 * Handles the terminal failure of a command this process dispatched (retries exhausted or
 * `NonRetryableError`), receiving a `CommandFailure`. Without such a handler the failure
 * fails the process, which runs its compensations.
 */
export function OnCommandFailed<C extends object>(command: Class<C>): MethodDecorator {
  return (target, method) => {
    const { cls, isStatic } = classOf(target);
    addProcessMember(cls, { kind: 'commandFailed', method, isStatic, command });
  };
}
