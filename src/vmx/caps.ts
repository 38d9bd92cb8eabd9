/**
 * VMX capability MSRs (IA32_VMX_*) and CPU presets.
 *
 * Models: SDM Vol. 3D Appendix A "VMX Capability Reporting Facility" (A.1 Basic VMX Information, A.3-A.5 the
 * allowed-0/allowed-1 control MSRs and the TRUE variants, A.6 Miscellaneous Data, A.7/A.8 fixed CR0/CR4 bits,
 * A.9 VMCS Enumeration, A.10 VPID and EPT Capabilities, A.11 VM Functions) and IA32_FEATURE_CONTROL.
 * Leaves out: IA32_VMX_EXIT_CTLS2 (no secondary exit controls are modelled) and SMM/MSEG details.
 *
 * Presets. Base values: a real MSR dump of a Skylake-core part (VMCS revision 4) printed by VirtualBox's HM
 * ("MSR_IA32_VMX_BASIC = 0xda040000000004", Core i7 CPUID 906EA; VirtualBox VBox.log, HM section). That dump is of a
 * client part, so the server-only features that QEMU's "Skylake-Server" CPU model and KVM expose on Xeon Scalable
 * are added on top, each marked "server:" below (APIC virtualization, posted interrupts, VMCS shadowing, TSC
 * scaling). Ice Lake server = Skylake server plus 5-level EPT (EPT_VPID_CAP bit 7) and CR4.LA57/UMIP allowed.
 */

import { bitMask as bit } from '../arch/addr';

export interface Caps {
  readonly name: string;
  /** CPUID 80000008H EAX[7:0] */
  readonly maxPhyAddr: number;
  /** IA32_FEATURE_CONTROL (0x3A) */
  readonly featureControl: bigint;
  /** IA32_VMX_BASIC (0x480) */
  readonly basic: bigint;
  readonly pinbased: bigint;
  readonly procbased: bigint;
  readonly exit: bigint;
  readonly entry: bigint;
  readonly misc: bigint;
  readonly cr0Fixed0: bigint;
  readonly cr0Fixed1: bigint;
  readonly cr4Fixed0: bigint;
  readonly cr4Fixed1: bigint;
  readonly vmcsEnum: bigint;
  /** IA32_VMX_PROCBASED_CTLS2 (0x48B) */
  readonly procbased2: bigint;
  readonly eptVpidCap: bigint;
  readonly truePinbased: bigint;
  readonly trueProcbased: bigint;
  readonly trueExit: bigint;
  readonly trueEntry: bigint;
  /** IA32_VMX_VMFUNC (0x491) */
  readonly vmfunc: bigint;
  /** IA32_VMX_PROCBASED_CTLS3 (0x492): 64-bit allowed-1 mask of the tertiary controls */
  readonly procbased3: bigint;
}

export const skylakeServer: Caps = {
  name: 'skylake-server',
  // Xeon Scalable (Skylake-SP) reports 46 physical-address bits
  maxPhyAddr: 46,
  // lock (bit 0) + VMXON outside SMX (bit 2), as firmware leaves it on a VT-enabled host
  featureControl: 0x5n,
  // dump: revision 4, region size 0x400, WB (bits 53:50 = 6), INS/OUTS info (54), TRUE MSRs (55), dual-monitor (49)
  basic: 0x00da0400_00000004n,
  // dump 0x7f_00000016; server: posted interrupts (bit 7) allowed-1
  pinbased: 0xff_00000016n,
  // dump
  procbased: 0xfff9fffe_0401e172n,
  // dump
  exit: 0x01ffffff_00036dffn,
  // dump
  entry: 0x0003ffff_000011ffn,
  // dump 0x7004c1e7 with the preemption-timer rate (bits 4:0) 5 as on Xeon parts: EFER.LMA store (5), HLT/shutdown/
  // wait-for-SIPI (8:6), PT in VMX (14), SMBASE read (15), 4 CR3 targets (24:16), SMI blocking (28),
  // VMWRITE to every field incl. exit information (29), injection with length 0 (30)
  misc: 0x7004c1e5n,
  // dump: PE, NE, PG fixed to 1
  cr0Fixed0: 0x80000021n,
  cr0Fixed1: 0xffffffffn,
  // dump: VMXE fixed to 1
  cr4Fixed0: 0x2000n,
  cr4Fixed1: 0x3727ffn,
  // dump 0x2e (highest index 23); server: TSC multiplier (index 25) exists, so 0x32
  vmcsEnum: 0x32n,
  // dump 0x5fbcff_00000000; server: APIC-register virtualization (8), virtual-interrupt delivery (9),
  // VMCS shadowing (14), TSC scaling (25)
  procbased2: 0x025fffff_00000000n,
  // dump 0xf0106734141: execute-only (0), 4-level (6), UC (8), WB (14), 2M (16), 1G (17), INVEPT (20), A/D (21),
  // advanced EPT-violation info (22), INVEPT single/all (25, 26), INVVPID (32), INVVPID types 0-3 (43:40)
  eptVpidCap: 0xf01_06734141n,
  // dump TRUE MSRs; server: posted interrupts as above
  truePinbased: 0xff_00000016n,
  trueProcbased: 0xfff9fffe_04006172n,
  trueExit: 0x01ffffff_00036dfbn,
  trueEntry: 0x0003ffff_000011fbn,
  // dump: EPTP switching
  vmfunc: 0x1n,
  // no tertiary controls before Alder Lake / Sapphire Rapids (PROCBASED_CTLS allowed-1 bit 49 is 0)
  procbased3: 0n,
};

export const icelakeServer: Caps = {
  ...skylakeServer,
  name: 'icelake-server',
  // EPT_VPID_CAP bit 7: page-walk length 5 (Ice Lake introduced 5-level paging and 5-level EPT)
  eptVpidCap: skylakeServer.eptVpidCap | bit(7),
  // CR4.UMIP (11) and CR4.LA57 (12) may be 1 in VMX operation
  cr4Fixed1: skylakeServer.cr4Fixed1 | bit(11) | bit(12),
};

export const presets: readonly Caps[] = [skylakeServer, icelakeServer];

export const presetByName = (name: string): Caps | undefined => presets.find((c) => c.name === name);

export type ControlKind = 'pin' | 'primary' | 'secondary' | 'tertiary' | 'exit' | 'entry';

export interface AllowedSettings {
  /** bits that must be 1 (allowed-0 setting is 1) */
  readonly allowed0: bigint;
  /** bits that may be 1 */
  readonly allowed1: bigint;
}

/** IA32_VMX_BASIC[55]: the TRUE control MSRs exist (SDM A.1 "Basic VMX Information"). */
export const hasTrueCtls = (caps: Caps): boolean => ((caps.basic >> 55n) & 1n) === 1n;

const split = (msr: bigint): AllowedSettings => ({ allowed0: msr & 0xffff_ffffn, allowed1: (msr >> 32n) & 0xffff_ffffn });

/**
 * The allowed settings of a control word (SDM A.3-A.5): the TRUE MSR for pin/primary/exit/entry when
 * IA32_VMX_BASIC[55] = 1; secondary controls exist only when primary allowed-1 bit 31 is 1 (A.3.3); tertiary
 * controls only when primary allowed-1 bit 17 is 1, with no allowed-0 bits (A.3.4).
 */
export const allowedSettings = (caps: Caps, kind: ControlKind): AllowedSettings => {
  const t = hasTrueCtls(caps);
  switch (kind) {
    case 'pin':
      return split(t ? caps.truePinbased : caps.pinbased);
    case 'primary':
      return split(t ? caps.trueProcbased : caps.procbased);
    case 'exit':
      return split(t ? caps.trueExit : caps.exit);
    case 'entry':
      return split(t ? caps.trueEntry : caps.entry);
    case 'secondary':
      return ((caps.procbased >> 63n) & 1n) === 1n ? split(caps.procbased2) : { allowed0: 0n, allowed1: 0n };
    case 'tertiary':
      return ((caps.procbased >> 49n) & 1n) === 1n ? { allowed0: 0n, allowed1: caps.procbased3 } : { allowed0: 0n, allowed1: 0n };
    default: {
      const never: never = kind;
      throw new Error(`unknown control kind ${String(never)}`);
    }
  }
};

export interface ControlViolation {
  /** bits that are 0 but must be 1 */
  readonly mustBeOne: bigint;
  /** bits that are 1 but must be 0 */
  readonly mustBeZero: bigint;
}

/**
 * SDM "Checks on VMX Controls": a control value is legal iff every allowed-0 bit is 1 and no bit outside allowed-1
 * is 1. Returns undefined when legal, else the offending bits.
 */
export const controlViolation = (caps: Caps, kind: ControlKind, value: bigint): ControlViolation | undefined => {
  const { allowed0, allowed1 } = allowedSettings(caps, kind);
  const width = kind === 'tertiary' ? (1n << 64n) - 1n : 0xffff_ffffn;
  const v = value & width;
  const mustBeOne = allowed0 & ~v;
  const mustBeZero = v & ~allowed1 & width;
  return mustBeOne === 0n && mustBeZero === 0n ? undefined : { mustBeOne, mustBeZero };
};

export const controlsValid = (caps: Caps, kind: ControlKind, value: bigint): boolean =>
  controlViolation(caps, kind, value) === undefined;

/** IA32_VMX_BASIC[30:0]: the VMCS revision identifier. */
export const revisionId = (caps: Caps): number => Number(caps.basic & 0x7fff_ffffn);

/** IA32_VMX_MISC[29]: VMWRITE may write any supported field, VM-exit information fields included. */
export const vmwriteAnyField = (caps: Caps): boolean => ((caps.misc >> 29n) & 1n) === 1n;

/** IA32_VMX_EPT_VPID_CAP bit `n`. */
export const eptVpidCapBit = (caps: Caps, n: number): boolean => ((caps.eptVpidCap >> BigInt(n)) & 1n) === 1n;

/** Secondary control bit `n` may be 1 (IA32_VMX_PROCBASED_CTLS2 allowed-1). */
export const secondaryAllowed = (caps: Caps, n: number): boolean =>
  ((allowedSettings(caps, 'secondary').allowed1 >> BigInt(n)) & 1n) === 1n;
