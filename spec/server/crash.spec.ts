import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventStoreDBClient, jsonEvent, type ResolvedEvent } from '@eventstore/db-client';
import { expect } from 'chai';
import { v4 as uuid } from 'uuid';
import { connectionStringOf, exitOf, runCli, type CliProcess } from '../cli/cli-process';

interface Seen {
  readonly id: string;
  readonly stream: string;
  readonly revision: bigint;
  readonly position: bigint;
}

async function readBack(client: EventStoreDBClient, streams: readonly string[]): Promise<Seen[]> {
  const seen: Seen[] = [];
  for (const stream of streams) {
    for await (const resolved of client.readStream(stream) as AsyncIterable<ResolvedEvent>) {
      const event = resolved.event!;
      seen.push({
        id: event.id,
        stream: event.streamId,
        revision: event.revision,
        position: event.position!.commit,
      });
    }
  }
  return seen;
}

describe('Embedded server durability', () => {
  let dir: string;
  const running: CliProcess[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sagastream-crash-'));
  });

  after(async () => {
    for (const cli of running) cli.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  describe('when the server process is killed with SIGKILL after acknowledging appends', () => {
    it('serves every acknowledged event after a restart with identical revisions and positions', async () => {
      const db = join(dir, 'db');
      const first = runCli(['eventstore', '--port', '0', '--db', db]);
      running.push(first);
      const client = EventStoreDBClient.connectionString(await connectionStringOf(first));
      const streams = Array.from({ length: 10 }, () => `crash-${uuid()}`);
      const acknowledged: Array<{ stream: string; revision: bigint; position: bigint }> = [];
      let before: Seen[];
      try {
        // 200 events: 10 streams x 4 appends of 5, concurrently per round so group commit is exercised.
        for (let round = 0; round < 4; round += 1) {
          const results = await Promise.all(
            streams.map((stream) =>
              client.appendToStream(
                stream,
                Array.from({ length: 5 }, (_, i) => jsonEvent({ type: 'Recorded', data: { round, i } })),
              ),
            ),
          );
          results.forEach((result, i) =>
            acknowledged.push({
              stream: streams[i]!,
              revision: result.nextExpectedRevision,
              position: result.position!.commit,
            }),
          );
        }
        before = await readBack(client, streams);
      } finally {
        await client.dispose();
      }
      first.child.kill('SIGKILL');
      expect(await exitOf(first)).to.equal('SIGKILL');
      expect(before).to.have.length(200);

      const second = runCli(['eventstore', '--port', '0', '--db', db]);
      running.push(second);
      const reconnected = EventStoreDBClient.connectionString(await connectionStringOf(second));
      try {
        const after = await readBack(reconnected, streams);
        expect(after).to.deep.equal(before);
        for (const ack of acknowledged) {
          const last = after.filter((e) => e.stream === ack.stream).find((e) => e.revision === ack.revision);
          expect(last?.position, `${ack.stream}@${ack.revision}`).to.equal(ack.position);
        }
      } finally {
        await reconnected.dispose();
      }
      second.child.kill('SIGTERM');
      expect(await exitOf(second)).to.equal(0);
    });
  });
});
