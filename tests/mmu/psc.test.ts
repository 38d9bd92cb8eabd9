import * as Psc from '../../src/mmu/psc';
import { FL_RW, FL_US, FL_X } from '../../src/mmu/tlb';
import { defaultTlbConfig } from '../../src/mmu/tlbConfig';

const G = 0x7f12_3456_7000;
const empty = () => Psc.emptyPsc(defaultTlbConfig);

describe('SDM 4.10.3 "Paging-Structure Caches"', () => {
  test('a PDE-cache entry serves every address with the same bits 47:21 and gives the page-table address', () => {
    const p = Psc.fill(empty(), 2, G, 1, 0, 7, 0x0120_3000, FL_RW | FL_US | FL_X);
    const h = Psc.lookup(p, 4, G - (G % 0x20_0000) + 0x1f_f123, 1, 0, 7);
    expect(Psc.hitLevel(h)).toBe(2);
    expect(Psc.hitTable(p, h)).toBe(0x0120_3000);
    expect(Psc.lookup(p, 4, G + 0x20_0000, 1, 0, 7)).toBe(-1);
  });
  test('the deepest cached level wins (the PDE cache skips the most levels)', () => {
    let p = Psc.fill(empty(), 4, G, 1, 0, 7, 0x1000, FL_RW | FL_US | FL_X);
    p = Psc.fill(p, 3, G, 1, 0, 7, 0x2000, FL_RW | FL_US | FL_X);
    expect(Psc.hitLevel(Psc.lookup(p, 4, G + 0x20_0000, 1, 0, 7))).toBe(3);
    p = Psc.fill(p, 2, G, 1, 0, 7, 0x3000, FL_US);
    const h = Psc.lookup(p, 4, G, 1, 0, 7);
    expect(Psc.hitLevel(h)).toBe(2);
    expect(Psc.hitRights(p, h)).toBe(FL_US);
  });
  test('entries are tagged by VPID, PCID and EP4TA (SDM 28.3.1 combined paging-structure-cache entries)', () => {
    const p = Psc.fill(empty(), 2, G, 1, 3, 7, 0x3000, FL_RW);
    expect(Psc.lookup(p, 4, G, 2, 3, 7)).toBe(-1);
    expect(Psc.lookup(p, 4, G, 1, 4, 7)).toBe(-1);
    expect(Psc.lookup(p, 4, G, 1, 3, 8)).toBe(-1);
  });
  test('the PML5E cache is used only with 5-level paging', () => {
    const p = Psc.fill(empty(), 5, G, 1, 0, 7, 0x4000, FL_RW);
    expect(Psc.lookup(p, 4, G, 1, 0, 7)).toBe(-1);
    expect(Psc.hitLevel(Psc.lookup(p, 5, G, 1, 0, 7))).toBe(5);
  });
});
