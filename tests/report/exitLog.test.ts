import fc from 'fast-check';
import {
  exitLines, renderExitLog, timestampOf, traceReason, type ExitRecord,
} from '../../src/report/exitLog';
import { parseKvmExitLine } from '../../src/vmx/decode';

// ftrace prefix by hand: comm right-aligned in 16, '-', pid left-aligned in 7, ' [000] ..... ', '%5lu.%06lu', ': '
const PREFIX = (ts: string, ev: string): string => ' '.repeat(10) + 'vtxsim' + '-' + '1' + ' '.repeat(6) + ' [000] ..... ' + ts + ': ' + ev + ': ';

const eptViolation: ExitRecord = {
  tsc: 3_000_001_000n, vcpu: 0, reason: 48, failedEntry: false, rip: 0xffffffff81000000n,
  // SDM "Exit Qualification for EPT Violations": bit 0 read, bit 7 linear-address valid, bit 8 final translation
  qualification: 0x181n, idtVectoring: 0, intrInfo: 0, errorCode: 0, gpa: 0x12345000, gla: 0x7f0000001000,
};

// printf conversions of trace.h's TP_printk strings turned into capture groups
const fmtToRegex = (fmt: string): RegExp => new RegExp('^' + fmt
  .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  .replace('%s%s%s', '(.+?)')
  .replace(/0x%016l?lx/g, '0x([0-9a-f]{16})')
  .replace(/0x%08x/g, '0x([0-9a-f]{8})')
  .replace(/0x%l?lx/g, '0x([0-9a-f]+)')
  .replace(/%u/g, '(\\d+)')
  .replace(/%s/g, '(\\S+)') + '$');
const KVM_EXIT = fmtToRegex('vcpu %u reason %s%s%s rip 0x%lx info1 0x%016llx info2 0x%016llx intr_info 0x%08x error_code 0x%08x');
const KVM_PAGE_FAULT = fmtToRegex('vcpu %u rip 0x%lx address 0x%016llx error_code 0x%llx');
const KVM_MMIO = fmtToRegex('mmio %s len %u gpa 0x%llx val 0x%llx');
const body = (line: string, ev: string): string => line.slice(line.indexOf(`${ev}: `) + ev.length + 2);

describe('exit log: KVM tracepoints (arch/x86/kvm/trace.h, G3)', () => {
  it('timestamp is %5lu.%06lu seconds of TSC at 2 GHz (3,000,001,000 ticks = 1.500000 s, truncated)', () => {
    expect(timestampOf(3_000_001_000n)).toBe('    1.500000');
    expect(timestampOf(0n)).toBe('    0.000000');
    expect(timestampOf(123_456_789_000_000n, 1_000_000_000n)).toBe('123456.789000');
  });
  it('EPT violation: a kvm_exit line then kvm_page_fault with the GPA and the qualification as error_code', () => {
    expect(exitLines(eptViolation)).toEqual([
      PREFIX('    1.500000', 'kvm_exit') + 'vcpu 0 reason EPT_VIOLATION rip 0xffffffff81000000 info1 0x0000000000000181 ' +
        'info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000',
      PREFIX('    1.500000', 'kvm_page_fault') + 'vcpu 0 rip 0xffffffff81000000 address 0x0000000012345000 error_code 0x181',
    ]);
  });
  it('EPT misconfiguration: kvm_exit then kvm_mmio with type, len, GPA and value', () => {
    const e: ExitRecord = { ...eptViolation, reason: 49, qualification: 0n, gpa: 0xfee000b0, mmio: { write: true, len: 4, value: 0n } };
    const lines = exitLines(e);
    expect(lines).toHaveLength(2);
    expect(body(lines[1], 'kvm_mmio')).toBe('mmio write len 4 gpa 0xfee000b0 val 0x0');
    const r: ExitRecord = { ...e, mmio: { write: false, len: 8, value: 0x1234n } };
    expect(body(exitLines(r)[1], 'kvm_mmio')).toBe('mmio read len 8 gpa 0xfee000b0 val 0x1234');
  });
  it('other reasons print only kvm_exit; a reason KVM cannot name prints as hex (GETSEC = 11 -> 0xb)', () => {
    const cpuid = exitLines({ ...eptViolation, reason: 10, qualification: 0n });
    expect(cpuid).toHaveLength(1);
    expect(body(cpuid[0], 'kvm_exit')).toMatch(/^vcpu 0 reason CPUID rip /);
    expect(traceReason(11, false)).toBe('0xb');
  });
  it('SDM "Basic VM-Exit Information" bit 31: a failed entry prints " FAILED_VMENTRY"; info2/intr_info/error_code read 0', () => {
    const e: ExitRecord = { ...eptViolation, reason: 33, failedEntry: true, qualification: 0n, idtVectoring: 0x80000b0e, intrInfo: 0x80000b0e, errorCode: 4 };
    const lines = exitLines(e);
    expect(lines).toHaveLength(1);
    expect(body(lines[0], 'kvm_exit')).toBe('vcpu 0 reason INVALID_STATE FAILED_VMENTRY rip 0xffffffff81000000 ' +
      'info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000');
  });
  it('SDM "Information for VM Exits Due to Vectored Events": error_code printed only when bits 31 and 11 are set', () => {
    // #PF (vector 14), hardware exception (type 3), error code valid: 0x80000b0e
    const pf: ExitRecord = { ...eptViolation, reason: 0, intrInfo: 0x80000b0e, errorCode: 6, qualification: 0x1000n };
    expect(body(exitLines(pf)[0], 'kvm_exit')).toMatch(/intr_info 0x80000b0e error_code 0x00000006$/);
    // #UD (vector 6) has no error code: 0x80000306
    const ud: ExitRecord = { ...pf, intrInfo: 0x80000306, errorCode: 6 };
    expect(body(exitLines(ud)[0], 'kvm_exit')).toMatch(/intr_info 0x80000306 error_code 0x00000000$/);
  });
  it('every line parses back with regexes built from the TP_printk format strings (random exits)', () => {
    const rec = fc.record({
      tsc: fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }), vcpu: fc.nat(255),
      reason: fc.constantFrom(0, 1, 10, 12, 28, 30, 31, 32, 48, 49, 52, 11, 65), failedEntry: fc.constant(false),
      rip: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), qualification: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      idtVectoring: fc.nat(0xffffffff), intrInfo: fc.nat(0xffffffff), errorCode: fc.nat(0xffffffff),
      gpa: fc.nat(2 ** 52 - 1),
      mmio: fc.record({ write: fc.boolean(), len: fc.constantFrom(1, 2, 4, 8), value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
    });
    fc.assert(fc.property(rec, (e: ExitRecord) => {
      const lines = exitLines(e);
      const m = KVM_EXIT.exec(body(lines[0], 'kvm_exit'));
      expect(m).not.toBeNull();
      expect(Number(m![1])).toBe(e.vcpu);
      expect(BigInt('0x' + m![3])).toBe(e.rip);
      expect(BigInt('0x' + m![4])).toBe(e.qualification);
      expect(Number('0x' + m![5])).toBe(e.idtVectoring);
      expect(Number('0x' + m![6])).toBe(e.intrInfo);
      if (e.reason === 48) {
        const p = KVM_PAGE_FAULT.exec(body(lines[1], 'kvm_page_fault'));
        expect(p).not.toBeNull();
        expect(Number('0x' + p![3])).toBe(e.gpa);
        expect(BigInt('0x' + p![4])).toBe(e.qualification);
      } else if (e.reason === 49) {
        const p = KVM_MMIO.exec(body(lines[1], 'kvm_mmio'));
        expect(p).not.toBeNull();
        expect(p![1]).toBe(e.mmio!.write ? 'write' : 'read');
        expect(Number(p![2])).toBe(e.mmio!.len);
        expect(Number('0x' + p![3])).toBe(e.gpa);
        expect(BigInt('0x' + p![4])).toBe(e.mmio!.value);
      } else expect(lines).toHaveLength(1);
    }));
  });
  it('round trip through the kvm_exit decoder (src/vmx/decode): reason, vCPU, RIP, qualification, timestamp', () => {
    const line = exitLines(eptViolation)[0];
    const p = parseKvmExitLine(line);
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(p.value.generation).toBe(3);
    expect(p.value.reason).toBe(48);
    expect(p.value.vcpu).toBe(0);
    expect(p.value.rip).toBe(0xffffffff81000000n);
    expect(p.value.qualification).toBe(0x181n);
    expect(p.value.timestamp).toBe(1.5);
  });
  it('renderExitLog joins every line with a newline, in exit order, and is deterministic', () => {
    const log = renderExitLog([eptViolation, { ...eptViolation, reason: 12, tsc: 4_000_000_000n }]);
    expect(log.split('\n')).toHaveLength(4);
    expect(log.split('\n')[2]).toContain('    2.000000: kvm_exit: vcpu 0 reason HLT ');
    expect(renderExitLog([eptViolation])).toBe(renderExitLog([eptViolation]));
  });
});
