/**
 * The direct path of a translation: the commonest case of src/mmu/translate.ts `translateFast`, as one function over
 * the raw arrays of the caches.
 *
 * Models nothing of its own: it gives exactly what translateFast gives (same hits, references, LRU updates, fills,
 * statistics), for guest IA-32e paging under EPT with a nested TLB, inside a transient scope (src/arch/transient.ts)
 * that already owns every cache array the access writes, when the TLBs hold 4 KiB translations only and the access
 * (a) hits the L1 TLB or the STLB with rights that allow it, or (b) misses both and walks to a 4 KiB guest page
 * through present entries whose guest-table pages EPT translates with no A/D flag to set, and an EPT translation of
 * the page that allows the access (the guest and EPT accessed and dirty flags the access needs are set, as missFast
 * sets them), or (c) misses both and meets a guest page fault (a not-present entry, or rights that refuse the access):
 * DIRECT_FAULT, or (d) misses both and walks to a guest-physical address that EPT does not map or allow:
 * DIRECT_VIOLATION (translate.ts `directResult` makes the result of (c) and (d)). In every other case it returns
 * before it has changed anything, and translateFast takes over (told, when it is so, that the L1 TLB and the STLB hold
 * no entry for the access).
 * Why it exists: the same steps as translateFast's lookups, `missFast` and `fillAfterWalk` made about 17 calls per
 * TLB miss, each reloading the arrays' fields and decoding hit numbers; here each array is read once and the scans,
 * touches and fills are inline (9,529 -> 6,104 instructions per event on the walks-only benchmark b-warm). Cases (c)
 * and (d) and the flags of (b) are a page's first touch under demand paging (its not-present PTE; after the guest OS
 * mapped it, the EPT violation; after the hypervisor EPT-mapped it, the clear accessed flags) and its first write:
 * missFast walked each again.
 * tests/mmu/translateFast.test.ts compares both paths with the reference walk (walk2d), and tests/mmu/direct.test.ts
 * checks that this path is the one taken.
 */

import { hiAddrMask, LEVEL_INV } from '../arch/addr';
import '../arch/jit'; // V8's inlining budget, which this module's large function needs (src/arch/jit.ts)
import * as Phys from '../arch/phys';
import { scope } from '../arch/transient';
import * as Entries from '../ept/entries';
import * as Ept from '../ept/walk';
import * as Guest from '../guest/paging';
import * as Cost from './cost';
import { allows, fastOut, putOut, type TranslateContext } from './fastOut';
import type { MmuCaches } from './invalidate';
import * as Tlb from './tlb';
import type { CacheArray } from './tlb';
import type * as W2 from './walk2d';

/*
 * The code below writes constants as literals with their names beside them: an imported constant (or a module-level
 * const) is a load in optimized code (tsc's CommonJS output assigns every export twice, so V8 does not treat the
 * field as constant), a literal is folded into the instruction. They are checked against their definitions when the
 * module loads. The identities (valid, kind and size bits) are ID_COMBINED 5 (a 4 KiB combined mapping), ID_GPA 7 (a
 * guest-physical one) and ID_PSC 9 (a paging-structure-cache entry).
 */
const LITERALS: ReadonlyArray<readonly [string, number, number]> = [
  ['FL_GLOBAL', 0x40, Tlb.FL_GLOBAL], ['FL_RW', 0x80, Tlb.FL_RW], ['FL_US', 0x100, Tlb.FL_US], ['FL_X', 0x200, Tlb.FL_X],
  ['FL_DIRTY', 0x400, Tlb.FL_DIRTY], ['FL_EPT_R', 0x800, Tlb.FL_EPT_R], ['FL_EPT_W', 0x1000, Tlb.FL_EPT_W],
  ['FL_EPT_X', 0x2000, Tlb.FL_EPT_X], ['FL_PIECE_1G', 0x4000, Tlb.FL_PIECE_1G], ['IDENT_MASK', 0x3f, Tlb.IDENT_MASK],
  ['ID_COMBINED', 5, Tlb.flagsOf(Tlb.KIND_COMBINED, Tlb.SIZE_4K, 0) & Tlb.IDENT_MASK],
  ['ID_GPA', 7, Tlb.flagsOf(Tlb.KIND_GPA, Tlb.SIZE_4K, 0) & Tlb.IDENT_MASK],
  ['ID_PSC', 9, Tlb.flagsOf(Tlb.KIND_PSC, Tlb.SIZE_4K, 0) & Tlb.IDENT_MASK],
  ['A_L1D_4K', 0, Tlb.A_L1D_4K], ['A_L1D_2M', 1, Tlb.A_L1D_2M], ['A_L1D_1G', 2, Tlb.A_L1D_1G], ['A_L1I_4K', 3, Tlb.A_L1I_4K],
  ['A_L1I_2M', 4, Tlb.A_L1I_2M], ['A_STLB', 5, Tlb.A_STLB], ['A_STLB_1G', 6, Tlb.A_STLB_1G],
  ['PTE_P', 0x1, Guest.PTE_P], ['PTE_RW', 0x2, Guest.PTE_RW], ['PTE_US', 0x4, Guest.PTE_US], ['PTE_A', 0x20, Guest.PTE_A],
  ['PTE_D', 0x40, Guest.PTE_D], ['PFEC_P', 0x1, Guest.PFEC.P], ['PTE_PS', 0x80, Guest.PTE_PS], ['PTE_HI_XD', 0x8000_0000, Guest.PTE_HI_XD],
  ['TWO32', 4294967296, 2 ** 32],
  // the literals of src/ept/walk.ts `eptLeafHpa`
  ['EPTE_R', 0x1, Entries.EPTE_R], ['EPTE_W', 0x2, Entries.EPTE_W], ['EPTE_X', 0x4, Entries.EPTE_X], ['EPTE_RWX', 7, Entries.EPTE_RWX], ['EPTE_UX', 0x400, Entries.EPTE_UX],
  ['EW_OK', 0, Ept.EW_OK], ['EW_NOT_PRESENT', 1, Ept.EW_NOT_PRESENT], ['EW_DENIED', 3, Ept.EW_DENIED], ['EPTE_A', 0x100, Entries.EPTE_A], ['EPTE_D', 0x200, Entries.EPTE_D], ['EPTE_MT_SHIFT', 3, Entries.EPTE_MT_SHIFT],
];
for (const [name, literal, value] of LITERALS) {
  if (literal !== value) throw new Error(`src/mmu/direct.ts: the literal for ${name} is ${literal}, the constant ${value}`);
}

/**
 * tlb.ts `insertAbsent` into an array that the current scope owns: the entry replaces the tail of its set's recency
 * list (a free entry, else the least recently used) and becomes the head. (The caller counts its writes once:
 * `Tlb.noteWrite`.) tlb.ts `putAt` does the same through `writable` and `toFront`; written out here, with the
 * victim known to be the tail, it is ~230 instructions per event fewer on b-warm than a shared function (measured).
 */
const putTail = (arr: CacheArray, set: number, flags: number, key: number, vpid: number, pcid: number, ep4ta: number, value: number): void => {
  const d = arr.data;
  const m = arr.meta;
  const n = arr.n;
  const h = 5 * n + set;
  const at = m[3 * n + m[h]];
  const oldValid = m[at] !== 0;
  const oldKey = d[at];
  m[at] = flags; d[at] = key; m[n + at] = vpid; m[2 * n + at] = pcid; d[n + at] = ep4ta; d[2 * n + at] = value;
  if (arr.buckets !== 0) {
    // the displaced entry leaves its bucket, the new one joins its own and is that bucket's slot (tlb.ts `putAt`)
    const base = 5 * n + arr.sets;
    if (oldValid && --m[base + (oldKey & (arr.buckets - 1))] === 1) Tlb.reslot(arr, oldKey);
    const b = base + (key & (arr.buckets - 1));
    m[b]++;
    m[b + arr.buckets] = at;
  }
  // the tail of a circular list becomes its head by moving the head pointer alone (tlb.ts `toFront`)
  m[h] = at;
  if ((arr.sizes & 1) === 0) (arr as { sizes: number }).sizes = arr.sizes | 1;
};

/** Makes entry `e` of `set` the most recently used (tlb.ts `touch`, in place). */
const touchIn = (arr: CacheArray, set: number, e: number): void => {
  if (arr.meta[5 * arr.n + set] !== e) Tlb.toFront(arr.meta, arr.n, set, e);
};

/** The guest entries of the walk in progress (one record for the process), and the nested-TLB entries it hit. */
const walked = {
  gpa: new Float64Array(5), lo: new Float64Array(5), hi: new Float64Array(5), hpa: new Float64Array(5),
  level: new Int32Array(5),
  /** 1 when the entry's page was found in the nested TLB, 0 when it was looked up and not found */
  known: new Int32Array(5),
  /** the nested-TLB entries hit, in walk order, and their sets */
  used: new Int32Array(5), usedSet: new Int32Array(5),
};

/**
 * A walk that ends in a guest page fault or an EPT violation: its paging-structure-cache hit (when not its set's most
 * recently used entry) and its nested-TLB hits (`walked.used`, in walk order) made most recently used, and the write
 * counted when one may have changed an array.
 */
const touchHits = (
  pArr: CacheArray | null, pSet: number, pEntry: number, pscTouch: boolean, nt: CacheArray, nestedHits: number, nestedWrite: boolean,
): void => {
  if (pArr !== null && pscTouch) touchIn(pArr, pSet, pEntry);
  for (let i = 0; i < nestedHits; i++) touchIn(nt, walked.usedSet[i], walked.used[i]);
  if (pscTouch || nestedWrite) Tlb.noteWrite();
};

/** `translateDirect` translated: the translation is in `fastOut`. */
export const DIRECT_DONE = 1;
/** `translateDirect` changed nothing; translateFast must run. */
export const DIRECT_NO = 0;
/**
 * `translateDirect` changed nothing, having found no entry for the access in the L1 TLB and the STLB (lookupL1 and
 * lookupStlb would find none): translateFast walks without those lookups.
 */
export const DIRECT_TLB_MISS = 2;
/**
 * `translateDirect` met a guest page fault (SDM "Page-Fault Exceptions"), with the L1 TLB and the STLB holding no entry
 * for the access: the walk's cache hits were made most recently used, nothing else changed (no fill, no flag set), the
 * walk's statistics are in `fastOut.stats` and the error code in `directFault`.
 */
export const DIRECT_FAULT = 3;

/** The page-fault error code of the last DIRECT_FAULT. */
export const directFault = { errorCode: 0 };
/**
 * `translateDirect` walked to a guest-physical address that EPT does not map or does not allow (SDM "EPT
 * Violations"), with the L1 TLB and the STLB holding no entry for the access: the walk's cache hits were made most
 * recently used, nothing else changed, the walk's statistics are in `fastOut.stats` and the violation in
 * `directViolation` (translate.ts makes the result and the invalidation of SDM 28.3.3.1).
 */
export const DIRECT_VIOLATION = 4;

/** The last DIRECT_VIOLATION: eptTranslate's violation, and the guest's rights for the qualification's advanced bits. */
export const directViolation = {
  v: undefined as Extract<Ept.EptResult, { _tag: 'violation' }> | undefined, user: false, writable: false, xd: false,
};

/**
 * translateFast for the case in the module header: DIRECT_DONE, DIRECT_NO or DIRECT_TLB_MISS. `addr` is the linear
 * address (not negative).
 */
export const translateDirect = (caches: MmuCaches, mem: Phys.PhysMem, ctx: TranslateContext, addr: number, access: W2.Walk2dAccess): number => {
  const cfg = ctx.walk;
  const g = cfg.guest;
  const ept = cfg.ept;
  const own = scope();
  if (g === null || ept === null || own === null || addr < 0) return DIRECT_NO;
  const kind = access.kind;
  const user = access.user;
  const fetch = kind === 'fetch';
  const arrays = caches.tlb.arrays;
  const l1 = arrays[fetch ? 3 /* A_L1I_4K */ : 0 /* A_L1D_4K */];
  const st = arrays[5 /* A_STLB */];
  const nt = caches.nested;
  // 4 KiB translations only (lookupL1 / lookupStlb then probe no other array)
  const otherSizes = fetch
    ? arrays[4 /* A_L1I_2M */].sizes & 2
    : (arrays[1 /* A_L1D_2M */].sizes & 2) | (arrays[2 /* A_L1D_1G */].sizes & 4);
  if (otherSizes !== 0 || (st.sizes & 2) !== 0 || (arrays[6 /* A_STLB_1G */].sizes & 4) !== 0) return DIRECT_NO;
  // power-of-two set counts (every preset): a key's set is its low bits (tlb.ts `setOf`)
  if (l1.ways === 0 || st.ways === 0 || nt.ways === 0 || (l1.sets & (l1.sets - 1)) !== 0 || (st.sets & (st.sets - 1)) !== 0 ||
    (nt.sets & (nt.sets - 1)) !== 0) return DIRECT_NO;
  const { vpid, pcid } = ctx;
  const ep4ta = Math.floor(ept.root / 4096);
  const f = fastOut;
  const key = Math.floor(addr / 4096);

  // 1. L1 TLB (translateFast step 1)
  const lset = key & (l1.sets - 1);
  const le = Tlb.findEntry(l1, lset, key, 5 /* ID_COMBINED */, vpid, pcid, ep4ta);
  if (le >= 0) {
    if (!allows(l1.meta[le], kind, user, g.wp, g.smep === true)) return DIRECT_NO;
    if (l1.meta[5 * l1.n + lset] !== le) {
      if (l1.owner !== own) return DIRECT_NO;
      touchIn(l1, lset, le);
      Tlb.noteWrite();
    }
    f.hpa = l1.data[2 * l1.n + le] * 4096 + (addr & 0xfff);
    f.pageSize = 4096;
    putOut(caches, mem, Cost.hitStats(ctx.cost, 'l1'));
    f.tlbLevel = 'l1'; f.pmlIndex = undefined; f.walked = false;
    return DIRECT_DONE;
  }
  // 2. STLB; a hit is copied into the L1 (which holds no entry of this identity: the lookup above found none)
  const sset = key & (st.sets - 1);
  const se = Tlb.findEntry(st, sset, key, 5 /* ID_COMBINED */, vpid, pcid, ep4ta);
  if (l1.owner !== own) return se >= 0 ? DIRECT_NO : DIRECT_TLB_MISS;
  if (se >= 0) {
    const flags = st.meta[se];
    if (!allows(flags, kind, user, g.wp, g.smep === true)) return DIRECT_NO;
    if (st.meta[5 * st.n + sset] !== se && st.owner !== own) return DIRECT_NO;
    const value = st.data[2 * st.n + se];
    putTail(l1, lset, 5 /* ID_COMBINED */ | (flags & ~0x4000 /* FL_PIECE_1G */ & ~0x3f), key, vpid, pcid, ep4ta, value);
    touchIn(st, sset, se);
    Tlb.noteWrite();
    f.hpa = value * 4096 + (addr & 0xfff);
    f.pageSize = 4096;
    putOut(caches, mem, Cost.hitStats(ctx.cost, 'stlb'));
    f.tlbLevel = 'stlb'; f.pmlIndex = undefined; f.walked = false;
    return DIRECT_DONE;
  }
  if (st.owner !== own) return DIRECT_TLB_MISS;

  // 3. The walk (translate.ts `missFast`): below the deepest paging-structure-cache hit, guest-table pages through the
  // nested TLB or EPT
  const psc = caches.psc.arrays;
  let level = g.la57 ? 5 : 4;
  let table = g.cr3 as number;
  let startRights = 0x80 /* FL_RW */ | 0x100 /* FL_US */ | 0x200 /* FL_X */;
  let pscLevel = 0;
  let pArr: CacheArray | null = null;
  let pSet = 0;
  let pEntry = -1;
  for (let lv = 2, root = level; lv <= root; lv++) {
    const arr = psc[lv - 2];
    if (arr.sets === 0) continue;
    if ((arr.sets & (arr.sets - 1)) !== 0) return DIRECT_TLB_MISS;
    const pk = Math.floor(addr * LEVEL_INV[lv]);
    const ps = pk & (arr.sets - 1);
    const e = Tlb.findEntry(arr, ps, pk, 9 /* ID_PSC */, vpid, pcid, ep4ta);
    if (e >= 0) {
      pscLevel = lv; pArr = arr; pSet = ps; pEntry = e;
      level = lv - 1;
      table = arr.data[2 * arr.n + pEntry] * 4096;
      startRights = arr.meta[pEntry] & (0x80 /* FL_RW */ | 0x100 /* FL_US */ | 0x200 /* FL_X */);
      break;
    }
  }
  // a PSC hit that is not its set's MRU entry is touched on success
  const pscTouch = pArr !== null && pArr.meta[5 * pArr.n + pSet] !== pEntry;
  if (pArr !== null && pscTouch && pArr.owner !== own) return DIRECT_TLB_MISS;
  let uAcc = (startRights & 0x100 /* FL_US */) !== 0;
  let wAcc = (startRights & 0x80 /* FL_RW */) !== 0;
  let xd = (startRights & 0x200 /* FL_X */) === 0;
  const hiAddr = hiAddrMask(g.maxPhyAddr);
  // guest.ts `guestReserved` of a non-leaf entry or a PTE: bits 51:M, and XD when IA32_EFER.NXE = 0 (PS at levels 4
  // and 5, also reserved, ends this path like a large page)
  const hiReserved = (0xfffff & ~hiAddr) | (g.nxe ? 0 : 0x8000_0000 /* PTE_HI_XD */);
  const asWriteTable = ept.ad; // a paging-structure access is a write for EPT A/D (SDM 28.3.5)
  const wk = walked;
  let n = 0;
  let nestedRefs = 0;
  let nestedHits = 0;
  // whether the nested TLB is written: a fill, or a touch of an entry that is not its set's MRU entry now (touches
  // of MRU entries alone change nothing)
  let nestedWrite = false;
  let gpa = 0;
  // a guest accessed or dirty flag to set; every guest-table page translated through EPT allows writes (nested-TLB
  // hits count as writable, as in walk2d)
  let needAd = false;
  let tablesWritable = true;
  // the page-fault error code when the walk ends in a guest page fault (-1: none)
  let fault = -1;
  for (;;) {
    const eGpa = table + 8 * (Math.floor(addr * LEVEL_INV[level]) & 511);
    const off = eGpa & 0xfff;
    const nkey = Math.floor(eGpa / 4096);
    const nset = nkey & (nt.sets - 1);
    const ne = Tlb.findEntry(nt, nset, nkey, 7 /* ID_GPA */, 0, 0, ep4ta);
    let eHpa: number;
    if (ne >= 0) {
      eHpa = nt.data[2 * nt.n + ne] * 4096 + off;
      wk.used[nestedHits] = ne; wk.usedSet[nestedHits] = nset;
      nestedHits++;
      if (nt.meta[5 * nt.n + nset] !== ne) nestedWrite = true;
      wk.known[n] = 1;
    } else {
      eHpa = Ept.eptLeafHpa(mem, ept, eGpa, true, asWriteTable, false, false);
      if (eHpa < 0) return DIRECT_TLB_MISS;
      nestedRefs += Ept.eptOut.refs;
      if (Ept.eptOut.w === 0) tablesWritable = false;
      nestedWrite = true;
      wk.known[n] = 0;
    }
    const pg = Phys.page(mem, Math.floor(eHpa / 4096));
    const wi = (eHpa & 0xfff) >>> 2;
    const lo = pg === undefined ? 0 : pg[wi];
    const hi = pg === undefined ? 0 : pg[wi + 1];
    wk.gpa[n] = eGpa; wk.lo[n] = lo; wk.hi[n] = hi; wk.hpa[n] = eHpa; wk.level[n] = level;
    n++;
    // SDM "Page-Fault Exceptions": not present (P = 0 in the error code); a reserved bit: translateFast's path
    if ((lo & 0x1 /* PTE_P */) === 0) { fault = Guest.accessErrorBits(g, access); break; }
    if ((hi & hiReserved) !== 0) return DIRECT_TLB_MISS;
    if ((lo & 0x20 /* PTE_A */) === 0) needAd = true;
    uAcc = uAcc && (lo & 0x4 /* PTE_US */) !== 0;
    wAcc = wAcc && (lo & 0x2 /* PTE_RW */) !== 0;
    xd = xd || (g.nxe && (hi & 0x8000_0000 /* PTE_HI_XD */) !== 0);
    if (level === 1) {
      // guest.ts `rightsAllow` (SDM "Access Rights": a refusal is a fault with P = 1), and a dirty flag to set on a write
      if ((user && !uAcc) || (kind === 'write' && !wAcc && (user || g.wp)) || (fetch && (xd || (!user && uAcc && g.smep === true)))) {
        fault = Guest.accessErrorBits(g, access) | 0x1 /* PFEC_P */;
        break;
      }
      if (kind === 'write' && (lo & 0x40 /* PTE_D */) === 0) needAd = true;
      gpa = ((lo & 0xffff_f000) >>> 0) + (hi & hiAddr) * 4294967296 /* TWO32 */ + (addr & 0xfff);
      break;
    }
    if ((lo & 0x80 /* PTE_PS */) !== 0) return DIRECT_TLB_MISS; // a large guest page: translateFast's path
    table = ((lo & 0xffff_f000) >>> 0) + (hi & hiAddr) * 4294967296 /* TWO32 */;
    level--;
  }
  if (nestedWrite && nt.owner !== own) return DIRECT_TLB_MISS;
  if (fault >= 0) {
    // translate.ts `guestFault`: the walk's hits made most recently used in walk order, no fill, no flag set
    touchHits(pArr, pSet, pEntry, pscTouch, nt, nestedHits, nestedWrite);
    directFault.errorCode = fault;
    putOut(caches, mem, Cost.walkStats(ctx.cost, n, nestedRefs, pscLevel, nestedHits, n));
    return DIRECT_FAULT;
  }
  // the paging-structure caches the walk fills: one per non-leaf entry read (each level below the hit was probed)
  for (let i = 0; i < n - 1; i++) {
    const arr = psc[wk.level[i] - 2];
    if (arr.ways !== 0 && arr.owner !== own) return DIRECT_TLB_MISS;
  }
  // with EPT A/D off, guest A/D writes are checked against the tables' EPT rights before the final translation
  // (walk2d step 2; missFast, before a violation as before a translation): translateFast's path
  if (needAd && !ept.ad && !tablesWritable) return DIRECT_TLB_MISS;
  // the final guest-physical address through EPT (never from the nested TLB: translate.ts's header)
  let hpa = Ept.eptLeafHpa(mem, ept, gpa, kind === 'read', kind === 'write', fetch, uAcc);
  // EPT A/D flags to set (the first access to a page since it was mapped, its first write): missFast's path (eptResultOf
  // sets them below, from the same walk); anything else (not present, denied, misconfigured) is translateFast's
  let eptAd = false;
  // the outcome of the walk that found the flags to set (eptWalk, for eptResultOf)
  let adWalk = 0;
  if (hpa < 0) {
    const st = Ept.eptWalk(mem, ept, gpa, kind === 'read', kind === 'write', fetch, uAcc);
    if (st === 1 /* EW_NOT_PRESENT */ || st === 3 /* EW_DENIED */) {
      // an EPT violation (missFast's `finalViolation`; a first touch before the hypervisor mapped the page): the hits
      // made most recently used, no fill, no flag set
      nestedRefs += Ept.eptOut.refs;
      const v = Ept.eptResultOf(st, mem, ept, gpa, kind === 'read', kind === 'write', fetch);
      if (v._tag !== 'violation') return DIRECT_TLB_MISS;
      touchHits(pArr, pSet, pEntry, pscTouch, nt, nestedHits, nestedWrite);
      const d = directViolation;
      d.v = v; d.user = uAcc; d.writable = wAcc; d.xd = xd;
      putOut(caches, mem, Cost.walkStats(ctx.cost, n, nestedRefs, pscLevel, nestedHits, n));
      return DIRECT_VIOLATION;
    }
    if (st !== 0 /* EW_OK */ || !Ept.eptNeedsAd(ept, kind === 'write')) return DIRECT_TLB_MISS;
    hpa = Ept.eptOut.hpa;
    eptAd = true;
    adWalk = st;
  }
  const o = Ept.eptOut;
  nestedRefs += o.refs;
  const eptX = ept.mbec && uAcc ? o.ux === 1 : o.x === 1;
  const eptRights = (o.r === 1 ? 0x800 /* FL_EPT_R */ : 0) | (o.w === 1 ? 0x1000 /* FL_EPT_W */ : 0) | (eptX ? 0x2000 /* FL_EPT_X */ : 0);
  // SDM "Accessed and Dirty Flags for EPT" (and PML): eptResultOf sets them (its references are counted above); a
  // full PML log is translateFast's (nothing was written)
  let out = mem;
  let pmlIndex = ept.pml !== undefined ? ept.pml.index : undefined;
  if (eptAd) {
    // (eptOut still holds that walk: nothing walked EPT since)
    const r = Ept.eptResultOf(adWalk, mem, ept, gpa, kind === 'read', kind === 'write', fetch);
    if (r._tag !== 'ok') return DIRECT_TLB_MISS;
    out = r.mem;
    pmlIndex = r.pmlIndex;
  }

  // success (nothing was written before this point): the LRU updates of the hits in walk order, then the fills
  Tlb.noteWrite(); // (the TLB fills below write, at least)
  if (pArr !== null && pscTouch) touchIn(pArr, pSet, pEntry);
  for (let i = 0; i < nestedHits; i++) touchIn(nt, wk.usedSet[i], wk.used[i]);
  const leafLo = wk.lo[n - 1];
  const rights = (wAcc ? 0x80 /* FL_RW */ : 0) | (uAcc ? 0x100 /* FL_US */ : 0) | (xd ? 0 : 0x200 /* FL_X */) | ((leafLo & 0x40 /* PTE_D */) !== 0 || kind === 'write' ? 0x400 /* FL_DIRTY */ : 0) |
    eptRights | (ctx.pge && (leafLo & 0x100 /* PTE_G */) !== 0 ? 0x40 /* FL_GLOBAL */ : 0);
  const flags = 5 /* ID_COMBINED */ | (rights & ~0x3f);
  const frame = (hpa - (addr & 0xfff)) / 4096;
  putTail(l1, lset, flags, key, vpid, pcid, ep4ta, frame);
  putTail(st, sset, flags, key, vpid, pcid, ep4ta, frame);
  let acc = startRights;
  for (let i = 0; i < n - 1; i++) {
    const lo = wk.lo[i];
    const hi = wk.hi[i];
    if ((lo & 0x2 /* PTE_RW */) === 0) acc &= ~0x80 /* FL_RW */;
    if ((lo & 0x4 /* PTE_US */) === 0) acc &= ~0x100 /* FL_US */;
    if (g.nxe && (hi & 0x8000_0000 /* PTE_HI_XD */) !== 0) acc &= ~0x200 /* FL_X */;
    const lv = wk.level[i];
    const arr = psc[lv - 2];
    if (arr.ways === 0) continue;
    // psc.ts `fill` of an entry its lookup found absent
    const pk = Math.floor(addr * LEVEL_INV[lv]);
    const next = ((lo & 0xffff_f000) >>> 0) + (hi & hiAddr) * 4294967296 /* TWO32 */;
    putTail(arr, pk & (arr.sets - 1), 9 /* ID_PSC */ | acc, pk, vpid, pcid, ep4ta, Math.floor(next / 4096));
  }
  // nested-TLB fills as translate.ts `fillAfterWalk` makes them: until the first fill, what the walk's lookups found
  // still holds; after it, each page is looked up again
  const nflags = 7 /* ID_GPA */ | (ept.ad ? 0x800 /* FL_EPT_R */ | 0x1000 /* FL_EPT_W */ : 0x800 /* FL_EPT_R */);
  let filled = false;
  for (let i = 0; i < n; i++) {
    if (!filled && wk.known[i] === 1) continue;
    const nkey = Math.floor(wk.gpa[i] / 4096);
    const nset = nkey & (nt.sets - 1);
    if (filled && Tlb.findEntry(nt, nset, nkey, 7 /* ID_GPA */, 0, 0, ep4ta) >= 0) continue;
    putTail(nt, nset, nflags, nkey, 0, 0, ep4ta, Math.floor(wk.hpa[i] / 4096));
    filled = true;
  }
  for (let i = 0; i < n; i++) f.tableGpas[i] = wk.gpa[i];
  // SDM "Accessed and Dirty Flags" (missFast's writes): A in every entry used, D in the leaf on a write
  if (needAd) {
    for (let i = 0; i < n; i++) {
      const lo = wk.lo[i];
      const nlo = (lo | 0x20 /* PTE_A */ | (kind === 'write' && i === n - 1 ? 0x40 /* PTE_D */ : 0)) >>> 0;
      if (nlo !== lo) out = Phys.write64Parts(out, wk.hpa[i], nlo, wk.hi[i]);
    }
  }
  putOut(caches, out, Cost.walkStats(ctx.cost, n, nestedRefs, pscLevel, nestedHits, n));
  f.hpa = hpa; f.pageSize = 4096; f.tlbLevel = null; f.pmlIndex = pmlIndex;
  f.walked = true; f.gpa = gpa; f.tableCount = n;
  return DIRECT_DONE;
};
