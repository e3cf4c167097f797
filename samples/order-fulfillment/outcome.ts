import type { EventStore, StoredEventRecord } from '../../lib/store/event-store';

/** The four domain streams an order touches, by DESIGN.md's sample contract. */
const streamsOf = (orderId: string) => ({
  order: `order-${orderId}`,
  payment: `payment-${orderId}`,
  inventory: `inventory-${orderId}`,
  shipment: `shipment-${orderId}`,
});

/** What happened to one order, read back from its streams. */
export interface OrderOutcome {
  readonly orderId: string;
  readonly status: 'completed' | 'cancelled' | 'pending';
  /** `OrderCancelled.reason` when cancelled. */
  readonly reason?: string;
  /** Count of each event type across the order's four streams. */
  readonly counts: Readonly<Record<string, number>>;
  /** Broken promises of the sample contract (empty when the order is correct). */
  readonly violations: readonly string[];
}

/** The outcome table the demo prints and the tests check. */
export interface OutcomeSummary {
  readonly orders: number;
  readonly completed: number;
  /** Cancelled orders by `reason`. */
  readonly cancelled: Readonly<Record<string, number>>;
  readonly pending: number;
  readonly refunds: number;
  readonly releases: number;
  /** Events written more often than the contract allows (0 when exactly-once held). */
  readonly duplicates: number;
  /** Every violation, prefixed with its order id. */
  readonly violations: readonly string[];
}

const ONCE = [
  'PaymentCharged',
  'PaymentRefunded',
  'InventoryReserved',
  'InventoryReleased',
  'ShipmentCreated',
];

/**
 * Reads one order's streams and checks the sample contract: exactly one OrderCompleted
 * or OrderCancelled; each of PaymentCharged, PaymentRefunded, InventoryReserved,
 * InventoryReleased at most once; a refund exactly when charged and cancelled; a release
 * exactly when reserved and cancelled, written before the refund; and the failure rules
 * (declined above 10000, `OOS-` skus, country `XX`) decide the outcome.
 *
 * @param final when false, an order without a terminal event is `pending`, not a violation
 */
export async function readOrderOutcome(
  store: EventStore,
  orderId: string,
  final = true,
): Promise<OrderOutcome> {
  const names = streamsOf(orderId);
  const events: StoredEventRecord[] = [];
  for (const stream of Object.values(names)) events.push(...(await store.readStream(stream)));
  const counts: Record<string, number> = {};
  for (const e of events) counts[e.type] = (counts[e.type] ?? 0) + 1;
  const n = (type: string) => counts[type] ?? 0;
  const violations: string[] = [];

  const terminals = n('OrderCompleted') + n('OrderCancelled');
  const cancel = events.find((e) => e.type === 'OrderCancelled');
  const status = n('OrderCompleted') > 0 ? 'completed' : cancel ? 'cancelled' : 'pending';
  if (terminals > 1)
    violations.push(`${terminals} terminal events (OrderCompleted/OrderCancelled), expected 1`);
  if (terminals === 0 && final) violations.push('no OrderCompleted or OrderCancelled');
  if (n('OrderPlaced') !== 1) violations.push(`${n('OrderPlaced')} OrderPlaced events, expected 1`);
  for (const type of ONCE) if (n(type) > 1) violations.push(`${type} written ${n(type)} times`);

  if (status !== 'pending') {
    const cancelled = status === 'cancelled';
    const charged = n('PaymentCharged') > 0;
    const reserved = n('InventoryReserved') > 0;
    if (n('PaymentRefunded') > 0 !== (charged && cancelled))
      violations.push(
        `refund ${n('PaymentRefunded') > 0 ? 'made' : 'missing'} (charged: ${charged}, cancelled: ${cancelled})`,
      );
    if (n('InventoryReleased') > 0 !== (reserved && cancelled))
      violations.push(
        `release ${n('InventoryReleased') > 0 ? 'made' : 'missing'} (reserved: ${reserved}, cancelled: ${cancelled})`,
      );
    const released = events.find((e) => e.type === 'InventoryReleased');
    const refunded = events.find((e) => e.type === 'PaymentRefunded');
    if (released && refunded && released.position > refunded.position)
      violations.push(
        'inventory released after the payment was refunded (compensations must run in reverse order)',
      );

    const placed = events.find((e) => e.type === 'OrderPlaced');
    const expected = placed ? expectedOutcome(placed.data as PlacedOrder) : undefined;
    const actual = cancelled
      ? ((cancel?.data as { reason?: string } | undefined)?.reason ?? '?')
      : 'completed';
    if (expected && expected !== actual)
      violations.push(`outcome '${actual}', the failure rules give '${expected}'`);
  }
  const reason = (cancel?.data as { reason?: string } | undefined)?.reason;
  return { orderId, status, ...(reason === undefined ? {} : { reason }), counts, violations };
}

interface PlacedOrder {
  readonly total: number;
  readonly items: readonly { readonly sku: string }[];
  readonly shippingAddress: { readonly country: string };
}

/** The cancellation reasons the sample writes in `OrderCancelled.reason`. */
export const CancellationReasons = {
  paymentDeclined: 'payment-declined',
  outOfStock: 'out-of-stock',
  shipmentFailed: 'shipment-failed',
} as const;

/** What the failure rules say must happen to an order: `completed` or a cancellation reason. */
export function expectedOutcome(order: PlacedOrder): string {
  if (order.total > 10000) return CancellationReasons.paymentDeclined;
  if (order.items.some((i) => i.sku.startsWith('OOS-'))) return CancellationReasons.outOfStock;
  if (order.shippingAddress.country === 'XX') return CancellationReasons.shipmentFailed;
  return 'completed';
}

/** Reads every order's outcome (a few at a time) and builds the summary table. */
export async function readOutcomes(
  store: EventStore,
  orderIds: readonly string[],
  final = true,
): Promise<{ outcomes: OrderOutcome[]; summary: OutcomeSummary }> {
  const outcomes: OrderOutcome[] = new Array<OrderOutcome>(orderIds.length);
  let next = 0;
  const reader = async () => {
    for (let i = next++; i < orderIds.length; i = next++) {
      outcomes[i] = await readOrderOutcome(store, orderIds[i] as string, final);
    }
  };
  await Promise.all(Array.from({ length: 16 }, reader));
  return { outcomes, summary: summarize(outcomes) };
}

/** Adds up outcomes into the table the demo prints. */
export function summarize(outcomes: readonly OrderOutcome[]): OutcomeSummary {
  const cancelled: Record<string, number> = {};
  let completed = 0;
  let pending = 0;
  let refunds = 0;
  let releases = 0;
  let duplicates = 0;
  const violations: string[] = [];
  for (const o of outcomes) {
    if (o.status === 'completed') completed++;
    else if (o.status === 'pending') pending++;
    else cancelled[o.reason ?? '?'] = (cancelled[o.reason ?? '?'] ?? 0) + 1;
    refunds += Math.min(1, o.counts.PaymentRefunded ?? 0);
    releases += Math.min(1, o.counts.InventoryReleased ?? 0);
    for (const type of [...ONCE, 'OrderPlaced']) duplicates += Math.max(0, (o.counts[type] ?? 0) - 1);
    duplicates += Math.max(0, (o.counts.OrderCompleted ?? 0) + (o.counts.OrderCancelled ?? 0) - 1);
    for (const v of o.violations) violations.push(`order ${o.orderId}: ${v}`);
  }
  return {
    orders: outcomes.length,
    completed,
    cancelled,
    pending,
    refunds,
    releases,
    duplicates,
    violations,
  };
}

/** Renders the summary as the demo's plain-text table. */
export function formatOutcomeTable(summary: OutcomeSummary): string {
  const rows: [string, string | number][] = [
    ['orders', summary.orders],
    ['completed', summary.completed],
    ...Object.entries(summary.cancelled)
      .sort()
      .map(([reason, count]): [string, number] => [`cancelled: ${reason}`, count]),
    ['compensations: payments refunded', summary.refunds],
    ['compensations: inventory released', summary.releases],
    ['pending', summary.pending],
    ['duplicates found', summary.duplicates],
    ['contract violations', summary.violations.length],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `  ${label.padEnd(width)}  ${String(value).padStart(6)}`).join('\n');
}

const PROCESS_TERMINALS = new Set([
  'sagastream.ProcessCompleted',
  'sagastream.ProcessCompensated',
  'sagastream.ProcessCompensationFailed',
]);

/**
 * Resolves once every order in `orderIds` has settled: its `OrderCompleted` or
 * `OrderCancelled` is written and its process instance has finished (compensations
 * included). Follows `$ce-order` and `$ce-orderFulfillment` instead of polling streams.
 *
 * @param onProgress called with the number of settled orders whenever it grows
 */
export function waitUntilSettled(
  store: EventStore,
  orderIds: readonly string[],
  options: { readonly timeoutMs?: number; readonly onProgress?: (settled: number) => void } = {},
): Promise<void> {
  const wanted = new Set(orderIds);
  const closed = new Set<string>();
  const finished = new Set<string>();
  let settled = 0;
  return new Promise<void>((resolve, reject) => {
    const subscriptions: { unsubscribe(): void }[] = [];
    let done = false;
    const timer = setTimeout(
      () =>
        fail(
          new Error(
            `${orderIds.length - settled} of ${orderIds.length} orders not settled after ${options.timeoutMs} ms`,
          ),
        ),
      options.timeoutMs ?? 120_000,
    );
    subscriptions.push(
      store.subscribe({ category: 'order' }).subscribe({
        next: (batch) => {
          for (const item of batch.items) {
            if (item.kind !== 'event') continue;
            const { type, stream } = item.event;
            if (type === 'OrderCompleted' || type === 'OrderCancelled')
              mark(closed, finished, stream.slice('order-'.length));
          }
          batch.ack();
        },
        error: fail,
      }),
      store.subscribe({ category: 'orderFulfillment' }).subscribe({
        next: (batch) => {
          for (const item of batch.items) {
            if (item.kind !== 'event' || !PROCESS_TERMINALS.has(item.event.type)) continue;
            mark(finished, closed, item.event.stream.slice('orderFulfillment-'.length));
          }
          batch.ack();
        },
        error: fail,
      }),
    );
    function mark(into: Set<string>, other: Set<string>, orderId: string): void {
      if (!wanted.has(orderId) || into.has(orderId)) return;
      into.add(orderId);
      if (!other.has(orderId)) return;
      settled++;
      options.onProgress?.(settled);
      if (settled === wanted.size) finish();
    }
    function finish(): void {
      done = true;
      clearTimeout(timer);
      for (const s of subscriptions) s.unsubscribe();
      resolve();
    }
    function fail(error: unknown): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const s of subscriptions) s.unsubscribe();
      reject(error instanceof Error ? error : new Error(String(error)));
    }
    if (wanted.size === 0) finish();
    // A subscription that delivered everything synchronously finished before it was stored.
    if (done) for (const s of subscriptions) s.unsubscribe();
  });
}
