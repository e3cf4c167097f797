/**
 * The sagastream error taxonomy: every error the library throws extends
 * {@link SagastreamError} and carries a string-literal `code` plus readonly context
 * fields, so callers can branch on `err.code` without parsing messages.
 */

export type SagastreamErrorCode =
  // store and storage
  | 'WRONG_EXPECTED_VERSION'
  | 'STREAM_DELETED'
  | 'STREAM_NOT_FOUND'
  | 'MAX_APPEND_SIZE_EXCEEDED'
  | 'INVALID_EVENT'
  | 'STORE_LOCKED'
  | 'STORE_UNAVAILABLE'
  | 'STORE_CLOSED'
  | 'INVALID_POSITION'
  | 'INVALID_FILTER'
  // messages
  | 'UNKNOWN_EVENT_TYPE'
  | 'MALFORMED_EVENT'
  // definitions and processes
  | 'DEFINITION'
  | 'CONCURRENCY'
  | 'HANDLER'
  | 'COMMAND_FAILED'
  | 'NON_RETRYABLE'
  | 'NON_DETERMINISM'
  | 'MISSING_DEPENDENCY'
  | 'STEP_FAILED'
  | 'DUPLICATE_STEP'
  | 'SAGA_FAILED'
  | 'PROCESS_QUARANTINED'
  | 'CORRELATION_KEY_CONFLICT'
  | 'UNKNOWN_CORRELATION_KEY'
  | 'PROCESS_NOT_FOUND';

/** Base class of every error sagastream throws. */
export abstract class SagastreamError extends Error {
  abstract readonly code: SagastreamErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An append's expected revision did not match the stream. */
export class WrongExpectedVersionError extends SagastreamError {
  readonly code = 'WRONG_EXPECTED_VERSION' as const;
  constructor(
    readonly stream: string,
    /** 'any' | 'no_stream' | 'stream_exists' or the expected revision. */
    readonly expected: string | bigint,
    /** Current last revision, or undefined when the stream does not exist. */
    readonly actual: bigint | undefined,
    options?: { cause?: unknown },
  ) {
    super(
      `Append to stream '${stream}' expected revision ${String(expected)} but the stream is at ${
        actual === undefined ? 'no_stream' : String(actual)
      }. Reload the stream and retry the decision.`,
      options,
    );
  }
}

/** The stream was tombstoned (or soft-deleted where the operation requires it to exist). */
export class StreamDeletedError extends SagastreamError {
  readonly code = 'STREAM_DELETED' as const;
  constructor(
    readonly stream: string,
    options?: { cause?: unknown },
  ) {
    super(`Stream '${stream}' is deleted; it cannot be read or written.`, options);
  }
}

/** A read addressed a stream that does not exist. */
export class StreamNotFoundError extends SagastreamError {
  readonly code = 'STREAM_NOT_FOUND' as const;
  constructor(
    readonly stream: string,
    options?: { cause?: unknown },
  ) {
    super(`Stream '${stream}' does not exist.`, options);
  }
}

/** An append was larger than the store accepts in one call. */
export class MaxAppendSizeExceededError extends SagastreamError {
  readonly code = 'MAX_APPEND_SIZE_EXCEEDED' as const;
  constructor(
    readonly stream: string,
    readonly maxAppendSize: number,
    readonly size?: number,
    options?: { cause?: unknown },
  ) {
    super(
      `Append to stream '${stream}' exceeds the maximum append size of ${maxAppendSize} bytes${
        size === undefined ? '' : ` (${size} bytes)`
      }. Split it into several appends.`,
      options,
    );
  }
}

/** An event proposed for append is not acceptable (empty id or type, bad metadata). */
export class InvalidEventError extends SagastreamError {
  readonly code = 'INVALID_EVENT' as const;
  constructor(
    message: string,
    readonly stream?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Another process holds the store directory. */
export class StoreLockedError extends SagastreamError {
  readonly code = 'STORE_LOCKED' as const;
  constructor(
    readonly dir: string,
    readonly holderPid: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(
      `Store directory '${dir}' is locked by another process${
        holderPid === undefined ? '' : ` (pid ${holderPid})`
      }. Stop that process or use another --db directory.`,
      options,
    );
  }
}

/** The store could not be reached or opened (connection dropped, directory not writable, port in use). */
export class StoreUnavailableError extends SagastreamError {
  readonly code = 'STORE_UNAVAILABLE' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An operation was attempted on a closed store. */
export class StoreClosedError extends SagastreamError {
  readonly code = 'STORE_CLOSED' as const;
  constructor(what = 'The event store') {
    super(`${what} is closed.`);
  }
}

/** A subscription filter is not usable (e.g. a regular expression that does not compile). */
export class InvalidFilterError extends SagastreamError {
  readonly code = 'INVALID_FILTER' as const;
  constructor(
    readonly expression: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Subscription filter '${expression}' is not a valid regular expression. Fix the pattern or use prefixes.`,
      options,
    );
  }
}

/** A read or subscription asked for a $all position that is not an event boundary. */
export class InvalidPositionError extends SagastreamError {
  readonly code = 'INVALID_POSITION' as const;
  constructor(
    readonly position: bigint,
    options?: { cause?: unknown },
  ) {
    super(`Trying to read from an invalid position (${position}).`, options);
  }
}

/** A process manager, message class or command handler definition is invalid. Lists every problem found. */
export class DefinitionError extends SagastreamError {
  readonly code = 'DEFINITION' as const;
  constructor(
    /** What was being defined, e.g. `process OrderFulfillment`. */
    readonly subject: string,
    /** Every problem found, one sentence each. */
    readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(
      `Invalid definition of ${subject} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems
        .map((p) => `  - ${p}`)
        .join('\n')}`,
      options,
    );
  }
}

/** A stored event's type is not in the message registry, so it cannot be decoded. */
export class UnknownEventTypeError extends SagastreamError {
  readonly code = 'UNKNOWN_EVENT_TYPE' as const;
  constructor(
    readonly eventType: string,
    readonly stream: string,
    readonly revision: bigint,
    readonly eventId: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Event ${eventId} at ${stream}@${revision} has type '${eventType}', which is not registered. ` +
        `Register its class in the MessageRegistry, or filter the type out of the subscription.`,
      options,
    );
  }
}

/** A stored event's payload is not JSON, not an object, or fails the message class's validation. */
export class MalformedEventError extends SagastreamError {
  readonly code = 'MALFORMED_EVENT' as const;
  constructor(
    readonly eventType: string,
    readonly stream: string,
    readonly revision: bigint,
    readonly eventId: string,
    readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(
      `Event ${eventId} (${eventType}) at ${stream}@${revision} is malformed: ${problems.join('; ')}. ` +
        `Fix the producer; the event cannot be handled as it is.`,
      options,
    );
  }
}

/** A process manager's handler, applier or hook threw, or used its context wrongly. */
export class HandlerError extends SagastreamError {
  readonly code = 'HANDLER' as const;
  constructor(
    message: string,
    readonly processName: string,
    readonly processId: string,
    /** The input being handled (event id, or the derived id of a command outcome or timeout). */
    readonly inputId: string | undefined,
    /** `ClassName.method` of the handler. */
    readonly handler: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An append kept conflicting with concurrent writers after the bounded retries. */
export class ConcurrencyError extends SagastreamError {
  readonly code = 'CONCURRENCY' as const;
  constructor(
    readonly stream: string,
    readonly expected: string | bigint,
    readonly actual: bigint | undefined,
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(
      `Stream '${stream}' kept changing under the decision (expected ${String(expected)}, found ${
        actual === undefined ? 'no_stream' : String(actual)
      } after ${attempts} attempt${attempts === 1 ? '' : 's'}). Another writer is racing on this instance; ` +
        `it will be retried from the subscription.`,
      options,
    );
  }
}

/** A command failed for good (terminal error or retries exhausted); fed back to its process. */
export class CommandFailedError extends SagastreamError {
  readonly code = 'COMMAND_FAILED' as const;
  constructor(
    message: string,
    readonly commandId: string,
    readonly commandType: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Thrown by a command handler (or workflow step) to say "retrying cannot help": the
 * failure is fed back to the process at once instead of being retried.
 */
export class NonRetryableError extends SagastreamError {
  readonly code = 'NON_RETRYABLE' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An input was offered to a quarantined process instance; release or skip it first. */
export class ProcessQuarantinedError extends SagastreamError {
  readonly code = 'PROCESS_QUARANTINED' as const;
  constructor(
    readonly processName: string,
    readonly processId: string,
    /** The input that quarantined the instance. */
    readonly eventId: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Process ${processName}-${processId} is quarantined since input ${eventId} kept failing. ` +
        `Release it (retry) or skip that input with the CLI or runtime API.`,
      options,
    );
  }
}

/**
 * A workflow run, replayed against its recorded history, called a different step than the
 * one recorded at that position: the code changed under a running workflow. Nothing was
 * run or recorded; the run is quarantined until the old code is deployed again (or the
 * change is made compatible) and the run is released.
 */
export class NonDeterminismError extends SagastreamError {
  readonly code = 'NON_DETERMINISM' as const;
  constructor(
    readonly workflowId: string,
    readonly runId: string,
    /** Position of the step call in the run, from 0. */
    readonly position: number,
    /** The step recorded at that position. */
    readonly expectedStep: string,
    /** The step the code called instead. */
    readonly actualStep: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Workflow run ${workflowId}-${runId} is not deterministic: step #${position} is recorded as ` +
        `'${expectedStep}' but the code now calls '${actualStep}'. Do not reorder, rename or remove steps ` +
        `while runs are in flight: deploy the previous code for these runs, or give the new version another workflow id.`,
      options,
    );
  }
}

/** An action context capability was used without the dependency that backs it. */
export class MissingDependencyError extends SagastreamError {
  readonly code = 'MISSING_DEPENDENCY' as const;
  constructor(
    /** The missing option, e.g. `repository`, `eventBus`, `commandBus`. */
    readonly dependency: string,
    /** What needed it, e.g. `ctx.publish` in action 'foo'. */
    readonly usedBy: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${usedBy} needs a ${dependency}, but none is configured. Pass \`${dependency}\` to the SagaExecutor options, or to runtime.registerSaga(setup, { ${dependency} }) when the saga runs on ProcessRuntime.`,
      options,
    );
  }
}

/**
 * A workflow step (or saga action) failed for good: it threw a `NonRetryableError`, or it
 * kept throwing until its attempts ran out. Thrown from `step.run` into the workflow
 * function (from `ctx.run` into the calling action); left uncaught, it fails the run and
 * its compensations run. `workflowId`/`runId` name the workflow (or saga) and its run.
 */
export class StepFailedError extends SagastreamError {
  readonly code = 'STEP_FAILED' as const;
  constructor(
    readonly workflowId: string,
    readonly runId: string,
    readonly step: string,
    readonly attempts: number,
    /** The last error, as recorded (`message`, `code`, `name`). */
    readonly failure: { readonly message: string; readonly code?: string; readonly name?: string },
    options?: { cause?: unknown },
  ) {
    super(
      `Step '${step}' of ${workflowId}-${runId} failed after ${attempts} attempt${
        attempts === 1 ? '' : 's'
      }: ${failure.message}`,
      options,
    );
  }
}

/** A workflow called two steps by the same name in one run; step names identify recorded results. */
export class DuplicateStepError extends SagastreamError {
  readonly code = 'DUPLICATE_STEP' as const;
  constructor(
    readonly workflowId: string,
    readonly step: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Workflow '${workflowId}' called step '${step}' twice in one run. Give each step call its own name ` +
        `(e.g. include the loop index).`,
      options,
    );
  }
}

/**
 * An action saga did not complete: an action failed, and its compensations either all ran
 * (`status: 'compensated'`) or one of them failed for good (`status: 'compensationFailed'`,
 * which needs an operator).
 */
export class SagaFailedError extends SagastreamError {
  readonly code = 'SAGA_FAILED' as const;
  constructor(
    readonly saga: string,
    readonly sagaId: string,
    /** The action that failed. */
    readonly action: string,
    readonly status: 'compensated' | 'compensationFailed',
    /** The failed compensating action when `status` is `compensationFailed`. */
    readonly failedCompensation: string | undefined,
    readonly failure: { readonly message: string; readonly code?: string; readonly name?: string },
    options?: { cause?: unknown },
  ) {
    super(
      status === 'compensated'
        ? `Saga ${saga}-${sagaId} failed in action '${action}' (${failure.message}); every completed action was compensated.`
        : `Saga ${saga}-${sagaId} failed in action '${action}' (${failure.message}) and compensation ` +
            `'${failedCompensation ?? '?'}' failed too; the saga needs an operator (see its stream).`,
      options,
    );
  }
}

/**
 * A process instance associated a lookup key (`ctx.associate`) that another instance of the
 * same process already claimed. The decision is not appended; the instance is quarantined
 * until an operator skips the input (or fixes the data and releases it).
 */
export class CorrelationKeyConflictError extends SagastreamError {
  readonly code = 'CORRELATION_KEY_CONFLICT' as const;
  constructor(
    readonly processName: string,
    /** The instance whose decision associated the key. */
    readonly processId: string,
    readonly key: string,
    /** The instance that claimed the key first. */
    readonly ownerId: string,
    /** The input whose decision associated the key. */
    readonly inputId: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${processName}-${processId} associated key '${key}' on input ${inputId}, but ${processName}-${ownerId} ` +
        `already holds it; a key routes to one instance. Nothing was appended for that input: fix the ` +
        `handler or the data, then skip or release the instance.`,
      options,
    );
  }
}

/** An event routed by lookup key (`@On(E, { byKey })`) carried a key no instance has associated. */
export class UnknownCorrelationKeyError extends SagastreamError {
  readonly code = 'UNKNOWN_CORRELATION_KEY' as const;
  constructor(
    readonly processName: string,
    readonly key: string,
    readonly eventType: string,
    readonly stream: string,
    readonly revision: bigint,
    readonly eventId: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Event ${eventId} (${eventType}) at ${stream}@${revision} carries key '${key}', which no ${processName} ` +
        `instance has associated (ctx.associate). It was handled per the beforeStart policy; ` +
        `check that the instance associates the key before such events arrive.`,
      options,
    );
  }
}

/** An operator command named a process instance whose stream does not exist. */
export class ProcessNotFoundError extends SagastreamError {
  readonly code = 'PROCESS_NOT_FOUND' as const;
  constructor(
    readonly processName: string,
    readonly processId: string,
    options?: { cause?: unknown },
  ) {
    super(
      `No instance ${processName}-${processId}: its stream is empty or missing. ` +
        `List the instances with \`sagastream processes list ${processName}\`.`,
      options,
    );
  }
}
