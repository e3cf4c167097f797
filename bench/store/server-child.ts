/**
 * The embedded server in its own process, so its CPU is measured apart from the
 * client's. Protocol (one JSON object per line):
 *   stdout: {"ready": "<connection string>"} once it accepts connections;
 *   stdin "start": begins a phase, answers {"started": true};
 *   stdin "stop":  answers {"usage": PhaseUsage} for the phase;
 *   stdin "exit":  closes the server and exits.
 *
 * Usage: node -r ./spec/register.js bench/store/server-child.ts (--memory | --db <dir> | --thin)
 * (`--thin` starts the floor, bench/store/thin-server.ts, instead of the embedded server.)
 */
import { createInterface } from 'node:readline';
import { startEventStore } from '../../lib/server';
import { ProcessMeter } from './process-meter';
import { startThinServer } from './thin-server';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const dbIndex = args.indexOf('--db');
  const dbPath = dbIndex >= 0 ? args[dbIndex + 1] : undefined;
  const server = args.includes('--thin')
    ? await startThinServer(0)
    : await startEventStore({
        port: 0,
        ...(dbPath === undefined ? { memory: true } : { dbPath }),
        log: (message) => process.stderr.write(`${message}\n`),
      });
  const meter = new ProcessMeter();
  const reply = (value: unknown): void => {
    process.stdout.write(`${JSON.stringify(value)}\n`);
  };
  reply({ ready: server.connectionString });

  for await (const line of createInterface({ input: process.stdin })) {
    const command = line.trim();
    if (command === 'start') {
      meter.start();
      reply({ started: true });
    } else if (command === 'stop') {
      reply({ usage: await meter.stop() });
    } else if (command === 'exit') {
      break;
    }
  }
  meter.dispose();
  await server.close();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `server child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
