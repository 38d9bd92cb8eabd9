import * as Phys from '../../src/arch/phys';
import * as B from '../../src/ept/build';

const ROOT = 0x10_0000;
describe('EPT builders (SDM "EPT Translation Mechanism" entry formats)', () => {
  it('eptMap allocates PDPT, PD, PT from the allocator and writes intermediate RWX+UX entries', () => {
    const r = B.eptMap(Phys.empty, { next: 0x20_0000 }, ROOT, 4, 0x1234_5000, 0x5555_5000, '4K', B.parsePerm('rw'), 6);
    expect(r.alloc.next).toBe(0x20_3000);
    expect(Phys.read64(r.mem, ROOT)).toBe(0x20_0407n);
    // PTE: frame | MT=6 (bits 5:3 = 0x30) | R | W
    expect(Phys.read64(r.mem, B.eptEntryAddress(r.mem, ROOT, 4, 0x1234_5000, 1) ?? 0)).toBe(0x5555_5033n);
  });
  it('a 2 MiB leaf sets bit 7 and aligns the frame; the input memory is untouched', () => {
    const r = B.eptMap(Phys.empty, { next: 0x20_0000 }, ROOT, 4, 0x1234_5000, 0x5555_5000, '2M', B.parsePerm('rwx'), 0);
    expect(Phys.read64(r.mem, B.eptEntryAddress(r.mem, ROOT, 4, 0x1234_5000, 2) ?? 0)).toBe(0x5540_0087n);
    expect(Phys.empty.pages).toBe(0);
  });
  it('eptWriteEntry without an allocator reports a missing table; with one it creates it', () => {
    expect(B.eptWriteEntry(Phys.empty, ROOT, 4, 0x1000, 1, 0x2n)).toBeUndefined();
    const r = B.eptWriteEntry(Phys.empty, ROOT, 4, 0x1000, 1, 0x2n, { next: 0x20_0000 });
    expect(r?.alloc?.next).toBe(0x20_3000);
  });
});
