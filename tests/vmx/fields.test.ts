import { F, FIELDS, fieldByEncoding, fieldByName, widthBits } from '../../src/vmx/fields';

// SDM "VMREAD, VMWRITE, and Encodings of VMCS Fields": bits 14:13 width (0 16-bit, 1 64-bit, 2 32-bit, 3 natural),
// bits 11:10 type (0 control, 1 VM-exit information, 2 guest state, 3 host state).
const WIDTH_OF_CODE = [16, 64, 32, 'natural'] as const;
const AREA_OF_CODE = ['control', 'exit-info', 'guest', 'host'] as const;

describe('VMCS field table (SDM Appendix B "Field Encoding in VMCS")', () => {
  test('SDM "Encodings of VMCS Fields": every row\'s width agrees with encoding bits 14:13', () => {
    for (const row of FIELDS) expect([row.name, row.width]).toEqual([row.name, WIDTH_OF_CODE[(row.encoding >> 13) & 3]]);
  });

  test('SDM "Encodings of VMCS Fields": every row\'s area agrees with encoding bits 11:10', () => {
    for (const row of FIELDS) expect([row.name, row.area]).toEqual([row.name, AREA_OF_CODE[(row.encoding >> 10) & 3]]);
  });

  test('SDM "Encodings of VMCS Fields": rows are full encodings (access type 0), bit 12 and bits 31:15 clear', () => {
    for (const row of FIELDS) expect([row.name, row.encoding & 0xffff9001]).toEqual([row.name, 0]);
  });

  test('names and encodings are unique', () => {
    expect(new Set(FIELDS.map((r) => r.name)).size).toBe(FIELDS.length);
    expect(new Set(FIELDS.map((r) => r.encoding)).size).toBe(FIELDS.length);
  });

  test('F holds exactly the table: same names, same encodings', () => {
    expect(Object.keys(F).sort()).toEqual(FIELDS.map((r) => r.name).sort());
    for (const row of FIELDS) expect((F as Record<string, number>)[row.name]).toBe(row.encoding);
  });

  test('SDM Appendix B encodings of well-known fields (Linux enum vmcs_field names)', () => {
    // values read from SDM Appendix B tables B-1..B-12
    expect(F.VIRTUAL_PROCESSOR_ID).toBe(0x0000);
    expect(F.GUEST_PML_INDEX).toBe(0x0812);
    expect(F.TSC_OFFSET).toBe(0x2010);
    expect(F.EPT_POINTER).toBe(0x201a);
    expect(F.TSC_MULTIPLIER).toBe(0x2032);
    expect(F.GUEST_PHYSICAL_ADDRESS).toBe(0x2400);
    expect(F.VMCS_LINK_POINTER).toBe(0x2800);
    expect(F.SECONDARY_VM_EXEC_CONTROL).toBe(0x401e);
    expect(F.VM_INSTRUCTION_ERROR).toBe(0x4400);
    expect(F.VMX_PREEMPTION_TIMER_VALUE).toBe(0x482e);
    expect(F.EXIT_QUALIFICATION).toBe(0x6400);
    expect(F.GUEST_RIP).toBe(0x681e);
    expect(F.HOST_RIP).toBe(0x6c16);
  });

  test('SDM "Guest-State Area": all segment registers have selector, limit, access rights and base', () => {
    const segs = ['ES', 'CS', 'SS', 'DS', 'FS', 'GS', 'LDTR', 'TR'];
    segs.forEach((s, k) => {
      expect(fieldByName(`GUEST_${s}_SELECTOR`)?.encoding).toBe(0x0800 + 2 * k);
      expect(fieldByName(`GUEST_${s}_LIMIT`)?.encoding).toBe(0x4800 + 2 * k);
      expect(fieldByName(`GUEST_${s}_AR_BYTES`)?.encoding).toBe(0x4814 + 2 * k);
      expect(fieldByName(`GUEST_${s}_BASE`)?.encoding).toBe(0x6806 + 2 * k);
    });
    expect(fieldByName('GUEST_GDTR_LIMIT')?.encoding).toBe(0x4810);
    expect(fieldByName('GUEST_IDTR_BASE')?.encoding).toBe(0x6818);
  });

  test('fieldByEncoding / fieldByName round-trip; unknown encodings and names are undefined', () => {
    for (const row of FIELDS) {
      expect(fieldByEncoding(row.encoding)).toBe(row);
      expect(fieldByName(row.name)).toBe(row);
    }
    expect(fieldByEncoding(0x2011)).toBeUndefined(); // high alias is not a row
    expect(fieldByEncoding(0x0006)).toBeUndefined();
    expect(fieldByName('guest_cr0')).toBeUndefined();
  });

  test('widthBits: natural width is 64 bits on Intel 64', () => {
    expect(widthBits(fieldByName('GUEST_CR0')!)).toBe(64);
    expect(widthBits(fieldByName('GUEST_CS_SELECTOR')!)).toBe(16);
    expect(widthBits(fieldByName('EXCEPTION_BITMAP')!)).toBe(32);
    expect(widthBits(fieldByName('EPT_POINTER')!)).toBe(64);
  });
});
