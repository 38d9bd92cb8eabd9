/**
 * The exit log: what KVM's tracepoints would print for each VM exit (`vtxsim run --exit-log`).
 *
 * Models: Linux arch/x86/kvm/trace.h, current (G3) formats, taking facts only:
 *  - kvm_exit: `vcpu %u reason %s%s%s rip 0x%lx info1 0x%016llx info2 0x%016llx intr_info 0x%08x error_code 0x%08x`.
 *    The reason is `__print_symbolic(exit_reason & 0xffff, VMX_EXIT_REASONS)` (the uapi name, or `0x%x` for a
 *    number the table lacks), then " FAILED_VMENTRY" when bit 31 is set (VMX_EXIT_REASON_FLAGS; SDM Vol. 3C
 *    "Basic VM-Exit Information": bit 31 "VM-entry failure"). info1 is the exit qualification, info2 the
 *    IDT-vectoring information, intr_info the VM-exit interruption information and error_code the VM-exit
 *    interruption error code (vmx_get_exit_info: the last three read as 0 after a failed VM entry, and error_code
 *    only when intr_info is valid with "error code valid", SDM "Information for VM Exits Due to Vectored Events").
 *  - kvm_page_fault, printed by handle_ept_violation for an EPT violation:
 *    `vcpu %u rip 0x%lx address 0x%016llx error_code 0x%llx` with the guest-physical address and the exit
 *    qualification as the error code.
 *  - kvm_mmio (include/trace/events/kvm.h), printed when KVM emulates the access behind an EPT misconfiguration:
 *    `mmio %s len %u gpa 0x%llx val 0x%llx` with type `unsatisfied-read`, `read` or `write`.
 *  - For the exits a trace event causes, the detail line KVM's handler prints (arch/x86/kvm/trace.h), so that an
 *    importer can rebuild the event: kvm_cpuid `func %x idx %x rax %lx rbx %lx rcx %lx rdx %lx, cpuid entry %s`
 *    (the model does not compute CPUID results: the registers print 0), kvm_msr `msr_%s %x = 0x%llx`, kvm_pio
 *    `pio_%s at 0x%x size %d count %d val 0x%llx` and kvm_cr `cr_%s %x = 0x%lx`.
 * Each line has ftrace's prefix (kernel/trace/trace_output.c trace_print_context: `%16s-%-7d [%03d] <flags>
 * %5lu.%06lu: `) with comm `vtxsim`, pid 1, CPU 000, flags `.....`, and a timestamp derived from the exit's TSC
 * at a nominal TSC frequency (deterministic: the same exits give the same log).
 * Leaves out: kvm_entry lines, the optional trailing fields newer kernels add (`requests`, `[guest]`), the
 * kvm_fast_mmio path, vCPU-thread scheduling.
 */

import { reasonByNumber } from '../vmx/exitReasons';

export interface ExitRecord {
  /** host TSC at the exit */
  readonly tsc: bigint;
  readonly vcpu: number;
  /** basic exit reason (bits 15:0) */
  readonly reason: number;
  /** exit-reason bit 31 (VM-entry failure) */
  readonly failedEntry: boolean;
  readonly rip: bigint;
  readonly qualification: bigint;
  /** IDT-vectoring information field */
  readonly idtVectoring: number;
  /** VM-exit interruption information */
  readonly intrInfo: number;
  /** VM-exit interruption error code */
  readonly errorCode: number;
  /** guest-physical address (EPT violation / misconfiguration) */
  readonly gpa?: number;
  /** guest-linear address when valid */
  readonly gla?: number;
  /** the emulated MMIO access behind an EPT misconfiguration */
  readonly mmio?: { readonly write: boolean; readonly len: number; readonly value: bigint };
  /** what the handler of a CPUID, MSR, I/O or CR exit traces (kvm_cpuid, kvm_msr, kvm_pio, kvm_cr) */
  readonly detail?:
    | { readonly kind: 'cpuid'; readonly func: number; readonly idx: number }
    | { readonly kind: 'msr'; readonly write: boolean; readonly index: number; readonly value: bigint }
    | { readonly kind: 'pio'; readonly write: boolean; readonly port: number; readonly size: number; readonly count: number }
    | { readonly kind: 'cr'; readonly write: boolean; readonly cr: number; readonly value: bigint };
}

export interface ExitLogOptions {
  /** TSC ticks per second for the timestamp (default 2.0 GHz, a nominal Skylake-server TSC) */
  readonly tscHz?: bigint;
  readonly comm?: string;
  readonly pid?: number;
  readonly cpu?: number;
}

export const DEFAULT_TSC_HZ = 2_000_000_000n;

const EPT_VIOLATION = 48;
const EPT_MISCONFIG = 49;
const U64 = (1n << 64n) - 1n;

const hex0 = (v: bigint | number, digits: number): string => {
  const x = typeof v === 'bigint' ? v & U64 : BigInt(Math.trunc(v));
  return x.toString(16).padStart(digits, '0');
};
const hexBig = (v: bigint): string => (v & U64).toString(16);

/** ftrace's timestamp `%5lu.%06lu` from a TSC value. */
export const timestampOf = (tsc: bigint, tscHz: bigint = DEFAULT_TSC_HZ): string => {
  const t = tsc < 0n ? 0n : tsc;
  const secs = t / tscHz;
  const usecs = ((t % tscHz) * 1_000_000n) / tscHz;
  return `${secs.toString().padStart(5)}.${usecs.toString().padStart(6, '0')}`;
};

/** The ftrace line prefix up to and including `<event>: `. */
export const prefix = (tsc: bigint, event: string, o: ExitLogOptions = {}): string =>
  `${(o.comm ?? 'vtxsim').padStart(16)}-${String(o.pid ?? 1).padEnd(7)} [${String(o.cpu ?? 0).padStart(3, '0')}] ` +
  `..... ${timestampOf(tsc, o.tscHz)}: ${event}: `;

/** The reason as kvm_print_exit_reason prints it: uapi name or `0x%x`, then ` FAILED_VMENTRY` for bit 31. */
export const traceReason = (reason: number, failedEntry: boolean): string => {
  const name = reasonByNumber(reason & 0xffff)?.traceName ?? '0x' + (reason & 0xffff).toString(16);
  return failedEntry ? `${name} FAILED_VMENTRY` : name;
};

/** The body of a kvm_exit line (after `kvm_exit: `). */
export const kvmExitBody = (e: ExitRecord): string => {
  // vmx_get_exit_info: after a failed VM entry only the qualification is read
  const info2 = e.failedEntry ? 0 : e.idtVectoring;
  const intr = e.failedEntry ? 0 : e.intrInfo;
  // SDM "Information for VM Exits Due to Vectored Events": the error code is valid when bits 31 and 11 are set
  const errValid = (intr & 0x8000_0000) !== 0 && (intr & 0x800) !== 0;
  const err = errValid ? e.errorCode : 0;
  return `vcpu ${e.vcpu} reason ${traceReason(e.reason, e.failedEntry)} rip 0x${hexBig(e.rip)} ` +
    `info1 0x${hex0(e.qualification, 16)} info2 0x${hex0(info2 >>> 0, 16)} intr_info 0x${hex0(intr >>> 0, 8)} ` +
    `error_code 0x${hex0(err >>> 0, 8)}`;
};

/** The body of the kvm_page_fault line KVM prints for an EPT violation. */
export const kvmPageFaultBody = (e: ExitRecord): string =>
  `vcpu ${e.vcpu} rip 0x${hexBig(e.rip)} address 0x${hex0(e.gpa ?? 0, 16)} error_code 0x${hexBig(e.qualification)}`;

/** The body of the kvm_mmio line for the access emulated after an EPT misconfiguration. */
export const kvmMmioBody = (e: ExitRecord): string => {
  const m = e.mmio;
  const type = m === undefined ? 'unsatisfied-read' : m.write ? 'write' : 'read';
  return `mmio ${type} len ${m?.len ?? 0} gpa 0x${(e.gpa ?? 0).toString(16)} val 0x${hexBig(m?.value ?? 0n)}`;
};

/** The detail tracepoint of a CPUID / MSR / I/O / CR exit: [event name, body]. */
export const detailLine = (d: NonNullable<ExitRecord['detail']>): [string, string] => {
  switch (d.kind) {
    case 'cpuid': return ['kvm_cpuid', `func ${d.func.toString(16)} idx ${d.idx.toString(16)} rax 0 rbx 0 rcx 0 rdx 0, cpuid entry found`];
    case 'msr': return ['kvm_msr', `msr_${d.write ? 'write' : 'read'} ${d.index.toString(16)} = 0x${hexBig(d.value)}`];
    case 'pio': return ['kvm_pio', `pio_${d.write ? 'write' : 'read'} at 0x${d.port.toString(16)} size ${d.size} count ${d.count} val 0x0 `];
    case 'cr': return ['kvm_cr', `cr_${d.write ? 'write' : 'read'} ${d.cr.toString(16)} = 0x${hexBig(d.value)}`];
    default: { const x: never = d; throw new Error(String(x)); }
  }
};

/** The lines for one exit: kvm_exit, then kvm_page_fault (EPT violation) or kvm_mmio (EPT misconfiguration). */
export const exitLines = (e: ExitRecord, o: ExitLogOptions = {}): string[] => {
  const lines = [prefix(e.tsc, 'kvm_exit', o) + kvmExitBody(e)];
  if (!e.failedEntry && e.reason === EPT_VIOLATION) lines.push(prefix(e.tsc, 'kvm_page_fault', o) + kvmPageFaultBody(e));
  if (!e.failedEntry && e.reason === EPT_MISCONFIG) lines.push(prefix(e.tsc, 'kvm_mmio', o) + kvmMmioBody(e));
  if (!e.failedEntry && e.detail !== undefined) {
    const [name, body] = detailLine(e.detail);
    lines.push(prefix(e.tsc, name, o) + body);
  }
  return lines;
};

/** The whole log, one line per tracepoint, each ending with a newline. */
export const renderExitLog = (exits: Iterable<ExitRecord>, o: ExitLogOptions = {}): string => {
  const out: string[] = [];
  for (const e of exits) for (const l of exitLines(e, o)) out.push(l + '\n');
  return out.join('');
};
