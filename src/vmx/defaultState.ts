/**
 * A VMCS that passes every VM-entry check: a 64-bit host, a 64-bit paged guest, minimal legal controls.
 *
 * Models: what SDM Vol. 3C "VM Entries" ("Checks on VMX Controls", "Checks on Host State Area", "Checking and
 * Loading Guest State") demands of the host-state and guest-state areas and of the control words, for the common
 * case a hypervisor sets up (Linux KVM's vmx_set_constant_host_state and init_vmcs; kvm-unit-tests init_vmcs_host /
 * init_vmcs_guest). Values that are free choices (selectors, bases) follow Linux conventions.
 * Leaves out: real-mode, protected-mode (non-paged) and PAE guests, 32-bit hosts.
 */

import { bitMask as bit } from '../arch/addr';
import { allowedSettings, Caps } from './caps';
import { F } from './fields';

export type FieldList = Array<[number, bigint]>;

const ALL_ONES = 0xffff_ffff_ffff_ffffn;

// CR0: PE (0), MP (1), ET (4), NE (5), WP (16), AM (18), PG (31)
const CR0_PE = bit(0), CR0_MP = bit(1), CR0_ET = bit(4), CR0_NE = bit(5), CR0_WP = bit(16), CR0_PG = bit(31);
// CR4: PAE (5), PGE (7), VMXE (13)
const CR4_PAE = bit(5), CR4_PGE = bit(7), CR4_VMXE = bit(13);
// IA32_EFER: SCE (0), LME (8), LMA (10), NXE (11)
const EFER_SCE = bit(0), EFER_LME = bit(8), EFER_LMA = bit(10), EFER_NXE = bit(11);
/** Power-on IA32_PAT: WB, WT, UC-, UC repeated (SDM "IA32_PAT MSR") */
const PAT_DEFAULT = 0x0007_0406_0007_0406n;

/** A control register value with the wanted bits plus those FIXED0 demands, minus those FIXED1 forbids. */
const fixCr = (wanted: bigint, fixed0: bigint, fixed1: bigint): bigint => (wanted | fixed0) & fixed1;

/**
 * A 64-bit host (SDM "Checks on Host Control Registers, MSRs, and SSP", "Checks on Host Segment and Descriptor-Table
 * Registers", "Checks Related to Address-Space Size"): CR0/CR4 within the fixed bits with PAE, CS 0x10,
 * SS/DS/ES/FS/GS 0x18, TR 0x40 (Linux GDT_ENTRY_TSS), canonical bases and RIP, EFER.LMA = LME = 1.
 */
export const validHostState = (caps: Caps): FieldList => [
  [F.HOST_CR0, fixCr(CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG, caps.cr0Fixed0, caps.cr0Fixed1)],
  [F.HOST_CR3, 0x0010_0000n],
  [F.HOST_CR4, fixCr(CR4_PAE | CR4_PGE | CR4_VMXE, caps.cr4Fixed0, caps.cr4Fixed1)],
  [F.HOST_ES_SELECTOR, 0x18n], [F.HOST_CS_SELECTOR, 0x10n], [F.HOST_SS_SELECTOR, 0x18n], [F.HOST_DS_SELECTOR, 0x18n],
  [F.HOST_FS_SELECTOR, 0x18n], [F.HOST_GS_SELECTOR, 0x18n], [F.HOST_TR_SELECTOR, 0x40n],
  [F.HOST_FS_BASE, 0n], [F.HOST_GS_BASE, 0xffff_8880_0000_0000n], [F.HOST_TR_BASE, 0xffff_fe00_0000_3000n],
  [F.HOST_GDTR_BASE, 0xffff_fe00_0000_1000n], [F.HOST_IDTR_BASE, 0xffff_fe00_0000_0000n],
  [F.HOST_IA32_SYSENTER_CS, 0n], [F.HOST_IA32_SYSENTER_ESP, 0n], [F.HOST_IA32_SYSENTER_EIP, 0n],
  [F.HOST_IA32_PAT, PAT_DEFAULT], [F.HOST_IA32_EFER, EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE],
  [F.HOST_IA32_PERF_GLOBAL_CTRL, 0n],
  [F.HOST_RSP, 0xffff_c900_0000_8000n], [F.HOST_RIP, 0xffff_ffff_8100_0000n],
];

export interface GuestOptions {
  /** guest CR3: the guest-physical address of the PML4 table */
  readonly cr3: bigint;
  readonly rip?: bigint;
  /** "unrestricted guest" will be set; the state is the same 64-bit paged guest (it is valid either way) */
  readonly unrestricted?: boolean;
}

// access rights (SDM "Format of Access Rights"): type 3:0, S 4, DPL 6:5, P 7, L 13, D/B 14, G 15, unusable 16
const AR_CODE64 = 0xb | 0x10 | 0x80 | 0x2000 | 0x8000; // execute/read accessed code, S, P, L, G = 0xA09B
const AR_DATA = 0x3 | 0x10 | 0x80 | 0x4000 | 0x8000; // read/write accessed data, S, P, D/B, G = 0xC093
const AR_TSS64_BUSY = 0xb | 0x80; // busy 64-bit TSS, P = 0x8B
const AR_UNUSABLE = 0x10000;

/**
 * An IA-32e paged guest at CPL 0 (SDM "Checking and Loading Guest State"): CR0 PE|NE|PG|ET|WP, CR4 PAE (plus the
 * FIXED0 bits, VMXE), EFER LME|LMA|NXE, a 64-bit CS (L = 1, type 0xB), flat data segments, a busy TSS, no LDT,
 * RFLAGS 0x2, VMCS link pointer all ones, active with no blocking.
 */
export const validGuestState64 = (caps: Caps, opts: GuestOptions): FieldList => {
  const seg = (k: number, sel: bigint, base: bigint, limit: bigint, ar: number): FieldList => [
    [F.GUEST_ES_SELECTOR + 2 * k, sel], [F.GUEST_ES_BASE + 2 * k, base], [F.GUEST_ES_LIMIT + 2 * k, limit],
    [F.GUEST_ES_AR_BYTES + 2 * k, BigInt(ar)],
  ];
  return [
    [F.GUEST_CR0, fixCr(CR0_PE | CR0_ET | CR0_NE | CR0_WP | CR0_PG, caps.cr0Fixed0, caps.cr0Fixed1)],
    [F.GUEST_CR3, opts.cr3],
    [F.GUEST_CR4, fixCr(CR4_PAE, caps.cr4Fixed0, caps.cr4Fixed1)],
    [F.GUEST_IA32_EFER, EFER_LME | EFER_LMA | EFER_NXE],
    [F.GUEST_IA32_PAT, PAT_DEFAULT], [F.GUEST_IA32_DEBUGCTL, 0n], [F.GUEST_DR7, 0x400n],
    ...seg(0, 0x18n, 0n, 0xffff_ffffn, AR_DATA), // ES
    ...seg(1, 0x10n, 0n, 0xffff_ffffn, AR_CODE64), // CS
    ...seg(2, 0x18n, 0n, 0xffff_ffffn, AR_DATA), // SS
    ...seg(3, 0x18n, 0n, 0xffff_ffffn, AR_DATA), // DS
    ...seg(4, 0x18n, 0n, 0xffff_ffffn, AR_DATA), // FS
    ...seg(5, 0x18n, 0n, 0xffff_ffffn, AR_DATA), // GS
    ...seg(6, 0n, 0n, 0n, AR_UNUSABLE), // LDTR
    ...seg(7, 0x40n, 0x3000n, 0x67n, AR_TSS64_BUSY), // TR
    [F.GUEST_GDTR_BASE, 0x1000n], [F.GUEST_GDTR_LIMIT, 0x7fn],
    [F.GUEST_IDTR_BASE, 0x2000n], [F.GUEST_IDTR_LIMIT, 0xfffn],
    [F.GUEST_RSP, 0x8000n], [F.GUEST_RIP, opts.rip ?? 0x40_0000n], [F.GUEST_RFLAGS, 0x2n],
    [F.GUEST_SYSENTER_CS, 0n], [F.GUEST_SYSENTER_ESP, 0n], [F.GUEST_SYSENTER_EIP, 0n],
    [F.GUEST_PENDING_DBG_EXCEPTIONS, 0n], [F.GUEST_INTERRUPTIBILITY_INFO, 0n], [F.GUEST_ACTIVITY_STATE, 0n],
    [F.VMCS_LINK_POINTER, ALL_ONES],
  ];
};

export interface ControlOptions {
  /** enable EPT with this EPTP */
  readonly eptp?: bigint;
  /** enable VPID with this (non-zero) VPID */
  readonly vpid?: number;
  /** set "unrestricted guest" (needs eptp) */
  readonly unrestricted?: boolean;
}

/**
 * Minimal legal control words (SDM "Checks on VMX Controls"): each word is its allowed-0 (default1) bits; the exit
 * controls add "host address-space size", the entry controls "IA-32e mode guest"; EPT, VPID and unrestricted guest
 * on request, through "activate secondary controls".
 */
export const validControls = (caps: Caps, opts: ControlOptions = {}): FieldList => {
  const secondary = (opts.eptp !== undefined ? bit(1) : 0n) | (opts.vpid !== undefined ? bit(5) : 0n) |
    (opts.unrestricted === true ? bit(7) : 0n) | allowedSettings(caps, 'secondary').allowed0;
  const primary = allowedSettings(caps, 'primary').allowed0 | (secondary !== 0n ? bit(31) : 0n);
  const out: FieldList = [
    [F.PIN_BASED_VM_EXEC_CONTROL, allowedSettings(caps, 'pin').allowed0],
    [F.CPU_BASED_VM_EXEC_CONTROL, primary],
    [F.VM_EXIT_CONTROLS, allowedSettings(caps, 'exit').allowed0 | bit(9)],
    [F.VM_ENTRY_CONTROLS, allowedSettings(caps, 'entry').allowed0 | bit(9)],
    [F.CR3_TARGET_COUNT, 0n],
  ];
  if (secondary !== 0n) out.push([F.SECONDARY_VM_EXEC_CONTROL, secondary]);
  if (opts.eptp !== undefined) out.push([F.EPT_POINTER, opts.eptp]);
  if (opts.vpid !== undefined) out.push([F.VIRTUAL_PROCESSOR_ID, BigInt(opts.vpid)]);
  return out;
};

/** Host + 64-bit guest + minimal controls, as one VMCS field map. */
export const validVmcs = (caps: Caps, guest: GuestOptions, controls: ControlOptions = {}): ReadonlyMap<number, bigint> =>
  new Map([...validControls(caps, controls), ...validHostState(caps), ...validGuestState64(caps, guest)]);
