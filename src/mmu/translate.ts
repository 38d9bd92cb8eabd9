/**
 * One address translation through the TLB hierarchy, the paging-structure caches, the nested TLB and the walk.
 *
 * Models: SDM Vol. 3A "Using the TLBs and Paging-Structure Caches" (4.10.2 / 4.10.3.2) and SDM Vol. 3C "Creating and
 * Using Cached Translation Information" (28.3.2): L1 (ITLB for fetches, DTLB otherwise), then the STLB, then a walk
 * (src/mmu/walk2d.ts) that starts below the deepest paging-structure-cache hit and takes guest-table pages from the
 * nested TLB; a successful walk fills the TLBs, the paging-structure caches and the nested TLB. A cached entry whose
 * rights do not allow the access (a write through a read-only or clean entry, a user access through a supervisor
 * entry, ...) is treated as a miss and re-walked, which is how hardware sets the dirty flag and reports the fault.
 * A cached translation stays in use until it is invalidated (src/mmu/invalidate.ts), even after the paging structures
 * change: that is what a missing INVLPG / INVEPT / INVVPID looks like.
 * The mapping kind follows SDM 28.3.1: EPT off => linear mappings (EP4TA -1); EPT on => combined mappings tagged by
 * VPID, PCID and EP4TA (with CR0.PG = 0 also combined, PCID as given; unverified against the SDM).
 * Two implementations of the miss, one behaviour: `missFast` walks without allocating for the commonest outcomes
 * (a translation, with the guest and final-EPT A/D flags it sets; a guest page fault; an EPT violation of the final
 * guest-physical address) and gives up, having changed nothing, on anything else (EPT A/D flags of a guest-table page,
 * misconfigurations, PML full, violations on a guest-table page), which walk2d then walks. `translateReference` uses
 * walk2d alone; a property test compares the two.
 * Leaves out: the data access, page-crossing splits (the caller translates each page), the invalidation on a guest
 * page fault, EPT paging-structure caches; the nested TLB serves guest paging-structure pages only (the final GPA
 * always walks EPT on a TLB miss, so its EPT rights reach the TLB entry).
 */

import { gpa as mkGpa, hiAddrMask, lowBits, type Gpa, type Gva } from '../arch/addr';
import * as Phys from '../arch/phys';
import * as Ept from '../ept/walk';
import { encodeEptViolation } from '../ept/qualification';
import * as Guest from '../guest/paging';
import * as Cost from './cost';
import type { CostModel, TranslationStats } from './cost';
import * as Inv from './invalidate';
import type { MmuCaches } from './invalidate';
import * as NestedTlb from './nestedTlb';
import * as Psc from './psc';
import * as Tlb from './tlb';
import { DIRECT_DONE, DIRECT_FAULT, DIRECT_NO, DIRECT_TLB_MISS, DIRECT_VIOLATION, directFault, directViolation, translateDirect } from './direct';
import { allows, fastOut, putOut, type TranslateContext } from './fastOut';
import {
  FL_DIRTY, FL_EPT_R, FL_EPT_W, FL_EPT_X, FL_GLOBAL, FL_RW, FL_US, FL_X, KIND_COMBINED, KIND_LINEAR, type SizeCode,
} from './tlb';
import * as W2 from './walk2d';

export type { TranslateContext } from './fastOut';

export type TranslateOutcome =
  | {
      readonly _tag: 'translated'; readonly hpa: number; readonly pageSize: number;
      /**
       * present when this access walked: the final GPA and the guest-physical addresses of the guest entries read,
       * top-down (for page-touch accounting; numbers, so the record is small)
       */
      readonly walked?: { readonly gpa: number; readonly tableGpas: readonly number[] };
    }
  | Exclude<W2.Walk2dOutcome, { readonly _tag: 'translated' }>;

export interface TranslateResult {
  readonly outcome: TranslateOutcome;
  readonly caches: MmuCaches;
  /** memory after the walk's A/D updates and PML writes (the input memory on a TLB hit) */
  readonly mem: Phys.PhysMem;
  readonly tlbLevel: 'l1' | 'stlb' | null;
  /** this access alone (fold with Cost.combine) */
  readonly stats: TranslationStats;
  /** PML index after the walk (when PML is on and a walk ran; otherwise undefined, always present: one shape) */
  readonly pmlIndex: number | undefined;
}

const PTE_G = 0x100;
const PTE_D = 0x40;
const PTE_RW = 0x2;
const PTE_US = 0x4;
const PTE_HI_XD = 0x8000_0000;
const TWO32 = 4294967296;

const sizeCode = (bytes: number): SizeCode => (bytes >= 0x4000_0000 ? 2 : bytes >= 0x20_0000 ? 1 : 0);

/** The EP4TA tag: EPTP bits N-1:12 as a number, or -1 when EPT is not in use. */
export const ep4taOf = (cfg: W2.Walk2dConfig): number => (cfg.ept === null ? -1 : Math.floor(cfg.ept.root / 4096));

/** The statistics of one L1 hit under `cost` (shared; the replay engine's allocation-free hit path adds these). */
export const l1HitStats = (cost: CostModel): TranslationStats => Cost.hitStats(cost, 'l1');

/**
 * `fillAfterWalk`'s `absent` bits: this access's `Tlb.lookupL1` found no entry (ABSENT_L1), its `Tlb.lookupStlb` found
 * none (ABSENT_STLB), its `Psc.lookup` probed every level the walk fills and found none there (ABSENT_PSC); and those
 * structures were not written since.
 */
const ABSENT_L1 = 1;
const ABSENT_STLB = 2;
const ABSENT_PSC = 4;

/**
 * The guest entries of the walk just made, for the fills (one record for the process, filled right before
 * `fillAfterWalk` reads it: no allocation per walk). `hpa[i]` is NaN when the entry's host address is unknown.
 */
const wr = {
  count: 0,
  gpa: new Float64Array(5), level: new Int32Array(5), lo: new Float64Array(5), hi: new Float64Array(5), hpa: new Float64Array(5),
  /**
   * whether the walk found the entry's guest-physical page in the nested TLB (1), looked it up and did not (0), or is
   * not known to have looked (-1)
   */
  nestedHit: new Int32Array(5),
};

/**
 * After a successful walk (SDM 4.10.2.1 / 4.10.3.1 / 28.3.2): a TLB entry with the rights the walk found, PSC entries
 * for the non-leaf guest entries read (rights accumulated from `startRights`, the cached upper levels' rights), and
 * nested-TLB entries for the guest-table pages the walk translated through EPT. The guest entries are in `wr`; `psc0`
 * and `nested0` are `caches`' after the walk's LRU updates of its hits. `absent` (ABSENT_* bits) says which lookups
 * of this access found no entry in structures not written since (the fills into them then skip their scans).
 */
const fillAfterWalk = (
  caches: MmuCaches, psc0: Psc.Psc, nested0: NestedTlb.NestedTlb, ctx: TranslateContext, addr: number, kind: 'read' | 'write' | 'fetch', hpa: number, pageSize: number,
  user: boolean, writable: boolean, xd: boolean, eptRights: number, startRights: number, absent: number,
): MmuCaches => {
  const cfg = ctx.walk;
  const ept = cfg.ept;
  const ep4ta = ep4taOf(cfg);
  const { vpid, pcid } = ctx;
  const n = wr.count;
  const leafLo = n > 0 ? wr.lo[n - 1] : 0;
  const dirty = n === 0 || (leafLo & PTE_D) !== 0 || kind === 'write';
  const rights =
    (writable ? FL_RW : 0) | (user ? FL_US : 0) | (xd ? 0 : FL_X) | (dirty ? FL_DIRTY : 0) | eptRights |
    (ctx.pge && n > 0 && (leafLo & PTE_G) !== 0 ? FL_GLOBAL : 0);
  const physBase = hpa - lowBits(addr, pageSize);
  const tlb = Tlb.fillTagged(caches.tlb, kind === 'fetch', ept === null ? KIND_LINEAR : KIND_COMBINED, vpid, pcid, ep4ta,
    addr, sizeCode(pageSize), rights, physBase, (absent & ABSENT_L1) !== 0, (absent & ABSENT_STLB) !== 0);
  let psc = psc0;
  if (cfg.guest !== null) {
    const hiAddr = hiAddrMask(cfg.guest.maxPhyAddr);
    let acc = startRights;
    for (let i = 0; i < n - 1; i++) {
      const lo = wr.lo[i];
      const hi = wr.hi[i];
      if ((lo & PTE_RW) === 0) acc &= ~FL_RW;
      if ((lo & PTE_US) === 0) acc &= ~FL_US;
      if (cfg.guest.nxe && (hi & PTE_HI_XD) !== 0) acc &= ~FL_X;
      const table = ((lo & 0xffff_f000) >>> 0) + (hi & hiAddr) * TWO32;
      psc = Psc.fill(psc, wr.level[i], addr, vpid, pcid, ep4ta, table, acc, (absent & ABSENT_PSC) !== 0);
    }
  }
  let nested = nested0;
  let filled = false;
  if (ept !== null && nested.sets > 0) {
    for (let i = 0; i < n; i++) {
      const h = wr.hpa[i];
      if (Number.isNaN(h)) continue;
      const g = wr.gpa[i];
      const gpaPage = g - (g & 0xfff);
      // An entry the walk or this loop left there stays as it is; a missing one is filled without a second search.
      // Until this loop's first fill, the nested TLB holds what the walk found (its hits were made most recently used,
      // which moves no entry), so what the walk's lookup said still holds and the lookup is not repeated.
      const known = wr.nestedHit[i];
      if (!filled && known === 1) continue;
      if ((filled || known !== 0) && NestedTlb.lookup(nested, ep4ta, gpaPage) >= 0) continue;
      nested = NestedTlb.fill(nested, ep4ta, gpaPage, h - (h & 0xfff), ept.ad ? FL_EPT_R | FL_EPT_W : FL_EPT_R, true);
      filled = true;
    }
  }
  // the caches as they came (`caches`) when every fill was in place or changed nothing
  return tlb === caches.tlb && psc === caches.psc && nested === caches.nested ? caches : { tlb, psc, nested };
};

/** The PML index a walk that logs nothing leaves (undefined when PML is off). */
const pmlIndexOf = (ept: W2.Walk2dConfig['ept']): number | undefined => (ept !== null && ept.pml !== undefined ? ept.pml.index : undefined);

/** The nested-TLB hits (hit numbers) the fast walk used, in order (touched when it commits). */
const nestedUsed = new Float64Array(5);

/**
 * The first `count` nested-TLB hits of `nestedUsed`, made most recently used in that order (a touch moves no entry,
 * so each hit number still names its entry after the touches before it).
 */
const touchNestedUsed = (nested: NestedTlb.NestedTlb, count: number): NestedTlb.NestedTlb => {
  let n = nested;
  for (let i = 0; i < count; i++) n = NestedTlb.touchHit(n, nestedUsed[i]);
  return n;
};

/**
 * The fast walk met a guest page fault: what walk2d's path returns for it (SDM "Page-Fault Exceptions"): no fill, no
 * A/D update, the cache hits of the walk made most recently used, the references read up to the faulting entry.
 */
const guestFault = (
  caches: MmuCaches, mem: Phys.PhysMem, ctx: TranslateContext, gla: Gva, ph: number, nestedHits: number,
  errorCode: number, guestRefs: number, nestedRefs: number, nestedLookups: number,
): TranslateResult => {
  const cfg = ctx.walk;
  const ept = cfg.ept;
  const psc = ph >= 0 ? Psc.touchHit(caches.psc, ph) : caches.psc;
  const nested = touchNestedUsed(caches.nested, nestedHits);
  const stats = Cost.walkStats(ctx.cost, guestRefs, nestedRefs, ph >= 0 ? Psc.hitLevel(ph) : 0, nestedHits, nestedLookups);
  return faultResult(psc === caches.psc && nested === caches.nested ? caches : { tlb: caches.tlb, psc, nested }, mem, ept, gla, errorCode, stats);
};

/** A guest page fault's result, the caches as the walk left them (one object shape for missFast's and the direct path's). */
const faultResult = (
  caches: MmuCaches, mem: Phys.PhysMem, ept: W2.Walk2dConfig['ept'], gla: Gva, errorCode: number, stats: Cost.TranslationStats,
): TranslateResult => ({
  outcome: { _tag: 'guest-fault', vector: 14, errorCode, cr2: gla },
  caches, mem, tlbLevel: null, stats, pmlIndex: pmlIndexOf(ept),
});

/**
 * The fast walk's final guest-physical address is not mapped or not allowed by EPT: what walk2d's path returns (SDM
 * "Exit Qualification for EPT Violations", final translation with the guest's rights as advanced information, and the
 * invalidation of SDM 28.3.3.1). The violation record is made from the EPT walk just made (`st`, and `Ept.eptOut`).
 */
const finalViolation = (
  caches: MmuCaches, mem: Phys.PhysMem, ctx: TranslateContext, gla: Gva, access: W2.Walk2dAccess, st: number, ph: number,
  nestedHits: number, gpa: number, user: boolean, writable: boolean, xd: boolean, guestRefs: number, nestedRefs: number,
  nestedLookups: number,
): TranslateResult | undefined => {
  const v = Ept.eptResultOf(st, mem, ctx.walk.ept!, gpa, access.kind === 'read', access.kind === 'write', access.kind === 'fetch');
  if (v._tag !== 'violation') return undefined;
  const psc = ph >= 0 ? Psc.touchHit(caches.psc, ph) : caches.psc;
  const nested = touchNestedUsed(caches.nested, nestedHits);
  const stats = Cost.walkStats(ctx.cost, guestRefs, nestedRefs, ph >= 0 ? Psc.hitLevel(ph) : 0, nestedHits, nestedLookups);
  return violationResult(psc === caches.psc && nested === caches.nested ? caches : { tlb: caches.tlb, psc, nested }, mem, ctx, gla, v, user, writable, xd, stats);
};

/**
 * The result of an EPT violation of a walk's final guest-physical address, from the caches after the walk's LRU
 * updates: the qualification, and the invalidation of SDM 28.3.3.1 (missFast's and the direct path's).
 */
const violationResult = (
  caches: MmuCaches, mem: Phys.PhysMem, ctx: TranslateContext, gla: Gva, v: Extract<Ept.EptResult, { _tag: 'violation' }>,
  user: boolean, writable: boolean, xd: boolean, stats: Cost.TranslationStats,
): TranslateResult => {
  const cfg = ctx.walk;
  const qualification = encodeEptViolation(v, {
    guestLinearAddressValid: true, finalTranslation: true,
    advanced: cfg.advancedInfo === true ? { userModeLinear: user, writableLinear: writable, executeDisableLinear: xd } : undefined,
  });
  const after = Inv.eptViolation(caches, ep4taOf(cfg), v.gpa, { vpid: ctx.vpid, pcid: ctx.pcid, gva: gla as number });
  return {
    outcome: { _tag: 'ept-violation', qualification, gpa: v.gpa as Gpa, gla, guestLevel: null, suppressVe: v.suppressVe },
    caches: after.tlb === caches.tlb && after.psc === caches.psc && after.nested === caches.nested ? caches : after,
    mem, tlbLevel: null, stats, pmlIndex: pmlIndexOf(cfg.ept),
  };
};

/**
 * The walk of `translate` for the common case, allocation-free until it succeeds: guest paging on, every guest and
 * EPT entry present and well-formed, the rights allow the access, and no guest or EPT accessed/dirty flag needs
 * setting (so memory does not change and PML logs nothing); and a guest page fault met on a walk whose EPT side is in
 * that case (a fault writes no flag). Returns undefined in every other case, having changed
 * nothing (the paging-structure-cache and nested-TLB LRU updates are made only on success), and `translate` then
 * walks with walk2d, which reports faults, exits and A/D updates. On success the result is the one walk2d's path
 * gives (same references, cache hits, fills and statistics): tests/mmu/translateFast.test.ts compares the two. A
 * translation is returned in `fastOut` (the result is then null); a guest page fault or an EPT violation as a result.
 */
const missFast = (
  caches: MmuCaches, mem: Phys.PhysMem, ctx: TranslateContext, gla: Gva, access: W2.Walk2dAccess, tlbAbsent: number,
): TranslateResult | null | undefined => {
  const addr = gla as number;
  const cfg = ctx.walk;
  const g = cfg.guest;
  if (g === null) return undefined;
  const ept = cfg.ept;
  const ep4ta = ep4taOf(cfg);
  const { vpid, pcid } = ctx;
  const psc0 = caches.psc;
  const nested0 = caches.nested;
  const nestedOn = ept !== null && nested0.sets > 0;
  // paging-structure caches: start below the deepest hit
  let level = g.la57 ? 5 : 4;
  let table = g.cr3 as number;
  let startRights = FL_RW | FL_US | FL_X;
  const ph = Psc.lookup(psc0, level, addr, vpid, pcid, ep4ta);
  const pscLevel = ph >= 0 ? Psc.lookupOut.level : 0;
  // the walk below reads the caches and writes none of them, so the hit's recency is what the lookup saw
  const pscTouch = ph >= 0 && !Psc.lookupOut.mru;
  if (ph >= 0) {
    level = pscLevel - 1;
    table = Psc.lookupOut.table;
    startRights = Psc.lookupOut.rights;
  }
  let user = (startRights & FL_US) !== 0;
  let writable = (startRights & FL_RW) !== 0;
  let xd = (startRights & FL_X) === 0;
  const hiAddr = hiAddrMask(g.maxPhyAddr);
  const asWriteTable = ept !== null && ept.ad; // a paging-structure access is a write for EPT A/D (SDM 28.3.5)
  let n = 0;
  let guestRefs = 0;
  let nestedRefs = 0;
  let nestedLookups = 0;
  let nestedHits = 0;
  let gpa = 0;
  let guestSize = 0;
  let allAccessed = true;
  let needGuestAd = false;
  // every guest-table page translated through EPT here allows writes (nested-TLB hits count as writable, as in walk2d)
  let tablesWritable = true;
  for (;;) {
    const eGpa = table + 8 * Guest.guestIndex(addr, level);
    let eHpa = eGpa;
    let known = -1;
    if (ept !== null) {
      const off = eGpa & 0xfff;
      let hit = -1;
      if (nestedOn) {
        nestedLookups++;
        hit = NestedTlb.lookup(nested0, ep4ta, eGpa - off);
        known = hit >= 0 ? 1 : 0;
      }
      if (hit >= 0) {
        eHpa = NestedTlb.hitHpa(nested0, hit, eGpa - off) + off;
        nestedUsed[nestedHits++] = hit;
      } else {
        const st = Ept.eptWalk(mem, ept, eGpa, true, asWriteTable, false, false);
        nestedRefs += Ept.eptOut.refs;
        if (st !== Ept.EW_OK || Ept.eptNeedsAd(ept, asWriteTable)) return undefined;
        eHpa = Ept.eptOut.hpa;
        if (Ept.eptOut.w === 0) tablesWritable = false;
      }
    }
    guestRefs++;
    const pg = Phys.page(mem, Math.floor(eHpa / 4096)); // (a literal: see ept/walk.ts)
    const wi = (eHpa & 0xfff) >>> 2;
    const lo = pg === undefined ? 0 : pg[wi];
    const hi = pg === undefined ? 0 : pg[wi + 1];
    wr.gpa[n] = eGpa; wr.level[n] = level; wr.lo[n] = lo; wr.hi[n] = hi; wr.hpa[n] = eHpa; wr.nestedHit[n] = known;
    n++;
    // SDM "Page-Fault Exceptions": not present, then reserved bits (the walk stops at this entry)
    if ((lo & Guest.PTE_P) === 0) return guestFault(caches, mem, ctx, gla, ph, nestedHits, Guest.accessErrorBits(g, access), guestRefs, nestedRefs, nestedLookups);
    if (Guest.guestReserved(g, lo, hi, level)) {
      return guestFault(caches, mem, ctx, gla, ph, nestedHits, Guest.accessErrorBits(g, access) | Guest.PFEC.P | Guest.PFEC.RSVD, guestRefs, nestedRefs, nestedLookups);
    }
    if ((lo & Guest.PTE_A) === 0) allAccessed = false;
    user = user && (lo & PTE_US) !== 0;
    writable = writable && (lo & PTE_RW) !== 0;
    xd = xd || (g.nxe && (hi & PTE_HI_XD) !== 0);
    if (level === 1 || (level <= 3 && (lo & Guest.PTE_PS) !== 0)) {
      guestSize = level === 1 ? 4096 : level === 2 ? 0x20_0000 : 0x4000_0000;
      const frameLo = level === 1 ? lo & 0xffff_f000 : level === 2 ? lo & 0xffe0_0000 : lo & 0xc000_0000;
      gpa = (frameLo >>> 0) + (hi & hiAddr) * TWO32 + lowBits(addr, guestSize);
      if (!Guest.rightsAllow(g, access, user, writable, xd)) {
        return guestFault(caches, mem, ctx, gla, ph, nestedHits, Guest.accessErrorBits(g, access) | Guest.PFEC.P, guestRefs, nestedRefs, nestedLookups);
      }
      // a flag to set when the access succeeds (walk2d writes it)
      needGuestAd = !allAccessed || (access.kind === 'write' && (lo & PTE_D) === 0);
      break;
    }
    table = ((lo & 0xffff_f000) >>> 0) + (hi & hiAddr) * TWO32;
    level--;
  }
  // the final guest-physical address through EPT (never from the nested TLB, see the module header)
  let hpa = gpa;
  let pageSize = guestSize;
  let eptRights = FL_EPT_R | FL_EPT_W | FL_EPT_X;
  let out = mem;
  let pmlIndex = pmlIndexOf(ept);
  if (ept !== null) {
    const write = access.kind === 'write';
    const st = Ept.eptWalk(mem, ept, gpa, access.kind === 'read', write, access.kind === 'fetch', user);
    const o = Ept.eptOut;
    nestedRefs += o.refs;
    if (st === Ept.EW_NOT_PRESENT || st === Ept.EW_DENIED) {
      // with EPT A/D off, guest A/D writes are checked against the tables' EPT rights first (walk2d step 2)
      if (needGuestAd && !ept.ad && !tablesWritable) return undefined;
      return finalViolation(caches, mem, ctx, gla, access, st, ph, nestedHits, gpa, user, writable, xd, guestRefs, nestedRefs, nestedLookups);
    }
    if (st !== Ept.EW_OK) return undefined;
    hpa = o.hpa;
    pageSize = Math.min(guestSize, o.pageSize);
    const eptX = ept.mbec && user ? o.ux === 1 : o.x === 1;
    eptRights = (o.r === 1 ? FL_EPT_R : 0) | (o.w === 1 ? FL_EPT_W : 0) | (eptX ? FL_EPT_X : 0);
    if (needGuestAd && !ept.ad && !tablesWritable) return undefined;
    if (Ept.eptNeedsAd(ept, write)) {
      // SDM "Accessed and Dirty Flags for EPT" (and PML): eptResultOf sets them, from the walk above (references counted)
      const r = Ept.eptResultOf(st, mem, ept, gpa, access.kind === 'read', write, access.kind === 'fetch');
      if (r._tag !== 'ok') return undefined; // PML full: walk2d reports it
      out = r.mem;
      pmlIndex = r.pmlIndex;
    }
  }
  if (needGuestAd) {
    // SDM "Accessed and Dirty Flags": A in every entry used, D in the leaf on a write, at the entries' host addresses
    for (let i = 0; i < n; i++) {
      const lo = wr.lo[i];
      const nlo = (lo | Guest.PTE_A | (access.kind === 'write' && i === n - 1 ? PTE_D : 0)) >>> 0;
      if (nlo !== lo) out = Phys.write64Parts(out, wr.hpa[i], nlo, wr.hi[i]);
    }
  }
  // success: the LRU updates of the cache hits, in walk order (none for a PSC hit on its set's MRU entry), then the fills
  const psc = pscTouch ? Psc.touchHit(psc0, ph) : psc0;
  const nested = nestedHits === 0 ? nested0 : touchNestedUsed(nested0, nestedHits);
  wr.count = n;
  const f = fastOut;
  for (let i = 0; i < n; i++) f.tableGpas[i] = wr.gpa[i];
  const filled = fillAfterWalk(caches, psc, nested, ctx, addr, access.kind, hpa, pageSize, user, writable, xd, eptRights, startRights,
    tlbAbsent | ABSENT_PSC);
  putOut(filled, out, Cost.walkStats(ctx.cost, guestRefs, nestedRefs, pscLevel, nestedHits, nestedLookups));
  f.hpa = hpa; f.pageSize = pageSize; f.tlbLevel = null; f.pmlIndex = pmlIndex;
  f.walked = true; f.gpa = gpa; f.tableCount = n;
  return null;
};

/**
 * The result of a guest page fault (DIRECT_FAULT) or a final EPT violation (DIRECT_VIOLATION) that `translateDirect`
 * met for `gla` with these caches (updated in place) and memory.
 */
export const directResult = (code: number, caches: MmuCaches, mem: Phys.PhysMem, ctx: TranslateContext, gla: Gva): TranslateResult => {
  if (code === DIRECT_FAULT) return faultResult(caches, mem, ctx.walk.ept, gla, directFault.errorCode, fastOut.stats);
  const d = directViolation;
  return violationResult(caches, mem, ctx, gla, d.v!, d.user, d.writable, d.xd, fastOut.stats);
};

/**
 * The allocation-free part of `translate`: an L1 hit, an STLB hit, or (with `walk`) a walk by `missFast`. Returns null
 * when it translated (the translation is in `fastOut`); a result for a guest page fault or an EPT violation the walk
 * met; undefined when `translate`'s general walk must run (nothing changed).
 */
export const translateFast = (
  caches: MmuCaches, mem: Phys.PhysMem, ctx: TranslateContext, gla: Gva, access: W2.Walk2dAccess, walk = true,
): TranslateResult | null | undefined => {
  const addr = gla as number;
  // the commonest cases as one function over the raw arrays (src/mmu/direct.ts): the same result
  const direct = walk ? translateDirect(caches, mem, ctx, addr, access) : DIRECT_NO;
  if (direct === DIRECT_DONE) return null;
  if (direct === DIRECT_TLB_MISS) return missFast(caches, mem, ctx, gla, access, ABSENT_L1 | ABSENT_STLB);
  if (direct === DIRECT_FAULT || direct === DIRECT_VIOLATION) return directResult(direct, caches, mem, ctx, gla);
  const cfg = ctx.walk;
  const ept = cfg.ept;
  const ep4ta = ep4taOf(cfg);
  const kind = ept === null ? KIND_LINEAR : KIND_COMBINED;
  const wp = cfg.guest === null ? true : cfg.guest.wp;
  const smep = cfg.guest?.smep === true;
  const { vpid, pcid } = ctx;
  const f = fastOut;

  // 1. L1 TLB: a hit translates when its rights allow the access (SDM 4.10.2.3 "Details of TLB Use": no
  // paging-structure reference); else the STLB is asked
  const l1 = Tlb.lookupL1(caches.tlb, access.kind === 'fetch', kind, addr, vpid, pcid, ep4ta);
  const h1 = l1 >= 0 && allows(Tlb.hitFlags(caches.tlb, l1), access.kind, access.user, wp, smep) ? l1 : -1;
  if (h1 >= 0) {
    f.hpa = Tlb.hitPhys(caches.tlb, h1, addr);
    f.pageSize = Tlb.SIZE_BYTES[Tlb.sizeOf(Tlb.hitFlags(caches.tlb, h1))];
    const tlb = Tlb.touchHit(caches.tlb, h1);
    putOut(tlb === caches.tlb ? caches : { tlb, psc: caches.psc, nested: caches.nested }, mem, Cost.hitStats(ctx.cost, 'l1'));
    f.tlbLevel = 'l1'; f.pmlIndex = undefined; f.walked = false;
    return null;
  }
  // 2. STLB; a hit is copied into the L1.
  const h2 = Tlb.lookupStlb(caches.tlb, kind, addr, vpid, pcid, ep4ta);
  if (h2 >= 0 && allows(Tlb.hitFlags(caches.tlb, h2), access.kind, access.user, wp, smep)) {
    f.hpa = Tlb.hitPhys(caches.tlb, h2, addr);
    f.pageSize = Tlb.SIZE_BYTES[Tlb.sizeOf(Tlb.hitFlags(caches.tlb, h2))];
    // the L1 copy is made from the STLB entry as found (touching moves the entry to way 0 of its set)
    const tlb = Tlb.touchHit(Tlb.fillL1FromStlb(caches.tlb, access.kind === 'fetch', h2, { kind, vpid, pcid, ep4ta }, addr), h2);
    putOut(tlb === caches.tlb ? caches : { tlb, psc: caches.psc, nested: caches.nested }, mem, Cost.hitStats(ctx.cost, 'stlb'));
    f.tlbLevel = 'stlb'; f.pmlIndex = undefined; f.walked = false;
    return null;
  }
  // 3. Walk: the common case (every entry present, rights allow, no A/D flag to set) allocation-free
  // (the walk's fills skip the scans of the L1 and STLB sets whose lookups above found no entry)
  return walk ? missFast(caches, mem, ctx, gla, access, (l1 < 0 ? ABSENT_L1 : 0) | (h2 < 0 ? ABSENT_STLB : 0)) : undefined;
};

/** `fastOut` as a TranslateResult (a copy: the record is reused by the next call). */
const resultOfFastOut = (): TranslateResult => {
  const f = fastOut;
  let tableGpas: number[] | undefined;
  if (f.walked) {
    // exactly tableCount elements (a push onto [] would reserve room for 17)
    tableGpas = new Array<number>(f.tableCount);
    for (let i = 0; i < f.tableCount; i++) tableGpas[i] = f.tableGpas[i];
  }
  return {
    outcome: tableGpas === undefined
      ? { _tag: 'translated', hpa: f.hpa, pageSize: f.pageSize }
      : { _tag: 'translated', hpa: f.hpa, pageSize: f.pageSize, walked: { gpa: f.gpa, tableGpas } },
    caches: f.caches, mem: f.mem, tlbLevel: f.tlbLevel, stats: f.stats, pmlIndex: f.pmlIndex,
  };
};

/**
 * Translate `gla` for one access. Pure: the caches and memory come back new; the inputs stay valid.
 */
export const translate = (
  caches: MmuCaches, mem: Phys.PhysMem, ctx: TranslateContext, gla: Gva, access: W2.Walk2dAccess,
): TranslateResult => translateImpl(caches, mem, ctx, gla, access, true);

/** `translate` without its fast path (every TLB miss walks with walk2d): the reference the fast path is tested
 * against (tests/mmu/translateFast.test.ts). */
export const translateReference = (
  caches: MmuCaches, mem: Phys.PhysMem, ctx: TranslateContext, gla: Gva, access: W2.Walk2dAccess,
): TranslateResult => translateImpl(caches, mem, ctx, gla, access, false);

const translateImpl = (
  caches: MmuCaches, mem: Phys.PhysMem, ctx: TranslateContext, gla: Gva, access: W2.Walk2dAccess, useFast: boolean,
): TranslateResult => {
  const cfg = ctx.walk;
  const ept = cfg.ept;
  const ep4ta = ep4taOf(cfg);
  const { vpid, pcid } = ctx;
  const addr = gla as number;

  // 1-3. L1, STLB, and the walk's common case (`translateFast`); anything else walks again in full (walk2d) from the
  // same inputs: the fast path changes nothing until it has succeeded.
  const fast = translateFast(caches, mem, ctx, gla, access, useFast);
  if (fast === null) return resultOfFastOut();
  if (fast !== undefined) return fast;
  let psc = caches.psc;
  let nested = caches.nested;
  const pscHits: [number, number, number, number] = [0, 0, 0, 0];
  let start: W2.Walk2dOptions['start'];
  const rootLevel = cfg.guest === null ? 0 : cfg.guest.la57 ? 5 : 4;
  let startRights = FL_RW | FL_US | FL_X;
  if (cfg.guest !== null) {
    const ph = Psc.lookup(psc, rootLevel, addr, vpid, pcid, ep4ta);
    if (ph >= 0) {
      const level = Psc.hitLevel(ph);
      startRights = Psc.hitRights(psc, ph);
      start = {
        level: level - 1, table: mkGpa(Psc.hitTable(psc, ph)),
        user: (startRights & FL_US) !== 0, writable: (startRights & FL_RW) !== 0, xd: (startRights & FL_X) === 0,
      };
      pscHits[level - 2] = 1;
      psc = Psc.touchHit(psc, ph);
    }
  }
  let nestedHits = 0;
  let nestedLookups = 0;
  const nestedOn = ept !== null && nested.sets > 0;
  const nestedLookup = nestedOn
    ? (gpaPage: number, guestLevel: number | null): number | undefined => {
      if (guestLevel === null) return undefined;
      nestedLookups++;
      const nh = NestedTlb.lookup(nested, ep4ta, gpaPage);
      if (nh < 0) return undefined;
      nestedHits++;
      const hpa = NestedTlb.hitHpa(nested, nh, gpaPage);
      nested = NestedTlb.touchHit(nested, nh);
      return hpa;
    }
    : undefined;
  const r = W2.walk2d(mem, cfg, gla, access, { start, nestedLookup });
  const guestRefs = r.counts.guest;
  const nestedRefs = r.counts.nested;
  const pscHitCount = pscHits[0] + pscHits[1] + pscHits[2] + pscHits[3];
  const stats: TranslationStats = Cost.stats(
    1, 0, 0, 1, guestRefs, nestedRefs, pscHits, nestedHits, nestedLookups, guestRefs + nestedRefs,
    Cost.cyclesOf(ctx.cost, null, guestRefs, nestedRefs, pscHitCount, nestedHits),
  );
  const o = r.outcome;
  let tlb = caches.tlb;
  let outcome: TranslateOutcome;
  switch (o._tag) {
    case 'translated': {
      const entries = o.guestEntries;
      const hpas = r.guestEntryHpa;
      wr.count = entries.length;
      for (let i = 0; i < entries.length; i++) {
        const g = entries[i];
        wr.gpa[i] = g.gpa; wr.level[i] = g.level; wr.lo[i] = g.lo; wr.hi[i] = g.hi; wr.hpa[i] = i < hpas.length ? hpas[i] : NaN;
        wr.nestedHit[i] = -1;
      }
      const e = o.ept;
      const eptX = e === null ? true : ept !== null && ept.mbec && o.user ? e.ux : e.x;
      const eptRights = (e === null || e.r ? FL_EPT_R : 0) | (e === null || e.w ? FL_EPT_W : 0) | (eptX ? FL_EPT_X : 0);
      const filled = fillAfterWalk(caches, psc, nested, ctx, addr, access.kind, o.hpa as number, o.pageSize, o.user, o.writable, o.xd, eptRights, startRights, 0);
      tlb = filled.tlb;
      psc = filled.psc;
      nested = filled.nested;
      outcome = { _tag: 'translated', hpa: o.hpa as number, pageSize: o.pageSize, walked: { gpa: o.gpa as number, tableGpas: entries.map((g) => g.gpa as number) } };
      break;
    }
    case 'ept-violation': {
      // SDM 28.3.3.1: an EPT violation invalidates the guest-physical mappings of the GPA and the combined mappings
      // of the linear address.
      const after = Inv.eptViolation({ tlb, psc, nested }, ep4ta, o.gpa as number,
        o.guestLevel === null ? { vpid, pcid, gva: addr } : undefined);
      tlb = after.tlb;
      psc = after.psc;
      nested = after.nested;
      outcome = o;
      break;
    }
    case 'guest-fault':
    case 'ept-misconfig':
    case 'pml-full':
      outcome = o;
      break;
    default: {
      const never: never = o;
      throw new Error(`unhandled walk outcome ${String(never)}`);
    }
  }
  const next: MmuCaches = tlb === caches.tlb && psc === caches.psc && nested === caches.nested
    ? caches : { tlb, psc, nested };
  return { outcome, caches: next, mem: r.mem, tlbLevel: null, stats, pmlIndex: r.pmlIndex };
};
