/**
 * VMX instructions executed in VMX root operation (or outside VMX operation): VMXON, VMXOFF, VMCLEAR, VMPTRLD,
 * VMPTRST, VMREAD, VMWRITE, INVEPT, INVVPID, VMCALL, and the VMLAUNCH/VMRESUME checks that come before the VM-entry
 * checks of controls, host state and guest state.
 *
 * Models: SDM Vol. 3C "VMX Instruction Reference" (each instruction's Operation section), "Conventions"
 * (VMsucceed / VMfailInvalid / VMfailValid / VMfail), "VM Instruction Error Numbers", and "Operations that
 * Invalidate Cached Mappings" for what INVEPT/INVVPID invalidate (returned as data for the TLB model).
 * Leaves out: SMM and dual-monitor treatment (errors 16-25), CPL/CR0.PE/RFLAGS.VM/compatibility-mode #UD/#GP checks
 * (root software is CPL 0 in 64-bit mode), CR0/CR4 fixed-bit checks of VMXON, memory operands (addresses and
 * descriptors are given as values), and VMX non-root operation (there these instructions cause VM exits; the
 * caller must route them to the VM-exit path: calling these with `vmx: 'non-root'` throws).
 */

import * as Phys from '../arch/phys';
import { Gva, gvaFromBig, isCanonical } from '../arch/addr';
import { Caps, eptVpidCapBit, revisionId, secondaryAllowed, vmwriteAnyField } from './caps';
import {
  Cpu, cpuWithMode, currentFields, currentVmcsState, emptyFields, INVALID_VMCS_POINTER, vmcsRead, vmcsWrite, withCurrentFields,
  withVmcs,
} from './cpu';
import { resolve, readComponent, writeComponent } from './encoding';
import { F } from './fields';

export type Outcome =
  | { readonly result: 'VMsucceed'; readonly value?: bigint }
  | { readonly result: 'VMfailInvalid' }
  | { readonly result: 'VMfailValid'; readonly error: number }
  | { readonly result: 'fault'; readonly vector: number; readonly errorCode?: number };

/** Cached mappings an INVEPT/INVVPID invalidates (SDM "Operations that Invalidate Cached Mappings"). */
export type Invalidation =
  /** guest-physical and combined mappings tagged with this EP4TA (EPTP bits N-1:12, as an address) */
  | { readonly kind: 'ept-single'; readonly ep4ta: number }
  /** guest-physical and combined mappings of every EP4TA */
  | { readonly kind: 'ept-all' }
  /** linear and combined mappings of this VPID for this linear address (all PCIDs, all EP4TAs) */
  | { readonly kind: 'vpid-address'; readonly vpid: number; readonly gva: Gva }
  /** linear and combined mappings of this VPID */
  | { readonly kind: 'vpid-single'; readonly vpid: number }
  /** linear and combined mappings of every VPID except 0000H */
  | { readonly kind: 'vpid-all' }
  /** as vpid-single, but global translations may be kept */
  | { readonly kind: 'vpid-single-retaining-globals'; readonly vpid: number };

export interface Step {
  readonly cpu: Cpu;
  readonly outcome: Outcome;
  /** INVEPT/INVVPID on success */
  readonly invalidate?: Invalidation;
}

/** VM-instruction error numbers (SDM "VM Instruction Error Numbers"; Linux enum vm_instruction_error_number). */
export const VMXERR = {
  VMCALL_IN_VMX_ROOT_OPERATION: 1,
  VMCLEAR_INVALID_ADDRESS: 2,
  VMCLEAR_VMXON_POINTER: 3,
  VMLAUNCH_NONCLEAR_VMCS: 4,
  VMRESUME_NONLAUNCHED_VMCS: 5,
  VMRESUME_AFTER_VMXOFF: 6,
  ENTRY_INVALID_CONTROL_FIELD: 7,
  ENTRY_INVALID_HOST_STATE_FIELD: 8,
  VMPTRLD_INVALID_ADDRESS: 9,
  VMPTRLD_VMXON_POINTER: 10,
  VMPTRLD_INCORRECT_VMCS_REVISION_ID: 11,
  UNSUPPORTED_VMCS_COMPONENT: 12,
  VMWRITE_READ_ONLY_VMCS_COMPONENT: 13,
  VMXON_IN_VMX_ROOT_OPERATION: 15,
  ENTRY_EVENTS_BLOCKED_BY_MOV_SS: 26,
  INVALID_OPERAND_TO_INVEPT_INVVPID: 28,
} as const;

const UD = 6;
const GP = 13;

const succeed = (cpu: Cpu, value?: bigint): Step => ({ cpu, outcome: value === undefined ? { result: 'VMsucceed' } : { result: 'VMsucceed', value } });
const failInvalid = (cpu: Cpu): Step => ({ cpu, outcome: { result: 'VMfailInvalid' } });
const fault = (cpu: Cpu, vector: number, errorCode?: number): Step =>
  ({ cpu, outcome: errorCode === undefined ? { result: 'fault', vector } : { result: 'fault', vector, errorCode } });

/**
 * SDM "Conventions": VMfail(n) is VMfailValid(n), which stores n in the VM-instruction error field of the current
 * VMCS, when there is a current VMCS; otherwise VMfailInvalid.
 */
export const vmFail = (cpu: Cpu, error: number): Step => {
  if (cpu.currentVmcs === null) return failInvalid(cpu);
  const fields = vmcsWrite(currentFields(cpu), F.VM_INSTRUCTION_ERROR, BigInt(error));
  return { cpu: withCurrentFields(cpu, fields), outcome: { result: 'VMfailValid', error } };
};

const requireNotNonRoot = (cpu: Cpu, what: string): void => {
  if (cpu.vmx === 'non-root') throw new Error(`${what} in VMX non-root operation causes a VM exit; not a root-mode step`);
};

/** A physical-address operand as a number, or undefined when it is not a valid 4-KiB-aligned address below 2^N. */
const regionAddress = (caps: Caps, addr: bigint | number): number | undefined => {
  const a = typeof addr === 'bigint' ? addr : Number.isInteger(addr) ? BigInt(addr) : -1n;
  // SDM VMXON/VMCLEAR/VMPTRLD: "IF addr is not 4KB-aligned OR addr sets any bits beyond the physical-address width"
  if (a < 0n || (a & 0xfffn) !== 0n || a >> BigInt(caps.maxPhyAddr) !== 0n) return undefined;
  return Number(a);
};

/** The 32-bit word at the start of a VMXON/VMCS region: bits 30:0 revision identifier, bit 31 shadow-VMCS indicator. */
const regionHeader = (mem: Phys.PhysMem, addr: number): { revision: number; shadow: boolean } => {
  const w = Phys.read32(mem, addr);
  return { revision: w & 0x7fffffff, shadow: (w >>> 31) === 1 };
};

/** SDM "VMXON": enter VMX root operation with the VMXON region at `addr`. */
export const vmxon = (cpu: Cpu, addr: bigint | number): Step => {
  requireNotNonRoot(cpu, 'VMXON');
  if (cpu.vmx === 'root') return vmFail(cpu, VMXERR.VMXON_IN_VMX_ROOT_OPERATION);
  // IA32_FEATURE_CONTROL: VMXON #GP(0) unless locked (bit 0) and VMX outside SMX enabled (bit 2)
  if ((cpu.caps.featureControl & 0x5n) !== 0x5n) return fault(cpu, GP, 0);
  const a = regionAddress(cpu.caps, addr);
  if (a === undefined) return failInvalid(cpu);
  const h = regionHeader(cpu.mem, a);
  // SDM "VMXON": revision identifier must match IA32_VMX_BASIC[30:0] and bit 31 must be 0
  if (h.shadow || h.revision !== revisionId(cpu.caps)) return failInvalid(cpu);
  return succeed(cpuWithMode(cpu, 'root', a, null, false));
};

/**
 * SDM "VMXOFF": leave VMX operation. A VMCS that is still "launched" keeps that state but its cached data is not
 * written back, so a later VMRESUME of it fails with error 6 ("VMRESUME after VMXOFF"); it is marked corrupted.
 */
export const vmxoff = (cpu: Cpu): Step => {
  requireNotNonRoot(cpu, 'VMXOFF');
  if (cpu.vmx === 'off') return fault(cpu, UD);
  const vmcs = new Map(cpu.vmcs);
  for (const [addr, st] of cpu.vmcs) if (st.launch === 'launched') vmcs.set(addr, { ...st, corrupted: true });
  return succeed(cpuWithMode(cpu, 'off', null, null, false, vmcs));
};

/** SDM "VMCLEAR": make the VMCS at `addr` clear (and not current if it was). */
export const vmclear = (cpu: Cpu, addr: bigint | number): Step => {
  requireNotNonRoot(cpu, 'VMCLEAR');
  if (cpu.vmx === 'off') return fault(cpu, UD);
  const a = regionAddress(cpu.caps, addr);
  if (a === undefined) return vmFail(cpu, VMXERR.VMCLEAR_INVALID_ADDRESS);
  if (a === cpu.vmxonPtr) return vmFail(cpu, VMXERR.VMCLEAR_VMXON_POINTER);
  const old = cpu.vmcs.get(a);
  const next = withVmcs(cpu, a, { fields: old?.fields ?? emptyFields, launch: 'clear' });
  return succeed(a === cpu.currentVmcs ? cpuWithMode(next, next.vmx, next.vmxonPtr, null, next.blockingByMovSs) : next);
};

/** SDM "VMPTRLD": make the VMCS at `addr` current (its launch state is kept). */
export const vmptrld = (cpu: Cpu, addr: bigint | number): Step => {
  requireNotNonRoot(cpu, 'VMPTRLD');
  if (cpu.vmx === 'off') return fault(cpu, UD);
  const a = regionAddress(cpu.caps, addr);
  if (a === undefined) return vmFail(cpu, VMXERR.VMPTRLD_INVALID_ADDRESS);
  if (a === cpu.vmxonPtr) return vmFail(cpu, VMXERR.VMPTRLD_VMXON_POINTER);
  const h = regionHeader(cpu.mem, a);
  // bit 31 (shadow-VMCS indicator) may be 1 only if the "VMCS shadowing" control (secondary bit 14) is supported
  if (h.revision !== revisionId(cpu.caps) || (h.shadow && !secondaryAllowed(cpu.caps, 14))) {
    return vmFail(cpu, VMXERR.VMPTRLD_INCORRECT_VMCS_REVISION_ID);
  }
  const withState = cpu.vmcs.has(a) ? cpu : withVmcs(cpu, a, { fields: emptyFields, launch: 'clear' });
  return succeed(cpuWithMode(withState, withState.vmx, withState.vmxonPtr, a, withState.blockingByMovSs));
};

/** SDM "VMPTRST": the current-VMCS pointer, FFFFFFFF_FFFFFFFFH when there is none. */
export const vmptrst = (cpu: Cpu): Step => {
  requireNotNonRoot(cpu, 'VMPTRST');
  if (cpu.vmx === 'off') return fault(cpu, UD);
  return succeed(cpu, cpu.currentVmcs === null ? INVALID_VMCS_POINTER : BigInt(cpu.currentVmcs));
};

/** SDM "VMREAD": the value of the component with this encoding, zero-extended. */
export const vmread = (cpu: Cpu, encoding: number): Step => {
  requireNotNonRoot(cpu, 'VMREAD');
  if (cpu.vmx === 'off') return fault(cpu, UD);
  if (cpu.currentVmcs === null) return failInvalid(cpu);
  const c = resolve(encoding);
  if (c === undefined) return vmFail(cpu, VMXERR.UNSUPPORTED_VMCS_COMPONENT);
  return succeed(cpu, readComponent(c, vmcsRead(currentFields(cpu), c.field.encoding)));
};

/** SDM "VMWRITE": write `value` to the component with this encoding. */
export const vmwrite = (cpu: Cpu, encoding: number, value: bigint): Step => {
  requireNotNonRoot(cpu, 'VMWRITE');
  if (cpu.vmx === 'off') return fault(cpu, UD);
  if (cpu.currentVmcs === null) return failInvalid(cpu);
  const c = resolve(encoding);
  if (c === undefined) return vmFail(cpu, VMXERR.UNSUPPORTED_VMCS_COMPONENT);
  // VM-exit information fields are read-only unless IA32_VMX_MISC[29] = 1
  if (c.field.area === 'exit-info' && !vmwriteAnyField(cpu.caps)) {
    return vmFail(cpu, VMXERR.VMWRITE_READ_ONLY_VMCS_COMPONENT);
  }
  const fields = currentFields(cpu);
  const v = writeComponent(c, vmcsRead(fields, c.field.encoding), BigInt.asUintN(64, value));
  return succeed(withCurrentFields(cpu, vmcsWrite(fields, c.field.encoding, v)));
};

/**
 * SDM "VMLAUNCH/VMRESUME" Operation, the checks before "Checks on VMX Controls and Host-State Area": no current VMCS
 * => VMfailInvalid; blocking by MOV SS => VMfailValid(26); VMLAUNCH of a VMCS that is not clear => 4; VMRESUME of a
 * VMCS that was launched before a VMXOFF => 6; VMRESUME of one that is not launched => 5.
 * Returns the failure, or undefined when VM entry goes on to the control/host/guest checks.
 */
export const vmentryPreconditions = (cpu: Cpu, instr: 'vmlaunch' | 'vmresume'): Step | undefined => {
  requireNotNonRoot(cpu, instr === 'vmlaunch' ? 'VMLAUNCH' : 'VMRESUME');
  if (cpu.vmx === 'off') return fault(cpu, UD);
  const st = currentVmcsState(cpu);
  if (st === undefined) return failInvalid(cpu);
  if (cpu.blockingByMovSs) return vmFail(cpu, VMXERR.ENTRY_EVENTS_BLOCKED_BY_MOV_SS);
  const launch = instr === 'vmlaunch';
  if (!launch && st.corrupted === true) return vmFail(cpu, VMXERR.VMRESUME_AFTER_VMXOFF);
  // one compare for both instructions: a compare made only for VMLAUNCH (once per run) had no type feedback when VM
  // entry was optimized, and deoptimized it at the launch of every later run in a process
  return st.launch === (launch ? 'clear' : 'launched') ? undefined
    : vmFail(cpu, launch ? VMXERR.VMLAUNCH_NONCLEAR_VMCS : VMXERR.VMRESUME_NONLAUNCHED_VMCS);
};

/** After a successful VMLAUNCH: launch state of the current VMCS <- launched (SDM "VMLAUNCH/VMRESUME"). */
export const markLaunched = (cpu: Cpu): Cpu => {
  const st = currentVmcsState(cpu);
  if (cpu.currentVmcs === null || st === undefined) throw new Error('markLaunched: no current VMCS');
  // the literals withCurrentFields builds (src/vmx/cpu.ts), not a spread: a spread's object has another shape, and the
  // first exit of each run then deoptimized the exit path's optimized code in a warm process
  return withVmcs(cpu, cpu.currentVmcs, st.corrupted === undefined
    ? { fields: st.fields, launch: 'launched' } : { fields: st.fields, launch: 'launched', corrupted: st.corrupted });
};

/** SDM "VMCALL" in VMX root operation (no dual-monitor treatment): VMfail(1). */
export const vmcall = (cpu: Cpu): Step => {
  requireNotNonRoot(cpu, 'VMCALL');
  if (cpu.vmx === 'off') return fault(cpu, UD);
  return vmFail(cpu, VMXERR.VMCALL_IN_VMX_ROOT_OPERATION);
};

/**
 * The EPTP checks of SDM "Checks on VMX Controls" (VM-Execution Control Fields), as INVEPT single-context applies
 * them: memory type UC (cap bit 8) or WB (cap bit 14); page-walk length 4 (cap bit 6) or 5 (cap bit 7); bit 6 only with
 * EPT A/D support (cap bit 21); bit 7 only with supervisor shadow-stack control (cap bit 23); bits 11:8 and
 * 63:MAXPHYADDR zero. Returns the reason it is invalid, or undefined. (The entry-check module has its own copy
 * with per-check messages; this one only decides validity.)
 */
export const eptpProblem = (caps: Caps, eptp: bigint): string | undefined => {
  const mt = Number(eptp & 7n);
  if (!((mt === 0 && eptVpidCapBit(caps, 8)) || (mt === 6 && eptVpidCapBit(caps, 14)))) return `memory type ${mt} not supported`;
  const walk = Number((eptp >> 3n) & 7n) + 1;
  if (!((walk === 4 && eptVpidCapBit(caps, 6)) || (walk === 5 && eptVpidCapBit(caps, 7)))) return `page-walk length ${walk} not supported`;
  if (((eptp >> 6n) & 1n) === 1n && !eptVpidCapBit(caps, 21)) return 'accessed/dirty flags not supported';
  if (((eptp >> 7n) & 1n) === 1n && !eptVpidCapBit(caps, 23)) return 'supervisor shadow-stack control not supported';
  if (((eptp >> 8n) & 0xfn) !== 0n) return 'reserved bits 11:8 set';
  if (BigInt.asUintN(64, eptp) >> BigInt(caps.maxPhyAddr) !== 0n) return 'bits beyond MAXPHYADDR set';
  return undefined;
};

/** EP4TA: EPTP bits N-1:12 as an address (the tag of guest-physical and combined mappings). */
/** EP4TA as the translation caches tag it: EPTP bits N-1:12 as a page number (src/mmu/invalidate.ts). */
export const ep4ta = (caps: Caps, eptp: bigint): number =>
  Number((eptp & ((1n << BigInt(caps.maxPhyAddr)) - 1n)) >> 12n);

/** SDM "INVEPT": type 1 single-context (descriptor bits 63:0 = EPTP), type 2 all-context. */
export const invept = (cpu: Cpu, type: number, eptp: bigint): Step => {
  requireNotNonRoot(cpu, 'INVEPT');
  // INVEPT itself is #UD when not supported (EPT_VPID_CAP bit 20) and outside VMX operation
  if (cpu.vmx === 'off' || !eptVpidCapBit(cpu.caps, 20)) return fault(cpu, UD);
  // supported types: bit 25 single-context, bit 26 all-context
  if (!((type === 1 && eptVpidCapBit(cpu.caps, 25)) || (type === 2 && eptVpidCapBit(cpu.caps, 26)))) {
    return vmFail(cpu, VMXERR.INVALID_OPERAND_TO_INVEPT_INVVPID);
  }
  if (type === 2) return { ...succeed(cpu), invalidate: { kind: 'ept-all' } };
  if (eptpProblem(cpu.caps, eptp) !== undefined) return vmFail(cpu, VMXERR.INVALID_OPERAND_TO_INVEPT_INVVPID);
  return { ...succeed(cpu), invalidate: { kind: 'ept-single', ep4ta: ep4ta(cpu.caps, eptp) } };
};

/** Is 5-level paging (CR4.LA57) usable in VMX operation? Decides the linear-address width for INVVPID type 0. */
const la57Supported = (caps: Caps): boolean => ((caps.cr4Fixed1 >> 12n) & 1n) === 1n;

/**
 * SDM "INVVPID": the descriptor is bits 63:0 (VPID in 15:0, 63:16 reserved) and bits 127:64 (linear address).
 * Types: 0 individual-address, 1 single-context, 2 all-context, 3 single-context-retaining-globals.
 */
export const invvpid = (cpu: Cpu, type: number, descLow: bigint, linearAddress: bigint): Step => {
  requireNotNonRoot(cpu, 'INVVPID');
  // INVVPID itself is #UD when not supported (EPT_VPID_CAP bit 32) and outside VMX operation
  if (cpu.vmx === 'off' || !eptVpidCapBit(cpu.caps, 32)) return fault(cpu, UD);
  // supported types: EPT_VPID_CAP bits 40..43
  if (!Number.isInteger(type) || type < 0 || type > 3 || !eptVpidCapBit(cpu.caps, 40 + type)) {
    return vmFail(cpu, VMXERR.INVALID_OPERAND_TO_INVEPT_INVVPID);
  }
  const d = BigInt.asUintN(64, descLow);
  if (d >> 16n !== 0n) return vmFail(cpu, VMXERR.INVALID_OPERAND_TO_INVEPT_INVVPID);
  const vpid = Number(d);
  switch (type) {
    case 0:
      if (vpid === 0 || !isCanonical(linearAddress, la57Supported(cpu.caps))) {
        return vmFail(cpu, VMXERR.INVALID_OPERAND_TO_INVEPT_INVVPID);
      }
      return { ...succeed(cpu), invalidate: { kind: 'vpid-address', vpid, gva: gvaFromBig(linearAddress) } };
    case 1:
      if (vpid === 0) return vmFail(cpu, VMXERR.INVALID_OPERAND_TO_INVEPT_INVVPID);
      return { ...succeed(cpu), invalidate: { kind: 'vpid-single', vpid } };
    case 2:
      return { ...succeed(cpu), invalidate: { kind: 'vpid-all' } };
    default:
      if (vpid === 0) return vmFail(cpu, VMXERR.INVALID_OPERAND_TO_INVEPT_INVVPID);
      return { ...succeed(cpu), invalidate: { kind: 'vpid-single-retaining-globals', vpid } };
  }
};

/** Sets or clears "blocking by MOV SS" for the next instruction (a scenario's way to reach error 26). */
export const withMovSsBlocking = (cpu: Cpu, blocking: boolean): Cpu => cpuWithMode(cpu, cpu.vmx, cpu.vmxonPtr, cpu.currentVmcs, blocking);
