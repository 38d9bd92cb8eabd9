import fc from 'fast-check';
import * as Tlb from '../../src/mmu/tlb';

// SDM 28.3.3.1 / 4.10.4: invalidating the mappings of one address must remove exactly the entries that translate it,
// wherever they sit; scanning only the sets that address maps to must give the same cache as scanning all sets.
describe('removeCovering (invalidation by address scans only the address sets)', () => {
  const geo = { entries: 64, ways: 4 };
  const entry = fc.record({ size: fc.constantFrom(0, 1, 2), page: fc.integer({ min: -4096, max: 4096 }), vpid: fc.integer({ min: 0, max: 2 }) });
  test('invalidating the mappings that cover an address: same result as the full scan', () => {
    fc.assert(fc.property(fc.array(entry, { maxLength: 80 }), fc.integer({ min: -4096 * 4096, max: 4096 * 4096 }), fc.integer({ min: 0, max: 2 }), (es, addr, vpid) => {
      let arr = Tlb.emptyArray(geo);
      for (const e of es) {
        const a = e.page * Tlb.SIZE_BYTES[e.size];
        arr = Tlb.insert(arr, Tlb.flagsOf(Tlb.KIND_COMBINED, e.size as Tlb.SizeCode, 0), Tlb.keyAt(a, e.size as Tlb.SizeCode), e.vpid, 0, 7, 1);
      }
      const before = Tlb.entries(arr);
      const pred = (v: Tlb.EntryView) => v.vpid === vpid && v.key === Math.floor(addr / Tlb.SIZE_BYTES[v.size]);
      const full = Tlb.removeWhere(arr, pred);
      const fast = Tlb.removeCovering(arr, [addr], pred);
      expect(Tlb.entries(fast)).toEqual(Tlb.entries(full));
      expect(Tlb.entries(arr)).toEqual(before); // the input array stays valid
    }));
  });

  test('an address inside a cached entry of any size: same result as the full scan', () => {
    // the address is taken inside one of the entries (any page size), so a covering entry always exists
    fc.assert(fc.property(fc.array(entry, { minLength: 1, maxLength: 40 }), fc.nat(), fc.integer({ min: 0, max: 0x3fff_ffff }), fc.integer({ min: 0, max: 2 }), (es, pick, off, vpid) => {
      let arr = Tlb.emptyArray(geo);
      for (const e of es) {
        const a = e.page * Tlb.SIZE_BYTES[e.size];
        arr = Tlb.insert(arr, Tlb.flagsOf(Tlb.KIND_COMBINED, e.size as Tlb.SizeCode, 0), Tlb.keyAt(a, e.size as Tlb.SizeCode), e.vpid, 0, 7, 1);
      }
      const e = es[pick % es.length];
      const addr = e.page * Tlb.SIZE_BYTES[e.size] + (off % Tlb.SIZE_BYTES[e.size]);
      const pred = (v: Tlb.EntryView) => v.vpid === vpid && v.key === Math.floor(addr / Tlb.SIZE_BYTES[v.size]);
      expect(Tlb.entries(Tlb.removeCovering(arr, [addr + 0x1000, addr], pred))).toEqual(Tlb.entries(Tlb.removeWhere(arr, pred)));
    }));
  });
});
