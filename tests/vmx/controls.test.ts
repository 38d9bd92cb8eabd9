import * as E from 'fp-ts/Either';
import { problems } from '../../src/arch/layout';
import { presetByName } from '../../src/vmx/caps';
import { CONTROL_KINDS, controlBit, controlNames, controlValue, defaultOnes, isSet, layoutOf } from '../../src/vmx/controls';

const sky = presetByName('skylake-server')!;

describe('control bits by SDM name (SDM "VM-Execution Control Fields", "VM-Exit Control Fields", "VM-Entry Control Fields")', () => {
  test('every control layout is well formed (fields in range, no overlap, ascending, unique names)', () => {
    for (const k of CONTROL_KINDS) expect([k, problems(layoutOf(k))]).toEqual([k, []]);
  });

  test('bit positions from the SDM tables', () => {
    expect(controlBit('pin', 'external-interrupt-exiting')).toBe(1n << 0n);
    expect(controlBit('pin', 'nmi-exiting')).toBe(1n << 3n);
    expect(controlBit('pin', 'virtual-nmis')).toBe(1n << 5n);
    expect(controlBit('pin', 'activate-vmx-preemption-timer')).toBe(1n << 6n);
    expect(controlBit('primary', 'use-tsc-offsetting')).toBe(1n << 3n);
    expect(controlBit('primary', 'hlt-exiting')).toBe(1n << 7n);
    expect(controlBit('primary', 'rdtsc-exiting')).toBe(1n << 12n);
    expect(controlBit('primary', 'cr3-load-exiting')).toBe(1n << 15n);
    expect(controlBit('primary', 'unconditional-io-exiting')).toBe(1n << 24n);
    expect(controlBit('primary', 'use-io-bitmaps')).toBe(1n << 25n);
    expect(controlBit('primary', 'use-msr-bitmaps')).toBe(1n << 28n);
    expect(controlBit('primary', 'activate-secondary-controls')).toBe(1n << 31n);
    expect(controlBit('secondary', 'enable-ept')).toBe(1n << 1n);
    expect(controlBit('secondary', 'enable-rdtscp')).toBe(1n << 3n);
    expect(controlBit('secondary', 'enable-vpid')).toBe(1n << 5n);
    expect(controlBit('secondary', 'unrestricted-guest')).toBe(1n << 7n);
    expect(controlBit('secondary', 'enable-pml')).toBe(1n << 17n);
    expect(controlBit('secondary', 'mode-based-execute-control-for-ept')).toBe(1n << 22n);
    expect(controlBit('secondary', 'use-tsc-scaling')).toBe(1n << 25n);
    expect(controlBit('exit', 'host-address-space-size')).toBe(1n << 9n);
    expect(controlBit('exit', 'save-vmx-preemption-timer-value')).toBe(1n << 22n);
    expect(controlBit('entry', 'ia-32e-mode-guest')).toBe(1n << 9n);
    expect(controlBit('entry', 'load-ia32-efer')).toBe(1n << 15n);
    expect(controlBit('tertiary', 'ipi-virtualization')).toBe(1n << 4n);
  });

  test('a name of another control field is unknown here', () => {
    expect(controlBit('primary', 'enable-ept')).toBeUndefined();
    expect(controlBit('entry', 'host-address-space-size')).toBeUndefined();
  });

  test('controlValue ORs named bits; an unknown name is a Left naming it', () => {
    expect(controlValue('primary', ['hlt-exiting', 'use-tsc-offsetting', 'use-msr-bitmaps', 'activate-secondary-controls']))
      .toEqual(E.right((1n << 7n) | (1n << 3n) | (1n << 28n) | (1n << 31n)));
    const bad = controlValue('secondary', ['enable-ept', 'enable-eptt']);
    expect(E.isLeft(bad) && bad.left.name).toBe('enable-eptt');
    expect(E.isLeft(bad) && bad.left.kind).toBe('secondary');
  });

  test('controlNames lists set bits by name, low to high, skipping unnamed default1 bits', () => {
    // 0x16 = default1 bits 1, 2, 4; plus bit 3 (NMI exiting) and bit 5 (virtual NMIs)
    expect(controlNames('pin', 0x16n | 0x8n | 0x20n)).toEqual(['nmi-exiting', 'virtual-nmis']);
  });

  test('isSet reads one named control', () => {
    expect(isSet('entry', 1n << 9n, 'ia-32e-mode-guest')).toBe(true);
    expect(isSet('entry', 0n, 'ia-32e-mode-guest')).toBe(false);
    expect(() => isSet('entry', 0n, 'no-such-control')).toThrow();
  });

  test('defaultOnes: the TRUE-MSR allowed-0 bits (Appendix A "default1" class minus what TRUE lets be 0)', () => {
    // Skylake TRUE MSRs (dump): pin 0x16, primary 0x04006172, exit 0x00036dfb, entry 0x000011fb
    expect(defaultOnes(sky, 'pin')).toBe(0x16n);
    expect(defaultOnes(sky, 'primary')).toBe(0x04006172n);
    expect(defaultOnes(sky, 'exit')).toBe(0x00036dfbn);
    expect(defaultOnes(sky, 'entry')).toBe(0x000011fbn);
    expect(defaultOnes(sky, 'secondary')).toBe(0n);
  });
});
