import {
  EventStoreDBClient,
  jsonEvent,
  NotFoundError,
  persistentSubscriptionToAllSettingsFromDefaults,
  persistentSubscriptionToStreamSettingsFromDefaults,
  UnsupportedError,
} from '@eventstore/db-client';
import { Empty } from '@eventstore/db-client/generated/shared_pb';
import { ServerFeaturesClient } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import type { SupportedMethods } from '@eventstore/db-client/generated/serverfeatures_pb';
import { Client, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import { v4 as uuid } from 'uuid';
import { startEmbedded, type Embedded } from '../helpers/embedded';

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

function addressOf(connectionString: string): string {
  return new URL(connectionString.replace(/^esdb:/, 'http:')).host;
}

describe('Server services', () => {
  let server: Embedded;
  let client: EventStoreDBClient;

  before(async () => {
    server = await startEmbedded();
    client = EventStoreDBClient.connectionString(server.connectionString);
  });

  after(async () => {
    await client?.dispose();
    await server?.close();
  });

  describe('ServerFeatures', () => {
    describe('when asked for the supported methods', () => {
      it('advertises the implemented methods with their features, version 24.10 and no persistent subscriptions', async () => {
        const raw = new ServerFeaturesClient(
          addressOf(server.connectionString),
          credentials.createInsecure(),
        );
        try {
          const reply = await new Promise<SupportedMethods>((resolve, reject) =>
            raw.getSupportedMethods(new Empty(), (error, value) => (error ? reject(error) : resolve(value))),
          );
          const methods = new Map(
            reply
              .getMethodsList()
              .map((m) => [`${m.getServiceName()}/${m.getMethodName()}`, m.getFeaturesList()] as const),
          );
          expect(reply.getEventStoreServerVersion()).to.equal('24.10.0');
          expect(methods.get('event_store.client.streams.streams/read')).to.deep.equal([
            'position',
            'events',
          ]);
          expect(methods.get('event_store.client.streams.streams/batchappend')).to.deep.equal([
            'deadline_duration',
          ]);
          for (const method of ['append', 'delete', 'tombstone']) {
            expect(methods.has(`event_store.client.streams.streams/${method}`), method).to.equal(true);
          }
          expect(methods.has('event_store.client.gossip.gossip/read')).to.equal(true);
          expect(methods.has('event_store.client.projections.projections/statistics')).to.equal(true);
          expect([...methods.keys()].filter((key) => key.includes('persistent'))).to.deep.equal([]);
        } finally {
          raw.close();
        }
      });
    });
  });

  describe('Gossip', () => {
    describe('when the client connects with a multi-host connection string', () => {
      it('discovers this server as the leader and works through it', async () => {
        const port = new URL(server.connectionString.replace(/^esdb:/, 'http:')).port;
        const discovering = EventStoreDBClient.connectionString(
          `esdb://127.0.0.1:${port},localhost:${port}?tls=false`,
        );
        try {
          const stream = `gossip-${uuid()}`;
          const result = await discovering.appendToStream(stream, jsonEvent({ type: 'Found', data: {} }));
          expect(result.nextExpectedRevision).to.equal(0n);
        } finally {
          await discovering.dispose();
        }
      });
    });
  });

  describe('Projections', () => {
    describe('when listing projections', () => {
      it('lists the system projections with $by_category and $by_event_type running', async () => {
        const projections = await client.listProjections();
        const byName = new Map(projections.map((p) => [p.name, p.projectionStatus]));
        expect([...byName.keys()].sort()).to.deep.equal([
          '$by_category',
          '$by_correlation_id',
          '$by_event_type',
          '$stream_by_category',
          '$streams',
        ]);
        expect(byName.get('$by_category')).to.equal('Running');
        expect(byName.get('$by_event_type')).to.equal('Running');
        expect(byName.get('$streams')).to.equal('Stopped');
      });
    });

    describe('when a projection is disabled and enabled again', () => {
      it('reports the status it was toggled to', async () => {
        await client.disableProjection('$by_correlation_id');
        expect((await client.getProjectionStatus('$by_correlation_id')).projectionStatus).to.equal('Stopped');
        await client.enableProjection('$by_correlation_id');
        const details = await client.getProjectionStatus('$by_correlation_id');
        expect(details).to.include({ name: '$by_correlation_id', projectionStatus: 'Running' });
      });
    });

    describe('when the projection does not exist', () => {
      it('raises NotFoundError naming it', async () => {
        const error = await failureOf(client.getProjectionStatus('nope'));
        expect(error).to.be.instanceOf(NotFoundError);
        expect((error as Error).message).to.include("Projection 'nope' not found");
        expect(await failureOf(client.enableProjection('nope'))).to.be.instanceOf(NotFoundError);
      });
    });

    describe('when a user projection is created', () => {
      it('fails with a message saying user projections are not implemented', async () => {
        const error = await failureOf(client.createProjection('mine', 'fromAll().when({})'));
        expect((error as Error).message).to.match(
          /Projections\.Create is not available: user projections are not implemented in the embedded store/,
        );
      });
    });
  });

  describe('PersistentSubscriptions', () => {
    describe('when a group on a stream is created', () => {
      it('fails with a message saying persistent subscriptions are not implemented', async () => {
        const error = await failureOf(
          client.createPersistentSubscriptionToStream(
            'orders',
            'workers',
            persistentSubscriptionToStreamSettingsFromDefaults(),
          ),
        );
        expect((error as Error).message).to.match(
          /PersistentSubscriptions\.Create is not available: persistent subscriptions are not implemented in the embedded store/,
        );
      });
    });

    describe('when subscribing to a group on a stream', () => {
      it('ends the subscription with an error naming PersistentSubscriptions.Read', async () => {
        const subscription = client.subscribeToPersistentSubscriptionToStream('orders', 'workers');
        const error = await new Promise<Error>((resolve) => {
          subscription.on('error', resolve);
          subscription.on('data', () => undefined);
        });
        expect(error.message).to.match(
          /PersistentSubscriptions\.Read is not available: persistent subscriptions/,
        );
      });
    });

    describe('when a group on $all is created', () => {
      it('is refused by the client because the server does not advertise it', async () => {
        const error = await failureOf(
          client.createPersistentSubscriptionToAll(
            'workers',
            persistentSubscriptionToAllSettingsFromDefaults(),
          ),
        );
        expect(error).to.be.instanceOf(UnsupportedError);
      });
    });
  });

  describe('when an unknown method is called', () => {
    it('answers UNIMPLEMENTED naming the method', async () => {
      const raw = new Client(addressOf(server.connectionString), credentials.createInsecure());
      try {
        const error = await new Promise<ServiceError>((resolve) =>
          raw.makeUnaryRequest(
            '/event_store.client.users.Users/Create',
            (value: Buffer) => value,
            (value: Buffer) => value,
            Buffer.alloc(0),
            (err) => resolve(err!),
          ),
        );
        expect(error.code).to.equal(status.UNIMPLEMENTED);
        expect(error.details).to.include('/event_store.client.users.Users/Create');
      } finally {
        raw.close();
      }
    });
  });
});
