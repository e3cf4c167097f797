import { DefinitionError } from '../errors';
import type { BackoffOptions } from '../runtime/backoff';

/** Loads event-sourced aggregates (for instance by replaying their stream). */
export interface AggregateRepository {
  /** The aggregate with id `id`; `options` is whatever the repository needs (a class, a type name). */
  load<T = unknown>(id: string, options?: unknown): Promise<T>;
}

/** Publishes domain events. */
export interface EventBus {
  publish(event: object): unknown;
}

/** Sends commands to their handlers; resolves with the handler's result. */
export interface CommandDispatcher {
  dispatch(command: object): unknown;
}

/** What an action receives. */
export interface SagaContext<I = unknown> {
  readonly saga: string;
  readonly sagaId: string;
  /** The running action (or compensating action). */
  readonly action: string;
  /** The input given to `execute`, as recorded. */
  readonly input: I;
  /**
   * Stable for this action of this saga across crashes and executors: an action runs at
   * least once until its completion is recorded, so pass it on as an idempotency key.
   */
  readonly idempotencyKey: string;
  /** Runs another action by name (once per saga: a completed action returns its recorded result). */
  run<T = unknown>(action: string): Promise<T>;
  /** The executor's repository; throws `MissingDependencyError` when none is configured. */
  readonly repository: AggregateRepository;
  /** Publishes on the executor's event bus; rejects with `MissingDependencyError` without one. */
  publish(event: object): Promise<void>;
  /** Dispatches on the executor's command bus; rejects with `MissingDependencyError` without one. */
  dispatch<T = unknown>(command: object): Promise<T>;
}

/** One action: its JSON result is recorded and returned by `ctx.run` on replay. */
export type SagaAction<I = unknown> = (ctx: SagaContext<I>) => unknown;

/**
 * How often a throwing action (or compensating action) is attempted, and how long the
 * executor waits between attempts: exponential backoff with jitter, on the executor's clock.
 * Each failed attempt is recorded (`StepAttemptFailed`); a `NonRetryableError` fails at once.
 */
export interface SagaRetryPolicy extends BackoffOptions {
  /** Attempts in all, the first included. @default 1 (see {@link DEFAULT_SAGA_RETRY}) */
  readonly maxAttempts?: number;
}

/** The policy of an action that sets none, in a saga that sets none. */
export const DEFAULT_SAGA_RETRY = {
  maxAttempts: 1,
  initialDelayMs: 200,
  maxDelayMs: 10_000,
} as const satisfies SagaRetryPolicy;

/** A retry policy with every default applied. */
export type ResolvedSagaRetry = SagaRetryPolicy & { readonly maxAttempts: number };

/** An action with its own retry policy, for {@link SagaOptions.actions}. */
export interface SagaActionDefinition<I = unknown> {
  readonly run: SagaAction<I>;
  /** Overrides the saga's `retry`, field by field. */
  readonly retry?: SagaRetryPolicy;
}

/** Options of {@link defineSaga}. */
export interface SagaOptions<I> {
  /** The saga's name and its streams' category: letters, digits and `_`, no `-`. @default 'saga' */
  readonly name?: string;
  /** Actions by name: a function, or `{ run, retry }` for an action with its own retry policy. */
  readonly actions: Readonly<Record<string, SagaAction<I> | SagaActionDefinition<I>>>;
  /** Actions run in this order. Exclusive with `startWith`. */
  readonly sequence?: readonly string[];
  /** The one action to run; it calls the others with `ctx.run`. @default the first action */
  readonly startWith?: string;
  /** Action -> the action that undoes it, run in reverse order of completion when the saga fails. */
  readonly compensate?: Readonly<Record<string, string>>;
  /** Retry policy of every action and compensating action that sets none. @default {@link DEFAULT_SAGA_RETRY} */
  readonly retry?: SagaRetryPolicy;
  /** Recorded in `ProcessStarted.definitionVersion`. @default 1 */
  readonly version?: number;
}

/** A validated saga, ready for `SagaExecutor.execute` or `ProcessRuntime.registerSaga`. */
export interface SagaSetup<I = unknown> {
  readonly name: string;
  readonly actions: Readonly<Record<string, SagaAction<I>>>;
  /** What `execute` runs, in order. */
  readonly entry: readonly string[];
  readonly compensate: Readonly<Record<string, string>>;
  /** The retry policy of each action, resolved (own fields, then the saga's, then the defaults). */
  readonly retry: Readonly<Record<string, ResolvedSagaRetry>>;
  readonly version: number;
}

const NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * Defines an action saga: named actions run in sequence (or from one entry action), each
 * with an optional compensating action. Throws one `DefinitionError` listing every problem.
 *
 * @example
 * ```ts
 * const setup = defineSaga({
 *   actions: { foo, bar, baz: { run: baz, retry: { maxAttempts: 5 } }, 'fix-foo': fixFoo, 'fix-bar': fixBar },
 *   sequence: ['foo', 'bar', 'baz'],
 *   compensate: { foo: 'fix-foo', bar: 'fix-bar' },
 *   retry: { maxAttempts: 3, initialDelayMs: 500, maxDelayMs: 30_000 },
 * });
 * await new SagaExecutor({ store }).execute(setup);
 * ```
 */
export function defineSaga<I = unknown>(options: SagaOptions<I>): SagaSetup<I> {
  const problems: string[] = [];
  const name = options.name ?? 'saga';
  if (!NAME.test(name)) {
    problems.push(
      `name '${name}' must start with a letter and contain only letters, digits and '_' (no '-').`,
    );
  }
  const definitions = options.actions ?? {};
  const names = Object.keys(definitions);
  if (names.length === 0) problems.push('actions must define at least one action.');
  const actions: Record<string, SagaAction<I>> = {};
  const retry: Record<string, ResolvedSagaRetry> = {};
  checkRetry(options.retry, 'retry', problems);
  for (const action of names) {
    const definition = definitions[action];
    const fn = typeof definition === 'function' ? definition : definition?.run;
    if (typeof fn !== 'function') {
      problems.push(`action '${action}' is not a function (nor { run: function, retry? }).`);
      continue;
    }
    const own = typeof definition === 'function' ? undefined : definition?.retry;
    checkRetry(own, `action '${action}' retry`, problems);
    actions[action] = fn;
    retry[action] = { ...DEFAULT_SAGA_RETRY, ...options.retry, ...own };
  }
  const known = (action: string, where: string): void => {
    if (!Object.prototype.hasOwnProperty.call(definitions, action)) {
      problems.push(`${where} names '${action}', which is not an action.`);
    }
  };
  if (options.sequence !== undefined && options.startWith !== undefined) {
    problems.push('give either sequence or startWith, not both.');
  }
  if (options.sequence !== undefined && options.sequence.length === 0) problems.push('sequence is empty.');
  (options.sequence ?? []).forEach((action, i) => known(action, `sequence[${i}]`));
  if (new Set(options.sequence ?? []).size !== (options.sequence ?? []).length) {
    problems.push('sequence lists an action twice (each action runs at most once per saga).');
  }
  if (options.startWith !== undefined) known(options.startWith, 'startWith');
  for (const [action, fix] of Object.entries(options.compensate ?? {})) {
    known(action, `compensate key`);
    known(fix, `compensate['${action}']`);
  }
  if (problems.length > 0) throw new DefinitionError(`saga ${name}`, problems);
  const first = names[0] as string;
  return {
    name,
    actions,
    entry: options.sequence ?? [options.startWith ?? first],
    compensate: options.compensate ?? {},
    retry,
    version: options.version ?? 1,
  };
}

function checkRetry(policy: SagaRetryPolicy | undefined, where: string, problems: string[]): void {
  if (policy === undefined) return;
  const { maxAttempts, initialDelayMs, maxDelayMs } = policy;
  if (maxAttempts !== undefined && (!Number.isInteger(maxAttempts) || maxAttempts < 1)) {
    problems.push(`${where}.maxAttempts must be an integer >= 1 (got ${maxAttempts}).`);
  }
  for (const [field, value] of [
    ['initialDelayMs', initialDelayMs],
    ['maxDelayMs', maxDelayMs],
  ] as const) {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      problems.push(`${where}.${field} must be a number >= 0 (got ${value}).`);
    }
  }
}
