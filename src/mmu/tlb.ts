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
 * Representation (also used by the paging-structure caches and the nested TLB): a `CacheArray` is one ArrayBuffer
 * of `sets` x `ways` entries seen through two views, laid out field by field (all keys, then all EP4TAs, ...: a lookup
 * scans the keys of one set, which sit side by side, instead of striding over whole entries): the numbers that can
 * exceed 2^31 (key, EP4TA, value) in a Float64Array, the others (flags, VPID, PCID, recency links) in an Int32Array,
 * followed by one list head per set (the layout is spelled out above `CacheArray`). Replacement is true LRU kept as a
 * recency list per set: the entries of a set form a circular doubly linked list (PREV / NEXT links) whose head is the
 * most recently used entry and whose tail (the head's predecessor) is the victim. A fill or hit moves its entry to the
 * head, an invalidation moves the freed entry to the tail, so the valid entries always come first, in recency order,
 * and the free ones after them: the victim is a free entry while there is one, else the least recently used entry,
 * and finding it reads one number (which free entry is taken is not observable). A set of WIDE ways or more (the
 * STLB, the ITLB, the fully associative paging-structure caches) also keeps, after the list heads, a count of its valid entries per bucket of
 * keys (key modulo `buckets`) and, for a bucket that counts one, which entry that is: a lookup or insert whose bucket
 * counts zero knows without a scan that no entry has its key, one whose bucket counts one reads that entry alone.
 * An update copies the buffer (a few KiB: one memcpy) and returns a new CacheArray; inside a transient scope
 * (src/arch/transient.ts) an array the scope already copied is updated in place and returned itself (its views and
 * its `sizes`), so a replay chunk copies each array at most once and allocates nothing for later updates. The same
 * array object therefore does not mean the same contents inside a scope: a memo over the caches compares
 * `writeCount`.
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

/**
 * An entry's fields, as `entryField` names them. Numbers that can exceed 2^31 (key, EP4TA, value) are kept in the
 * array's Float64Array `data`, the others (flags, VPID, PCID, the recency links) in its Int32Array `meta`: see
 * `CacheArray`.
 */
export const F_FLAGS = 0;
export const F_KEY = 1;
export const F_VPID = 2;
export const F_PCID = 3;
export const F_EP4TA = 4;
export const F_VALUE = 5;

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
/** the flag bits that make an entry's identity with its key and tags: valid, kind, size */
export const IDENT_MASK = FL_VALID | (7 << KIND_SHIFT) | (3 << SIZE_SHIFT);

/** The page number of `addr` at page size `size` (addresses are numbers < 2^57; no bigint). */
export const keyAt = (addr: number, size: SizeCode): number => Math.floor(addr * SIZE_INV[size]);
/** 1 / SIZE_BYTES: a multiplication by a power of two is exact, and cheaper than the division */
const SIZE_INV: readonly number[] = SIZE_BYTES.map((b) => 1 / b);

// ---- set-associative array -----------------------------------------------------------------------------------------

/*
 * Layout of an array of n = sets x ways entries (entry e = set * ways + way), one ArrayBuffer seen through two views:
 *   data (Float64Array)  [0, n) keys, [n, 2n) EP4TAs, [2n, 3n) values
 *   meta (Int32Array)    [0, n) flags, [n, 2n) VPIDs, [2n, 3n) PCIDs, [3n, 4n) PREV links, [4n, 5n) NEXT links,
 *                        [5n, 5n + sets) list heads, then `buckets` valid-entry counts, then `buckets` slots (the
 *                        entry of a bucket that counts one)
 * Field offsets are written as literals, as multiples of n (`3 * n + e` is entry e's PREV link): a module constant
 * read by optimized code is a load, a literal is folded into the instruction. Every index is an int32, so no index is
 * converted from a double.
 */

export interface CacheArray {
  readonly sets: number;
  readonly ways: number;
  /** sets * ways */
  readonly n: number;
  /**
   * Keys, EP4TAs and values (the layout above). Never written once published (written in place only while owned by
   * the transient scope that copied it: src/arch/transient.ts); shares its buffer with `meta`.
   */
  readonly data: Float64Array;
  /** Flags, VPIDs, PCIDs, recency links, list heads and bucket counts (the layout above); same buffer as `data`. */
  readonly meta: Int32Array;
  /**
   * the transient scope that copied the buffer (src/arch/transient.ts `scope`), or NO_SCOPE for an array made outside
   * any scope: it is then never written (an object either way: a field that held null in some arrays and a scope in
   * others deoptimized the code that compares it)
   */
  readonly owner: object;
  /**
   * key buckets of the valid-entry counts (0: none kept; sets of WIDE ways or more keep some (`bucketsFor`), a power of
   * two): the count of bucket b is meta[5n + sets + b]; while it is 1, meta[5n + sets + buckets + b] is that entry
   * (a lookup then reads one entry instead of scanning the set)
   */
  readonly buckets: number;
  /** bit s set: an entry of page-size code s may be present (set on insert, never cleared: lookups of absent sizes
   * are skipped) */
  readonly sizes: number;
}

/**
 * Sets of this many ways or more keep key counts (a scan of a set that wide costs more than a count): the 12-way STLB
 * and the 8-way ITLB, whose lookups after a TLB miss then read one count instead of a set, and the fully associative
 * paging-structure caches.
 */
export const WIDE = 8;

/**
 * Key buckets of an array: none below WIDE ways; 8 per entry for a fully associative array (a few dozen entries), 2
 * per entry for a set-associative one (the STLB: its counts are copied with it at a chunk's first write, and a
 * bucket that counts two or more costs a scan of one set). A power of two.
 */
const bucketsFor = (sets: number, ways: number): number =>
  // (`| 0`: a small integer, so the field holds one; `2 **` gives a double, and a field holding one was read through a
  // number box and converted at every lookup and fill)
  (ways < WIDE ? 0 : (2 ** Math.ceil(Math.log2((sets === 1 ? 8 : 2) * sets * ways))) | 0);

/** A CacheArray over `buf` (laid out for these sets, ways and buckets). */
/** The owner of an array made outside any transient scope: equal to no scope. */
const NO_SCOPE: object = Object.freeze({});

const over = (buf: ArrayBuffer, sets: number, ways: number, buckets: number, owner: object | null, sizes: number): CacheArray => {
  const n = sets * ways;
  return {
    sets, ways, n, data: new Float64Array(buf, 0, 3 * n), meta: new Int32Array(buf, 24 * n, 5 * n + sets + 2 * buckets),
    owner: owner ?? NO_SCOPE, buckets, sizes,
  };
};

export const emptyArray = (geo: CacheGeometry): CacheArray => {
  const ways = geo.entries === 0 ? 0 : geo.ways;
  const sets = geo.entries === 0 ? 0 : geo.entries / geo.ways;
  const n = sets * ways;
  const buckets = bucketsFor(sets, ways);
  const arr = over(new ArrayBuffer(24 * n + 4 * (5 * n + sets + 2 * buckets)), sets, ways, buckets, null, 0);
  // every set's recency list in way order, all entries free (the head of set s is entry s * ways); counts all 0
  const m = arr.meta;
  for (let s = 0; s < sets; s++) {
    const e0 = s * ways;
    for (let w = 0; w < ways; w++) {
      m[3 * n + e0 + w] = e0 + ((w + ways - 1) % ways);
      m[4 * n + e0 + w] = e0 + ((w + 1) % ways);
    }
    m[5 * n + s] = e0;
  }
  return arr;
};

/**
 * Writes to cache arrays so far, in place or by copy (see `writeCount`; a field, not a module `let`, which optimized
 * code would check for its temporal dead zone at every write).
 */
const written = { count: 0 };

/**
 * How many writes any cache array (TLB, paging-structure cache, nested TLB) has had in this process. A memo that
 * relies on the caches being unchanged (src/replay/replay.ts, the L1-hit memo) compares this count: inside a transient
 * scope an array is updated in place, so the same object does not mean the same contents.
 */
export const writeCount = (): number => written.count;

/**
 * Counts a write to cache arrays made in place by a caller that owns them (src/mmu/direct.ts: once per translation
 * that wrote; the count is only compared for a change).
 */
export const noteWrite = (): void => { written.count++; };

/**
 * `arr` for writing: `arr` itself when this transient scope copied it, else a copy the scope owns (outside a scope: a
 * private copy). The caller writes into the result's views and sets its `sizes`, and returns it.
 */
const writable = (arr: CacheArray): { -readonly [K in keyof CacheArray]: CacheArray[K] } => {
  written.count++;
  const s = scope();
  return s !== null && arr.owner === s ? arr : over(arr.data.buffer.slice(0) as ArrayBuffer, arr.sets, arr.ways, arr.buckets, s, arr.sizes);
};

/** Unlinks entry `e` from its set's list and links it again just before `head` (at the tail of the circular list). */
const moveBefore = (m: Int32Array, n: number, head: number, e: number): void => {
  const p = m[3 * n + e];
  const x = m[4 * n + e];
  m[4 * n + p] = x;
  m[3 * n + x] = p;
  const t = m[3 * n + head];
  m[4 * n + t] = e;
  m[3 * n + e] = t;
  m[4 * n + e] = head;
  m[3 * n + head] = e;
};

/** Makes entry `e` of `set` the most recently used (the head of its list); m = meta, n = sets * ways. */
export const toFront = (m: Int32Array, n: number, set: number, e: number): void => {
  const h = 5 * n + set;
  const head = m[h];
  if (head === e) return;
  // at the tail of the circular list, just before the head, it becomes the head: the tail (a fill's victim) is there
  // already
  if (m[3 * n + head] !== e) moveBefore(m, n, head, e);
  m[h] = e;
};

/** Makes entry `e` of `set` the victim (the tail of its list): a freed entry goes there. */
const toBack = (m: Int32Array, n: number, set: number, e: number): void => {
  const h = 5 * n + set;
  const head = m[h];
  // the list is circular: when e is the head, its successor becoming the head puts e at the tail
  if (head === e) { m[h] = m[4 * n + e]; return; }
  if (m[3 * n + head] === e) return;
  moveBefore(m, n, head, e);
};

export const setOf = (arr: CacheArray, key: number): number => {
  const n = arr.sets;
  // a power-of-two set count (every preset) takes the key's low bits; keys are integers below 2^53 in magnitude
  if ((n & (n - 1)) === 0) return key & (n - 1);
  const s = key % n;
  return s < 0 ? s + n : s;
};

/**
 * The entry (its index in the array, set * ways + way) of `set` that holds `key` with identity `ident` (the valid,
 * kind and size bits of its flags), this VPID and EP4TA, and this PCID unless it is global; -1 when there is none.
 * With key counts, a bucket that counts zero answers at once and one that counts one names its only candidate.
 * Allocation-free.
 */
export const findEntry = (
  arr: CacheArray, set: number, key: number, ident: number, vpid: number, pcid: number, ep4ta: number,
): number => {
  const d = arr.data;
  let e = set * arr.ways;
  let end = e + arr.ways;
  if (arr.buckets !== 0) {
    const b = 5 * arr.n + arr.sets + (key & (arr.buckets - 1));
    const c = arr.meta[b];
    if (c === 0) return -1; // no valid entry has this key
    if (c === 1) {
      // one valid entry in the key's bucket: the only candidate (if it is in this set)
      const s = arr.meta[b + arr.buckets];
      if (s < e || s >= end) return -1;
      e = s;
      end = s + 1;
    }
  }
  // the keys first, in a loop that reads nothing else: the key differs in almost every entry a lookup visits (a free
  // entry has flags 0, so its key never matters)
  const m = arr.meta;
  const n = arr.n;
  for (; e < end; e++) {
    if (d[e] !== key) continue;
    const f = m[e];
    if ((f & IDENT_MASK) === ident && m[n + e] === vpid && d[n + e] === ep4ta && (m[2 * n + e] === pcid || (f & FL_GLOBAL) !== 0)) return e;
  }
  return -1;
};

/**
 * The way holding a matching entry in `set`, or -1. A match has the same kind, size and key, the same VPID and EP4TA,
 * and the same PCID unless the entry is global (`findEntry`). Allocation-free.
 */
export const probe = (
  arr: CacheArray, set: number, kind: MappingKind, size: SizeCode, key: number, vpid: number, pcid: number, ep4ta: number,
): number => {
  if (arr.ways === 0) return -1;
  const e = findEntry(arr, set, key, FL_VALID | (kind << KIND_SHIFT) | (size << SIZE_SHIFT), vpid, pcid, ep4ta);
  return e < 0 ? -1 : e - set * arr.ways;
};

/** Field `field` (F_FLAGS, F_VALUE, ...) of way `way` of set `set`. */
export const entryField = (arr: CacheArray, set: number, way: number, field: number): number => {
  const e = set * arr.ways + way;
  const n = arr.n;
  switch (field) {
    case F_FLAGS: return arr.meta[e];
    case F_KEY: return arr.data[e];
    case F_VPID: return arr.meta[n + e];
    case F_PCID: return arr.meta[2 * n + e];
    case F_EP4TA: return arr.data[n + e];
    case F_VALUE: return arr.data[2 * n + e];
    default: throw new Error(`no entry field ${field}`);
  }
};

/** The flags of way `way` of set `set`. */
export const entryFlags = (arr: CacheArray, set: number, way: number): number => arr.meta[set * arr.ways + way];
/** The value (frame or table number) of way `way` of set `set`. */
export const entryValue = (arr: CacheArray, set: number, way: number): number => arr.data[2 * arr.n + set * arr.ways + way];

/** Make `way` of `set` the most recently used. Returns `arr` itself when it already is (nothing changes). */
export const touch = (arr: CacheArray, set: number, way: number): CacheArray => {
  const e = set * arr.ways + way;
  if (arr.meta[5 * arr.n + set] === e) return arr;
  const w = writable(arr);
  toFront(w.meta, w.n, set, e);
  return w;
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
  const d = arr.data;
  const m = arr.meta;
  const n = arr.n;
  const e0 = set * ways;
  // the entry the new one displaces: the same identity, else the tail of the set's list (a free entry while there is
  // one, else the least recently used). With key counts, a bucket counting zero holds no entry of this key.
  let same = -1;
  const ident = flags & IDENT_MASK;
  // the entries to search: the set, or with key counts none (a bucket counting zero) or the bucket's slot (counting
  // one), if it is in this set
  let from = e0;
  let to = e0 + ways;
  if (arr.buckets !== 0) {
    const b = 5 * n + arr.sets + (key & (arr.buckets - 1));
    const c = m[b];
    if (c === 0) to = from;
    else if (c === 1) {
      const e = m[b + arr.buckets];
      if (e >= from && e < to) { from = e; to = e + 1; } else to = from;
    }
  }
  for (let e = from; e < to; e++) {
    if (d[e] !== key) continue;
    const f = m[e];
    if (f !== 0 && (f & IDENT_MASK) === ident && m[n + e] === vpid && m[2 * n + e] === pcid && d[n + e] === ep4ta) { same = e; break; }
  }
  if (same >= 0 && m[same] === flags && d[2 * n + same] === value && m[5 * n + set] === same) return arr; // already the MRU entry, unchanged
  return putAt(arr, set, same >= 0 ? same : m[3 * n + m[5 * n + set]], same < 0, flags, key, vpid, pcid, ep4ta, value);
};

/**
 * `insert` of an entry the array is known not to hold: a `probe` of its set for the same kind, size, key, VPID and
 * EP4TA (and this PCID) found nothing, and the array was not written since. The same result as `insert` (whose scan
 * of the set would find no entry of this identity), without the scan: the victim is the tail of the set's list.
 */
export const insertAbsent = (
  arr: CacheArray, flags: number, key: number, vpid: number, pcid: number, ep4ta: number, value: number,
): CacheArray => {
  if (arr.ways === 0) return arr;
  const set = setOf(arr, key);
  const m = arr.meta;
  const n = arr.n;
  return putAt(arr, set, m[3 * n + m[5 * n + set]], true, flags, key, vpid, pcid, ep4ta, value);
};

/** Writes the entry into entry `at` of `set` (`fresh`: it displaces an entry of another identity) and makes it the MRU. */
const putAt = (
  arr: CacheArray, set: number, at: number, fresh: boolean, flags: number, key: number, vpid: number, pcid: number,
  ep4ta: number, value: number,
): CacheArray => {
  const n = arr.n;
  const w = writable(arr);
  const wd = w.data;
  const wm = w.meta;
  const counted = fresh && arr.buckets !== 0;
  const oldValid = wm[at] !== 0;
  const oldKey = wd[at];
  wm[at] = flags; wd[at] = key; wm[n + at] = vpid; wm[2 * n + at] = pcid; wd[n + at] = ep4ta; wd[2 * n + at] = value;
  if (counted) {
    // the displaced entry leaves its bucket, the new one joins its own and is that bucket's slot
    if (oldValid) uncount(w, oldKey);
    const b = 5 * n + arr.sets + (key & (arr.buckets - 1));
    wm[b]++;
    wm[b + arr.buckets] = at;
  }
  toFront(wm, n, set, at);
  const sizes = arr.sizes | (1 << sizeOf(flags)) | ((flags & FL_PIECE_1G) !== 0 ? SIZES_PIECES : 0);
  // (stored whether or not it changed: a store taken only when a size is first seen had no type feedback and
  // deoptimized its callers at that point in every run)
  w.sizes = sizes;
  return w;
};

/**
 * One entry with key `key` left the bucket counts of `w` (written in place): the count goes down, and when one entry
 * is left in the bucket its slot is found (a scan of the key's set, only in that case).
 */
const uncount = (w: CacheArray, key: number): void => {
  if (--w.meta[5 * w.n + w.sets + (key & (w.buckets - 1))] === 1) reslot(w, key);
};

/**
 * The bucket of `key` in `w` (written in place) counts one entry: its slot is set to that entry, found by a scan of
 * the key's set.
 */
export const reslot = (w: CacheArray, key: number): void => {
  const m = w.meta;
  const mask = w.buckets - 1;
  const b = 5 * w.n + w.sets + (key & mask);
  // with a power-of-two set count (which then divides the bucket count) a bucket's entries share the key's low bits
  // that pick the set, so they all sit in the key's set: only it is scanned
  const sets = w.sets;
  let e = 0;
  let end = w.n;
  if ((sets & (sets - 1)) === 0) { e = (key & (sets - 1)) * w.ways; end = e + w.ways; }
  for (; e < end; e++) {
    if (m[e] !== 0 && (w.data[e] & mask) === (key & mask)) { m[b + w.buckets] = e; return; }
  }
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
const viewAt = (arr: CacheArray, e: number): EntryView => {
  const d = arr.data;
  const m = arr.meta;
  const n = arr.n;
  const flags = m[e];
  scratch.flags = flags; scratch.kind = kindOf(flags); scratch.size = sizeOf(flags); scratch.key = d[e];
  scratch.vpid = m[n + e]; scratch.pcid = m[2 * n + e]; scratch.ep4ta = d[n + e]; scratch.value = d[2 * n + e];
  return scratch;
};

/** A view of its own (the scratch view copied). */
const view = (arr: CacheArray, e: number): EntryView => ({ ...viewAt(arr, e) });

/**
 * Could entry `e` cover one of `count` addresses (its key is the page number of one of them at its size)? `keys`
 * holds their page numbers by size (keys[size * count + i]); every entry is a candidate when `keys` is null. Numbers
 * only: the predicate runs on candidates alone.
 */
const candidate = (arr: CacheArray, e: number, keys: Float64Array | null, count: number): boolean => {
  if (keys === null) return true;
  const key = arr.data[e];
  const base = sizeOf(arr.meta[e]) * count;
  for (let i = 0; i < count; i++) if (keys[base + i] === key) return true;
  return false;
};

/** Scratch of removeCovering (never used by two calls at once: predicates do not invalidate) */
let coverKeys = new Float64Array(6);
let coverSets = new Float64Array(6);

/**
 * Frees the entries of `set` that `pred` selects (only candidates for `addrs` are shown to it); the others keep their
 * places in the recency list. `out` is the writable copy made so far, if any; the copy is made at the first selected
 * entry. Returns it (undefined while nothing was selected).
 */
const removeInSet = (
  arr: CacheArray, out: ReturnType<typeof writable> | undefined, set: number, pred: (e: EntryView) => boolean,
  keys: Float64Array | null, count: number,
): ReturnType<typeof writable> | undefined => {
  const n = arr.n;
  for (let e = set * arr.ways, end = e + arr.ways; e < end; e++) {
    const a = out ?? arr;
    if (a.meta[e] === 0 || !candidate(a, e, keys, count) || !pred(viewAt(a, e))) continue;
    out ??= writable(arr);
    const m = out.meta;
    const d = out.data;
    const key = d[e];
    m[e] = 0; m[n + e] = 0; m[2 * n + e] = 0;
    d[e] = 0; d[n + e] = 0; d[2 * n + e] = 0;
    if (arr.buckets !== 0) uncount(out, key);
    toBack(m, n, set, e);
  }
  return out;
};

/** Remove every entry the predicate selects; returns `arr` itself when it selects none. */
export const removeWhere = (arr: CacheArray, pred: (e: EntryView) => boolean): CacheArray => {
  let out: ReturnType<typeof writable> | undefined;
  for (let s = 0; s < arr.sets; s++) out = removeInSet(arr, out, s, pred, null, 0);
  return out ?? arr;
};

/**
 * `removeWhere` for a predicate that only selects entries covering one of `addrs` (key = the address's page number
 * at the entry's size): such an entry can only sit in the set of that key, so only those sets (one per address and
 * page size) are scanned, and the predicate sees only entries whose key is such a page number. Same result as
 * `removeWhere` under that condition, without visiting the whole array.
 */
export const removeCovering = (arr: CacheArray, addrs: readonly number[], pred: (e: EntryView) => boolean): CacheArray => {
  // an array that never held an entry (no size bit) holds none
  if (arr.sets === 0 || arr.sizes === 0) return arr;
  // a piece of a 1 GiB page is keyed by its own 2 MiB page number, which need not be the address's: scan everything
  // (only the small ITLB 2 MiB array holds pieces)
  if ((arr.sizes & SIZES_PIECES) !== 0) return removeWhere(arr, pred);
  const count = addrs.length;
  if (coverKeys.length < 3 * count) { coverKeys = new Float64Array(3 * count); coverSets = new Float64Array(3 * count); }
  const keys = coverKeys;
  // (the keys of a size the array never held are never compared: `candidate` reads the keys of an entry's own size)
  for (let size = SIZE_4K; size <= SIZE_1G; size++) {
    if ((arr.sizes & (1 << size)) !== 0) for (let i = 0; i < count; i++) keys[size * count + i] = keyAt(addrs[i], size as SizeCode);
  }
  let out: ReturnType<typeof writable> | undefined;
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
  return out ?? arr;
};

/** Entry numbers of the valid entries of `set`, most recently used first. */
const validEntries = (arr: CacheArray, set: number): number[] => {
  const m = arr.meta;
  const n = arr.n;
  const out: number[] = [];
  // the list from its head: valid entries in recency order, then the free ones
  for (let i = 0, e = m[5 * n + set]; i < arr.ways; i++, e = m[4 * n + e]) if (m[e] !== 0) out.push(e);
  return out;
};

/** Every valid entry, set by set, MRU first (inspection and tests). */
export const entries = (arr: CacheArray): EntryView[] => {
  const out: EntryView[] = [];
  for (let s = 0; s < arr.sets; s++) for (const e of validEntries(arr, s)) out.push(view(arr, e));
  return out;
};

export const count = (arr: CacheArray): number => {
  let c = 0;
  for (let e = 0; e < arr.n; e++) if (arr.meta[e] !== 0) c++;
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

export const hitFlags = (tlb: Tlb, h: number): number => entryFlags(tlb.arrays[hitArray(h)], hitSet(h), hitWay(h));

/** The physical address `addr` translates to through the entry hit by `h`. */
export const hitPhys = (tlb: Tlb, h: number, addr: number): number => {
  const arr = tlb.arrays[hitArray(h)];
  const set = hitSet(h);
  const way = hitWay(h);
  return entryValue(arr, set, way) * 4096 + lowBits(addr, SIZE_BYTES[sizeOf(entryFlags(arr, set, way))]);
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
  addr: number, rights: number, physBase: number, absent: boolean,
): CacheArray => {
  const piece = physBase + lowBits(addr, SIZE_BYTES[pageSize]) - lowBits(addr, SIZE_BYTES[size]);
  const flags = flagsOf(kind, size, size < pageSize ? rights | FL_PIECE_1G : rights & ~FL_PIECE_1G);
  const key = keyAt(addr, size);
  return absent ? insertAbsent(arr, flags, key, vpid, pcid, ep4ta, piece / 4096) : insert(arr, flags, key, vpid, pcid, ep4ta, piece / 4096);
};

/**
 * Fill after a successful walk (SDM 4.10.2.1 "Page Numbers, Page Frames, and Page Offsets": the entry holds the frame
 * of the page, its size and the rights). `physBase` is the physical address of the page (aligned to `size`).
 * Fills the L1 of the access kind and the STLB.
 */
export const fill = (
  tlb: Tlb, fetch: boolean, tag: TlbTag, addr: number, size: SizeCode, rights: number, physBase: number,
): Tlb => fillTagged(tlb, fetch, tag.kind, tag.vpid, tag.pcid, tag.ep4ta, addr, size, rights, physBase);

/**
 * `fill` with the tag's fields as arguments (no tag record per fill). `l1Absent` / `stlbAbsent`: a lookup of `addr`
 * with this tag in the L1 of the access kind (`lookupL1`) / in the STLB (`lookupStlb`) found no entry, and the TLB
 * was not written since; the fill then skips the scan for an entry to replace (`insertAbsent`). Same result.
 */
export const fillTagged = (
  tlb: Tlb, fetch: boolean, kind: MappingKind, vpid: number, pcid: number, ep4ta: number, addr: number, size: SizeCode,
  rights: number, physBase: number, l1Absent = false, stlbAbsent = false,
): Tlb => {
  const a = l1ArrayFor(fetch, size);
  const sa = size === SIZE_1G ? A_STLB_1G : A_STLB;
  let l1: CacheArray;
  let st: CacheArray;
  if (l1Absent && stlbAbsent && l1SizeFor(fetch, size) === size) {
    // the commonest fill after a TLB miss: the same entry (the whole page, no piece) into both arrays, neither searched
    const flags = flagsOf(kind, size, rights & ~FL_PIECE_1G);
    const key = keyAt(addr, size);
    l1 = insertAbsent(tlb.arrays[a], flags, key, vpid, pcid, ep4ta, physBase / 4096);
    st = insertAbsent(tlb.arrays[sa], flags, key, vpid, pcid, ep4ta, physBase / 4096);
  } else {
    l1 = insertPiece(tlb.arrays[a], l1SizeFor(fetch, size), size, kind, vpid, pcid, ep4ta, addr, rights, physBase, l1Absent);
    st = insertPiece(tlb.arrays[sa], size, size, kind, vpid, pcid, ep4ta, addr, rights, physBase, stlbAbsent);
  }
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
  return withArray(tlb, a, insertPiece(tlb.arrays[a], l1SizeFor(fetch, size), size, tag.kind, tag.vpid, tag.pcid, tag.ep4ta, addr, flags, base, false));
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
