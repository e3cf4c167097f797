// Messages: the type registry, serialisation and correlation metadata.
export {
  MessageRegistry,
  type MessageRegistryOptions,
  type MessageValidator,
  type DecodedEvent,
  type EncodedEvent,
} from './message-registry';
export { type PlainData, toPlain, fromPlain, cloneInstance } from './serialization';
export {
  CORRELATION_ID,
  CAUSATION_ID,
  type Correlation,
  withCorrelation,
  correlationIdOf,
  causationIdOf,
} from './correlation';
