import fc from 'fast-check';
import { hexDigit, hexEnd, hexValueOf } from '../../src/guest/hexScan';

describe('hex numbers scanned in place (the trace readers\' fast paths)', () => {
  test('property: the digits found and their value agree with parseInt, in any case and with a suffix', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }), fc.boolean(), fc.constantFrom(',', '"', 'g', ''), (v, upper, tail) => {
      const digits = upper ? v.toString(16).toUpperCase() : v.toString(16);
      const text = `x${digits}${tail}`;
      const end = hexEnd(text, 1, text.length);
      expect(end).toBe(1 + digits.length);
      expect(hexValueOf(text, 1, end)).toBe(Number(v));
    }));
  });
  test('non-digits are -1, including chars above 127', () => {
    for (const c of ['g', 'G', ' ', '/', ':', '@', '`', '\u0660']) expect(hexDigit(c.charCodeAt(0))).toBe(-1);
    expect(hexEnd('zz', 0, 2)).toBe(0);
  });
});
