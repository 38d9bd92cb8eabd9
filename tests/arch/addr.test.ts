// Linear addresses between their 64-bit form (bigint) and the hot path's number form (src/arch/addr.ts): the number is
// the signed value of the 64 bits (kernel-half addresses negative).
import fc from 'fast-check';
import { gva as mkGva, gvaFromBig, gvaRepresentable, gvaToBig } from '../../src/arch/addr';

describe('gvaFromBig / gvaToBig', () => {
  test('the signed value of the 64 bits: user-half addresses as they are, kernel-half ones negative', () => {
    expect(gvaFromBig(0x7fff_ffff_f000n)).toBe(0x7fff_ffff_f000);
    expect(gvaFromBig(0xffff_8000_0000_1000n)).toBe(-(2 ** 47) + 0x1000);
    expect(gvaFromBig(0xffff_ffff_ffff_ffffn)).toBe(-1);
    expect(gvaFromBig(0n)).toBe(0);
    // bit 63 is the sign (a non-canonical value too), and only the low 64 bits count
    expect(gvaFromBig(1n << 63n)).toBe(-(2 ** 63));
    expect(gvaFromBig((1n << 63n) - 1n)).toBe(2 ** 63);
    expect(gvaFromBig((1n << 64n) + 5n)).toBe(5);
    expect(gvaToBig(mkGva(-1))).toBe(0xffff_ffff_ffff_ffffn);
    expect(gvaToBig(mkGva(-(2 ** 56)))).toBe(0xff00_0000_0000_0000n);
  });

  test('property: a number of magnitude at most 2^53 goes to 64 bits and back unchanged, and is representable', () => {
    fc.assert(fc.property(fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }), (g) => {
      const b = gvaToBig(mkGva(g));
      expect(b >= 0n && b < 1n << 64n).toBe(true);
      expect(gvaRepresentable(b)).toBe(true);
      expect(gvaFromBig(b)).toBe(g);
    }));
  });

  test('property: the same as the bigint arithmetic they replace, for any 64-bit value and any integer', () => {
    fc.assert(fc.property(fc.bigInt({ min: -(1n << 80n), max: 1n << 80n }), (a) => {
      expect(gvaFromBig(a)).toBe(Number(BigInt.asIntN(64, a)));
    }), { numRuns: 2000 });
    // integers beyond 2^53 too (every double of that size is one), and both signs
    const integers = fc.oneof(fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
      fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }).map((b) => Number(b)));
    fc.assert(fc.property(integers, (g) => {
      expect(gvaToBig(mkGva(g))).toBe(BigInt.asUintN(64, BigInt(g)));
    }), { numRuns: 2000 });
  });

  test('gvaToBig of a number that is not an integer throws, as BigInt does', () => {
    for (const g of [0.5, -1.25, NaN, Infinity, -Infinity]) expect(() => gvaToBig(mkGva(g))).toThrow(RangeError);
  });

  test('gvaRepresentable: |signed value| <= 2^53 exactly', () => {
    expect(gvaRepresentable(1n << 53n)).toBe(true);
    expect(gvaRepresentable((1n << 53n) + 1n)).toBe(false);
    expect(gvaRepresentable((1n << 64n) - (1n << 53n))).toBe(true);
    expect(gvaRepresentable((1n << 64n) - (1n << 53n) - 1n)).toBe(false);
    expect(gvaRepresentable(1n << 63n)).toBe(false);
  });
});
