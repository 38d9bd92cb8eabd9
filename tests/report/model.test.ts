import fc from 'fast-check';
import * as Cost from '../../src/mmu/cost';
import {
  concatRunStats, defaultExitCost, emptyRunStats, exitCycles, foldRunStats, MonoidRunStats, ofEvent, ofExit,
  ofGuestCycles, ofTranslation, toReport, withOverhead, type RunStats,
} from '../../src/report/model';

const n = fc.nat({ max: 1 << 30 });
const counts = fc.dictionary(fc.constantFrom('CPUID', 'HLT', 'EPT_VIOLATION', 'EPT_MISCONFIG', 'IO_INSTRUCTION'), n);
const hist = fc.dictionary(fc.integer({ min: 0, max: 35 }).map(String), n);
const tstats: fc.Arbitrary<Cost.TranslationStats> = fc.record({
  accesses: n, l1Hits: n, stlbHits: n, walks: n, guestRefs: n, nestedRefs: n,
  pscHits: fc.tuple(n, n, n, n), nestedTlbHits: n, nestedTlbLookups: n, maxRefsPerWalk: fc.nat({ max: 35 }), cycles: n,
});
const stats: fc.Arbitrary<RunStats> = fc.record({
  events: n, exitsByReason: counts, exitCyclesByReason: counts, translation: tstats, pscLookups: n,
  nestedTlbLookups: n, refsHistogram: hist, guestCycles: n,
});

const cfg = { cpu: 'skylake-server', mode: 'ept', ept: { levels: 4, pageSize: '4K' }, guest: { levels: 4, pageSize: '4K' } };
const extra = { mode: 'ept', config: cfg, guestVirtualPages: 2, guestPhysicalPages: 5 };

describe('RunStats monoid (style rule 10: a replay is a fold)', () => {
  it('associativity: (a <> b) <> c = a <> (b <> c)', () => {
    fc.assert(fc.property(stats, stats, stats, (a, b, c) => {
      expect(concatRunStats(concatRunStats(a, b), c)).toEqual(concatRunStats(a, concatRunStats(b, c)));
    }));
  });
  it('left and right identity: empty <> a = a = a <> empty', () => {
    fc.assert(fc.property(stats, (a) => {
      expect(MonoidRunStats.concat(MonoidRunStats.empty, a)).toEqual(a);
      expect(MonoidRunStats.concat(a, MonoidRunStats.empty)).toEqual(a);
    }));
  });
  it('concat does not mutate its inputs', () => {
    fc.assert(fc.property(stats, stats, (a, b) => {
      const a0 = JSON.stringify(a);
      const b0 = JSON.stringify(b);
      concatRunStats(a, b);
      expect(JSON.stringify(a)).toBe(a0);
      expect(JSON.stringify(b)).toBe(b0);
    }));
  });
  it('a fold of two halves equals the fold of the whole (split anywhere)', () => {
    fc.assert(fc.property(fc.array(stats, { maxLength: 8 }), fc.nat(), (xs, k) => {
      const i = xs.length === 0 ? 0 : k % (xs.length + 1);
      expect(concatRunStats(foldRunStats(xs.slice(0, i)), foldRunStats(xs.slice(i)))).toEqual(foldRunStats(xs));
    }));
  });
});

describe('ExitCostModel', () => {
  it('an exit costs the round trip plus its handler; CPUID totals 1,250 cycles (vmexit.c cpuid ~1,200-1,250)', () => {
    expect(exitCycles(defaultExitCost, 10)).toBe(1100 + 150);
    expect(exitCycles(defaultExitCost, 'CPUID')).toBe(1250);
  });
  it('a reason with no handler entry uses the default handler (GETSEC = 11)', () => {
    expect(exitCycles({ roundTrip: 10, defaultHandler: 7, handler: {} }, 11)).toBe(17);
  });
  it('an EPT violation with page-fault handling costs several thousand cycles', () => {
    expect(exitCycles(defaultExitCost, 48)).toBeGreaterThanOrEqual(3000);
  });
  it('ofExit counts one exit by its uapi name and prices it', () => {
    const s = ofExit(48, { roundTrip: 100, defaultHandler: 0, handler: { EPT_VIOLATION: 20 } });
    expect(s.exitsByReason).toEqual({ EPT_VIOLATION: 1 });
    expect(s.exitCyclesByReason).toEqual({ EPT_VIOLATION: 120 });
  });
});

describe('toReport (interface §5 keys)', () => {
  const walk = { ...Cost.emptyStats, accesses: 1, walks: 1, guestRefs: 4, nestedRefs: 20, maxRefsPerWalk: 24, cycles: 346,
    pscHits: [0, 0, 0, 0] as [number, number, number, number] };
  const l1 = { ...Cost.emptyStats, accesses: 1, l1Hits: 1, cycles: 1 };
  const stlb = { ...Cost.emptyStats, accesses: 1, stlbHits: 1, cycles: 10 };
  const short = { ...Cost.emptyStats, accesses: 1, walks: 1, guestRefs: 1, nestedRefs: 5, maxRefsPerWalk: 6, cycles: 95,
    pscHits: [0, 1, 0, 0] as [number, number, number, number], nestedTlbHits: 2 };
  const s = foldRunStats([
    ofEvent(5), ofTranslation(walk), ofTranslation(l1), ofTranslation(stlb), ofTranslation(short, { nestedTlb: 3 }),
    ofExit('CPUID', { roundTrip: 1000, defaultHandler: 0, handler: { CPUID: 200 } }),
    ofExit('EPT_VIOLATION', { roundTrip: 1000, defaultHandler: 0, handler: { EPT_VIOLATION: 3000 } }),
    ofExit('EPT_VIOLATION', { roundTrip: 1000, defaultHandler: 0, handler: { EPT_VIOLATION: 3000 } }),
    ofGuestCycles(500),
  ]);
  const r = toReport(s, extra);

  it('counts exits by uapi name and in total', () => {
    expect(r.exits).toEqual({ total: 3, byReason: { CPUID: 1, EPT_VIOLATION: 2 }, cyclesByReason: { CPUID: 1200, EPT_VIOLATION: 8000 } });
  });
  it('TLB hits are L1 plus STLB hits; misses are the other accesses', () => {
    expect(r.translation.accesses).toBe(4);
    expect(r.translation.tlb).toEqual({ hits: 2, misses: 2, l1Hits: 1, stlbHits: 1 });
  });
  it('memory references: guest + nested = total; mean and max per walk (a full 4x4 walk has 24)', () => {
    expect(r.translation.memoryReferences).toEqual({ guest: 5, nested: 25, total: 30 });
    expect(r.translation.walks).toBe(2);
    expect(r.translation.meanReferencesPerWalk).toBe(15);
    expect(r.translation.maxReferencesPerWalk).toBe(24);
    expect(r.translation.referencesHistogram).toEqual({ '6': 1, '24': 1 });
  });
  it('PSC lookups default to one per walk; nested-TLB lookups are what the engine passed', () => {
    expect(r.translation.psc).toEqual({ hits: 1, lookups: 2 });
    expect(r.translation.nestedTlb).toEqual({ hits: 2, lookups: 3 });
  });
  it('cycles: total = translation + exits + guest work', () => {
    expect(r.cycles).toEqual({ total: 452 + 9200 + 500, translation: 452, exits: 9200, guest: 500 });
  });
  it('carries schemaVersion 1, events, mode, config and page counts; no partial/overhead unless given', () => {
    expect(r.schemaVersion).toBe(1);
    expect(r.events).toBe(5);
    expect(r.mode).toBe('ept');
    expect(r.memory).toEqual({ guestVirtualPages: 2, guestPhysicalPages: 5 });
    expect('partial' in r).toBe(false);
    expect('overhead' in r).toBe(false);
    expect(toReport(s, { ...extra, partial: true }).partial).toBe(true);
  });
  it('overhead ratio = total cycles / native cycles', () => {
    expect(toReport(emptyRunStats, { ...extra, nativeCycles: 100 }).overhead).toEqual({ nativeCycles: 100, ratio: 0 });
    expect(withOverhead(r, 1269).overhead).toEqual({ nativeCycles: 1269, ratio: 8 });
  });
  it('an empty run has zero mean references per walk (no division by zero)', () => {
    expect(toReport(emptyRunStats, extra).translation.meanReferencesPerWalk).toBe(0);
  });
});
