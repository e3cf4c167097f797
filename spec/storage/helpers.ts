import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { LogSubscription, ProposedEvent, ResolvedEvent, SubscriptionMessage } from '../../lib/storage';

/** A JSON event with a fresh id (or the given one). */
export function event(
  type = 'Happened',
  options: { id?: string; data?: unknown; metadata?: unknown } = {},
): ProposedEvent {
  return {
    id: options.id ?? randomUUID(),
    type,
    isJson: true,
    data: Buffer.from(JSON.stringify(options.data ?? {}), 'utf8'),
    metadata: Buffer.from(options.metadata === undefined ? '' : JSON.stringify(options.metadata), 'utf8'),
  };
}

/** `n` events with fresh ids. */
export function events(n: number, type = 'Happened'): ProposedEvent[] {
  return Array.from({ length: n }, (_, i) => event(type, { data: { i } }));
}

/** A fresh temporary directory and a function that removes it. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagastream-storage-'));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Parses a JSON body. */
export function json(bytes: Uint8Array | undefined): any {
  return JSON.parse(Buffer.from(bytes ?? new Uint8Array()).toString('utf8'));
}

/** Text of a body. */
export function text(bytes: Uint8Array | undefined): string {
  return Buffer.from(bytes ?? new Uint8Array()).toString('utf8');
}

/** `stream@revision` of each read result's event, for compact assertions. */
export function ids(results: readonly ResolvedEvent[]): string[] {
  return results.map((r) => `${r.event?.stream}@${r.event?.revision}`);
}

/**
 * Pulls from a subscription until `done(messages)` holds or `timeoutMs` passes, then
 * returns every message pulled. Fails on the deadline instead of hanging.
 */
export async function pull(
  sub: LogSubscription,
  done: (messages: SubscriptionMessage[]) => boolean,
  timeoutMs = 5000,
): Promise<SubscriptionMessage[]> {
  const it = sub[Symbol.asyncIterator]();
  const messages: SubscriptionMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  while (!done(messages)) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new Error(`timed out after ${timeoutMs} ms with ${messages.length} messages`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), remaining);
    });
    const result = await Promise.race([it.next(), timeout]);
    clearTimeout(timer);
    if (result === 'timeout')
      throw new Error(`timed out after ${timeoutMs} ms with ${messages.length} messages`);
    if (result.done) break;
    messages.push(result.value);
  }
  return messages;
}

/** The events of subscription messages as `stream@revision`. */
export function eventIds(messages: readonly SubscriptionMessage[]): string[] {
  return messages.flatMap((m) =>
    m.kind === 'event' ? [`${m.event.event?.stream}@${m.event.event?.revision}`] : [],
  );
}
