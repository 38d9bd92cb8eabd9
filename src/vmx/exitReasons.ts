/**
 * Basic exit reasons (exit-reason field bits 15:0).
 *
 * Models: SDM Vol. 3D Appendix C "VMX Basic Exit Reasons": each reason's number and SDM name, the Linux uapi
 * name (arch/x86/include/uapi/asm/vmx.h `EXIT_REASON_*` and the `VMX_EXIT_REASONS` string table that KVM's
 * kvm_exit tracepoint prints through __print_symbolic), and whether KVM's trace knows it by name.
 * Leaves out: the upper exit-reason bits (bit 31 "VM-entry failure", bit 27 "enclave mode"); src/vmx/exits
 * owns those. Reasons that Linux does not name (5, 11, 17, 65, 66, 69-73, 78-81) get a name in the same style,
 * flagged `linux: false`: KVM's trace prints them as a hex number (`__print_symbolic` fallback).
 */

export interface ExitReasonInfo {
  readonly number: number;
  /** SDM Appendix C name */
  readonly sdm: string;
  /** Linux uapi `VMX_EXIT_REASONS` name (our own in the same style when `linux` is false) */
  readonly name: string;
  /** the `EXIT_REASON_*` constant name (uapi vmx.h; VMOFF/VMON keep Linux's spelling) */
  readonly constant: string;
  /** name printed by KVM's kvm_exit tracepoint, or null when KVM prints the number (`0x..`) */
  readonly traceName: string | null;
  /** true when the name comes from Linux's uapi vmx.h */
  readonly linux: boolean;
}

// [number, uapi name, SDM name, in Linux's VMX_EXIT_REASONS table]
const TABLE: readonly (readonly [number, string, string, boolean])[] = [
  [0, 'EXCEPTION_NMI', 'Exception or non-maskable interrupt (NMI)', true],
  [1, 'EXTERNAL_INTERRUPT', 'External interrupt', true],
  [2, 'TRIPLE_FAULT', 'Triple fault', true],
  [3, 'INIT_SIGNAL', 'INIT signal', true],
  [4, 'SIPI_SIGNAL', 'Start-up IPI (SIPI)', true],
  [5, 'IO_SMI', 'I/O system-management interrupt (SMI)', false],
  // EXIT_REASON_OTHER_SMI is #defined in uapi vmx.h but absent from VMX_EXIT_REASONS, so the trace prints 0x6
  [6, 'OTHER_SMI', 'Other SMI', false],
  [7, 'INTERRUPT_WINDOW', 'Interrupt window', true],
  [8, 'NMI_WINDOW', 'NMI window', true],
  [9, 'TASK_SWITCH', 'Task switch', true],
  [10, 'CPUID', 'CPUID', true],
  [11, 'GETSEC', 'GETSEC', false],
  [12, 'HLT', 'HLT', true],
  [13, 'INVD', 'INVD', true],
  [14, 'INVLPG', 'INVLPG', true],
  [15, 'RDPMC', 'RDPMC', true],
  [16, 'RDTSC', 'RDTSC', true],
  [17, 'RSM', 'RSM', false],
  [18, 'VMCALL', 'VMCALL', true],
  [19, 'VMCLEAR', 'VMCLEAR', true],
  [20, 'VMLAUNCH', 'VMLAUNCH', true],
  [21, 'VMPTRLD', 'VMPTRLD', true],
  [22, 'VMPTRST', 'VMPTRST', true],
  [23, 'VMREAD', 'VMREAD', true],
  [24, 'VMRESUME', 'VMRESUME', true],
  [25, 'VMWRITE', 'VMWRITE', true],
  [26, 'VMOFF', 'VMXOFF', true],
  [27, 'VMON', 'VMXON', true],
  [28, 'CR_ACCESS', 'Control-register accesses', true],
  [29, 'DR_ACCESS', 'MOV DR', true],
  [30, 'IO_INSTRUCTION', 'I/O instruction', true],
  [31, 'MSR_READ', 'RDMSR', true],
  [32, 'MSR_WRITE', 'WRMSR', true],
  [33, 'INVALID_STATE', 'VM-entry failure due to invalid guest state', true],
  [34, 'MSR_LOAD_FAIL', 'VM-entry failure due to MSR loading', true],
  [36, 'MWAIT_INSTRUCTION', 'MWAIT', true],
  [37, 'MONITOR_TRAP_FLAG', 'Monitor trap flag', true],
  [39, 'MONITOR_INSTRUCTION', 'MONITOR', true],
  [40, 'PAUSE_INSTRUCTION', 'PAUSE', true],
  [41, 'MCE_DURING_VMENTRY', 'VM-entry failure due to machine-check event', true],
  [43, 'TPR_BELOW_THRESHOLD', 'TPR below threshold', true],
  [44, 'APIC_ACCESS', 'APIC access', true],
  [45, 'EOI_INDUCED', 'Virtualized EOI', true],
  [46, 'GDTR_IDTR', 'Access to GDTR or IDTR', true],
  [47, 'LDTR_TR', 'Access to LDTR or TR', true],
  [48, 'EPT_VIOLATION', 'EPT violation', true],
  [49, 'EPT_MISCONFIG', 'EPT misconfiguration', true],
  [50, 'INVEPT', 'INVEPT', true],
  [51, 'RDTSCP', 'RDTSCP', true],
  [52, 'PREEMPTION_TIMER', 'VMX-preemption timer expired', true],
  [53, 'INVVPID', 'INVVPID', true],
  [54, 'WBINVD', 'WBINVD or WBNOINVD', true],
  [55, 'XSETBV', 'XSETBV', true],
  [56, 'APIC_WRITE', 'APIC write', true],
  [57, 'RDRAND', 'RDRAND', true],
  [58, 'INVPCID', 'INVPCID', true],
  [59, 'VMFUNC', 'VMFUNC', true],
  [60, 'ENCLS', 'ENCLS', true],
  [61, 'RDSEED', 'RDSEED', true],
  [62, 'PML_FULL', 'Page-modification log full', true],
  [63, 'XSAVES', 'XSAVES', true],
  [64, 'XRSTORS', 'XRSTORS', true],
  [65, 'PCONFIG', 'PCONFIG', false],
  [66, 'SPP', 'SPP-related event', false],
  [67, 'UMWAIT', 'UMWAIT', true],
  [68, 'TPAUSE', 'TPAUSE', true],
  [69, 'LOADIWKEY', 'LOADIWKEY', false],
  [70, 'ENCLV', 'ENCLV', false],
  [72, 'ENQCMD_PASID_FAIL', 'ENQCMD PASID translation failure', false],
  [73, 'ENQCMDS_PASID_FAIL', 'ENQCMDS PASID translation failure', false],
  [74, 'BUS_LOCK', 'Bus lock', true],
  [75, 'NOTIFY', 'Instruction timeout', true],
  // EXIT_REASON_SEAMCALL is #defined in recent uapi vmx.h but not in VMX_EXIT_REASONS
  [76, 'SEAMCALL', 'SEAMCALL', false],
  [77, 'TDCALL', 'TDCALL', true],
  [78, 'RDMSRLIST', 'RDMSRLIST', false],
  [79, 'WRMSRLIST', 'WRMSRLIST', false],
  [80, 'URDMSR', 'URDMSR', false],
  [81, 'UWRMSR', 'UWRMSR', false],
  [84, 'MSR_READ_IMM', 'RDMSR with immediate operand', true],
  [85, 'MSR_WRITE_IMM', 'WRMSRNS with immediate operand', true],
];

export const EXIT_REASONS: readonly ExitReasonInfo[] = TABLE.map(([number, name, sdm, linux]) => ({
  number, sdm, name, constant: 'EXIT_REASON_' + name, traceName: linux ? name : null, linux,
}));

type Names = (typeof TABLE)[number][1];

/** Exit-reason numbers by uapi name: `R.EPT_VIOLATION === 48`. */
export const R: Readonly<Record<string, number>> & {
  readonly EXCEPTION_NMI: 0; readonly EXTERNAL_INTERRUPT: 1; readonly TRIPLE_FAULT: 2; readonly INIT_SIGNAL: 3;
  readonly SIPI_SIGNAL: 4; readonly IO_SMI: 5; readonly OTHER_SMI: 6; readonly INTERRUPT_WINDOW: 7;
  readonly NMI_WINDOW: 8; readonly TASK_SWITCH: 9; readonly CPUID: 10; readonly GETSEC: 11; readonly HLT: 12;
  readonly INVD: 13; readonly INVLPG: 14; readonly RDPMC: 15; readonly RDTSC: 16; readonly RSM: 17;
  readonly VMCALL: 18; readonly VMCLEAR: 19; readonly VMLAUNCH: 20; readonly VMPTRLD: 21; readonly VMPTRST: 22;
  readonly VMREAD: 23; readonly VMRESUME: 24; readonly VMWRITE: 25; readonly VMOFF: 26; readonly VMON: 27;
  readonly CR_ACCESS: 28; readonly DR_ACCESS: 29; readonly IO_INSTRUCTION: 30; readonly MSR_READ: 31;
  readonly MSR_WRITE: 32; readonly INVALID_STATE: 33; readonly MSR_LOAD_FAIL: 34; readonly MWAIT_INSTRUCTION: 36;
  readonly MONITOR_TRAP_FLAG: 37; readonly MONITOR_INSTRUCTION: 39; readonly PAUSE_INSTRUCTION: 40;
  readonly MCE_DURING_VMENTRY: 41; readonly TPR_BELOW_THRESHOLD: 43; readonly APIC_ACCESS: 44;
  readonly EOI_INDUCED: 45; readonly GDTR_IDTR: 46; readonly LDTR_TR: 47; readonly EPT_VIOLATION: 48;
  readonly EPT_MISCONFIG: 49; readonly INVEPT: 50; readonly RDTSCP: 51; readonly PREEMPTION_TIMER: 52;
  readonly INVVPID: 53; readonly WBINVD: 54; readonly XSETBV: 55; readonly APIC_WRITE: 56; readonly RDRAND: 57;
  readonly INVPCID: 58; readonly VMFUNC: 59; readonly ENCLS: 60; readonly RDSEED: 61; readonly PML_FULL: 62;
  readonly XSAVES: 63; readonly XRSTORS: 64; readonly PCONFIG: 65; readonly SPP: 66; readonly UMWAIT: 67;
  readonly TPAUSE: 68; readonly LOADIWKEY: 69; readonly ENCLV: 70; readonly ENQCMD_PASID_FAIL: 72;
  readonly ENQCMDS_PASID_FAIL: 73; readonly BUS_LOCK: 74; readonly NOTIFY: 75; readonly SEAMCALL: 76;
  readonly TDCALL: 77; readonly RDMSRLIST: 78; readonly WRMSRLIST: 79; readonly URDMSR: 80; readonly UWRMSR: 81;
  readonly MSR_READ_IMM: 84; readonly MSR_WRITE_IMM: 85;
} = Object.freeze(Object.fromEntries(TABLE.map(([n, name]) => [name, n]))) as never;

/** Uapi name of an exit reason, as a type (keys of R). */
export type ExitReasonName = Names;

const BY_NUMBER: ReadonlyMap<number, ExitReasonInfo> = new Map(EXIT_REASONS.map((r) => [r.number, r]));
// SDM spellings that differ from uapi (VMXOFF/VMXON) and a few common aliases also resolve
const ALIASES: Readonly<Record<string, string>> = {
  VMXOFF: 'VMOFF', VMXON: 'VMON', EXCEPTION: 'EXCEPTION_NMI', IO: 'IO_INSTRUCTION', RDMSR: 'MSR_READ',
  WRMSR: 'MSR_WRITE', MWAIT: 'MWAIT_INSTRUCTION', MONITOR: 'MONITOR_INSTRUCTION', PAUSE: 'PAUSE_INSTRUCTION',
  EPT_MISCONFIGURATION: 'EPT_MISCONFIG', MOV_CR: 'CR_ACCESS', MOV_DR: 'DR_ACCESS',
};
const BY_NAME: ReadonlyMap<string, ExitReasonInfo> = new Map(EXIT_REASONS.map((r) => [r.name, r]));

/** The reason with that basic number (bits 15:0), or undefined for a reserved number. */
export const reasonByNumber = (n: number): ExitReasonInfo | undefined => BY_NUMBER.get(n);

/**
 * A reason by name or number: uapi name (`EPT_VIOLATION`), `EXIT_REASON_` prefixed, any case, SDM VMXON/VMXOFF,
 * a decimal number (`48`) or a 0x-hex number (`0x30`, as KVM's trace prints reasons it cannot name).
 */
export const reasonByName = (s: string): ExitReasonInfo | undefined => {
  const t = s.trim();
  if (/^\d+$/.test(t)) return BY_NUMBER.get(Number(t));
  if (/^0x[0-9a-f]+$/i.test(t)) return BY_NUMBER.get(parseInt(t.slice(2), 16));
  let u = t.toUpperCase();
  if (u.startsWith('EXIT_REASON_')) u = u.slice('EXIT_REASON_'.length);
  return BY_NAME.get(u) ?? (u in ALIASES ? BY_NAME.get(ALIASES[u]) : undefined);
};

/** Name for reports: the uapi name, or `UNKNOWN_<n>` for a number no table defines. */
export const exitName = (n: number): string => BY_NUMBER.get(n)?.name ?? `UNKNOWN_${n}`;
