/**
 * How long a durable write takes on this machine, next to nothing else: the lower bound
 * of one durable single-event append, to compare with the floor's round trip in
 * `bench:store` (docs/embedded-store.md, "Where single appends stop").
 *
 * Each mode appends `--count` records of `--bytes` to a file of its own in `--dir` and
 * prints the latency distribution in microseconds and the CPU per write (user + system:
 * on a virtual disk the kernel's share of a sync is large). The modes take turns in
 * blocks of `--block` writes, so a disk shared with other work loads them alike:
 * - `write+fdatasync (sync)`: two system calls on the calling thread, growing file;
 * - `O_DSYNC write (sync)`: one system call, the bytes durable on return, growing file;
 * - `O_DSYNC write, ftruncate-sized (sync)`: the same inside a file sized ahead with
 *   ftruncate, as the log's segments are (no new file size to commit per write);
 * - `O_DSYNC write, zero-filled (sync)`: inside a file whose blocks were written with zeros
 *   first (no block allocation either);
 * - `O_DSYNC writev (thread pool)`: what the log does for a group of several appends, so
 *   it includes the hand-off to a pool thread and the wake-up of the event loop;
 * - `write, fdatasync (thread pool)`: the two-request variant the log used before.
 *
 * Usage: node -r ./spec/register.js bench/store/sync-latency.ts [--count 1000] [--bytes 450]
 *        [--block 50] [--dir /tmp]
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(name);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}

function summary(label: string, micros: number[], cpuMicros: number): string {
  const sorted = [...micros].sort((a, b) => a - b);
  const at = (q: number): string => sorted[Math.floor(q * (sorted.length - 1))]!.toFixed(0);
  return (
    `${label.padEnd(40)} p10 ${at(0.1).padStart(6)}  p50 ${at(0.5).padStart(6)}  p90 ${at(0.9).padStart(6)}  p99 ${at(0.99).padStart(6)}` +
    `  min ${at(0).padStart(5)}  cpu/op ${(cpuMicros / micros.length).toFixed(0).padStart(4)} us`
  );
}

type WriteOne = (fd: number, position: number) => void | Promise<void>;

interface Mode {
  readonly label: string;
  readonly fd: number;
  readonly write: WriteOne;
  readonly micros: number[];
  cpuMicros: number;
  position: number;
}

async function main(): Promise<void> {
  const count = Number(option('--count', '1000'));
  const block = Number(option('--block', '50'));
  const record = Buffer.alloc(Number(option('--bytes', '450')), 0x61);
  const dir = fs.mkdtempSync(join(option('--dir', tmpdir()), 'sagastream-sync-latency-'));
  const { O_WRONLY, O_CREAT, O_TRUNC, O_DSYNC } = fs.constants;
  const plain = O_WRONLY | O_CREAT | O_TRUNC;
  const dsync = plain | O_DSYNC;
  const size = count * record.length;
  const modes: Mode[] = [];
  const add = (label: string, flags: number, write: WriteOne, prepare?: (fd: number) => void): void => {
    const fd = fs.openSync(join(dir, String(modes.length)), flags, 0o644);
    prepare?.(fd);
    modes.push({ label, fd, write, micros: [], cpuMicros: 0, position: 0 });
  };
  const writeSync: WriteOne = (fd, at) => {
    fs.writeSync(fd, record, 0, record.length, at);
  };
  try {
    add('write+fdatasync (sync)', plain, (fd, at) => {
      fs.writeSync(fd, record, 0, record.length, at);
      fs.fdatasyncSync(fd);
    });
    add('O_DSYNC write (sync)', dsync, writeSync);
    add('O_DSYNC write, ftruncate-sized (sync)', dsync, writeSync, (fd) => {
      fs.ftruncateSync(fd, size);
      fs.fsyncSync(fd);
    });
    add('O_DSYNC write, zero-filled (sync)', dsync, writeSync, (fd) => {
      const zeros = Buffer.alloc(1024 * 1024);
      for (let at = 0; at < size; at += zeros.length) fs.writeSync(fd, zeros, 0, zeros.length, at);
    });
    add('O_DSYNC writev (thread pool)', dsync, (fd, at) => {
      return new Promise<void>((resolve, reject) =>
        fs.writev(fd, [record], at, (err) => (err ? reject(err) : resolve())),
      );
    });
    add('write, fdatasync (thread pool)', plain, (fd, at) => {
      return new Promise<void>((resolve, reject) =>
        fs.write(fd, record, 0, record.length, at, (err) =>
          err ? reject(err) : fs.fdatasync(fd, (err2) => (err2 ? reject(err2) : resolve())),
        ),
      );
    });
    for (let done = 0; done < count; done += block) {
      for (const mode of modes) {
        const cpu = process.cpuUsage();
        for (let i = done; i < Math.min(count, done + block); i++) {
          const start = process.hrtime.bigint();
          await mode.write(mode.fd, mode.position);
          mode.micros.push(Number(process.hrtime.bigint() - start) / 1000);
          mode.position += record.length;
        }
        const used = process.cpuUsage(cpu);
        mode.cpuMicros += used.user + used.system;
      }
    }
    console.log(
      `durable ${record.length}-byte appends in ${dir}, ${count} each, in turns of ${block}, microseconds:`,
    );
    for (const mode of modes) console.log(summary(mode.label, mode.micros, mode.cpuMicros));
  } finally {
    for (const mode of modes) fs.closeSync(mode.fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
