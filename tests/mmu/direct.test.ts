// The direct path (src/mmu/direct.ts) is the one a replay chunk takes for its commonest accesses, and it gives what
// the reference walk gives; where it does not apply it changes nothing. (tests/mmu/translateFast.test.ts compares
// whole access sequences, in chunks, with the reference.)
import { gva as mkGva } from '../../src/arch/addr';
import type * as Phys from '../../src/arch/phys';
import { transient } from '../../src/arch/transient';
import * as Cost from '../../src/mmu/cost';
import { DIRECT_DONE, DIRECT_NO, DIRECT_TLB_MISS, translateDirect } from '../../src/mmu/direct';
import { fastOut } from '../../src/mmu/fastOut';
import * as Inv from '../../src/mmu/invalidate';
import * as NestedTlb from '../../src/mmu/nestedTlb';
import * as Tlb from '../../src/mmu/tlb';
import { translate, translateReference, type TranslateContext } from '../../src/mmu/translate';
import { defaultTlbConfig } from '../../src/mmu/tlbConfig';
import { eptCtx, eptMapAll, guestCfg, guestMap, newWorld } from './walk2dFixture';

const BASE = 0x7f00_0000_0000;
const PAGES = 24;
// small caches: L1 and STLB misses, PDE-cache and nested-TLB misses and evictions all happen over 24 pages
const GEOMETRY = {
  ...defaultTlbConfig, l1d4k: { entries: 4, ways: 2 }, stlb: { entries: 8, ways: 4 }, pde: { entries: 2, ways: 2 },
  nested: { entries: 2, ways: 2 },
};
const ctx: TranslateContext = { walk: { guest: guestCfg(false), ept: eptCtx(4, { ad: true }) }, vpid: 1, pcid: 0, pge: true, cost: Cost.defaultCost };
const addrOf = (p: number): number => BASE + (p % 8) * 0x1000 + Math.floor(p / 8) * 0x20_0000 + 8;

const contents = (c: Inv.MmuCaches) => ({
  tlb: Tlb.allEntries(c.tlb), psc: c.psc.arrays.flatMap(Tlb.entries), nested: Tlb.entries(c.nested as NestedTlb.NestedTlb),
});

/** 24 pages over three 2 MiB regions, mapped writable, with every accessed and dirty flag set by a first pass. */
const warmWorld = (): { c: Inv.MmuCaches; mem: Phys.PhysMem } => {
  let w = newWorld();
  const gpas: number[] = [];
  for (let p = 0; p < PAGES; p++) {
    w = guestMap(w, 4, addrOf(p), 0x0200_0000 + p * 0x1000, '4K', { writable: true, user: true, executable: true });
    gpas.push(0x0200_0000 + p * 0x1000);
  }
  w = eptMapAll(w, 4, '4K', gpas);
  let c = Inv.emptyCaches(GEOMETRY);
  let mem = w.mem;
  for (let p = 0; p < PAGES; p++) {
    const r = translateReference(c, mem, ctx, mkGva(addrOf(p)), { kind: 'write', user: true });
    c = r.caches;
    mem = r.mem;
  }
  return { c: Inv.emptyCaches(GEOMETRY), mem };
};

describe('direct path', () => {
  test('inside a chunk that owns the arrays, misses, STLB hits and L1 hits take it and equal the reference', () => {
    const { c: c0, mem } = warmWorld();
    const order = [0, 1, 2, 9, 17, 3, 0, 1, 10, 18, 23, 5, 5, 9, 0, 12, 20, 7, 1, 2];
    let ref = c0;
    let taken = 0;
    const levels = new Set<string>();
    transient(() => {
      // the chunk's first access copies every array it writes (translateFast's path): later ones may go direct
      let fast = translate(c0, mem, ctx, mkGva(addrOf(4)), { kind: 'read', user: true }).caches;
      ref = translateReference(ref, mem, ctx, mkGva(addrOf(4)), { kind: 'read', user: true }).caches;
      for (const p of order) {
        const acc = { kind: p % 3 === 0 ? ('write' as const) : ('read' as const), user: true };
        const rr = translateReference(ref, mem, ctx, mkGva(addrOf(p)), acc);
        if (translateDirect(fast, mem, ctx, addrOf(p), acc) !== DIRECT_DONE) {
          fast = translate(fast, mem, ctx, mkGva(addrOf(p)), acc).caches;
        } else {
          taken++;
          levels.add(String(fastOut.tlbLevel));
          expect(fastOut.hpa).toBe(rr.outcome._tag === 'translated' ? rr.outcome.hpa : NaN);
          expect(fastOut.stats).toEqual(rr.stats);
          expect(fastOut.tlbLevel).toBe(rr.tlbLevel);
          expect(fastOut.mem).toBe(mem);
          if (rr.outcome._tag === 'translated' && rr.outcome.walked !== undefined) {
            expect(fastOut.gpa).toBe(rr.outcome.walked.gpa);
            expect(Array.from(fastOut.tableGpas.subarray(0, fastOut.tableCount))).toEqual(rr.outcome.walked.tableGpas);
          }
          fast = fastOut.caches;
        }
        expect(contents(fast)).toEqual(contents(rr.caches));
        ref = rr.caches;
      }
    });
    // every access after the first copies found its arrays owned: all of them went direct, through all three levels
    expect(taken).toBe(order.length);
    expect([...levels].sort()).toEqual(['l1', 'null', 'stlb']);
  });

  test('it changes nothing and leaves the access to translateFast outside a chunk, on an accessed flag to set, on a fault (saying that both TLBs missed)', () => {
    const { c: c0, mem } = warmWorld();
    // outside any transient scope nothing is written in place
    expect(translateDirect(c0, mem, ctx, addrOf(0), { kind: 'read', user: true })).toBe(DIRECT_NO);
    let w = newWorld();
    w = guestMap(w, 4, addrOf(0), 0x0200_0000, '4K', { writable: true, user: true, executable: true });
    w = eptMapAll(w, 4, '4K', [0x0200_0000]);
    transient(() => {
      const c = translate(c0, mem, ctx, mkGva(addrOf(1)), { kind: 'read', user: true }).caches;
      const before = contents(c);
      // a fresh world: the guest entries' accessed flags are clear (the general walk sets them); both TLBs missed
      expect(translateDirect(c, w.mem, ctx, addrOf(0), { kind: 'read', user: true })).toBe(DIRECT_TLB_MISS);
      // an unmapped address: a guest page fault
      expect(translateDirect(c, mem, ctx, BASE + 0x4000_0000, { kind: 'read', user: true })).toBe(DIRECT_TLB_MISS);
      expect(contents(c)).toEqual(before);
    });
  });
});
