import { expect } from 'chai';
import { Type } from 'class-transformer';
import { Command, Event } from '../../lib/decorators';
import { DefinitionError, MalformedEventError, UnknownEventTypeError } from '../../lib/errors';
import { MessageRegistry } from '../../lib/messages';

class Line {
  constructor(
    readonly sku = '',
    readonly quantity = 0,
  ) {}
  total(price: number): number {
    return this.quantity * price;
  }
}

@Event('InvoiceIssued')
class InvoiceIssued {
  @Type(() => Date) readonly issuedAt: Date;
  @Type(() => Line) readonly lines: Line[];
  constructor(
    readonly invoiceId = '',
    issuedAt = new Date(0),
    lines: Line[] = [],
  ) {
    this.issuedAt = issuedAt;
    this.lines = lines;
  }
}

@Command('IssueInvoice')
class IssueInvoice {
  constructor(readonly invoiceId = '') {}
}

class Undecorated {}

function record(type: string, data: unknown, isJson = true) {
  return {
    id: 'evt-1',
    type,
    stream: 'invoice-7',
    revision: 41n,
    data,
    isJson,
    metadata: { $correlationId: 'i7' },
  };
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return expect.fail('expected an error');
}

describe('MessageRegistry', () => {
  describe('when a message goes through the store and back', () => {
    it('keeps dates, nested classes and arrays', () => {
      const registry = new MessageRegistry().register(InvoiceIssued);
      const original = new InvoiceIssued('i7', new Date('2024-02-29T12:00:00.000Z'), [new Line('a', 2)]);
      const { type, data } = registry.serialize(original);
      const json = JSON.parse(JSON.stringify(data));
      expect(json.issuedAt).to.equal('2024-02-29T12:00:00.000Z');
      const decoded = registry.decode<InvoiceIssued>(record(type, json));
      expect(decoded.message).to.be.instanceOf(InvoiceIssued);
      expect(decoded.message.issuedAt).to.be.instanceOf(Date);
      expect(decoded.message.issuedAt.getTime()).to.equal(original.issuedAt.getTime());
      expect(decoded.message.lines[0]?.total(5)).to.equal(10);
      expect(decoded).to.deep.include({
        id: 'evt-1',
        type: 'InvoiceIssued',
        stream: 'invoice-7',
        revision: 41n,
        metadata: { $correlationId: 'i7' },
      });
    });

    it('rebuilds commands from their type and data', () => {
      const registry = new MessageRegistry().register(IssueInvoice);
      expect(registry.deserialize('IssueInvoice', { invoiceId: 'i1' })).to.deep.equal(new IssueInvoice('i1'));
      expect(registry.kindOf('IssueInvoice')).to.equal('command');
    });
  });

  describe('when decoding a type nobody registered', () => {
    it('throws UnknownEventTypeError with the stream, revision and event id', () => {
      const err = caught(() => new MessageRegistry().decode(record('InvoiceVoided', {})));
      expect(err).to.be.instanceOf(UnknownEventTypeError);
      expect(err).to.include({
        code: 'UNKNOWN_EVENT_TYPE',
        eventType: 'InvoiceVoided',
        stream: 'invoice-7',
        revision: 41n,
        eventId: 'evt-1',
      });
      expect((err as Error).message).to.contain('invoice-7@41');
    });
  });

  describe('when the payload is malformed', () => {
    const registry = new MessageRegistry({
      validate: (m) => (m instanceof InvoiceIssued && !m.invoiceId ? ['invoiceId is required'] : []),
    }).register(InvoiceIssued);

    for (const [label, data, isJson, problem] of [
      ['not JSON', new Uint8Array([1, 2]), false, 'the payload is not JSON'],
      ['an array', [1], true, 'the payload is an array, not a JSON object'],
      ['null', null, true, 'the payload is null, not a JSON object'],
      ['a string', 'x', true, 'the payload is a string, not a JSON object'],
      ['invalid for the class', { issuedAt: '2024-01-01' }, true, 'invoiceId is required'],
    ] as const) {
      it(`throws MalformedEventError for ${label}, with its location`, () => {
        const err = caught(() => registry.decode(record('InvoiceIssued', data, isJson)));
        expect(err).to.be.instanceOf(MalformedEventError);
        expect(err).to.include({
          code: 'MALFORMED_EVENT',
          stream: 'invoice-7',
          revision: 41n,
          eventId: 'evt-1',
        });
        expect((err as MalformedEventError).problems).to.deep.equal([problem]);
      });
    }
  });

  describe('when registering', () => {
    it('lists every undecorated class and type clash in one DefinitionError', () => {
      @Event('InvoiceIssued')
      class Impostor {}
      const err = caught(() => new MessageRegistry().register(InvoiceIssued, Undecorated, Impostor));
      expect(err).to.be.instanceOf(DefinitionError);
      expect((err as DefinitionError).problems).to.have.length(2);
      expect((err as DefinitionError).problems[1]).to.equal(
        "type 'InvoiceIssued' is claimed by both InvoiceIssued and Impostor.",
      );
    });

    it('learns decorated classes on first use, but not undecorated ones', () => {
      const registry = new MessageRegistry();
      expect(registry.typeOf(new IssueInvoice())).to.equal('IssueInvoice');
      expect(registry.has('IssueInvoice')).to.equal(true);
      expect(registry.typeOf(Undecorated)).to.equal(undefined);
      expect(() => registry.serialize(new Undecorated())).to.throw(
        DefinitionError,
        /Undecorated is not a registered message class/,
      );
      expect(registry.registerAs(Undecorated, 'Legacy.Thing').typeOf(Undecorated)).to.equal('Legacy.Thing');
    });

    it('keeps registries apart', () => {
      const a = new MessageRegistry().register(InvoiceIssued);
      expect(new MessageRegistry().has('InvoiceIssued')).to.equal(false);
      expect(a.has('InvoiceIssued')).to.equal(true);
    });
  });
});
