import { expect } from 'chai';
import { AssertionError, given } from '../../lib/testing';
import {
  Delivery,
  LabelPrinted,
  ParcelBooked,
  ParcelDelivered,
  ParcelScanned,
  ParcelSeen,
} from '../process/fixtures/delivery';

describe('given (process fixture) with correlation keys', () => {
  describe('when an event carries only a key an instance associated', () => {
    it('delivers it to that instance and no other', () => {
      const fixture = given(Delivery, [
        new ParcelBooked('o1'),
        new ParcelBooked('o2'),
        new LabelPrinted('o1', 'TRK-1'),
        new LabelPrinted('o2', 'TRK-2'),
      ])
        .when(new ParcelScanned('TRK-2', 'Lyon'))
        .then({
          events: [new ParcelSeen('Lyon')],
          outcome: 'handled',
          processId: 'o2',
          state: { depots: ['Lyon'] },
        });
      expect(fixture.lastDecisions.map((d) => d.processId)).to.deep.equal(['o2']);
      expect(fixture.state('o1').depots).to.deep.equal([]);
      expect(fixture.ownerOfKey('TRK-1')).to.equal('o1');
    });

    it('routes keyed events given as history too', () =>
      given(Delivery, [
        new ParcelBooked('o1'),
        new LabelPrinted('o1', 'TRK-1'),
        new ParcelScanned('TRK-1', 'Metz'),
      ])
        .when(new ParcelDelivered('TRK-1'))
        .then({ status: 'completed', state: { depots: ['Metz'] } }));
  });

  describe('when no instance associated the key', () => {
    it('reaches no instance and reports beforeStart', () => {
      const fixture = given(Delivery, [new ParcelBooked('o1'), new LabelPrinted('o1', 'TRK-1')])
        .when(new ParcelScanned('TRK-404', 'Lyon'))
        .then({ events: [], outcome: 'beforeStart' });
      expect(fixture.lastDecisions).to.deep.equal([]);
      expect(fixture.state('o1').depots).to.deep.equal([]);
    });

    it('fails an expectation of another outcome', () => {
      expect(() =>
        given(Delivery, [new ParcelBooked('o1')])
          .when(new ParcelScanned('TRK-404', 'Lyon'))
          .then({ outcome: 'handled' }),
      ).to.throw(AssertionError, /Outcome when ParcelScanned was handled/);
    });
  });

  describe('when two instances associate the same key', () => {
    it('fails the step, naming both instances and the conflict error the runtime would raise', () => {
      const fixture = given(Delivery, [
        new ParcelBooked('o1'),
        new ParcelBooked('o2'),
        new LabelPrinted('o1', 'TRK-1'),
      ]);
      expect(() => fixture.when(new LabelPrinted('o2', 'TRK-1'))).to.throw(
        AssertionError,
        /delivery-o2 associated key 'TRK-1', which delivery-o1 already holds.*CorrelationKeyConflictError/s,
      );
    });
  });
});
