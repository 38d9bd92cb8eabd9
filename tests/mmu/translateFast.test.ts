// The fast TLB-miss path of translate (allocation-free walk for present, well-formed, already accessed/dirty entries)
// against the reference path (walk2d for every miss): same outcomes, statistics, cache contents and memory, over
// random worlds and access sequences that mix first touches (A/D flags to set), faults, EPT violations and re-walks.
import fc from 'fast-check';
import { gva as mkGva, hpa as mkHpa } from '../../src/arch/addr';
import * as Phys from '../../src/arch/phys';
import { transient } from '../../src/arch/transient';
import * as Cost from '../../src/mmu/cost';
import * as Inv from '../../src/mmu/invalidate';
import * as NestedTlb from '../../src/mmu/nestedTlb';
import * as Psc from '../../src/mmu/psc';
import * as Tlb from '../../src/mmu/tlb';
import { translate, translateReference, type TranslateContext, type TranslateResult } from '../../src/mmu/translate';
import { defaultTlbConfig } from '../../src/mmu/tlbConfig';
import * as EptBuild from '../../src/ept/build';
import { EPT_ROOT, GUEST_ROOT, OFF, eptCtx, eptMapAll, guestCfg, guestMap, newWorld } from './walk2dFixture';

const BASE = 0x7f00_0000_0000;
const PML_PAGE = 0x30_0000;
// small caches so that evictions, PSC misses and nested-TLB misses all happen
const SMALL = {
  ...defaultTlbConfig, l1d4k: { entries: 1, ways: 1 }, l1i4k: { entries: 1, ways: 1 }, stlb: { entries: 2, ways: 1 },
  pde: { entries: 2, ways: 2 }, pdpt: { entries: 2, ways: 2 }, nested: { entries: 4, ways: 2 },
};
// two ways per set: a re-walk of a page whose entry is still cached (a write through a clean entry) must replace that
// entry, not take the set's other way (the fills of the fast path skip that search only after a lookup found nothing)
const TWO_WAY = { ...SMALL, l1d4k: { entries: 2, ways: 2 }, l1i4k: { entries: 2, ways: 2 }, stlb: { entries: 4, ways: 2 } };
// a one-entry nested TLB and no PDE cache: a walk reads a PDE whose page the nested TLB lost and a PTE whose page it
// holds, so the fill of the first evicts the second (which must then be filled again, not assumed present)
const NESTED_ONE = { ...SMALL, pde: { entries: 0, ways: 1 }, nested: { entries: 1, ways: 1 } };

const caches = (c: Inv.MmuCaches) => ({
  tlb: Tlb.allEntries(c.tlb), psc: c.psc.arrays.flatMap(Tlb.entries), nested: Tlb.entries(c.nested as NestedTlb.NestedTlb),
});
const same = (a: TranslateResult, b: TranslateResult): void => {
  expect(a.outcome).toEqual(b.outcome);
  expect(a.stats).toEqual(b.stats);
  expect(a.tlbLevel).toBe(b.tlbLevel);
  expect(a.pmlIndex).toBe(b.pmlIndex);
  expect(caches(a.caches)).toEqual(caches(b.caches));
};

// The entries a translation leaves have the shape the EPT-violation invalidation probes for (invalidate.ts
// `mayHoldViolated`, which skips an array where its probe finds nothing): guest-physical entries carry VPID 0 and
// PCID 0, and the nested TLB holds guest-physical entries only.
const probedShapes = (c: Inv.MmuCaches): void => {
  for (const e of Tlb.entries(c.nested as NestedTlb.NestedTlb)) expect([e.kind, e.vpid, e.pcid]).toEqual([Tlb.KIND_GPA, 0, 0]);
  for (const e of Tlb.allEntries(c.tlb)) if (e.kind === Tlb.KIND_GPA) expect([e.vpid, e.pcid]).toEqual([0, 0]);
};

const access = fc.record({
  page: fc.integer({ min: 0, max: 11 }),
  off: fc.integer({ min: 0, max: 511 }),
  kind: fc.constantFrom('read' as const, 'read' as const, 'write' as const, 'fetch' as const),
  user: fc.constantFrom(true, true, false),
});

describe('translate: the fast miss path equals the reference walk', () => {
  test.each([
    ['EPT 4-level, A/D off', false, 4, false, -1],
    ['EPT 4-level, A/D on', true, 4, false, -1],
    ['EPT 4-level, A/D on, PML with room for 3 entries (then PML full)', true, 4, false, 2],
    ['EPT 5-level over LA57 guest, A/D on', true, 5, true, -1],
    ['EPT off (native)', false, 0, false, -1],
    ['EPT 4-level, A/D on, two-way L1 and STLB', true, 4, false, -1, TWO_WAY],
    ['EPT off (native), two-way L1 and STLB', false, 0, false, -1, TWO_WAY],
    ['EPT 4-level, A/D on, one-entry nested TLB, no PDE cache', true, 4, false, -1, NESTED_ONE],
  ] as const)('%s', (_name, ad, eptLevels, la57, pmlIndex, geometry: typeof SMALL = SMALL) => {
    fc.assert(fc.property(
      fc.array(access, { minLength: 40, maxLength: 120 }),
      fc.array(fc.constantFrom(true, true, true, false), { minLength: 12, maxLength: 12 }),
      fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
      fc.boolean(),
      fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }),
      (accesses, mapped, writable, roTable, chunks) => {
        // pages 0-11 over three 2 MiB regions: some mapped (some read-only, supervisor-only), some not (guest #PF);
        // EPT maps every mapped page but the last one (EPT violation on the data page)
        let w = newWorld();
        const data: number[] = [];
        for (let p = 0; p < 12; p++) {
          if (!mapped[p]) continue;
          const gva = BASE + (p % 4) * 0x1000 + Math.floor(p / 4) * 0x20_0000;
          const gpa = 0x0200_0000 + p * 0x1000;
          w = guestMap(w, la57 ? 5 : 4, gva, gpa, '4K', { writable: writable[p], user: p % 3 !== 2, executable: p % 2 === 0 });
          if (p !== 11 && p % 5 !== 3) data.push(gpa);
        }
        w = eptMapAll(w, eptLevels === 5 ? 5 : 4, '4K', data);
        // pages 3 and 8: read-only and not executable in EPT (an EPT violation on a write or a fetch)
        for (const p of [3, 8]) {
          if (!mapped[p]) continue;
          const gpa = 0x0200_0000 + p * 0x1000;
          const r = EptBuild.eptMap(w.mem, w.eptAlloc, EPT_ROOT, eptLevels === 5 ? 5 : 4, gpa, gpa + OFF, '4K', { r: true, w: false, x: false, ux: false });
          w = { ...w, mem: r.mem, eptAlloc: r.alloc };
        }
        if (roTable && eptLevels !== 0) {
          // the last guest table page read-only in EPT: guest A/D writes to it (EPT A/D off) are EPT violations
          const t = w.guestPages[w.guestPages.length - 1];
          const r = EptBuild.eptMap(w.mem, w.eptAlloc, EPT_ROOT, eptLevels === 5 ? 5 : 4, t, t + OFF, '4K', { r: true, w: false, x: false, ux: false });
          w = { ...w, mem: r.mem, eptAlloc: r.alloc };
        }
        let ctx: TranslateContext = {
          walk: {
            guest: guestCfg(la57),
            ept: eptLevels === 0 ? null : eptCtx(eptLevels === 5 ? 5 : 4, { ad, ...(pmlIndex >= 0 ? { pml: { address: mkHpa(PML_PAGE), index: pmlIndex } } : {}) }),
            advancedInfo: true,
          },
          vpid: 1, pcid: 0, pge: true, cost: Cost.defaultCost,
        };
        // native: the guest tables are read at GPA = HPA, so give the native run its tables at GPA (no offset)
        const mem0 = eptLevels === 0 ? nativeCopy(w.mem) : w.mem;
        let fast: { c: Inv.MmuCaches; mem: Phys.PhysMem; pml?: number } = { c: Inv.emptyCaches(geometry), mem: mem0 };
        let ref: { c: Inv.MmuCaches; mem: Phys.PhysMem; pml?: number } = { c: Inv.emptyCaches(geometry), mem: mem0 };
        const step = (a: (typeof accesses)[number]): void => {
          // the PML index a walk leaves is the next walk's (as memoryAccess keeps it in the guest state)
          const pml = ctx.walk.ept?.pml;
          if (pml !== undefined) {
            const index = fast.pml ?? pml.index;
            ctx = { ...ctx, walk: { ...ctx.walk, ept: { ...ctx.walk.ept!, pml: { address: pml.address, index } } } };
          }
          const gva = mkGva(BASE + (a.page % 4) * 0x1000 + Math.floor(a.page / 4) * 0x20_0000 + a.off * 8);
          const acc = { kind: a.kind, user: a.user };
          const rf = translate(fast.c, fast.mem, ctx, gva, acc);
          const rr = translateReference(ref.c, ref.mem, ctx, gva, acc);
          same(rf, rr);
          probedShapes(rf.caches);
          fast = { c: rf.caches, mem: rf.mem, pml: rf.pmlIndex };
          ref = { c: rr.caches, mem: rr.mem, pml: rr.pmlIndex };
        };
        // the fast path writes in place inside a transient scope, as in a replay chunk: the accesses run in chunks of
        // the given lengths, one scope each (the first write of a chunk copies an array, the later ones write it in
        // place, which is when src/mmu/direct.ts takes over)
        for (let i = 0, k = 0; i < accesses.length; k++) {
          const len = chunks[k % chunks.length];
          const part = accesses.slice(i, i + len);
          transient(() => part.forEach(step));
          i += len;
        }
        expect(dump(fast.mem)).toEqual(dump(ref.mem));
      },
    ), { numRuns: 60 });
  });

  test('a walk whose guest entries share one page (a recursive PML4 entry) fills the nested TLB once for it, as the reference does', () => {
    // PML4E 0x1f3 points at the PML4 itself: every level of the walk of this address reads an entry of that page
    const k = 0x1f3;
    let w = newWorld();
    w = guestMap(w, 4, BASE, 0x0200_0000, '4K', { writable: true, user: true, executable: true });
    w = { ...w, mem: Phys.write64Parts(w.mem, GUEST_ROOT + OFF + 8 * k, (GUEST_ROOT | 0x67) >>> 0, 0) };
    w = eptMapAll(w, 4, '4K', [0x0200_0000]);
    const addr = mkGva(k * 2 ** 39 + k * 2 ** 30 + k * 2 ** 21 + k * 2 ** 12 + 8);
    const ctx: TranslateContext = {
      walk: { guest: guestCfg(false), ept: eptCtx(4, { ad: true }), advancedInfo: true }, vpid: 1, pcid: 0, pge: true, cost: Cost.defaultCost,
    };
    const geometry = { ...SMALL, nested: { entries: 4, ways: 4 } };
    // the first access sets the accessed flags (the general walk); the later ones take the fast path, each from empty
    // caches (so the walk meets the shared page four times in the nested TLB without finding it)
    let fast = { c: Inv.emptyCaches(geometry), mem: w.mem };
    let ref = { c: Inv.emptyCaches(geometry), mem: w.mem };
    for (let i = 0; i < 3; i++) {
      fast = { ...fast, c: Inv.emptyCaches(geometry) };
      ref = { ...ref, c: Inv.emptyCaches(geometry) };
      const rf = transient(() => translate(fast.c, fast.mem, ctx, addr, { kind: 'read', user: false }));
      const rr = translateReference(ref.c, ref.mem, ctx, addr, { kind: 'read', user: false });
      same(rf, rr);
      expect(rf.outcome._tag).toBe('translated');
      expect(Tlb.entries(rf.caches.nested as NestedTlb.NestedTlb).filter((e) => e.key === GUEST_ROOT / 4096)).toHaveLength(1);
      fast = { c: rf.caches, mem: rf.mem };
      ref = { c: rr.caches, mem: rr.mem };
    }
  });

  test('a write that sets an EPT dirty flag logs the page to the PML (SDM "Page-Modification Logging"), as the reference does', () => {
    let w = newWorld();
    w = guestMap(w, 4, BASE, 0x0200_0000, '4K', { writable: true, user: true, executable: true });
    w = eptMapAll(w, 4, '4K', [0x0200_0000]);
    const ctxAt = (index: number): TranslateContext => ({
      walk: { guest: guestCfg(false), ept: eptCtx(4, { ad: true, pml: { address: mkHpa(PML_PAGE), index } }) },
      vpid: 1, pcid: 0, pge: true, cost: Cost.defaultCost,
    });
    const tiny = { ...SMALL, l1d4k: { entries: 1, ways: 1 }, stlb: { entries: 1, ways: 1 } };
    // a read first (A flags set, no D), so that the write walks with every A set and only D to set
    const r0 = translateReference(Inv.emptyCaches(tiny), w.mem, ctxAt(511), mkGva(BASE), { kind: 'read', user: true });
    const write = { kind: 'write' as const, user: true };
    const rf = transient(() => translate(r0.caches, r0.mem, ctxAt(r0.pmlIndex!), mkGva(BASE + 8), write));
    const rr = translateReference(r0.caches, r0.mem, ctxAt(r0.pmlIndex!), mkGva(BASE + 8), write);
    same(rf, rr);
    expect(rf.pmlIndex).toBe(r0.pmlIndex! - 1);
    expect(dump(rf.mem)).toEqual(dump(rr.mem));
    expect(Phys.read64Lo(rf.mem, PML_PAGE + 8 * r0.pmlIndex!)).toBe(0x0200_0000);
  });

  test('the fast path is taken: a second walk of an accessed page reads the same references without walk2d', () => {
    let w = newWorld();
    for (let p = 0; p < 64; p++) w = guestMap(w, 4, BASE + p * 0x1000, 0x0200_0000 + p * 0x1000, '4K', { writable: true, user: true, executable: true });
    w = eptMapAll(w, 4, '4K', Array.from({ length: 64 }, (_, p) => 0x0200_0000 + p * 0x1000));
    const ctx: TranslateContext = { walk: { guest: guestCfg(false), ept: eptCtx(4, { ad: true }) }, vpid: 1, pcid: 0, pge: true, cost: Cost.defaultCost };
    const tiny = { ...SMALL, l1d4k: { entries: 1, ways: 1 }, stlb: { entries: 1, ways: 1 } };
    let c = Inv.emptyCaches(tiny);
    let mem = w.mem;
    // first pass sets every A flag (memory changes), second pass changes no memory: the fast path's case
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < 64; p++) {
        const r = translate(c, mem, ctx, mkGva(BASE + p * 0x1000), { kind: 'read', user: true });
        expect(r.outcome._tag).toBe('translated');
        if (pass === 1) expect(r.mem).toBe(mem);
        c = r.caches;
        mem = r.mem;
      }
    }
    expect(Psc.lookup(c.psc, 4, BASE, 1, 0, 0x100)).toBeGreaterThanOrEqual(0);
  });
});

/** Every non-zero 64-bit word of the pages the tests use (EPT tables, guest tables and data at both offsets). */
function dump(mem: Phys.PhysMem): string[] {
  const out: string[] = [];
  for (const [from, n] of [[0x100, 0x300], [0x1000, 0x1100], [0x4_1000, 0x1100]] as const) {
    for (let pfn = from; pfn < from + n; pfn++) {
      const p = Phys.page(mem, pfn);
      if (p === undefined) continue;
      for (let i = 0; i < 1024; i += 2) if (p[i] !== 0 || p[i + 1] !== 0) out.push(`${pfn}:${i}:${p[i]}:${p[i + 1]}`);
    }
  }
  return out;
}

/** The world's guest memory moved to GPA = HPA (for EPT off): every page at HPA >= OFF copied down by OFF. */
function nativeCopy(mem: Phys.PhysMem): Phys.PhysMem {
  let m = Phys.empty;
  for (let pfn = 0x4_0000; pfn < 0x4_0000 + 0x1_0000; pfn++) {
    const p = Phys.page(mem, pfn);
    if (p === undefined) continue;
    for (let i = 0; i < 1024; i += 2) if (p[i] !== 0 || p[i + 1] !== 0) m = Phys.write64Parts(m, (pfn - 0x4_0000) * 4096 + i * 4, p[i], p[i + 1]);
  }
  return m;
}
