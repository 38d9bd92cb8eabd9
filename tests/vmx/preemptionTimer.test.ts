import { advance, exitsAtEntry, rateShift, ticks, valueSavedOnExit, TIMER_EXIT } from '../../src/vmx/preemptionTimer';

describe('SDM "VMX-Preemption Timer"', () => {
  test('rate: X = IA32_VMX_MISC[4:0]', () => {
    expect(rateShift(0x0000_0000_2040_01e5n)).toBe(5);
  });
  test('a tick is a change of TSC bit X: X = 5, 0x1F → 0x20 is one tick, 0x20 → 0x3F is none', () => {
    expect(ticks(0x1fn, 0x20n, 5)).toBe(1n);
    expect(ticks(0x20n, 0x3fn, 5)).toBe(0n);
    expect(ticks(0n, 0x100n, 5)).toBe(8n);
  });
  test('value 3, X = 5, from TSC 10: ticks at 32, 64, 96, so it expires at TSC 96', () => {
    expect(advance(3, 10n, 100n, 5)).toEqual({ kind: 'expired', remaining: 0, at: 96n });
  });
  test('value 3, X = 5, from TSC 10 to 95: two ticks (32, 64), one remains', () => {
    expect(advance(3, 10n, 95n, 5)).toEqual({ kind: 'running', remaining: 1 });
  });
  test('X = 0: one tick per TSC cycle', () => {
    expect(advance(1000, 0n, 999n, 0)).toEqual({ kind: 'running', remaining: 1 });
    expect(advance(1000, 0n, 1000n, 0)).toEqual({ kind: 'expired', remaining: 0, at: 1000n });
  });
  test('the timer runs on the physical TSC: 2^40 cycles at X = 10 are 2^30 ticks regardless of any TSC offset', () => {
    expect(ticks(1n << 40n, 2n << 40n, 10)).toBe(1n << 30n);
  });
  test('"VM Entries": value 0 at VM entry exits before the first guest instruction', () => {
    expect(exitsAtEntry(true, 0)).toBe(true);
    expect(exitsAtEntry(true, 1)).toBe(false);
    expect(exitsAtEntry(false, 0)).toBe(false);
    expect(advance(0, 5n, 5n, 5)).toEqual({ kind: 'expired', remaining: 0, at: 5n });
  });
  test('the exit is reason 52 with qualification 0', () => {
    expect(TIMER_EXIT).toEqual({ reason: 52, qualification: 0n });
  });
  test('"Saving VMX-Preemption Timer Value": save = 1 writes back the remaining count, save = 0 keeps the field', () => {
    expect(valueSavedOnExit(true, 1000, 17)).toBe(17);
    expect(valueSavedOnExit(false, 1000, 17)).toBe(1000);
  });
});
