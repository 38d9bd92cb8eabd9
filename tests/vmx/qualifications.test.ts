import fc from 'fast-check';
import { problems } from '../../src/arch/layout';
import {
  ALL_LAYOUTS, decodeQualification, encodeCrAccess, encodeIo, encodeMovDr, encodeTaskSwitch, encodeEntryFailure,
  encodeInterruptionInfo, decodeInterruptionInfo, encodeInvlpg,
} from '../../src/vmx/qualifications';

describe('qualification layouts are well-formed (one per SDM table)', () => {
  test.each(ALL_LAYOUTS.map((l) => [l.name, l] as const))('%s has no overlap, no out-of-range field', (_n, l) => {
    expect(problems(l)).toEqual([]);
  });
});

describe('SDM "Exit Qualification for I/O Instructions"', () => {
  test('bits: size-1 in 2:0, direction 3, string 4, REP 5, immediate 6, port 31:16', () => {
    expect(encodeIo({ size: 1, direction: 'out', string: false, rep: false, immediate: false, port: 0 })).toBe(0n);
    expect(encodeIo({ size: 2, direction: 'out', string: false, rep: false, immediate: false, port: 0 })).toBe(1n);
    expect(encodeIo({ size: 4, direction: 'out', string: false, rep: false, immediate: false, port: 0 })).toBe(3n);
    expect(encodeIo({ size: 1, direction: 'in', string: false, rep: false, immediate: false, port: 0 })).toBe(0x8n);
    expect(encodeIo({ size: 1, direction: 'out', string: true, rep: false, immediate: false, port: 0 })).toBe(0x10n);
    expect(encodeIo({ size: 1, direction: 'out', string: true, rep: true, immediate: false, port: 0 })).toBe(0x30n);
    expect(encodeIo({ size: 1, direction: 'out', string: false, rep: false, immediate: true, port: 0 })).toBe(0x40n);
    expect(encodeIo({ size: 1, direction: 'out', string: false, rep: false, immediate: false, port: 0xcf8 })).toBe(0x0cf8_0000n);
  });
  test('decodeQualification(30) names size, direction, string, rep, immediate, port (interface §5)', () => {
    expect(decodeQualification(30, 0x03f8_002bn)).toEqual({
      size: 4, direction: 'in', string: false, rep: true, immediate: false, port: 0x3f8,
    });
  });
  test('I/O encode/decode round trip (property)', () => {
    fc.assert(fc.property(
      fc.constantFrom(1 as const, 2 as const, 4 as const), fc.constantFrom('in' as const, 'out' as const),
      fc.boolean(), fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 0xffff }),
      (size, direction, string, rep, immediate, port) => {
        const io = { size, direction, string, rep, immediate, port };
        expect(decodeQualification(30, encodeIo(io))).toEqual(io);
      }));
  });
});

describe('SDM "Exit Qualification for Control-Register Accesses"', () => {
  test('MOV to CR4 from R9: CR 4 in 3:0, type 0, GPR 9 in 11:8 ⇒ 0x904', () => {
    expect(encodeCrAccess({ cr: 4, accessType: 'mov-to-cr', register: 9 })).toBe(0x904n);
  });
  test('MOV from CR8 to RAX: 0x18; CLTS: 0x20 (CR number 0)', () => {
    expect(encodeCrAccess({ cr: 8, accessType: 'mov-from-cr', register: 0 })).toBe(0x18n);
    expect(encodeCrAccess({ cr: 3, accessType: 'clts' })).toBe(0x20n);
  });
  test('LMSW from memory with source 0xFFFF: type 3, bit 6, source in 31:16 ⇒ 0xFFFF0070', () => {
    expect(encodeCrAccess({ cr: 0, accessType: 'lmsw', lmswSource: 0xffff, lmswMemory: true })).toBe(0xffff_0070n);
  });
  test('decodeQualification(28) names cr, accessType, register, lmswSource', () => {
    expect(decodeQualification(28, 0x904n)).toMatchObject({ cr: 4, accessType: 'mov-to-cr', register: 9, lmswSource: 0 });
    expect(decodeQualification(28, 0x0005_0030n)).toMatchObject({ cr: 0, accessType: 'lmsw', lmswSource: 5, lmswOperand: 'register' });
    expect(decodeQualification(28, 0x13n)).toMatchObject({ cr: 3, accessType: 'mov-from-cr', registerName: 'rax' });
  });
});

describe('SDM "Exit Qualification for MOV DR" and "... for Task Switches"', () => {
  test('MOV to DR7 from RCX: 7 | 0 << 4 | 1 << 8 = 0x107; MOV from DR6: bit 4', () => {
    expect(encodeMovDr({ dr: 7, direction: 'to', register: 1 })).toBe(0x107n);
    expect(encodeMovDr({ dr: 6, direction: 'from', register: 0 })).toBe(0x16n);
    expect(decodeQualification(29, 0x107n)).toEqual({ dr: 7, direction: 'to', register: 1 });
  });
  test('task switch through an IDT task gate to selector 0x28: 0x28 | 3 << 30 = 0xC0000028', () => {
    expect(encodeTaskSwitch(0x28, 'task-gate')).toBe(0xc000_0028n);
    expect(decodeQualification(9, 0x4000_0030n)).toEqual({ selector: 0x30, source: 'iret' });
  });
});

describe('SDM "Basic VM-Exit Information": INVLPG and VM-entry failure qualifications', () => {
  test('INVLPG: the linear address; bits 63:32 cleared outside 64-bit mode', () => {
    expect(encodeInvlpg(0xffff_8000_0000_1000n, true)).toBe(0xffff_8000_0000_1000n);
    expect(encodeInvlpg(0xffff_8000_0000_1000n, false)).toBe(0x1000n);
    expect(decodeQualification(14, 0x1000n)).toEqual({ linearAddress: 0x1000n });
  });
  test('exit 33: 0 default, 2 PDPTE load, 3 NMI with STI blocking, 4 invalid VMCS link pointer', () => {
    expect([encodeEntryFailure('default'), encodeEntryFailure('pdpte'), encodeEntryFailure('nmi-sti'),
      encodeEntryFailure('vmcs-link-pointer')]).toEqual([0n, 2n, 3n, 4n]);
    expect(decodeQualification(33, 4n)).toEqual({ entryFailure: 'vmcs-link-pointer' });
  });
  test('reasons with qualification 0 (CPUID) decode to no fields', () => {
    expect(decodeQualification(10, 0n)).toEqual({});
  });
});

describe('SDM "Format of the VM-Exit Interruption-Information Field"', () => {
  test('external interrupt vector 0x20: 0x80000020; NMI: 0x80000202', () => {
    expect(encodeInterruptionInfo({ vector: 0x20, type: 'external-interrupt', errorCodeValid: false })).toBe(0x8000_0020n);
    expect(encodeInterruptionInfo({ vector: 2, type: 'nmi', errorCodeValid: false })).toBe(0x8000_0202n);
  });
  test('NMI unblocking due to IRET is bit 12; valid is bit 31', () => {
    expect(encodeInterruptionInfo({ vector: 14, type: 'hardware-exception', errorCodeValid: true, nmiUnblocking: true }))
      .toBe(0x8000_1b0en);
    expect(encodeInterruptionInfo({ vector: 14, type: 'hardware-exception', errorCodeValid: true, valid: false })).toBe(0xb0en);
  });
  test('decodeInterruptionInfo inverts the encoder', () => {
    expect(decodeInterruptionInfo(0x8000_0b0dn)).toEqual({
      vector: 13, type: 'hardware-exception', errorCodeValid: true, nmiUnblocking: false, valid: true,
    });
  });
});
