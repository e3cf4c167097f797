// The runtime: subscriptions, per-instance queues, outbox relay, timers, quarantine.
export {
  ProcessRuntime,
  type ProcessRuntimeOptions,
  type RegisterProcessOptions,
  type ProcessStats,
  type SagaDependencies,
  type ReleaseResult,
} from './process-runtime';
export { CommandBus, type CommandHandlerFn, type CommandEnvelope } from './command-bus';
export { stopOnSignals, type Stoppable, type StopOnSignalsOptions } from './graceful-shutdown';
export { ManualClock, systemClock, type Clock } from './clock';
export { consoleLogger, verboseLogger, silentLogger, type Logger } from './logger';
export { RuntimeEventTypes, rejectedStreamOf, type RuntimeReport, type ReportOwner } from './runtime-events';
export { type BackoffOptions } from './backoff';
export { keyStreamOf, CorrelationKeyEventTypes, type KeyClaimedData } from './correlation-index';
