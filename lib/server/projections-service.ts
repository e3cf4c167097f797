/**
 * The `event_store.client.projections.Projections` service, limited to the system
 * projections: Statistics (one by name, or the list), Enable and Disable. User-defined
 * projections (Create, Update, Delete, State, Result, Reset, RestartSubsystem) answer
 * UNIMPLEMENTED.
 */
import {
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { ProjectionsService } from '@eventstore/db-client/generated/projections_grpc_pb';
import {
  type DisableReq,
  DisableResp,
  type EnableReq,
  EnableResp,
  StatisticsReq,
  StatisticsResp,
} from '@eventstore/db-client/generated/projections_pb';
import { rpcError } from './rpc-error';
import type { ServerContext } from './server-context';
import { unimplemented } from './unimplemented';

/** The system projections EventStoreDB creates, in its listing order. */
export const SYSTEM_PROJECTIONS = [
  '$by_category',
  '$by_correlation_id',
  '$by_event_type',
  '$stream_by_category',
  '$streams',
] as const;

const USER_PROJECTIONS_REASON =
  'user projections are not implemented in the embedded store; only the system projections can be listed, enabled and disabled.';

/**
 * The reported state of the system projections. Only `$by_category` and
 * `$by_event_type` are written by the log, so only they start Running; enabling or
 * disabling changes what is reported, not what the log writes.
 */
export class SystemProjections {
  private readonly running: Map<string, boolean>;

  constructor(written: { readonly byCategory: boolean; readonly byEventType: boolean }) {
    this.running = new Map(SYSTEM_PROJECTIONS.map((name) => [name, false]));
    this.running.set('$by_category', written.byCategory);
    this.running.set('$by_event_type', written.byEventType);
  }

  /** Whether `name` is a known projection. */
  has(name: string): boolean {
    return this.running.has(name);
  }

  /** Sets the reported state; false when the projection is unknown. */
  setRunning(name: string, running: boolean): boolean {
    if (!this.running.has(name)) return false;
    this.running.set(name, running);
    return true;
  }

  /** Statistics for one projection, shaped like EventStoreDB's. */
  details(name: string): StatisticsResp.Details {
    const running = this.running.get(name) ?? false;
    return new StatisticsResp.Details()
      .setName(name)
      .setEffectivename(name)
      .setMode('Continuous')
      .setStatus(running ? 'Running' : 'Stopped')
      .setStatereason('')
      .setCoreprocessingtime('0')
      .setVersion('1')
      .setEpoch('-1')
      .setPosition('')
      .setProgress(running ? 100 : 0)
      .setLastcheckpoint('')
      .setEventsprocessedafterrestart('0')
      .setCheckpointstatus('')
      .setBufferedevents('0');
  }

  /** Every system projection's name. */
  names(): string[] {
    return [...this.running.keys()];
  }
}

function notFound(name: string): Error {
  return rpcError(status.NOT_FOUND, `Projection '${name}' not found`);
}

/**
 * The Projections service implementation.
 *
 * @param context shared server state
 */
export function createProjectionsService(context: ServerContext): UntypedServiceImplementation {
  const projections = new SystemProjections(context.projectionsWritten);
  const implementation: UntypedServiceImplementation = {};
  for (const [name, definition] of Object.entries(ProjectionsService)) {
    implementation[name] = unimplemented(definition, USER_PROJECTIONS_REASON);
  }

  implementation.statistics = (call: ServerWritableStream<StatisticsReq, StatisticsResp>) => {
    const options = call.request.getOptions();
    let names: string[];
    if (options === undefined) names = projections.names();
    else if (options.getModeCase() === StatisticsReq.Options.ModeCase.NAME) {
      const name = options.getName();
      if (!projections.has(name)) {
        call.emit('error', notFound(name));
        return;
      }
      names = [name];
    } else if (options.hasAll() || options.hasContinuous()) names = projections.names();
    else names = [];
    for (const name of names) call.write(new StatisticsResp().setDetails(projections.details(name)));
    call.end();
  };

  implementation.enable = (
    call: ServerUnaryCall<EnableReq, EnableResp>,
    callback: sendUnaryData<EnableResp>,
  ) => {
    const name = call.request.getOptions()?.getName() ?? '';
    if (!projections.setRunning(name, true)) callback(notFound(name));
    else callback(null, new EnableResp());
  };

  implementation.disable = (
    call: ServerUnaryCall<DisableReq, DisableResp>,
    callback: sendUnaryData<DisableResp>,
  ) => {
    const name = call.request.getOptions()?.getName() ?? '';
    if (!projections.setRunning(name, false)) callback(notFound(name));
    else callback(null, new DisableResp());
  };

  return implementation;
}
