/**
 * Invalidation of cached translation information: INVLPG, MOV to CR3, INVEPT, INVVPID, the VM entry / exit flush
 * without VPIDs and the EPT-violation rule.
 *
 * Models: SDM Vol. 3A "Invalidation of TLBs and Paging-Structure Caches" (4.10.4.1 "Operations that Invalidate TLBs
 * and Paging-Structure Caches") and SDM Vol. 3C "Invalidating Cached Translation Information" (28.3.3: "Operations
 * that Invalidate Cached Mappings", "INVVPID", "INVEPT"). Each operation removes exactly what the SDM says must be
 * removed (the SDM lets a processor remove more; this model does not, so a missing invalidation stays visible as a
 * stale translation). All operations are pure: a set with nothing to remove is shared with the old state.
 * Leaves out: INVPCID (not a trace event), the checks that make INVEPT / INVVPID fail (src/vmx does them), MOV to CR0
 * / CR4 flushes (a caller uses `vpid-single` for them).
 */

import * as Psc from './psc';
import * as Tlb from './tlb';
import * as NestedTlb from './nestedTlb';
import {
  FL_GLOBAL, FL_PIECE_1G, KIND_COMBINED, KIND_GPA, KIND_LINEAR, SIZE_1G, SIZE_4K, SIZE_BYTES, SIZES_PIECES, keyAt, probe,
  setOf, type CacheArray, type EntryView, type SizeCode,
} from './tlb';
import type { TlbConfig } from './tlbConfig';

/** Every translation cache of one logical processor. */
export interface MmuCaches {
  readonly tlb: Tlb.Tlb;
  readonly psc: Psc.Psc;
  readonly nested: NestedTlb.NestedTlb;
}

export const emptyCaches = (c: TlbConfig): MmuCaches => ({
  tlb: Tlb.emptyTlb(c), psc: Psc.emptyPsc(c), nested: NestedTlb.emptyNestedTlb(c),
});

/**
 * What an INVEPT / INVVPID asks for (src/vmx builds it from the instruction's type and descriptor). `ep4ta` is
 * EPTP bits N-1:12 as a number (the PML4 / PML5 table address / 4096); `gva` is the low 57 bits of the address.
 */
export type Invalidation =
  | { readonly kind: 'ept-single'; readonly ep4ta: number }
  | { readonly kind: 'ept-all' }
  | { readonly kind: 'vpid-address'; readonly vpid: number; readonly gva: number }
  | { readonly kind: 'vpid-single'; readonly vpid: number }
  | { readonly kind: 'vpid-all' }
  | { readonly kind: 'vpid-single-retain-globals'; readonly vpid: number };

const isLinearOrCombined = (e: EntryView): boolean => e.kind === KIND_LINEAR || e.kind === KIND_COMBINED;
/**
 * Does the entry cache the translation of the page that holds `addr`? A 2 MiB piece of a 1 GiB page (FL_PIECE_1G)
 * is an entry for the whole 1 GiB page (SDM INVLPG, note 1: every TLB entry for a large page is invalidated).
 */
const covers = (e: EntryView, addr: number): boolean =>
  (e.flags & FL_PIECE_1G) !== 0
    ? Math.floor(e.key / 512) === Math.floor(addr / SIZE_BYTES[SIZE_1G])
    : e.key === Math.floor(addr / SIZE_BYTES[e.size]);

const pscCovers = (level: number, e: EntryView, gva: number): boolean => e.key === Psc.pscKey(gva, level);

/** PSC arrays are per level (index + 2); the predicate sees the level. */
const pscWhere = (psc: Psc.Psc, pred: (level: number, e: EntryView) => boolean): Psc.Psc => {
  let changed = false;
  const arrays = psc.arrays.map((arr: CacheArray, i: number) => {
    const n = Tlb.removeWhere(arr, (e) => pred(i + 2, e));
    if (n !== arr) changed = true;
    return n;
  });
  return changed ? { arrays } : psc;
};

const tlbWhere = (tlb: Tlb.Tlb, pred: (e: EntryView) => boolean): Tlb.Tlb =>
  Tlb.mapArrays(tlb, (arr) => Tlb.removeWhere(arr, pred));

const make = (c: MmuCaches, tlb: Tlb.Tlb, psc: Psc.Psc, nested: NestedTlb.NestedTlb): MmuCaches =>
  tlb === c.tlb && psc === c.psc && nested === c.nested ? c : { tlb, psc, nested };

/**
 * INVLPG in the guest (when it does not exit). SDM 4.10.4.1: TLB entries for the page of `gva` with the current PCID,
 * and global entries for that page; every paging-structure-cache entry of the current PCID. SDM 28.3.3.1: only the
 * current VPID, combined mappings for every EP4TA.
 */
export const invlpg = (c: MmuCaches, vpid: number, pcid: number, gva: number): MmuCaches =>
  make(c,
    Tlb.mapArrays(c.tlb, (arr) => Tlb.removeCovering(arr, [gva], (e) => isLinearOrCombined(e) && e.vpid === vpid && covers(e, gva) &&
      (e.pcid === pcid || (e.flags & FL_GLOBAL) !== 0))),
    pscWhere(c.psc, (_l, e) => e.vpid === vpid && e.pcid === pcid),
    c.nested);

/**
 * MOV to CR3. SDM 4.10.4.1: with CR4.PCIDE = 0, or CR4.PCIDE = 1 and bit 63 of the source = 0, the non-global TLB
 * entries and all paging-structure-cache entries of the new PCID (000H when PCIDE = 0) are invalidated; with
 * CR4.PCIDE = 1 and bit 63 = 1 nothing is (`noFlush`). Current VPID only, every EP4TA (28.3.3.1).
 */
export const movToCr3 = (c: MmuCaches, vpid: number, pcid: number, noFlush: boolean): MmuCaches =>
  noFlush ? c : make(c,
    tlbWhere(c.tlb, (e) => isLinearOrCombined(e) && e.vpid === vpid && e.pcid === pcid && (e.flags & FL_GLOBAL) === 0),
    pscWhere(c.psc, (_l, e) => e.vpid === vpid && e.pcid === pcid),
    c.nested);

/**
 * SDM 28.3.3.1: with "enable VPID" = 0, every VM entry and VM exit invalidates the linear and combined mappings of
 * VPID 0000H (global ones too), including paging-structure-cache entries; guest-physical mappings stay.
 */
export const vmEntryExitFlush = (c: MmuCaches): MmuCaches =>
  make(c,
    tlbWhere(c.tlb, (e) => isLinearOrCombined(e) && e.vpid === 0),
    pscWhere(c.psc, (_l, e) => e.vpid === 0),
    c.nested);

/** The linear address an EPT violation's GPA translated, with the tags of its combined mappings. */
interface ViolatedLinear { readonly vpid: number; readonly pcid: number; readonly gva: number }

/**
 * Could `arr` hold an entry that `eptViolation` removes? False only when it holds none: a guest-physical mapping of
 * the GPA's page (at some page size the array holds) with this EP4TA, or a combined mapping of `linear`'s page with
 * this EP4TA, VPID, and PCID unless global. Each is one `probe` of the set of that page number: probe matches exactly
 * the valid entries of that kind, size, page number, VPID and EP4TA whose PCID matches or which are global, which are
 * the selected entries, since guest-physical mappings are stored with VPID and PCID 0 (tlb.ts) and an entry of
 * another page number or size does not cover the page. An array that may hold pieces of 1 GiB pages (keyed by their
 * own 2 MiB page number) answers true: `removeCovering` scans it. A probe reads the keys of one set and allocates
 * nothing: an EPT violation (on every first touch of a page under EPT) skips `removeCovering`, which shows each entry
 * of those sets to a predicate, in the arrays that hold nothing to remove (all of them, almost always).
 */
const mayHoldViolated = (arr: CacheArray, ep4ta: number, gpa: number, linear: ViolatedLinear | undefined): boolean => {
  const sizes = arr.sizes;
  if (sizes === 0 || arr.sets === 0) return false;
  if ((sizes & SIZES_PIECES) !== 0) return true;
  for (let s = SIZE_4K; s <= SIZE_1G; s++) {
    if ((sizes & (1 << s)) === 0) continue;
    const size = s as SizeCode;
    const g = keyAt(gpa, size);
    if (probe(arr, setOf(arr, g), KIND_GPA, size, g, 0, 0, ep4ta) >= 0) return true;
    if (linear === undefined) continue;
    const l = keyAt(linear.gva, size);
    if (probe(arr, setOf(arr, l), KIND_COMBINED, size, l, linear.vpid, linear.pcid, ep4ta) >= 0) return true;
  }
  return false;
};

/** `mayHoldViolated` for some array of the TLB. */
const tlbMayHoldViolated = (tlb: Tlb.Tlb, ep4ta: number, gpa: number, linear: ViolatedLinear | undefined): boolean => {
  const arrays = tlb.arrays;
  for (let i = 0; i < arrays.length; i++) if (mayHoldViolated(arrays[i], ep4ta, gpa, linear)) return true;
  return false;
};

/**
 * SDM 28.3.3.1: an EPT violation invalidates the guest-physical mappings of the faulting GPA (current EP4TA) and,
 * when the GPA was the translation of a linear address, the combined mappings for that linear address (current VPID,
 * PCID, EP4TA). The nested TLB holds guest-physical mappings only (nestedTlb.ts `fill`).
 */
export const eptViolation = (c: MmuCaches, ep4ta: number, gpa: number, linear?: ViolatedLinear): MmuCaches =>
  make(c,
    // every selected entry covers the GPA or the linear address: only their sets are scanned, in arrays that hold one
    // (when none does, the TLB is kept without a pass over its arrays)
    !tlbMayHoldViolated(c.tlb, ep4ta, gpa, linear) ? c.tlb : Tlb.mapArrays(c.tlb, (arr) => !mayHoldViolated(arr, ep4ta, gpa, linear) ? arr :
      Tlb.removeCovering(arr, linear === undefined ? [gpa] : [gpa, linear.gva], (e) =>
        (e.kind === KIND_GPA && e.ep4ta === ep4ta && covers(e, gpa)) ||
        (linear !== undefined && e.kind === KIND_COMBINED && e.ep4ta === ep4ta && e.vpid === linear.vpid &&
          (e.pcid === linear.pcid || (e.flags & FL_GLOBAL) !== 0) && covers(e, linear.gva)))),
    c.psc,
    !mayHoldViolated(c.nested, ep4ta, gpa, undefined) ? c.nested :
      Tlb.removeCovering(c.nested, [gpa], (e) => e.ep4ta === ep4ta && covers(e, gpa)));

/** INVEPT / INVVPID (SDM 28.3.3.3 "Guidelines for Use of the INVVPID Instruction" and the instruction pages). */
export const apply = (c: MmuCaches, inv: Invalidation): MmuCaches => {
  switch (inv.kind) {
    case 'ept-single':
      // guest-physical and combined mappings of the EP4TA, for every VPID and PCID
      return make(c,
        tlbWhere(c.tlb, (e) => (e.kind === KIND_GPA || e.kind === KIND_COMBINED) && e.ep4ta === inv.ep4ta),
        pscWhere(c.psc, (_l, e) => e.ep4ta === inv.ep4ta),
        Tlb.removeWhere(c.nested, (e) => e.ep4ta === inv.ep4ta));
    case 'ept-all':
      // guest-physical and combined mappings of every EP4TA; linear mappings (EPT off) stay
      return make(c,
        tlbWhere(c.tlb, (e) => e.kind === KIND_GPA || e.kind === KIND_COMBINED),
        pscWhere(c.psc, (_l, e) => e.ep4ta >= 0),
        Tlb.removeWhere(c.nested, () => true));
    case 'vpid-address':
      // linear and combined mappings of the VPID for the address: every PCID, every EP4TA, global ones too
      return make(c,
        tlbWhere(c.tlb, (e) => isLinearOrCombined(e) && e.vpid === inv.vpid && covers(e, inv.gva)),
        pscWhere(c.psc, (l, e) => e.vpid === inv.vpid && pscCovers(l, e, inv.gva)),
        c.nested);
    case 'vpid-single':
      return make(c,
        tlbWhere(c.tlb, (e) => isLinearOrCombined(e) && e.vpid === inv.vpid),
        pscWhere(c.psc, (_l, e) => e.vpid === inv.vpid),
        c.nested);
    case 'vpid-all':
      // every VPID except 0000H
      return make(c,
        tlbWhere(c.tlb, (e) => isLinearOrCombined(e) && e.vpid !== 0),
        pscWhere(c.psc, (_l, e) => e.vpid !== 0),
        c.nested);
    case 'vpid-single-retain-globals':
      // as single-context, but global translations are kept (paging-structure-cache entries are never global)
      return make(c,
        tlbWhere(c.tlb, (e) => isLinearOrCombined(e) && e.vpid === inv.vpid && (e.flags & FL_GLOBAL) === 0),
        pscWhere(c.psc, (_l, e) => e.vpid === inv.vpid),
        c.nested);
    default: {
      const never: never = inv;
      throw new Error(`unknown invalidation ${JSON.stringify(never)}`);
    }
  }
};
