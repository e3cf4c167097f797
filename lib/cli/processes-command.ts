/**
 * `sagastream processes`: operator commands on process-manager instances, reading and
 * writing the store like a worker does. `list` and `show` summarise instances from their
 * streams; `release` and `skip` lift a quarantine by appending the `sagastream.ProcessReleased`
 * the engine builds, which running workers pick up from `$ce-<process>`.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { ProcessNotFoundError, WrongExpectedVersionError } from '../errors';
import { ProcessEngine } from '../process/process-engine';
import { ProcessEventTypes } from '../process/process-events';
import type { ProcessState } from '../process/process-state';
import type { EventStore, StoredEventRecord } from '../store/event-store';
import { EventStoreDbEventStore } from '../store/eventstoredb/eventstoredb-event-store';
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

/** What `processes list` shows of an instance. */
export interface InstanceSummary {
  readonly processId: string;
  readonly status: ListedStatus;
  /** `Type stream@revision` of the last input recorded (handled or ignored). */
  readonly lastInput: string;
  /** The quarantine error, the failed compensation's error, or the failure reason. */
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
    .description('Inspect process-manager instances; release or skip quarantined ones.');

  processes
    .command('list')
    .description('List the instances of a process (reads $ce-<processName>).')
    .argument('<processName>', 'the process name (stream category), e.g. orderFulfillment')
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
          ['PROCESS ID', 'STATUS', 'LAST INPUT', 'ERROR'],
          rows.map((r) => [r.processId, r.status, r.lastInput, r.error]),
        ))
          io.out(line);
      });
    });

  processes
    .command('show')
    .description("Summarise one instance's stream: status, commands, compensations, timers, quarantine.")
    .argument('<processName>', 'the process name')
    .argument('<processId>', 'the instance id')
    .option('--connection <connection>', connectionHelp)
    .action(async (processName: string, processId: string, opts: { connection?: string }) => {
      await withStore(opts.connection, async (store) => {
        const { state, events } = await loadInstance(store, processName, processId);
        for (const line of describeInstance(state, events)) io.out(line);
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
      .argument('<processName>', 'the process name')
      .argument('<processId>', 'the instance id')
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
  return [...byInstance].map(([processId, events]) => summarise(engine.replay(processId, events), events));
}

/** Appends the release (or skip) of a quarantined instance; returns what was done, for the operator. */
export async function releaseInstance(
  store: EventStore,
  processName: string,
  processId: string,
  skip: boolean,
): Promise<string> {
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
  const events = await store.readStream(engine.streamFor(processId));
  if (events.length === 0) throw new ProcessNotFoundError(processName, processId);
  return { engine, state: engine.replay(processId, events), events };
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
    status: state.quarantine ? 'quarantined' : state.status,
    lastInput,
    error,
  };
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
