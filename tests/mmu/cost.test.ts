import fc from 'fast-check';
import * as Cost from '../../src/mmu/cost';
import type { TranslationStats } from '../../src/mmu/cost';
import * as Cfg from '../../src/mmu/tlbConfig';

const nat = fc.integer({ min: 0, max: 1_000_000 });
const stats: fc.Arbitrary<TranslationStats> = fc.record({
  accesses: nat, l1Hits: nat, stlbHits: nat, walks: nat, guestRefs: nat, nestedRefs: nat,
  pscHits: fc.tuple(nat, nat, nat, nat), nestedTlbHits: nat, nestedTlbLookups: nat, maxRefsPerWalk: fc.integer({ min: 0, max: 35 }), cycles: nat,
});

describe('style rule 10: translation statistics form a monoid', () => {
  test('left and right identity', () => {
    fc.assert(fc.property(stats, (a) => {
      expect(Cost.combine(Cost.emptyStats, a)).toEqual(a);
      expect(Cost.combine(a, Cost.emptyStats)).toEqual(a);
    }));
  });
  test('associativity', () => {
    fc.assert(fc.property(stats, stats, stats, (a, b, c) => {
      expect(Cost.combine(Cost.combine(a, b), c)).toEqual(Cost.combine(a, Cost.combine(b, c)));
    }));
  });
  test('concatAll of a split list is the combination of the halves (a fold can be chunked)', () => {
    fc.assert(fc.property(fc.array(stats, { maxLength: 8 }), fc.nat(8), (xs, k) => {
      expect(Cost.concatAll(xs)).toEqual(Cost.combine(Cost.concatAll(xs.slice(0, k)), Cost.concatAll(xs.slice(k))));
    }));
  });
});

describe('cost model (reference §9.2 reference counts priced per dimension)', () => {
  test('an L1 hit costs l1Hit, an STLB hit l1Hit + stlbHit, a cold 4x4 walk adds 4 guest and 20 nested references', () => {
    const m = Cost.defaultCost;
    expect(Cost.cyclesOf(m, 'l1', 0, 0, 0, 0)).toBe(1);
    expect(Cost.cyclesOf(m, 'stlb', 0, 0, 0, 0)).toBe(10);
    expect(Cost.cyclesOf(m, null, 4, 20, 0, 0)).toBe(10 + 4 * 14 + 20 * 14);
    const priced = { ...m, guestRef: 100, nestedRef: 1 };
    expect(Cost.cyclesOf(priced, null, 4, 20, 2, 3)).toBe(10 + 400 + 20 + 2 + 3);
  });
  test('the `cost` config key: given keys override, unknown keys and bad values are problems', () => {
    const r = Cost.fromInput({ stlbHit: 7, bogus: 1, guestRef: -3 });
    expect(r.cost.stlbHit).toBe(7);
    expect(r.cost.guestRef).toBe(14);
    expect(r.problems.map((p) => p.path)).toEqual(['cost.bogus', 'cost.guestRef']);
  });
});

describe('TlbConfig: Skylake-SP defaults and the `tlb` config key', () => {
  test('defaults are the published Skylake-SP sizes (Intel optimization manual TLB table; AnandTech Skylake-X review)', () => {
    expect(Cfg.skylakeServer.l1d4k).toEqual({ entries: 64, ways: 4 });
    expect(Cfg.skylakeServer.l1i4k).toEqual({ entries: 128, ways: 8 });
    expect(Cfg.skylakeServer.stlb).toEqual({ entries: 1536, ways: 12 });
    for (const k of Cfg.TLB_CONFIG_KEYS) expect(Cfg.geometryProblem(Cfg.skylakeServer[k])).toBeUndefined();
  });
  test('fromInput: overrides, disabling with 0 entries, and problems for bad geometry or unknown keys', () => {
    const r = Cfg.fromInput({ stlb: { entries: 0 }, pde: { entries: 64 }, l1d4k: { entries: 10, ways: 4 }, foo: {} } as never);
    expect(r.config.stlb.entries).toBe(0);
    expect(r.config.pde).toEqual({ entries: 64, ways: 32 });
    expect(r.config.l1d4k).toEqual(Cfg.skylakeServer.l1d4k);
    expect(r.problems.map((p) => p.path).sort()).toEqual(['tlb.foo', 'tlb.l1d4k']);
  });
});

describe('walkStats: the statistics of one walk, one shared object per kind of walk', () => {
  const model: Cost.CostModel = { l1Hit: 1, stlbHit: 9, guestRef: 14, nestedRef: 13, pscHit: 2, nestedTlbHit: 3, walkStart: 5 };
  /** what a walk's statistics are, from their definition */
  const expected = (g: number, n: number, psc: number, h: number, l: number): TranslationStats => Cost.stats(
    1, 0, 0, 1, g, n, [psc === 2 ? 1 : 0, psc === 3 ? 1 : 0, psc === 4 ? 1 : 0, psc === 5 ? 1 : 0], h, l, g + n,
    Cost.cyclesOf(model, null, g, n, psc === 0 ? 0 : 1, h),
  );
  test('every count up to and past the bits of its key field (3, 6, 3, 3, 3): the statistics of those counts, the same object for the same counts', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 70 }), fc.constantFrom(0, 2, 3, 4, 5, 8),
      fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 9 }),
      (g, n, psc, h, l) => {
        const s = Cost.walkStats(model, g, n, psc, h, l);
        expect(s).toEqual(expected(g, n, psc, h, l));
        if (g <= 7 && n <= 63 && psc <= 7 && h <= 7 && l <= 7) expect(Cost.walkStats(model, g, n, psc, h, l)).toBe(s);
      },
    ), { numRuns: 2000 });
  });
  test('walks whose counts set the highest and lowest bits of neighbouring key fields get their own statistics (and counts past their bits, made apart)', () => {
    const all: [number, number, number, number, number][] = [];
    for (const g of [0, 3, 4, 7, 8]) for (const n of [0, 1, 7, 8, 31, 32, 63, 64]) for (const psc of [0, 1, 2, 4, 5, 7, 8]) {
      for (const h of [0, 3, 4, 7, 8]) for (const l of [0, 3, 4, 7, 8]) all.push([g, n, psc, h, l]);
    }
    // twice: the second time every kind comes from the shared objects
    for (let pass = 0; pass < 2; pass++) for (const [g, n, psc, h, l] of all) expect(Cost.walkStats(model, g, n, psc, h, l)).toEqual(expected(g, n, psc, h, l));
  });
});
