// The decorator records: the only place that touches reflect-metadata.
export { type Class, readClassRecord, updateClassRecord } from './class-record';
export {
  MESSAGE_RECORD_KEY,
  type MessageKind,
  type MessageRecord,
  messageRecordOf,
  defineMessageRecord,
} from './message-record';
export {
  PROCESS_RECORD_KEY,
  type ArrivalPolicy,
  type ProcessManagerOptions,
  type Correlate,
  type ByKey,
  type Correlation,
  type ProcessMemberRecord,
  type ProcessRecord,
  processRecordOf,
  defineProcessOptions,
  addProcessMember,
} from './process-record';
export {
  COMMAND_HANDLER_RECORD_KEY,
  type CommandHandlerMemberRecord,
  type CommandHandlerRecord,
  commandHandlerRecordOf,
  addCommandHandler,
} from './command-handler-record';
