/**
 * Waits until `predicate` holds, polling on the event loop, and fails with `message`
 * after `timeoutMs`. Tests use it instead of sleeping: the wait ends as soon as the
 * condition is observable, and a deadline turns a hang into a clear failure.
 *
 * @param predicate checked immediately, then every `intervalMs`; may be async
 * @param timeoutMs deadline in milliseconds
 * @param message what was awaited, for the failure message
 * @param intervalMs polling interval
 * @returns the first truthy value the predicate returned
 * @example
 * await until(() => received.length === 3, 5000, 'three events delivered');
 */
export async function until<T>(
  predicate: () => T | Promise<T>,
  timeoutMs: number,
  message = 'condition',
  intervalMs = 10,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const suffix = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${message}${suffix}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
