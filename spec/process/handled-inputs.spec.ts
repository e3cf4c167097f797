import { expect } from 'chai';
import { HandledInputs } from '../../lib/process/handled-inputs';

// The reference: what the engine kept before, a Set where a re-added id moves to the newest
// place and the oldest leave beyond the limit.
function reference(ids: readonly string[], id: string, limit: number): string[] {
  const set = new Set(ids);
  set.delete(id);
  set.add(id);
  return [...set].slice(Math.max(0, set.size - limit));
}

describe('HandledInputs', () => {
  describe('when ids are added one after another', () => {
    it('keeps the newest ids in order, up to the limit', () => {
      let set = HandledInputs.empty();
      for (let i = 0; i < 10; i++) set = set.with(`i${i}`, 4);
      expect([...set]).to.deep.equal(['i6', 'i7', 'i8', 'i9']);
      expect(set.size).to.equal(4);
      expect(set.has('i5')).to.equal(false);
      expect(set.has('i6')).to.equal(true);
    });

    it('leaves every earlier set unchanged', () => {
      const sets = [HandledInputs.empty()];
      for (let i = 0; i < 3000; i++) sets.push(sets[sets.length - 1]!.with(`i${i}`, 1000));
      expect([...sets[10]!]).to.deep.equal(Array.from({ length: 10 }, (_, i) => `i${i}`));
      expect(sets[10]!.has('i10')).to.equal(false);
      expect(sets[2500]!.has('i1499')).to.equal(false);
      expect(sets[2500]!.has('i1500')).to.equal(true);
      expect(sets[2500]!.has('i2500')).to.equal(false);
    });
  });

  describe('when older sets are extended too (a decision retried on an older state)', () => {
    it('answers exactly like a copied Set for every branch', () => {
      let seed = 7;
      const random = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      const limit = 50;
      const versions: { set: HandledInputs; model: string[] }[] = [{ set: HandledInputs.empty(), model: [] }];
      for (let step = 0; step < 5000; step++) {
        const from = random(4) === 0 ? versions[random(versions.length)]! : versions[versions.length - 1]!;
        // Mostly new ids, sometimes one seen before (handled again after a skipped quarantine).
        const id = random(10) === 0 ? `id${random(step + 1)}` : `id${step}`;
        const next = { set: from.set.with(id, limit), model: reference(from.model, id, limit) };
        versions.push(next);
        expect([...next.set]).to.deep.equal(next.model);
        const probe = `id${random(step + 1)}`;
        const probed = versions[random(versions.length)]!;
        expect(probed.set.has(probe)).to.equal(probed.model.includes(probe));
      }
    });
  });
});
