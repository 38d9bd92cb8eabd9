import fc from 'fast-check';
import * as Inv from '../../src/mmu/invalidate';
import type { Invalidation, MmuCaches } from '../../src/mmu/invalidate';
import * as NestedTlb from '../../src/mmu/nestedTlb';
import * as Psc from '../../src/mmu/psc';
import * as Tlb from '../../src/mmu/tlb';
import { FL_ALL_RIGHTS, FL_EPT_R, FL_GLOBAL, FL_RW, FL_US, FL_X, KIND_COMBINED, KIND_GPA, KIND_LINEAR, SIZE_4K } from '../../src/mmu/tlb';
import { defaultTlbConfig } from '../../src/mmu/tlbConfig';

// Pages far apart so no two labels share a set in any array.
const A = 0x10_0000_0000;
const B = 0x20_0040_0000; // another 2 MiB region and another page
const C = 0x30_0081_0000;
const D = 0x40_00c3_0000;
const P = 0x0123_4000; // a guest-physical page
const X = 0x111; // EP4TA of EPTP X
const Y = 0x222;

interface TlbLabel { kind: 1 | 2 | 3; vpid: number; pcid: number; ep4ta: number; addr: number; global?: boolean }
const TLB: Record<string, TlbLabel> = {
  E1: { kind: KIND_LINEAR, vpid: 0, pcid: 0, ep4ta: -1, addr: A },
  E2: { kind: KIND_COMBINED, vpid: 1, pcid: 1, ep4ta: X, addr: A },
  E3: { kind: KIND_COMBINED, vpid: 1, pcid: 1, ep4ta: Y, addr: A },
  E4: { kind: KIND_COMBINED, vpid: 1, pcid: 2, ep4ta: X, addr: A },
  E5: { kind: KIND_COMBINED, vpid: 1, pcid: 1, ep4ta: X, addr: B },
  E6: { kind: KIND_COMBINED, vpid: 2, pcid: 1, ep4ta: X, addr: A },
  E7: { kind: KIND_COMBINED, vpid: 1, pcid: 1, ep4ta: X, addr: C, global: true },
  E8: { kind: KIND_GPA, vpid: 0, pcid: 0, ep4ta: X, addr: P },
  E9: { kind: KIND_GPA, vpid: 0, pcid: 0, ep4ta: Y, addr: P },
  E10: { kind: KIND_COMBINED, vpid: 0, pcid: 0, ep4ta: X, addr: D },
};
interface PscLabel { vpid: number; pcid: number; ep4ta: number; addr: number }
const PSC: Record<string, PscLabel> = {
  P1: { vpid: 1, pcid: 1, ep4ta: X, addr: A },
  P2: { vpid: 1, pcid: 2, ep4ta: X, addr: A },
  P3: { vpid: 2, pcid: 1, ep4ta: X, addr: A },
  P4: { vpid: 0, pcid: 0, ep4ta: -1, addr: A },
  P5: { vpid: 1, pcid: 1, ep4ta: X, addr: B },
};
const NESTED: Record<string, number> = { N1: X, N2: Y };

const populated = (): MmuCaches => {
  // six labels share page A, so the L1 DTLB gets 16 ways (the default 4 would evict some)
  let c = Inv.emptyCaches({ ...defaultTlbConfig, l1d4k: { entries: 256, ways: 16 } });
  let tlb = c.tlb;
  for (const e of Object.values(TLB)) {
    tlb = Tlb.fill(tlb, false, e, e.addr, SIZE_4K, FL_ALL_RIGHTS | (e.global === true ? FL_GLOBAL : 0), 0x99000);
  }
  let psc = c.psc;
  for (const e of Object.values(PSC)) psc = Psc.fill(psc, 2, e.addr, e.vpid, e.pcid, e.ep4ta, 0x5000, FL_RW | FL_US | FL_X);
  let nested = c.nested;
  for (const ep of Object.values(NESTED)) nested = NestedTlb.fill(nested, ep, P, 0x7000, FL_EPT_R);
  c = { tlb, psc, nested };
  return c;
};

/** The labels still present, checking that L1 and STLB agree. */
const present = (c: MmuCaches): string[] => {
  const out: string[] = [];
  for (const [name, e] of Object.entries(TLB)) {
    const l1 = Tlb.lookupL1(c.tlb, false, e.kind, e.addr, e.vpid, e.pcid, e.ep4ta) >= 0;
    const l2 = Tlb.lookupStlb(c.tlb, e.kind, e.addr, e.vpid, e.pcid, e.ep4ta) >= 0;
    expect(l1).toBe(l2);
    if (l2) out.push(name);
  }
  for (const [name, e] of Object.entries(PSC)) if (Psc.lookup(c.psc, 4, e.addr, e.vpid, e.pcid, e.ep4ta) >= 0) out.push(name);
  for (const [name, ep] of Object.entries(NESTED)) if (NestedTlb.lookup(c.nested, ep, P) >= 0) out.push(name);
  return out;
};
const ALL = [...Object.keys(TLB), ...Object.keys(PSC), ...Object.keys(NESTED)];
const without = (...gone: string[]): string[] => ALL.filter((n) => !gone.includes(n));

describe('SDM "Operations that Invalidate Cached Mappings": each operation removes exactly what the SDM says', () => {
  test('the fixture holds every labelled entry', () => {
    expect(present(populated())).toEqual(ALL);
  });

  test('SDM 4.10.4.1 INVLPG: the page for the current VPID+PCID (combined for every EP4TA) and all PSC entries of that PCID', () => {
    expect(present(Inv.invlpg(populated(), 1, 1, A + 0x123))).toEqual(without('E2', 'E3', 'P1', 'P5'));
  });

  test('SDM 4.10.4.1 INVLPG also invalidates a global entry for the page, whatever its PCID', () => {
    expect(present(Inv.invlpg(populated(), 1, 9, C))).toEqual(without('E7'));
  });

  test('SDM 4.10.4.1 MOV to CR3 (bit 63 = 0): non-global entries and PSC entries of the VPID and new PCID; globals stay', () => {
    expect(present(Inv.movToCr3(populated(), 1, 1, false))).toEqual(without('E2', 'E3', 'E5', 'P1', 'P5'));
  });

  test('SDM 4.10.4.1 MOV to CR3 with CR4.PCIDE = 1 and bit 63 = 1 invalidates nothing', () => {
    const c = populated();
    expect(Inv.movToCr3(c, 1, 1, true)).toBe(c);
  });

  test('SDM "INVEPT" single-context: guest-physical and combined mappings of that EP4TA, all VPIDs and PCIDs', () => {
    expect(present(Inv.apply(populated(), { kind: 'ept-single', ep4ta: X })))
      .toEqual(without('E2', 'E4', 'E5', 'E6', 'E7', 'E8', 'E10', 'P1', 'P2', 'P3', 'P5', 'N1'));
  });

  test('SDM "INVEPT" all-context: every guest-physical and combined mapping; linear mappings stay', () => {
    expect(present(Inv.apply(populated(), { kind: 'ept-all' }))).toEqual(['E1', 'P4']);
  });

  test('SDM "INVVPID" individual-address: linear and combined mappings of the VPID for the address, all PCIDs and EP4TAs', () => {
    expect(present(Inv.apply(populated(), { kind: 'vpid-address', vpid: 1, gva: A + 8 })))
      .toEqual(without('E2', 'E3', 'E4', 'P1', 'P2'));
  });

  test('SDM "INVVPID" single-context: every linear and combined mapping of the VPID, globals included', () => {
    expect(present(Inv.apply(populated(), { kind: 'vpid-single', vpid: 1 })))
      .toEqual(without('E2', 'E3', 'E4', 'E5', 'E7', 'P1', 'P2', 'P5'));
  });

  test('SDM "INVVPID" all-context: every VPID except 0000H', () => {
    expect(present(Inv.apply(populated(), { kind: 'vpid-all' })))
      .toEqual(['E1', 'E8', 'E9', 'E10', 'P4', 'N1', 'N2']);
  });

  test('SDM "INVVPID" single-context-retaining-globals: as single-context but the global translation survives', () => {
    expect(present(Inv.apply(populated(), { kind: 'vpid-single-retain-globals', vpid: 1 })))
      .toEqual(without('E2', 'E3', 'E4', 'E5', 'P1', 'P2', 'P5'));
  });

  test('SDM 28.3.3.1: with "enable VPID" = 0 every VM entry and exit flushes linear and combined mappings of VPID 0000H', () => {
    expect(present(Inv.vmEntryExitFlush(populated()))).toEqual(without('E1', 'E10', 'P4'));
  });

  test('SDM 28.3.3.1: an EPT violation invalidates guest-physical mappings of the GPA and combined mappings of the linear address', () => {
    expect(present(Inv.eptViolation(populated(), X, P + 0x10, { vpid: 1, pcid: 1, gva: A })))
      .toEqual(without('E2', 'E8', 'N1'));
  });

  test('invalidations are pure: the old caches still hold everything, and a no-op shares the whole state', () => {
    const c = populated();
    Inv.apply(c, { kind: 'ept-all' });
    Inv.apply(c, { kind: 'vpid-all' });
    expect(present(c)).toEqual(ALL);
    expect(Inv.apply(c, { kind: 'vpid-single', vpid: 77 })).toBe(c);
  });

  const vpidInv: fc.Arbitrary<Invalidation> = fc.oneof(
    fc.record({ kind: fc.constant('vpid-address' as const), vpid: fc.integer({ min: 0, max: 3 }),
      gva: fc.constantFrom(A, B, C, D) }),
    fc.record({ kind: fc.constant('vpid-single' as const), vpid: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ kind: fc.constant('vpid-single-retain-globals' as const), vpid: fc.integer({ min: 0, max: 3 }) }),
    fc.constant({ kind: 'vpid-all' as const }),
  );

  test('property: INVVPID never removes guest-physical mappings (TLB or nested TLB)', () => {
    fc.assert(fc.property(fc.array(vpidInv, { maxLength: 6 }), (ops) => {
      const c = ops.reduce(Inv.apply, populated());
      const p = present(c);
      for (const n of ['E8', 'E9', 'N1', 'N2']) expect(p).toContain(n);
    }));
  });

  test('property: INVEPT never removes linear mappings (EPT not in use)', () => {
    const eptInv: fc.Arbitrary<Invalidation> = fc.oneof(
      fc.constant({ kind: 'ept-all' as const }),
      fc.record({ kind: fc.constant('ept-single' as const), ep4ta: fc.constantFrom(X, Y, 0x333) }),
    );
    fc.assert(fc.property(fc.array(eptInv, { maxLength: 4 }), (ops) => {
      const p = present(ops.reduce(Inv.apply, populated()));
      expect(p).toContain('E1');
      expect(p).toContain('P4');
    }));
  });

  test('property: invalidation is idempotent', () => {
    fc.assert(fc.property(vpidInv, (op) => {
      const once = Inv.apply(populated(), op);
      expect(Inv.apply(once, op)).toBe(once);
    }));
  });
});

describe('SDM INVLPG note 1: every TLB entry for a large page, whichever piece the address is in', () => {
  // a 1 GiB fetch translation is kept in the ITLB as the 2 MiB piece that holds the address (src/mmu/tlb.ts)
  const G1 = 0x40_0000_0000; // a 1 GiB-aligned linear address
  const tag = { kind: KIND_COMBINED, vpid: 1, pcid: 0, ep4ta: X } as const;
  const fetchFilled = (l1i2m: { entries: number; ways: number }): MmuCaches => {
    const c = Inv.emptyCaches({ ...defaultTlbConfig, l1i2m });
    // fetch at G1 + 0x1234: ITLB piece for the first 2 MiB, STLB 1 GiB entry
    return { ...c, tlb: Tlb.fill(c.tlb, true, tag, G1 + 0x1234, Tlb.SIZE_1G, FL_ALL_RIGHTS, 0x8000_0000) };
  };
  const itlbPieces = (c: MmuCaches): number => Tlb.count(c.tlb.arrays[Tlb.A_L1I_2M]);
  for (const geo of [{ entries: 8, ways: 8 }, { entries: 8, ways: 2 }]) {
    test(`INVLPG of another 2 MiB piece of the same 1 GiB page removes the ITLB piece (ITLB 2M ${geo.entries}/${geo.ways}-way)`, () => {
      const c = fetchFilled(geo);
      expect(itlbPieces(c)).toBe(1);
      expect(Tlb.entries(c.tlb.arrays[Tlb.A_L1I_2M])[0].flags & Tlb.FL_PIECE_1G).not.toBe(0);
      const after = Inv.invlpg(c, 1, 0, G1 + 0x3000_0000);
      expect(itlbPieces(after)).toBe(0);
      expect(Tlb.count(after.tlb.arrays[Tlb.A_STLB_1G])).toBe(0);
      // INVVPID individual-address does the same
      expect(itlbPieces(Inv.apply(c, { kind: 'vpid-address', vpid: 1, gva: G1 + 0x2000_0000 }))).toBe(0);
    });
    test(`INVLPG in another 1 GiB page leaves the piece (ITLB 2M ${geo.entries}/${geo.ways}-way)`, () => {
      const c = fetchFilled(geo);
      expect(itlbPieces(Inv.invlpg(c, 1, 0, G1 + 0x4000_0000))).toBe(1);
      expect(itlbPieces(Inv.invlpg(c, 1, 0, G1 - 0x20_0000))).toBe(1);
    });
  }
});

describe('SDM 28.3.3.1 EPT violation: exactly the guest-physical mappings of the GPA and the combined mappings of the linear address', () => {
  // a few pages of each size, so that entries often cover (or share a set with) the violation's GPA or linear address
  const PAGES = [0, 0x1000, 0x20_0000, 0x20_1000, 0x4000_0000, 0x4020_1000, 0x8_0000_1000];
  const entry = fc.record({
    kind: fc.constantFrom(KIND_LINEAR, KIND_COMBINED, KIND_GPA),
    vpid: fc.integer({ min: 0, max: 2 }),
    pcid: fc.integer({ min: 0, max: 2 }),
    ep4ta: fc.constantFrom(X, Y),
    addr: fc.constantFrom(...PAGES),
    size: fc.constantFrom(0, 1, 2),
    global: fc.boolean(),
    fetch: fc.boolean(),
  });
  const violation = fc.record({
    ep4ta: fc.constantFrom(X, Y),
    gpa: fc.constantFrom(...PAGES).map((p) => p + 0x18),
    linear: fc.option(fc.record({ vpid: fc.integer({ min: 0, max: 2 }), pcid: fc.integer({ min: 0, max: 2 }), gva: fc.constantFrom(...PAGES).map((p) => p + 0x20) }), { nil: undefined }),
  });
  const bytes = [0x1000, 0x20_0000, 0x4000_0000];
  const pageOf = (addr: number, size: number): number => Math.floor(addr / bytes[size]);
  /** the SDM's selection, on an entry as Tlb.entries shows it (a 1 GiB piece is an entry for its whole 1 GiB page) */
  const selected = (e: Tlb.EntryView, v: { ep4ta: number; gpa: number; linear?: { vpid: number; pcid: number; gva: number } }): boolean => {
    const covers = (addr: number): boolean => ((e.flags & Tlb.FL_PIECE_1G) !== 0 ? Math.floor(e.key / 512) === pageOf(addr, 2) : e.key === pageOf(addr, e.size));
    if (e.kind === KIND_GPA) return e.ep4ta === v.ep4ta && covers(v.gpa);
    return v.linear !== undefined && e.kind === KIND_COMBINED && e.ep4ta === v.ep4ta && e.vpid === v.linear.vpid &&
      (e.pcid === v.linear.pcid || (e.flags & FL_GLOBAL) !== 0) && covers(v.linear.gva);
  };
  const byArray = (c: MmuCaches): string[][] => [...c.tlb.arrays, c.nested].map((a) => Tlb.entries(a).map((e) => JSON.stringify(e)).sort());

  test('property: what remains of every TLB array and the nested TLB is what was there minus the selected entries', () => {
    fc.assert(fc.property(fc.array(entry, { maxLength: 40 }), fc.array(fc.tuple(fc.constantFrom(X, Y), fc.constantFrom(...PAGES)), { maxLength: 6 }), violation, (es, ns, v) => {
      const c0 = Inv.emptyCaches({ ...defaultTlbConfig, stlb: { entries: 64, ways: 4 } });
      let tlb = c0.tlb;
      for (const e of es) {
        // guest-physical mappings carry VPID and PCID 0 and are never global (as the model makes them)
        const gpaKind = e.kind === KIND_GPA;
        const tag = { kind: e.kind, vpid: gpaKind ? 0 : e.vpid, pcid: gpaKind ? 0 : e.pcid, ep4ta: e.kind === KIND_LINEAR ? -1 : e.ep4ta };
        tlb = Tlb.fill(tlb, e.fetch, tag, e.addr, e.size as Tlb.SizeCode, FL_ALL_RIGHTS | (e.global && !gpaKind ? FL_GLOBAL : 0), 0x1_0000_0000);
      }
      let nested = c0.nested;
      for (const [ep, p] of ns) nested = NestedTlb.fill(nested, ep, p, 0x7000, FL_EPT_R);
      const c = { tlb, psc: c0.psc, nested };
      const expected = [...c.tlb.arrays, c.nested].map((a) => Tlb.entries(a).filter((e) => !selected(e, v)).map((e) => JSON.stringify(e)).sort());
      const after = Inv.eptViolation(c, v.ep4ta, v.gpa, v.linear);
      expect(byArray(after)).toEqual(expected);
      // nothing selected: the caches are shared as they are
      if (expected.every((list, i) => list.length === Tlb.entries([...c.tlb.arrays, c.nested][i]).length)) expect(after).toBe(c);
    }), { numRuns: 300 });
  });
});
