import fc from 'fast-check';
import * as L from '../../src/arch/layout';

const sample = L.defineLayout('sample', 'test', 64, [
  { name: 'r', lo: 0 }, { name: 'w', lo: 1 }, { name: 'type', lo: 3, hi: 5 }, { name: 'addr', lo: 12, hi: 51 }, { name: 'xd', lo: 63 },
]);

describe('bit-layout codec', () => {
  it('encode then decode gives the fields back (round trip)', () => {
    fc.assert(fc.property(fc.boolean(), fc.integer({ min: 0, max: 7 }), fc.bigInt({ min: 0n, max: (1n << 40n) - 1n }), (r, t, a) => {
      const v = L.encode(sample, { r, type: t, addr: a });
      const d = L.decode(sample, v);
      expect(d.r).toBe(r ? 1n : 0n);
      expect(d.type).toBe(BigInt(t));
      expect(d.addr).toBe(a);
      expect(d.w).toBe(0n);
    }));
  });

  it('finds overlaps, out-of-range fields, disorder and duplicate names', () => {
    const bad = L.defineLayout('bad', 'test', 32, [
      { name: 'a', lo: 0, hi: 3 }, { name: 'b', lo: 2 }, { name: 'c', lo: 31, hi: 32 }, { name: 'a', lo: 10 }, { name: 'd', lo: 5 },
    ]);
    const kinds = L.problems(bad).map((p) => `${p.kind}:${p.field}`);
    expect(kinds).toEqual(expect.arrayContaining(['overlap:b', 'out-of-range:c', 'duplicate-name:a', 'not-ascending:d']));
    expect(L.problems(sample)).toEqual([]);
  });

  it('undeclaredBits reports set bits outside every field', () => {
    expect(L.undeclaredBits(sample, (1n << 62n) | 3n)).toBe(1n << 62n);
  });
});
