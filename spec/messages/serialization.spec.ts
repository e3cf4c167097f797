import { expect } from 'chai';
import { Type, instanceToInstance, instanceToPlain, plainToInstance } from 'class-transformer';
import { Event } from '../../lib/decorators';
import { MessageRegistry, cloneInstance, fromPlain, toPlain } from '../../lib/messages';

// No class-transformer decorator anywhere: fromPlain / toPlain / cloneInstance take their
// fast paths, which must give exactly what class-transformer gives.
@Event('ParcelWeighed')
class ParcelWeighed {
  parcelId = '';
  grams = 0;
  unit = 'g';
  dimensions: { w: number; h: number; tags: string[] } = { w: 0, h: 0, tags: [] };
  kilos(): number {
    return this.grams / 1000;
  }
  get label(): string {
    return `${this.parcelId}:${this.grams}`;
  }
}

class Stop {
  city = '';
  arrived = new Date(0);
  describe(): string {
    return `${this.city}@${this.arrived.toISOString()}`;
  }
}

// Undecorated process-like state holding a nested class instance, Dates and arrays.
class Route {
  stops: Stop[] = [];
  first = new Stop();
  startedAt = new Date(0);
  notes: Record<string, unknown> = {};
  count = 0;
}

// Decorated: nested @Type classes and Dates keep going through class-transformer.
class Line {
  sku = '';
  quantity = 0;
  total(price: number): number {
    return this.quantity * price;
  }
}

@Event('ManifestFiled')
class ManifestFiled {
  manifestId = '';
  @Type(() => Date) filedAt = new Date(0);
  @Type(() => Line) lines: Line[] = [];
}

// Inherits its parent's metadata: class-transformer applies it, so must we.
class AmendedManifest extends ManifestFiled {
  reason = '';
}

const payloads: Record<string, unknown>[] = [
  {},
  { parcelId: 'p1', grams: 1500 },
  { parcelId: 'p2', grams: 10, extra: 'kept', dimensions: { w: 1, h: 2, tags: ['a', 'b'] } },
  { parcelId: 'p3', kilos: 'not a method', label: 'not a getter', constructor: 'x', grams: 1 },
  { dimensions: { w: 1, toString: 'dropped', nested: [1, [2, { z: null }]] }, unit: null },
  JSON.parse('{"__proto__": {"polluted": true}, "grams": 7}') as Record<string, unknown>,
];

function json<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

describe('serialization', () => {
  describe('a class without class-transformer metadata', () => {
    it('decodes to an instance of the class with the same fields', () => {
      const registry = new MessageRegistry().register(ParcelWeighed);
      const data = { parcelId: 'p1', grams: 2500, dimensions: { w: 3, h: 4, tags: ['fragile'] } };
      const { message } = registry.decode<ParcelWeighed>({
        id: 'e1',
        type: 'ParcelWeighed',
        stream: 'parcel-p1',
        revision: 0n,
        data,
      });
      expect(message).to.be.instanceOf(ParcelWeighed);
      expect({ ...message }).to.deep.equal({ ...data, unit: 'g' });
      expect(message.kilos()).to.equal(2.5);
      expect(message.label).to.equal('p1:2500');
      // A deep copy: the stored payload is not shared with the message.
      expect(message.dimensions).not.to.equal(data.dimensions);
      expect(message.dimensions.tags).not.to.equal(data.dimensions.tags);
    });

    it('keeps skipping keys that name a method or a getter on every later decode, not only the first', () => {
      const payload = { parcelId: 'p1', grams: 5, kilos: 7, label: 'forged', unit: 'kg' };
      for (let round = 0; round < 3; round++) {
        const message = fromPlain(ParcelWeighed, json(payload));
        expect(message.kilos()).to.equal(0.005);
        expect(message.label).to.equal('p1:5');
        expect(message).to.deep.equal(plainToInstance(ParcelWeighed, json(payload)));
      }
    });

    it('still deep-copies an object value after data with the same keys held only primitives', () => {
      class Reading {
        sensor: unknown = '';
        value: unknown = 0;
      }
      for (let round = 0; round < 3; round++) fromPlain(Reading, { sensor: 's1', value: round });
      const data = { sensor: { id: 's1', tags: ['a'] }, value: 3 };
      const message = fromPlain(Reading, data);
      expect(message).to.be.instanceOf(Reading);
      expect(message).to.deep.equal(plainToInstance(Reading, data));
      expect(message.sensor).not.to.equal(data.sensor);
      expect((message.sensor as { tags: string[] }).tags).not.to.equal(data.sensor.tags);
    });

    it('gives exactly what plainToInstance, instanceToPlain and instanceToInstance give', () => {
      for (const payload of payloads) {
        const fast = fromPlain(ParcelWeighed, json(payload));
        const reference = plainToInstance(ParcelWeighed, json(payload));
        expect(fast, JSON.stringify(payload)).to.deep.equal(reference);
        expect(Object.getPrototypeOf(fast)).to.equal(ParcelWeighed.prototype);
        expect(toPlain(fast)).to.deep.equal(json(instanceToPlain(reference)));
        expect(cloneInstance(fast)).to.deep.equal(instanceToInstance(reference));
      }
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    });

    it('serialises nested instances and Dates the way class-transformer does, and clones them deeply', () => {
      const route = new Route();
      route.first = Object.assign(new Stop(), {
        city: 'Lyon',
        arrived: new Date('2026-01-02T03:04:05.678Z'),
      });
      route.stops = [route.first, Object.assign(new Stop(), { city: 'Nice' })];
      route.startedAt = new Date('2026-01-01T00:00:00.000Z');
      route.notes = { at: new Date(1), list: [new Date(2), { deep: true }], gone: undefined };
      route.count = 2;

      const plain = toPlain(route);
      expect(plain).to.deep.equal(JSON.parse(JSON.stringify(instanceToPlain(route))));
      expect(plain.startedAt).to.equal('2026-01-01T00:00:00.000Z');
      expect((plain.first as Record<string, unknown>).arrived).to.equal('2026-01-02T03:04:05.678Z');
      expect(plain.notes).to.deep.equal({
        at: new Date(1).toISOString(),
        list: [new Date(2).toISOString(), { deep: true }],
      });

      const copy = cloneInstance(route);
      expect(copy).to.deep.equal(instanceToInstance(route));
      expect(copy).to.be.instanceOf(Route);
      expect(copy.first).to.be.instanceOf(Stop).and.not.equal(route.first);
      expect(copy.first.describe()).to.equal('Lyon@2026-01-02T03:04:05.678Z');
      expect(copy.startedAt).to.be.instanceOf(Date).and.not.equal(route.startedAt);
      expect(copy.stops[1]).to.be.instanceOf(Stop);
      copy.count++;
      copy.stops[0]!.city = 'changed';
      expect(route.count).to.equal(2);
      expect(route.stops[0]!.city).to.equal('Lyon');
    });

    it('leaves Maps and Sets to class-transformer', () => {
      class Tally {
        seen = new Set(['a']);
        byKey = new Map([['k', 1]]);
      }
      const tally = new Tally();
      expect(cloneInstance(tally)).to.deep.equal(instanceToInstance(tally));
      expect(toPlain(tally)).to.deep.equal(json(instanceToPlain(tally)));
    });
  });

  describe('a class with class-transformer metadata', () => {
    it('still restores nested @Type classes and Dates through the store and back', () => {
      const registry = new MessageRegistry().register(ManifestFiled);
      const filed = Object.assign(new ManifestFiled(), {
        manifestId: 'm1',
        filedAt: new Date('2026-03-04T05:06:07.000Z'),
        lines: [Object.assign(new Line(), { sku: 'A', quantity: 3 })],
      });
      const { type, data } = registry.serialize(filed);
      expect(data).to.deep.equal({
        manifestId: 'm1',
        filedAt: '2026-03-04T05:06:07.000Z',
        lines: [{ sku: 'A', quantity: 3 }],
      });
      const { message } = registry.decode<ManifestFiled>({
        id: 'e1',
        type,
        stream: 'manifest-m1',
        revision: 0n,
        data: json(data),
      });
      expect(message).to.be.instanceOf(ManifestFiled);
      expect(message.filedAt).to.be.instanceOf(Date);
      expect(message.filedAt.toISOString()).to.equal('2026-03-04T05:06:07.000Z');
      expect(message.lines[0]).to.be.instanceOf(Line);
      expect(message.lines[0]!.total(2)).to.equal(6);
    });

    it('applies the metadata of parent classes', () => {
      const amended = fromPlain(AmendedManifest, {
        reason: 'typo',
        filedAt: '2026-03-04T05:06:07.000Z',
        lines: [{ sku: 'B', quantity: 1 }],
      });
      expect(amended.filedAt).to.be.instanceOf(Date);
      expect(amended.lines[0]).to.be.instanceOf(Line);
      expect(cloneInstance(amended).lines[0]).to.be.instanceOf(Line);
    });

    it('notices metadata added after a class was first converted', () => {
      class Late {
        at: unknown = undefined;
      }
      expect(fromPlain(Late, { at: '2026-01-01T00:00:00.000Z' }).at).to.equal('2026-01-01T00:00:00.000Z');
      Type(() => Date)(Late.prototype, 'at');
      expect(fromPlain(Late, { at: '2026-01-01T00:00:00.000Z' }).at).to.be.instanceOf(Date);
    });
  });
});
