import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventStoreDBClient, jsonEvent } from '@eventstore/db-client';
import { expect } from 'chai';
import { connectionStringOf, exitOf, runCli, type CliProcess } from './cli-process';

describe('sagastream eventstore', () => {
  const running: CliProcess[] = [];
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sagastream-cli-'));
  });

  afterEach(() => {
    for (const cli of running.splice(0)) cli.child.kill('SIGKILL');
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function start(args: string[]): CliProcess {
    const cli = runCli(['eventstore', ...args]);
    running.push(cli);
    return cli;
  }

  describe('when started in memory on a free port', () => {
    it('prints only the connection string, serves the real client, and exits 0 on SIGTERM', async () => {
      const cli = start(['--port', '0', '--memory']);
      const connectionString = await connectionStringOf(cli);
      expect(connectionString).to.match(/^esdb:\/\/127\.0\.0\.1:\d+\?tls=false$/);
      expect(cli.stdout()).to.equal(`${connectionString}\n`);

      const client = EventStoreDBClient.connectionString(connectionString);
      try {
        const result = await client.appendToStream('cli-smoke', jsonEvent({ type: 'Started', data: {} }));
        expect(result.nextExpectedRevision).to.equal(0n);
      } finally {
        await client.dispose();
      }

      cli.child.kill('SIGTERM');
      expect(await exitOf(cli)).to.equal(0);
    });
  });

  describe('when a second server opens the same --db directory', () => {
    it('fails with an error naming the pid that holds it, and the directory is free after SIGINT', async () => {
      const db = join(dir, 'shared');
      const first = start(['--port', '0', '--db', db]);
      await connectionStringOf(first);

      const second = start(['--port', '0', '--db', db]);
      expect(await exitOf(second)).to.equal(1);
      expect(second.stderr()).to.include(`pid ${first.child.pid}`);
      expect(second.stdout()).to.equal('');

      first.child.kill('SIGINT');
      expect(await exitOf(first)).to.equal(0);
      const third = start(['--port', '0', '--db', db]);
      await connectionStringOf(third);
      third.child.kill('SIGTERM');
      expect(await exitOf(third)).to.equal(0);
    });
  });

  describe('when the port is already in use', () => {
    it('fails with an error naming the port', async () => {
      const first = start(['--port', '0', '--memory']);
      const port = new URL((await connectionStringOf(first)).replace(/^esdb:/, 'http:')).port;

      const second = start(['--port', port, '--memory']);
      expect(await exitOf(second)).to.equal(1);
      expect(second.stderr()).to.match(new RegExp(`Port ${port} .*already in use`));
    });
  });

  describe('when the port is not a number', () => {
    it('fails without starting a server', async () => {
      const cli = start(['--port', 'eighty', '--memory']);
      expect(await exitOf(cli)).to.not.equal(0);
      expect(cli.stderr()).to.match(/port/i);
      expect(cli.stdout()).to.equal('');
    });
  });
});
