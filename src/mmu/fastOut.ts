/**
 * What the translation paths (src/mmu/translate.ts, src/mmu/direct.ts) share: their context, the record the
 * allocation-free paths hand back, and the rule of when a cached entry allows an access. Models nothing itself: see
 * translate.ts.
 */

import type * as Phys from '../arch/phys';
import type { CostModel, TranslationStats } from './cost';
import type { MmuCaches } from './invalidate';
import { FL_DIRTY, FL_EPT_R, FL_EPT_W, FL_EPT_X, FL_RW, FL_US, FL_X } from './tlb';
import type * as W2 from './walk2d';

export interface TranslateContext {
  readonly walk: W2.Walk2dConfig;
  /** current VPID (0 when "enable VPID" = 0 or in root operation) */
  readonly vpid: number;
  /** current PCID (CR3 bits 11:0 when CR4.PCIDE = 1, else 0) */
  readonly pcid: number;
  /** CR4.PGE: a leaf with G = 1 makes a global TLB entry */
  readonly pge: boolean;
  readonly cost: CostModel;
}

/** Does a cached entry with `flags` allow the access without a walk? Allocation-free. */
export const allows = (flags: number, kind: 'read' | 'write' | 'fetch', user: boolean, wp: boolean, smep: boolean): boolean => {
  if (user && (flags & FL_US) === 0) return false;
  switch (kind) {
    case 'read':
      return (flags & FL_EPT_R) !== 0;
    case 'write':
      // a write through a clean entry re-walks so the dirty flag gets set (SDM 4.8 "Accessed and Dirty Flags")
      return (flags & FL_DIRTY) !== 0 && (flags & FL_EPT_W) !== 0 && ((flags & FL_RW) !== 0 || (!user && !wp));
    case 'fetch':
      return (flags & FL_X) !== 0 && (flags & FL_EPT_X) !== 0 && !(smep && !user && (flags & FL_US) !== 0);
    default: {
      const never: never = kind;
      throw new Error(`unknown access ${String(never)}`);
    }
  }
};

/**
 * A translation finished without allocating: read it right after the call (one record for the process). The fields
 * mean what the TranslateResult fields of the same names mean; `walked` says whether the access walked, and then
 * `gpa` is the final guest-physical address and `tableGpas[0 .. tableCount)` the guest-physical addresses of the
 * guest entries read, top-down.
 */
export const fastOut = {
  hpa: 0, pageSize: 0, caches: null as unknown as MmuCaches, mem: null as unknown as Phys.PhysMem,
  tlbLevel: null as 'l1' | 'stlb' | null, stats: null as unknown as TranslationStats, pmlIndex: undefined as number | undefined,
  walked: false, gpa: 0, tableCount: 0, tableGpas: new Float64Array(5),
};

/**
 * Sets `fastOut`'s caches, memory and statistics, storing only the fields that change: the record is long-lived (in
 * V8's old generation), and each store of a recently made object into it (the caches and memory a chunk copied, the
 * same from access to access) runs the write barrier.
 */
export const putOut = (caches: MmuCaches, mem: Phys.PhysMem, stats: TranslationStats): void => {
  const f = fastOut;
  if (f.caches !== caches) f.caches = caches;
  if (f.mem !== mem) f.mem = mem;
  if (f.stats !== stats) f.stats = stats;
};
