/** How the saga benchmark names the streams it counts operations on. */

/** The process manager's stream prefix (`orderFulfillment-<orderId>`). */
export const PROCESS_PREFIX = 'orderFulfillment-';

/**
 * The kind of a stream for the operation counters: `process` (the process stream),
 * `domain` (the shop's and services' streams), `category` (`$ce-` reads: idle probes,
 * not per-saga work), `checkpoint`, or `other`.
 */
export function classifyStream(stream: string): string {
  if (stream.startsWith(PROCESS_PREFIX)) return 'process';
  if (
    stream.startsWith('order-') ||
    stream.startsWith('payment-') ||
    stream.startsWith('inventory-') ||
    stream.startsWith('shipment-')
  )
    return 'domain';
  if (stream.startsWith('$ce-')) return 'category';
  if (/^[a-z]+Checkpoint-/i.test(stream)) return 'checkpoint';
  return 'other';
}

/** The order id of `order-<id>`, or undefined for another stream. */
export function orderIdOfOrderStream(stream: string): string | undefined {
  return stream.startsWith('order-') ? stream.slice('order-'.length) : undefined;
}

/** The order id of `orderFulfillment-<id>`, or undefined for another stream. */
export function orderIdOfProcessStream(stream: string): string | undefined {
  return stream.startsWith(PROCESS_PREFIX) ? stream.slice(PROCESS_PREFIX.length) : undefined;
}
