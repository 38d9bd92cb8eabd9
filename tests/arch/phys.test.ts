import fc from 'fast-check';
import * as Phys from '../../src/arch/phys';

describe('physical memory (persistent radix trie of 4 KiB pages)', () => {
  it('reads zero where nothing was written', () => {
    expect(Phys.read64(Phys.empty, 0x1234_5000)).toBe(0n);
    expect(Phys.read8(Phys.empty, 0xfffff_ffff_f000)).toBe(0);
  });

  it('a write is visible in the new memory and not in the old one (old states stay valid)', () => {
    const m1 = Phys.write64(Phys.empty, 0x2000, 0x8000_0000_dead_beefn);
    const m2 = Phys.write64(m1, 0x2000, 1n);
    expect(Phys.read64(m1, 0x2000)).toBe(0x8000_0000_dead_beefn);
    expect(Phys.read64Lo(m1, 0x2000)).toBe(0xdead_beef);
    expect(Phys.read64Hi(m1, 0x2000)).toBe(0x8000_0000);
    expect(Phys.read64(m2, 0x2000)).toBe(1n);
    expect(Phys.read64(Phys.empty, 0x2000)).toBe(0n);
    expect(m2.pages).toBe(1);
  });

  it('property: the last write of each byte wins, at any 52-bit address', () => {
    const addr = fc.integer({ min: 0, max: 2 ** 52 - 8 });
    fc.assert(fc.property(fc.array(fc.tuple(addr, fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), { maxLength: 20 }), (writes) => {
      let m = Phys.empty;
      const model = new Map<number, number>();
      for (const [a, v] of writes) {
        m = Phys.write64(m, a, v);
        for (let i = 0; i < 8; i++) model.set(a + i, Number((v >> BigInt(8 * i)) & 0xffn));
      }
      for (const [a, b] of model) expect(Phys.read8(m, a)).toBe(b);
    }));
  });

  it('little-endian byte order, as x86 stores a 64-bit entry', () => {
    const m = Phys.write64(Phys.empty, 0x10, 0x0807060504030201n);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((i) => Phys.read8(m, 0x10 + i))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Phys.read32(m, 0x12)).toBe(0x06050403);
  });
});
