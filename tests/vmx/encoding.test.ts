import fc from 'fast-check';
import { decodeEncoding, readComponent, resolve, writeComponent } from '../../src/vmx/encoding';
import { FIELDS } from '../../src/vmx/fields';

describe('VMCS component encodings (SDM "VMREAD, VMWRITE, and Encodings of VMCS Fields")', () => {
  test('decodes access type, index, type and width: 0x2011 is the high half of a 64-bit control, index 8', () => {
    // 0x2011 = 0b0010_0000_0001_0001: bit 0 = 1 (high), bits 9:1 = 8, bits 11:10 = 0 (control), bits 14:13 = 1 (64-bit)
    expect(decodeEncoding(0x2011)).toEqual({ access: 'high', index: 8, type: 'control', width: 64, reservedBitsSet: false });
    // 0x6c16 (host RIP): natural width (3), host (3), index 11
    expect(decodeEncoding(0x6c16)).toEqual({ access: 'full', index: 11, type: 'host', width: 'natural', reservedBitsSet: false });
    // 0x4402 (exit reason): 32-bit (2), exit information (1), index 1
    expect(decodeEncoding(0x4402)).toEqual({ access: 'full', index: 1, type: 'exit-info', width: 32, reservedBitsSet: false });
  });

  test('SDM: bit 12 and bits 31:15 are reserved; an encoding setting them is unsupported (VMfailValid(12))', () => {
    expect(decodeEncoding(0x1000).reservedBitsSet).toBe(true);
    expect(resolve(0x1000 | 0x6800)).toBeUndefined();
    expect(resolve(0x8000 | 0x6800)).toBeUndefined();
    expect(resolve(0x8000_6800)).toBeUndefined();
    expect(resolve(0x6800)?.field.name).toBe('GUEST_CR0');
  });

  test('SDM: an encoding of no supported field is unsupported', () => {
    expect(resolve(0x0006)).toBeUndefined(); // 16-bit control index 3 is not a field here
    expect(resolve(0x6c18)).toBeUndefined(); // one past HOST_RIP
    expect(resolve(-1)).toBeUndefined();
    expect(resolve(2 ** 32)).toBeUndefined();
  });

  test('SDM: "high" access type is legal only for 64-bit fields', () => {
    expect(resolve(0x2011)).toEqual({ field: expect.objectContaining({ name: 'TSC_OFFSET' }), access: 'high' });
    expect(resolve(0x0801)).toBeUndefined(); // high of 16-bit GUEST_ES_SELECTOR
    expect(resolve(0x4003)).toBeUndefined(); // high of 32-bit primary controls
    expect(resolve(0x6801)).toBeUndefined(); // high of natural-width GUEST_CR0
  });

  test('every table row resolves to itself with a full access; every 64-bit row also with a high access', () => {
    for (const row of FIELDS) {
      expect(resolve(row.encoding)?.field).toBe(row);
      if (row.width === 64) expect(resolve(row.encoding | 1)?.access).toBe('high');
      else expect(resolve(row.encoding | 1)).toBeUndefined();
    }
  });

  test('SDM "VMREAD": a high access reads bits 63:32 of the full field', () => {
    const c = resolve(0x2011)!;
    expect(readComponent(c, 0x1234_5678_9abc_def0n)).toBe(0x1234_5678n);
  });

  test('SDM "VMWRITE": a high access replaces bits 63:32 only, keeping bits 31:0', () => {
    const c = resolve(0x2011)!;
    expect(writeComponent(c, 0x1111_1111_2222_2222n, 0xffff_ffff_aaaa_bbbbn)).toBe(0xaaaa_bbbb_2222_2222n);
  });

  test('SDM "VMWRITE": a full write of a 16-bit field keeps the low 16 bits of the source', () => {
    const c = resolve(0x0802)!;
    expect(writeComponent(c, 0n, 0xdead_beefn)).toBe(0xbeefn);
  });

  test('property: full write then read returns the source truncated to the field width', () => {
    const rows = FIELDS;
    fc.assert(fc.property(fc.integer({ min: 0, max: rows.length - 1 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (i, v) => {
      const row = rows[i];
      const c = resolve(row.encoding)!;
      const bits = row.width === 'natural' ? 64 : row.width;
      return readComponent(c, writeComponent(c, 0n, v)) === BigInt.asUintN(bits, v);
    }));
  });

  test('property: high write then full read = (source low 32 bits << 32) | old low 32 bits', () => {
    const c = resolve(0x201b)!; // EPT_POINTER high
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (old, src) =>
      writeComponent(c, old, src) === (((src & 0xffffffffn) << 32n) | (old & 0xffffffffn))));
  });
});
