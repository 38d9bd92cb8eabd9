/**
 * The extended-page-table pointer (EPTP, VMCS field 0x201A): decode and validity.
 *
 * Models: SDM Vol. 3C "Extended-Page-Table Pointer (EPTP)" and the EPTP rules of "Checks on VMX Controls"
 * (memory type UC/WB as allowed by IA32_VMX_EPT_VPID_CAP, walk length 4 or 5 as supported, A/D only when supported,
 * bits 11:7 reserved unless supervisor shadow-stack control is supported, bits 63:N reserved). INVEPT uses the
 * same rules. Takes the capability bits as plain parameters (this layer does not import src/vmx).
 * Leaves out: nothing of the EPTP format; the shadow-stack bit (7) is accepted only when EPT_VPID_CAP[23] says so.
 */

import { defineLayout, Layout } from '../arch/layout';
import { Hpa, hpa } from '../arch/addr';

/** SDM table "Format of Extended-Page-Table Pointer" */
export const EPTP_LAYOUT: Layout = defineLayout('EPTP', 'SDM Vol. 3C table "Format of Extended-Page-Table Pointer"', 64, [
  { name: 'MT', lo: 0, hi: 2, doc: 'memory type for EPT paging-structure accesses (0 UC, 6 WB)' },
  { name: 'WALK_LENGTH', lo: 3, hi: 5, doc: 'EPT page-walk length minus 1' },
  { name: 'AD', lo: 6, doc: 'enable accessed and dirty flags for EPT' },
  { name: 'SSS', lo: 7, doc: 'enable supervisor shadow-stack control' },
  { name: 'ADDR', lo: 12, hi: 51, doc: 'physical address of the EPT PML4 (or PML5) table' },
]);

export interface Eptp {
  readonly memType: number;
  readonly levels: number;
  readonly ad: boolean;
  readonly supervisorShadowStack: boolean;
  /** EPTP bits N-1:12 (for the architectural maximum N = 52) */
  readonly root: Hpa;
}

export interface EptCapsLike {
  /** IA32_VMX_EPT_VPID_CAP */
  readonly eptVpidCap: bigint;
  readonly maxPhyAddr: number;
}

/** IA32_VMX_EPT_VPID_CAP bits (SDM "VPID and EPT Capabilities"). */
export const EPT_CAP = {
  EXECUTE_ONLY: 0,
  WALK_4: 6,
  WALK_5: 7,
  UC: 8,
  WB: 14,
  PAGE_2M: 16,
  PAGE_1G: 17,
  INVEPT: 20,
  AD: 21,
  ADVANCED_EXIT_INFO: 22,
  SSS: 23,
} as const;

export const hasEptCap = (cap: bigint, bit: number): boolean => ((cap >> BigInt(bit)) & 1n) === 1n;

export const decodeEptp = (eptp: bigint): Eptp => ({
  memType: Number(eptp & 7n),
  levels: Number((eptp >> 3n) & 7n) + 1,
  ad: ((eptp >> 6n) & 1n) === 1n,
  supervisorShadowStack: ((eptp >> 7n) & 1n) === 1n,
  root: hpa(Number(eptp & 0x000f_ffff_ffff_f000n)),
});

export type EptpProblem =
  | { readonly kind: 'memory-type'; readonly found: number }
  | { readonly kind: 'walk-length'; readonly found: number }
  | { readonly kind: 'accessed-dirty-unsupported' }
  | { readonly kind: 'reserved-bits'; readonly bits: bigint };

/** Every reason the EPTP is invalid (empty = valid); SDM "VM-Execution Control Fields" checks on the EPTP. */
export const eptpProblems = (eptp: bigint, caps: EptCapsLike): readonly EptpProblem[] => {
  const out: EptpProblem[] = [];
  const d = decodeEptp(eptp);
  const cap = caps.eptVpidCap;
  const mtOk = (d.memType === 0 && hasEptCap(cap, EPT_CAP.UC)) || (d.memType === 6 && hasEptCap(cap, EPT_CAP.WB));
  if (!mtOk) out.push({ kind: 'memory-type', found: d.memType });
  const lenOk = (d.levels === 4 && hasEptCap(cap, EPT_CAP.WALK_4)) || (d.levels === 5 && hasEptCap(cap, EPT_CAP.WALK_5));
  if (!lenOk) out.push({ kind: 'walk-length', found: d.levels });
  if (d.ad && !hasEptCap(cap, EPT_CAP.AD)) out.push({ kind: 'accessed-dirty-unsupported' });
  // Bits 11:7 are reserved (bit 7 only when supervisor shadow-stack control is supported); bits 63:N reserved.
  const low = hasEptCap(cap, EPT_CAP.SSS) ? 0xf00n : 0xf80n;
  const high = ~((1n << BigInt(caps.maxPhyAddr)) - 1n) & 0xffff_ffff_ffff_ffffn;
  const rsvd = eptp & (low | high);
  if (rsvd !== 0n) out.push({ kind: 'reserved-bits', bits: rsvd });
  return out;
};

/** Builds an EPTP value (edges: scenarios, hypervisor model). */
export const encodeEptp = (p: { root: number; levels: 4 | 5; ad: boolean; memType?: number }): bigint =>
  BigInt(p.root - (p.root % 4096)) | BigInt(p.memType ?? 6) | (BigInt(p.levels - 1) << 3n) | (p.ad ? 0x40n : 0n);
