/**
 * Handlers for methods the embedded store does not offer. They answer UNIMPLEMENTED
 * with a message naming the method and saying why, instead of grpc-js's generic text.
 */
import { status, type MethodDefinition, type sendUnaryData, type UntypedHandleCall } from '@grpc/grpc-js';
import { rpcError } from './rpc-error';

/**
 * The human name of a method path: `/event_store.client.projections.Projections/Create`
 * becomes `Projections.Create`.
 */
export function methodNameOf(path: string): string {
  const [service = '', method = ''] = path.replace(/^\//, '').split('/');
  return `${service.slice(service.lastIndexOf('.') + 1)}.${method}`;
}

/**
 * A handler of the right shape for `definition` that always answers UNIMPLEMENTED.
 *
 * @param reason appended to "<Service>.<Method> is not available: "
 */
export function unimplemented(
  definition: MethodDefinition<unknown, unknown>,
  reason: string,
): UntypedHandleCall {
  const message = `${methodNameOf(definition.path)} is not available: ${reason}`;
  if (!definition.responseStream) {
    return (_call: unknown, callback: sendUnaryData<unknown>) => {
      callback(rpcError(status.UNIMPLEMENTED, message));
    };
  }
  return (call: { emit(event: 'error', error: unknown): boolean }) => {
    call.emit('error', rpcError(status.UNIMPLEMENTED, message));
  };
}
