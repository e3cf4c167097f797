import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventStoreDBClient, jsonEvent, START } from '@eventstore/db-client';
import { expect } from 'chai';
import { StoreUnavailableError } from '../../lib/errors';
import { startEventStore } from '../../lib/server';
import { until } from '../helpers/until';

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe('startEventStore', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sagastream-server-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('when the port is taken by another process', () => {
    it('rejects with StoreUnavailableError naming the port', async () => {
      const blocker: Server = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      const { port } = blocker.address() as { port: number };
      try {
        const error = await failureOf(startEventStore({ port, memory: true }));
        expect(error).to.be.instanceOf(StoreUnavailableError);
        expect((error as Error).message).to.include(`Port ${port}`);
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    });
  });

  describe('when the database directory cannot be created', () => {
    it('rejects with the storage error', async () => {
      const file = join(dir, 'a-file');
      await writeFile(file, 'not a directory');
      const error = await failureOf(startEventStore({ port: 0, dbPath: join(file, 'db') }));
      expect(error).to.be.instanceOf(StoreUnavailableError);
    });
  });

  describe('when closed with clients connected', () => {
    it('ends their subscriptions, frees the port and the directory, and can be called twice', async () => {
      const dbPath = join(dir, 'closing');
      const store = await startEventStore({ port: 0, dbPath });
      const client = EventStoreDBClient.connectionString(store.connectionString);
      await client.appendToStream('closing-1', jsonEvent({ type: 'Before', data: {} }));
      const subscription = client.subscribeToAll({ fromPosition: START });
      let failure: unknown;
      let caughtUp = false;
      subscription.on('error', (error) => (failure = error));
      subscription.on('caughtUp', () => (caughtUp = true));
      subscription.on('data', () => undefined);
      await until(() => caughtUp, 5000, 'the subscription to go live');

      const started = Date.now();
      const closing = store.close();
      expect(store.close()).to.equal(closing);
      await closing;
      expect(Date.now() - started).to.be.below(1500);
      await until(() => failure !== undefined, 5000, 'the subscription to end with an error');
      await client.dispose();

      const again = await startEventStore({ port: store.port, dbPath });
      try {
        expect(again.port).to.equal(store.port);
        const reader = EventStoreDBClient.connectionString(again.connectionString);
        try {
          const events = [];
          for await (const event of reader.readStream('closing-1')) events.push(event);
          expect(events).to.have.length(1);
        } finally {
          await reader.dispose();
        }
      } finally {
        await again.close();
      }
    });
  });
});
