import { Command, Event, On, ProcessManager, StartedBy } from '../../lib/decorators';
import { type ProcessContext } from '../../lib/process';
import { given } from '../../lib/testing';

@Event('TripBooked')
class TripBooked {
  constructor(readonly tripId = '') {}
}
@Event('HotelHeld')
class HotelHeld {
  constructor(readonly tripId = '') {}
}
@Event('CarHeld')
class CarHeld {
  constructor(readonly tripId = '') {}
}
@Event('FlightGone')
class FlightGone {
  constructor(readonly tripId = '') {}
}
@Command('Undo')
class Undo {
  constructor(readonly what = '') {}
}

@ProcessManager({ name: 'trip' })
class Trip {
  @StartedBy(TripBooked, (e) => e.tripId)
  booked(_e: TripBooked, ctx: ProcessContext<Trip>): void {
    ctx.compensateWith(new Undo('booking'));
  }
  @On(HotelHeld, (e) => e.tripId)
  hotel(_e: HotelHeld, ctx: ProcessContext<Trip>): void {
    ctx.compensateWith(new Undo('hotel'), 'hotel');
  }
  @On(CarHeld, (e) => e.tripId)
  car(_e: CarHeld, ctx: ProcessContext<Trip>): void {
    ctx.compensateWith(new Undo('car'), 'car');
  }
  @On(FlightGone, (e) => e.tripId)
  gone(_e: FlightGone, ctx: ProcessContext<Trip>): void {
    ctx.fail('flight cancelled');
  }
}

describe('compensation phase', () => {
  describe('when the process fails with three compensations registered', () => {
    it('runs them one at a time, newest first', () =>
      given(Trip, [new TripBooked('t1'), new HotelHeld('t1'), new CarHeld('t1')])
        .when(new FlightGone('t1'))
        .then({
          commands: [new Undo('car')],
          framework: [
            'sagastream.InputRecorded',
            'sagastream.ProcessFailed',
            'sagastream.CompensationScheduled',
          ],
        })
        .succeedCommand(Undo)
        .then({ commands: [new Undo('hotel')] })
        .succeedCommand(Undo)
        .then({ commands: [new Undo('booking')], status: 'compensating' })
        .succeedCommand(Undo)
        .then({ commands: [], status: 'compensated' }));
  });

  describe('when a late event registers a compensation while compensating', () => {
    it('runs the new compensation next, before the older ones', () =>
      given(Trip, [new TripBooked('t1'), new HotelHeld('t1'), new FlightGone('t1')])
        .when(new CarHeld('t1'))
        .then({ commands: [], compensations: [new Undo('car')], status: 'compensating' })
        .succeedCommand(Undo)
        .then({ commands: [new Undo('car')] })
        .succeedCommand(Undo)
        .then({ commands: [new Undo('booking')] }));
  });
});
