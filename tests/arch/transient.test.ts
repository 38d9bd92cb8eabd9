// Transient scopes (src/arch/transient.ts) and the structures that use them: inside a scope, copies made by the
// scope are written in place; values from before the scope never change; outside a scope every write copies.
import fc from 'fast-check';
import { isRight } from 'fp-ts/Either';
import { gva as mkGva } from '../../src/arch/addr';
import * as Phys from '../../src/arch/phys';
import { adopt, inTransient, owned, scope, transient } from '../../src/arch/transient';
import type { GuestEvent } from '../../src/guest/events';
import * as Tlb from '../../src/mmu/tlb';
import { DEFAULT_CONFIG } from '../../src/replay/config';
import { replayChunk, startReplay, type ReplayState } from '../../src/replay/replay';

describe('transient scopes', () => {
  test('ownership lasts for the scope that adopted the value; scopes nest; an exception closes the scope', () => {
    const outside = {};
    expect(inTransient()).toBe(false);
    expect(owned(adopt(outside))).toBe(false);
    const inner = transient(() => {
      const a = adopt({});
      expect(owned(a)).toBe(true);
      const s = scope();
      transient(() => {
        expect(owned(a)).toBe(false); // the inner scope owns nothing of the outer one
        expect(scope()).not.toBe(s);
      });
      expect(owned(a)).toBe(true);
      return a;
    });
    expect(owned(inner)).toBe(false);
    expect(() => transient(() => { throw new Error('boom'); })).toThrow('boom');
    expect(inTransient()).toBe(false);
  });

  test('physical memory: in place inside a scope, copied outside; the memory from before the scope is unchanged', () => {
    const m0 = Phys.write64Parts(Phys.empty, 0x5000, 1, 2);
    const pageBefore = Phys.page(m0, 5);
    const [m1, m2] = transient(() => {
      const a = Phys.write64Parts(m0, 0x5008, 3, 4);
      const b = Phys.write64Parts(a, 0x5010, 5, 6);
      // the second write went into the copy the first one made (same page object), yet `b` is a new memory
      expect(Phys.page(b, 5)).toBe(Phys.page(a, 5));
      expect(b).not.toBe(a);
      return [a, b];
    });
    expect(Phys.page(m0, 5)).toBe(pageBefore);
    expect([Phys.read64Lo(m0, 0x5008), Phys.read64Lo(m0, 0x5010)]).toEqual([0, 0]);
    expect([Phys.read64Lo(m2, 0x5000), Phys.read64Lo(m2, 0x5008), Phys.read64Lo(m2, 0x5010)]).toEqual([1, 3, 5]);
    // after the scope, writes copy again: m2 stays as it is
    const m3 = Phys.write64Parts(m2, 0x5000, 9, 9);
    expect(Phys.read64Lo(m2, 0x5000)).toBe(1);
    expect(Phys.read64Lo(m3, 0x5000)).toBe(9);
    expect(Phys.page(m3, 5)).not.toBe(Phys.page(m2, 5));
    void m1;
  });

  test('physical memory: a scope writes in place only what it copied itself (its own pages, not older pages of a leaf it copied; nothing of another scope)', () => {
    // pages 5 and 6 share a leaf node of the trie
    const m0 = Phys.write64Parts(Phys.write64Parts(Phys.empty, 0x5000, 1, 0), 0x6000, 2, 0);
    const m1 = transient(() => {
      const a = Phys.write64Parts(m0, 0x5000, 3, 0);
      // the leaf is now the scope's, page 6 in it is not: it is copied
      const b = Phys.write64Parts(a, 0x6000, 4, 0);
      expect(Phys.page(b, 6)).not.toBe(Phys.page(m0, 6));
      const c = transient(() => {
        // an inner scope owns nothing of the outer one's: its writes copy
        const x = Phys.write64Parts(b, 0x5000, 5, 0);
        expect(Phys.page(x, 5)).not.toBe(Phys.page(b, 5));
        return x;
      });
      expect([Phys.read64Lo(b, 0x5000), Phys.read64Lo(c, 0x5000)]).toEqual([3, 5]);
      // back in the outer scope: its own copies are written in place again, the inner scope's are copied
      const d = Phys.write64Parts(b, 0x5008, 6, 0);
      expect(Phys.page(d, 5)).toBe(Phys.page(b, 5));
      const e = Phys.write64Parts(c, 0x5010, 7, 0);
      expect(Phys.page(e, 5)).not.toBe(Phys.page(c, 5));
      expect(Phys.read64Lo(c, 0x5010)).toBe(0);
      return d;
    });
    expect([Phys.read64Lo(m0, 0x5000), Phys.read64Lo(m0, 0x6000)]).toEqual([1, 2]);
    // a later scope owns nothing of an earlier one's: m1 stays as it is
    const m2 = transient(() => Phys.write64Parts(Phys.write64Parts(m1, 0x5000, 8, 0), 0x6000, 9, 0));
    expect([Phys.read64Lo(m1, 0x5000), Phys.read64Lo(m1, 0x5008), Phys.read64Lo(m1, 0x6000)]).toEqual([3, 6, 4]);
    expect([Phys.read64Lo(m2, 0x5000), Phys.read64Lo(m2, 0x5008), Phys.read64Lo(m2, 0x6000)]).toEqual([8, 6, 9]);
  });

  test('physical memory: a write to a page whose whole path this scope already copied (the shortcut of withWritablePage) stores in place, keeps the page count, advances the epoch of a watched frame, and leaves memory from before the scope alone', () => {
    // a PFN above 2^32: every level of the trie, the top one included, has a non-zero index
    const pfn = 0x1_0203_0405;
    const addr = pfn * 4096;
    const m0 = Phys.write64Parts(Phys.empty, addr, 1, 0);
    Phys.unwatchAll();
    Phys.watchPage(pfn);
    const e0 = Phys.watchEpoch();
    transient(() => {
      const a = Phys.write64Parts(m0, addr + 8, 2, 0); // copies the path and the page: now the scope's
      const b = Phys.write64Parts(a, addr + 16, 3, 0); // the shortcut
      expect(b).not.toBe(a);
      expect(Phys.page(b, pfn)).toBe(Phys.page(a, pfn));
      expect(b.pages).toBe(a.pages);
      expect(Phys.watchEpoch()).toBe(e0 + 2);
      expect([Phys.read64Lo(b, addr), Phys.read64Lo(b, addr + 8), Phys.read64Lo(b, addr + 16)]).toEqual([1, 2, 3]);
      // a page not yet written in a leaf the scope owns is no shortcut: a new page, counted
      const c = Phys.write64Parts(b, (pfn + 1) * 4096, 4, 0);
      expect(c.pages).toBe(b.pages + 1);
      expect(Phys.read64Lo(c, (pfn + 1) * 4096)).toBe(4);
      // a write to the memory from before the scope copies (its root is not the scope's), and sees none of the above
      const d = Phys.write64Parts(m0, addr + 24, 5, 0);
      expect(Phys.page(d, pfn)).not.toBe(Phys.page(c, pfn));
      expect([Phys.read64Lo(d, addr + 8), Phys.read64Lo(d, addr + 16), Phys.read64Lo(d, addr + 24)]).toEqual([0, 0, 5]);
      expect([Phys.read64Lo(c, addr + 16), Phys.read64Lo(c, addr + 24)]).toEqual([3, 0]);
    });
    Phys.unwatchAll();
    expect([Phys.read64Lo(m0, addr), Phys.read64Lo(m0, addr + 8), m0.pages]).toEqual([1, 0, 1]);
  });

  test('property: any sequence of writes gives the same memory inside a scope as outside', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 511 }), fc.nat()), { maxLength: 50 }), (ws) => {
      const apply = (m: Phys.PhysMem): Phys.PhysMem => ws.reduce((acc, [pfn, slot, v]) => Phys.write64Parts(acc, pfn * 4096 + slot * 8, v >>> 0, 7), m);
      const base = Phys.write64Parts(Phys.empty, 3 * 4096, 11, 12);
      const a = apply(base);
      const b = transient(() => apply(base));
      for (let pfn = 0; pfn <= 40; pfn++) expect(Phys.page(b, pfn)).toEqual(Phys.page(a, pfn));
      expect(b.pages).toBe(a.pages);
      expect(Phys.read64Lo(base, 3 * 4096)).toBe(11);
      expect(Phys.read64Lo(base, 3 * 4096 + 8)).toBe(0);
    }));
  });

  test('cache arrays: one copy per scope, then in place (the same array object); arrays from before the scope are unchanged', () => {
    const geo = { entries: 8, ways: 2 };
    const a0 = Tlb.insert(Tlb.emptyArray(geo), Tlb.flagsOf(Tlb.KIND_COMBINED, 0, 0), 1, 1, 0, 5, 100);
    const before = Tlb.entries(a0);
    const [a1, a2] = transient(() => {
      const x = Tlb.insert(a0, Tlb.flagsOf(Tlb.KIND_COMBINED, 0, 0), 2, 1, 0, 5, 200);
      const y = Tlb.insert(x, Tlb.flagsOf(Tlb.KIND_COMBINED, 0, 0), 3, 1, 0, 5, 300);
      // the scope owns x (its copy of a0): y is x itself, updated in place
      expect(y).toBe(x);
      expect(y.data).toBe(x.data);
      return [x, y];
    });
    expect(a1.data).not.toBe(a0.data);
    expect(Tlb.entries(a0)).toEqual(before);
    expect(Tlb.count(a2)).toBe(3);
    // outside a scope an insert copies
    const a3 = Tlb.insert(a2, Tlb.flagsOf(Tlb.KIND_COMBINED, 0, 0), 4, 1, 0, 5, 400);
    expect(a3.data).not.toBe(a2.data);
    expect(Tlb.count(a2)).toBe(3);
  });
});

describe('replayChunk runs in a transient scope and leaves its input state untouched', () => {
  const start = (): ReplayState => {
    const s = startReplay(DEFAULT_CONFIG);
    if (!isRight(s)) throw new Error('start');
    return s.right;
  };
  const access = fc.record({
    op: fc.constantFrom('read' as const, 'write' as const),
    page: fc.integer({ min: 0, max: 300 }),
  }).map(({ op, page }): GuestEvent => ({ op, gva: mkGva(0x7f00_0000_0000 + page * 4096), size: 8, user: true }));
  /** Everything of the machine a chunk could write in place: TLB, PSC and nested-TLB entries, memory pages. */
  const snapshot = (s: ReplayState): string => {
    const mmu = s.machine.mmu;
    const pages: string[] = [];
    for (let pfn = 0; pfn < 0x3000; pfn++) {
      const p = Phys.page(s.machine.cpu.mem, pfn);
      if (p !== undefined) pages.push(`${pfn}:${p.join(',')}`);
    }
    return JSON.stringify([Tlb.allEntries(mmu.tlb), mmu.psc.arrays.map(Tlb.entries), Tlb.entries(mmu.nested), pages.length, pages.join(';').length]) + pages.join(';');
  };
  test('property: the state a chunk started from reads the same after the chunk (memory, TLBs, caches)', () => {
    fc.assert(fc.property(fc.array(access, { minLength: 20, maxLength: 80 }), fc.array(access, { minLength: 20, maxLength: 80 }), (a, b) => {
      const s1 = replayChunk(start(), a).state;
      const snap = snapshot(s1);
      replayChunk(s1, b);
      replayChunk(s1, a);
      expect(snapshot(s1)).toBe(snap);
    }), { numRuns: 15 });
  });
});
