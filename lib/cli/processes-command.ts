/**
 * `sagastream processes`: operator commands on process-manager instances, step-workflow
 * runs and action-saga runs (all three write the same process stream vocabulary), reading
 * and writing the store like a worker does. `list` and `show` summarise them from their
 * streams; `release` and `skip` lift a quarantine by appending `sagastream.ProcessReleased`
 * (the one the engine builds, for a process instance), which running workers pick up.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { ProcessNotFoundError, WrongExpectedVersionError } from '../errors';
import { ProcessEngine } from '../process/process-engine';
import { ProcessEventTypes } from '../process/process-events';
import type { ProcessState } from '../process/process-state';
import type { EventStore, StoredEventRecord } from '../store/event-store';
import { EventStoreDbEventStore } from '../store/eventstoredb/eventstoredb-event-store';
import { releaseRun } from '../workflow/run-release';
import { type RunState, replayRun, runKindOf } from '../workflow/run-state';
import { StepEventTypes } from '../workflow/step-events';
import type { CommandIo } from './eventstore-command';

/** Where `--connection` points when neither it nor `EVENTSTORE_CONNECTION_STRING` is set. */
export const DEFAULT_CONNECTION = 'esdb://127.0.0.1:2113?tls=false';

/** The statuses `processes list --status` filters by (`quarantined` is shown instead of the status underneath). */
export const LISTED_STATUSES = [
  'quarantined',
  'new',
  'running',
  'compensating',
  'completed',
  'compensated',
  'compensationFailed',
] as const;

/** One of {@link LISTED_STATUSES}. */
export type ListedStatus = (typeof LISTED_STATUSES)[number];

/** Which authoring style wrote an instance's stream. */
export type InstanceKind = 'process' | 'workflow' | 'saga';

/** What `processes list` shows of an instance (a process instance, a workflow run or a saga run). */
export interface InstanceSummary {
  /** The process id, run id or saga id. */
  readonly processId: string;
  readonly kind: InstanceKind;
  /** A workflow or saga run that failed and is compensating is `compensating`. */
  readonly status: ListedStatus;
  /** `Type stream@revision` of the last input recorded (handled or ignored); for a run, its trigger. */
  readonly lastInput: string;
  /** What happened last: the last input of a process instance, the last step of a run. */
  readonly lastStep: string;
  /** The quarantine error, the failed compensation's error, the failed step's error, or the failure reason. */
  readonly error: string;
}

/** Options of {@link registerProcessesCommand}. */
export interface ProcessesCommandOptions {
  /** Opens the store for a connection string. @default an `EventStoreDbEventStore` */
  readonly openStore?: (connection: string) => EventStore;
  /** @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const processIo: CommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * Adds `processes list|show|release|skip` to `program`.
 *
 * @example
 * ```sh
 * sagastream processes list orderFulfillment --status quarantined --connection esdb://127.0.0.1:2113?tls=false
 * sagastream processes show orderFulfillment o-42
 * sagastream processes release orderFulfillment o-42   # run the failed input again
 * sagastream processes skip orderFulfillment o-42      # mark it handled, run the later ones
 * ```
 */
export function registerProcessesCommand(
  program: Command,
  io: CommandIo = processIo,
  options: ProcessesCommandOptions = {},
): Command {
  const env = options.env ?? process.env;
  const openStore = options.openStore ?? ((connection: string) => new EventStoreDbEventStore(connection));
  const connectionHelp = `EventStoreDB connection string (default: EVENTSTORE_CONNECTION_STRING or ${DEFAULT_CONNECTION})`;
  const withStore = async <T>(connection: string | undefined, fn: (store: EventStore) => Promise<T>) => {
    const store = openStore(connection ?? env.EVENTSTORE_CONNECTION_STRING ?? DEFAULT_CONNECTION);
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  };

  const processes = program
    .command('processes')
    .description(
      'Inspect process-manager instances, workflow runs and saga runs; release or skip quarantined ones.',
    );

  processes
    .command('list')
    .description('List the instances of a process, workflow or saga (reads $ce-<name>).')
    .argument(
      '<processName>',
      'the process name, workflow id or saga name (stream category), e.g. orderFulfillment',
    )
    .option('--status <status>', `only instances with this status: ${LISTED_STATUSES.join('|')}`, parseStatus)
    .option('--connection <connection>', connectionHelp)
    .action(async (processName: string, opts: { status?: ListedStatus; connection?: string }) => {
      await withStore(opts.connection, async (store) => {
        const rows = (await listInstances(store, processName)).filter(
          (row) => opts.status === undefined || row.status === opts.status,
        );
        if (rows.length === 0) {
          io.out(`No ${opts.status ?? ''}${opts.status ? ' ' : ''}instances of ${processName}.`);
          return;
        }
        for (const line of table(
          ['ID', 'KIND', 'STATUS', 'LAST STEP', 'ERROR'],
          rows.map((r) => [r.processId, r.kind, r.status, r.lastStep, r.error]),
        ))
          io.out(line);
      });
    });

  processes
    .command('show')
    .description(
      "Summarise one instance's stream: status, commands or steps, compensations, timers, quarantine.",
    )
    .argument('<processName>', 'the process name, workflow id or saga name')
    .argument('<processId>', 'the instance, run or saga id')
    .option('--connection <connection>', connectionHelp)
    .action(async (processName: string, processId: string, opts: { connection?: string }) => {
      await withStore(opts.connection, async (store) => {
        const events = await readInstance(store, processName, processId);
        const kind = runKindOf(processName, events);
        const lines =
          kind === undefined
            ? describeInstance(ProcessEngine.inspector(processName).replay(processId, events), events)
            : describeRun(kind, replayRun(processName, processId, events), events);
        for (const line of lines) io.out(line);
      });
    });

  for (const [name, skip] of [
    ['release', false],
    ['skip', true],
  ] as const) {
    processes
      .command(name)
      .description(
        skip
          ? 'Lift a quarantine, marking the input that caused it handled without running it.'
          : 'Lift a quarantine; workers run the input that caused it again, then the held ones.',
      )
      .argument('<processName>', 'the process name, workflow id or saga name')
      .argument('<processId>', 'the instance, run or saga id')
      .option('--connection <connection>', connectionHelp)
      .action(async (processName: string, processId: string, opts: { connection?: string }) => {
        await withStore(opts.connection, async (store) => {
          io.out(await releaseInstance(store, processName, processId, skip));
        });
      });
  }
  return processes;
}

/** Every instance of `processName`, from `$ce-<processName>`, in order of first appearance. */
export async function listInstances(store: EventStore, processName: string): Promise<InstanceSummary[]> {
  const engine = ProcessEngine.inspector(processName);
  const byInstance = new Map<string, StoredEventRecord[]>();
  for (const record of await store.readStream(`$ce-${processName}`)) {
    const processId = engine.processIdOf(record.stream);
    if (processId === undefined) continue;
    const events = byInstance.get(processId) ?? [];
    events.push(record);
    byInstance.set(processId, events);
  }
  return [...byInstance].map(([processId, events]) => {
    const kind = runKindOf(processName, events);
    return kind === undefined
      ? summarise(engine.replay(processId, events), events)
      : summariseRun(kind, replayRun(processName, processId, events), events);
  });
}

/** Appends the release (or skip) of a quarantined instance; returns what was done, for the operator. */
export async function releaseInstance(
  store: EventStore,
  processName: string,
  processId: string,
  skip: boolean,
): Promise<string> {
  if (runKindOf(processName, await readInstance(store, processName, processId)) !== undefined) {
    return (await releaseRun(store, processName, processId, skip)).detail;
  }
  for (let attempt = 1; ; attempt++) {
    const { engine, state } = await loadInstance(store, processName, processId);
    const decision = engine.release(state, { skip });
    if (decision.events.length === 0) return `${state.stream} is not quarantined; nothing to do.`;
    try {
      await store.append(state.stream, decision.events, { expectedRevision: decision.expectedRevision });
    } catch (error) {
      // A worker appended meanwhile (or released it first): decide again on the new stream.
      if (error instanceof WrongExpectedVersionError && attempt < 5) continue;
      throw error;
    }
    return skip
      ? `${state.stream} released; input ${decision.inputId} is skipped, running workers take the held inputs.`
      : `${state.stream} released; running workers retry input ${decision.inputId}, then the held inputs.`;
  }
}

async function loadInstance(
  store: EventStore,
  processName: string,
  processId: string,
): Promise<{ engine: ProcessEngine; state: ProcessState; events: StoredEventRecord[] }> {
  const engine = ProcessEngine.inspector(processName);
  const events = await readInstance(store, processName, processId);
  return { engine, state: engine.replay(processId, events), events };
}

async function readInstance(
  store: EventStore,
  processName: string,
  processId: string,
): Promise<StoredEventRecord[]> {
  const events = await store.readStream(ProcessEngine.inspector(processName).streamFor(processId));
  if (events.length === 0) throw new ProcessNotFoundError(processName, processId);
  return events;
}

function summarise(state: ProcessState, events: readonly StoredEventRecord[]): InstanceSummary {
  const input = findLast(
    events,
    (e) => e.type === ProcessEventTypes.InputRecorded || e.type === ProcessEventTypes.InputIgnored,
  );
  const data = input?.data as
    { type?: string; stream?: string; revision?: string; reason?: string } | undefined;
  const lastInput = data
    ? `${data.type ?? '?'}${data.stream === undefined ? '' : ` ${data.stream}@${data.revision ?? '?'}`}${
        input?.type === ProcessEventTypes.InputIgnored ? ` (ignored: ${data.reason ?? '?'})` : ''
      }`
    : '-';
  const failedStep = state.compensations.find((c) => c.status === 'failed');
  const error =
    state.quarantine?.error.message ??
    (failedStep?.error ? `compensation ${failedStep.step}: ${failedStep.error.message}` : undefined) ??
    state.failure ??
    '-';
  return {
    processId: state.processId,
    kind: 'process',
    status: state.quarantine ? 'quarantined' : state.status,
    lastInput,
    lastStep: lastInput,
    error,
  };
}

const S = StepEventTypes;
const P = ProcessEventTypes;

/** The summary of a workflow or saga run. */
function summariseRun(
  kind: 'workflow' | 'saga',
  state: RunState,
  events: readonly StoredEventRecord[],
): InstanceSummary {
  const trigger = state.trigger;
  const failedCompensation = compensationFailures(events)[0];
  const failedStep = [...state.failedSteps][0];
  const error =
    state.quarantine?.error.message ??
    (failedCompensation
      ? `compensation ${failedCompensation.step}: ${failedCompensation.message}`
      : undefined) ??
    (failedStep ? `${failedStep[0]}: ${failedStep[1].error.message}` : undefined) ??
    state.failureReason ??
    '-';
  return {
    processId: state.runId,
    kind,
    status: state.quarantine ? 'quarantined' : state.status === 'failed' ? 'compensating' : state.status,
    lastInput:
      trigger === undefined || kind === 'saga'
        ? '-'
        : `${trigger.type} ${trigger.stream}@${trigger.revision}`,
    lastStep: lastStepOf(events),
    error,
  };
}

/** The last step-level event of a run, in words: `reserve completed`, `ship attempt 2 failed`... */
function lastStepOf(events: readonly StoredEventRecord[]): string {
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i] as StoredEventRecord;
    const data = event.data as {
      step?: string;
      key?: string;
      attempt?: number;
      event?: string;
      dueAt?: string;
    };
    switch (event.type) {
      case S.StepCompleted:
        return `${data.step} completed`;
      case S.StepAttemptFailed:
        return `${data.step} attempt ${data.attempt} failed`;
      case S.StepFailed:
        return `${data.step} failed`;
      case S.EventAwaited:
        return `${data.step} waiting for ${data.event}`;
      case P.TimeoutScheduled:
        return `${data.key} sleeping until ${data.dueAt}`;
      case P.TimeoutFired:
        return `${data.key} woke`;
      case P.CompensationScheduled:
        return `compensate:${data.step} scheduled`;
      case P.CompensationCompleted:
        return `compensate:${data.step} completed`;
      case P.CompensationFailed:
        return `compensate:${data.step} failed`;
      default:
        break;
    }
  }
  return '-';
}

function compensationFailures(events: readonly StoredEventRecord[]): { step: string; message: string }[] {
  return events
    .filter((e) => e.type === P.CompensationFailed)
    .map((e) => {
      const data = e.data as { step: string; error?: { message?: string } };
      return { step: data.step, message: data.error?.message ?? '?' };
    });
}

/** `show` for a workflow or saga run: its steps in record order, then its compensations. */
function describeRun(
  kind: 'workflow' | 'saga',
  state: RunState,
  events: readonly StoredEventRecord[],
): string[] {
  const summary = summariseRun(kind, state, events);
  const started = events.find((e) => e.type === P.ProcessStarted)?.data as
    { definitionVersion?: number } | undefined;
  const lines = [
    `stream:      ${state.stream} (revision ${String(state.revision)}, ${events.length} events)`,
    `kind:        ${kind}`,
    `status:      ${summary.status === 'quarantined' ? `quarantined (${state.status} underneath)` : summary.status}${
      started?.definitionVersion === undefined ? '' : ` (definition version ${started.definitionVersion})`
    }`,
    kind === 'saga'
      ? `input:       ${JSON.stringify((state.trigger?.data as { input?: unknown } | undefined)?.input ?? null)}`
      : `trigger:     ${summary.lastInput}`,
  ];
  if (state.quarantine) {
    const q = state.quarantine;
    lines.push(
      `quarantined: ${q.error.name ? `${q.error.name}: ` : ''}${q.error.message}${q.error.code ? ` [${q.error.code}]` : ''}`,
      `             fix the code, then: sagastream processes release ${state.workflowId} ${state.runId}`,
    );
  }
  if (state.failureReason !== undefined) lines.push(`failure:     ${state.failureReason}`);
  lines.push(`steps:       ${state.steps.length} recorded (in the order the code reached them)`);
  for (const step of state.steps) {
    const attempts = state.attempts.get(step)?.count ?? 0;
    const tried = attempts > 0 ? ` after ${attempts} failed attempt${attempts === 1 ? '' : 's'}` : '';
    const result = state.results.get(step);
    const failed = state.failedSteps.get(step);
    const awaited = state.awaited.get(step);
    const timer = state.timers.get(step);
    let status: string;
    if (failed)
      status = `failed after ${failed.attempts} attempt${failed.attempts === 1 ? '' : 's'}: ${failed.error.message}`;
    else if (result) status = `completed${tried}  ${preview(result.result)}`;
    else if (awaited && state.fired.has(step)) status = `timed out waiting for ${awaited.event}`;
    else if (awaited)
      status = `waiting for ${awaited.event}${awaited.dueAt === undefined ? '' : ` until ${new Date(awaited.dueAt).toISOString()}`}`;
    else if (timer !== undefined && state.fired.has(step)) status = 'slept';
    else if (timer !== undefined) status = `sleeping until ${new Date(timer).toISOString()}`;
    else status = `running${tried}`;
    lines.push(`  ${step}  ${status}`);
  }
  const failures = new Map(compensationFailures(events).map((f) => [f.step, f.message]));
  lines.push(`compensations: ${state.registered.length} registered (run newest first)`);
  for (const step of [...state.registered].reverse()) {
    const status = state.compensationsCompleted.has(step)
      ? 'completed'
      : failures.has(step)
        ? `failed: ${failures.get(step)}`
        : state.compensationsScheduled.has(step)
          ? 'running'
          : 'registered';
    lines.push(`  compensate:${step}  ${status}`);
  }
  return lines;
}

/** A JSON result cut to one short line. */
function preview(value: unknown): string {
  const text = value === undefined ? '(no result)' : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function describeInstance(state: ProcessState, events: readonly StoredEventRecord[]): string[] {
  const summary = summarise(state, events);
  const lines = [
    `stream:      ${state.stream} (revision ${String(state.revision)}, ${events.length} events)`,
    `status:      ${state.status}${state.definitionVersion === undefined ? '' : ` (definition version ${state.definitionVersion})`}`,
    `last input:  ${summary.lastInput}`,
  ];
  if (state.quarantine) {
    const q = state.quarantine;
    lines.push(
      `quarantined: by input ${q.eventId}: ${q.error.message}${q.error.code ? ` [${q.error.code}]` : ''}`,
      `             release to retry it, or skip to mark it handled: sagastream processes release|skip ${state.processName} ${state.processId}`,
    );
  }
  if (state.failure !== undefined) lines.push(`failure:     ${state.failure}`);
  const compensationIds = new Set(state.compensations.map((c) => c.commandId));
  const commands = [...state.commands.values()].filter((c) => !compensationIds.has(c.commandId));
  lines.push(`commands:    ${commands.length} scheduled (delivered at least once by the outbox relay)`);
  for (const c of commands) lines.push(`  ${c.commandId}  ${c.type}  ${JSON.stringify(c.data)}`);
  lines.push(`compensations: ${state.compensations.length} registered (run newest first)`);
  for (const c of state.compensations) {
    lines.push(`  ${c.step}  ${c.status}${c.error ? `: ${c.error.message}` : ''}  ${c.command.type}`);
  }
  lines.push(`timers:      ${state.timers.size} pending`);
  for (const t of state.timers.values()) lines.push(`  ${t.key}  due ${t.dueAt.toISOString()}`);
  if (state.keys.size > 0) lines.push(`keys:        ${[...state.keys].join(', ')}`);
  return lines;
}

function parseStatus(value: string): ListedStatus {
  if (!(LISTED_STATUSES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`Expected one of ${LISTED_STATUSES.join(', ')}.`);
  }
  return value as ListedStatus;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function findLast<X>(items: readonly X[], predicate: (x: X) => boolean): X | undefined {
  for (let i = items.length - 1; i >= 0; i--) if (predicate(items[i] as X)) return items[i];
  return undefined;
}
