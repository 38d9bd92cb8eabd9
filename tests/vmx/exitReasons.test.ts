import { EXIT_REASONS, R, reasonByName, reasonByNumber, exitName } from '../../src/vmx/exitReasons';

describe('exit reasons (SDM Appendix C "VMX Basic Exit Reasons", Linux uapi vmx.h)', () => {
  test('SDM Appendix C: numbers of the reasons the simulator produces', () => {
    // values read from SDM Appendix C / reference §3.1, not from the table under test
    expect(R.EXCEPTION_NMI).toBe(0);
    expect(R.TRIPLE_FAULT).toBe(2);
    expect(R.CPUID).toBe(10);
    expect(R.HLT).toBe(12);
    expect(R.RDTSC).toBe(16);
    expect(R.CR_ACCESS).toBe(28);
    expect(R.IO_INSTRUCTION).toBe(30);
    expect(R.MSR_READ).toBe(31);
    expect(R.MSR_WRITE).toBe(32);
    expect(R.INVALID_STATE).toBe(33);
    expect(R.MSR_LOAD_FAIL).toBe(34);
    expect(R.EPT_VIOLATION).toBe(48);
    expect(R.EPT_MISCONFIG).toBe(49);
    expect(R.RDTSCP).toBe(51);
    expect(R.PREEMPTION_TIMER).toBe(52);
    expect(R.PML_FULL).toBe(62);
    expect(R.XRSTORS).toBe(64);
    expect(R.MSR_WRITE_IMM).toBe(85);
  });

  test('SDM Appendix C: 35, 38, 42 and 71 are reserved', () => {
    for (const n of [35, 38, 42, 71, 82, 83]) expect(reasonByNumber(n)).toBeUndefined();
  });

  test('numbers and names are unique; table sorted by number', () => {
    const nums = EXIT_REASONS.map((r) => r.number);
    expect(new Set(nums).size).toBe(nums.length);
    expect(new Set(EXIT_REASONS.map((r) => r.name)).size).toBe(nums.length);
    expect([...nums].sort((a, b) => a - b)).toEqual(nums);
    // 0..85 minus the reserved 35, 38, 42, 71, 82, 83
    expect(nums.length).toBe(86 - 6);
  });

  test('Linux VMX_EXIT_REASONS spellings: VMXOFF is VMOFF, VMXON is VMON; constants are EXIT_REASON_*', () => {
    expect(reasonByNumber(26)?.name).toBe('VMOFF');
    expect(reasonByNumber(27)?.constant).toBe('EXIT_REASON_VMON');
    expect(reasonByNumber(48)?.traceName).toBe('EPT_VIOLATION');
    expect(reasonByNumber(40)?.name).toBe('PAUSE_INSTRUCTION');
    // OTHER_SMI is not in VMX_EXIT_REASONS, so KVM's trace prints a number for it
    expect(reasonByNumber(6)?.traceName).toBeNull();
  });

  test('reasonByName accepts uapi, EXIT_REASON_ prefix, any case, decimal and 0x numbers', () => {
    expect(reasonByName('EPT_VIOLATION')?.number).toBe(48);
    expect(reasonByName('EXIT_REASON_EPT_VIOLATION')?.number).toBe(48);
    expect(reasonByName('exit_reason_io_instruction')?.number).toBe(30);
    expect(reasonByName('hlt')?.number).toBe(12);
    expect(reasonByName('48')?.name).toBe('EPT_VIOLATION');
    expect(reasonByName('0x30')?.name).toBe('EPT_VIOLATION');
    expect(reasonByName('VMXON')?.number).toBe(27);
    expect(reasonByName('NOPE')).toBeUndefined();
    expect(reasonByName('35')).toBeUndefined();
    expect(exitName(99)).toBe('UNKNOWN_99');
  });
});
