/**
 * EPT translation of one guest-physical address (hot path: numbers only, no bigint).
 *
 * Models: SDM Vol. 3C "EPT Translation Mechanism", "EPT Misconfigurations", "EPT Violations", "Prioritization of EPT
 * Misconfigurations and EPT Violations", "Accessed and Dirty Flags for EPT" and "Page-Modification Logging".
 * Walk top-down; at each entry: not present => violation; present but misconfigured => misconfiguration; a leaf
 * ends the walk. Permissions (the AND of R/W/X/UX over the entries used) are checked only after the leaf is found.
 * Then A/D flags are set (EPTP[6]), preceded by the PML-index check, and a clean-to-dirty transition is logged.
 * Leaves out: sub-page write permissions, shadow-stack accesses, guest-paging verification, #VE conversion (the
 * violation carries the suppress-#VE bit of the entry that ended the walk so a caller can decide).
 */

import { hiAddrMask, Hpa, hpa, LEVEL_INV, lowBits } from '../arch/addr';
import * as Phys from '../arch/phys';
import {
  EPTE_A, EPTE_D, EPTE_HI_SVE, EPTE_MT_SHIFT, EPTE_PS, EPTE_R, EPTE_RWX, EPTE_UX, EPTE_W, EPTE_X, EPTE_IPAT,
  isReservedEptMemType,
} from './entries';

export interface PmlState {
  /** HPA of the 4 KiB page-modification log (VMCS 0x200E) */
  readonly address: Hpa;
  /** PML index (VMCS 0x0812, 16-bit); the next free entry, counting down from 511 */
  readonly index: number;
}

export interface EptContext {
  /** EPTP bits N-1:12 */
  readonly root: Hpa;
  readonly levels: 4 | 5;
  /** EPTP[6]: accessed and dirty flags for EPT */
  readonly ad: boolean;
  /** secondary control "mode-based execute control for EPT" */
  readonly mbec: boolean;
  /** IA32_VMX_EPT_VPID_CAP[0]: execute-only translations supported */
  readonly executeOnly: boolean;
  /** IA32_VMX_EPT_VPID_CAP[17]: 1 GiB EPT pages */
  readonly pages1G: boolean;
  /** IA32_VMX_EPT_VPID_CAP[16]: 2 MiB EPT pages (default true) */
  readonly pages2M?: boolean;
  readonly maxPhyAddr: number;
  /** present when "enable PML" = 1 */
  readonly pml?: PmlState;
}

export type EptAccessKind = 'read' | 'write' | 'fetch';

export interface EptAccess {
  readonly kind: EptAccessKind;
  /** the linear address is a user-mode address (guest U/S = 1 at every level); selects bit 10 under MBEC */
  readonly user: boolean;
  /** an access to a guest paging-structure entry (treated as a write when EPT A/D flags are on) */
  readonly pagingStructure: boolean;
}

export type EptMisconfigReason = 'write-without-read' | 'execute-only-unsupported' | 'reserved-bit' | 'memory-type' | 'page-size';

export type EptResult =
  | {
      readonly _tag: 'ok';
      readonly hpa: Hpa;
      /** 1 = PTE (4 KiB), 2 = PDE (2 MiB), 3 = PDPTE (1 GiB) */
      readonly leafLevel: number;
      readonly pageSize: number;
      /** AND of the permission bits over every entry used */
      readonly r: boolean;
      readonly w: boolean;
      readonly x: boolean;
      readonly ux: boolean;
      readonly memType: number;
      readonly ipat: boolean;
      /** memory after A/D updates (and the PML write) */
      readonly mem: Phys.PhysMem;
      /** EPT entries read */
      readonly refs: number;
      /** PML index after this translation (when PML is on) */
      readonly pmlIndex?: number;
      /** GPA page logged to the PML, if any */
      readonly logged?: number;
    }
  | {
      readonly _tag: 'violation';
      readonly gpa: number;
      /** level of the entry that ended the walk */
      readonly level: number;
      readonly read: boolean;
      readonly write: boolean;
      readonly fetch: boolean;
      readonly readable: boolean;
      readonly writable: boolean;
      readonly executable: boolean;
      readonly userExecutable: boolean;
      readonly suppressVe: boolean;
      readonly refs: number;
    }
  | { readonly _tag: 'misconfig'; readonly gpa: number; readonly level: number; readonly reason: EptMisconfigReason; readonly refs: number }
  | { readonly _tag: 'pml-full'; readonly gpa: number; readonly refs: number };

/** Called for every EPT entry read, in order (address of the entry, EPT level 5..1). */
export type OnEptRef = (address: number, level: number) => void;

const TWO32 = 4294967296;

/** 2^(12 + 9 (level - 1)): the bytes one entry of `level` maps (index 1..5). */

/** Index of `gpa` in the EPT table at `level` (PML5 56:48 ... PT 20:12). */
export const eptIndex = (gpa: number, level: number): number => Math.floor(gpa * LEVEL_INV[level]) & 511;

/** Misconfiguration of one present entry, or null. SDM "EPT Misconfigurations". */
export const entryMisconfig = (ctx: EptContext, lo: number, hi: number, level: number): EptMisconfigReason | null =>
  misconfigOf(ctx, lo, hi, level, 0xfffff & ~(hiAddrMask(ctx.maxPhyAddr)));

const misconfigOf = (ctx: EptContext, lo: number, hi: number, level: number, hiRsvd: number): EptMisconfigReason | null => {
  const perm = lo & EPTE_RWX;
  // Write permission without read permission.
  if ((perm & (EPTE_R | EPTE_W)) === EPTE_W) return 'write-without-read';
  // Execute without read, when execute-only translations are not supported (MBEC: bit 10 counts too).
  if (!ctx.executeOnly && (perm & EPTE_R) === 0 && ((perm & EPTE_X) !== 0 || (ctx.mbec && (lo & EPTE_UX) !== 0))) {
    return 'execute-only-unsupported';
  }
  // Bits 51:N are reserved in every entry (N = MAXPHYADDR); hiRsvd holds them in the high word.
  if ((hi & hiRsvd) !== 0) return 'reserved-bit';
  const ps = (lo & EPTE_PS) !== 0;
  if (level >= 4) {
    // PML5E/PML4E: bits 7:3 reserved.
    if ((lo & 0xf8) !== 0) return 'reserved-bit';
    return null;
  }
  if (level === 1 || ps) {
    if (level === 3 && !ctx.pages1G) return 'page-size';
    if (level === 2 && ctx.pages2M === false) return 'page-size';
    // Frame bits below the page size are reserved: 29:12 for 1 GiB, 20:12 for 2 MiB.
    if (level === 3 && (lo & 0x3fff_f000) !== 0) return 'reserved-bit';
    if (level === 2 && (lo & 0x001f_f000) !== 0) return 'reserved-bit';
    if (isReservedEptMemType((lo >>> EPTE_MT_SHIFT) & 7)) return 'memory-type';
    return null;
  }
  // Non-leaf PDPTE/PDE: bits 6:3 reserved.
  if ((lo & 0x78) !== 0) return 'reserved-bit';
  return null;
};

// ---- memo of the upper levels ------------------------------------------------------------------------------------
/*
 * Not a modelled cache (the model has no EPT paging-structure caches; see the header): a memo of the simulator's own
 * work. For each 2 MiB region of guest-physical space it keeps what a walk found above the last level (the EPT page
 * table it reaches, the rights ANDed and the missing-A flag ORed over the entries above, their count), so a walk reads
 * the level-1 entry alone; every result is the one the whole walk gives. It is valid for one EPT context and one set
 * of upper-level table pages: those pages are watched (src/arch/phys.ts), a write to any of them drops the memo, and a
 * memory other than the last one asked about is accepted only when it holds the very same page objects for them (a
 * page is never changed without a write, and a write to a watched page drops the memo). Walks that report their
 * references (`onRef`) do not use it. Allocation-free on a hit.
 */
const MEMO_SLOTS = 4096;
const memo = {
  mem: null as Phys.PhysMem | null,
  /** the last context `memoFor` accepted (while it is asked about again, its fields need no comparing) */
  ctx: null as EptContext | null,
  epoch: -1,
  /** `mem`'s lineage when the memo last accepted it (src/arch/phys.ts `lineageOf`; -1: none) */
  line: -1,
  root: -1, levels: 0, maxPhyAddr: 0, mbec: false, executeOnly: false, pages1G: false, pages2M: undefined as boolean | undefined,
  /** per slot: the region (gpa / 2^21) it holds, or -1 */
  region: new Float64Array(MEMO_SLOTS).fill(-1),
  /** per slot: HPA of the EPT page table the region's PDE references */
  table: new Float64Array(MEMO_SLOTS),
  /** per slot: r | w << 1 | x << 2 | ux << 3 | missingA << 4 over the entries above the page table */
  bits: new Int32Array(MEMO_SLOTS),
  /** the upper-level table pages the entries were read from: pfn -> page */
  pages: new Map<number, Phys.Page>(),
};

/*
 * A memo over that one, for `eptLeafHpa`: per 4 KiB guest-physical page, what its level-1 entry gave (the page's frame,
 * the rights ANDed with the region's, whether every accessed flag and the dirty flag are set), so a page asked about
 * again skips the region lookup, the entry read and its checks. An answer is valid while the upper memo is (its
 * generation advances whenever the upper memo is emptied or takes a memory by comparing pages) and the EPT page table
 * it was read from has not been written since (each such table is watched with a write count: phys.ts
 * `watchLeafPage`; a first touch under demand paging writes one table, which drops that table's answers alone). Only
 * a present, well-formed entry is kept. 65,536 slots (1.8 MB): b-random's footprint (65,536 pages) fits; with 4,096 its
 * pages' answers evicted each other and the memo cost more than it saved.
 */
const LEAF_SLOTS = 65536;
const leafMemo = {
  gen: 1,
  slotGen: new Float64Array(LEAF_SLOTS),
  /** the index of the EPT page table the answer was read from (phys.ts `watchLeafPage`) and its write count then */
  table: new Int32Array(LEAF_SLOTS),
  version: new Int32Array(LEAF_SLOTS),
  page: new Float64Array(LEAF_SLOTS),
  frame: new Float64Array(LEAF_SLOTS),
  /** r | w << 1 | x << 2 | ux << 3 | (every accessed flag set, this entry's and those above) << 4 | (dirty) << 5 */
  bits: new Int32Array(LEAF_SLOTS),
};

const memoReset = (mem: Phys.PhysMem, ctx: EptContext): void => {
  leafMemo.gen++;
  Phys.unwatchLeafAll();
  memo.mem = mem;
  memo.root = ctx.root as number; memo.levels = ctx.levels; memo.maxPhyAddr = ctx.maxPhyAddr; memo.mbec = ctx.mbec;
  memo.executeOnly = ctx.executeOnly; memo.pages1G = ctx.pages1G; memo.pages2M = ctx.pages2M;
  memo.region.fill(-1);
  memo.pages.clear();
  Phys.unwatchAll();
  memo.epoch = Phys.watchEpoch();
  memo.line = Phys.lineageOf(mem);
};

/**
 * Make the memo answer for `mem` and `ctx` (emptied when it cannot). The caller skips the call in the commonest case,
 * the context and memory of the last one with no watched page written since (contexts are never changed once made).
 */
const memoFor = (mem: Phys.PhysMem, ctx: EptContext): void => {
  if (ctx.root !== memo.root || ctx.levels !== memo.levels || ctx.maxPhyAddr !== memo.maxPhyAddr || ctx.mbec !== memo.mbec ||
    ctx.executeOnly !== memo.executeOnly || ctx.pages1G !== memo.pages1G || ctx.pages2M !== memo.pages2M ||
    Phys.watchEpoch() !== memo.epoch) {
    memoReset(mem, ctx);
    memo.ctx = ctx;
    return;
  }
  memo.ctx = ctx;
  if (mem === memo.mem) return;
  // a memory written from the last one (every write is a new memory object): its watched pages are the same objects,
  // since a write to one advanced the epoch (checked above). (The loop below was ~650 instructions a call, about 0.17
  // calls per event on b-random, where a page's first touch writes memory several times.)
  const line = Phys.lineageOf(mem);
  if (line >= 0 && line === memo.line) { memo.mem = mem; return; }
  for (const [pfn, pg] of memo.pages) {
    if (Phys.page(mem, pfn) !== pg) { memoReset(mem, ctx); return; }
  }
  memo.mem = mem;
  memo.line = Phys.lineageOf(mem);
  // (its EPT page tables may differ from the last memory's)
  leafMemo.gen++;
};

/** Remember the table pages of entries just read (pfns of the upper levels) and what they gave for `region`. */
const memoFill = (mem: Phys.PhysMem, region: number, table: number, bits: number, tablePfns: Float64Array, count: number): void => {
  for (let i = 0; i < count; i++) {
    const pfn = tablePfns[i];
    if (memo.pages.has(pfn)) continue;
    const pg = Phys.page(mem, pfn);
    if (pg === undefined) return; // an entry read from a page never written (all zero) is not present: not memoized
    memo.pages.set(pfn, pg);
    Phys.watchPage(pfn);
  }
  const slot = region & (MEMO_SLOTS - 1);
  memo.region[slot] = region;
  memo.table[slot] = table;
  memo.bits[slot] = bits;
};

/** Page frames of the upper-level tables of the walk in progress (levels above 1, top-down). */
const walkPfns = new Float64Array(5);

/** Outcomes of `eptWalk` (the walk part of `eptTranslate`, before A/D updates). */
export const EW_OK = 0;
export const EW_NOT_PRESENT = 1;
export const EW_MISCONFIG = 2;
export const EW_DENIED = 3;

/**
 * What `eptWalk` found, written in place (one record for the whole process, read right after each call: no
 * allocation per walk). Fields are valid for the outcome returned: all of them for EW_OK / EW_DENIED, `level`, `hi`
 * and `refs` for EW_NOT_PRESENT, `level`, `refs` and `reason` for EW_MISCONFIG.
 */
export interface EptWalkOut {
  /** level of the entry that ended the walk (the leaf on EW_OK) */
  level: number;
  lo: number;
  hi: number;
  /** AND of R, W, X, UX over the entries used (1 or 0) */
  r: number;
  w: number;
  x: number;
  ux: number;
  refs: number;
  /** some entry used had A = 0 (only meaningful with EPT A/D on) */
  missingA: boolean;
  reason: EptMisconfigReason | null;
  /** EW_OK: the host-physical address and the page size of the leaf */
  hpa: number;
  pageSize: number;
}
export const eptOut: EptWalkOut = {
  level: 0, lo: 0, hi: 0, r: 0, w: 0, x: 0, ux: 0, refs: 0, missingA: false, reason: null, hpa: 0, pageSize: 0,
};

/**
 * Walks EPT for `gpa` without changing anything: the entries top-down, not present => EW_NOT_PRESENT, misconfigured
 * => EW_MISCONFIG, then the permissions of the whole translation => EW_DENIED or EW_OK. Results in `eptOut`.
 * `asRead` / `asWrite` / `isFetch` are the access as EPT sees it (a guest paging-structure access with EPT A/D on is
 * a write: the caller decides). Allocation-free.
 */
export const eptWalk = (
  mem: Phys.PhysMem, ctx: EptContext, gpa: number, asRead: boolean, asWrite: boolean, isFetch: boolean, user: boolean,
  onRef?: OnEptRef,
): number => {
  const o = eptOut;
  const hiAddr = hiAddrMask(ctx.maxPhyAddr);
  const hiRsvd = 0xfffff & ~hiAddr;
  let missingA = false;
  let table = ctx.root as number;
  let r = 1;
  let w = 1;
  let x = 1;
  let ux = 1;
  let refs = 0;
  let level = ctx.levels as number;
  let lo = 0;
  let hi = 0;
  const useMemo = onRef === undefined;
  const region = Math.floor(gpa / 0x20_0000);
  if (useMemo) {
    if (ctx !== memo.ctx || mem !== memo.mem || Phys.watchEpoch() !== memo.epoch) memoFor(mem, ctx);
    const slot = region & (MEMO_SLOTS - 1);
    if (memo.region[slot] === region) {
      // the entries above the page table, as the last walk through this region read them
      const b = memo.bits[slot];
      table = memo.table[slot];
      r = b & 1; w = (b >>> 1) & 1; x = (b >>> 2) & 1; ux = (b >>> 3) & 1; missingA = (b & 16) !== 0;
      refs = level - 1;
      level = 1;
    }
  }
  for (;;) {
    if (level === 1 && useMemo && refs === ctx.levels - 1 && memo.region[region & (MEMO_SLOTS - 1)] !== region) {
      memoFill(mem, region, table, r | (w << 1) | (x << 2) | (ux << 3) | (missingA ? 16 : 0), walkPfns, refs);
    }
    const addr = table + 8 * eptIndex(gpa, level);
    // (4096, not PAGE_SIZE: a division by a literal power of two compiles to a multiplication, by an imported constant
    // to a division)
    const pfn = Math.floor(addr / 4096);
    // one page lookup for both words of the entry (8-byte aligned: never crosses a page)
    const pg = Phys.page(mem, pfn);
    const wi = (addr & 0xfff) >>> 2;
    lo = pg === undefined ? 0 : pg[wi];
    hi = pg === undefined ? 0 : pg[wi + 1];
    if (level > 1) walkPfns[refs] = pfn;
    refs++;
    if (onRef !== undefined) onRef(addr, level);
    if ((lo & EPTE_A) === 0) missingA = true;
    r &= lo & EPTE_R;
    w &= (lo & EPTE_W) >>> 1;
    x &= (lo & EPTE_X) >>> 2;
    ux &= (lo & EPTE_UX) >>> 10;
    o.level = level; o.lo = lo; o.hi = hi; o.refs = refs;
    // SDM "EPT Translation Mechanism": bits 2:0 = 0 (and bit 10 = 0 under MBEC) means not present.
    const present = (lo & EPTE_RWX) !== 0 || (ctx.mbec && (lo & EPTE_UX) !== 0);
    if (!present) return EW_NOT_PRESENT;
    const bad = misconfigOf(ctx, lo, hi, level, hiRsvd);
    if (bad !== null) { o.reason = bad; return EW_MISCONFIG; }
    if (level === 1 || (level <= 3 && (lo & EPTE_PS) !== 0)) break;
    table = ((lo & 0xffff_f000) >>> 0) + (hi & hiAddr) * TWO32;
    level--;
  }
  o.r = r; o.w = w; o.x = x; o.ux = ux; o.missingA = missingA;
  const size = level === 1 ? 4096 : level === 2 ? 0x20_0000 : 0x4000_0000;
  const frameLo = level === 1 ? lo & 0xffff_f000 : level === 2 ? lo & 0xffe0_0000 : lo & 0xc000_0000;
  o.hpa = (frameLo >>> 0) + (hi & hiAddr) * TWO32 + lowBits(gpa, size);
  o.pageSize = size;
  // SDM "EPT Violations": permissions are the AND over every entry used.
  const denied =
    (asRead && r === 0) ||
    (asWrite && w === 0) ||
    (isFetch && (ctx.mbec && user ? ux === 0 : x === 0));
  return denied ? EW_DENIED : EW_OK;
};

/**
 * `eptWalk` for the direct TLB-miss path (src/mmu/direct.ts), when the walk ends in a leaf that allows the access and
 * needs no EPT A/D flag set: the host-physical address of `gpa`, with `eptOut.r`, `w`, `x`, `ux` and `refs` as
 * eptWalk sets them. -1 in every other case (not present, misconfigured, denied, A/D flags to set: the caller then
 * takes eptWalk's path, which reports it; nothing changed). A region the memo holds reads its level-1 entry alone and
 * writes no other `eptOut` field; any other region walks with eptWalk (which fills the memo). Allocation-free. Its
 * constants are literals (an imported constant is a load in optimized code; src/mmu/direct.ts checks the same values).
 */
export const eptLeafHpa = (
  mem: Phys.PhysMem, ctx: EptContext, gpa: number, asRead: boolean, asWrite: boolean, isFetch: boolean, user: boolean,
): number => {
  const o = eptOut;
  if (ctx !== memo.ctx || mem !== memo.mem || Phys.watchEpoch() !== memo.epoch) memoFor(mem, ctx);
  const lm = leafMemo;
  const pageNo = Math.floor(gpa / 4096);
  const ls = pageNo & (LEAF_SLOTS - 1);
  if (lm.slotGen[ls] !== lm.gen || lm.page[ls] !== pageNo || Phys.leafVersions()[lm.table[ls]] !== lm.version[ls]) {
    // not in the memo of level-1 answers: the entry, below the memo of the upper levels
    const region = Math.floor(gpa / 0x20_0000);
    const slot = region & (MEMO_SLOTS - 1);
    if (memo.region[slot] !== region) {
      const st = eptWalk(mem, ctx, gpa, asRead, asWrite, isFetch, user);
      return st === EW_OK && !eptNeedsAd(ctx, asWrite) ? o.hpa : -1;
    }
    const b = memo.bits[slot];
    const addr = memo.table[slot] + 8 * (pageNo & 511);
    const pg = Phys.page(mem, Math.floor(addr / 4096));
    const wi = (addr & 0xfff) >>> 2;
    const lo = pg === undefined ? 0 : pg[wi];
    const hi = pg === undefined ? 0 : pg[wi + 1];
    // SDM "EPT Translation Mechanism": not present; then "EPT Misconfigurations" of a PTE
    if ((lo & 7 /* EPTE_RWX */) === 0 && !(ctx.mbec && (lo & 0x400 /* EPTE_UX */) !== 0)) return -1;
    const hiAddr = hiAddrMask(ctx.maxPhyAddr);
    // a readable PTE is misconfigured only by reserved address bits or a reserved memory type (2, 3, 7: the bits of
    // 0x8c); any other is checked in full
    if ((lo & 0x1 /* EPTE_R */) !== 0
      ? (hi & 0xfffff & ~hiAddr) !== 0 || ((0x8c >>> ((lo >>> 3 /* EPTE_MT_SHIFT */) & 7)) & 1) !== 0
      : misconfigOf(ctx, lo, hi, 1, 0xfffff & ~hiAddr) !== null) return -1;
    // its answer, kept for this page (its table watched from now on): the rights ANDed over the entries above (memo
    // bits 0-3) and this one, an accessed flag missing above (memo bit 4) or here, the dirty flag
    const ti = Phys.watchLeafPage(Math.floor(addr / 4096));
    lm.slotGen[ls] = lm.gen; lm.page[ls] = pageNo; lm.table[ls] = ti; lm.version[ls] = Phys.leafVersions()[ti];
    lm.frame[ls] = (((lo & 0xffff_f000) >>> 0) + (hi & hiAddr) * 4294967296 /* TWO32 */) / 4096;
    lm.bits[ls] = (b & lo & 0x1 /* EPTE_R */) | (b & lo & 0x2 /* EPTE_W */) | (b & lo & 0x4 /* EPTE_X */) |
      (b & (lo >>> 7) & 0x8 /* EPTE_UX (bit 10) as bit 3 */) |
      ((b & 16) === 0 && (lo & 0x100 /* EPTE_A */) !== 0 ? 16 : 0) | ((lo & 0x200 /* EPTE_D */) !== 0 ? 32 : 0);
  }
  const lb = lm.bits[ls];
  const r = lb & 1;
  const w = (lb >>> 1) & 1;
  const x = (lb >>> 2) & 1;
  const ux = (lb >>> 3) & 1;
  if ((asRead && r === 0) || (asWrite && w === 0) || (isFetch && (ctx.mbec && user ? ux === 0 : x === 0))) return -1;
  // SDM "Accessed and Dirty Flags for EPT": an accessed flag to set in any entry, or the dirty flag on a write
  if (ctx.ad && ((lb & 16) === 0 || (asWrite && (lb & 32) === 0))) return -1;
  o.r = r; o.w = w; o.x = x; o.ux = ux; o.refs = ctx.levels;
  return lm.frame[ls] * 4096 + (gpa & 0xfff);
};

/** Would a successful translation (`eptWalk` gave EW_OK) write EPT A/D flags? (Then `eptTranslate` must run.) */
export const eptNeedsAd = (ctx: EptContext, asWrite: boolean): boolean =>
  ctx.ad && (eptOut.missingA || (asWrite && (eptOut.lo & EPTE_D) === 0));

/**
 * Translates `gpa` through EPT. Pure: `mem` is not changed; the A/D updates come back in the result.
 * `onRef` sees every entry read (for the two-dimensional walk's reference list).
 */
export const eptTranslate = (mem: Phys.PhysMem, ctx: EptContext, gpa: number, access: EptAccess, onRef?: OnEptRef): EptResult => {
  // SDM "Accessed and Dirty Flags for EPT": with EPT A/D on, guest paging-structure accesses count as writes.
  const asWrite = access.kind === 'write' || (access.pagingStructure && ctx.ad);
  const asRead = access.kind === 'read' || (access.pagingStructure && ctx.ad);
  const isFetch = access.kind === 'fetch';
  return eptResultOf(eptWalk(mem, ctx, gpa, asRead, asWrite, isFetch, access.user, onRef), mem, ctx, gpa, asRead, asWrite, isFetch);
};

/**
 * `eptTranslate`'s result from the walk `eptWalk` just made (its outcome `st`, the rest in `eptOut`, which nothing may
 * have overwritten since) with the same `asRead`, `asWrite` and `isFetch`: a caller that walked already to find out
 * what the walk meets gets the result without a second walk. Pure, as eptTranslate.
 */
export const eptResultOf = (
  st: number, mem: Phys.PhysMem, ctx: EptContext, gpa: number, asRead: boolean, asWrite: boolean, isFetch: boolean,
): EptResult => {
  const hiAddr = hiAddrMask(ctx.maxPhyAddr);
  const o = eptOut;
  const { level, lo, hi, refs } = o;
  if (st === EW_NOT_PRESENT) {
    return {
      _tag: 'violation', gpa, level, read: asRead, write: asWrite, fetch: isFetch,
      readable: false, writable: false, executable: false, userExecutable: false,
      suppressVe: (hi & EPTE_HI_SVE) !== 0, refs,
    };
  }
  if (st === EW_MISCONFIG) return { _tag: 'misconfig', gpa, level, reason: o.reason!, refs };
  const { r, w, x, ux, missingA } = o;
  if (st === EW_DENIED) {
    return {
      _tag: 'violation', gpa, level, read: asRead, write: asWrite, fetch: isFetch,
      readable: r === 1, writable: w === 1, executable: x === 1, userExecutable: ctx.mbec && ux === 1,
      suppressVe: (hi & EPTE_HI_SVE) !== 0, refs,
    };
  }
  const size = o.pageSize;
  const out = o.hpa;
  let m = mem;
  let pmlIndex = ctx.pml?.index;
  let logged: number | undefined;
  if (ctx.ad && (missingA || (asWrite && (lo & EPTE_D) === 0))) {
    // SDM "Accessed and Dirty Flags for EPT": A in every entry used, D in the leaf on a write.
    const setD = asWrite && (lo & EPTE_D) === 0;
    // SDM "Page-Modification Logging": the index is checked before any EPT A/D flag is set.
    if (ctx.pml !== undefined && !(ctx.pml.index >= 0 && ctx.pml.index <= 511)) return { _tag: 'pml-full', gpa, refs };
    // the same entries again, top-down (memory is unchanged since they were read)
    let t = ctx.root as number;
    for (let l = ctx.levels as number; l >= level; l--) {
      const a = t + 8 * eptIndex(gpa, l);
      const elo = Phys.read64Lo(mem, a);
      const ehi = Phys.read64Hi(mem, a);
      const nlo = (elo | EPTE_A | (l === level && setD ? EPTE_D : 0)) >>> 0;
      if (nlo !== elo) m = Phys.write64Parts(m, a, nlo, ehi);
      t = ((elo & 0xffff_f000) >>> 0) + (ehi & hiAddr) * TWO32;
    }
    if (setD && ctx.pml !== undefined) {
      const page = gpa - (gpa & 0xfff);
      m = Phys.write64Parts(m, ctx.pml.address + 8 * ctx.pml.index, page % TWO32, Math.floor(page / TWO32));
      logged = page;
      pmlIndex = ctx.pml.index === 0 ? 0xffff : ctx.pml.index - 1;
    }
  }
  return {
    _tag: 'ok', hpa: hpa(out), leafLevel: level, pageSize: size,
    r: r === 1, w: w === 1, x: x === 1, ux: ux === 1,
    memType: (lo >>> EPTE_MT_SHIFT) & 7, ipat: (lo & EPTE_IPAT) !== 0,
    mem: m, refs, pmlIndex, logged,
  };
};
