// The direct path (src/mmu/direct.ts) is the one a replay chunk takes for its commonest accesses, and it gives what
// the reference walk gives; where it does not apply it changes nothing. (tests/mmu/translateFast.test.ts compares
// whole access sequences, in chunks, with the reference.)
import { gva as mkGva } from '../../src/arch/addr';
import * as Phys from '../../src/arch/phys';
import { transient } from '../../src/arch/transient';
import * as Cost from '../../src/mmu/cost';
import { DIRECT_DONE, DIRECT_FAULT, DIRECT_NO, DIRECT_TLB_MISS, DIRECT_VIOLATION, translateDirect } from '../../src/mmu/direct';
import { fastOut } from '../../src/mmu/fastOut';
import * as Inv from '../../src/mmu/invalidate';
import * as NestedTlb from '../../src/mmu/nestedTlb';
import * as Tlb from '../../src/mmu/tlb';
import { directResult, translate, translateReference, type TranslateContext } from '../../src/mmu/translate';
import { defaultTlbConfig } from '../../src/mmu/tlbConfig';
import { EPT_ROOT, eptCtx, eptMapAll, guestCfg, guestMap, newWorld, OFF, RWXU } from './walk2dFixture';

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

  test('it changes nothing and leaves the access to translateFast outside a chunk, and on a large guest page (saying that both TLBs missed)', () => {
    const { c: c0, mem } = warmWorld();
    // outside any transient scope nothing is written in place
    expect(translateDirect(c0, mem, ctx, addrOf(0), { kind: 'read', user: true })).toBe(DIRECT_NO);
    // a 2 MiB guest page (another world, under a PML4 entry of its own: the caches hold nothing of its walk)
    const large = BASE + 2 ** 39;
    let w = newWorld();
    w = guestMap(w, 4, large, 0x0200_0000, '2M', RWXU);
    w = eptMapAll(w, 4, '2M', [0x0200_0000]);
    const mem1 = translateReference(Inv.emptyCaches(GEOMETRY), w.mem, ctx, mkGva(large), { kind: 'write', user: true }).mem;
    transient(() => {
      const c = translate(c0, mem, ctx, mkGva(addrOf(1)), { kind: 'read', user: true }).caches;
      const before = contents(c);
      expect(translateDirect(c, mem1, ctx, large + 0x1000, { kind: 'read', user: true })).toBe(DIRECT_TLB_MISS);
      expect(contents(c)).toEqual(before);
    });
  });

  test('a first touch: it meets the guest page faults and the EPT violation, then sets the guest and EPT accessed and dirty flags, as the reference does', () => {
    // a fresh world (no flag set): pages 0-4 and 8 (the next 2 MiB) mapped, page 4 read-only; pages 5 and 9 not
    // EPT-mapped; pages 6 and 16 (the 2 MiB after) and the next 512 GiB not mapped
    let w = newWorld();
    const gpas: number[] = [];
    for (const p of [0, 1, 2, 3, 4, 5, 8, 9]) {
      w = guestMap(w, 4, addrOf(p), 0x0200_0000 + p * 0x1000, '4K', { writable: p !== 4, user: true, executable: true });
      if (p !== 5 && p !== 9) gpas.push(0x0200_0000 + p * 0x1000);
    }
    w = eptMapAll(w, 4, '4K', gpas);
    // pages 2 and 8 read with caches of their own: their accessed flags are set, their dirty flags are not (a page
    // table's first use sets its EPT flags: translateFast's path)
    let mem0 = w.mem;
    for (const p of [2, 8]) mem0 = translateReference(Inv.emptyCaches(GEOMETRY), mem0, ctx, mkGva(addrOf(p)), { kind: 'read', user: true }).mem;
    // the guest tables (at GPA + OFF) and the EPT tables, word by word
    const tables = (m: Phys.PhysMem): number[][] => [
      ...w.guestPages.map((g) => g + OFF),
      ...Array.from({ length: (w.eptAlloc.next - EPT_ROOT) / 4096 }, (_, i) => EPT_ROOT + i * 4096),
    ].map((a) => Array.from(Phys.page(m, a / 4096) ?? []));
    // [address, access, result, flags set]
    const steps: ReadonlyArray<readonly [number, 'read' | 'write', number, boolean?]> = [
      [addrOf(6), 'read', DIRECT_FAULT], // a PTE not present
      [BASE + 2 ** 39, 'read', DIRECT_FAULT], // a PML4E not present
      [addrOf(4), 'write', DIRECT_FAULT], // a read-only page
      [addrOf(8), 'read', DIRECT_DONE], // (the PDE cache's and the nested TLB's most recent entries are then its own)
      [addrOf(16), 'read', DIRECT_FAULT], // a PDE not present (a nested-TLB hit not most recently used)
      [addrOf(9), 'read', DIRECT_VIOLATION], // EPT does not map the page (a nested-TLB hit not most recently used)
      [addrOf(5), 'read', DIRECT_VIOLATION], // EPT does not map the page (a PDE-cache hit not most recently used)
      [addrOf(5), 'write', DIRECT_VIOLATION],
      [addrOf(0), 'read', DIRECT_DONE, true], // the accessed flags of the PTE and of the page's EPT entries clear
      [addrOf(1), 'write', DIRECT_DONE, true], // and the dirty flags
      [addrOf(2), 'write', DIRECT_DONE, true], // the dirty flags alone
    ];
    const c0 = Inv.emptyCaches(GEOMETRY);
    transient(() => {
      // each side's first access copies the arrays it writes (translateFast's path)
      const r0 = translateReference(c0, mem0, ctx, mkGva(addrOf(3)), { kind: 'read', user: true });
      let ref = r0.caches;
      let refMem = r0.mem;
      const f0 = translate(c0, mem0, ctx, mkGva(addrOf(3)), { kind: 'read', user: true });
      const fast = f0.caches;
      let fastMem = f0.mem;
      for (const [addr, kind, code, sets] of steps) {
        const rr = translateReference(ref, refMem, ctx, mkGva(addr), { kind, user: true });
        // (read before: inside the chunk the flags are written in place)
        const before = tables(fastMem);
        expect(translateDirect(fast, fastMem, ctx, addr, { kind, user: true })).toBe(code);
        expect(fastOut.stats).toEqual(rr.stats);
        if (code !== DIRECT_DONE) {
          const r = directResult(code, fast, fastMem, ctx, mkGva(addr));
          expect(r.outcome).toEqual(rr.outcome);
          expect(r.stats).toEqual(rr.stats);
          expect(r.mem).toBe(fastMem);
          expect(r.caches).toBe(fast); // (the invalidation of an EPT violation, too, is made in place)
          expect(tables(fastMem)).toEqual(before);
        } else {
          expect(fastOut.hpa).toBe(rr.outcome._tag === 'translated' ? rr.outcome.hpa : NaN);
          if (sets === true) expect(tables(fastOut.mem)).not.toEqual(before);
          fastMem = fastOut.mem;
          expect(tables(fastMem)).toEqual(tables(rr.mem));
        }
        expect(contents(fast)).toEqual(contents(rr.caches));
        ref = rr.caches;
        refMem = rr.mem;
      }
    });
  });
});
