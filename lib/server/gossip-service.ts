/**
 * The `event_store.client.gossip.Gossip` service: a single alive Leader, this server,
 * so multi-host and `esdb+discover://` connection strings resolve to it.
 */
import type { sendUnaryData, UntypedServiceImplementation } from '@grpc/grpc-js';
import { ClusterInfo, EndPoint, MemberInfo } from '@eventstore/db-client/generated/gossip_pb';
import { v4 as uuidv4 } from 'uuid';
import type { ServerContext } from './server-context';
import { dialableHost, toWireUuid } from './wire';

const TICKS_PER_MILLISECOND = 10_000n;

/**
 * The Gossip service implementation.
 *
 * @param context shared server state (the endpoint is read at call time: the port is known after binding)
 */
export function createGossipService(context: ServerContext): UntypedServiceImplementation {
  const instanceId = uuidv4();
  return {
    read: (_call: unknown, callback: sendUnaryData<ClusterInfo>) => {
      const member = new MemberInfo()
        .setInstanceId(toWireUuid(instanceId, false))
        .setTimeStamp((BigInt(Date.now()) * TICKS_PER_MILLISECOND).toString())
        .setState(MemberInfo.VNodeState.LEADER)
        .setIsAlive(true)
        .setHttpEndPoint(
          new EndPoint().setAddress(dialableHost(context.endpoint.host)).setPort(context.endpoint.port),
        );
      callback(null, new ClusterInfo().setMembersList([member]));
    },
  };
}
