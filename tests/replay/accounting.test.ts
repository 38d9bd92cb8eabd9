/**
 * What a replayed chunk counts (src/replay/replay.ts: the translation statistics tallied by statistics object, the
 * cycles in event order unless the cost model's prices are integers, the refs histogram, the distinct guest-virtual
 * and guest-physical pages asked of the state's sets before they are pushed, the walk's table pages skipped by level)
 * against the same accesses made one by one through the general path (src/vmx/step.ts memoryAccess), its statistics
 * combined in event order and its pages collected in a Set.
 */
import fc from 'fast-check';
import { isRight } from 'fp-ts/Either';
import { gva as mkGva } from '../../src/arch/addr';
import type { MemoryAccess } from '../../src/guest/events';
import * as Cost from '../../src/mmu/cost';
import { DEFAULT_CONFIG, type Config } from '../../src/replay/config';
import { hasPage } from '../../src/replay/pageSet';
import { replayChunk, startReplay, type ReplayState } from '../../src/replay/replay';
import { memoryAccess } from '../../src/vmx/step';

// small TLBs (every few accesses walk) and the default paging-structure caches (walks of several lengths)
const SMALL_TLB = { l1d4k: { entries: 4, ways: 2 }, l1i4k: { entries: 4, ways: 2 }, stlb: { entries: 8, ways: 2 } };
// prices that are not integers: their sums depend on the order of the additions
const FRACTIONS = { l1Hit: 0.1, stlbHit: 0.7, guestRef: 1.3, nestedRef: 2.9, pscHit: 0.3, nestedTlbHit: 0.1, walkStart: 0.05 };

const BASES = [0x400000, 0x7fff_0000_0000, 0x1_0000_0000, 0x40_0000_0000];
const PAGES = 41;

/** A state whose guest has mapped every page the accesses below touch (the first touches are in a chunk of their own). */
const warmState = (cost: Config['cost']): ReplayState => {
  const s = startReplay({ ...DEFAULT_CONFIG, tlb: SMALL_TLB, cost });
  if (!isRight(s)) throw new Error(JSON.stringify(s.left));
  const warm: MemoryAccess[] = [];
  for (const base of BASES) for (let p = 0; p <= PAGES; p++) warm.push({ op: 'read', gva: mkGva(base + p * 0x1000), size: 1, user: true });
  return replayChunk(s.right, warm).state;
};
const WARM = { integers: warmState({}), fractions: warmState(FRACTIONS) };

// accesses within a page and across a page boundary (two lookups: statistics combined into a new object, one per access)
const arbAccess: fc.Arbitrary<MemoryAccess> = fc.record({
  op: fc.constantFrom('read' as const, 'write' as const, 'fetch' as const),
  base: fc.constantFrom(...BASES),
  page: fc.integer({ min: 0, max: PAGES - 1 }),
  offset: fc.oneof(fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 4090, max: 4095 })),
  size: fc.constantFrom(1, 8),
}).map((a) => ({ op: a.op, gva: mkGva(a.base + a.page * 0x1000 + a.offset), size: a.size, user: true }));

/** What the chunk should count: the accesses made one by one from the state's machine. */
const expected = (s: ReplayState, evs: readonly MemoryAccess[]): { translation: Cost.TranslationStats; hist: Record<string, number>; gva: Set<number>; gpa: Set<number> } => {
  let m = s.machine;
  let translation = Cost.emptyStats;
  const hist: Record<string, number> = { ...s.stats.refsHistogram };
  const gva = new Set<number>();
  const gpa = new Set<number>();
  for (const ev of evs) {
    const r = memoryAccess(s.env, m, ev);
    expect(r.outcome).toEqual({ result: 'passthrough' });
    translation = Cost.combine(translation, r.translation);
    const t = r.translation;
    if (t.walks > 0) {
      const refs = String(Math.round((t.guestRefs + t.nestedRefs) / t.walks));
      hist[refs] = (hist[refs] ?? 0) + t.walks;
    }
    const a = ev.gva as number;
    for (let p = Math.floor(a / 4096); p <= Math.floor((a + ev.size - 1) / 4096); p++) gva.add(p);
    for (const p of r.touchedGpaPages) gpa.add(p);
    m = r.machine;
  }
  return { translation: Cost.combine(s.stats.translation, translation), hist, gva, gpa };
};

const distinctAfter = (before: ReplayState['gvaPages'], pages: Set<number>): number => before.size + [...pages].filter((p) => !hasPage(before, p)).length;

describe('what a chunk counts', () => {
  // chunks long enough to hold more page-crossing accesses than the tally has places (TALLY_SIZE, 16); with prices of
  // fractions, long enough that the sum of the chunk's cycles in another order (counted by statistics object) differs
  // in the last bits of the total (its share of the total is large)
  for (const [kind, minLength, maxLength, numRuns] of [['integers', 40, 150, 60], ['fractions', 400, 800, 12]] as const) {
    it(`prices of ${kind}: the statistics, histogram and distinct pages of the accesses made one by one`, () => {
      const s = WARM[kind];
      let walks = 0;
      let mostCrossing = 0;
      fc.assert(fc.property(fc.array(arbAccess, { minLength, maxLength, size: 'max' }), (evs) => {
        const e = expected(s, evs);
        const after = replayChunk(s, evs).state;
        expect(after.stats.translation).toEqual(e.translation);
        expect(after.stats.refsHistogram).toEqual(e.hist);
        expect(after.gvaPages.size).toBe(distinctAfter(s.gvaPages, e.gva));
        expect(after.gpaPages.size).toBe(distinctAfter(s.gpaPages, e.gpa));
        for (const p of e.gva) expect(hasPage(after.gvaPages, p)).toBe(true);
        for (const p of e.gpa) expect(hasPage(after.gpaPages, p)).toBe(true);
        walks += e.translation.walks - s.stats.translation.walks;
        mostCrossing = Math.max(mostCrossing, evs.filter((ev) => ((ev.gva as number) & 0xfff) + ev.size > 0x1000).length);
      }), { numRuns });
      expect(walks).toBeGreaterThan(0);
      // some chunk had more page-crossing accesses (a new statistics object each) than the tally has places
      expect(mostCrossing).toBeGreaterThan(16);
    });
  }

  const NEW = 0x100_0000;
  it('pages the state\'s sets lack are added (the first touches of a chunk), and the older state keeps its sets', () => {
    const s = WARM.integers;
    const evs: MemoryAccess[] = [];
    // pages never touched: each faults once and the guest OS maps it; their numbers are guest-physical pages the
    // state has (frames and tables are allocated from 16 MiB up): only the guest-virtual set may answer for them
    for (let p = 0; p < 30; p++) evs.push({ op: 'write', gva: mkGva(NEW + p * 0x1000 + 8), size: 8, user: true });
    for (let p = 0; p < 30; p++) evs.push({ op: 'read', gva: mkGva(NEW + p * 0x1000 + 16), size: 8, user: true });
    for (let p = 0; p < 30; p++) expect(hasPage(s.gpaPages, NEW / 0x1000 + p)).toBe(true);
    const gvaBefore = s.gvaPages.size;
    const gpaBefore = s.gpaPages.size;
    const after = replayChunk(s, evs).state;
    expect(after.gvaPages.size).toBe(gvaBefore + 30);
    // each page a fresh frame, plus the table pages of a new region (at least a page table)
    expect(after.gpaPages.size).toBeGreaterThan(gpaBefore + 30);
    for (let p = 0; p < 30; p++) expect(hasPage(after.gvaPages, NEW / 0x1000 + p)).toBe(true);
    expect(s.gvaPages.size).toBe(gvaBefore);
    expect(s.gpaPages.size).toBe(gpaBefore);
    for (let p = 0; p < 30; p++) expect(hasPage(s.gvaPages, NEW / 0x1000 + p)).toBe(false);
  });
});
