/**
 * One test per VM-entry check: each breaks exactly one rule of the valid default VMCS (EPT + VPID on skylake-server)
 * and expects that check's id, with the outcome the SDM gives its class, and no other failure unless named.
 * Expected outcomes and values are derived from the SDM by hand, never read back from the table.
 */
import * as Phys from '../../src/arch/phys';
import { Caps, presetByName } from '../../src/vmx/caps';
import { validVmcs } from '../../src/vmx/defaultState';
import { allEntryFailures, ENTRY_CHECKS, EntryContext, EntryOutcome, firstEntryFailure } from '../../src/vmx/entryChecks';
import { F } from '../../src/vmx/fields';

const preset = (name: string): Caps => {
  const c = presetByName(name);
  if (c === undefined) throw new Error(name);
  return c;
};
const SKL = preset('skylake-server');
const ICL = preset('icelake-server');
const b = (n: number): bigint => 1n << BigInt(n);
// EPTP: WB (6), 4-level (page-walk length − 1 = 3 in bits 5:3), PML4 at 2 MiB (SDM "Extended-Page-Table Pointer")
const EPTP = 0x200000n | (3n << 3n) | 6n;
const CURRENT_VMCS = 0x10000;
const NONCANON = 0x0000_8000_0000_0000n;
const ABOVE_46 = b(46); // skylake-server MAXPHYADDR is 46

type M = Map<number, bigint>;
const get = (m: M, e: number): bigint => m.get(e) ?? 0n;
const or = (m: M, e: number, v: bigint): void => { m.set(e, get(m, e) | v); };
const clr = (m: M, e: number, v: bigint): void => { m.set(e, get(m, e) & ~v); };

const base = (caps: Caps = SKL): M =>
  new Map(validVmcs(caps, { cr3: 0x1000n }, { eptp: EPTP, vpid: 1 }));
const ctxOf = (fields: M, over: Partial<EntryContext> = {}): EntryContext =>
  ({ caps: SKL, fields, mem: Phys.empty, currentVmcs: CURRENT_VMCS, vmxonPtr: 0x11000, ...over });

const V7: EntryOutcome = { kind: 'VMfailValid', error: 7 };
const V8: EntryOutcome = { kind: 'VMfailValid', error: 8 };
const X33 = (q = 0n): EntryOutcome => ({ kind: 'exit', reason: 33, qualification: q });
const X34 = (q: bigint): EntryOutcome => ({ kind: 'exit', reason: 34, qualification: q });

/** a VM-entry MSR-load list at 0xF000: [index, reserved, value] per entry (SDM "VM-Entry Controls for MSRs") */
const msrList = (m: M, entries: ReadonlyArray<[number, number, bigint]>): Phys.PhysMem => {
  let mem = Phys.empty;
  entries.forEach(([idx, res, val], i) => {
    mem = Phys.write32(mem, 0xf000 + 16 * i, idx);
    mem = Phys.write32(mem, 0xf000 + 16 * i + 4, res);
    mem = Phys.write64(mem, 0xf000 + 16 * i + 8, val);
  });
  m.set(F.VM_ENTRY_MSR_LOAD_ADDR, 0xf000n);
  m.set(F.VM_ENTRY_MSR_LOAD_COUNT, BigInt(entries.length));
  return mem;
};
/** a 32-bit (non-IA-32e) host, as far as the VMCS controls say: "host address-space size" 0, host RIP below 4 GiB */
const host32 = (m: M): void => {
  clr(m, F.VM_EXIT_CONTROLS, b(9));
  clr(m, F.VM_ENTRY_CONTROLS, b(9));
  m.set(F.HOST_RIP, 0x1000n);
};
/** posted interrupts with every prerequisite: TPR shadow, VID, external-interrupt exiting, ack on exit */
const postedInterrupts = (m: M): void => {
  or(m, F.PIN_BASED_VM_EXEC_CONTROL, b(7) | b(0));
  or(m, F.CPU_BASED_VM_EXEC_CONTROL, b(21));
  m.set(F.VIRTUAL_APIC_PAGE_ADDR, 0x5000n);
  or(m, F.SECONDARY_VM_EXEC_CONTROL, b(9));
  or(m, F.VM_EXIT_CONTROLS, b(15));
  m.set(F.POSTED_INTR_NV, 0xf2n);
  m.set(F.POSTED_INTR_DESC_ADDR, 0x7000n);
};

interface Case {
  readonly id: string;
  readonly outcome: EntryOutcome;
  /** break the rule in a private copy of the default VMCS; may return the memory to use */
  readonly edit: (m: M) => Phys.PhysMem | void;
  readonly caps?: Caps;
  readonly hostLma?: boolean;
  /** checks that necessarily fail along with this one */
  readonly also?: readonly string[];
}

const CASES: readonly Case[] = [
  // --- SDM "Checks on VMX Controls": VM-execution control fields
  { id: 'pin-based-controls-allowed', outcome: V7, edit: (m) => { m.set(F.PIN_BASED_VM_EXEC_CONTROL, 0n); } }, // default1 bits 1, 2, 4
  { id: 'primary-controls-allowed', outcome: V7, edit: (m) => clr(m, F.CPU_BASED_VM_EXEC_CONTROL, b(1)) },
  { id: 'secondary-controls-allowed', outcome: V7, edit: (m) => or(m, F.SECONDARY_VM_EXEC_CONTROL, b(26)) },
  {
    id: 'tertiary-controls-allowed', outcome: V7, also: ['primary-controls-allowed'], // skylake has no tertiary controls
    edit: (m) => { or(m, F.CPU_BASED_VM_EXEC_CONTROL, b(17)); m.set(F.TERTIARY_VM_EXEC_CONTROL, 1n); },
  },
  { id: 'cr3-target-count', outcome: V7, edit: (m) => { m.set(F.CR3_TARGET_COUNT, 5n); } },
  {
    id: 'io-bitmap-addresses', outcome: V7,
    edit: (m) => { or(m, F.CPU_BASED_VM_EXEC_CONTROL, b(25)); m.set(F.IO_BITMAP_A, 0x1001n); m.set(F.IO_BITMAP_B, 0x2000n); },
  },
  { id: 'msr-bitmap-address', outcome: V7, edit: (m) => { or(m, F.CPU_BASED_VM_EXEC_CONTROL, b(28)); m.set(F.MSR_BITMAP, 0x3008n); } },
  {
    id: 'virtual-apic-address', outcome: V7,
    edit: (m) => { or(m, F.CPU_BASED_VM_EXEC_CONTROL, b(21)); m.set(F.VIRTUAL_APIC_PAGE_ADDR, ABOVE_46); },
  },
  {
    id: 'tpr-threshold-reserved', outcome: V7,
    edit: (m) => { or(m, F.CPU_BASED_VM_EXEC_CONTROL, b(21)); m.set(F.VIRTUAL_APIC_PAGE_ADDR, 0x5000n); m.set(F.TPR_THRESHOLD, 0x10n); },
  },
  {
    id: 'tpr-threshold-vtpr', outcome: V7,
    edit: (m) => {
      or(m, F.CPU_BASED_VM_EXEC_CONTROL, b(21));
      m.set(F.VIRTUAL_APIC_PAGE_ADDR, 0x5000n);
      m.set(F.TPR_THRESHOLD, 4n);
      return Phys.write8(Phys.empty, 0x5080, 0x30); // VTPR[7:4] = 3 < 4
    },
  },
  { id: 'tpr-shadow-required', outcome: V7, edit: (m) => or(m, F.SECONDARY_VM_EXEC_CONTROL, b(4)) },
  { id: 'virtual-nmis-need-nmi-exiting', outcome: V7, edit: (m) => or(m, F.PIN_BASED_VM_EXEC_CONTROL, b(5)) },
  { id: 'nmi-window-needs-virtual-nmis', outcome: V7, edit: (m) => or(m, F.CPU_BASED_VM_EXEC_CONTROL, b(22)) },
  { id: 'apic-access-address', outcome: V7, edit: (m) => { or(m, F.SECONDARY_VM_EXEC_CONTROL, b(0)); m.set(F.APIC_ACCESS_ADDR, 0x123n); } },
  {
    id: 'x2apic-excludes-apic-accesses', outcome: V7,
    edit: (m) => {
      or(m, F.CPU_BASED_VM_EXEC_CONTROL, b(21));
      m.set(F.VIRTUAL_APIC_PAGE_ADDR, 0x5000n);
      or(m, F.SECONDARY_VM_EXEC_CONTROL, b(0) | b(4));
      m.set(F.APIC_ACCESS_ADDR, 0x6000n);
    },
  },
  {
    id: 'vid-needs-external-interrupt-exiting', outcome: V7,
    edit: (m) => { or(m, F.CPU_BASED_VM_EXEC_CONTROL, b(21)); m.set(F.VIRTUAL_APIC_PAGE_ADDR, 0x5000n); or(m, F.SECONDARY_VM_EXEC_CONTROL, b(9)); },
  },
  { id: 'posted-interrupts-controls', outcome: V7, edit: (m) => { postedInterrupts(m); clr(m, F.VM_EXIT_CONTROLS, b(15)); } },
  { id: 'posted-interrupt-vector', outcome: V7, edit: (m) => { postedInterrupts(m); m.set(F.POSTED_INTR_NV, 0x1f2n); } },
  { id: 'posted-interrupt-descriptor', outcome: V7, edit: (m) => { postedInterrupts(m); m.set(F.POSTED_INTR_DESC_ADDR, 0x7020n); } },
  { id: 'vpid-nonzero', outcome: V7, edit: (m) => { m.set(F.VIRTUAL_PROCESSOR_ID, 0n); } },
  { id: 'eptp-memory-type', outcome: V7, edit: (m) => { m.set(F.EPT_POINTER, 0x200000n | (3n << 3n) | 1n); } }, // WC
  { id: 'eptp-walk-length', outcome: V7, edit: (m) => { m.set(F.EPT_POINTER, 0x200000n | (4n << 3n) | 6n); } }, // 5-level
  {
    id: 'eptp-accessed-dirty', outcome: V7, caps: { ...SKL, eptVpidCap: SKL.eptVpidCap & ~b(21) },
    edit: (m) => or(m, F.EPT_POINTER, b(6)),
  },
  { id: 'eptp-reserved-bits', outcome: V7, edit: (m) => or(m, F.EPT_POINTER, b(8)) },
  {
    id: 'pml-needs-ept', outcome: V7,
    edit: (m) => { clr(m, F.SECONDARY_VM_EXEC_CONTROL, b(1)); or(m, F.SECONDARY_VM_EXEC_CONTROL, b(17)); m.set(F.PML_ADDRESS, 0x8000n); },
  },
  { id: 'pml-address', outcome: V7, edit: (m) => { or(m, F.SECONDARY_VM_EXEC_CONTROL, b(17)); m.set(F.PML_ADDRESS, 0x8010n); } },
  {
    id: 'unrestricted-guest-needs-ept', outcome: V7,
    edit: (m) => { clr(m, F.SECONDARY_VM_EXEC_CONTROL, b(1)); or(m, F.SECONDARY_VM_EXEC_CONTROL, b(7)); },
  },
  { id: 'mbec-needs-ept', outcome: V7, edit: (m) => { clr(m, F.SECONDARY_VM_EXEC_CONTROL, b(1)); or(m, F.SECONDARY_VM_EXEC_CONTROL, b(22)); } },
  {
    id: 'spp-needs-ept', outcome: V7, also: ['secondary-controls-allowed'], // skylake does not offer SPP (bit 23)
    edit: (m) => { clr(m, F.SECONDARY_VM_EXEC_CONTROL, b(1)); or(m, F.SECONDARY_VM_EXEC_CONTROL, b(23)); },
  },
  { id: 'vm-function-controls', outcome: V7, edit: (m) => { or(m, F.SECONDARY_VM_EXEC_CONTROL, b(13)); m.set(F.VM_FUNCTION_CONTROL, 2n); } },
  {
    id: 'eptp-switching', outcome: V7,
    edit: (m) => { or(m, F.SECONDARY_VM_EXEC_CONTROL, b(13)); m.set(F.VM_FUNCTION_CONTROL, 1n); m.set(F.EPTP_LIST_ADDRESS, 0x9001n); },
  },
  {
    id: 'vmcs-shadowing-bitmaps', outcome: V7,
    edit: (m) => { or(m, F.SECONDARY_VM_EXEC_CONTROL, b(14)); m.set(F.VMREAD_BITMAP, 0xa000n); m.set(F.VMWRITE_BITMAP, 0xb008n); },
  },
  { id: 've-information-address', outcome: V7, edit: (m) => { or(m, F.SECONDARY_VM_EXEC_CONTROL, b(18)); m.set(F.VE_INFORMATION_ADDRESS, 0xc004n); } },
  // --- VM-exit control fields
  { id: 'exit-controls-allowed', outcome: V7, edit: (m) => clr(m, F.VM_EXIT_CONTROLS, b(0)) },
  { id: 'preemption-timer-save', outcome: V7, edit: (m) => or(m, F.VM_EXIT_CONTROLS, b(22)) },
  { id: 'exit-msr-store-area', outcome: V7, edit: (m) => { m.set(F.VM_EXIT_MSR_STORE_COUNT, 1n); m.set(F.VM_EXIT_MSR_STORE_ADDR, 0xd008n); } },
  // last byte = 2^46 − 16 + 32 − 1 ≥ 2^46
  { id: 'exit-msr-load-area', outcome: V7, edit: (m) => { m.set(F.VM_EXIT_MSR_LOAD_COUNT, 2n); m.set(F.VM_EXIT_MSR_LOAD_ADDR, ABOVE_46 - 16n); } },
  // --- VM-entry control fields
  { id: 'entry-controls-allowed', outcome: V7, edit: (m) => clr(m, F.VM_ENTRY_CONTROLS, b(0)) },
  { id: 'event-injection-type', outcome: V7, edit: (m) => { m.set(F.VM_ENTRY_INTR_INFO_FIELD, 0x8000_0100n); } }, // type 1
  { id: 'event-injection-vector', outcome: V7, edit: (m) => { m.set(F.VM_ENTRY_INTR_INFO_FIELD, 0x8000_0203n); } }, // NMI, vector 3
  // #GP (13) pushes an error code; skylake's IA32_VMX_BASIC[56] is 0, so deliver-error-code must be 1
  { id: 'event-injection-error-code-bit', outcome: V7, edit: (m) => { m.set(F.VM_ENTRY_INTR_INFO_FIELD, 0x8000_030dn); } },
  { id: 'event-injection-reserved', outcome: V7, edit: (m) => { m.set(F.VM_ENTRY_INTR_INFO_FIELD, 0x8000_1b0dn); } }, // bit 12
  {
    id: 'event-injection-error-code', outcome: V7,
    edit: (m) => { m.set(F.VM_ENTRY_INTR_INFO_FIELD, 0x8000_0b0dn); m.set(F.VM_ENTRY_EXCEPTION_ERROR_CODE, 0x10000n); },
  },
  {
    id: 'event-injection-instruction-length', outcome: V7, // INT 80h, length 16
    edit: (m) => { m.set(F.VM_ENTRY_INTR_INFO_FIELD, 0x8000_0480n); m.set(F.VM_ENTRY_INSTRUCTION_LEN, 16n); },
  },
  { id: 'entry-msr-load-area', outcome: V7, edit: (m) => { m.set(F.VM_ENTRY_MSR_LOAD_COUNT, 1n); m.set(F.VM_ENTRY_MSR_LOAD_ADDR, 0xe004n); } },
  { id: 'entry-to-smm', outcome: V7, edit: (m) => or(m, F.VM_ENTRY_CONTROLS, b(10)) },
  { id: 'deactivate-dual-monitor', outcome: V7, edit: (m) => or(m, F.VM_ENTRY_CONTROLS, b(11)) },
  // --- SDM "Checks on Host Control Registers, MSRs, and SSP"
  { id: 'host-cr0-fixed', outcome: V8, edit: (m) => clr(m, F.HOST_CR0, b(5)) }, // NE
  { id: 'host-cr4-fixed', outcome: V8, edit: (m) => clr(m, F.HOST_CR4, b(13)) }, // VMXE
  { id: 'host-cr3-width', outcome: V8, edit: (m) => { m.set(F.HOST_CR3, ABOVE_46); } },
  { id: 'host-sysenter-canonical', outcome: V8, edit: (m) => { m.set(F.HOST_IA32_SYSENTER_EIP, NONCANON); } },
  { id: 'host-perf-global-ctrl', outcome: V8, edit: (m) => { or(m, F.VM_EXIT_CONTROLS, b(12)); m.set(F.HOST_IA32_PERF_GLOBAL_CTRL, b(40)); } },
  { id: 'host-pat', outcome: V8, edit: (m) => { or(m, F.VM_EXIT_CONTROLS, b(19)); m.set(F.HOST_IA32_PAT, 0x2n); } }, // type 2 reserved
  { id: 'host-efer', outcome: V8, edit: (m) => { or(m, F.VM_EXIT_CONTROLS, b(21)); m.set(F.HOST_IA32_EFER, 0x101n); } }, // LME, no LMA
  // --- SDM "Checks on Host Segment and Descriptor-Table Registers"
  { id: 'host-selector-rpl-ti', outcome: V8, edit: (m) => { m.set(F.HOST_DS_SELECTOR, 0x1bn); } },
  { id: 'host-cs-nonzero', outcome: V8, edit: (m) => { m.set(F.HOST_CS_SELECTOR, 0n); } },
  { id: 'host-tr-nonzero', outcome: V8, edit: (m) => { m.set(F.HOST_TR_SELECTOR, 0n); } },
  { id: 'host-ss-nonzero', outcome: V8, hostLma: false, edit: (m) => { host32(m); m.set(F.HOST_SS_SELECTOR, 0n); } },
  { id: 'host-bases-canonical', outcome: V8, edit: (m) => { m.set(F.HOST_GS_BASE, NONCANON); } },
  // --- SDM "Checks Related to Address-Space Size"
  { id: 'host-address-space-size', outcome: V8, edit: (m) => host32(m) }, // the host runs with IA32_EFER.LMA = 1
  {
    id: 'host-32-ia32e-guest', outcome: V8, hostLma: false, also: ['host-address-space-size'],
    edit: (m) => { host32(m); or(m, F.VM_ENTRY_CONTROLS, b(9)); },
  },
  { id: 'host-32-pcide', outcome: V8, hostLma: false, edit: (m) => { host32(m); or(m, F.HOST_CR4, b(17)); } },
  { id: 'host-32-rip', outcome: V8, hostLma: false, edit: (m) => { host32(m); m.set(F.HOST_RIP, 0x1_0000_0000n); } },
  { id: 'host-64-pae', outcome: V8, edit: (m) => clr(m, F.HOST_CR4, b(5)) },
  { id: 'host-64-rip-canonical', outcome: V8, edit: (m) => { m.set(F.HOST_RIP, NONCANON); } },
  // --- SDM "Checks on Guest Control Registers, Debug Registers, and MSRs"
  { id: 'guest-cr0-fixed', outcome: X33(), edit: (m) => clr(m, F.GUEST_CR0, b(5)) },
  {
    id: 'guest-cr0-pg-needs-pe', outcome: X33(), // PE is free only with unrestricted guest
    edit: (m) => { or(m, F.SECONDARY_VM_EXEC_CONTROL, b(7)); clr(m, F.GUEST_CR0, b(0)); },
  },
  { id: 'guest-cr4-fixed', outcome: X33(), edit: (m) => clr(m, F.GUEST_CR4, b(13)) },
  { id: 'guest-debugctl', outcome: X33(), edit: (m) => { or(m, F.VM_ENTRY_CONTROLS, b(2)); m.set(F.GUEST_IA32_DEBUGCTL, 0x4n); } },
  { id: 'guest-ia32e-pg-pae', outcome: X33(), edit: (m) => clr(m, F.GUEST_CR4, b(5)) },
  { id: 'guest-pcide-needs-ia32e', outcome: X33(), edit: (m) => { clr(m, F.VM_ENTRY_CONTROLS, b(9)); or(m, F.GUEST_CR4, b(17)); } },
  { id: 'guest-cr3-width', outcome: X33(), edit: (m) => { m.set(F.GUEST_CR3, ABOVE_46); } },
  { id: 'guest-dr7', outcome: X33(), edit: (m) => { or(m, F.VM_ENTRY_CONTROLS, b(2)); m.set(F.GUEST_DR7, 0x1_0000_0400n); } },
  { id: 'guest-sysenter-canonical', outcome: X33(), edit: (m) => { m.set(F.GUEST_SYSENTER_ESP, NONCANON); } },
  { id: 'guest-perf-global-ctrl', outcome: X33(), edit: (m) => { or(m, F.VM_ENTRY_CONTROLS, b(13)); m.set(F.GUEST_IA32_PERF_GLOBAL_CTRL, b(40)); } },
  { id: 'guest-pat', outcome: X33(), edit: (m) => { or(m, F.VM_ENTRY_CONTROLS, b(14)); m.set(F.GUEST_IA32_PAT, 0x0007_0406_0007_0403n); } },
  { id: 'guest-efer-reserved', outcome: X33(), edit: (m) => { or(m, F.VM_ENTRY_CONTROLS, b(15)); m.set(F.GUEST_IA32_EFER, 0xd02n); } },
  { id: 'guest-efer-lma', outcome: X33(), edit: (m) => { or(m, F.VM_ENTRY_CONTROLS, b(15)); m.set(F.GUEST_IA32_EFER, 0x800n); } },
  { id: 'guest-efer-lme', outcome: X33(), edit: (m) => { or(m, F.VM_ENTRY_CONTROLS, b(15)); m.set(F.GUEST_IA32_EFER, 0xc00n); } },
  // --- SDM "Checks on Guest Segment Registers"
  { id: 'guest-v8086-segments', outcome: X33(), also: ['guest-rflags-vm'], edit: (m) => or(m, F.GUEST_RFLAGS, b(17)) },
  { id: 'guest-tr-ldtr-selector-ti', outcome: X33(), edit: (m) => { m.set(F.GUEST_TR_SELECTOR, 0x44n); } },
  { id: 'guest-ss-cs-rpl', outcome: X33(), edit: (m) => { m.set(F.GUEST_CS_SELECTOR, 0x13n); } },
  { id: 'guest-segment-bases', outcome: X33(), edit: (m) => { m.set(F.GUEST_FS_BASE, NONCANON); } },
  { id: 'guest-cs-type', outcome: X33(), edit: (m) => { m.set(F.GUEST_CS_AR_BYTES, 0xa093n); } }, // type 3 without unrestricted guest
  { id: 'guest-data-segment-types', outcome: X33(), edit: (m) => { m.set(F.GUEST_DS_AR_BYTES, 0xc092n); } }, // not accessed
  { id: 'guest-segment-s', outcome: X33(), edit: (m) => { m.set(F.GUEST_ES_AR_BYTES, 0xc083n); } },
  { id: 'guest-cs-dpl', outcome: X33(), edit: (m) => { m.set(F.GUEST_CS_AR_BYTES, 0xa0fbn); } }, // type 11 DPL 3, SS.DPL 0
  {
    id: 'guest-ss-dpl', outcome: X33(), // SS.DPL 3 ≠ SS.RPL 0; CS conforming (type 15) so CS.DPL 0 ≤ 3 holds
    edit: (m) => { m.set(F.GUEST_SS_AR_BYTES, 0xc0f3n); m.set(F.GUEST_CS_AR_BYTES, 0xa09fn); },
  },
  { id: 'guest-data-segment-dpl', outcome: X33(), edit: (m) => { m.set(F.GUEST_DS_SELECTOR, 0x1bn); } }, // RPL 3 > DPL 0
  { id: 'guest-segment-present', outcome: X33(), edit: (m) => { m.set(F.GUEST_GS_AR_BYTES, 0xc013n); } },
  { id: 'guest-segment-ar-reserved', outcome: X33(), edit: (m) => { m.set(F.GUEST_FS_AR_BYTES, 0xc193n); } },
  { id: 'guest-cs-l-d', outcome: X33(), edit: (m) => { m.set(F.GUEST_CS_AR_BYTES, 0xe09bn); } },
  { id: 'guest-segment-granularity', outcome: X33(), edit: (m) => { m.set(F.GUEST_DS_LIMIT, 0xffff_0000n); } }, // G = 1, low 12 bits 0
  { id: 'guest-tr-type', outcome: X33(), edit: (m) => { m.set(F.GUEST_TR_AR_BYTES, 0x83n); } }, // 32-bit busy TSS in IA-32e mode
  { id: 'guest-tr-descriptor', outcome: X33(), edit: (m) => { m.set(F.GUEST_TR_AR_BYTES, 0x9bn); } }, // S = 1
  { id: 'guest-ldtr-descriptor', outcome: X33(), edit: (m) => { m.set(F.GUEST_LDTR_AR_BYTES, 0x83n); } }, // usable, type 3
  // --- SDM "Checks on Guest Descriptor-Table Registers"
  { id: 'guest-gdtr-idtr-bases', outcome: X33(), edit: (m) => { m.set(F.GUEST_GDTR_BASE, NONCANON); } },
  { id: 'guest-gdtr-idtr-limits', outcome: X33(), edit: (m) => { m.set(F.GUEST_IDTR_LIMIT, 0x10000n); } },
  // --- SDM "Checks on Guest RIP, RFLAGS, and SSP"
  { id: 'guest-rip', outcome: X33(), edit: (m) => { m.set(F.GUEST_RIP, 0x0001_0000_0000_0000n); } },
  { id: 'guest-rflags-reserved', outcome: X33(), edit: (m) => { m.set(F.GUEST_RFLAGS, 0n); } }, // bit 1 must be 1
  { id: 'guest-rflags-vm', outcome: X33(), also: ['guest-v8086-segments'], edit: (m) => { m.set(F.GUEST_RFLAGS, 0x2_0002n); } },
  { id: 'guest-rflags-if-injection', outcome: X33(), edit: (m) => { m.set(F.VM_ENTRY_INTR_INFO_FIELD, 0x8000_0020n); } },
  // --- SDM "Checks on Guest Non-Register State"
  { id: 'guest-activity-state', outcome: X33(), edit: (m) => { m.set(F.GUEST_ACTIVITY_STATE, 4n); } },
  {
    id: 'guest-activity-hlt-ss-dpl', outcome: X33(), // CPL 3 in HLT: SS 0x1b DPL 3, CS 0x13 conforming DPL 0
    edit: (m) => {
      m.set(F.GUEST_ACTIVITY_STATE, 1n);
      m.set(F.GUEST_SS_SELECTOR, 0x1bn); m.set(F.GUEST_SS_AR_BYTES, 0xc0f3n);
      m.set(F.GUEST_CS_SELECTOR, 0x13n); m.set(F.GUEST_CS_AR_BYTES, 0xa09fn);
    },
  },
  {
    id: 'guest-activity-blocking', outcome: X33(),
    edit: (m) => { m.set(F.GUEST_ACTIVITY_STATE, 1n); m.set(F.GUEST_INTERRUPTIBILITY_INFO, 1n); m.set(F.GUEST_RFLAGS, 0x202n); },
  },
  {
    id: 'guest-activity-injection', outcome: X33(), // external interrupt into shutdown
    edit: (m) => { m.set(F.GUEST_ACTIVITY_STATE, 2n); m.set(F.VM_ENTRY_INTR_INFO_FIELD, 0x8000_0020n); m.set(F.GUEST_RFLAGS, 0x202n); },
  },
  { id: 'guest-interruptibility-reserved', outcome: X33(), edit: (m) => { m.set(F.GUEST_INTERRUPTIBILITY_INFO, 0x20n); } },
  { id: 'guest-interruptibility-sti-movss', outcome: X33(), edit: (m) => { m.set(F.GUEST_INTERRUPTIBILITY_INFO, 3n); m.set(F.GUEST_RFLAGS, 0x202n); } },
  { id: 'guest-interruptibility-sti-if', outcome: X33(), edit: (m) => { m.set(F.GUEST_INTERRUPTIBILITY_INFO, 1n); } },
  {
    id: 'guest-interruptibility-external-injection', outcome: X33(),
    edit: (m) => { m.set(F.VM_ENTRY_INTR_INFO_FIELD, 0x8000_0020n); m.set(F.GUEST_RFLAGS, 0x202n); m.set(F.GUEST_INTERRUPTIBILITY_INFO, 2n); },
  },
  {
    id: 'guest-interruptibility-nmi-movss', outcome: X33(),
    edit: (m) => { m.set(F.VM_ENTRY_INTR_INFO_FIELD, 0x8000_0202n); m.set(F.GUEST_INTERRUPTIBILITY_INFO, 2n); },
  },
  {
    id: 'guest-interruptibility-nmi-sti', outcome: X33(3n),
    edit: (m) => { m.set(F.VM_ENTRY_INTR_INFO_FIELD, 0x8000_0202n); m.set(F.GUEST_INTERRUPTIBILITY_INFO, 1n); m.set(F.GUEST_RFLAGS, 0x202n); },
  },
  { id: 'guest-interruptibility-smi', outcome: X33(), edit: (m) => { m.set(F.GUEST_INTERRUPTIBILITY_INFO, 4n); } },
  {
    id: 'guest-interruptibility-virtual-nmi', outcome: X33(),
    edit: (m) => {
      or(m, F.PIN_BASED_VM_EXEC_CONTROL, b(3) | b(5));
      m.set(F.VM_ENTRY_INTR_INFO_FIELD, 0x8000_0202n);
      m.set(F.GUEST_INTERRUPTIBILITY_INFO, 8n);
    },
  },
  { id: 'guest-pending-dbg-reserved', outcome: X33(), edit: (m) => { m.set(F.GUEST_PENDING_DBG_EXCEPTIONS, 0x10n); } },
  {
    id: 'guest-pending-dbg-bs', outcome: X33(), // STI blocking with TF = 1, BTF = 0 but BS = 0
    edit: (m) => { m.set(F.GUEST_INTERRUPTIBILITY_INFO, 1n); m.set(F.GUEST_RFLAGS, 0x302n); },
  },
  { id: 'guest-pending-dbg-rtm', outcome: X33(), edit: (m) => { m.set(F.GUEST_PENDING_DBG_EXCEPTIONS, 0x10000n); } },
  { id: 'vmcs-link-pointer-address', outcome: X33(4n), edit: (m) => { m.set(F.VMCS_LINK_POINTER, 0x5008n); } },
  {
    id: 'vmcs-link-pointer-revision', outcome: X33(4n),
    edit: (m) => { m.set(F.VMCS_LINK_POINTER, 0x5000n); return Phys.write32(Phys.empty, 0x5000, 5); }, // skylake revision is 4
  },
  {
    id: 'vmcs-link-pointer-current', outcome: X33(4n),
    edit: (m) => { m.set(F.VMCS_LINK_POINTER, BigInt(CURRENT_VMCS)); return Phys.write32(Phys.empty, CURRENT_VMCS, 4); },
  },
  // --- SDM "Checks on Guest Page-Directory-Pointer-Table Entries": a PAE guest; with EPT the PDPTEs are VMCS fields
  {
    id: 'guest-pdptes', outcome: X33(2n),
    edit: (m) => { clr(m, F.VM_ENTRY_CONTROLS, b(9)); m.set(F.GUEST_PDPTR1, 0x3003n); }, // present with bit 1 (reserved)
  },
  // --- SDM "Loading MSRs"
  { id: 'entry-msr-load-fs-gs-base', outcome: X34(1n), edit: (m) => msrList(m, [[0xc0000100, 0, 0n]]) },
  { id: 'entry-msr-load-x2apic', outcome: X34(1n), edit: (m) => msrList(m, [[0x808, 0, 0n]]) },
  { id: 'entry-msr-load-smm-only', outcome: X34(1n), edit: (m) => msrList(m, [[0x9b, 0, 0n]]) },
  { id: 'entry-msr-load-model-specific', outcome: X34(1n), edit: (m) => msrList(m, [[0x79, 0, 0n]]) },
  { id: 'entry-msr-load-reserved', outcome: X34(1n), edit: (m) => msrList(m, [[0x277, 1, 0x0007_0406_0007_0406n]]) },
  { id: 'entry-msr-load-wrmsr-gp', outcome: X34(1n), edit: (m) => msrList(m, [[0xc0000080, 0, 0x2n]]) }, // EFER bit 1 reserved
];

const run = (c: Case) => {
  const m = base(c.caps ?? SKL);
  const mem = c.edit(m) ?? Phys.empty;
  return allEntryFailures(ctxOf(m, { mem, caps: c.caps ?? SKL, ...(c.hostLma === undefined ? {} : { hostLma: c.hostLma }) }));
};

describe('VM-entry checks, one breaking mutation each', () => {
  it.each(CASES.map((c) => {
    const check = ENTRY_CHECKS.find((k) => k.id === c.id);
    return [c.id, check?.sdm ?? '(no such check)', c] as const;
  }))('%s (SDM "%s")', (id, _sdm, c) => {
    const failures = run(c);
    expect(failures.map((f) => f.id).sort()).toEqual([id, ...(c.also ?? [])].sort());
    expect(failures.find((f) => f.id === id)?.outcome).toEqual(c.outcome);
  });

  it('every check in the table has its own breaking mutation above', () => {
    expect(ENTRY_CHECKS.map((k) => k.id).sort()).toEqual(CASES.map((c) => c.id).sort());
  });

  it('check ids are unique kebab-case and each names an SDM section', () => {
    const ids = ENTRY_CHECKS.map((k) => k.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const k of ENTRY_CHECKS) {
      expect(k.id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(k.sdm.length).toBeGreaterThan(0);
    }
    expect(ENTRY_CHECKS.length).toBeGreaterThanOrEqual(60);
  });
});

describe('VM-entry checks: combinations and reporting', () => {
  it('SDM "VM Entries": several broken fields at once are each listed by allEntryFailures, controls before host before guest', () => {
    const m = base();
    m.set(F.CR3_TARGET_COUNT, 9n);
    m.set(F.HOST_CS_SELECTOR, 0n);
    m.set(F.GUEST_RFLAGS, 0n);
    m.set(F.GUEST_IDTR_LIMIT, 0x1_0000n);
    expect(allEntryFailures(ctxOf(m)).map((f) => f.id)).toEqual(
      ['cr3-target-count', 'host-cs-nonzero', 'guest-gdtr-idtr-limits', 'guest-rflags-reserved']);
  });

  it('SDM "Checks on VMX Controls and Host-State Area": VMLAUNCH reports a control error (7) before a host error (8) before a guest failure (33)', () => {
    const m = base();
    m.set(F.HOST_CS_SELECTOR, 0n);
    m.set(F.GUEST_RFLAGS, 0n);
    m.set(F.VIRTUAL_PROCESSOR_ID, 0n);
    expect(firstEntryFailure(ctxOf(m))?.outcome).toEqual({ kind: 'VMfailValid', error: 7 });
    m.set(F.VIRTUAL_PROCESSOR_ID, 1n);
    expect(firstEntryFailure(ctxOf(m))?.outcome).toEqual({ kind: 'VMfailValid', error: 8 });
    m.set(F.HOST_CS_SELECTOR, 0x10n);
    expect(firstEntryFailure(ctxOf(m))).toMatchObject({ id: 'guest-rflags-reserved', outcome: { kind: 'exit', reason: 33, qualification: 0n } });
    m.set(F.GUEST_RFLAGS, 2n);
    expect(firstEntryFailure(ctxOf(m))).toBeUndefined();
  });

  it('SDM "Loading MSRs": a bad MSR index in entry 2 fails VM entry with exit 34, qualification 2', () => {
    const m = base();
    // entry 1: IA32_PAT with its power-on value (legal); entry 2: IA32_GS_BASE (never loadable); entry 3: x2APIC TPR
    const mem = msrList(m, [[0x277, 0, 0x0007_0406_0007_0406n], [0xc0000101, 0, 0n], [0x808, 0, 0n]]);
    expect(firstEntryFailure(ctxOf(m, { mem }))).toMatchObject({
      id: 'entry-msr-load-fs-gs-base', outcome: { kind: 'exit', reason: 34, qualification: 2n },
    });
    // allEntryFailures names each rule once, with the entry it first fails at
    expect(allEntryFailures(ctxOf(m, { mem })).map((f) => [f.id, f.outcome])).toEqual([
      ['entry-msr-load-fs-gs-base', { kind: 'exit', reason: 34, qualification: 2n }],
      ['entry-msr-load-x2apic', { kind: 'exit', reason: 34, qualification: 3n }],
    ]);
  });

  it('SDM "Loading MSRs": a legal list (IA32_PAT, IA32_SYSENTER_EIP canonical) loads without failure', () => {
    const m = base();
    const mem = msrList(m, [[0x277, 0, 0x0007_0406_0007_0406n], [0x176, 0, 0xffff_ffff_8100_0000n]]);
    expect(allEntryFailures(ctxOf(m, { mem }))).toEqual([]);
  });

  it('SDM "Extended-Page-Table Pointer": a 5-level EPTP is legal on icelake-server (EPT_VPID_CAP bit 7)', () => {
    const m = base(ICL);
    m.set(F.EPT_POINTER, 0x200000n | (4n << 3n) | 6n);
    expect(allEntryFailures(ctxOf(m, { caps: ICL }))).toEqual([]);
  });

  it('SDM "Checks on Guest Page-Directory-Pointer-Table Entries": without EPT the PDPTEs are read at CR3[31:5]', () => {
    const m = base();
    clr(m, F.SECONDARY_VM_EXEC_CONTROL, b(1));
    clr(m, F.VM_ENTRY_CONTROLS, b(9));
    m.set(F.GUEST_CR3, 0x4020n);
    // PDPTE2 at 0x4020 + 16: present with bit 5 (reserved in a PAE PDPTE)
    const mem = Phys.write64(Phys.empty, 0x4030, 0x6021n);
    expect(firstEntryFailure(ctxOf(m, { mem }))).toMatchObject({ id: 'guest-pdptes', outcome: { kind: 'exit', reason: 33, qualification: 2n } });
    expect(allEntryFailures(ctxOf(m, { mem: Phys.write64(Phys.empty, 0x4030, 0x6001n) }))).toEqual([]);
  });

  it('SDM "Checks on Guest Control Registers": CR0.PE = 0 and PG = 0 are allowed with unrestricted guest (non-IA-32e)', () => {
    const m = base();
    or(m, F.SECONDARY_VM_EXEC_CONTROL, b(7));
    clr(m, F.VM_ENTRY_CONTROLS, b(9));
    clr(m, F.GUEST_CR0, b(0) | b(31));
    m.set(F.GUEST_CS_AR_BYTES, 0x809bn); // 32-bit-style CS, L = 0
    expect(allEntryFailures(ctxOf(m)).map((f) => f.id)).toEqual([]);
    clr(m, F.SECONDARY_VM_EXEC_CONTROL, b(7));
    expect(allEntryFailures(ctxOf(m)).map((f) => f.id)).toContain('guest-cr0-fixed');
  });

  it('failure messages carry the rule and the offending value', () => {
    const m = base();
    m.set(F.CR3_TARGET_COUNT, 5n);
    const [f] = allEntryFailures(ctxOf(m));
    expect(f.message).toContain('5');
    expect(f.sdm).toBe('Checks on VMX Controls: VM-Execution Control Fields');
  });
});
