import { exceptionExits, interruptionInfo, onException } from '../../src/vmx/exceptionBitmap';

const BIT14 = 1 << 14;
const f = (exceptionBitmap: number, pfecMask: number, pfecMatch: number) => ({ exceptionBitmap, pfecMask, pfecMatch });

describe('SDM "Exception Bitmap" with the page-fault error-code mask and match', () => {
  test('bit 14 set, mask = match = 0: every #PF exits', () => {
    for (const pfec of [0, 1, 2, 3, 4, 0x11, 0x1f]) expect(exceptionExits(f(BIT14, 0, 0), 14, pfec)).toBe(true);
  });
  test('bit 14 clear, mask = match = 0: no #PF exits', () => {
    for (const pfec of [0, 1, 0x1f]) expect(exceptionExits(f(0, 0, 0), 14, pfec)).toBe(false);
  });
  test('bit 14 set, mask = match = 1: only P=1 faults exit', () => {
    expect(exceptionExits(f(BIT14, 1, 1), 14, 0x1)).toBe(true);
    expect(exceptionExits(f(BIT14, 1, 1), 14, 0x7)).toBe(true);
    expect(exceptionExits(f(BIT14, 1, 1), 14, 0x6)).toBe(false);
  });
  test('bit 14 clear, mask = 1, match = 0 (inverted rule): P=1 faults exit, P=0 faults go to the guest', () => {
    expect(exceptionExits(f(0, 1, 0), 14, 0x3)).toBe(true);
    expect(exceptionExits(f(0, 1, 0), 14, 0x2)).toBe(false);
    expect(onException(f(0, 1, 0), 14, 0x2, 0xdead000n)).toEqual({ kind: 'deliver', vector: 14, errorCode: 2 });
  });
  test('other vectors follow their bitmap bit alone', () => {
    expect(exceptionExits(f(1 << 6, 0xffff, 0), 6)).toBe(true);
    expect(exceptionExits(f(1 << 6, 0, 0), 13, 0)).toBe(false);
    expect(exceptionExits(f(0x8000_0000 | 0, 0, 0), 31)).toBe(true);
  });
});

describe('SDM "Information for VM Exits Due to Vectored Events"', () => {
  test('#GP: type 3 hardware exception with error code valid ⇒ 0x80000B0D', () => {
    // 13 | 3 << 8 | 1 << 11 | 1 << 31
    expect(interruptionInfo(13)).toBe(0x8000_0b0dn);
  });
  test('#UD: hardware exception without error code ⇒ 0x80000306', () => {
    expect(interruptionInfo(6)).toBe(0x8000_0306n);
  });
  test.each([8, 10, 11, 12, 13, 14, 17, 21])('vector %i delivers an error code (bit 11)', (v) => {
    expect((interruptionInfo(v) >> 11n) & 1n).toBe(1n);
  });
  test.each([0, 1, 3, 4, 5, 6, 7, 9, 16, 18, 19, 20])('vector %i has no error code', (v) => {
    expect((interruptionInfo(v) >> 11n) & 1n).toBe(0n);
  });
  test('#BP from INT3 and #OF from INTO are type 6 software exceptions: 0x80000603, 0x80000604', () => {
    expect(interruptionInfo(3, 'int3')).toBe(0x8000_0603n);
    expect(interruptionInfo(4, 'into')).toBe(0x8000_0604n);
  });
  test('#DB from INT1 is type 5 privileged software exception: 0x80000501', () => {
    expect(interruptionInfo(1, 'int1')).toBe(0x8000_0501n);
  });
  test('#PF exit: reason 0, qualification = faulting linear address, error code kept, info 0x80000B0E', () => {
    expect(onException(f(BIT14, 0, 0), 14, 0x6, 0x7fff_1234_5000n)).toEqual({
      kind: 'exit', reason: 0, qualification: 0x7fff_1234_5000n, interruptionInfo: 0x8000_0b0en, errorCode: 6,
    });
  });
  test('#UD exit: qualification 0 and no error code', () => {
    expect(onException(f(1 << 6, 0, 0), 6, undefined)).toEqual({
      kind: 'exit', reason: 0, qualification: 0n, interruptionInfo: 0x8000_0306n,
    });
  });
});
