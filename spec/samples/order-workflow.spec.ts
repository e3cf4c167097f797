import { expect } from 'chai';
import { ProcessEventTypes as P } from '../../lib/process/process-events';
import { StepEventTypes as S } from '../../lib/workflow/step-events';
import { LocalEventStore } from '../../lib/store/local/local-event-store';
import { runOrderWorkflowSample, sampleOrders } from '../../samples/order-workflow/app';

/** A seeded generator, so the transient faults are the same on every run. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('order-workflow sample', () => {
  let store: LocalEventStore;
  beforeEach(async () => (store = await LocalEventStore.open({ memory: true })));
  afterEach(() => store.close());

  for (const rate of [0, 0.3]) {
    describe(`when the services fail transiently at a rate of ${rate}`, () => {
      it('ships the good order and undoes exactly what each failed order did, newest first', async () => {
        const outcomes = await runOrderWorkflowSample(store, sampleOrders(), {
          transientFailureRate: rate,
          random: seeded(42),
        });
        const byId = Object.fromEntries(outcomes.map((o) => [o.orderId, o]));
        const retried = (await store.readAll({ maxCount: 10_000 })).filter(
          (e) => e.type === S.StepAttemptFailed,
        );
        // Declined, out-of-stock and no-carrier are one failed attempt each; the rest are transient faults.
        if (rate === 0) expect(retried).to.have.length(3);
        else expect(retried.length).to.be.greaterThan(3);
        expect(byId.ok).to.deep.include({
          run: P.ProcessCompleted,
          payment: ['PaymentCharged'],
          inventory: ['InventoryReserved'],
          shipment: ['ShipmentCreated'],
          order: ['OrderCompleted'],
        });
        expect(byId.declined).to.deep.include({
          run: P.ProcessCompensated,
          payment: ['PaymentDeclined'],
          inventory: [],
          order: ['OrderCancelled'],
        });
        expect(byId.oos).to.deep.include({
          run: P.ProcessCompensated,
          payment: ['PaymentCharged', 'PaymentRefunded'],
          inventory: ['InventoryReservationFailed'],
          shipment: [],
          order: ['OrderCancelled'],
        });
        expect(byId.noship).to.deep.include({
          run: P.ProcessCompensated,
          payment: ['PaymentCharged', 'PaymentRefunded'],
          inventory: ['InventoryReserved', 'InventoryReleased'],
          shipment: ['ShipmentFailed'],
          order: ['OrderCancelled'],
        });
      });
    });
  }

  describe('when a run fails after shipping was refused', () => {
    it('releases the inventory before refunding the payment', async () => {
      await runOrderWorkflowSample(
        store,
        sampleOrders().filter((o) => o.orderId === 'noship'),
      );
      const compensations = (await store.readAll({ maxCount: 10_000 }))
        .filter(
          (e) =>
            e.type === 'InventoryReleased' || e.type === 'PaymentRefunded' || e.type === 'OrderCancelled',
        )
        .map((e) => e.type);
      expect(compensations).to.deep.equal(['InventoryReleased', 'PaymentRefunded', 'OrderCancelled']);
    });
  });
});
