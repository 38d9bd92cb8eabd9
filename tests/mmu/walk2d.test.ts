import fc from 'fast-check';
import * as GuestBuild from '../../src/guest/build';
import * as fs from 'fs';
import * as path from 'path';
import { gva as mkGva } from '../../src/arch/addr';
import * as Phys from '../../src/arch/phys';
import * as EptBuild from '../../src/ept/build';
import { walk2d, maxReferences, Walk2dConfig } from '../../src/mmu/walk2d';
import { decodeEptViolation } from '../../src/ept/qualification';
import { EPT_ROOT, OFF, RWXU, eptCtx, eptMapAll, guestCfg, guestMap, newWorld } from './walk2dFixture';

const GVA4 = 0x7f12_3456_7000; // 4-level canonical, every index non-zero
const GVA5 = 0xab_cdef_1234_5000; // bits 56:48 non-zero
const DATA = 0x0110_0000; // 17 MiB: same 2 MiB region as the guest tables at 16 MiB

type Sizes = { g: 4 | 5; e: 4 | 5; gs: '4K' | '2M' | '1G'; es: '4K' | '2M' | '1G' };
const build = ({ g, e, gs, es }: Sizes) => {
  const gva = g === 5 ? GVA5 : GVA4;
  const data = gs === '1G' ? 0x4000_0000 : gs === '2M' ? 0x0120_0000 : DATA;
  let w = guestMap(newWorld(), g, gva, data, gs, RWXU);
  const bytes = gs === '1G' ? 0x4000_0000 : gs === '2M' ? 0x20_0000 : 0x1000;
  w = eptMapAll(w, e, es, [data + (gva % bytes)]);
  const cfg: Walk2dConfig = { guest: guestCfg(g === 5), ept: eptCtx(e) };
  return { w, cfg, gva: mkGva(gva), data };
};

describe('SDM "The two-dimensional walk": cold reference counts', () => {
  const cases: [string, Sizes, number, number][] = [
    ['4-level guest over 4-level EPT: 4 guest + 5x4 nested = 24', { g: 4, e: 4, gs: '4K', es: '4K' }, 4, 20],
    ['5-level guest over 5-level EPT: 35', { g: 5, e: 5, gs: '4K', es: '4K' }, 5, 30],
    ['4-level guest over 5-level EPT: 29', { g: 4, e: 5, gs: '4K', es: '4K' }, 4, 25],
    ['5-level guest over 4-level EPT: 29', { g: 5, e: 4, gs: '4K', es: '4K' }, 5, 24],
    ['2 MiB guest pages (n = 3) over 4-level EPT: 19', { g: 4, e: 4, gs: '2M', es: '4K' }, 3, 16],
    ['4 KiB guest pages over 2 MiB EPT pages (3 reads per EPT walk): 19', { g: 4, e: 4, gs: '4K', es: '2M' }, 4, 15],
    ['2 MiB pages on both sides: 15', { g: 4, e: 4, gs: '2M', es: '2M' }, 3, 12],
    ['1 GiB pages on both sides: 8', { g: 4, e: 4, gs: '1G', es: '1G' }, 2, 6],
  ];
  it.each(cases)('%s', (_t, sizes, guest, nested) => {
    const { w, cfg, gva, data } = build(sizes);
    const r = walk2d(w.mem, cfg, gva, { kind: 'read', user: true }, { record: true });
    expect(r.outcome._tag).toBe('translated');
    if (r.outcome._tag === 'translated') expect(r.outcome.hpa).toBe(data + OFF + (gva % r.outcome.guestPageSize));
    expect(r.counts).toEqual({ guest, nested });
    expect(r.references).toHaveLength(guest + nested);
  });

  it('native mode (EPT off): the guest walk only, 4 references for 4-level paging', () => {
    const io = { read: (m: Phys.PhysMem, g: number) => ({ lo: Phys.read64Lo(m, g), hi: Phys.read64Hi(m, g) }), write: (m: Phys.PhysMem, g: number, lo: number, hi: number) => Phys.write64Parts(m, g, lo, hi) };
    const b = GuestBuild.guestMap(io, Phys.empty, { next: 0x100_1000 }, 0x100_0000, 4, GVA4, DATA, '4K', RWXU);
    const r = walk2d(b.state, { guest: guestCfg(false), ept: null }, mkGva(GVA4), { kind: 'read', user: true }, { record: true });
    expect(r.outcome).toMatchObject({ _tag: 'translated', hpa: DATA });
    expect(r.counts).toEqual({ guest: 4, nested: 0 });
  });

  it('paging off under 4-level EPT: the final GPA only, 4 references', () => {
    const w = eptMapAll(newWorld(), 4, '4K', [DATA]);
    const r = walk2d(w.mem, { guest: null, ept: eptCtx(4) }, mkGva(DATA + 0x10), { kind: 'read', user: false });
    expect(r.outcome).toMatchObject({ _tag: 'translated', hpa: DATA + OFF + 0x10 });
    expect(r.counts).toEqual({ guest: 0, nested: 4 });
  });

  it('the reference list is ordered: 4 nested reads for guest level 4, then the guest read, ..., then the final GPA', () => {
    const { w, cfg, gva } = build({ g: 4, e: 4, gs: '4K', es: '4K' });
    const r = walk2d(w.mem, cfg, gva, { kind: 'read', user: true }, { record: true });
    const refs = r.references ?? [];
    const shape = refs.map((x) => `${x.dimension[0]}${x.guestLevel ?? '-'}${x.eptLevel ?? '-'}`).join(' ');
    expect(shape).toBe('n44 n43 n42 n41 g4- n34 n33 n32 n31 g3- n24 n23 n22 n21 g2- n14 n13 n12 n11 g1- n-4 n-3 n-2 n-1');
    expect(refs.map((x) => x.index)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    // First reference: the EPT PML4E for the guest root's GPA (16 MiB: PML4 index 0) is at the EPT root.
    expect(refs[0].address).toBe(EPT_ROOT);
    // The guest root entry for GVA4 (PML4 index bits 47:39) is read at its host address.
    expect(refs[4].address).toBe(0x100_0000 + OFF + 8 * (Math.floor(GVA4 / 2 ** 39) % 512));
  });

  it('nestedLookup hits skip the EPT walk of guest-entry pages (nested TLB); a PSC start skips upper guest levels', () => {
    const { w, cfg, gva, data } = build({ g: 4, e: 4, gs: '4K', es: '4K' });
    const r = walk2d(w.mem, cfg, gva, { kind: 'read', user: true }, { nestedLookup: (p, lvl) => (lvl === null ? undefined : p + OFF) });
    expect(r.outcome).toMatchObject({ _tag: 'translated', hpa: data + OFF });
    expect(r.counts).toEqual({ guest: 4, nested: 4 });
    const full = walk2d(w.mem, cfg, gva, { kind: 'read', user: true });
    if (full.outcome._tag !== 'translated') throw new Error('expected translated');
    const pt = full.outcome.guestEntries[2];
    const ptTable = ((pt.lo & 0xffff_f000) >>> 0);
    const s = walk2d(w.mem, cfg, gva, { kind: 'read', user: true }, { start: { level: 1, table: ptTable as never, user: true, writable: true, xd: false } });
    expect(s.outcome).toMatchObject({ _tag: 'translated', hpa: data + OFF });
    expect(s.counts).toEqual({ guest: 1, nested: 8 });
  });
});

describe('SDM "Exit Qualification for EPT Violations" on the two-dimensional walk', () => {
  const base = (flags = RWXU, extraEpt = {}, adv = false) => {
    let w = guestMap(newWorld(), 4, GVA4, DATA, '4K', flags);
    w = eptMapAll(w, 4, '4K', []);
    return { w, cfg: { guest: guestCfg(false), ept: eptCtx(4, extraEpt), advancedInfo: adv } as Walk2dConfig };
  };
  const leaf = (w: ReturnType<typeof base>['w'], perm: string) =>
    EptBuild.eptMap(w.mem, w.eptAlloc, EPT_ROOT, 4, DATA, DATA + OFF, '4K', EptBuild.parsePerm(perm)).mem;

  it.each([
    ['read', 0x181],
    ['write', 0x182],
    ['fetch', 0x184],
  ] as const)('not-present leaf, %s: access bit + bit 7 (linear valid) + bit 8 (final translation) = %s', (kind, q) => {
    const { w, cfg } = base();
    const r = walk2d(w.mem, cfg, mkGva(GVA4), { kind, user: true });
    expect(r.outcome).toMatchObject({ _tag: 'ept-violation', qualification: q, gpa: DATA, gla: GVA4, guestLevel: null });
    expect(r.counts).toEqual({ guest: 4, nested: 20 });
  });

  it('advanced information (EPT_VPID_CAP[22]): bits 9-11 give the guest U/S, R/W, XD of the linear address', () => {
    // user + writable + executable: bits 9 and 10 on top of 0x181
    const a = base(RWXU, {}, true);
    expect(walk2d(a.w.mem, a.cfg, mkGva(GVA4), { kind: 'read', user: true }).outcome).toMatchObject({ qualification: 0x781 });
    // supervisor, read-only, execute-disable: bit 11 only
    const b = base({ writable: false, user: false, executable: false }, {}, true);
    expect(walk2d(b.w.mem, b.cfg, mkGva(GVA4), { kind: 'read', user: false }).outcome).toMatchObject({ qualification: 0x981 });
  });

  it('read-only leaf with a write: write, readable, linear valid, final = 0x18a', () => {
    const { w, cfg } = base();
    const r = walk2d(leaf(w, 'r'), cfg, mkGva(GVA4), { kind: 'write', user: true });
    expect(r.outcome).toMatchObject({ _tag: 'ept-violation', qualification: 0x18a });
    const d = decodeEptViolation(0x18an);
    expect([d.write, d.readable, d.writable, d.guestLinearAddressValid, d.finalTranslation]).toEqual([true, true, false, true, true]);
  });

  it('read-write leaf with a fetch: fetch, readable, writable, linear valid, final = 0x19c', () => {
    const { w, cfg } = base();
    const r = walk2d(leaf(w, 'rw'), cfg, mkGva(GVA4), { kind: 'fetch', user: true });
    expect(r.outcome).toMatchObject({ _tag: 'ept-violation', qualification: 0x19c });
  });

  it('violation on a guest paging-structure access: bit 7 set, bit 8 clear (0x81); with EPT A/D both read and write (0x83)', () => {
    const { w, cfg } = base();
    const pdpt = w.guestPages[1];
    const m = EptBuild.eptWriteEntry(w.mem, EPT_ROOT, 4, pdpt, 1, 0n)?.mem ?? Phys.empty;
    const r = walk2d(m, cfg, mkGva(GVA4), { kind: 'read', user: true });
    expect(r.outcome).toMatchObject({ _tag: 'ept-violation', qualification: 0x81, guestLevel: 3, gpa: pdpt + 8 * (Math.floor(GVA4 / 2 ** 30) % 512) });
    expect(r.counts).toEqual({ guest: 1, nested: 8 });
    const ad = walk2d(m, { ...cfg, ept: eptCtx(4, { ad: true }) }, mkGva(GVA4), { kind: 'read', user: true });
    expect(ad.outcome).toMatchObject({ _tag: 'ept-violation', qualification: 0x83 });
  });

  it('SDM "Accessed and Dirty Flags for EPT": a read-only guest page table under EPT A/D faults as a write (0x8b)', () => {
    const { w, cfg } = base();
    const pd = w.guestPages[2];
    const m = EptBuild.eptMap(w.mem, w.eptAlloc, EPT_ROOT, 4, pd, pd + OFF, '4K', { r: true, w: false, x: false }).mem;
    expect(walk2d(m, cfg, mkGva(GVA4), { kind: 'read', user: true, }, {}).outcome._tag).not.toBe('translated'); // data unmapped
    const r = walk2d(m, { ...cfg, ept: eptCtx(4, { ad: true }) }, mkGva(GVA4), { kind: 'read', user: true });
    expect(r.outcome).toMatchObject({ _tag: 'ept-violation', qualification: 0x8b, guestLevel: 2 });
  });

  it('mode-based execute control: supervisor fetch from an execute-user-only leaf = fetch + user-executable + 7 + 8 (0x1c4)', () => {
    const flags = { writable: true, user: false, executable: true };
    const { w, cfg } = base(flags, { mbec: true, executeOnly: true });
    const m = EptBuild.eptMap(w.mem, w.eptAlloc, EPT_ROOT, 4, DATA, DATA + OFF, '4K', { r: false, w: false, x: false, ux: true }).mem;
    expect(walk2d(m, cfg, mkGva(GVA4), { kind: 'fetch', user: false }).outcome).toMatchObject({ _tag: 'ept-violation', qualification: 0x1c4 });
    // advanced information adds bit 10 (guest R/W = 1); the address is supervisor-mode (bit 9 = 0), executable (bit 11 = 0)
    const adv = walk2d(m, { ...cfg, advancedInfo: true }, mkGva(GVA4), { kind: 'fetch', user: false });
    expect(adv.outcome).toMatchObject({ qualification: 0x5c4 });
  });

  it('mode-based execute control: a user-mode linear address may fetch from the same leaf', () => {
    const { w, cfg } = base(RWXU, { mbec: true, executeOnly: true });
    const m = EptBuild.eptMap(w.mem, w.eptAlloc, EPT_ROOT, 4, DATA, DATA + OFF, '4K', { r: false, w: false, x: false, ux: true }).mem;
    expect(walk2d(m, cfg, mkGva(GVA4), { kind: 'fetch', user: true }).outcome).toMatchObject({ _tag: 'translated', hpa: DATA + OFF });
  });
});

describe('SDM "Prioritization of EPT Misconfigurations and EPT Violations" and guest #PF order', () => {
  const D2 = 0x0200_0000; // own 2 MiB region
  const setup = () => {
    let w = guestMap(newWorld(), 4, GVA4, D2, '4K', RWXU);
    w = eptMapAll(w, 4, '4K', []);
    w = { ...w, mem: EptBuild.eptMap(w.mem, w.eptAlloc, EPT_ROOT, 4, D2, D2 + OFF, '4K', { r: true, w: false, x: true }).mem };
    return { w, cfg: { guest: guestCfg(false), ept: eptCtx(4) } as Walk2dConfig };
  };
  it('a misconfigured leaf (memory type 2) beats the write-permission violation', () => {
    const { w, cfg } = setup();
    const m = EptBuild.eptWriteEntry(w.mem, EPT_ROOT, 4, D2, 1, BigInt(D2 + OFF) | 0x15n)?.mem ?? Phys.empty; // R, X, MT=2
    expect(walk2d(m, cfg, mkGva(GVA4), { kind: 'write', user: true }).outcome).toMatchObject({ _tag: 'ept-misconfig', gpa: D2, guestLevel: null, eptLevel: 1 });
  });
  it('a reserved bit in an upper EPT PDE beats a not-present leaf below it', () => {
    const { w, cfg } = setup();
    let m = EptBuild.eptWriteEntry(w.mem, EPT_ROOT, 4, D2, 1, 0n)?.mem ?? Phys.empty;
    const pdeAddr = EptBuild.eptEntryAddress(m, EPT_ROOT, 4, D2, 2) ?? 0;
    m = Phys.write64(m, pdeAddr, Phys.read64(m, pdeAddr) | 0x8n); // bit 3 of a non-leaf PDE is reserved
    expect(walk2d(m, cfg, mkGva(GVA4), { kind: 'read', user: true }).outcome).toMatchObject({ _tag: 'ept-misconfig', eptLevel: 2 });
  });
  it('a not-present upper entry hides a misconfiguration below it', () => {
    const { w, cfg } = setup();
    let m = EptBuild.eptWriteEntry(w.mem, EPT_ROOT, 4, D2, 1, BigInt(D2 + OFF) | 0x2n)?.mem ?? Phys.empty; // write-only PTE
    expect(walk2d(m, cfg, mkGva(GVA4), { kind: 'read', user: true }).outcome._tag).toBe('ept-misconfig');
    m = EptBuild.eptWriteEntry(m, EPT_ROOT, 4, D2, 2, 0n)?.mem ?? Phys.empty;
    expect(walk2d(m, cfg, mkGva(GVA4), { kind: 'read', user: true }).outcome).toMatchObject({ _tag: 'ept-violation', qualification: 0x181 });
  });
  it('guest access rights come before the EPT translation of the final GPA (guest #PF, not an EPT exit)', () => {
    let w = guestMap(newWorld(), 4, GVA4, DATA, '4K', { writable: false, user: true, executable: true });
    w = eptMapAll(w, 4, '4K', []); // DATA not EPT-mapped
    const r = walk2d(w.mem, { guest: guestCfg(false), ept: eptCtx(4) }, mkGva(GVA4), { kind: 'write', user: true });
    expect(r.outcome).toEqual({ _tag: 'guest-fault', vector: 14, errorCode: 0x7, cr2: GVA4 });
  });
  it('an EPT exit on a guest table comes before a guest #PF of a later level', () => {
    const w0 = eptMapAll(newWorld(), 4, '4K', []); // only the empty guest root is mapped
    const m = EptBuild.eptWriteEntry(w0.mem, EPT_ROOT, 4, 0x100_0000, 1, 0n)?.mem ?? Phys.empty;
    const r = walk2d(m, { guest: guestCfg(false), ept: eptCtx(4) }, mkGva(GVA4), { kind: 'read', user: true });
    expect(r.outcome).toMatchObject({ _tag: 'ept-violation', qualification: 0x81, guestLevel: 4 });
  });
});

describe('SDM "Accessed and Dirty Flags" and "Page-Modification Logging" through the walk', () => {
  it('a write sets guest A/D and the EPT dirty flags of every guest table page and the data page; PML logs each', () => {
    const { w } = build({ g: 4, e: 4, gs: '4K', es: '4K' });
    const PML = 0x8_0000;
    const cfg: Walk2dConfig = { guest: guestCfg(false), ept: eptCtx(4, { ad: true, pml: { address: PML as never, index: 511 } }) };
    const r = walk2d(w.mem, cfg, mkGva(GVA4), { kind: 'write', user: true });
    expect(r.outcome._tag).toBe('translated');
    // 4 guest table pages + the data page turn dirty: indexes 511..507 used, next 506
    expect(r.pmlIndex).toBe(506);
    expect(Phys.read64(r.mem, PML + 8 * 511)).toBe(0x100_0000n);
    expect(Phys.read64(r.mem, PML + 8 * 507)).toBe(BigInt(DATA));
    // guest leaf PTE: A (bit 5) and D (bit 6)
    if (r.outcome._tag !== 'translated') return;
    const pte = r.outcome.guestEntries[3];
    expect(Phys.read64Lo(r.mem, pte.gpa + OFF) & 0x60).toBe(0x60);
    expect(Phys.read64Lo(w.mem, pte.gpa + OFF) & 0x60).toBe(0); // input memory untouched
    // a second identical write dirties nothing new
    const again = walk2d(r.mem, { ...cfg, ept: eptCtx(4, { ad: true, pml: { address: PML as never, index: 506 } }) }, mkGva(GVA4), { kind: 'write', user: true });
    expect(again.pmlIndex).toBe(506);
  });
  it('PML full (index outside 0-511): exit before the EPT A/D flag is set; memory unchanged', () => {
    const { w } = build({ g: 4, e: 4, gs: '4K', es: '4K' });
    const cfg: Walk2dConfig = { guest: guestCfg(false), ept: eptCtx(4, { ad: true, pml: { address: 0x8_0000 as never, index: 0xffff } }) };
    const r = walk2d(w.mem, cfg, mkGva(GVA4), { kind: 'read', user: true });
    expect(r.outcome).toMatchObject({ _tag: 'pml-full', gpa: 0x100_0000 + 8 * (Math.floor(GVA4 / 2 ** 39) % 512), guestLevel: 4 });
    expect(r.mem).toBe(w.mem);
  });
});

describe('properties', () => {
  const sizes = fc.record({
    g: fc.constantFrom<4 | 5>(4, 5), e: fc.constantFrom<4 | 5>(4, 5),
    gs: fc.constantFrom<'4K' | '2M' | '1G'>('4K', '2M', '1G'), es: fc.constantFrom<'4K' | '2M' | '1G'>('4K', '2M', '1G'),
  });
  it('references never exceed (n+1)(m+1)-1', () => {
    fc.assert(fc.property(sizes, fc.constantFrom<'read' | 'write' | 'fetch'>('read', 'write', 'fetch'), fc.boolean(), (s, kind, user) => {
      const { w, cfg, gva } = build(s);
      const r = walk2d(w.mem, cfg, gva, { kind, user });
      return r.counts.guest + r.counts.nested <= maxReferences(s.g, s.e);
    }), { numRuns: 40 });
  });

  it('with an identity EPT the outcome equals the guest-only walk', () => {
    // Guest pages mapped at random; EPT maps [0, 4 GiB) to itself with 1 GiB pages.
    const eptId = EptBuild.eptIdentity(Phys.empty, { next: 0x20_0000 }, 0x1f_0000, 4, 0x1_0000_0000, '1G');
    const io = { read: (m: Phys.PhysMem, g: number) => ({ lo: Phys.read64Lo(m, g), hi: Phys.read64Hi(m, g) }), write: (m: Phys.PhysMem, g: number, lo: number, hi: number) => Phys.write64Parts(m, g, lo, hi) };
    const mapping = fc.record({ vpn: fc.integer({ min: 0, max: 63 }), ppn: fc.integer({ min: 0x2000, max: 0x3000 }), w: fc.boolean(), u: fc.boolean(), x: fc.boolean() });
    fc.assert(fc.property(fc.array(mapping, { maxLength: 8 }), fc.integer({ min: 0, max: 63 }), fc.constantFrom<'read' | 'write' | 'fetch'>('read', 'write', 'fetch'), fc.boolean(), fc.boolean(), (maps, vpn, kind, user, wp) => {
      let mem = eptId.mem;
      let alloc = { next: 0x101_0000 };
      for (const mp of maps) {
        const b = GuestBuild.guestMap(io, mem, alloc, 0x100_0000, 4, 0x4000_0000 + mp.vpn * 4096, mp.ppn * 4096, '4K', { writable: mp.w, user: mp.u, executable: mp.x });
        mem = b.state;
        alloc = b.alloc;
      }
      const g = { ...guestCfg(false), wp };
      const gva = mkGva(0x4000_0000 + vpn * 4096 + 8);
      const a = walk2d(mem, { guest: g, ept: null }, gva, { kind, user });
      const b = walk2d(mem, { guest: g, ept: { ...eptCtx(4), root: 0x1f_0000 as never } }, gva, { kind, user });
      expect(b.outcome._tag).toBe(a.outcome._tag);
      if (a.outcome._tag === 'translated' && b.outcome._tag === 'translated') expect(b.outcome.hpa).toBe(a.outcome.hpa);
      if (a.outcome._tag === 'guest-fault' && b.outcome._tag === 'guest-fault') expect(b.outcome.errorCode).toBe(a.outcome.errorCode);
      expect(b.counts.guest).toBe(a.counts.guest);
    }), { numRuns: 60 });
  });
});

describe('style guide rule 7: the per-access path allocates no bigint', () => {
  const hot = ['src/ept/walk.ts', 'src/guest/paging.ts', 'src/mmu/walk2d.ts', 'src/ept/entries.ts'];
  it.each(hot)('%s has no BigInt( call and no bigint literal', (f) => {
    const text = fs.readFileSync(path.join(__dirname, '..', '..', f), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    expect(text).not.toMatch(/BigInt\s*\(/);
    expect(text).not.toMatch(/\b(0x[0-9a-f_]+|\d[\d_]*)n\b/i);
  });
  it('a full two-dimensional walk never calls globalThis.BigInt', () => {
    const { w, cfg, gva } = build({ g: 5, e: 5, gs: '4K', es: '4K' });
    const real = globalThis.BigInt;
    let calls = 0;
    const spy = ((v: never) => { calls++; return real(v); }) as unknown as BigIntConstructor;
    globalThis.BigInt = spy;
    try {
      const ad = { ...cfg, ept: eptCtx(5, { ad: true, pml: { address: 0x8_0000 as never, index: 511 } }) };
      const r = walk2d(w.mem, ad, gva, { kind: 'write', user: true }, { record: true });
      expect(r.outcome._tag).toBe('translated');
    } finally {
      globalThis.BigInt = real;
    }
    expect(calls).toBe(0);
  });
});
