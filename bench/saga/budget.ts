/**
 * The store operations one order-fulfillment saga may cost, declared once. The benchmark
 * counts what the framework actually does (bench/saga/counting-event-store.ts) and fails
 * when it does more. Derived from the process stream vocabulary (lib/process/process-events.ts)
 * and the sample (samples/order-fulfillment/order-fulfillment.ts): one process append per
 * input handled, carrying the InputRecorded dedupe record with the decision.
 */

/** The four ways an order can go, named as `expectedOutcome()` names them. */
export type SagaPath = 'completed' | 'payment-declined' | 'out-of-stock' | 'shipment-failed';

/** Store work of one saga on one path. */
export interface PathOps {
  /** Appends to `orderFulfillment-<id>`: one per input handled (domain event or compensation outcome). */
  readonly processAppends: number;
  /** Events in those appends. */
  readonly processEvents: number;
  /** Domain events the process consumes from `$ce-order/payment/inventory/shipment` (all of the order's domain events). */
  readonly inputEvents: number;
  /** The shop's OrderPlaced plus the services' writes (not the framework's work; reported, not budgeted). */
  readonly domainAppends: number;
  /** The services' idempotency reads of their domain stream (one per command; not the framework's work). */
  readonly domainReads: number;
}

/**
 * Per path. The process appends and their events, step by step:
 * - completed: [ProcessStarted, InputRecorded, FulfillmentStarted, CommandScheduled(ChargePayment)],
 *   [InputRecorded, CompensationRegistered, CommandScheduled(ReserveInventory)],
 *   [InputRecorded, CompensationRegistered, CommandScheduled(CreateShipment)],
 *   [InputRecorded, CommandScheduled(CloseOrder), ProcessCompleted]
 * - payment-declined: first append, then [InputRecorded, CommandScheduled(CloseOrder), ProcessFailed, ProcessCompensated]
 * - out-of-stock: two appends as completed, then [InputRecorded, CommandScheduled(CloseOrder), ProcessFailed,
 *   CompensationScheduled(refund)], [InputRecorded, CompensationCompleted, ProcessCompensated]
 * - shipment-failed: three appends as completed, then [InputRecorded, CommandScheduled(CloseOrder), ProcessFailed,
 *   CompensationScheduled(release)], [InputRecorded, CompensationCompleted, CompensationScheduled(refund)],
 *   [InputRecorded, CompensationCompleted, ProcessCompensated]
 */
export const PATH_OPS: Readonly<Record<SagaPath, PathOps>> = {
  completed: { processAppends: 4, processEvents: 13, inputEvents: 5, domainAppends: 5, domainReads: 4 },
  'payment-declined': {
    processAppends: 2,
    processEvents: 8,
    inputEvents: 3,
    domainAppends: 3,
    domainReads: 2,
  },
  'out-of-stock': { processAppends: 4, processEvents: 14, inputEvents: 5, domainAppends: 5, domainReads: 4 },
  'shipment-failed': {
    processAppends: 6,
    processEvents: 20,
    inputEvents: 7,
    domainAppends: 7,
    domainReads: 6,
  },
};

/** What the framework declares it needs beyond {@link PATH_OPS}. */
export const FRAMEWORK_BUDGET = {
  /**
   * Reads of the process stream per saga: none. The starting input is decided on the empty
   * state and appended with `no_stream` (a read happens only when that append finds the
   * stream, or for a start seen again in catch-up after a restart); every later input is
   * decided on the cached state and revision. A read per saga or per event is a bug.
   */
  processReadsPerSaga: 0,
  /**
   * Subscriptions on `$ce-orderFulfillment`, each receiving every process event: one, whose
   * lanes are the outbox relay and (for processes with timeouts) the timer index
   * (DESIGN.md, "Runtime pipeline"). The sample has no timeouts: one checkpoint too.
   */
  processCategoryConsumers: 1,
  /** Input subscriptions, one per consumed category. */
  inputConsumers: 4,
  /**
   * A checkpoint is stored at most after this many events per consumer (one write in
   * flight at a time: a count reached while one is pending does not queue another)...
   */
  checkpointEvery: 512,
  /** ...or once per this many ms per consumer, plus one on stop. */
  checkpointIntervalMs: 1000,
} as const;

/** Totals a run may reach, for its mix of paths and its duration. */
export interface Budget {
  readonly processAppends: number;
  readonly processEvents: number;
  readonly processReads: number;
  readonly subscriptionEvents: number;
  readonly checkpointWrites: number;
  /** Anything else (rejected inputs, $all reads, deletes, metadata...): none expected. */
  readonly other: number;
}

/** What the framework was counted doing in a run, in the terms of {@link Budget}. */
export type Actual = Budget;

/** The budget of `paths` (one entry per saga) run over `durationMs`. */
export function budgetFor(paths: readonly SagaPath[], durationMs: number): Budget {
  let processAppends = 0;
  let processEvents = 0;
  let inputEvents = 0;
  for (const path of paths) {
    const ops = PATH_OPS[path];
    processAppends += ops.processAppends;
    processEvents += ops.processEvents;
    inputEvents += ops.inputEvents;
  }
  const b = FRAMEWORK_BUDGET;
  const subscriptionEvents = inputEvents + b.processCategoryConsumers * processEvents;
  const consumers = b.inputConsumers + b.processCategoryConsumers;
  const checkpointWrites =
    consumers * (Math.ceil(durationMs / b.checkpointIntervalMs) + 2) +
    Math.ceil(subscriptionEvents / b.checkpointEvery);
  return {
    processAppends,
    processEvents,
    processReads: b.processReadsPerSaga * paths.length,
    subscriptionEvents,
    checkpointWrites,
    other: 0,
  };
}

/** Workload totals (shop and services), for the report. */
export function workloadFor(paths: readonly SagaPath[]): { domainAppends: number; domainReads: number } {
  let domainAppends = 0;
  let domainReads = 0;
  for (const path of paths) {
    domainAppends += PATH_OPS[path].domainAppends;
    domainReads += PATH_OPS[path].domainReads;
  }
  return { domainAppends, domainReads };
}

/** One line of a budget check. */
export interface BudgetLine {
  readonly metric: keyof Budget;
  readonly actual: number;
  readonly budget: number;
  readonly perSagaActual: number;
  readonly perSagaBudget: number;
  readonly ok: boolean;
}

/** Compares counted totals with the budget, line by line. */
export function checkBudget(actual: Actual, budget: Budget, sagas: number): BudgetLine[] {
  return (Object.keys(budget) as (keyof Budget)[]).map((metric) => ({
    metric,
    actual: actual[metric],
    budget: budget[metric],
    perSagaActual: sagas > 0 ? actual[metric] / sagas : NaN,
    perSagaBudget: sagas > 0 ? budget[metric] / sagas : NaN,
    ok: actual[metric] <= budget[metric],
  }));
}
