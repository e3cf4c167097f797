import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { v4 as uuid } from 'uuid';
import { CorrelationKeyConflictError, UnknownCorrelationKeyError } from '../../lib/errors';
import { keyStreamOf } from '../../lib/runtime/correlation-index';
import { silentLogger } from '../../lib/runtime/logger';
import { ProcessRuntime, type ProcessRuntimeOptions } from '../../lib/runtime/process-runtime';
import type { EventStore } from '../../lib/store/event-store';
import { LocalEventStore } from '../../lib/store/local/local-event-store';
import {
  DELIVERY_CATEGORIES,
  Delivery,
  deliveryFaults,
  deliveryRegistry,
} from '../process/fixtures/delivery';
import { until } from '../helpers/until';

const types = async (store: EventStore, stream: string) =>
  (await store.readStream(stream)).map((e) => e.type);

const book = (store: EventStore, orderId: string) =>
  store.append(`booking-${orderId}`, [{ id: uuid(), type: 'ParcelBooked', data: { orderId } }]);
const label = (store: EventStore, orderId: string, trackingNumber: string) =>
  store.append(`label-${orderId}`, [{ id: uuid(), type: 'LabelPrinted', data: { orderId, trackingNumber } }]);
const scan = (store: EventStore, trackingNumber: string, depot: string) =>
  store.append(`scan-${trackingNumber}`, [
    { id: uuid(), type: 'ParcelScanned', data: { trackingNumber, depot } },
  ]);

describe('ProcessRuntime correlation keys', () => {
  let store: LocalEventStore;
  const running: ProcessRuntime[] = [];
  const start = async (options: Partial<ProcessRuntimeOptions> = {}) => {
    const runtime = new ProcessRuntime({
      store,
      registry: deliveryRegistry(),
      logger: silentLogger,
      backoff: { initialDelayMs: 1, maxDelayMs: 5 },
      checkpointIntervalMs: 50,
      ...options,
    }).register(Delivery, { categories: DELIVERY_CATEGORIES });
    running.push(runtime);
    await runtime.start();
    return runtime;
  };
  const depotsOf = async (runtime: ProcessRuntime, id: string) =>
    ((await runtime.stateOf('delivery', id)).data as Delivery).depots;

  beforeEach(async () => {
    store = await LocalEventStore.open({ memory: true });
    deliveryFaults.failingDepots.clear();
  });
  afterEach(async () => {
    for (const runtime of running.splice(0)) await runtime.stop();
    await store.close();
  });

  describe('when an instance associates a key', () => {
    it('routes a later event carrying only that key to it', async () => {
      const runtime = await start();
      await book(store, 'o1');
      await book(store, 'o2');
      await label(store, 'o1', 'TRK-1');
      await label(store, 'o2', 'TRK-2');
      await runtime.whenIdle();
      await scan(store, 'TRK-2', 'Lyon');
      await scan(store, 'TRK-1', 'Metz');
      await scan(store, 'TRK-2', 'Paris');
      await runtime.whenIdle();
      expect(await depotsOf(runtime, 'o1')).to.deep.equal(['Metz']);
      expect(await depotsOf(runtime, 'o2')).to.deep.equal(['Lyon', 'Paris']);
      expect(await types(store, 'delivery-o1')).to.include('sagastream.KeyAssociated');
    });

    it('claims the key in <process>Key-<sha1(key)> with expected no_stream', async () => {
      const runtime = await start();
      await book(store, 'o1');
      await label(store, 'o1', 'TRK 1/é');
      await runtime.whenIdle();
      const stream = `deliveryKey-${createHash('sha1').update('TRK 1/é').digest('hex')}`;
      expect(keyStreamOf('delivery', 'TRK 1/é')).to.equal(stream);
      const claims = await store.readStream(stream);
      expect(claims.map((e) => [e.revision, e.type, e.data])).to.deep.equal([
        [0n, 'sagastream.KeyClaimed', { process: 'delivery', processId: 'o1', key: 'TRK 1/é' }],
      ]);
    });

    it('takes events routed by key that are queued right behind their associations', async () => {
      // One instance at a time: later labels are still queued when their scans are routed.
      const runtime = await start({ concurrency: 1 });
      const ids = Array.from({ length: 20 }, (_, i) => `q${i}`);
      for (const id of ids) await book(store, id);
      await runtime.whenIdle();
      // One stream of the label category, so the subscription delivers them in this order.
      await store.append(
        'label-batch',
        ids.flatMap((id) => [
          { id: uuid(), type: 'LabelPrinted', data: { orderId: id, trackingNumber: `T-${id}` } },
          { id: uuid(), type: 'ParcelScanned', data: { trackingNumber: `T-${id}`, depot: `D-${id}` } },
        ]),
      );
      await runtime.whenIdle();
      for (const id of ids) expect(await depotsOf(runtime, id), id).to.deep.equal([`D-${id}`]);
      expect(runtime.reports.filter((r) => r.kind === 'ignored')).to.deep.equal([]);
    });
  });

  describe('when an event carries a key no instance associated', () => {
    it('records it in sagastreamRejected-<process> and reports it as ignored', async () => {
      const runtime = await start();
      await book(store, 'o1');
      await scan(store, 'TRK-404', 'Lyon');
      await runtime.whenIdle();
      const ignored = runtime.reports.filter((r) => r.kind === 'ignored');
      expect(ignored).to.have.length(1);
      expect(ignored[0]?.error).to.be.instanceOf(UnknownCorrelationKeyError);
      expect(ignored[0]).to.deep.include({ stream: 'scan-TRK-404', revision: 0n });
      const recorded = await store.readStream('sagastreamRejected-delivery');
      expect(recorded.map((e) => (e.data as { error: { code: string } }).error.code)).to.deep.equal([
        'UNKNOWN_CORRELATION_KEY',
      ]);
      expect(recorded[0]?.data).to.deep.include({
        stream: 'scan-TRK-404',
        revision: '0',
        type: 'ParcelScanned',
      });
      expect(await depotsOf(runtime, 'o1')).to.deep.equal([]);
    });
  });

  describe('when two instances claim one key', () => {
    it('quarantines the second with a CorrelationKeyConflictError and keeps routing to the first', async () => {
      const runtime = await start();
      await book(store, 'o1');
      await book(store, 'o2');
      await label(store, 'o1', 'TRK-1');
      await runtime.whenIdle();
      await label(store, 'o2', 'TRK-1');
      await until(() => runtime.reports.some((r) => r.kind === 'quarantined'), 5000, 'a quarantine');
      const [report] = runtime.reports.filter((r) => r.kind === 'quarantined');
      expect(report?.processId).to.equal('o2');
      expect(report?.error).to.be.instanceOf(CorrelationKeyConflictError);
      expect(report?.error).to.deep.include({ key: 'TRK-1', ownerId: 'o1', processId: 'o2' });

      const second = await store.readStream('delivery-o2');
      expect(second.map((e) => e.type)).to.not.include('sagastream.KeyAssociated');
      const quarantined = second.find((e) => e.type === 'sagastream.ProcessQuarantined');
      expect((quarantined?.data as { error: { code: string } }).error.code).to.equal(
        'CORRELATION_KEY_CONFLICT',
      );

      await scan(store, 'TRK-1', 'Metz');
      await runtime.whenIdle();
      expect(await depotsOf(runtime, 'o1')).to.deep.equal(['Metz']);
    });
  });

  describe('when the worker stopped between the claim and the process append', () => {
    it('claims again idempotently and appends the decision', async () => {
      // The claim a killed worker left behind: same instance, no KeyAssociated in its stream yet.
      await store.append(
        keyStreamOf('delivery', 'TRK-5'),
        [
          {
            id: uuid(),
            type: 'sagastream.KeyClaimed',
            data: { process: 'delivery', processId: 'o5', key: 'TRK-5' },
          },
        ],
        { expectedRevision: 'no_stream' },
      );
      const runtime = await start();
      await book(store, 'o5');
      await label(store, 'o5', 'TRK-5');
      await runtime.whenIdle();
      expect(runtime.reports.filter((r) => r.kind === 'quarantined')).to.deep.equal([]);
      expect([...(await runtime.stateOf('delivery', 'o5')).keys]).to.deep.equal(['TRK-5']);
    });
  });

  describe('when a start arrives live while an earlier input waits for a key lookup', () => {
    it('starts the instance without reading its stream', async () => {
      const runtime = await start();
      await runtime.whenIdle();
      // One stream, so the start is routed while the unknown key is still being looked up.
      await store.append('label-mixed', [
        { id: uuid(), type: 'ParcelScanned', data: { trackingNumber: 'TRK-404', depot: 'Lyon' } },
        { id: uuid(), type: 'ParcelBooked', data: { orderId: 'o9' } },
      ]);
      await runtime.whenIdle();
      expect(await types(store, 'delivery-o9')).to.include('sagastream.ProcessStarted');
      expect(runtime.stats('delivery')).to.include({ loads: 0, freshStarts: 1 });
    });
  });

  describe('when a new runtime starts on the same store', () => {
    it('still routes the key to the instance that associated it', async () => {
      const first = await start();
      await book(store, 'o1');
      await label(store, 'o1', 'TRK-1');
      await first.whenIdle();
      await first.stop();

      const second = await start();
      await scan(store, 'TRK-1', 'Lille');
      await second.whenIdle();
      expect(await depotsOf(second, 'o1')).to.deep.equal(['Lille']);
      expect(second.reports.filter((r) => r.kind === 'ignored')).to.deep.equal([]);
    });
  });
});
