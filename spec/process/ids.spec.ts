import { expect } from 'chai';
import { parse as parseUuid, v5 as uuidv5 } from 'uuid';
import { deterministicId } from '../../lib/process/ids';

const NAMESPACE = parseUuid('f4b3c1de-5a2b-4c55-9a0e-6d2f1b7c8e90');

describe('deterministicId', () => {
  describe('when given the parts of a name', () => {
    it('returns the uuid v5 of the parts joined by U+001F, as earlier versions wrote them', () => {
      const names = [
        ['o1', 'e5a1c7b2-3f5e-4a8e-9c1d-2b7a6f0e4d3c', '0'],
        ['o1', 'compensation', 'refund-payment'],
        [''],
        ['é€😀', 'ü'],
      ];
      for (let i = 0; i < 200; i++) names.push([`p${i}`, `input-${i * 7919}`, String(i % 9)]);
      for (const parts of names)
        expect(deterministicId(...parts)).to.equal(uuidv5(parts.join('\u001f'), NAMESPACE));
    });

    it('returns the same id for names longer than its scratch buffer', () => {
      for (const name of ['x'.repeat(1364), 'y'.repeat(1400), 'z'.repeat(5000), '😀'.repeat(700)]) {
        expect(deterministicId(name, 'tail')).to.equal(uuidv5(`${name}\u001ftail`, NAMESPACE));
      }
    });

    it('gives different parts different ids', () => {
      expect(deterministicId('a', 'b')).not.to.equal(deterministicId('a', 'c'));
      expect(deterministicId('ab')).not.to.equal(deterministicId('a', 'b'));
    });
  });
});
