/**
 * The persistent page-number set of the replay report (src/replay/pageSet.ts): distinct guest pages touched, against
 * a JavaScript Set, over page numbers across the whole 2^46 range (negative ones fold to the upper half: kernel-half
 * linear addresses) and over chained additions (an older set is never changed).
 */
import fc from 'fast-check';
import { addPages, emptyPageSet, hasPage, pageProbe, pageSetOf, probeHas, releaseProbe } from '../../src/replay/pageSet';

const SPAN = 2 ** 46;
/** A negative page number is the same page as the one 2^46 above it (kernel-half linear addresses fold). */
const fold = (p: number): number => (p < 0 ? p + SPAN : p);
const pageArb = fc.oneof(
  fc.integer({ min: 0, max: 40 }),
  fc.integer({ min: 8190, max: 8194 }), // a leaf boundary (2^13 pages per leaf)
  fc.integer({ min: 2 ** 24 - 3, max: 2 ** 24 + 3 }), // a node boundary
  fc.integer({ min: 0, max: SPAN - 1 }),
  fc.constantFrom(SPAN - 1, SPAN / 2, 2 ** 45 + 5),
  fc.integer({ min: -(2 ** 36), max: -1 }), // kernel-half page numbers (folded by + 2^46)
);

describe('page set', () => {
  test('property: size and membership match a Set; additions in several steps leave the earlier sets as they were', () => {
    fc.assert(fc.property(fc.array(fc.array(pageArb, { maxLength: 30 }), { minLength: 1, maxLength: 5 }), fc.array(pageArb, { maxLength: 20 }), (batches, probes) => {
      let s = emptyPageSet;
      const ref = new Set<number>();
      const earlier: { set: typeof s; ref: Set<number> }[] = [];
      for (const b of batches) {
        earlier.push({ set: s, ref: new Set(ref) });
        s = addPages(s, b);
        for (const p of b) ref.add(fold(p));
        expect(s.size).toBe(ref.size);
        for (const p of [...b, ...probes]) expect(hasPage(s, p)).toBe(ref.has(fold(p)));
      }
      for (const e of earlier) {
        expect(e.set.size).toBe(e.ref.size);
        for (const p of [...e.ref, ...probes]) expect(hasPage(e.set, p)).toBe(e.ref.has(fold(p)));
      }
      expect(pageSetOf(batches.flat()).size).toBe(ref.size);
    }), { numRuns: 200 });
  });

  test('one batch adding to leaves it made and to leaves of the older set that share its leaf cache slot (leaf numbers 16 apart) leaves the older set as it was', () => {
    const LEAF = 8192;
    const older = pageSetOf([16 * LEAF + 1, 32 * LEAF + 2]);
    // leaf 0 is made by the batch; leaves 16 and 32 (the same slot of the 16-slot leaf cache) are the older set's
    const batch = [5, 16 * LEAF + 7, 6, 32 * LEAF + 8, 7, 16 * LEAF + 9, 8, 48 * LEAF, 9];
    const newer = addPages(older, batch);
    expect(newer.size).toBe(2 + batch.length);
    for (const p of batch) expect(hasPage(newer, p)).toBe(true);
    expect(older.size).toBe(2);
    for (const p of batch) expect(hasPage(older, p)).toBe(false);
    expect([hasPage(older, 16 * LEAF + 1), hasPage(older, 32 * LEAF + 2)]).toEqual([true, true]);
  });

  test('pages from any iterable (a Set), and a set that gains nothing is returned as it is', () => {
    const s = pageSetOf(new Set([1, 2, 3, 8192, -1]));
    expect(s.size).toBe(5);
    expect(hasPage(s, SPAN - 1)).toBe(true); // -1 folds to 2^46 - 1: the same page
    expect(hasPage(s, -1)).toBe(true);
    expect(addPages(s, [1, 2, 8192])).toBe(s);
  });

  test('a probe answers as hasPage: pages below and above 2^31, negative ones, leaves it holds, leaves that take each other\'s slot, leaves the set lacks; sized for few or many tests', () => {
    const LEAF = 8192;
    // leaf numbers 4 apart share a slot of the smallest probe (4 slots), 16 apart of the largest (16)
    const near = fc.oneof(
      fc.integer({ min: 0, max: 64 * LEAF }),
      fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: LEAF - 1 })).map(([k, b]) => k * 16 * LEAF + b),
      fc.integer({ min: 2 ** 31 - 3, max: 2 ** 31 + 3 }),
    );
    const arb = fc.oneof(pageArb, near);
    fc.assert(fc.property(fc.array(arb, { maxLength: 60 }), fc.array(arb, { maxLength: 60 }), fc.constantFrom(1, 600, 4096), (inSet, probes, tests) => {
      const s = pageSetOf(inSet);
      const p = pageProbe(s, tests);
      // each page twice: once when its leaf is copied, once from the copy (or after another leaf took its slot)
      for (const q of [...probes, ...inSet, ...probes, ...inSet]) expect(probeHas(p, q)).toBe(hasPage(s, q));
    }), { numRuns: 300 });
  });

  test('a probe made from the words of a released one answers for its own set (the other set\'s leaves and gaps left in the words)', () => {
    fc.assert(fc.property(fc.array(pageArb, { maxLength: 40 }), fc.array(pageArb, { maxLength: 40 }), fc.array(pageArb, { maxLength: 40 }), (a, b, probes) => {
      const sa = pageSetOf(a);
      const sb = pageSetOf(b);
      const pa = pageProbe(sa, 4096);
      for (const q of [...a, ...b, ...probes]) probeHas(pa, q);
      releaseProbe(pa);
      const pb = pageProbe(sb, 4096);
      expect(pb.words).toBe(pa.words);
      for (const q of [...a, ...b, ...probes]) expect(probeHas(pb, q)).toBe(hasPage(sb, q));
      releaseProbe(pb);
    }), { numRuns: 200 });
  });
});

