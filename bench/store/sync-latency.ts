/**
 * How long a durable write takes on this machine, next to nothing else: the lower bound
 * of one durable single-event append, to compare with the floor's round trip in
 * `bench:store` (docs/embedded-store.md, "Where single appends stop").
 *
 * Each mode appends `--count` records of `--bytes` to a fresh file in `--dir` and prints
 * the latency distribution in microseconds:
 * - `write+fdatasync (sync)`: two system calls on the calling thread;
 * - `O_DSYNC write (sync)`: one system call, the bytes durable on return;
 * - `O_DSYNC writev (thread pool)`: what the log does, one thread-pool request per flush,
 *   so it includes the hand-off to a pool thread and the wake-up of the event loop;
 * - `write, fdatasync (thread pool)`: the two-request variant the log used before.
 *
 * Usage: node -r ./spec/register.js bench/store/sync-latency.ts [--count 1000] [--bytes 450] [--dir /tmp]
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
    `${label.padEnd(32)} p50 ${at(0.5).padStart(6)}  p90 ${at(0.9).padStart(6)}  p99 ${at(0.99).padStart(6)}` +
    `  min ${at(0).padStart(5)}  cpu/op ${(cpuMicros / micros.length).toFixed(0).padStart(4)} us`
  );
}

async function measure(
  label: string,
  file: string,
  flags: number,
  count: number,
  record: Buffer,
  writeOne: (fd: number, position: number) => void | Promise<void>,
): Promise<string> {
  const fd = fs.openSync(file, flags, 0o644);
  try {
    const micros: number[] = [];
    let position = 0;
    const cpu = process.cpuUsage();
    for (let i = 0; i < count; i++) {
      const start = process.hrtime.bigint();
      await writeOne(fd, position);
      micros.push(Number(process.hrtime.bigint() - start) / 1000);
      position += record.length;
    }
    const used = process.cpuUsage(cpu);
    return summary(label, micros, used.user + used.system);
  } finally {
    fs.closeSync(fd);
  }
}

async function main(): Promise<void> {
  const count = Number(option('--count', '1000'));
  const record = Buffer.alloc(Number(option('--bytes', '450')), 0x61);
  const dir = fs.mkdtempSync(join(option('--dir', tmpdir()), 'sagastream-sync-latency-'));
  const { O_WRONLY, O_CREAT, O_TRUNC, O_DSYNC } = fs.constants;
  const plain = O_WRONLY | O_CREAT | O_TRUNC;
  const dsync = plain | O_DSYNC;
  try {
    const lines = [
      await measure('write+fdatasync (sync)', join(dir, 'a'), plain, count, record, (fd, at) => {
        fs.writeSync(fd, record, 0, record.length, at);
        fs.fdatasyncSync(fd);
      }),
      await measure('O_DSYNC write (sync)', join(dir, 'b'), dsync, count, record, (fd, at) => {
        fs.writeSync(fd, record, 0, record.length, at);
      }),
      await measure('O_DSYNC writev (thread pool)', join(dir, 'c'), dsync, count, record, (fd, at) => {
        return new Promise<void>((resolve, reject) =>
          fs.writev(fd, [record], at, (err) => (err ? reject(err) : resolve())),
        );
      }),
      await measure('write, fdatasync (thread pool)', join(dir, 'd'), plain, count, record, (fd, at) => {
        return new Promise<void>((resolve, reject) =>
          fs.write(fd, record, 0, record.length, at, (err) =>
            err ? reject(err) : fs.fdatasync(fd, (err2) => (err2 ? reject(err2) : resolve())),
          ),
        );
      }),
    ];
    console.log(
      `durable ${record.length}-byte appends to a growing file in ${dir}, ${count} each, microseconds:`,
    );
    for (const line of lines) console.log(line);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
