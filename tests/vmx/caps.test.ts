import { allowedSettings, controlsValid, controlViolation, hasTrueCtls, presetByName, presets, revisionId, secondaryAllowed, vmwriteAnyField, eptVpidCapBit } from '../../src/vmx/caps';

const sky = presetByName('skylake-server')!;
const icx = presetByName('icelake-server')!;

describe('capability presets (SDM Appendix A "VMX Capability Reporting Facility")', () => {
  test('presets are found by name; unknown names are undefined', () => {
    expect(sky.name).toBe('skylake-server');
    expect(icx.name).toBe('icelake-server');
    expect(presetByName('pentium')).toBeUndefined();
    expect(presets.length).toBeGreaterThanOrEqual(2);
  });

  test('A.1 Basic VMX Information: revision in bits 30:0, bit 31 = 0, region size <= 4096, WB, TRUE MSRs', () => {
    for (const c of presets) {
      expect((c.basic >> 31n) & 1n).toBe(0n);
      const size = Number((c.basic >> 32n) & 0x1fffn);
      expect(size).toBeGreaterThan(0);
      expect(size).toBeLessThanOrEqual(4096);
      expect(Number((c.basic >> 50n) & 0xfn)).toBe(6);
      expect(hasTrueCtls(c)).toBe(true);
      expect(revisionId(c)).toBe(Number(c.basic & 0x7fffffffn));
    }
  });

  test('A.10: Skylake server has 4-level EPT only; Ice Lake server adds 5-level (EPT_VPID_CAP bit 7)', () => {
    expect(eptVpidCapBit(sky, 6)).toBe(true);
    expect(eptVpidCapBit(sky, 7)).toBe(false);
    expect(eptVpidCapBit(icx, 7)).toBe(true);
  });

  test('A.10: Skylake server: execute-only, UC/WB, 2M/1G pages, A/D, INVEPT types 1 and 2, INVVPID types 0-3', () => {
    for (const b of [0, 8, 14, 16, 17, 20, 21, 25, 26, 32, 40, 41, 42, 43]) expect([b, eptVpidCapBit(sky, b)]).toEqual([b, true]);
  });

  test('A.3.3: Skylake server may set EPT, VPID, unrestricted guest, PML, TSC scaling, RDTSCP', () => {
    for (const b of [1, 3, 5, 7, 17, 25]) expect([b, secondaryAllowed(sky, b)]).toEqual([b, true]);
  });

  test('A.6 Miscellaneous Data: preemption-timer rate 5, 4 CR3 targets, MISC[29] VMWRITE to exit-information fields', () => {
    expect(Number(sky.misc & 0x1fn)).toBe(5);
    expect(Number((sky.misc >> 16n) & 0x1ffn)).toBe(4);
    expect(vmwriteAnyField(sky)).toBe(true);
    // pin-based allowed-1 bit 6: "activate VMX-preemption timer"
    expect((allowedSettings(sky, 'pin').allowed1 >> 6n) & 1n).toBe(1n);
  });

  test('A.3.2: with BASIC[55] = 1 the TRUE MSR is used, so CR3-load/store exiting (bits 15/16) may be 0', () => {
    const p = allowedSettings(sky, 'primary');
    expect(p.allowed0 & (3n << 15n)).toBe(0n);
    // the plain MSR forces them (default1 class): 0x0401e172 has bits 15 and 16 set
    expect((sky.procbased & 0xffffffffn) & (3n << 15n)).toBe(3n << 15n);
    // without TRUE MSRs the plain MSR rules
    const noTrue = { ...sky, basic: sky.basic & ~(1n << 55n) };
    expect(allowedSettings(noTrue, 'primary').allowed0 & (3n << 15n)).toBe(3n << 15n);
  });

  test('A.3.3: secondary controls are all fixed to 0 when primary allowed-1 bit 31 is 0', () => {
    const noSec = { ...sky, procbased: sky.procbased & ~(1n << 63n) };
    expect(allowedSettings(noSec, 'secondary')).toEqual({ allowed0: 0n, allowed1: 0n });
  });

  test('A.3.4: tertiary controls need primary allowed-1 bit 17; Skylake has none', () => {
    expect(allowedSettings(sky, 'tertiary').allowed1).toBe(0n);
    const t = { ...sky, procbased: sky.procbased | (1n << 49n), procbased3: 0x10n };
    expect(allowedSettings(t, 'tertiary')).toEqual({ allowed0: 0n, allowed1: 0x10n });
  });

  test('SDM "Checks on VMX Controls": every allowed-0 bit must be 1, no bit outside allowed-1 may be 1', () => {
    // pin-based: default1 bits 1, 2, 4 (0x16) must be 1
    expect(controlsValid(sky, 'pin', 0x16n)).toBe(true);
    expect(controlViolation(sky, 'pin', 0x12n)).toEqual({ mustBeOne: 0x4n, mustBeZero: 0n });
    // bit 8 of pin-based is not defined: allowed-1 is 0xff
    expect(controlViolation(sky, 'pin', 0x116n)).toEqual({ mustBeOne: 0n, mustBeZero: 0x100n });
    // secondary bit 21 (PASID translation) is not supported on Skylake
    expect(controlsValid(sky, 'secondary', 1n << 21n)).toBe(false);
  });

  test('A.7/A.8: CR0 fixed-1 bits PE, NE, PG; CR4.VMXE fixed to 1; LA57 allowed only on Ice Lake', () => {
    expect(sky.cr0Fixed0).toBe(0x80000021n);
    expect(sky.cr4Fixed0 & 0x2000n).toBe(0x2000n);
    expect((sky.cr4Fixed1 >> 12n) & 1n).toBe(0n);
    expect((icx.cr4Fixed1 >> 12n) & 1n).toBe(1n);
  });
});
