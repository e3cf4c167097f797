/**
 * The `event_store.client.server_features.ServerFeatures` service. The client asks it
 * which methods exist before choosing e.g. BatchAppend over Append, or gRPC over its
 * HTTP fallbacks, so it lists exactly the methods this server implements.
 */
import type { MethodDefinition, sendUnaryData, UntypedServiceImplementation } from '@grpc/grpc-js';
import { GossipService } from '@eventstore/db-client/generated/gossip_grpc_pb';
import { ProjectionsService } from '@eventstore/db-client/generated/projections_grpc_pb';
import { ServerFeaturesService } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import { SupportedMethod, SupportedMethods } from '@eventstore/db-client/generated/serverfeatures_pb';
import { StreamsService } from '@eventstore/db-client/generated/streams_grpc_pb';

/** The EventStoreDB version whose behaviour this server reproduces. */
export const SERVER_VERSION = '24.10.0';

/** Implemented methods with the features EventStoreDB 24.10 advertises for them. */
const ADVERTISED: ReadonlyArray<readonly [MethodDefinition<any, any>, readonly string[]]> = [
  [StreamsService.read, ['position', 'events']],
  [StreamsService.append, []],
  [StreamsService.batchAppend, ['deadline_duration']],
  [StreamsService.delete, []],
  [StreamsService.tombstone, []],
  [ProjectionsService.statistics, []],
  [ProjectionsService.enable, []],
  [ProjectionsService.disable, []],
  [GossipService.read, []],
  [ServerFeaturesService.getSupportedMethods, []],
];

/** The advertised methods as `{ service, method, features }`, lower-cased like the real server. */
export function advertisedMethods(): Array<{ service: string; method: string; features: readonly string[] }> {
  return ADVERTISED.map(([definition, features]) => {
    const [service = '', method = ''] = definition.path.replace(/^\//, '').split('/');
    return { service: service.toLowerCase(), method: method.toLowerCase(), features };
  });
}

/** The ServerFeatures service implementation. */
export function createServerFeaturesService(): UntypedServiceImplementation {
  return {
    getSupportedMethods: (_call: unknown, callback: sendUnaryData<SupportedMethods>) => {
      const methods = advertisedMethods().map(({ service, method, features }) =>
        new SupportedMethod()
          .setServiceName(service)
          .setMethodName(method)
          .setFeaturesList([...features]),
      );
      callback(
        null,
        new SupportedMethods().setMethodsList(methods).setEventStoreServerVersion(SERVER_VERSION),
      );
    },
  };
}
