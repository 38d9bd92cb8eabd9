import { guestTsc, rdtsc, rdtscp, rdpid, rdmsrTsc, msrStoreTsc, tscControls, type TscControls } from '../../src/vmx/tsc';
import { decide, NO_CONTROLS } from '../../src/vmx/exitConditions';

const T = 1_000_000_007n;
const TWO64 = 1n << 64n;
const OFF = TWO64 - 1_000_000_000n; // -1e9 as a 64-bit two's-complement value
const MUL_1_5 = 0x0001_8000_0000_0000n; // 1.5 in 16.48 fixed point
const MUL_2_3 = 0x0000_aaaa_aaaa_aaabn; // (2^49 + 1) / 3, just above 2/3
const t = (useOffsetting: boolean, useScaling: boolean, multiplier = MUL_1_5, offset = OFF): TscControls =>
  ({ useOffsetting, useScaling, offset, multiplier });

describe('SDM "Timestamp-Counter Offsetting and Scaling"', () => {
  test('offsetting 0, scaling 0: the guest reads the host TSC', () => {
    expect(guestTsc(T, t(false, false))).toBe(1_000_000_007n);
  });
  test('offsetting 0, scaling 1: the multiplier is ignored without offsetting', () => {
    expect(guestTsc(T, t(false, true))).toBe(1_000_000_007n);
  });
  test('offsetting 1, scaling 0: T + offset wraps mod 2^64 (offset = 2^64 - 10^9 ⇒ 7)', () => {
    // 1_000_000_007 + 2^64 - 1_000_000_000 = 2^64 + 7 ≡ 7
    expect(guestTsc(T, t(true, false))).toBe(7n);
  });
  test('offsetting 1, scaling 1 with multiplier 1.5: floor(1_000_000_007 × 1.5) - 10^9 = 500_000_010', () => {
    // 1_000_000_007 × 3 / 2 = 1_500_000_010.5 → 1_500_000_010; minus 10^9
    expect(guestTsc(T, t(true, true))).toBe(500_000_010n);
  });
  test('multiplier (2^49+1)/3 (not a power of two): 666_666_671 - 10^9 wraps to 2^64 - 333_333_329', () => {
    // T × (2^49+1)/3 / 2^48 = 2T/3 + T/(3·2^48) = 666_666_671.33… + 0.0000012 → 666_666_671
    expect(guestTsc(T, t(true, true, MUL_2_3))).toBe(TWO64 - 333_333_329n);
  });
  test('the product is taken as 128 bits: T = 2^63 + 5 at 1.5 gives 3·2^62 + 7', () => {
    // (2^63 + 5) × 3 / 2 = 3·2^62 + 7.5 → 0xC000000000000007
    expect(guestTsc((1n << 63n) + 5n, t(true, true, MUL_1_5, 0n))).toBe(0xc000_0000_0000_0007n);
  });
  test('the scaled value wraps mod 2^64: T = 2^63 at 2.0 gives 0', () => {
    expect(guestTsc(1n << 63n, t(true, true, 2n << 48n, 0n))).toBe(0n);
  });
  test('tscControls: "use TSC scaling" counts only with "activate secondary controls"', () => {
    const c = { ...NO_CONTROLS, primary: 1 << 3, secondary: 1 << 25, tscOffset: 5n, tscMultiplier: MUL_1_5 };
    expect(tscControls(c).useScaling).toBe(false);
    expect(tscControls({ ...c, primary: (1 << 3) | (1 << 31) }).useScaling).toBe(true);
    expect(guestTsc(10n, tscControls(c))).toBe(15n);
  });
});

describe('SDM "Changes to Instruction Behavior in VMX Non-Root Operation": RDTSC, RDTSCP, RDPID, RDMSR', () => {
  test('RDTSC returns EDX:EAX = guest TSC', () => {
    // 2^64 - 333_333_329 = 0xFFFFFFFF_EC21_BCAF (333_333_329 = 0x13DE0000 + 17_233 = 0x13DE4351)
    const r = rdtsc(T, t(true, true, MUL_2_3));
    expect(r.edx).toBe(0xffffffff);
    expect(r.eax).toBe(0x1_0000_0000 - 0x13de4351);
  });
  test('RDTSCP returns EDX:EAX = guest TSC and ECX = IA32_TSC_AUX[31:0]', () => {
    const r = rdtscp(T, t(true, false), 0x1_0000_0042n);
    expect(r.value).toBe(7n);
    expect(r.eax).toBe(7);
    expect(r.edx).toBe(0);
    expect(r.ecx).toBe(0x42);
  });
  test('RDPID returns IA32_TSC_AUX, not the TSC', () => {
    expect(rdpid(0x42n)).toBe(0x42n);
  });
  test('RDMSR of IA32_TIME_STAMP_COUNTER (0x10) that does not exit returns the same guest TSC as RDTSC', () => {
    const c = t(true, true);
    expect(rdmsrTsc(T, c)).toBe(500_000_010n);
    expect(rdmsrTsc(T, c)).toBe(rdtsc(T, c).value);
  });
  test('RDTSC/RDTSCP decision table, all four combinations of (enable RDTSCP, RDTSC exiting)', () => {
    const on = (1 << 31) >>> 0;
    const rows: Array<[number, number, string, string]> = [
      [0, 0, 'run', 'ud'],
      [0, 1 << 12, 'exit16', 'ud'],
      [1 << 3, 0, 'run', 'run'],
      [1 << 3, 1 << 12, 'exit16', 'exit51'],
    ];
    const show = (x: ReturnType<typeof decide>): string => (x.kind === 'exit' ? `exit${x.reason}` : x.kind);
    for (const [sec, prim, a, b] of rows) {
      const c = { ...NO_CONTROLS, primary: (prim | on) >>> 0, secondary: sec };
      expect([show(decide(c, { cpl: 0, cr4: 0n }, { op: 'rdtsc' })), show(decide(c, { cpl: 0, cr4: 0n }, { op: 'rdtscp' }))])
        .toEqual([a, b]);
    }
  });
});

describe('SDM "Saving MSRs"', () => {
  test('the VM-exit MSR-store entry for IA32_TIME_STAMP_COUNTER holds the host TSC (no offset, no scaling)', () => {
    expect(msrStoreTsc(T)).toBe(1_000_000_007n);
  });
});
