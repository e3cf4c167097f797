// The process the scale benchmark keeps alive by the thousand: a meter opened, read many
// times, closed. Small on purpose: what is measured is the runtime per live instance, not
// the user's state.
import { Apply, Event, On, ProcessManager, StartedBy } from '../../lib/decorators';
import { MessageRegistry } from '../../lib/messages';
import type { ProcessContext } from '../../lib/process/process-context';

/** Input in `meter-<meterId>`: starts an instance. */
@Event('MeterOpened')
export class MeterOpened {
  constructor(readonly meterId: string) {}
}

/** Input in `meter-<meterId>`: one step of a live instance. */
@Event('ReadingTaken')
export class ReadingTaken {
  constructor(
    readonly meterId: string,
    readonly value: number,
  ) {}
}

/** Input in `meter-<meterId>`: completes the instance. */
@Event('MeterClosed')
export class MeterClosed {
  constructor(readonly meterId: string) {}
}

/** The process's own event per step. */
@Event('ReadingAdded')
export class ReadingAdded {
  constructor(readonly value: number) {}
}

/** The process's own event at the start. */
@Event('MeterActivated')
export class MeterActivated {
  constructor(readonly meterId: string) {}
}

type Ctx = ProcessContext<MeterWatch>;

/** Sums a meter's readings until it closes. */
@ProcessManager({ name: 'meterWatch' })
export class MeterWatch {
  meterId = '';
  readings = 0;
  total = 0;

  @StartedBy(MeterOpened, (e) => e.meterId)
  opened(e: MeterOpened, ctx: Ctx): void {
    ctx.record(new MeterActivated(e.meterId));
  }

  @Apply(MeterActivated)
  activated(e: MeterActivated): void {
    this.meterId = e.meterId;
  }

  @On(ReadingTaken, (e) => e.meterId)
  reading(e: ReadingTaken, ctx: Ctx): void {
    ctx.record(new ReadingAdded(e.value));
  }

  @Apply(ReadingAdded)
  added(e: ReadingAdded): void {
    this.readings++;
    this.total += e.value;
  }

  @On(MeterClosed, (e) => e.meterId)
  closed(_e: MeterClosed, ctx: Ctx): void {
    ctx.complete();
  }
}

/** A registry with every message of the meter process. */
export function meterRegistry(): MessageRegistry {
  return new MessageRegistry().register(MeterOpened, ReadingTaken, MeterClosed, ReadingAdded, MeterActivated);
}

/** The input category. */
export const METER_CATEGORY = 'meter';
