/**
 * Which guest instructions cause VM exits in VMX non-root operation, and with what qualification.
 *
 * Models: SDM Vol. 3C "Instructions That Cause VM Exits Unconditionally", "Instructions That Cause VM Exits
 * Conditionally", "Relative Priority of Faults and VM Exits", "I/O-Bitmap Addresses", "MSR-Bitmap Address",
 * "Guest/Host Masks and Read Shadows for CR0 and CR4", "CR3-Target Controls", and the "Changes to Instruction
 * Behavior" rules that turn an exit into #UD (RDTSCP, RDPID, INVPCID when not enabled). Each decision is pure: it
 * takes the decoded controls (plain data, see `fromVmcs` for the VMCS adapter), the guest's CPL/CR4 and the
 * instruction, and says exit / #UD / #GP / run.
 * Instruction lengths (VM-exit instruction length) are those of the usual encodings, register or [rax] operands,
 * no prefixes beyond the ones the instruction needs: see INSTRUCTION_LENGTH.
 * Leaves out: PAUSE-loop exiting (needs PLE_Gap/PLE_Window timing), the TSS I/O-permission bitmap and IOPL check
 * (I/O is assumed permitted), DR7.GD #DB, descriptor-table exiting, XSAVES/ENCLS, MTF, the TPR shadow (trap-like
 * exit 43) and the x2APIC MSR virtualization, VMREAD/VMWRITE field-encoding range checks beyond the bitmap bit.
 */

import * as Phys from '../arch/phys';
import type { PhysMem } from '../arch/phys';
import { F } from './fields';
import { R } from './exitReasons';
import * as Q from './qualifications';
import * as Cr from './crShadow';

/** Primary processor-based controls (SDM "Primary Processor-Based VM-Execution Controls"), Linux CPU_BASED_* bits. */
export const CPU_BASED = {
  USE_TSC_OFFSETTING: 3, HLT_EXITING: 7, INVLPG_EXITING: 9, MWAIT_EXITING: 10, RDPMC_EXITING: 11,
  RDTSC_EXITING: 12, CR3_LOAD_EXITING: 15, CR3_STORE_EXITING: 16, CR8_LOAD_EXITING: 19, CR8_STORE_EXITING: 20,
  MOV_DR_EXITING: 23, UNCOND_IO_EXITING: 24, USE_IO_BITMAPS: 25, USE_MSR_BITMAPS: 28, MONITOR_EXITING: 29,
  PAUSE_EXITING: 30, ACTIVATE_SECONDARY_CONTROLS: 31,
} as const;

/** Secondary processor-based controls (SDM "Secondary Processor-Based VM-Execution Controls"), Linux SECONDARY_EXEC_*. */
export const SECONDARY_EXEC = {
  ENABLE_EPT: 1, ENABLE_RDTSCP: 3, WBINVD_EXITING: 6, UNRESTRICTED_GUEST: 7, PAUSE_LOOP_EXITING: 10,
  RDRAND_EXITING: 11, ENABLE_INVPCID: 12, SHADOW_VMCS: 14, RDSEED_EXITING: 16, TSC_SCALING: 25,
} as const;

export const CR4_TSD = 1n << 2n;
export const CR4_DE = 1n << 3n;
export const CR4_PCE = 1n << 8n;
export const CR4_SMXE = 1n << 14n;
export const CR4_OSXSAVE = 1n << 18n;

/** The VM-execution controls that decide exits, decoded into plain data. */
export interface ExecControls {
  readonly pin: number;
  readonly primary: number;
  readonly secondary: number;
  readonly exceptionBitmap: number;
  readonly pfecMask: number;
  readonly pfecMatch: number;
  readonly cr0Mask: bigint;
  readonly cr0Shadow: bigint;
  readonly cr4Mask: bigint;
  readonly cr4Shadow: bigint;
  readonly cr3TargetCount: number;
  readonly cr3Targets: readonly bigint[];
  readonly tscOffset: bigint;
  readonly tscMultiplier: bigint;
  readonly ioBitmapA: number;
  readonly ioBitmapB: number;
  readonly msrBitmap: number;
  readonly vmreadBitmap: number;
  readonly vmwriteBitmap: number;
  /** the memory the bitmaps live in */
  readonly mem: PhysMem;
}

/** Controls with everything 0 (no conditional exits) and empty memory; tests and callers override what they need. */
export const NO_CONTROLS: ExecControls = {
  pin: 0, primary: 0, secondary: 0, exceptionBitmap: 0, pfecMask: 0, pfecMatch: 0,
  cr0Mask: 0n, cr0Shadow: 0n, cr4Mask: 0n, cr4Shadow: 0n, cr3TargetCount: 0, cr3Targets: [],
  tscOffset: 0n, tscMultiplier: 0n, ioBitmapA: 0, ioBitmapB: 0, msrBitmap: 0, vmreadBitmap: 0, vmwriteBitmap: 0,
  mem: Phys.empty,
};

/** Adapter: the controls of a VMCS (fields keyed by full encoding; a missing field reads 0). */
/** The fields `fromVmcs` reads (VM entry reuses its controls while none of them changed). */
export const CONTROL_FIELDS: readonly number[] = [
  F.PIN_BASED_VM_EXEC_CONTROL, F.CPU_BASED_VM_EXEC_CONTROL, F.SECONDARY_VM_EXEC_CONTROL, F.EXCEPTION_BITMAP,
  F.PAGE_FAULT_ERROR_CODE_MASK, F.PAGE_FAULT_ERROR_CODE_MATCH, F.CR0_GUEST_HOST_MASK, F.CR0_READ_SHADOW,
  F.CR4_GUEST_HOST_MASK, F.CR4_READ_SHADOW, F.CR3_TARGET_COUNT, F.CR3_TARGET_VALUE0, F.CR3_TARGET_VALUE1,
  F.CR3_TARGET_VALUE2, F.CR3_TARGET_VALUE3, F.TSC_OFFSET, F.TSC_MULTIPLIER, F.IO_BITMAP_A, F.IO_BITMAP_B, F.MSR_BITMAP,
  F.VMREAD_BITMAP, F.VMWRITE_BITMAP,
];

export const fromVmcs = (fields: ReadonlyMap<number, bigint>, mem: PhysMem): ExecControls => {
  const v = (enc: number): bigint => fields.get(enc) ?? 0n;
  const n = (enc: number): number => Number(v(enc) & 0xffffffffn);
  return {
    pin: n(F.PIN_BASED_VM_EXEC_CONTROL),
    primary: n(F.CPU_BASED_VM_EXEC_CONTROL),
    secondary: n(F.SECONDARY_VM_EXEC_CONTROL),
    exceptionBitmap: n(F.EXCEPTION_BITMAP),
    pfecMask: n(F.PAGE_FAULT_ERROR_CODE_MASK),
    pfecMatch: n(F.PAGE_FAULT_ERROR_CODE_MATCH),
    cr0Mask: v(F.CR0_GUEST_HOST_MASK),
    cr0Shadow: v(F.CR0_READ_SHADOW),
    cr4Mask: v(F.CR4_GUEST_HOST_MASK),
    cr4Shadow: v(F.CR4_READ_SHADOW),
    cr3TargetCount: n(F.CR3_TARGET_COUNT),
    cr3Targets: [v(F.CR3_TARGET_VALUE0), v(F.CR3_TARGET_VALUE1), v(F.CR3_TARGET_VALUE2), v(F.CR3_TARGET_VALUE3)],
    tscOffset: v(F.TSC_OFFSET),
    tscMultiplier: v(F.TSC_MULTIPLIER),
    ioBitmapA: Number(v(F.IO_BITMAP_A)),
    ioBitmapB: Number(v(F.IO_BITMAP_B)),
    msrBitmap: Number(v(F.MSR_BITMAP)),
    vmreadBitmap: Number(v(F.VMREAD_BITMAP)),
    vmwriteBitmap: Number(v(F.VMWRITE_BITMAP)),
    mem,
  };
};

/**
 * `c` with its bitmaps read from `mem`: a literal with `fromVmcs`'s fields in its order (one object shape; an object
 * spread of these twenty fields took about a microsecond, on every VM entry after a memory write).
 */
export const controlsWithMem = (c: ExecControls, mem: PhysMem): ExecControls => ({
  pin: c.pin, primary: c.primary, secondary: c.secondary, exceptionBitmap: c.exceptionBitmap, pfecMask: c.pfecMask,
  pfecMatch: c.pfecMatch, cr0Mask: c.cr0Mask, cr0Shadow: c.cr0Shadow, cr4Mask: c.cr4Mask, cr4Shadow: c.cr4Shadow,
  cr3TargetCount: c.cr3TargetCount, cr3Targets: c.cr3Targets, tscOffset: c.tscOffset, tscMultiplier: c.tscMultiplier,
  ioBitmapA: c.ioBitmapA, ioBitmapB: c.ioBitmapB, msrBitmap: c.msrBitmap, vmreadBitmap: c.vmreadBitmap,
  vmwriteBitmap: c.vmwriteBitmap, mem,
});

const bit = (x: number, n: number): boolean => ((x >>> n) & 1) === 1;
export const primaryOn = (c: ExecControls, b: number): boolean => bit(c.primary, b);
/** SDM "Secondary Processor-Based VM-Execution Controls": if "activate secondary controls" is 0 the processor
 * behaves as if every secondary control were 0. */
export const secondaryOn = (c: ExecControls, b: number): boolean =>
  bit(c.primary, CPU_BASED.ACTIVATE_SECONDARY_CONTROLS) && bit(c.secondary, b);

/** What the guest is doing when it executes the instruction. */
export interface GuestContext {
  readonly cpl: number;
  readonly cr4: bigint;
  /** IA-32e 64-bit mode (INVLPG qualification keeps bits 63:32); default true */
  readonly longMode?: boolean;
}

export type VmxInstructionName =
  | 'vmclear' | 'vmlaunch' | 'vmptrld' | 'vmptrst' | 'vmread' | 'vmresume' | 'vmwrite' | 'vmxoff' | 'vmxon'
  | 'invept' | 'invvpid';

/** A guest instruction (interface §2 ops, plus the rest of the instructions VMX intercepts). */
export type Instruction =
  | { readonly op: 'cpuid' | 'rdtsc' | 'rdtscp' | 'rdpid' | 'rdpmc' | 'clts' | 'hlt' | 'pause' | 'mwait' | 'monitor'
      | 'wbinvd' | 'invd' | 'xsetbv' | 'rdrand' | 'rdseed' | 'vmcall' | 'getsec' | 'invpcid' }
  | { readonly op: 'rdmsr'; readonly msr: number }
  | { readonly op: 'wrmsr'; readonly msr: number; readonly value?: bigint }
  | {
      readonly op: 'in' | 'out'; readonly port: number; readonly size: 1 | 2 | 4;
      readonly string?: boolean; readonly rep?: boolean; readonly immediate?: boolean;
      /** INS/OUTS: linear address of the memory operand */
      readonly linear?: bigint;
    }
  | { readonly op: 'mov_to_cr'; readonly cr: 0 | 3 | 4 | 8; readonly value: bigint; readonly register?: number }
  | { readonly op: 'mov_from_cr'; readonly cr: 0 | 3 | 4 | 8; readonly register?: number }
  | { readonly op: 'lmsw'; readonly value: bigint; readonly memory?: bigint }
  | { readonly op: 'invlpg'; readonly gva: bigint }
  | { readonly op: 'mov_dr'; readonly dr: number; readonly direction: 'to' | 'from'; readonly register?: number }
  | { readonly op: 'vmx'; readonly name: VmxInstructionName; readonly field?: bigint };

export type Decision =
  | {
      readonly kind: 'exit'; readonly reason: number; readonly qualification: bigint;
      readonly instructionLength?: number; readonly guestLinear?: bigint;
    }
  | { readonly kind: 'ud' }
  | { readonly kind: 'gp' }
  | { readonly kind: 'run' };

const RUN: Decision = { kind: 'run' };
const UD: Decision = { kind: 'ud' };
const GP: Decision = { kind: 'gp' };

/**
 * VM-exit instruction length of each intercepted instruction, from its usual encoding (register or [rax] operand):
 * CPUID 0F A2 (2), RDTSC 0F 31 (2), RDTSCP 0F 01 F9 (3), RDPMC 0F 33 (2), RDMSR 0F 32 (2), WRMSR 0F 30 (2),
 * CLTS 0F 06 (2), LMSW 0F 01 /6 (3), INVLPG 0F 01 /7 [rax] (3), HLT F4 (1), PAUSE F3 90 (2), MWAIT 0F 01 C9 (3),
 * MONITOR 0F 01 C8 (3), WBINVD 0F 09 (2), INVD 0F 08 (2), XSETBV 0F 01 D1 (3), RDRAND/RDSEED 0F C7 /6 /7 (3),
 * VMCALL 0F 01 C1 (3), GETSEC 0F 37 (2), INVPCID 66 0F 38 82 /r (5), MOV DR 0F 21/23 /r (3, 4 with REX for R8-R15),
 * MOV CR 0F 20/22 /r (3; 4 with a REX prefix for CR8 or R8-R15), VMLAUNCH/VMRESUME/VMXOFF 0F 01 C2/C3/C4 (3),
 * VMPTRLD/VMPTRST 0F C7 /6 /7 (3), VMCLEAR 66 0F C7 /6 (4), VMXON F3 0F C7 /6 (4), VMREAD/VMWRITE 0F 78/79 (3),
 * INVEPT/INVVPID 66 0F 38 80/81 (5). I/O: see ioLength.
 */
export const INSTRUCTION_LENGTH = {
  cpuid: 2, rdtsc: 2, rdtscp: 3, rdpmc: 2, rdmsr: 2, wrmsr: 2, clts: 2, lmsw: 3, invlpg: 3, hlt: 1, pause: 2,
  mwait: 3, monitor: 3, wbinvd: 2, invd: 2, xsetbv: 3, rdrand: 3, rdseed: 3, vmcall: 3, getsec: 2, invpcid: 5,
  vmlaunch: 3, vmresume: 3, vmxoff: 3, vmptrld: 3, vmptrst: 3, vmclear: 4, vmxon: 4, vmread: 3, vmwrite: 3,
  invept: 5, invvpid: 5,
} as const;

/** IN AL,DX EC / IN EAX,DX ED (1), IN AX,DX 66 ED (2), IN AL,imm8 E4 ib / IN EAX,imm8 E5 ib (2), IN AX,imm8 (3);
 * OUT (EE/EF/E6/E7) likewise; INSB/INSD 6C/6D and OUTSB/OUTSD 6E/6F (1), INSW/OUTSW with 66 (2); REP adds F3 (1). */
export const ioLength = (size: 1 | 2 | 4, string: boolean, rep: boolean, immediate: boolean): number =>
  1 + (size === 2 ? 1 : 0) + (!string && immediate ? 1 : 0) + (string && rep ? 1 : 0);

/** The decisions of exits with qualification 0 and no linear address, by reason * 16 + instruction length: immutable,
 * so made once (CPUID, RDMSR, WRMSR, HLT exit on every execution) */
const PLAIN_EXITS: Decision[] = [];
const exit = (reason: number, instructionLength: number, qualification = 0n, guestLinear?: bigint): Decision => {
  if (guestLinear !== undefined) return { kind: 'exit', reason, qualification, instructionLength, guestLinear };
  if (qualification !== 0n || instructionLength < 0 || instructionLength > 15) return { kind: 'exit', reason, qualification, instructionLength };
  const k = reason * 16 + instructionLength;
  return PLAIN_EXITS[k] ??= { kind: 'exit', reason, qualification, instructionLength };
};

const VMX_REASON: Readonly<Record<VmxInstructionName, number>> = {
  vmclear: R.VMCLEAR, vmlaunch: R.VMLAUNCH, vmptrld: R.VMPTRLD, vmptrst: R.VMPTRST, vmread: R.VMREAD,
  vmresume: R.VMRESUME, vmwrite: R.VMWRITE, vmxoff: R.VMOFF, vmxon: R.VMON, invept: R.INVEPT, invvpid: R.INVVPID,
};

/** SDM "I/O-Bitmap Addresses" / "Instructions That Cause VM Exits Conditionally" (IN, INS, OUT, OUTS). */
export const ioExits = (c: ExecControls, port: number, size: number): boolean => {
  if (!primaryOn(c, CPU_BASED.USE_IO_BITMAPS)) return primaryOn(c, CPU_BASED.UNCOND_IO_EXITING);
  // an access that wraps past port FFFFH exits whatever the bitmaps say
  if (port + size > 0x10000) return true;
  for (let p = port; p < port + size; p++) {
    const base = p < 0x8000 ? c.ioBitmapA : c.ioBitmapB;
    const off = p & 0x7fff;
    if (((Phys.read8(c.mem, base + (off >>> 3)) >>> (off & 7)) & 1) === 1) return true;
  }
  return false;
};

/** SDM "MSR-Bitmap Address": read-low 0x000, read-high 0x400, write-low 0x800, write-high 0xC00. */
export const msrExits = (c: ExecControls, msr: number, write: boolean): boolean => {
  if (!primaryOn(c, CPU_BASED.USE_MSR_BITMAPS)) return true;
  const m = msr >>> 0;
  let base: number;
  if (m <= 0x1fff) base = write ? 0x800 : 0x000;
  else if (m >= 0xc0000000 && m <= 0xc0001fff) base = write ? 0xc00 : 0x400;
  else return true; // outside both ranges: always exits
  const low = m & 0x1fff;
  return ((Phys.read8(c.mem, c.msrBitmap + base + (low >>> 3)) >>> (low & 7)) & 1) === 1;
};

/** SDM "CR3-Target Controls": MOV to CR3 does not exit if the value equals one of the first n target values. */
export const cr3LoadExits = (c: ExecControls, value: bigint): boolean => {
  if (!primaryOn(c, CPU_BASED.CR3_LOAD_EXITING)) return false;
  const n = Math.min(c.cr3TargetCount, c.cr3Targets.length);
  for (let i = 0; i < n; i++) if (c.cr3Targets[i] === value) return false;
  return true;
};

/** The decision for one guest instruction in VMX non-root operation. */
export const decide = (c: ExecControls, g: GuestContext, i: Instruction): Decision => {
  const cpl0 = g.cpl === 0;
  const cr4 = (b: bigint): boolean => (g.cr4 & b) !== 0n;
  const L = INSTRUCTION_LENGTH;
  switch (i.op) {
    // SDM "Instructions That Cause VM Exits Unconditionally"
    case 'cpuid': return exit(R.CPUID, L.cpuid);
    case 'invd': return cpl0 ? exit(R.INVD, L.invd) : GP;
    case 'xsetbv':
      // #UD (CR4.OSXSAVE = 0) and #GP (CPL > 0) have priority over the exit
      if (!cr4(CR4_OSXSAVE)) return UD;
      return cpl0 ? exit(R.XSETBV, L.xsetbv) : GP;
    case 'getsec': return cr4(CR4_SMXE) ? exit(R.GETSEC, L.getsec) : UD;
    // VMCALL exits in VMX non-root at every CPL
    case 'vmcall': return exit(R.VMCALL, L.vmcall);
    case 'vmx': {
      if ((i.name === 'vmread' || i.name === 'vmwrite') && secondaryOn(c, SECONDARY_EXEC.SHADOW_VMCS)) {
        // SDM "Instructions That Cause VM Exits Conditionally" (VMREAD, VMWRITE) with VMCS shadowing
        const enc = i.field ?? 0n;
        if (enc >> 15n !== 0n) return exit(VMX_REASON[i.name], L[i.name]);
        const base = i.name === 'vmread' ? c.vmreadBitmap : c.vmwriteBitmap;
        const e = Number(enc & 0x7fffn);
        const hit = ((Phys.read8(c.mem, base + (e >>> 3)) >>> (e & 7)) & 1) === 1;
        return hit ? exit(VMX_REASON[i.name], L[i.name]) : RUN;
      }
      return exit(VMX_REASON[i.name], L[i.name]);
    }
    // SDM "Changes to Instruction Behavior": RDTSC/RDTSCP with CR4.TSD = 1 at CPL > 0 #GP before any exit
    case 'rdtsc':
      if (cr4(CR4_TSD) && !cpl0) return GP;
      return primaryOn(c, CPU_BASED.RDTSC_EXITING) ? exit(R.RDTSC, L.rdtsc) : RUN;
    case 'rdtscp':
      // "enable RDTSCP" = 0 ⇒ #UD, ahead of every other check
      if (!secondaryOn(c, SECONDARY_EXEC.ENABLE_RDTSCP)) return UD;
      if (cr4(CR4_TSD) && !cpl0) return GP;
      return primaryOn(c, CPU_BASED.RDTSC_EXITING) ? exit(R.RDTSCP, L.rdtscp) : RUN;
    case 'rdpid':
      // RDPID never exits; it #UDs when "enable RDTSCP" is 0
      return secondaryOn(c, SECONDARY_EXEC.ENABLE_RDTSCP) ? RUN : UD;
    case 'rdpmc':
      if (!cpl0 && !cr4(CR4_PCE)) return GP;
      return primaryOn(c, CPU_BASED.RDPMC_EXITING) ? exit(R.RDPMC, L.rdpmc) : RUN;
    // RDMSR/WRMSR at CPL > 0 #GP before the bitmap is consulted; #GP for a non-existent MSR loses to the exit
    case 'rdmsr':
      if (!cpl0) return GP;
      return msrExits(c, i.msr, false) ? exit(R.MSR_READ, L.rdmsr) : RUN;
    case 'wrmsr':
      if (!cpl0) return GP;
      return msrExits(c, i.msr, true) ? exit(R.MSR_WRITE, L.wrmsr) : RUN;
    case 'in':
    case 'out': {
      const string = i.string === true;
      const rep = string && i.rep === true;
      const immediate = !string && i.immediate === true;
      if (!ioExits(c, i.port, i.size)) return RUN;
      const q = Q.encodeIo({ size: i.size, direction: i.op, string, rep, immediate, port: i.port });
      return exit(R.IO_INSTRUCTION, ioLength(i.size, string, rep, immediate), q, string ? i.linear : undefined);
    }
    case 'mov_to_cr': {
      if (!cpl0) return GP;
      const reg = i.register ?? 0;
      const len = i.cr === 8 || reg >= 8 ? 4 : 3;
      const q = Q.encodeCrAccess({ cr: i.cr, accessType: 'mov-to-cr', register: reg });
      let exits: boolean;
      switch (i.cr) {
        case 0: exits = Cr.movToCrExits(i.value, c.cr0Mask, c.cr0Shadow); break;
        case 4: exits = Cr.movToCrExits(i.value, c.cr4Mask, c.cr4Shadow); break;
        case 3: exits = cr3LoadExits(c, i.value); break;
        case 8: exits = primaryOn(c, CPU_BASED.CR8_LOAD_EXITING); break;
        default: return absurd(i.cr);
      }
      return exits ? exit(R.CR_ACCESS, len, q) : RUN;
    }
    case 'mov_from_cr': {
      if (!cpl0) return GP;
      const reg = i.register ?? 0;
      const len = i.cr === 8 || reg >= 8 ? 4 : 3;
      const q = Q.encodeCrAccess({ cr: i.cr, accessType: 'mov-from-cr', register: reg });
      // MOV from CR0/CR4 never exits (it reads the shadow); CR3/CR8 follow the store-exiting controls
      const exits = i.cr === 3 ? primaryOn(c, CPU_BASED.CR3_STORE_EXITING)
        : i.cr === 8 ? primaryOn(c, CPU_BASED.CR8_STORE_EXITING) : false;
      return exits ? exit(R.CR_ACCESS, len, q) : RUN;
    }
    case 'clts':
      if (!cpl0) return GP;
      return Cr.cltsExits(c.cr0Mask, c.cr0Shadow)
        ? exit(R.CR_ACCESS, L.clts, Q.encodeCrAccess({ cr: 0, accessType: 'clts' }))
        : RUN;
    case 'lmsw': {
      if (!cpl0) return GP;
      if (!Cr.lmswExits(i.value & 0xffffn, c.cr0Mask, c.cr0Shadow)) return RUN;
      const memory = i.memory !== undefined;
      const q = Q.encodeCrAccess({ cr: 0, accessType: 'lmsw', lmswSource: Number(i.value & 0xffffn), lmswMemory: memory });
      return exit(R.CR_ACCESS, L.lmsw, q, i.memory);
    }
    case 'invlpg':
      if (!cpl0) return GP;
      return primaryOn(c, CPU_BASED.INVLPG_EXITING)
        ? exit(R.INVLPG, L.invlpg, Q.encodeInvlpg(i.gva, g.longMode !== false))
        : RUN;
    case 'invpcid':
      if (!secondaryOn(c, SECONDARY_EXEC.ENABLE_INVPCID)) return UD;
      if (!cpl0) return GP;
      return primaryOn(c, CPU_BASED.INVLPG_EXITING) ? exit(R.INVPCID, L.invpcid) : RUN;
    case 'hlt':
      if (!cpl0) return GP;
      return primaryOn(c, CPU_BASED.HLT_EXITING) ? exit(R.HLT, L.hlt) : RUN;
    case 'pause':
      // PAUSE-loop exiting is not modelled
      return primaryOn(c, CPU_BASED.PAUSE_EXITING) ? exit(R.PAUSE_INSTRUCTION, L.pause) : RUN;
    case 'mwait':
      if (!cpl0) return UD;
      return primaryOn(c, CPU_BASED.MWAIT_EXITING) ? exit(R.MWAIT_INSTRUCTION, L.mwait) : RUN;
    case 'monitor':
      if (!cpl0) return UD;
      return primaryOn(c, CPU_BASED.MONITOR_EXITING) ? exit(R.MONITOR_INSTRUCTION, L.monitor) : RUN;
    case 'wbinvd':
      if (!cpl0) return GP;
      return secondaryOn(c, SECONDARY_EXEC.WBINVD_EXITING) ? exit(R.WBINVD, L.wbinvd) : RUN;
    case 'rdrand':
      return secondaryOn(c, SECONDARY_EXEC.RDRAND_EXITING) ? exit(R.RDRAND, L.rdrand) : RUN;
    case 'rdseed':
      return secondaryOn(c, SECONDARY_EXEC.RDSEED_EXITING) ? exit(R.RDSEED, L.rdseed) : RUN;
    case 'mov_dr': {
      // #UD for DR4/DR5 with CR4.DE = 1 and #GP at CPL > 0 come before the exit
      if ((i.dr === 4 || i.dr === 5) && cr4(CR4_DE)) return UD;
      if (!cpl0) return GP;
      if (!primaryOn(c, CPU_BASED.MOV_DR_EXITING)) return RUN;
      const reg = i.register ?? 0;
      const q = Q.encodeMovDr({ dr: i.dr, direction: i.direction, register: reg });
      return exit(R.DR_ACCESS, reg >= 8 ? 4 : 3, q);
    }
    default:
      return absurd(i);
  }
};

const absurd = (x: never): never => {
  throw new Error(`unexpected instruction ${JSON.stringify(x)}`);
};
