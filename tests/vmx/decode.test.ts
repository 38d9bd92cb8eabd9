import { parseKvmExitLine, decodeKvmExit, decodeExit, splitTraceLine } from '../../src/vmx/decode';

const G3 = ' qemu-system-x86-4242  [002] d..1. 1234.567890: kvm_exit: vcpu 0 reason EPT_VIOLATION rip 0xffffffff8104c3a6 info1 0x0000000000000181 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000';
const G1 = '     qemu-kvm-2001  [001]  4302.123456: kvm_exit: reason EPT_VIOLATION rip 0xffffffff81030b26 info 582 0';

const parse = (l: string) => {
  const r = parseKvmExitLine(l);
  if (!r.ok) throw new Error(r.expected + ' / ' + r.found);
  return r.value;
};

describe('kvm_exit lines and exit decoding', () => {
  test('SDM "Exit Qualification for EPT Violations": G3 info1 0x181 is a data read, not readable/writable/executable, linear valid, final translation', () => {
    const d = decodeKvmExit(parse(G3));
    expect(d).toMatchObject({ reason: 48, name: 'EPT_VIOLATION', qualification: 0x181n, vcpu: 0, rip: 0xffffffff8104c3a6n, timestamp: 1234.56789 });
    expect(d?.fields).toMatchObject({ read: true, write: false, fetch: false, readable: false, writable: false, executable: false, guestLinearAddressValid: true, finalTranslation: true, nmiUnblocking: false });
  });

  test('SDM "Exit Qualification for EPT Violations": G1 info 582 (0x582) is a data write, linear valid, final translation, advanced bit 10', () => {
    const e = parse(G1);
    expect(e.generation).toBe(1);
    expect(e.qualification).toBe(0x582n);
    const d = decodeKvmExit(e);
    expect(d?.fields).toMatchObject({ read: false, write: true, fetch: false, readable: false, writable: false, executable: false, guestLinearAddressValid: true, finalTranslation: true, writableLinear: true, userModeLinear: false, executeDisableLinear: false });
  });

  test('G2: leading vcpu, info Q I; FAILED_VMENTRY flag; EXIT_REASON_ spelling and numbers', () => {
    const e = parse('CPU 1/KVM-99 [003] .... 10.5: kvm_exit: vcpu 3 reason INVALID_STATE FAILED_VMENTRY rip 0xfff0 info 0 0');
    expect(e).toMatchObject({ generation: 2, vcpu: 3, reason: 33, failedEntry: true, rip: 0xfff0n });
    expect(parse('kvm_exit: reason EXIT_REASON_HLT rip 0x10 info 0 0').reason).toBe(12);
    expect(parse('kvm_exit: vcpu 0 reason 0x4b rip 0x10 info1 0x0 info2 0x0').reason).toBe(75);
  });

  test('perf script prefix kvm:kvm_exit:, trailing requests and [markers]', () => {
    const e = parse('qemu-system-x86  4242 [002]  1234.567890: kvm:kvm_exit: vcpu 1 reason IO_INSTRUCTION rip 0xffffffff81000000 info1 0x00000000003f8000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000 requests 0x0000000000000000 [guest] [imm exit]');
    expect(e).toMatchObject({ generation: 3, vcpu: 1, reason: 30, requests: 0n, markers: ['guest', 'imm exit'] });
  });

  test('unknown reason names are parsed (reason undefined), malformed bodies are problems', () => {
    expect(parse('kvm_exit: vcpu 0 reason FROBNICATE rip 0x1 info1 0x0').reason).toBeUndefined();
    const bad = parseKvmExitLine('kvm_exit: vcpu 0 reason HLT');
    expect(bad.ok).toBe(false);
    expect(parseKvmExitLine('1.0: kvm_entry: vcpu 0').ok).toBe(false);
  });

  test('SDM "Exit Qualification for I/O Instructions": 0x3f80008 is a 1-byte IN from DX at port 0x3f8', () => {
    // 0x03f80008: size-1 = 0 (1 byte), bit 3 = 1 (IN), not string/rep, DX operand, port 0x03f8
    expect(decodeExit(30, 0x03f80008n).fields).toEqual({ size: 1, direction: 'in', string: false, rep: false, immediate: false, port: 0x3f8 });
    // 0x00600041 (hand): size 2, OUT, immediate, port 0x60
    expect(decodeExit(30, 0x00600041n).fields).toMatchObject({ size: 2, direction: 'out', immediate: true, port: 0x60 });
  });

  test('SDM "Exit Qualification for Control-Register Accesses": mov to CR3 from RBX; LMSW source', () => {
    // cr 3, access type 0, GPR 3 (RBX) at bits 11:8 => 0x303
    expect(decodeExit(28, 0x303n).fields).toMatchObject({ cr: 3, accessType: 'mov-to-cr', register: 3 });
    // LMSW: access type 3 (bits 5:4 = 0x30), source 0x0001 in bits 31:16
    expect(decodeExit(28, 0x10030n).fields).toMatchObject({ accessType: 'lmsw', lmswSource: 1 });
  });

  test('SDM "VM-Exit Interruption-Information Field": #PF with error code', () => {
    // vector 14, type 3 (hardware exception) bits 10:8, error code valid bit 11, valid bit 31 => 0x80000b0e
    expect(decodeExit(0, 0x7000n, { intrInfo: 0x80000b0en }).fields).toMatchObject({ vector: 14, interruptionType: 'hardware-exception', errorCodeValid: true });
  });

  test('splitTraceLine reads the ftrace prefix', () => {
    expect(splitTraceLine('  <idle>-0  [005] d.h1 99.000001: kvm_entry: vcpu 0, rip 0x1')).toMatchObject({ event: 'kvm_entry', cpu: 5, timestamp: 99.000001 });
    expect(splitTraceLine('# tracer: nop')).toBeUndefined();
  });
});
