import fc from 'fast-check';
import { gva as mkGva } from '../../src/arch/addr';
import * as EptBuild from '../../src/ept/build';
import * as Cost from '../../src/mmu/cost';
import * as Inv from '../../src/mmu/invalidate';
import { translate, type TranslateContext } from '../../src/mmu/translate';
import { defaultTlbConfig } from '../../src/mmu/tlbConfig';
import { EPT_ROOT, OFF, RWXU, eptCtx, eptMapAll, guestCfg, guestMap, newWorld } from './walk2dFixture';

const GVA = 0x7f12_3456_7000;
const DATA = 0x0110_0000;
const DATA2 = 0x0111_0000;
const DATA3 = 0x0112_0000;
const EP4TA = EPT_ROOT / 4096;

const world = () => {
  let w = guestMap(newWorld(), 4, GVA, DATA, '4K', RWXU);
  w = guestMap(w, 4, GVA + 0x1000, DATA2, '4K', RWXU);
  w = guestMap(w, 4, GVA + 0x20_0000, DATA3, '4K', RWXU);
  w = eptMapAll(w, 4, '4K', [DATA, DATA2, DATA3]);
  return w;
};
const ctx = (vpid = 1): TranslateContext => ({
  walk: { guest: guestCfg(false), ept: eptCtx(4) }, vpid, pcid: 0, pge: true, cost: Cost.defaultCost,
});
const read = { kind: 'read' as const, user: true };

describe('translate: L1 -> STLB -> two-dimensional walk (SDM 28.3.2 "Creating and Using Cached Translation Information")', () => {
  test('a cold access walks 4 guest + 20 nested references and costs 1 + 9 + 24 x 14 cycles', () => {
    const w = world();
    const r = translate(Inv.emptyCaches(defaultTlbConfig), w.mem, ctx(), mkGva(GVA + 0x18), read);
    expect(r.outcome).toMatchObject({ _tag: 'translated', hpa: DATA + OFF + 0x18, pageSize: 4096 });
    expect(r.tlbLevel).toBeNull();
    expect([r.stats.guestRefs, r.stats.nestedRefs, r.stats.walks]).toEqual([4, 20, 1]);
    expect(r.stats.cycles).toBe(1 + 9 + 24 * 14);
  });

  test('a second access to the same page hits the L1 DTLB: no references, 1 cycle', () => {
    const w = world();
    const r1 = translate(Inv.emptyCaches(defaultTlbConfig), w.mem, ctx(), mkGva(GVA), read);
    const r2 = translate(r1.caches, r1.mem, ctx(), mkGva(GVA + 0xff0), read);
    expect(r2.tlbLevel).toBe('l1');
    expect(r2.outcome).toEqual({ _tag: 'translated', hpa: DATA + OFF + 0xff0, pageSize: 4096 });
    expect([r2.stats.guestRefs, r2.stats.nestedRefs, r2.stats.cycles]).toEqual([0, 0, 1]);
  });

  test('a fetch after a read misses the ITLB and hits the STLB (1 + 9 cycles)', () => {
    const w = world();
    const r1 = translate(Inv.emptyCaches(defaultTlbConfig), w.mem, ctx(), mkGva(GVA), read);
    const r2 = translate(r1.caches, r1.mem, ctx(), mkGva(GVA), { kind: 'fetch', user: true });
    expect(r2.tlbLevel).toBe('stlb');
    expect(r2.stats.cycles).toBe(10);
    const r3 = translate(r2.caches, r2.mem, ctx(), mkGva(GVA), { kind: 'fetch', user: true });
    expect(r3.tlbLevel).toBe('l1');
  });

  test('an STLB hit on a way other than the most recent one fills the L1 with that entry (not its neighbour)', () => {
    // one L1 DTLB entry, one STLB set of two ways: GVA and GVA + 4 KiB both live in the STLB, only the last in the L1
    const tiny = { ...defaultTlbConfig, l1d4k: { entries: 1, ways: 1 }, stlb: { entries: 2, ways: 2 } };
    const w = world();
    const r1 = translate(Inv.emptyCaches(tiny), w.mem, ctx(), mkGva(GVA), read);
    const r2 = translate(r1.caches, r1.mem, ctx(), mkGva(GVA + 0x1000), read);
    const r3 = translate(r2.caches, r2.mem, ctx(), mkGva(GVA + 8), read);
    expect(r3.tlbLevel).toBe('stlb');
    expect(r3.outcome).toEqual({ _tag: 'translated', hpa: DATA + OFF + 8, pageSize: 4096 });
    const r4 = translate(r3.caches, r3.mem, ctx(), mkGva(GVA + 16), read);
    expect(r4.tlbLevel).toBe('l1');
    expect(r4.outcome).toEqual({ _tag: 'translated', hpa: DATA + OFF + 16, pageSize: 4096 });
  });

  test('SDM 4.10.3 PDE cache: another page of the same 2 MiB region reads only the PTE; its table page hits the nested TLB', () => {
    const w = world();
    const r1 = translate(Inv.emptyCaches(defaultTlbConfig), w.mem, ctx(), mkGva(GVA), read);
    const r2 = translate(r1.caches, r1.mem, ctx(), mkGva(GVA + 0x1000), read);
    expect(r2.outcome).toMatchObject({ _tag: 'translated', hpa: DATA2 + OFF });
    // PTE read (1 guest), its page from the nested TLB, final GPA through 4 EPT levels
    expect([r2.stats.guestRefs, r2.stats.nestedRefs, r2.stats.nestedTlbHits]).toEqual([1, 4, 1]);
    expect(r2.stats.pscHits).toEqual([1, 0, 0, 0]);
    expect(r2.stats.cycles).toBe(1 + 9 + 1 * 14 + 4 * 14 + 1 + 1);
  });

  test('SDM 4.10.3 PDPTE cache: another 2 MiB region of the same 1 GiB reads PDE + PTE; the new page table walks EPT', () => {
    const w = world();
    const r1 = translate(Inv.emptyCaches(defaultTlbConfig), w.mem, ctx(), mkGva(GVA), read);
    const r2 = translate(r1.caches, r1.mem, ctx(), mkGva(GVA + 0x20_0000), read);
    expect(r2.outcome).toMatchObject({ _tag: 'translated', hpa: DATA3 + OFF });
    // PD page: nested-TLB hit; the new PT page: 4 EPT reads; the final GPA: 4 EPT reads
    expect([r2.stats.guestRefs, r2.stats.nestedRefs, r2.stats.nestedTlbHits]).toEqual([2, 8, 1]);
    expect(r2.stats.pscHits).toEqual([0, 1, 0, 0]);
  });

  test('a write through an entry cached by a read (guest D = 0) re-walks to set the dirty flag; the next write hits', () => {
    const w = world();
    const r1 = translate(Inv.emptyCaches(defaultTlbConfig), w.mem, ctx(), mkGva(GVA), read);
    const wr = { kind: 'write' as const, user: true };
    const r2 = translate(r1.caches, r1.mem, ctx(), mkGva(GVA), wr);
    expect(r2.tlbLevel).toBeNull();
    const r3 = translate(r2.caches, r2.mem, ctx(), mkGva(GVA), wr);
    expect(r3.tlbLevel).toBe('l1');
  });
});

describe('stale translations (SDM 28.3.3 "Invalidating Cached Translation Information")', () => {
  /** remap the data GPA to another host page: what a hypervisor does when it migrates a page */
  const remap = (mem: ReturnType<typeof world>['mem'], alloc: EptBuild.FrameAlloc) =>
    EptBuild.eptMap(mem, alloc, EPT_ROOT, 4, DATA, 0x7700_0000, '4K', { r: true, w: true, x: true, ux: true }).mem;

  test('without invalidation a changed EPT entry is not seen; after INVEPT single-context the walk sees it', () => {
    const w = world();
    const r1 = translate(Inv.emptyCaches(defaultTlbConfig), w.mem, ctx(), mkGva(GVA), read);
    const mem = remap(r1.mem, w.eptAlloc);
    const stale = translate(r1.caches, mem, ctx(), mkGva(GVA + 4), read);
    expect(stale.outcome).toMatchObject({ hpa: DATA + OFF + 4 });
    const fresh = translate(Inv.apply(stale.caches, { kind: 'ept-single', ep4ta: EP4TA }), mem, ctx(), mkGva(GVA + 4), read);
    expect(fresh.tlbLevel).toBeNull();
    expect(fresh.outcome).toMatchObject({ hpa: 0x7700_0004 });
  });

  test('INVVPID single-context for the current VPID makes the access walk again; for another VPID it does not', () => {
    const w = world();
    const r1 = translate(Inv.emptyCaches(defaultTlbConfig), w.mem, ctx(1), mkGva(GVA), read);
    const mem = remap(r1.mem, w.eptAlloc);
    const other = translate(Inv.apply(r1.caches, { kind: 'vpid-single', vpid: 2 }), mem, ctx(1), mkGva(GVA), read);
    expect(other.tlbLevel).toBe('l1');
    expect(other.outcome).toMatchObject({ hpa: DATA + OFF });
    const mine = translate(Inv.apply(r1.caches, { kind: 'vpid-single', vpid: 1 }), mem, ctx(1), mkGva(GVA), read);
    expect(mine.tlbLevel).toBeNull();
    expect(mine.outcome).toMatchObject({ hpa: 0x7700_0000 });
  });

  test('SDM 28.3.3.1: with VPID off (VPID 0) a VM entry/exit flush makes the next access walk', () => {
    const w = world();
    const r1 = translate(Inv.emptyCaches(defaultTlbConfig), w.mem, ctx(0), mkGva(GVA), read);
    const r2 = translate(Inv.vmEntryExitFlush(r1.caches), r1.mem, ctx(0), mkGva(GVA), read);
    expect(r2.tlbLevel).toBeNull();
    expect(r2.stats.walks).toBe(1);
  });

  test('property: any sequence of reads of the page after an unflushed EPT change returns the old host address', () => {
    const w = world();
    const r1 = translate(Inv.emptyCaches(defaultTlbConfig), w.mem, ctx(), mkGva(GVA), read);
    const mem = remap(r1.mem, w.eptAlloc);
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 4095 }), { minLength: 1, maxLength: 20 }), (offs) => {
      let c = r1.caches;
      for (const o of offs) {
        const r = translate(c, mem, ctx(), mkGva(GVA + o), read);
        expect(r.outcome).toMatchObject({ hpa: DATA + OFF + o });
        c = r.caches;
      }
    }));
  });

  test('the TLB-hit path runs with BigInt removed (style rule 7)', () => {
    const w = world();
    const r1 = translate(Inv.emptyCaches(defaultTlbConfig), w.mem, ctx(), mkGva(GVA), read);
    const saved = globalThis.BigInt;
    (globalThis as { BigInt: unknown }).BigInt = () => { throw new Error('BigInt on the hit path'); };
    try {
      let c = r1.caches;
      for (let i = 0; i < 100; i++) c = translate(c, r1.mem, ctx(), mkGva(GVA + i), read).caches;
    } finally {
      globalThis.BigInt = saved;
    }
  });

  test('stats of a run fold with the monoid: accesses = L1 hits + STLB hits + walks', () => {
    const w = world();
    let c = Inv.emptyCaches(defaultTlbConfig);
    let mem = w.mem;
    let total = Cost.emptyStats;
    for (const a of [GVA, GVA + 8, GVA + 0x1000, GVA, GVA + 0x20_0000]) {
      const r = translate(c, mem, ctx(), mkGva(a), read);
      c = r.caches; mem = r.mem; total = Cost.combine(total, r.stats);
    }
    expect([total.accesses, total.l1Hits, total.stlbHits, total.walks]).toEqual([5, 2, 0, 3]);
    expect(total.maxRefsPerWalk).toBe(24);
  });
});
