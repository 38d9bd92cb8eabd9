import * as NestedTlb from '../../src/mmu/nestedTlb';
import { FL_EPT_R, FL_EPT_W } from '../../src/mmu/tlb';
import { defaultTlbConfig } from '../../src/mmu/tlbConfig';

describe('nested TLB: guest-physical mappings tagged by EP4TA (SDM 28.3.1)', () => {
  test('a filled guest-physical page translates every offset; another EP4TA or page misses', () => {
    const n = NestedTlb.fill(NestedTlb.emptyNestedTlb(defaultTlbConfig), 0x100, 0x0100_2000, 0x4100_2000, FL_EPT_R | FL_EPT_W);
    const h = NestedTlb.lookup(n, 0x100, 0x0100_2ff8);
    expect(NestedTlb.hitHpa(n, h, 0x0100_2ff8)).toBe(0x4100_2ff8);
    expect(NestedTlb.hitRights(n, h)).toBe(FL_EPT_R | FL_EPT_W);
    expect(NestedTlb.lookup(n, 0x101, 0x0100_2000)).toBe(-1);
    expect(NestedTlb.lookup(n, 0x100, 0x0100_3000)).toBe(-1);
  });
  test('16 entries, 4 ways: a fifth page of one set evicts the least recently used', () => {
    let n = NestedTlb.emptyNestedTlb(defaultTlbConfig); // 4 sets: pages 0, 4, 8, 12, 16 share set 0
    for (const p of [0, 4, 8, 12]) n = NestedTlb.fill(n, 1, p * 4096, p * 4096, FL_EPT_R);
    n = NestedTlb.touchHit(n, NestedTlb.lookup(n, 1, 0));
    n = NestedTlb.fill(n, 1, 16 * 4096, 0, FL_EPT_R);
    expect([0, 4, 8, 12, 16].map((p) => NestedTlb.lookup(n, 1, p * 4096) >= 0)).toEqual([true, false, true, true, true]);
  });
});
