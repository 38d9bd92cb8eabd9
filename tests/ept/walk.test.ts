import * as Phys from '../../src/arch/phys';
import { hpa } from '../../src/arch/addr';
import * as B from '../../src/ept/build';
import { eptTranslate, EptContext, EptAccess, eptIndex } from '../../src/ept/walk';

const ROOT = 0x10_0000;
const G = 0x1234_5678; // PML4 0, PDPT 0, PD 0x91, PT 0x145
const H = 0x5555_5000;
const ctx = (x: Partial<EptContext> = {}): EptContext => ({ root: hpa(ROOT), levels: 4, ad: false, mbec: false, executeOnly: false, pages1G: true, maxPhyAddr: 46, ...x });
const R: EptAccess = { kind: 'read', user: false, pagingStructure: false };
const W: EptAccess = { kind: 'write', user: false, pagingStructure: false };
const X: EptAccess = { kind: 'fetch', user: false, pagingStructure: false };
const mapped = (perm = 'rwx', size: B.EptPageSize = '4K', levels: 4 | 5 = 4, mt = 6) => B.eptMap(Phys.empty, { next: ROOT + 0x1000 }, ROOT, levels, G, H, size, B.parsePerm(perm), mt).mem;
const withEntry = (m: Phys.PhysMem, level: number, raw: bigint, levels: 4 | 5 = 4) => B.eptWriteEntry(m, ROOT, levels, G, level, raw)?.mem ?? Phys.empty;

describe('SDM "EPT Translation Mechanism"', () => {
  it('4-level walk: 4 references, HPA = frame | offset 11:0', () => {
    const r = eptTranslate(mapped(), ctx(), G, R);
    expect(r).toMatchObject({ _tag: 'ok', hpa: H + 0x678, leafLevel: 1, pageSize: 4096, refs: 4, memType: 6 });
  });
  it('5-level walk: 5 references', () => {
    expect(eptTranslate(mapped('rwx', '4K', 5), ctx({ levels: 5 }), G, R)).toMatchObject({ _tag: 'ok', hpa: H + 0x678, refs: 5 });
  });
  it('2 MiB leaf (PDE bit 7): 3 references, offset 20:0', () => {
    expect(eptTranslate(mapped('rwx', '2M'), ctx(), G, R)).toMatchObject({ _tag: 'ok', hpa: 0x5540_0000 + (G % 0x20_0000), refs: 3, leafLevel: 2 });
  });
  it('1 GiB leaf (PDPTE bit 7): 2 references, offset 29:0', () => {
    expect(eptTranslate(mapped('rwx', '1G'), ctx(), G, R)).toMatchObject({ _tag: 'ok', hpa: 0x4000_0000 + G, refs: 2, leafLevel: 3 });
  });
  it('index bits: PML5 56:48 ... PT 20:12', () => {
    expect([5, 4, 3, 2, 1].map((l) => eptIndex(0x01_0203_0405_6000 + 0xfff, l))).toEqual([1, 4, 12, 32, 86]);
  });
  it('onRef sees each entry address with its level, top-down', () => {
    const seen: [number, number][] = [];
    eptTranslate(mapped(), ctx(), G, R, (a, l) => seen.push([a, l]));
    expect(seen.map((s) => s[1])).toEqual([4, 3, 2, 1]);
    expect(seen[0][0]).toBe(ROOT);
  });
});

describe('SDM "EPT Violations"', () => {
  it('not-present leaf: violation with readable/writable/executable 0', () => {
    const m = withEntry(mapped(), 1, 0n);
    expect(eptTranslate(m, ctx(), G, R)).toMatchObject({ _tag: 'violation', level: 1, read: true, write: false, fetch: false, readable: false, writable: false, executable: false, refs: 4 });
  });
  it('not-present upper entry ends the walk at that level', () => {
    const m = withEntry(mapped(), 3, 0n);
    expect(eptTranslate(m, ctx(), G, W)).toMatchObject({ _tag: 'violation', level: 3, write: true, refs: 2 });
  });
  it('permissions are the AND over every entry: an R-only PDE forbids writes through an RWX PTE', () => {
    let m = mapped();
    const pde = B.eptEntryAddress(m, ROOT, 4, G, 2) ?? 0;
    m = Phys.write64(m, pde, (Phys.read64(m, pde) & ~7n) | 1n);
    expect(eptTranslate(m, ctx(), G, W)).toMatchObject({ _tag: 'violation', readable: true, writable: false, executable: false });
    expect(eptTranslate(m, ctx(), G, R)._tag).toBe('ok');
  });
  it('read-only leaf: write and fetch violate, read passes', () => {
    const m = mapped('r');
    expect(eptTranslate(m, ctx(), G, W)).toMatchObject({ _tag: 'violation', readable: true, writable: false });
    expect(eptTranslate(m, ctx(), G, X)).toMatchObject({ _tag: 'violation', fetch: true });
    expect(eptTranslate(m, ctx(), G, R)._tag).toBe('ok');
  });
  it('execute-only leaf (supported): fetch passes, read violates', () => {
    const m = mapped('x');
    expect(eptTranslate(m, ctx({ executeOnly: true }), G, X)._tag).toBe('ok');
    expect(eptTranslate(m, ctx({ executeOnly: true }), G, R)).toMatchObject({ _tag: 'violation', executable: true, readable: false });
  });
  it('mode-based execute control: supervisor fetch uses bit 2, user fetch uses bit 10', () => {
    const m = mapped('rx'); // intermediate entries carry bit 10; the leaf does not
    expect(eptTranslate(m, ctx({ mbec: true }), G, X)._tag).toBe('ok');
    expect(eptTranslate(m, ctx({ mbec: true }), G, { ...X, user: true })).toMatchObject({ _tag: 'violation', executable: true, userExecutable: false });
    // without MBEC bit 10 is ignored: a user fetch uses bit 2
    expect(eptTranslate(m, ctx(), G, { ...X, user: true })._tag).toBe('ok');
  });
  it('MBEC off: an entry with only bit 10 set is not present', () => {
    const m = mapped('u');
    expect(eptTranslate(m, ctx({ executeOnly: true }), G, { ...X, user: true })).toMatchObject({ _tag: 'violation', level: 1, userExecutable: false });
  });
  it('EPT A/D on: a guest paging-structure access is treated as a write (read and write bits)', () => {
    const m = mapped('r');
    const ps = { kind: 'read', user: false, pagingStructure: true } as const;
    expect(eptTranslate(m, ctx({ ad: true }), G, ps)).toMatchObject({ _tag: 'violation', read: true, write: true });
    expect(eptTranslate(m, ctx({ ad: false }), G, ps)._tag).toBe('ok');
  });
  it('suppress #VE (bit 63) of the entry that ended the walk is reported', () => {
    const m = withEntry(mapped(), 1, 1n << 63n);
    expect(eptTranslate(m, ctx(), G, R)).toMatchObject({ _tag: 'violation', suppressVe: true });
  });
});

describe('SDM "EPT Misconfigurations"', () => {
  const leaf = (low: number) => BigInt(H) | BigInt(low);
  it.each([
    ['write without read (010b)', 0x32],
    ['write+execute without read (110b)', 0x36],
    ['execute-only without EPT_VPID_CAP[0] (100b)', 0x34],
    ['leaf memory type 2', 0x17],
    ['leaf memory type 3', 0x1f],
    ['leaf memory type 7', 0x3f],
  ])('%s', (_n, low) => {
    expect(eptTranslate(withEntry(mapped(), 1, leaf(low)), ctx(), G, R)).toMatchObject({ _tag: 'misconfig', level: 1, gpa: G });
  });
  it('execute-only is fine when EPT_VPID_CAP[0] = 1', () => {
    expect(eptTranslate(withEntry(mapped(), 1, leaf(0x34)), ctx({ executeOnly: true }), G, X)._tag).toBe('ok');
  });
  it('MBEC: user-execute-only (bits 2:0 = 0, bit 10 = 1) is a misconfiguration without execute-only support', () => {
    const m = withEntry(mapped(), 1, leaf(0x430));
    expect(eptTranslate(m, ctx({ mbec: true }), G, X)).toMatchObject({ _tag: 'misconfig' });
    expect(eptTranslate(m, ctx({ mbec: true, executeOnly: true }), G, { ...X, user: true })._tag).toBe('ok');
  });
  it('reserved bits 51:N (N = MAXPHYADDR = 46: bit 46)', () => {
    expect(eptTranslate(withEntry(mapped(), 1, leaf(0x37) | (1n << 46n)), ctx(), G, R)).toMatchObject({ _tag: 'misconfig', reason: 'reserved-bit' });
    // with MAXPHYADDR 52 the same bit is an address bit
    expect(eptTranslate(withEntry(mapped(), 1, leaf(0x37) | (1n << 46n)), ctx({ maxPhyAddr: 52 }), G, R)._tag).toBe('ok');
  });
  it('bit 7 in a PML4E is reserved', () => {
    let m = mapped();
    m = Phys.write64(m, ROOT, Phys.read64(m, ROOT) | 0x80n);
    expect(eptTranslate(m, ctx(), G, R)).toMatchObject({ _tag: 'misconfig', level: 4 });
  });
  it('bit 7 in a PML5E is reserved', () => {
    let m = mapped('rwx', '4K', 5);
    m = Phys.write64(m, ROOT, Phys.read64(m, ROOT) | 0x80n);
    expect(eptTranslate(m, ctx({ levels: 5 }), G, R)).toMatchObject({ _tag: 'misconfig', level: 5 });
  });
  it('bits 6:3 of a non-leaf PDE are reserved (memory type 6 there is a misconfiguration)', () => {
    let m = mapped();
    const pde = B.eptEntryAddress(m, ROOT, 4, G, 2) ?? 0;
    m = Phys.write64(m, pde, Phys.read64(m, pde) | 0x30n);
    expect(eptTranslate(m, ctx(), G, R)).toMatchObject({ _tag: 'misconfig', level: 2 });
  });
  it('2 MiB leaf: frame bits 20:12 are reserved', () => {
    const m = withEntry(mapped('rwx', '2M'), 2, BigInt(0x5540_0000) | 0xb7n | 0x1000n);
    expect(eptTranslate(m, ctx(), G, R)).toMatchObject({ _tag: 'misconfig', level: 2 });
  });
  it('1 GiB leaf: frame bits 29:12 are reserved; a 1 GiB leaf without EPT_VPID_CAP[17] is a misconfiguration', () => {
    const m = withEntry(mapped('rwx', '1G'), 3, BigInt(0x4000_0000) | 0xb7n | 0x10_0000n);
    expect(eptTranslate(m, ctx(), G, R)).toMatchObject({ _tag: 'misconfig', level: 3 });
    expect(eptTranslate(mapped('rwx', '1G'), ctx({ pages1G: false }), G, R)).toMatchObject({ _tag: 'misconfig', level: 3 });
  });
  it('priority: a misconfigured leaf beats the permission violation of an upper entry', () => {
    let m = withEntry(mapped(), 1, leaf(0x17));
    const pde = B.eptEntryAddress(m, ROOT, 4, G, 2) ?? 0;
    m = Phys.write64(m, pde, (Phys.read64(m, pde) & ~7n) | 1n); // PDE read-only
    expect(eptTranslate(m, ctx(), G, W)._tag).toBe('misconfig');
  });
  it('priority: a not-present upper entry hides a misconfigured entry below it', () => {
    let m = withEntry(mapped(), 1, leaf(0x32));
    const pde = B.eptEntryAddress(m, ROOT, 4, G, 2) ?? 0;
    m = Phys.write64(m, pde, Phys.read64(m, pde) & ~7n & ~0x400n);
    expect(eptTranslate(m, ctx(), G, R)).toMatchObject({ _tag: 'violation', level: 2 });
  });
  it('a not-present entry ignores its other bits (reserved bits do not misconfigure it)', () => {
    const m = withEntry(mapped(), 1, 0xf8n | (1n << 50n));
    expect(eptTranslate(m, ctx(), G, R)._tag).toBe('violation');
  });
});

describe('SDM "Accessed and Dirty Flags for EPT" and "Page-Modification Logging"', () => {
  const entries = (m: Phys.PhysMem) => [4, 3, 2, 1].map((l) => Phys.read64Lo(m, B.eptEntryAddress(m, ROOT, 4, G, l) ?? 0));
  it('EPTP[6] = 0: no flags set, memory returned unchanged', () => {
    const m = mapped();
    const r = eptTranslate(m, ctx(), G, W);
    expect(r._tag === 'ok' && r.mem).toBe(m);
  });
  it('a read sets A (bit 8) in every entry used and no D', () => {
    const r = eptTranslate(mapped(), ctx({ ad: true }), G, R);
    if (r._tag !== 'ok') throw new Error(r._tag);
    expect(entries(r.mem).map((lo) => lo & 0x300)).toEqual([0x100, 0x100, 0x100, 0x100]);
  });
  it('a write sets D (bit 9) on the leaf only', () => {
    const r = eptTranslate(mapped(), ctx({ ad: true }), G, W);
    if (r._tag !== 'ok') throw new Error(r._tag);
    expect(entries(r.mem).map((lo) => lo & 0x300)).toEqual([0x100, 0x100, 0x100, 0x300]);
  });
  it('PML: a clean-to-dirty transition logs the 4 KiB GPA at the index and decrements it', () => {
    const pml = { address: hpa(0x9_0000), index: 511 };
    const r = eptTranslate(mapped(), ctx({ ad: true, pml }), G, W);
    if (r._tag !== 'ok') throw new Error(r._tag);
    expect(Phys.read64(r.mem, 0x9_0000 + 8 * 511)).toBe(0x1234_5000n);
    expect(r.pmlIndex).toBe(510);
    // already dirty: no log, index unchanged
    const again = eptTranslate(r.mem, ctx({ ad: true, pml: { ...pml, index: 510 } }), G, W);
    expect(again._tag === 'ok' && again.pmlIndex).toBe(510);
  });
  it('PML: logging at index 0 wraps the index to 0xFFFF', () => {
    const r = eptTranslate(mapped(), ctx({ ad: true, pml: { address: hpa(0x9_0000), index: 0 } }), G, W);
    expect(r._tag === 'ok' && r.pmlIndex).toBe(0xffff);
  });
  it('PML full (index not in 0-511): pml-full before any flag is set; a read needing only A also exits', () => {
    const full = { address: hpa(0x9_0000), index: 0xffff };
    expect(eptTranslate(mapped(), ctx({ ad: true, pml: full }), G, W)._tag).toBe('pml-full');
    expect(eptTranslate(mapped(), ctx({ ad: true, pml: full }), G, R)._tag).toBe('pml-full');
  });
  it('PML full but no flag to set: the access proceeds', () => {
    const first = eptTranslate(mapped(), ctx({ ad: true }), G, W);
    if (first._tag !== 'ok') throw new Error(first._tag);
    expect(eptTranslate(first.mem, ctx({ ad: true, pml: { address: hpa(0x9_0000), index: 0xffff } }), G, W)._tag).toBe('ok');
  });
});
