import fc from 'fast-check';
import * as Tlb from '../../src/mmu/tlb';
import {
  FL_ALL_RIGHTS, FL_GLOBAL, KIND_COMBINED, KIND_LINEAR, SIZE_1G, SIZE_2M, SIZE_4K, type TlbTag,
} from '../../src/mmu/tlb';
import { defaultTlbConfig, type TlbConfig } from '../../src/mmu/tlbConfig';

const lin = (vpid: number, pcid: number): TlbTag => ({ kind: KIND_LINEAR, vpid, pcid, ep4ta: -1 });
const comb = (vpid: number, pcid: number, ep4ta: number): TlbTag => ({ kind: KIND_COMBINED, vpid, pcid, ep4ta });
const look = (t: Tlb.Tlb, tag: TlbTag, addr: number, fetch = false): number =>
  Tlb.lookupL1(t, fetch, tag.kind, addr, tag.vpid, tag.pcid, tag.ep4ta);
const lookS = (t: Tlb.Tlb, tag: TlbTag, addr: number): number =>
  Tlb.lookupStlb(t, tag.kind, addr, tag.vpid, tag.pcid, tag.ep4ta);

/** A config with a tiny L1 DTLB for 4 KiB pages: `entries` entries, `ways` ways. */
const tiny = (entries: number, ways: number): TlbConfig => ({ ...defaultTlbConfig, l1d4k: { entries, ways } });

describe('SDM 4.10.2 "Translation Lookaside Buffers": fill and lookup', () => {
  test('a second access to the same 4 KiB page hits the L1 DTLB and yields frame + offset', () => {
    const t0 = Tlb.emptyTlb(defaultTlbConfig);
    const tag = lin(0, 0);
    expect(look(t0, tag, 0x7000_1234)).toBe(-1);
    const t1 = Tlb.fill(t0, false, tag, 0x7000_1234, SIZE_4K, FL_ALL_RIGHTS, 0x5_5000);
    const h = look(t1, tag, 0x7000_1ff8);
    expect(h).toBeGreaterThanOrEqual(0);
    expect(Tlb.hitPhys(t1, h, 0x7000_1ff8)).toBe(0x5_5ff8);
    // the next page is a different page number
    expect(look(t1, tag, 0x7000_2000)).toBe(-1);
  });

  test('a fill also fills the STLB (an L1 miss then hits the STLB)', () => {
    const t1 = Tlb.fill(Tlb.emptyTlb(defaultTlbConfig), false, lin(0, 0), 0x1000, SIZE_4K, FL_ALL_RIGHTS, 0x9000);
    const h = lookS(t1, lin(0, 0), 0x1abc);
    expect(h).toBeGreaterThanOrEqual(0);
    expect(Tlb.hitPhys(t1, h, 0x1abc)).toBe(0x9abc);
    expect(Tlb.hitArray(h)).toBe(Tlb.A_STLB);
  });

  test('a 2 MiB entry covers every address of its 2 MiB page (4.10.2.1 page number = bits 47:21)', () => {
    const t1 = Tlb.fill(Tlb.emptyTlb(defaultTlbConfig), false, lin(0, 0), 0x4020_0000, SIZE_2M, FL_ALL_RIGHTS,
      0x8000_0000);
    const h = look(t1, lin(0, 0), 0x403f_fff0);
    expect(Tlb.hitArray(h)).toBe(Tlb.A_L1D_2M);
    expect(Tlb.hitPhys(t1, h, 0x403f_fff0)).toBe(0x801f_fff0);
    expect(look(t1, lin(0, 0), 0x4040_0000)).toBe(-1);
  });

  test('a 1 GiB fetch translation is kept in the ITLB as the 2 MiB piece that holds the address; the STLB keeps 1 GiB', () => {
    const tag = lin(0, 0);
    const t1 = Tlb.fill(Tlb.emptyTlb(defaultTlbConfig), true, tag, 0x4000_0000 + 0x30_0010, SIZE_1G, FL_ALL_RIGHTS,
      0x1_0000_0000);
    const h = look(t1, tag, 0x4020_0008, true); // same 2 MiB piece (0x4020_0000..0x403f_ffff)
    expect(Tlb.hitArray(h)).toBe(Tlb.A_L1I_2M);
    expect(Tlb.hitPhys(t1, h, 0x4020_0008)).toBe(0x1_0020_0008);
    expect(look(t1, tag, 0x4060_0000, true)).toBe(-1); // other 2 MiB piece: ITLB miss
    const s = lookS(t1, tag, 0x4060_0000);
    expect(Tlb.hitArray(s)).toBe(Tlb.A_STLB_1G);
    expect(Tlb.hitPhys(t1, s, 0x4060_0000)).toBe(0x1_0060_0000);
    // a data access does not use the ITLB entry
    expect(look(t1, tag, 0x4020_0008, false)).toBe(-1);
  });

  test('fillL1FromStlb copies an STLB entry into the L1 of the access kind', () => {
    const tag = lin(0, 0);
    const t1 = Tlb.fill(Tlb.emptyTlb(defaultTlbConfig), true, tag, 0x3000, SIZE_4K, FL_ALL_RIGHTS, 0x7000);
    const s = lookS(t1, tag, 0x3004);
    const t2 = Tlb.fillL1FromStlb(t1, false, s, tag, 0x3004);
    const h = look(t2, tag, 0x3008);
    expect(Tlb.hitArray(h)).toBe(Tlb.A_L1D_4K);
    expect(Tlb.hitPhys(t2, h, 0x3008)).toBe(0x7008);
  });
});

describe('set-associative structure: sets, ways and LRU replacement', () => {
  const tag = lin(0, 0);
  const fillPage = (t: Tlb.Tlb, vpn: number): Tlb.Tlb =>
    Tlb.fill(t, false, tag, vpn * 4096, SIZE_4K, FL_ALL_RIGHTS, (vpn + 100) * 4096);
  const inL1 = (t: Tlb.Tlb, vpn: number): boolean => {
    const h = look(t, tag, vpn * 4096);
    return h >= 0 && Tlb.hitArray(h) === Tlb.A_L1D_4K;
  };

  test('a full 2-way set evicts its least recently filled entry', () => {
    let t = Tlb.emptyTlb(tiny(2, 2));
    t = fillPage(fillPage(fillPage(t, 1), 2), 3);
    expect([inL1(t, 1), inL1(t, 2), inL1(t, 3)]).toEqual([false, true, true]);
  });

  test('a hit makes the entry most recently used, so the other one is evicted (true LRU)', () => {
    let t = Tlb.emptyTlb(tiny(2, 2));
    t = fillPage(fillPage(t, 1), 2);
    t = Tlb.touchHit(t, look(t, tag, 0x1000));
    t = fillPage(t, 3);
    expect([inL1(t, 1), inL1(t, 2), inL1(t, 3)]).toEqual([true, false, true]);
  });

  test('LRU order in a 4-way set: after hits on 1 and 3, fills evict 2 then 4', () => {
    let t = Tlb.emptyTlb(tiny(4, 4));
    for (const p of [1, 2, 3, 4]) t = fillPage(t, p);
    t = Tlb.touchHit(t, look(t, tag, 0x1000));
    t = Tlb.touchHit(t, look(t, tag, 0x3000));
    t = fillPage(t, 5);
    expect([1, 2, 3, 4, 5].map((p) => inL1(t, p))).toEqual([true, false, true, true, true]);
    t = fillPage(t, 6);
    expect([1, 2, 3, 4, 5, 6].map((p) => inL1(t, p))).toEqual([true, false, true, false, true, true]);
  });

  test('property: true LRU (per-set recency lists) matches a recency list: fills, hits and invalidations in a 4-way fully associative array', () => {
    // reference: a list of pages, most recently used first; a fill of an absent page into a full list drops the last;
    // an invalidation frees the page's entry wherever it sits (the next fill takes the free entry, evicting nothing)
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('hit', 'fill', 'remove'), fc.integer({ min: 0, max: 7 })), { maxLength: 80 }), (ops) => {
      let t = Tlb.emptyTlb(tiny(4, 4));
      let ref: number[] = [];
      for (const [op, p] of ops) {
        const h = look(t, tag, p * 4096);
        if (op === 'hit' && h >= 0 && Tlb.hitArray(h) === Tlb.A_L1D_4K) {
          t = Tlb.touchHit(t, h);
          ref = [p, ...ref.filter((x) => x !== p)];
        } else if (op === 'fill') {
          t = fillPage(t, p);
          ref = [p, ...ref.filter((x) => x !== p)].slice(0, 4);
        } else if (op === 'remove') {
          t = Tlb.mapArrays(t, (a) => Tlb.removeWhere(a, (e) => e.key === p));
          ref = ref.filter((x) => x !== p);
        }
        expect(Tlb.entries(t.arrays[Tlb.A_L1D_4K]).map((e) => e.key)).toEqual(ref);
        expect(Tlb.count(t.arrays[Tlb.A_L1D_4K])).toBe(ref.length);
      }
    }));
  });

  test.each([
    ['fully associative, 16 entries', 16, 16, 128, 100],
    ['8-way, 32 entries in 4 sets', 32, 8, 64, 30],
  ])('property: a wide array (%s, key counts per bucket) matches a recency list per set, with keys sharing buckets and tags', (_name, ENTRIES, WAYS, BUCKETS, runs) => {
    // WIDE ways, so lookups and inserts consult the per-bucket key counts. Keys 0..5 and BUCKETS..BUCKETS+5 share
    // buckets (and sets); each key may be cached under two VPIDs (two entries, one key). With several sets, a bucket
    // whose count falls to one finds its remaining entry in the key's set.
    expect(WAYS).toBeGreaterThanOrEqual(Tlb.WIDE);
    const SETS = ENTRIES / WAYS;
    const FLAGS = Tlb.flagsOf(KIND_LINEAR, SIZE_4K, FL_ALL_RIGHTS);
    const keyArb = fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: BUCKETS, max: BUCKETS + 5 }), fc.integer({ min: 30, max: 90 }));
    const opArb = fc.tuple(fc.constantFrom('hit', 'hit', 'fill', 'fill', 'fill', 'fill', 'fill', 'remove', 'removeVpid'), keyArb, fc.integer({ min: 1, max: 2 }));
    const KEYS = [0, 1, 2, 3, 4, 5, ...Array.from({ length: 6 }, (_, i) => BUCKETS + i), ...Array.from({ length: 61 }, (_, i) => 30 + i)];
    fc.assert(fc.property(fc.array(opArb, { minLength: 20, maxLength: 120 }), (ops) => {
      let a = Tlb.emptyArray({ entries: ENTRIES, ways: WAYS });
      expect(a.buckets).toBe(BUCKETS);
      // per set: `${key}/${vpid}`, most recently used first
      let ref: string[][] = Array.from({ length: SETS }, () => []);
      const setOfKey = (k: number): number => k % SETS;
      const find = (k: number, v: number): number => Tlb.probe(a, setOfKey(k), KIND_LINEAR, SIZE_4K, k, v, 0, -1);
      for (const [op, k, v] of ops) {
        const id = `${k}/${v}`;
        const s = setOfKey(k);
        if (op === 'hit') {
          const w = find(k, v);
          expect(w >= 0).toBe(ref[s].includes(id));
          if (w >= 0) { a = Tlb.touch(a, s, w); ref[s] = [id, ...ref[s].filter((x) => x !== id)]; }
        } else if (op === 'fill') {
          a = Tlb.insert(a, FLAGS, k, v, 0, -1, k + 1000 * v);
          ref[s] = [id, ...ref[s].filter((x) => x !== id)].slice(0, WAYS);
        } else if (op === 'remove') {
          a = Tlb.removeCovering(a, [k * 4096], (e) => e.key === k);
          ref = ref.map((l) => l.filter((x) => !x.startsWith(`${k}/`)));
        } else {
          a = Tlb.removeWhere(a, (e) => e.vpid === v);
          ref = ref.map((l) => l.filter((x) => !x.endsWith(`/${v}`)));
        }
        expect(Tlb.entries(a).map((e) => `${e.key}/${e.vpid}`)).toEqual(ref.flat());
        for (const x of KEYS) for (const y of [1, 2]) {
          const w = find(x, y);
          expect(w >= 0).toBe(ref[setOfKey(x)].includes(`${x}/${y}`));
          if (w >= 0) expect(Tlb.entryField(a, setOfKey(x), w, Tlb.F_VALUE)).toBe(x + 1000 * y);
        }
      }
    }), { numRuns: runs });
  });

  test('an invalidated entry is the next victim: a fill after it evicts nothing, wherever the entry sat in the LRU order', () => {
    for (const gone of [1, 2, 3, 4]) {
      let t = Tlb.emptyTlb(tiny(4, 4));
      for (const p of [1, 2, 3, 4]) t = fillPage(t, p);
      t = Tlb.mapArrays(t, (a) => Tlb.removeWhere(a, (e) => e.key === gone));
      t = fillPage(t, 5);
      expect([1, 2, 3, 4, 5].filter((p) => inL1(t, p))).toEqual([1, 2, 3, 4, 5].filter((p) => p !== gone));
      // and the LRU order is kept: the next fill evicts the least recently filled of the survivors
      t = fillPage(t, 6);
      const survivors = [1, 2, 3, 4].filter((p) => p !== gone);
      expect(inL1(t, survivors[0])).toBe(false);
      expect(survivors.slice(1).every((p) => inL1(t, p))).toBe(true);
    }
  });

  test('the set is the page number mod the number of sets: pages of another set are not evicted', () => {
    // 4 entries, 2 ways = 2 sets: even pages in set 0, odd pages in set 1
    let t = Tlb.emptyTlb(tiny(4, 2));
    t = fillPage(t, 1);
    t = fillPage(fillPage(fillPage(t, 0), 2), 4);
    expect([inL1(t, 0), inL1(t, 1), inL1(t, 2), inL1(t, 4)]).toEqual([false, true, true, true]);
  });

  test('re-filling the same page replaces its entry instead of duplicating it', () => {
    let t = Tlb.emptyTlb(tiny(2, 2));
    t = fillPage(fillPage(t, 1), 1);
    expect(Tlb.count(t.arrays[Tlb.A_L1D_4K])).toBe(1);
    t = Tlb.fill(t, false, tag, 0x1000, SIZE_4K, FL_ALL_RIGHTS, 0xaa000);
    expect(Tlb.hitPhys(t, look(t, tag, 0x1000), 0x1000)).toBe(0xaa000);
  });

  test('a structure with 0 entries never hits', () => {
    const t = fillPage(Tlb.emptyTlb(tiny(0, 1)), 1);
    expect(inL1(t, 1)).toBe(false);
    expect(lookS(t, tag, 0x1000)).toBeGreaterThanOrEqual(0);
  });

  test('copy-on-write: a fill leaves the old TLB unchanged and shares every untouched array', () => {
    const t0 = fillPage(Tlb.emptyTlb(defaultTlbConfig), 1);
    const before = Tlb.allEntries(t0);
    const t1 = fillPage(t0, 2);
    expect(look(t0, tag, 0x2000)).toBe(-1);
    expect(Tlb.allEntries(t0)).toEqual(before);
    expect(look(t1, tag, 0x2000)).toBeGreaterThanOrEqual(0);
    expect(t1.arrays[Tlb.A_L1D_4K].data).not.toBe(t0.arrays[Tlb.A_L1D_4K].data);
    expect(t1.arrays[Tlb.A_L1I_4K]).toBe(t0.arrays[Tlb.A_L1I_4K]);
    // touching the most recently used entry copies nothing
    expect(Tlb.touchHit(t1, look(t1, tag, 0x2000))).toBe(t1);
  });

  test('property: no set ever holds more than `ways` entries and hits always return the filled frame', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 63 }), { maxLength: 60 }), (pages) => {
      let t = Tlb.emptyTlb(tiny(8, 2));
      for (const p of pages) t = fillPage(t, p);
      const arr = t.arrays[Tlb.A_L1D_4K];
      // the array never grows: its buffer is the one an empty array of this geometry has
      expect(arr.data.buffer.byteLength).toBe(Tlb.emptyArray({ entries: 8, ways: 2 }).data.buffer.byteLength);
      expect(Tlb.count(arr)).toBeLessThanOrEqual(8);
      for (let p = 0; p < 64; p++) {
        const h = look(t, tag, p * 4096 + 5);
        if (h >= 0) expect(Tlb.hitPhys(t, h, p * 4096 + 5)).toBe((p + 100) * 4096 + 5);
      }
      // the last page filled is always present
      if (pages.length > 0) expect(inL1(t, pages[pages.length - 1])).toBe(true);
    }));
  });
});

describe('SDM 28.3.1 "Information That May Be Cached": tags', () => {
  const A = 0x7fff_f000;
  test('linear mappings are tagged by VPID: another VPID misses', () => {
    const t = Tlb.fill(Tlb.emptyTlb(defaultTlbConfig), false, lin(1, 0), A, SIZE_4K, FL_ALL_RIGHTS, 0x1000);
    expect(look(t, lin(1, 0), A)).toBeGreaterThanOrEqual(0);
    expect(look(t, lin(2, 0), A)).toBe(-1);
    expect(lookS(t, lin(2, 0), A)).toBe(-1);
  });

  test('SDM 4.10.2 "TLBs and PCIDs": a non-global entry is used only with its PCID', () => {
    const t = Tlb.fill(Tlb.emptyTlb(defaultTlbConfig), false, lin(1, 5), A, SIZE_4K, FL_ALL_RIGHTS, 0x1000);
    expect(look(t, lin(1, 6), A)).toBe(-1);
  });

  test('SDM 4.10.2.4 "Global Pages": a global entry is used with any PCID of its VPID, not another VPID', () => {
    const t = Tlb.fill(Tlb.emptyTlb(defaultTlbConfig), false, lin(1, 5), A, SIZE_4K, FL_ALL_RIGHTS | FL_GLOBAL, 0x1000);
    expect(look(t, lin(1, 6), A)).toBeGreaterThanOrEqual(0);
    expect(look(t, lin(2, 5), A)).toBe(-1);
  });

  test('combined mappings are tagged by EP4TA: another EPT root misses', () => {
    const t = Tlb.fill(Tlb.emptyTlb(defaultTlbConfig), false, comb(1, 0, 0x123), A, SIZE_4K, FL_ALL_RIGHTS, 0x1000);
    expect(look(t, comb(1, 0, 0x123), A)).toBeGreaterThanOrEqual(0);
    expect(look(t, comb(1, 0, 0x124), A)).toBe(-1);
  });

  test('a combined mapping is not used as a linear mapping (EPT in use vs not)', () => {
    const t = Tlb.fill(Tlb.emptyTlb(defaultTlbConfig), false, comb(1, 0, 0x123), A, SIZE_4K, FL_ALL_RIGHTS, 0x1000);
    expect(Tlb.lookupL1(t, false, KIND_LINEAR, A, 1, 0, 0x123)).toBe(-1);
  });
});

describe('style rule 7: the lookup path uses numbers only', () => {
  test('lookups allocate no bigint: they run with BigInt removed and their source has no bigint literal', () => {
    const tag = comb(3, 7, 0x4567);
    let t = Tlb.emptyTlb(defaultTlbConfig);
    for (let p = 0; p < 200; p++) t = Tlb.fill(t, false, tag, 0x1_0000_0000_0000 + p * 4096, SIZE_4K, FL_ALL_RIGHTS, p * 4096);
    const saved = globalThis.BigInt;
    (globalThis as { BigInt: unknown }).BigInt = () => { throw new Error('BigInt called on the lookup path'); };
    try {
      for (let p = 0; p < 400; p++) {
        const a = 0x1_0000_0000_0000 + p * 4096 + 8;
        const h1 = look(t, tag, a);
        const h2 = lookS(t, tag, a);
        const h = h1 >= 0 ? h1 : h2;
        if (h >= 0) expect(typeof Tlb.hitPhys(t, h, a)).toBe('number');
      }
    } finally {
      globalThis.BigInt = saved;
    }
    for (const f of [Tlb.lookupL1, Tlb.lookupStlb, Tlb.probe, Tlb.hitPhys, Tlb.hitFlags, Tlb.keyAt]) {
      expect(f.toString()).not.toMatch(/BigInt|\b\d+n\b/);
    }
  });
});
