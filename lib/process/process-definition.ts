import { DefinitionError } from '../errors';
import { type MessageRegistry } from '../messages';
import {
  type ArrivalPolicy,
  type Class,
  type Correlate,
  type ProcessMemberRecord,
  processRecordOf,
} from '../metadata';
import { FRAMEWORK_EVENT_PREFIX } from './process-events';

/** A validated `@StartedBy` / `@On` handler. */
export interface EventHandlerSpec {
  readonly kind: 'startedBy' | 'on';
  readonly eventType: string;
  readonly eventClass: Class;
  readonly method: string | symbol;
  /**
   * `processId`: `correlate` returns process ids. `key`: it returns lookup keys (from
   * `@On(E, { byKey })`), which the runtime resolves to the instances that associated them.
   */
  readonly by: 'processId' | 'key';
  /** Returns process ids or lookup keys, per {@link by}. */
  readonly correlate: Correlate<any>;
}

/** A validated process manager: everything the engine and the runtime route by. */
export interface ProcessDefinition<T extends object = object> {
  readonly processClass: new () => T;
  /** Stream category; instances live in `<name>-<processId>`. */
  readonly name: string;
  readonly version: number;
  readonly snapshotEvery: number;
  readonly handledInputsKept: number;
  readonly beforeStart: ArrivalPolicy;
  readonly afterFinish: ArrivalPolicy;
  readonly registry: MessageRegistry;
  /** Input event type -> handler. */
  readonly handlers: ReadonlyMap<string, EventHandlerSpec>;
  /** Own event type -> `@Apply` method. */
  readonly appliers: ReadonlyMap<string, string | symbol>;
  /** Timeout key -> `@OnTimeout` method. */
  readonly timeouts: ReadonlyMap<string, string | symbol>;
  /** Command type -> `@OnCommandFailed` method. */
  readonly commandFailureHandlers: ReadonlyMap<string, string | symbol>;
  /** Every event type the process consumes (subscribe to these). */
  readonly inputEventTypes: readonly string[];
  /** The event types that start an instance. */
  readonly startEventTypes: readonly string[];
  /** True when some handler routes by lookup key: the runtime then keeps a correlation index. */
  readonly routesByKey: boolean;
}

/** Defaults of the `@ProcessManager` options. */
export const PROCESS_DEFAULTS = { version: 1, snapshotEvery: 200, handledInputsKept: 1000 } as const;

/**
 * Validates a `@ProcessManager` class against a registry and builds its definition.
 * Classes its decorators name that carry `@Event`/`@Command` are registered on the way.
 * Throws ONE {@link DefinitionError} listing every problem: missing `@ProcessManager`, a
 * name containing '-', no `@StartedBy`, two handlers for one event, a correlate that is
 * neither a function nor `{ byKey: function }` (and `byKey` on a `@StartedBy`), unregistered event or command classes, duplicate appliers or timeout
 * keys, static or missing methods, a constructor that needs arguments.
 *
 * @example
 * ```ts
 * const registry = new MessageRegistry();
 * const definition = defineProcess(OrderFulfillment, registry);
 * const engine = new ProcessEngine(definition);
 * ```
 */
export function defineProcess<T extends object>(
  processClass: Class<T>,
  registry: MessageRegistry,
): ProcessDefinition<T> {
  const problems: string[] = [];
  const className =
    typeof processClass === 'function' && processClass.name ? processClass.name : String(processClass);
  if (typeof processClass !== 'function') {
    throw new DefinitionError(`process ${className}`, ['a process manager must be a class.']);
  }
  const record = processRecordOf(processClass);
  const options = record?.options;
  if (!options) problems.push(`${className} has no @ProcessManager({ name }) decorator.`);
  const name = options?.name ?? '';
  if (options) {
    if (typeof name !== 'string' || name.length === 0)
      problems.push('@ProcessManager needs a non-empty name.');
    else if (name.includes('-')) {
      problems.push(
        `process name '${name}' contains '-', but the stream category is the text before the first '-'; use camelCase (e.g. '${camel(name)}').`,
      );
    } else if (name.startsWith('$'))
      problems.push(`process name '${name}' must not start with '$' (reserved for system streams).`);
  }
  const positiveInt = (value: unknown, label: string): void => {
    if (value !== undefined && !(Number.isInteger(value) && (value as number) > 0)) {
      problems.push(`@ProcessManager ${label} must be a positive integer, got ${JSON.stringify(value)}.`);
    }
  };
  positiveInt(options?.version, 'version');
  positiveInt(options?.snapshotEvery, 'snapshotEvery');
  positiveInt(options?.handledInputsKept, 'handledInputsKept');
  for (const key of ['beforeStart', 'afterFinish'] as const) {
    const policy = options?.[key];
    if (policy !== undefined && policy !== 'record' && policy !== 'ignore') {
      problems.push(`@ProcessManager ${key} must be 'record' or 'ignore', got '${String(policy)}'.`);
    }
  }

  const members = record?.members ?? [];
  const handlers = new Map<string, EventHandlerSpec>();
  const appliers = new Map<string, string | symbol>();
  const timeouts = new Map<string, string | symbol>();
  const failureHandlers = new Map<string, string | symbol>();
  const where = (m: ProcessMemberRecord): string => `${decoratorName(m)} on ${className}.${String(m.method)}`;

  const typeOfClass = (
    m: ProcessMemberRecord,
    cls: unknown,
    role: string,
  ): { type: string; cls: Class } | undefined => {
    if (typeof cls !== 'function') {
      problems.push(
        `${where(m)}: the ${role} class is ${String(cls)} (a circular import?); pass the class itself.`,
      );
      return undefined;
    }
    const type = registry.typeOf(cls);
    if (type === undefined) {
      problems.push(
        `${where(m)}: ${cls.name} is not a registered message; decorate it with @Event/@Command or call registry.registerAs(${cls.name}, 'Type').`,
      );
      return undefined;
    }
    if (type.startsWith(FRAMEWORK_EVENT_PREFIX)) {
      problems.push(`${where(m)}: type '${type}' uses the reserved '${FRAMEWORK_EVENT_PREFIX}' prefix.`);
      return undefined;
    }
    return { type, cls: cls as Class };
  };

  for (const m of members) {
    if (m.isStatic) {
      problems.push(`${where(m)}: must decorate an instance method, not a static one.`);
      continue;
    }
    if (typeof (processClass.prototype as Record<string | symbol, unknown>)[m.method] !== 'function') {
      problems.push(`${where(m)}: ${String(m.method)} is not a method.`);
      continue;
    }
    switch (m.kind) {
      case 'startedBy':
      case 'on': {
        const found = typeOfClass(m, m.event, 'event');
        const routing = routingOf(m.correlate);
        if (!routing) {
          problems.push(
            `${where(m)}: correlate must be a function (event) => processId${m.kind === 'on' ? ' or { byKey: (event) => key }' : ''}, got ${describe(m.correlate)}.`,
          );
        } else if (routing.by === 'key' && m.kind === 'startedBy') {
          problems.push(
            `${where(m)}: a start event cannot be routed by key (no instance has associated it yet); return the new process id, and use { byKey } in @On.`,
          );
        }
        if (!found) break;
        const previous = handlers.get(found.type);
        if (previous) {
          problems.push(
            `${found.type} has two handlers: ${className}.${String(previous.method)} and ${className}.${String(m.method)}; keep one.`,
          );
          break;
        }
        if (routing) {
          handlers.set(found.type, {
            kind: m.kind,
            eventType: found.type,
            eventClass: found.cls,
            method: m.method,
            by: routing.by,
            correlate: routing.fn,
          });
        }
        break;
      }
      case 'apply': {
        const found = typeOfClass(m, m.event, 'event');
        if (!found) break;
        const previous = appliers.get(found.type);
        if (previous !== undefined) {
          problems.push(
            `${found.type} has two appliers: ${className}.${String(previous)} and ${className}.${String(m.method)}.`,
          );
        } else appliers.set(found.type, m.method);
        break;
      }
      case 'timeout': {
        if (typeof m.key !== 'string' || m.key.length === 0) {
          problems.push(`${where(m)}: the timeout key must be a non-empty string.`);
          break;
        }
        const previous = timeouts.get(m.key);
        if (previous !== undefined) {
          problems.push(
            `timeout '${m.key}' has two handlers: ${className}.${String(previous)} and ${className}.${String(m.method)}.`,
          );
        } else timeouts.set(m.key, m.method);
        break;
      }
      case 'commandFailed': {
        const found = typeOfClass(m, m.command, 'command');
        if (!found) break;
        const previous = failureHandlers.get(found.type);
        if (previous !== undefined) {
          problems.push(
            `command ${found.type} has two failure handlers: ${className}.${String(previous)} and ${className}.${String(m.method)}.`,
          );
        } else failureHandlers.set(found.type, m.method);
        break;
      }
    }
  }
  if (options && !members.some((m) => m.kind === 'startedBy')) {
    problems.push(`${className} has no @StartedBy(Event, correlate) handler, so no instance can ever start.`);
  }
  try {
    new (processClass as unknown as new () => T)();
  } catch (err) {
    problems.push(
      `new ${className}() threw (${(err as Error).message}); the state class needs a no-argument constructor.`,
    );
  }
  if (problems.length > 0) throw new DefinitionError(`process ${className}`, problems);

  const inputEventTypes = [...handlers.keys()];
  return Object.freeze({
    processClass: processClass as unknown as new () => T,
    name,
    version: options?.version ?? PROCESS_DEFAULTS.version,
    snapshotEvery: options?.snapshotEvery ?? PROCESS_DEFAULTS.snapshotEvery,
    handledInputsKept: options?.handledInputsKept ?? PROCESS_DEFAULTS.handledInputsKept,
    beforeStart: options?.beforeStart ?? 'record',
    afterFinish: options?.afterFinish ?? 'record',
    registry,
    handlers,
    appliers,
    timeouts,
    commandFailureHandlers: failureHandlers,
    inputEventTypes,
    startEventTypes: inputEventTypes.filter((t) => handlers.get(t)?.kind === 'startedBy'),
    routesByKey: [...handlers.values()].some((h) => h.by === 'key'),
  });
}

function routingOf(correlate: unknown): { by: 'processId' | 'key'; fn: Correlate<any> } | undefined {
  if (typeof correlate === 'function') return { by: 'processId', fn: correlate as Correlate<any> };
  if (correlate !== null && typeof correlate === 'object') {
    const byKey = (correlate as { byKey?: unknown }).byKey;
    if (typeof byKey === 'function' && Object.keys(correlate).length === 1)
      return { by: 'key', fn: byKey as Correlate<any> };
  }
  return undefined;
}

function describe(value: unknown): string {
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    const byKey = (value as { byKey?: unknown }).byKey;
    return keys.includes('byKey') && keys.length === 1
      ? `{ byKey: ${typeof byKey} }`
      : `an object with ${keys.length > 0 ? keys.join(', ') : 'no keys'}`;
  }
  return typeof value;
}

function decoratorName(m: ProcessMemberRecord): string {
  const names = {
    startedBy: '@StartedBy',
    on: '@On',
    apply: '@Apply',
    timeout: '@OnTimeout',
    commandFailed: '@OnCommandFailed',
  };
  return names[m.kind];
}

function camel(name: string): string {
  return name.replace(/-+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''));
}
