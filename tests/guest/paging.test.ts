import fc from 'fast-check';
import * as Phys from '../../src/arch/phys';
import { gpa, gva } from '../../src/arch/addr';
import { problems } from '../../src/arch/layout';
import * as P from '../../src/guest/paging';
import * as GB from '../../src/guest/build';

const ROOT = 0x10_0000;
const V = 0x7f12_3456_7abc;
const io: GB.GuestPhysIo<Phys.PhysMem> = {
  read: (m, a) => ({ lo: Phys.read64Lo(m, a), hi: Phys.read64Hi(m, a) }),
  write: (m, a, lo, hi) => Phys.write64Parts(m, a, lo, hi),
};
const cfg = (x: Partial<P.GuestPagingConfig> = {}): P.GuestPagingConfig => ({ cr3: gpa(ROOT), la57: false, nxe: true, wp: true, maxPhyAddr: 46, ...x });
const map = (flags: string, size: GB.GuestPageSize = '4K', levels: 4 | 5 = 4, target = 0x4000_0000, m: Phys.PhysMem = Phys.empty) =>
  GB.guestMap(io, m, { next: 0x20_0000 }, ROOT, levels, V, target, size, GB.parseGuestFlags(flags)).state;
const reader = (m: Phys.PhysMem): P.ReadEntry<never> => (a) => ({ _tag: 'entry', lo: Phys.read64Lo(m, a), hi: Phys.read64Hi(m, a) });
const walk = (m: Phys.PhysMem, kind: P.GuestAccessKind, user: boolean, c = cfg(), v = V) => P.guestWalk(c, gva(v), { kind, user }, reader(m));
const ec = (r: P.GuestWalkResult<never>) => (r._tag === 'fault' ? r.errorCode : -1);
/** Sets bits in the entry for V at `level` (low word `lo`, high word `hi`). */
const poke = (m: Phys.PhysMem, level: number, lo: number, hi = 0): Phys.PhysMem => {
  const r = walk(m, 'read', false);
  const e = r._tag === 'ok' ? r.entries.find((x) => x.level === level) : undefined;
  if (e === undefined) throw new Error('no entry');
  return Phys.write64Parts(m, e.gpa, (e.lo | lo) >>> 0, (e.hi | hi) >>> 0);
};

describe('SDM "4-Level Paging and 5-Level Paging": translation', () => {
  it('guest layout tables are well-formed and the constants match them', () => {
    for (const l of P.GUEST_LAYOUTS) expect(problems(l)).toEqual([]);
    expect([P.PTE_P, P.PTE_RW, P.PTE_US, P.PTE_A, P.PTE_D]).toEqual(['P', 'RW', 'US', 'A', 'D'].map((n) => 1 << P.PTE.byName[n].lo));
    expect(P.PTE_PS).toBe(1 << P.PDE_2M.byName.PS.lo);
    expect(P.PTE.byName.XD.lo).toBe(63);
  });
  it('4-level: 4 entries read, GPA = frame | offset 11:0', () => {
    const r = walk(map('rwux'), 'read', true);
    expect(r).toMatchObject({ _tag: 'ok', gpa: 0x4000_0abc, pageSize: 4096, leafLevel: 1, user: true, writable: true, xd: false });
    if (r._tag === 'ok') expect(r.entries.map((e) => e.level)).toEqual([4, 3, 2, 1]);
  });
  it('5-level (CR4.LA57): 5 entries, the PML5 index is bits 56:48', () => {
    const v5 = 0x1_7f12_3456_7abc;
    const m = GB.guestMap(io, Phys.empty, { next: 0x20_0000 }, ROOT, 5, v5, 0x4000_0000, '4K', GB.parseGuestFlags('rwux')).state;
    const r = walk(m, 'read', true, cfg({ la57: true }), v5);
    expect(r).toMatchObject({ _tag: 'ok', gpa: 0x4000_0abc });
    if (r._tag === 'ok') expect(r.entries[0].gpa).toBe(ROOT + 8 * 1);
  });
  it('2 MiB page: 3 entries, offset 20:0; 1 GiB page: 2 entries, offset 29:0', () => {
    expect(walk(map('rwux', '2M'), 'read', true)).toMatchObject({ _tag: 'ok', gpa: 0x4000_0000 + (V % 0x20_0000), leafLevel: 2 });
    expect(walk(map('rwux', '1G'), 'read', true)).toMatchObject({ _tag: 'ok', gpa: 0x4000_0000 + (V % 0x4000_0000), leafLevel: 3 });
  });
  it('readEntry can stop the walk (the EPT plug-in point)', () => {
    const r = P.guestWalk(cfg(), gva(V), { kind: 'read', user: false }, (_a, level) => (level === 3 ? { _tag: 'stop', stop: 'exit' } : { _tag: 'entry', lo: 0x20_0007, hi: 0 }));
    expect(r).toEqual({ _tag: 'stop', stop: 'exit', level: 3 });
  });
  it('a paging-structure-cache start reads only the lower levels', () => {
    const m = map('rwux');
    const full = walk(m, 'read', true);
    if (full._tag !== 'ok') throw new Error('ok expected');
    const pde = full.entries[2];
    const r = P.guestWalk(cfg(), gva(V), { kind: 'write', user: true }, reader(m), { level: 1, table: gpa(pde.lo & 0xffff_f000), user: true, writable: false, xd: false });
    // the cached upper levels said read-only: the write faults although the PTE is writable
    expect(ec(r)).toBe(0x7);
  });
});

describe('SDM "Page-Fault Error Code" and "Access Rights"', () => {
  it('not present: P = 0; W/R and U/S from the access', () => {
    expect(ec(walk(Phys.empty, 'read', false))).toBe(0x0);
    expect(ec(walk(Phys.empty, 'write', true))).toBe(0x6);
  });
  it('I/D is set for a fetch only with NXE (or SMEP)', () => {
    expect(ec(walk(Phys.empty, 'fetch', false))).toBe(0x10);
    expect(ec(walk(Phys.empty, 'fetch', false, cfg({ nxe: false })))).toBe(0x0);
    expect(ec(walk(Phys.empty, 'fetch', false, cfg({ nxe: false, smep: true })))).toBe(0x10);
  });
  it('user access to a supervisor page: P | U', () => {
    expect(ec(walk(map('rwx'), 'read', true))).toBe(0x5);
  });
  it('user write to a read-only page: P | W | U', () => {
    expect(ec(walk(map('ux'), 'write', true))).toBe(0x7);
  });
  it('CR0.WP: a supervisor write to a read-only page faults only when WP = 1', () => {
    expect(ec(walk(map('ux'), 'write', false))).toBe(0x3);
    expect(walk(map('ux'), 'write', false, cfg({ wp: false }))._tag).toBe('ok');
  });
  it('XD with IA32_EFER.NXE = 1: a fetch faults with P | I/D; reads pass', () => {
    expect(ec(walk(map('rw'), 'fetch', false))).toBe(0x11);
    expect(walk(map('rw'), 'read', false)._tag).toBe('ok');
  });
  it('XD set with NXE = 0 is a reserved bit: P | RSVD', () => {
    expect(ec(walk(map('rw'), 'read', false, cfg({ nxe: false })))).toBe(0x9);
  });
  it('SMEP: a supervisor fetch from a user page faults', () => {
    expect(ec(walk(map('rwux'), 'fetch', false, cfg({ smep: true })))).toBe(0x11);
    expect(walk(map('rwux'), 'fetch', false)._tag).toBe('ok');
  });
  it('reserved bits 51:M (M = 46) give P | RSVD, with W/U of the access', () => {
    expect(ec(walk(poke(map('rwux'), 1, 0, 1 << 14), 'write', true))).toBe(0xf);
  });
  it('PS (bit 7) in a PML4E is reserved', () => {
    expect(ec(walk(poke(map('rwux'), 4, 0x80), 'read', false))).toBe(0x9);
  });
  it('2 MiB page: bits 20:13 reserved, bit 12 (PAT) not', () => {
    expect(ec(walk(poke(map('rwux', '2M'), 2, 0x2000), 'read', false))).toBe(0x9);
    expect(walk(poke(map('rwux', '2M'), 2, 0x1000), 'read', false)._tag).toBe('ok');
  });
  it('1 GiB page: bits 29:13 reserved', () => {
    expect(ec(walk(poke(map('rwux', '1G'), 3, 0x2000_0000), 'read', false))).toBe(0x9);
  });
  it('rights accumulate over levels: R/W = 0 in the PDE makes the page read-only', () => {
    const m = map('rwux');
    const r = walk(m, 'read', false);
    if (r._tag !== 'ok') throw new Error('ok expected');
    const pde = r.entries[2];
    const m2 = Phys.write64Parts(m, pde.gpa, pde.lo & ~P.PTE_RW, pde.hi);
    expect(ec(walk(m2, 'write', true))).toBe(0x7);
  });
});

describe('SDM "Accessed and Dirty Flags" (guest)', () => {
  it('a read sets A in every entry used; a write also sets D in the leaf', () => {
    const r = walk(map('rwux'), 'write', true);
    if (r._tag !== 'ok') throw new Error('ok expected');
    const u = P.guestAdUpdates(r.entries, true);
    expect(u.map((e) => e.lo & 0x60)).toEqual([0x20, 0x20, 0x20, 0x60]);
    expect(P.guestAdUpdates(r.entries, false).map((e) => e.lo & 0x60)).toEqual([0x20, 0x20, 0x20, 0x20]);
  });
  it('entries that already have the flags are not rewritten', () => {
    const r = walk(map('rwux'), 'read', true);
    if (r._tag !== 'ok') throw new Error('ok expected');
    const done = r.entries.map((e, i) => ({ ...e, lo: e.lo | 0x20 | (i === 3 ? 0x40 : 0) }));
    expect(P.guestAdUpdates(done, true)).toEqual([]);
  });
});

describe('guest builders', () => {
  it('guestMap writes P|RW|US intermediate entries and a leaf with the flags; XD when not executable', () => {
    const m = map('rw');
    const r = walk(m, 'read', false);
    if (r._tag !== 'ok') throw new Error('ok expected');
    expect(r.entries.map((e) => e.lo & 0xfff)).toEqual([0x7, 0x7, 0x7, 0x3]);
    expect(r.entries[3].hi >>> 31).toBe(1);
  });
  it('guestUnmap clears the leaf (then the walk faults not-present)', () => {
    const m = GB.guestUnmap(io, map('rwux', '2M'), ROOT, 4, V).state;
    expect(ec(walk(m, 'read', true))).toBe(0x4);
  });
  it('property: every mapped 4 KiB page translates to its target with the offset', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 35 - 1 }), fc.integer({ min: 0, max: 2 ** 22 - 1 }), fc.integer({ min: 0, max: 4095 }), (vpn, ppn, off) => {
      const v = vpn * 4096;
      const m = GB.guestMap(io, Phys.empty, { next: 0x20_0000 }, ROOT, 4, v, 0x100_0000 + ppn * 4096, '4K', GB.parseGuestFlags('rwux')).state;
      const r = walk(m, 'read', true, cfg(), v + off);
      return r._tag === 'ok' && r.gpa === 0x100_0000 + ppn * 4096 + off;
    }), { numRuns: 50 });
  });
});
