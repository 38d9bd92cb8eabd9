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
