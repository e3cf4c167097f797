import { randomUUID } from 'node:crypto';
import { ProcessNotFoundError, WrongExpectedVersionError } from '../errors';
import { ProcessEventTypes as P } from '../process/process-events';
import type { EventStore } from '../store/event-store';
import { type RunState, replayRun, runStream } from './run-state';

/** What releasing (or skipping) a workflow run or saga did. */
export interface RunRelease {
  /** `handled`: the quarantine was lifted; `stale`: the run was not quarantined, nothing was written. */
  readonly outcome: 'handled' | 'stale';
  /** The id the quarantine was recorded under (the run id for a workflow pass). */
  readonly inputId: string | undefined;
  /** A sentence for the operator. */
  readonly detail: string;
  /** The run once the release is recorded. */
  readonly state: RunState;
}

/**
 * Lifts the quarantine of run `<name>-<runId>` by appending `sagastream.ProcessReleased`
 * at the revision it read (re-reading on a conflict). A workflow quarantine is a code
 * problem of the run, not of one input, so `skip` lifts it the same way and is only
 * recorded (`skipped: true`): after a fix, the next pass replays the run under the new code.
 * Running workers see the release in their subscription and drive the run again.
 *
 * @throws ProcessNotFoundError when the run's stream is empty
 */
export async function releaseRun(
  store: EventStore,
  name: string,
  runId: string,
  skip: boolean,
): Promise<RunRelease> {
  const stream = runStream(name, runId);
  for (let attempt = 1; ; attempt++) {
    const records = await store.readStream(stream);
    if (records.length === 0) throw new ProcessNotFoundError(name, runId);
    const state = replayRun(name, runId, records);
    const quarantine = state.quarantine;
    if (!quarantine) {
      return {
        outcome: 'stale',
        inputId: undefined,
        detail: `${stream} is not quarantined; nothing to do.`,
        state,
      };
    }
    const data = { eventId: quarantine.eventId, skipped: skip };
    try {
      const { nextExpectedRevision } = await store.append(
        stream,
        [
          {
            id: randomUUID(),
            type: P.ProcessReleased,
            data,
            metadata: { $correlationId: runId, $causationId: runId },
          },
        ],
        { expectedRevision: state.revision ?? 'no_stream' },
      );
      state.quarantine = undefined;
      state.revision = nextExpectedRevision;
    } catch (error) {
      // A worker appended meanwhile (or released it first): decide again on the new stream.
      if (error instanceof WrongExpectedVersionError && attempt < 5) continue;
      throw error;
    }
    return {
      outcome: 'handled',
      inputId: quarantine.eventId,
      detail: `${stream} released; running workers replay it under the code they run now.`,
      state,
    };
  }
}
