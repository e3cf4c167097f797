import { expect } from 'chai';
import { causationIdOf, correlationIdOf, withCorrelation } from '../../lib/messages';

describe('correlation metadata', () => {
  describe('when added to existing metadata', () => {
    it('sets $correlationId and $causationId and keeps the other keys', () => {
      const metadata = withCorrelation({ tenant: 't1' }, { correlationId: 'o1', causationId: 'e1' });
      expect(metadata).to.deep.equal({ tenant: 't1', $correlationId: 'o1', $causationId: 'e1' });
      expect(correlationIdOf(metadata)).to.equal('o1');
      expect(causationIdOf(metadata)).to.equal('e1');
    });
  });

  describe('when the metadata has none', () => {
    it('reads undefined rather than a non-string value', () => {
      expect(correlationIdOf({ $correlationId: 5 })).to.equal(undefined);
      expect(causationIdOf(undefined)).to.equal(undefined);
    });
  });
});
