import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

/** A CPU profile being recorded in this process (see {@link startCpuProfile}). */
export interface CpuProfileRecording {
  /** Stops recording and writes `<dir>/<name>.cpuprofile`; resolves with the path. */
  stop(): Promise<string>;
}

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) =>
    session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result as T))),
  );
}

/**
 * Profiles only a measured window (unlike `node --cpu-prof`, which also records start-up,
 * compilation and warm-up). Open the file in Chrome DevTools or summarise it with
 * `node -r ./spec/register.js bench/harness/profile-summary.ts <file>`.
 *
 * @param intervalUs sampling interval. @default 200
 */
export async function startCpuProfile(
  dir: string,
  name: string,
  intervalUs = 200,
): Promise<CpuProfileRecording> {
  const session = new Session();
  session.connect();
  await post(session, 'Profiler.enable');
  await post(session, 'Profiler.setSamplingInterval', { interval: intervalUs });
  await post(session, 'Profiler.start');
  return {
    stop: async () => {
      const { profile } = await post<{ profile: unknown }>(session, 'Profiler.stop');
      session.disconnect();
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${name}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      return file;
    },
  };
}
