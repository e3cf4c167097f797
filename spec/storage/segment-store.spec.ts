import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StoreLockedError, StoreUnavailableError } from '../../lib/errors';
import { EventLog, type EventLogOptions } from '../../lib/storage';
import {
  encodeLinkRecord,
  FRAME_HEADER_SIZE,
  LINK_RECORD_SIZE,
  SEGMENT_HEADER_SIZE,
} from '../../lib/storage/record-codec';
import { until } from '../helpers/until';
import { events, tempDir } from './helpers';

const REPO = path.resolve(__dirname, '..', '..');

/** Every record of $all as `position stream@revision type`, to compare logs across reopens. */
const snapshot = (log: EventLog): string[] =>
  log.readAll().map((r) => `${r.position} ${r.event!.stream}@${r.event!.revision} ${r.event!.type}`);

/** End of the last record of a segment file: where its zero-filled (preallocated) tail starts. */
const logicalEnd = (file: string): number => {
  const content = fs.readFileSync(file);
  let offset = SEGMENT_HEADER_SIZE;
  while (offset + FRAME_HEADER_SIZE <= content.length && content.readUInt32LE(offset) !== 0)
    offset += FRAME_HEADER_SIZE + content.readUInt32LE(offset);
  return offset;
};

const segmentFiles = (dir: string): string[] =>
  fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort()
    .map((f) => path.join(dir, f));

describe('EventLog (directory mode)', () => {
  let dir: string;
  let cleanup: () => void;
  let log: EventLog | undefined;
  const notices: string[] = [];
  const open = async (options: Partial<EventLogOptions> = {}): Promise<EventLog> => {
    log = await EventLog.open({ dir, log: (m) => notices.push(m), ...options });
    return log;
  };

  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    notices.length = 0;
  });
  afterEach(async () => {
    await log?.close();
    log = undefined;
    cleanup();
  });

  describe('when reopened', () => {
    it('rebuilds identical positions, revisions, metadata, deletes and links', async () => {
      const first = await open();
      await first.append('order-1', 'no_stream', events(3, 'OrderPlaced'));
      await first.append('order-2', 'any', events(2, 'OrderPaid'));
      await first.append('$$order-2', 'any', [
        { ...events(1, '$metadata')[0]!, data: Buffer.from('{"$maxCount":1}') },
      ]);
      await first.deleteStream('order-1', 'any');
      await first.append('order-1', 'any', events(1));
      await first.append('order-3', 'any', events(1));
      await first.tombstoneStream('order-3', 'any');
      const before = snapshot(first);
      const ce = first.readStream('$ce-order', { resolveLinks: true }).map((r) => r.event?.id);
      await first.close();

      const second = await open();
      expect(snapshot(second)).to.deep.equal(before);
      expect(second.readStream('$ce-order', { resolveLinks: true }).map((r) => r.event?.id)).to.deep.equal(
        ce,
      );
      expect(second.readStream('order-1').map((r) => r.event!.revision)).to.deep.equal([3n]);
      expect(second.readStream('order-2').map((r) => r.event!.revision)).to.deep.equal([1n]);
      expect(() => second.readStream('order-3')).to.throw('deleted');
      expect((await second.append('order-1', 3n, events(1))).nextRevision).to.equal(4n);
      expect(notices).to.deep.equal([]);
    });

    it('reads back every link with the same id, data, metadata and creation time', async () => {
      const first = await open();
      await first.append('order-1', 'no_stream', [
        { ...events(1, 'OrderPlaced')[0]!, metadata: Buffer.from('{"$correlationId":"c-1"}') },
      ]);
      await first.append('order-2', 'any', events(2, 'OrderPaid'));
      await first.tombstoneStream('order-1', 'any');
      const links = (log: EventLog): unknown[] =>
        ['$ce-order', '$et-OrderPaid', '$et-$deleted'].flatMap((stream) =>
          log.readStream(stream).map(({ event }) => ({
            id: event!.id,
            stream: event!.stream,
            revision: event!.revision,
            position: event!.position,
            type: event!.type,
            isJson: event!.isJson,
            data: Buffer.from(event!.data).toString('utf8'),
            metadata: Buffer.from(event!.metadata).toString('utf8'),
            created: event!.created,
          })),
        );
      const before = links(first);
      expect(before).to.have.length(7);
      expect(new Set(before.map((l) => (l as { id: string }).id)).size).to.equal(7);
      await first.close();

      const second = await open();
      expect(links(second)).to.deep.equal(before);
    });

    it('rolls segment files at segmentSize and reads them all back', async () => {
      const first = await open({ segmentSize: 4096 });
      for (let i = 0; i < 10; i++) await first.append(`s-${i}`, 'any', events(5));
      const before = snapshot(first);
      await first.close();
      expect(segmentFiles(dir).length).to.be.greaterThan(2);
      const second = await open({ segmentSize: 4096 });
      expect(snapshot(second)).to.deep.equal(before);
    });
  });

  describe('when the last segment ends in its zero-filled tail', () => {
    it('reads every record back without a notice and appends right after the last one', async () => {
      const first = await open();
      await first.append('s', 'no_stream', events(3));
      const before = snapshot(first);
      await first.close();
      const file = segmentFiles(dir).at(-1)!;
      const end = logicalEnd(file);
      const size = fs.statSync(file).size;
      expect(size).to.be.greaterThan(end);
      expect(
        fs
          .readFileSync(file)
          .subarray(end)
          .every((byte) => byte === 0),
      ).to.equal(true);

      const second = await open();
      expect(snapshot(second)).to.deep.equal(before);
      expect(notices).to.deep.equal([]);
      expect(fs.statSync(file).size).to.equal(size);
      const { position } = await second.append('s', 2n, events(1));
      expect(position).to.equal(BigInt(end));
      await second.close();

      const third = await open();
      expect(third.readStream('s')).to.have.length(4);
      expect(notices).to.deep.equal([]);
    });

    it('trims a segment to its last record once the log rolls to the next one', async () => {
      const first = await open({ segmentSize: 4096 });
      for (let i = 0; i < 10; i++) await first.append(`s-${i}`, 'any', events(5));
      const files = segmentFiles(dir);
      expect(files.length).to.be.greaterThan(2);
      for (const file of files.slice(0, -1)) expect(fs.statSync(file).size).to.equal(logicalEnd(file));
    });
  });

  describe('when a crash interrupted the creation of a segment', () => {
    it('removes a last segment file that holds only zeros and appends after the previous one', async () => {
      const first = await open({ segmentSize: 4096 });
      for (let i = 0; i < 4; i++) await first.append(`s-${i}`, 'any', events(5));
      const before = snapshot(first);
      await first.close();
      const files = segmentFiles(dir);
      const next = path.join(dir, `segment-${String(files.length).padStart(12, '0')}.log`);
      fs.writeFileSync(next, Buffer.alloc(64 * 1024));

      const second = await open({ segmentSize: 4096 });
      expect(snapshot(second)).to.deep.equal(before);
      expect(notices).to.have.length(1);
      expect(notices[0]).to.contain(next).and.contain('removed');
      await second.append('s-0', 'any', events(5));
      await second.close();
      notices.length = 0;
      const third = await open({ segmentSize: 4096 });
      expect(third.readStream('s-0')).to.have.length(10);
      expect(notices).to.deep.equal([]);
    });
  });

  describe('when the last segment has a damaged tail', () => {
    let lastPosition: bigint;
    let intactSize: number;
    let file: string;
    beforeEach(async () => {
      const first = await open({ byCategory: false, byEventType: false });
      await first.append('s', 'no_stream', events(3));
      lastPosition = first.lastPosition;
      await first.close();
      file = segmentFiles(dir).at(-1)!;
      intactSize = logicalEnd(file);
    });

    /** Overwrites bytes of the segment in place, keeping its zero-filled tail after them. */
    const overwrite = (offset: number, bytes: Buffer): void => {
      const fd = fs.openSync(file, 'r+');
      try {
        fs.writeSync(fd, bytes, 0, bytes.length, offset);
      } finally {
        fs.closeSync(fd);
      }
    };

    const expectRecovered = async (survivors: number): Promise<void> => {
      const reopened = await open({ byCategory: false, byEventType: false });
      expect(reopened.readStream('s')).to.have.length(survivors);
      expect(notices).to.have.length(1);
      expect(notices[0]).to.contain(file);
      const offset = survivors === 3 ? intactSize : Number(lastPosition);
      expect(notices[0]).to.contain(`offset ${offset}`);
      expect(fs.statSync(file).size).to.equal(offset);
      const result = await reopened.append('s', BigInt(survivors - 1), events(1));
      expect(result.nextRevision).to.equal(BigInt(survivors));
      await reopened.close();
      notices.length = 0;
      const again = await open({ byCategory: false, byEventType: false });
      expect(again.readStream('s')).to.have.length(survivors + 1);
      expect(notices).to.deep.equal([]);
    };

    it('truncates a record cut in the middle, keeps the earlier ones, and appends after them', async () => {
      fs.truncateSync(file, intactSize - 7);
      await expectRecovered(2);
    });

    it('truncates a record torn in the middle and followed by zeros', async () => {
      overwrite(intactSize - 7, Buffer.alloc(7));
      await expectRecovered(2);
    });

    it('truncates garbage written after the last record', async () => {
      overwrite(intactSize, Buffer.alloc(37, 0xab));
      await expectRecovered(3);
    });

    it('truncates stray bytes in the zero-filled tail after a zero record header', async () => {
      overwrite(intactSize + 100, Buffer.alloc(3, 0xab));
      await expectRecovered(3);
    });

    it('truncates a record whose checksum does not match', async () => {
      const at = intactSize - 3;
      overwrite(at, Buffer.from([fs.readFileSync(file)[at]! ^ 0xff]));
      await expectRecovered(2);
    });

    it('truncates an intact link record whose source event is not in the log', async () => {
      const link = Buffer.alloc(LINK_RECORD_SIZE);
      encodeLinkRecord(link, 0, 0, Number(lastPosition) + 1, true, Buffer.alloc(16, 7), 0);
      overwrite(intactSize, link);
      await expectRecovered(3);
    });
  });

  describe('when a crash lost the links written after an event', () => {
    it('writes the missing $ce- and $et- links on open, exactly once', async () => {
      const first = await open();
      await first.append('order-1', 'no_stream', events(1, 'OrderPlaced'));
      const source = first.readStream('order-1')[0]!;
      const firstLink = first.readStream('$ce-order')[0]!;
      await first.close();
      fs.truncateSync(segmentFiles(dir)[0]!, Number(firstLink.position));

      const second = await open();
      const links = second.readStream('$ce-order', { resolveLinks: true });
      expect(links.map((r) => r.event?.id)).to.deep.equal([source.event!.id]);
      expect(links[0]!.position > source.position).to.equal(true);
      expect(
        second.readStream('$et-OrderPlaced', { resolveLinks: true }).map((r) => r.event?.id),
      ).to.deep.equal([source.event!.id]);
      await second.close();

      const third = await open();
      expect(third.readStream('$ce-order')).to.have.length(1);
      expect(third.readStream('$et-OrderPlaced')).to.have.length(1);
    });
  });

  describe('when appends run concurrently', () => {
    it('shares fsyncs between them (group commit) and keeps every acknowledged event', async () => {
      const first = await open();
      await Promise.all(Array.from({ length: 200 }, (_, i) => first.append(`s-${i % 10}`, 'any', events(1))));
      const { fsyncs } = first.stats;
      expect(fsyncs).to.be.greaterThan(0);
      expect(fsyncs).to.be.lessThan(200);
      await first.close();
      const second = await open();
      expect(second.readAll().filter((r) => r.event!.stream.startsWith('s-'))).to.have.length(200);
    });

    it('writes nothing for an append over maxAppendSize', async () => {
      const first = await open({ maxAppendSize: 1000 });
      await first.append('s', 'any', events(1));
      const sizes = segmentFiles(dir).map((f) => fs.statSync(f).size);
      const big = { ...events(1)[0]!, data: Buffer.alloc(2000) };
      const err = await first.append('s', 'any', [big]).catch((e: unknown) => e);
      expect((err as Error).name).to.equal('MaxAppendSizeExceededError');
      expect(segmentFiles(dir).map((f) => fs.statSync(f).size)).to.deep.equal(sizes);
    });
  });

  describe('when the directory is locked', () => {
    it('refuses a second EventLog with StoreLockedError naming the holder pid', async () => {
      await open();
      const err = await EventLog.open({ dir }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(StoreLockedError);
      expect((err as StoreLockedError).holderPid).to.equal(process.pid);
      expect((err as Error).message).to.contain(String(process.pid));
    });

    it('releases the lock on close', async () => {
      const first = await open();
      await first.close();
      expect(fs.existsSync(path.join(dir, 'LOCK'))).to.equal(false);
      await open();
    });

    it('takes over a lock whose holder is dead', async () => {
      const dead = spawnSync(process.execPath, ['-e', '']).pid;
      fs.writeFileSync(path.join(dir, 'LOCK'), String(dead));
      await open();
      expect(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8')).to.equal(String(process.pid));
    });
  });

  describe('when the directory is unusable', () => {
    it('fails with StoreUnavailableError naming the path', async () => {
      const file = path.join(dir, 'not-a-directory');
      fs.writeFileSync(file, '');
      const target = path.join(file, 'db');
      const err = await EventLog.open({ dir: target }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(StoreUnavailableError);
      expect((err as Error).message).to.contain(target);
    });
  });

  describe('when the writing process is killed with SIGKILL', () => {
    for (const writers of [8, 1]) {
      it(`keeps every acknowledged append and links each exactly once (${writers === 1 ? 'one writer' : `${writers} concurrent writers`})`, async function () {
        this.timeout(20_000);
        const fixture = path.join(__dirname, 'fixtures', 'append-until-killed.ts');
        const child = spawn(process.execPath, ['-r', './spec/register.js', fixture, dir, String(writers)], {
          cwd: REPO,
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        const acked: string[] = [];
        let buffered = '';
        child.stdout.on('data', (chunk: Buffer) => {
          buffered += chunk.toString('utf8');
          const lines = buffered.split('\n');
          buffered = lines.pop() ?? '';
          for (const line of lines) if (line.startsWith('acked ')) acked.push(line.slice(6));
        });
        const exited = new Promise((resolve) => child.on('exit', resolve));
        try {
          await until(() => acked.length >= 300, 15_000, '300 acknowledged appends from the child');
        } finally {
          child.kill('SIGKILL');
          await exited;
        }
        const reopened = await open({ segmentSize: 64 * 1024 });
        const stored = new Set(reopened.readAll().map((r) => `${r.event!.stream} ${r.event!.id}`));
        for (const entry of acked) expect(stored.has(entry), entry).to.equal(true);
        const linked = reopened.readStream('$ce-order', { resolveLinks: true }).map((r) => r.event!.id);
        const sources = reopened.readAll().filter((r) => r.event!.stream.startsWith('order-'));
        expect([...linked].sort()).to.deep.equal(sources.map((r) => r.event!.id).sort());
      });
    }
  });
});
