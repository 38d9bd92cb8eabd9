/**
 * Translation lookaside buffers: set-associative caches of linear, combined and guest-physical mappings.
 *
 * Models: SDM Vol. 3A "Translation Lookaside Buffers (TLBs)" (4.10.2) and, under VMX, SDM Vol. 3C "Information That
 * May Be Cached" / "Creating and Using Cached Translation Information" (28.3.1, 28.3.2). Three kinds of mapping:
 *   linear         linear page -> physical frame, EPT not in use, tagged VPID + PCID
 *   combined       linear page -> host-physical frame through guest paging and EPT, tagged VPID + PCID + EP4TA
 *   guest-physical guest-physical page -> host-physical frame, tagged EP4TA (VPID and PCID stored as 0)
 * A TLB hierarchy is an L1 DTLB (4K / 2M / 1G arrays), an L1 ITLB (4K / 2M arrays; a 1 GiB fetch translation is kept
 * as the 2 MiB piece that holds the address, which 4.10.2 "Details of TLB Use" allows: an entry may cover less than
 * the page) and a shared STLB (4K+2M array and a 1G array).
 *
 * Representation (also used by the paging-structure caches and the nested TLB): a `CacheArray` is one Float64Array
 * of `sets` x `ways` entries of FIELDS numbers, laid out field by field (all keys, then all flags, ...: a lookup
 * scans the keys of one set, which sit side by side, instead of striding over whole entries), followed by one number
 * per set. Replacement is true LRU kept as a recency list per set: the entries of a set form a circular doubly linked
 * list (fields F_PREV / F_NEXT) whose head (the number after the entries) is the most recently used entry and whose
 * tail (the head's predecessor) is the victim. A fill or hit moves its entry to the head, an invalidation moves the
 * freed entry to the tail, so the valid entries always come first, in recency order, and the free ones after them:
 * the victim is a free entry while there is one, else the least recently used entry, and finding it reads one
 * number (which free entry is taken is not observable). A set of WIDE ways or more (the fully associative
 * paging-structure caches) also keeps, after the list heads, a count of its valid entries per bucket of keys (key
 * modulo `buckets`): a lookup or insert whose bucket counts zero knows without a scan that no entry has its key. An
 * update copies the array (a few KiB: one memcpy) and returns a new CacheArray; inside a transient scope
 * (src/arch/transient.ts) an array the scope already copied is updated in place and returned itself (its data and its
 * `sizes`), so a replay chunk copies each array at most once and allocates nothing for later updates. The same array
 * object therefore does not mean the same contents inside a scope: a memo over the caches compares `writeCount`.
 * An insert of an entry identical to the set's MRU entry, or a touch of the MRU entry, changes nothing
 * and returns the same array. Lookups allocate nothing and use numbers only (no bigint): the key is the page number
 * at the entry's page size, the EP4TA is the EPT root HPA / 4096 (-1 when EPT is not in use).
 * Leaves out: hyper-threading partitioning, TLB entries for PAE PDPTEs, memory types, the hardware's (unpublished)
 * pseudo-LRU and set-index hashing (the set is key mod sets).
 */

import { lowBits } from '../arch/addr';
import { scope } from '../arch/transient';
import type { CacheGeometry, TlbConfig } from './tlbConfig';

// ---- entry encoding ------------------------------------------------------------------------------------------------

/** An entry's fields: field F of entry e (= set * ways + way) of an array of n entries is data[F * n + e]. */
export const F_FLAGS = 0;
export const F_KEY = 1;
export const F_VPID = 2;
export const F_PCID = 3;
export const F_EP4TA = 4;
export const F_VALUE = 5;
/** the entry before this one in its set's recency list (circular: the head's predecessor is the tail) */
export const F_PREV = 6;
/** the entry after this one (less recently used) in its set's recency list */
export const F_NEXT = 7;
export const FIELDS = 8;

/** Mapping kinds (SDM 28.3.1 names). PSC entries use KIND_PSC. */
export const KIND_LINEAR = 1;
export const KIND_COMBINED = 2;
export const KIND_GPA = 3;
export const KIND_PSC = 4;
export type MappingKind = 1 | 2 | 3 | 4;

/** Page-size codes: 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB. */
export const SIZE_4K = 0;
export const SIZE_2M = 1;
export const SIZE_1G = 2;
export type SizeCode = 0 | 1 | 2;
export const SIZE_BYTES: readonly number[] = [4096, 0x200000, 0x40000000];

// flag bits
export const FL_VALID = 1;
const KIND_SHIFT = 1; // 3 bits
const SIZE_SHIFT = 4; // 2 bits
/** Global (guest leaf G = 1 with CR4.PGE = 1): matches every PCID of its VPID (4.10.2.4 "Global Pages"). */
export const FL_GLOBAL = 1 << 6;
/** Guest paging rights the walk found: R/W and U/S ANDed over the levels, X = no XD on any level. */
export const FL_RW = 1 << 7;
export const FL_US = 1 << 8;
export const FL_X = 1 << 9;
/** Guest dirty flag was 1 in the leaf when the entry was made (a write through a clean entry re-walks). */
export const FL_DIRTY = 1 << 10;
/** EPT rights ANDed over the EPT walk of the final GPA (all set for linear mappings). */
export const FL_EPT_R = 1 << 11;
export const FL_EPT_W = 1 << 12;
export const FL_EPT_X = 1 << 13;
/**
 * The entry holds the 2 MiB piece of a 1 GiB page that contains the address (an ITLB entry for a 1 GiB fetch
 * translation): it is one of the entries "for that page" that INVLPG and the other address-based invalidations
 * remove whichever piece they name (SDM INVLPG, note 1: with a page larger than 4 KiB and several TLB entries for it,
 * all of them are invalidated).
 */
export const FL_PIECE_1G = 1 << 14;
/** `CacheArray.sizes` bit: the array may hold FL_PIECE_1G entries (an invalidation by address then scans it all) */
export const SIZES_PIECES = 1 << 3;
/** every guest and EPT right: what a linear mapping of a writable, executable, user, dirty page carries */
export const FL_ALL_RIGHTS = FL_RW | FL_US | FL_X | FL_DIRTY | FL_EPT_R | FL_EPT_W | FL_EPT_X;

export const flagsOf = (kind: MappingKind, size: SizeCode, rights: number): number =>
  FL_VALID | (kind << KIND_SHIFT) | (size << SIZE_SHIFT) | (rights & ~(FL_VALID | 0x3e));
export const kindOf = (flags: number): MappingKind => ((flags >> KIND_SHIFT) & 7) as MappingKind;
export const sizeOf = (flags: number): SizeCode => ((flags >> SIZE_SHIFT) & 3) as SizeCode;
const IDENT_MASK = FL_VALID | (7 << KIND_SHIFT) | (3 << SIZE_SHIFT);

/** The page number of `addr` at page size `size` (addresses are numbers < 2^57; no bigint). */
export const keyAt = (addr: number, size: SizeCode): number => Math.floor(addr * SIZE_INV[size]);
/** 1 / SIZE_BYTES: a multiplication by a power of two is exact, and cheaper than the division */
const SIZE_INV: readonly number[] = SIZE_BYTES.map((b) => 1 / b);

// ---- set-associative array -----------------------------------------------------------------------------------------

export interface CacheArray {
  readonly sets: number;
  readonly ways: number;
  /**
   * Every entry's fields (field F of entry e = set * ways + way at F * sets * ways + e). Never written once published
   * (written in place only while owned by the transient scope that copied it: src/arch/transient.ts).
   */
  readonly data: Float64Array;
  /** the transient scope that copied `data` (src/arch/transient.ts `scope`), or null: `data` is then never written */
  readonly owner: object | null;
  /**
   * key buckets of the valid-entry counts (0: none kept; sets of WIDE ways or more keep 8 per entry, a power of
   * two): the count of bucket b is data[FIELDS * n + sets + b]
   */
  readonly buckets: number;
  /** bit s set: an entry of page-size code s may be present (set on insert, never cleared: lookups of absent sizes
   * are skipped) */
  readonly sizes: number;
}

/** Sets of this many ways or more keep key counts (a scan of a set that wide costs more than a count). */
export const WIDE = 16;

const bucketsFor = (sets: number, ways: number): number => (ways < WIDE ? 0 : 2 ** Math.ceil(Math.log2(8 * sets * ways)));

/** Every set's recency list in way order, all entries free (the head of set s is entry s * ways); counts all 0. */
const emptyData = (sets: number, ways: number): Float64Array => {
  const n = sets * ways;
  const d = new Float64Array(n * FIELDS + sets + bucketsFor(sets, ways));
  for (let s = 0; s < sets; s++) {
    const e0 = s * ways;
    for (let w = 0; w < ways; w++) {
      d[F_PREV * n + e0 + w] = e0 + ((w + ways - 1) % ways);
      d[F_NEXT * n + e0 + w] = e0 + ((w + 1) % ways);
    }
    d[FIELDS * n + s] = e0;
  }
  return d;
};

export const emptyArray = (geo: CacheGeometry): CacheArray => {
  const ways = geo.entries === 0 ? 0 : geo.ways;
  const sets = geo.entries === 0 ? 0 : geo.entries / geo.ways;
  return { sets, ways, data: emptyData(sets, ways), owner: null, buckets: bucketsFor(sets, ways), sizes: 0 };
};

/** Writes to cache arrays so far, in place or by copy (see `writeCount`). */
let writes = 0;

/**
 * How many writes any cache array (TLB, paging-structure cache, nested TLB) has had in this process. A memo that
 * relies on the caches being unchanged (src/replay/replay.ts, the L1-hit memo) compares this count: inside a transient
 * scope an array is updated in place, so the same object does not mean the same contents.
 */
export const writeCount = (): number => writes;

/**
 * The data of `arr` for writing: `arr.data` itself when this transient scope copied it, else a copy the scope owns
 * (outside a scope: a private copy). The caller finishes with `written`.
 */
const writable = (arr: CacheArray): Float64Array => {
  writes++;
  const s = scope();
  return s !== null && arr.owner === s ? arr.data : arr.data.slice();
};

/**
 * `arr` after its data was written through `writable` into `data`: `arr` itself, updated in place, when `data` is its
 * own data (the scope owns both); else a new CacheArray around the copy, owned by the current scope (if any).
 */
const written = (arr: CacheArray, data: Float64Array, sizes: number): CacheArray => {
  if (data === arr.data) {
    (arr as { sizes: number }).sizes = sizes;
    return arr;
  }
  return { sets: arr.sets, ways: arr.ways, data, owner: scope(), buckets: arr.buckets, sizes };
};

/** Where the valid-entry count of `key`'s bucket is kept (arrays with `buckets` > 0). */
const countAt = (arr: CacheArray, key: number): number => FIELDS * arr.sets * arr.ways + arr.sets + (key & (arr.buckets - 1));

/** Unlinks entry `e` from its set's list (n = sets * ways); the caller links it again. */
const unlink = (d: Float64Array, n: number, e: number): void => {
  const p = d[F_PREV * n + e];
  const x = d[F_NEXT * n + e];
  d[F_NEXT * n + p] = x;
  d[F_PREV * n + x] = p;
};

/** Links the unlinked entry `e` just before `head` (at the tail of the circular list). */
const linkBefore = (d: Float64Array, n: number, head: number, e: number): void => {
  const t = d[F_PREV * n + head];
  d[F_NEXT * n + t] = e;
  d[F_PREV * n + e] = t;
  d[F_NEXT * n + e] = head;
  d[F_PREV * n + head] = e;
};

/** Makes entry `e` of `set` the most recently used (the head of its list). */
const toFront = (d: Float64Array, n: number, set: number, e: number): void => {
  const h = FIELDS * n + set;
  const head = d[h];
  if (head === e) return;
  unlink(d, n, e);
  linkBefore(d, n, head, e);
  d[h] = e;
};

/** Makes entry `e` of `set` the victim (the tail of its list): a freed entry goes there. */
const toBack = (d: Float64Array, n: number, set: number, e: number): void => {
  const h = FIELDS * n + set;
  const head = d[h];
  // the list is circular: when e is the head, its successor becoming the head puts e at the tail
  if (head === e) { d[h] = d[F_NEXT * n + e]; return; }
  if (d[F_PREV * n + head] === e) return;
  unlink(d, n, e);
  linkBefore(d, n, head, e);
};

export const setOf = (arr: CacheArray, key: number): number => {
  const n = arr.sets;
  // a power-of-two set count (every preset) takes the key's low bits; keys are integers below 2^53 in magnitude
  if ((n & (n - 1)) === 0) return key & (n - 1);
  const s = key % n;
  return s < 0 ? s + n : s;
};

/**
 * The way holding a matching entry in `set`, or -1. A match has the same kind, size and key, the same VPID and EP4TA,
 * and the same PCID unless the entry is global. Allocation-free.
 */
export const probe = (
  arr: CacheArray, set: number, kind: MappingKind, size: SizeCode, key: number, vpid: number, pcid: number, ep4ta: number,
): number => {
  const ways = arr.ways;
  if (ways === 0) return -1;
  const d = arr.data;
  if (arr.buckets !== 0 && d[countAt(arr, key)] === 0) return -1; // no valid entry has this key
  const n = arr.sets * ways;
  const ident = FL_VALID | (kind << KIND_SHIFT) | (size << SIZE_SHIFT);
  const e0 = set * ways;
  const k0 = F_KEY * n + e0;
  for (let w = 0; w < ways; w++) {
    // the key first: it differs in almost every entry a lookup visits (a free entry has flags 0)
    if (d[k0 + w] !== key) continue;
    const e = e0 + w;
    const f = d[F_FLAGS * n + e];
    if ((f & IDENT_MASK) === ident && d[F_VPID * n + e] === vpid && d[F_EP4TA * n + e] === ep4ta &&
      (d[F_PCID * n + e] === pcid || (f & FL_GLOBAL) !== 0)) return w;
  }
  return -1;
};

/** Is entry `e` (in set `set`) the most recently used entry of its set (the head of its list)? */
const isMru = (arr: CacheArray, set: number, e: number): boolean => arr.data[FIELDS * arr.sets * arr.ways + set] === e;

/** Field `field` (F_FLAGS, F_VALUE, ...) of way `way` of set `set`. */
export const entryField = (arr: CacheArray, set: number, way: number, field: number): number =>
  arr.data[field * arr.sets * arr.ways + set * arr.ways + way];

/** Make `way` of `set` the most recently used. Returns `arr` itself when it already is (nothing changes). */
export const touch = (arr: CacheArray, set: number, way: number): CacheArray => {
  const e = set * arr.ways + way;
  if (isMru(arr, set, e)) return arr;
  const d = writable(arr);
  toFront(d, arr.sets * arr.ways, set, e);
  return written(arr, d, arr.sizes);
};

/**
 * Insert an entry as the most recently used of its set. An entry with the same identity (kind, size, key, VPID,
 * PCID, EP4TA) is replaced; otherwise a free entry is taken, or the least recently used entry of a full set evicted.
 */
export const insert = (
  arr: CacheArray, flags: number, key: number, vpid: number, pcid: number, ep4ta: number, value: number,
): CacheArray => {
  const ways = arr.ways;
  if (ways === 0) return arr;
  const set = setOf(arr, key);
  const old = arr.data;
  const n = arr.sets * ways;
  const e0 = set * ways;
  const fl = F_FLAGS * n;
  const ky = F_KEY * n;
  // the entry the new one displaces: the same identity, else the tail of the set's list (a free entry while there is
  // one, else the least recently used). The keys were just read by the lookup.
  let same = -1;
  const ident = flags & IDENT_MASK;
  const counted = arr.buckets !== 0;
  // (with key counts: a bucket counting zero holds no entry of this key, so nothing to scan)
  for (let e = e0, end = counted && old[countAt(arr, key)] === 0 ? e0 : e0 + ways; e < end; e++) {
    if (old[ky + e] !== key) continue;
    const f = old[fl + e];
    if (f !== 0 && (f & IDENT_MASK) === ident && old[F_VPID * n + e] === vpid && old[F_PCID * n + e] === pcid &&
      old[F_EP4TA * n + e] === ep4ta) { same = e; break; }
  }
  if (same >= 0 && old[fl + same] === flags && old[F_VALUE * n + same] === value && isMru(arr, set, same)) return arr; // already the MRU entry, unchanged
  const at = same >= 0 ? same : old[F_PREV * n + old[FIELDS * n + set]];
  const d = writable(arr);
  if (counted && same < 0) {
    if (d[fl + at] !== 0) d[countAt(arr, d[ky + at])]--;
    d[countAt(arr, key)]++;
  }
  d[fl + at] = flags; d[ky + at] = key; d[F_VPID * n + at] = vpid; d[F_PCID * n + at] = pcid;
  d[F_EP4TA * n + at] = ep4ta; d[F_VALUE * n + at] = value;
  toFront(d, n, set, at);
  return written(arr, d, arr.sizes | (1 << sizeOf(flags)) | ((flags & FL_PIECE_1G) !== 0 ? SIZES_PIECES : 0));
};

/** A read-only view of one entry, for invalidation predicates and inspection (allocates; not for the hot path). */
export interface EntryView {
  readonly flags: number;
  readonly kind: MappingKind;
  readonly size: SizeCode;
  readonly key: number;
  readonly vpid: number;
  readonly pcid: number;
  readonly ep4ta: number;
  readonly value: number;
}

/** One view reused for every predicate call of an invalidation (predicates never keep the view they are given). */
const scratch: { -readonly [K in keyof EntryView]: EntryView[K] } = { flags: 0, kind: 1, size: 0, key: 0, vpid: 0, pcid: 0, ep4ta: 0, value: 0 };
const viewAt = (d: Float64Array, n: number, e: number): EntryView => {
  const flags = d[F_FLAGS * n + e];
  scratch.flags = flags; scratch.kind = kindOf(flags); scratch.size = sizeOf(flags); scratch.key = d[F_KEY * n + e];
  scratch.vpid = d[F_VPID * n + e]; scratch.pcid = d[F_PCID * n + e]; scratch.ep4ta = d[F_EP4TA * n + e];
  scratch.value = d[F_VALUE * n + e];
  return scratch;
};

/** A view of its own (the scratch view copied). */
const view = (d: Float64Array, n: number, e: number): EntryView => ({ ...viewAt(d, n, e) });

/**
 * Could entry `e` cover one of `count` addresses (its key is the page number of one of them at its size)? `keys`
 * holds their page numbers by size (keys[size * count + i]); every entry is a candidate when `keys` is null. Numbers
 * only: the predicate runs on candidates alone.
 */
const candidate = (d: Float64Array, n: number, e: number, keys: Float64Array | null, count: number): boolean => {
  if (keys === null) return true;
  const key = d[F_KEY * n + e];
  const base = sizeOf(d[F_FLAGS * n + e]) * count;
  for (let i = 0; i < count; i++) if (keys[base + i] === key) return true;
  return false;
};

/** Scratch of removeCovering (never used by two calls at once: predicates do not invalidate) */
let coverKeys = new Float64Array(6);
let coverSets = new Float64Array(6);

/**
 * Frees the entries of `set` that `pred` selects (only candidates for `addrs` are shown to it); the others keep their
 * places in the recency list. `out` is the writable copy made so far, if any; the copy is made at the first selected entry. Returns it
 * (undefined while nothing was selected).
 */
const removeInSet = (
  arr: CacheArray, out: Float64Array | undefined, set: number, pred: (e: EntryView) => boolean,
  keys: Float64Array | null, count: number,
): Float64Array | undefined => {
  const n = arr.sets * arr.ways;
  for (let e = set * arr.ways, end = e + arr.ways; e < end; e++) {
    const d = out ?? arr.data;
    if (d[F_FLAGS * n + e] === 0 || !candidate(d, n, e, keys, count) || !pred(viewAt(d, n, e))) continue;
    out ??= writable(arr);
    if (arr.buckets !== 0) out[countAt(arr, out[F_KEY * n + e])]--;
    for (let f = F_FLAGS; f <= F_VALUE; f++) out[f * n + e] = 0;
    toBack(out, n, set, e);
  }
  return out;
};

/** Remove every entry the predicate selects; returns `arr` itself when it selects none. */
export const removeWhere = (arr: CacheArray, pred: (e: EntryView) => boolean): CacheArray => {
  let out: Float64Array | undefined;
  for (let s = 0; s < arr.sets; s++) out = removeInSet(arr, out, s, pred, null, 0);
  return out === undefined ? arr : written(arr, out, arr.sizes);
};

/**
 * `removeWhere` for a predicate that only selects entries covering one of `addrs` (key = the address's page number
 * at the entry's size): such an entry can only sit in the set of that key, so only those sets (one per address and
 * page size) are scanned, and the predicate sees only entries whose key is such a page number. Same result as
 * `removeWhere` under that condition, without visiting the whole array.
 */
export const removeCovering = (arr: CacheArray, addrs: readonly number[], pred: (e: EntryView) => boolean): CacheArray => {
  if (arr.sets === 0) return arr;
  // a piece of a 1 GiB page is keyed by its own 2 MiB page number, which need not be the address's: scan everything
  // (only the small ITLB 2 MiB array holds pieces)
  if ((arr.sizes & SIZES_PIECES) !== 0) return removeWhere(arr, pred);
  const count = addrs.length;
  if (coverKeys.length < 3 * count) { coverKeys = new Float64Array(3 * count); coverSets = new Float64Array(3 * count); }
  const keys = coverKeys;
  for (let size = SIZE_4K; size <= SIZE_1G; size++) for (let i = 0; i < count; i++) keys[size * count + i] = keyAt(addrs[i], size as SizeCode);
  let out: Float64Array | undefined;
  let seen = 0;
  for (let i = 0; i < count; i++) {
    for (let size = SIZE_4K; size <= SIZE_1G; size++) {
      // an entry of a size the array never held cannot be there (and entries of other sizes in that set are found
      // through their own size)
      if ((arr.sizes & (1 << size)) === 0) continue;
      const s = setOf(arr, keys[size * count + i]);
      let done = false;
      for (let k = 0; k < seen; k++) if (coverSets[k] === s) { done = true; break; }
      if (done) continue;
      coverSets[seen++] = s;
      out = removeInSet(arr, out, s, pred, keys, count);
    }
  }
  return out === undefined ? arr : written(arr, out, arr.sizes);
};

/** Entry numbers of the valid entries of `set`, most recently used first. */
const validEntries = (arr: CacheArray, set: number): number[] => {
  const d = arr.data;
  const n = arr.sets * arr.ways;
  const out: number[] = [];
  // the list from its head: valid entries in recency order, then the free ones
  for (let i = 0, e = d[FIELDS * n + set]; i < arr.ways; i++, e = d[F_NEXT * n + e]) if (d[F_FLAGS * n + e] !== 0) out.push(e);
  return out;
};

/** Every valid entry, set by set, MRU first (inspection and tests). */
export const entries = (arr: CacheArray): EntryView[] => {
  const out: EntryView[] = [];
  const n = arr.sets * arr.ways;
  for (let s = 0; s < arr.sets; s++) for (const e of validEntries(arr, s)) out.push(view(arr.data, n, e));
  return out;
};

export const count = (arr: CacheArray): number => {
  let c = 0;
  const d = arr.data;
  const n = arr.sets * arr.ways;
  for (let e = 0; e < n; e++) if (d[F_FLAGS * n + e] !== 0) c++;
  return c;
};

// ---- the TLB hierarchy ---------------------------------------------------------------------------------------------

/** Index of each array in `Tlb.arrays`. */
export const A_L1D_4K = 0;
export const A_L1D_2M = 1;
export const A_L1D_1G = 2;
export const A_L1I_4K = 3;
export const A_L1I_2M = 4;
export const A_STLB = 5;
export const A_STLB_1G = 6;

export interface Tlb {
  readonly arrays: ReadonlyArray<CacheArray>;
}

export const emptyTlb = (c: TlbConfig): Tlb => ({
  arrays: [c.l1d4k, c.l1d2m, c.l1d1g, c.l1i4k, c.l1i2m, c.stlb, c.stlb1g].map(emptyArray),
});

/** The mapping context of a lookup: which kind of mapping the current mode uses, and its tags. */
export interface TlbTag {
  readonly kind: MappingKind;
  readonly vpid: number;
  readonly pcid: number;
  readonly ep4ta: number;
}

/**
 * A hit is one number: array * 2^16 + set * 64 + way (ways <= 64), or -1 for a miss. Reading it back allocates nothing.
 */
export const hitArray = (h: number): number => Math.floor(h / 65536);
export const hitSet = (h: number): number => (h >>> 6) & 1023;
export const hitWay = (h: number): number => h & 63;
const hitOf = (a: number, set: number, way: number): number => a * 65536 + set * 64 + way;

const probeAt = (
  tlb: Tlb, a: number, size: SizeCode, kind: MappingKind, addr: number, vpid: number, pcid: number, ep4ta: number,
): number => {
  const arr = tlb.arrays[a];
  if ((arr.sizes & (1 << size)) === 0) return -1; // never held an entry of this size (or has no sets)
  const key = keyAt(addr, size);
  const set = setOf(arr, key);
  const w = probe(arr, set, kind, size, key, vpid, pcid, ep4ta);
  return w < 0 ? -1 : hitOf(a, set, w);
};

/** L1 lookup: the ITLB for instruction fetches, the DTLB otherwise. -1 on a miss. Allocation-free. */
export const lookupL1 = (
  tlb: Tlb, fetch: boolean, kind: MappingKind, addr: number, vpid: number, pcid: number, ep4ta: number,
): number => {
  let h: number;
  if (fetch) {
    h = probeAt(tlb, A_L1I_4K, SIZE_4K, kind, addr, vpid, pcid, ep4ta);
    if (h < 0) h = probeAt(tlb, A_L1I_2M, SIZE_2M, kind, addr, vpid, pcid, ep4ta);
    return h;
  }
  h = probeAt(tlb, A_L1D_4K, SIZE_4K, kind, addr, vpid, pcid, ep4ta);
  if (h < 0) h = probeAt(tlb, A_L1D_2M, SIZE_2M, kind, addr, vpid, pcid, ep4ta);
  if (h < 0) h = probeAt(tlb, A_L1D_1G, SIZE_1G, kind, addr, vpid, pcid, ep4ta);
  return h;
};

/** STLB lookup (4K, then 2M in the shared array, then the 1G array). -1 on a miss. Allocation-free. */
export const lookupStlb = (
  tlb: Tlb, kind: MappingKind, addr: number, vpid: number, pcid: number, ep4ta: number,
): number => {
  let h = probeAt(tlb, A_STLB, SIZE_4K, kind, addr, vpid, pcid, ep4ta);
  if (h < 0) h = probeAt(tlb, A_STLB, SIZE_2M, kind, addr, vpid, pcid, ep4ta);
  if (h < 0) h = probeAt(tlb, A_STLB_1G, SIZE_1G, kind, addr, vpid, pcid, ep4ta);
  return h;
};

export const hitFlags = (tlb: Tlb, h: number): number => entryField(tlb.arrays[hitArray(h)], hitSet(h), hitWay(h), F_FLAGS);

/** The physical address `addr` translates to through the entry hit by `h`. */
export const hitPhys = (tlb: Tlb, h: number, addr: number): number => {
  const arr = tlb.arrays[hitArray(h)];
  const set = hitSet(h);
  const way = hitWay(h);
  return entryField(arr, set, way, F_VALUE) * 4096 + lowBits(addr, SIZE_BYTES[sizeOf(entryField(arr, set, way, F_FLAGS))]);
};

const withArray = (tlb: Tlb, a: number, arr: CacheArray): Tlb => {
  if (tlb.arrays[a] === arr) return tlb;
  const arrays = tlb.arrays.slice();
  arrays[a] = arr;
  return { arrays };
};

/** LRU update for a hit (no copy when the entry is already the most recently used of its set). */
export const touchHit = (tlb: Tlb, h: number): Tlb => {
  const a = hitArray(h);
  return withArray(tlb, a, touch(tlb.arrays[a], hitSet(h), hitWay(h)));
};

/** The L1 array that holds a translation of `size` for fetches or data (1 GiB fetches as 2 MiB pieces). */
const l1ArrayFor = (fetch: boolean, size: SizeCode): number =>
  fetch ? (size === SIZE_4K ? A_L1I_4K : A_L1I_2M) : size === SIZE_4K ? A_L1D_4K : size === SIZE_2M ? A_L1D_2M : A_L1D_1G;
/** The entry size an L1 array keeps for a translation of `size` (the ITLB has no 1 GiB array). */
const l1SizeFor = (fetch: boolean, size: SizeCode): SizeCode => (fetch && size === SIZE_1G ? SIZE_2M : size);

/** `arr` with an entry of `size` for `addr`; an entry smaller than the page holds the piece that contains addr. */
const insertPiece = (
  arr: CacheArray, size: SizeCode, pageSize: SizeCode, kind: MappingKind, vpid: number, pcid: number, ep4ta: number,
  addr: number, rights: number, physBase: number,
): CacheArray => {
  const piece = physBase + lowBits(addr, SIZE_BYTES[pageSize]) - lowBits(addr, SIZE_BYTES[size]);
  const flags = flagsOf(kind, size, size < pageSize ? rights | FL_PIECE_1G : rights & ~FL_PIECE_1G);
  return insert(arr, flags, keyAt(addr, size), vpid, pcid, ep4ta, piece / 4096);
};

/**
 * Fill after a successful walk (SDM 4.10.2.1 "Page Numbers, Page Frames, and Page Offsets": the entry holds the frame
 * of the page, its size and the rights). `physBase` is the physical address of the page (aligned to `size`).
 * Fills the L1 of the access kind and the STLB.
 */
export const fill = (
  tlb: Tlb, fetch: boolean, tag: TlbTag, addr: number, size: SizeCode, rights: number, physBase: number,
): Tlb => fillTagged(tlb, fetch, tag.kind, tag.vpid, tag.pcid, tag.ep4ta, addr, size, rights, physBase);

/** `fill` with the tag's fields as arguments (no tag record per fill). */
export const fillTagged = (
  tlb: Tlb, fetch: boolean, kind: MappingKind, vpid: number, pcid: number, ep4ta: number, addr: number, size: SizeCode,
  rights: number, physBase: number,
): Tlb => {
  const a = l1ArrayFor(fetch, size);
  const sa = size === SIZE_1G ? A_STLB_1G : A_STLB;
  const l1 = insertPiece(tlb.arrays[a], l1SizeFor(fetch, size), size, kind, vpid, pcid, ep4ta, addr, rights, physBase);
  const st = insertPiece(tlb.arrays[sa], size, size, kind, vpid, pcid, ep4ta, addr, rights, physBase);
  if (l1 === tlb.arrays[a] && st === tlb.arrays[sa]) return tlb;
  const arrays = tlb.arrays.slice();
  arrays[a] = l1;
  arrays[sa] = st;
  return { arrays };
};

/** Fill the L1 only (after an STLB hit: the STLB entry is copied into the L1 of the access kind). */
export const fillL1FromStlb = (tlb: Tlb, fetch: boolean, h: number, tag: TlbTag, addr: number): Tlb => {
  const flags = hitFlags(tlb, h);
  const size = sizeOf(flags);
  const base = hitPhys(tlb, h, addr) - lowBits(addr, SIZE_BYTES[size]);
  const a = l1ArrayFor(fetch, size);
  return withArray(tlb, a, insertPiece(tlb.arrays[a], l1SizeFor(fetch, size), size, tag.kind, tag.vpid, tag.pcid, tag.ep4ta, addr, flags, base));
};

/** Apply `f` to every array (invalidation); arrays that come back unchanged stay shared. */
export const mapArrays = (tlb: Tlb, f: (arr: CacheArray) => CacheArray): Tlb => {
  // the array list is copied at the first array that comes back changed
  let arrays: CacheArray[] | undefined;
  for (let i = 0; i < tlb.arrays.length; i++) {
    const arr = tlb.arrays[i];
    const n = f(arr);
    if (n !== arr) { arrays ??= tlb.arrays.slice(); arrays[i] = n; }
  }
  return arrays === undefined ? tlb : { arrays };
};

/** All valid entries of the hierarchy (inspection and tests). */
export const allEntries = (tlb: Tlb): EntryView[] => tlb.arrays.flatMap(entries);
