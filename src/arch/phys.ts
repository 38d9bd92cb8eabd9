/**
 * Simulated physical memory (host-physical), persistent.
 *
 * Models: the memory that VMX structures live in (VMXON/VMCS regions, bitmaps, EPT and guest paging structures, the
 * PML log). Only pages that were written exist; every other byte reads 0. A page is a Uint32Array of 1024 little-endian
 * 32-bit words, so a 64-bit entry is two numbers (low word, high word) and reading it allocates nothing.
 * Purity: a write returns a new memory; the old one stays valid. Storage is a 256-ary radix trie over the page-frame
 * number (5 levels = 40 bits of PFN = 52-bit physical addresses); a write copies one page and the 5 nodes on its path,
 * except inside a transient scope (src/arch/transient.ts), where a page or node copied earlier in the same scope is
 * written in place (every write still returns a new PhysMem). A node records which scope copied it, and a leaf node
 * (the last level) also which scope copied each of its pages (see `OWNER`).
 * Leaves out: caching and memory types (the cost model prices accesses; contents do not depend on them).
 */

import { PAGE_SIZE } from './addr';
import { scope } from './transient';

export type Page = Uint32Array;
/** The scope that copied a node or page (src/arch/transient.ts `scope`); NO_SCOPE (stored) or null (asked) outside
 * any scope. */
type Owner = object | null;
type Node = ReadonlyArray<Node | Page | Owner | undefined>;

export interface PhysMem {
  readonly root: Node;
  /** number of pages materialized (written at least once) */
  readonly pages: number;
}

const FANOUT = 256;
/**
 * Ownership without a lookup: slot OWNER of a node holds the transient scope that copied it (src/arch/transient.ts
 * `scope`; NO_SCOPE when made outside any scope), and slot PAGE_OWNER + i of a leaf node the scope that copied its page
 * i. A node or page may be written in place exactly when its slot holds the current scope (a non-null value): a
 * scope's identity is a fresh object that never becomes current again once the scope ends, so a stamp left by an
 * ended scope (or copied along with a node) never matches, and `owned`'s set would hold exactly the stamped values.
 * A page is only ever stamped in the leaf that holds it: a page copied by a scope goes into a leaf node that the same
 * scope copied (the path is made writable first), and a leaf the scope owns is written in place, never copied again.
 */
const OWNER = FANOUT;
const PAGE_OWNER = FANOUT + 1;
/**
 * The stamp of a node or page copied outside any scope: an object that is never a scope, rather than null, so that the
 * ownership compares only ever see objects. With null stamps, V8 recorded object-only feedback for the compare in a
 * process's first run (the null-stamped nodes of the launch met it before V8 kept feedback) and deoptimized
 * `withWritablePage` at the first write of every later run.
 */
const NO_SCOPE: object = Object.freeze({});
// The empty nodes are never written (no scope stamped them, so they are always copied). Not frozen: V8 copies a
// frozen array element by element (Array.prototype.slice took ~100,000 instructions for one such node).
const EMPTY_NODE: Node = new Array<undefined>(FANOUT + 1).fill(undefined);
const EMPTY_LEAF: Node = new Array<undefined>(2 * FANOUT + 1).fill(undefined);

export const empty: PhysMem = { root: EMPTY_NODE, pages: 0 };

// A PFN has at most 40 bits (52-bit physical addresses): index 0 is bits 39:32, then one byte each. `pfn >>> 0` is
// the PFN modulo 2^32 (exact for any integer below 2^53), so the lookup is integer shifts and masks only.
const TWO32 = 4294967296;

/** The page of `pfn` by the trie (see `page`). */
const trieLookup = (mem: PhysMem, pfn: number): Page | undefined => {
  const lo = pfn >>> 0;
  const n1 = mem.root[Math.floor(pfn / TWO32) & 0xff] as Node | undefined;
  if (n1 === undefined) return undefined;
  const n2 = n1[lo >>> 24] as Node | undefined;
  if (n2 === undefined) return undefined;
  const n3 = n2[(lo >>> 16) & 0xff] as Node | undefined;
  if (n3 === undefined) return undefined;
  const n4 = n3[(lo >>> 8) & 0xff] as Node | undefined;
  if (n4 === undefined) return undefined;
  return n4[lo & 0xff] as Page | undefined;
};

// ---- page cache ------------------------------------------------------------------------------------------------------
// Not part of the model: a direct-mapped cache of page lookups (pfn -> page) for one memory, `cache.mem`, so that the
// walks' reads of page-table entries skip the five trie levels. A write made to that memory carries the cache over
// to the memory it returns (every other frame of the new memory holds the same page object: a write copies only the
// trie path and the page written), so the cache follows a replay from write to write. A lookup in any other memory
// (an older state, a fork) empties it and starts over with that memory. A page written in place (inside a transient
// scope) keeps its identity, so a cached page object is always the page of its frame in `cache.mem`.

const CACHE_SLOTS = 4096;
const cache = {
  mem: null as PhysMem | null,
  /** slots filled under the current `mem` carry this generation */
  gen: 1,
  slotGen: new Float64Array(CACHE_SLOTS),
  pfn: new Float64Array(CACHE_SLOTS),
  page: new Array<Page | undefined>(CACHE_SLOTS).fill(undefined),
};

/** The page holding physical page frame `pfn`, or undefined when it was never written (reads as zeros). */
export const page = (mem: PhysMem, pfn: number): Page | undefined => {
  const slot = pfn & (CACHE_SLOTS - 1);
  if (mem === cache.mem) {
    if (cache.slotGen[slot] === cache.gen && cache.pfn[slot] === pfn) return cache.page[slot];
  } else {
    cache.mem = mem;
    cache.gen++;
  }
  const pg = trieLookup(mem, pfn);
  cache.slotGen[slot] = cache.gen;
  cache.pfn[slot] = pfn;
  cache.page[slot] = pg;
  return pg;
};

/**
 * The lineage of `mem`, for memos of the simulator's own (src/ept/walk.ts): a number that stays the same from write to
 * write while the page cache follows the memory written (`carryCache`) and is new whenever the cache turns to a memory
 * that is not the result of a write to the last one; -1 for a memory the cache does not follow. Two memories of one
 * lineage differ by writes alone, and each write to a watched page advanced `watchEpoch`.
 */
export const lineageOf = (mem: PhysMem): number => (mem === cache.mem ? cache.gen : -1);

/** `next` is `prev` with page `pfn` now `pg`: the cache of `prev` becomes the cache of `next`. */
const carryCache = (prev: PhysMem, next: PhysMem, pfn: number, pg: Page): void => {
  if (cache.mem !== prev) return;
  cache.mem = next;
  const slot = pfn & (CACHE_SLOTS - 1);
  cache.slotGen[slot] = cache.gen;
  cache.pfn[slot] = pfn;
  cache.page[slot] = pg;
};

/** Low 32 bits of the 64-bit little-endian value at `addr` (8-byte aligned). */
export const read64Lo = (mem: PhysMem, addr: number): number => {
  const p = page(mem, Math.floor(addr / PAGE_SIZE));
  return p === undefined ? 0 : p[(addr & 0xfff) >>> 2];
};
/** High 32 bits of the 64-bit little-endian value at `addr` (8-byte aligned). */
export const read64Hi = (mem: PhysMem, addr: number): number => {
  const p = page(mem, Math.floor(addr / PAGE_SIZE));
  return p === undefined ? 0 : p[((addr & 0xfff) >>> 2) + 1];
};

export const read8 = (mem: PhysMem, addr: number): number => {
  const p = page(mem, Math.floor(addr / PAGE_SIZE));
  if (p === undefined) return 0;
  const off = addr & 0xfff;
  return (p[off >>> 2] >>> ((off & 3) * 8)) & 0xff;
};

export const read32 = (mem: PhysMem, addr: number): number => {
  if ((addr & 3) !== 0) {
    return (read8(mem, addr) | (read8(mem, addr + 1) << 8) | (read8(mem, addr + 2) << 16) | (read8(mem, addr + 3) << 24)) >>> 0;
  }
  const p = page(mem, Math.floor(addr / PAGE_SIZE));
  return p === undefined ? 0 : p[(addr & 0xfff) >>> 2];
};

/** The 64-bit value at `addr` as a bigint (edges only: VMX structures, scenario reads). */
export const read64 = (mem: PhysMem, addr: number): bigint =>
  (BigInt(read32(mem, addr + 4)) << 32n) | BigInt(read32(mem, addr));

// ---- watched pages ----------------------------------------------------------------------------------------------------
// A memo over memory contents (src/ept/walk.ts: the upper levels of EPT walks) registers the page frames it read; a
// write to any of them, in any memory, advances `watchEpoch`, and the memo is dropped when it sees a new epoch. Pages it
// did not register need no watching: the memo checks that a memory it is asked about holds the same page objects.

let watched = new Set<number>();
let epoch = 0;
/**
 * A filter in front of `watched`, by PFN modulo WATCH_SLOTS (the low bits of `pfn >>> 0`): a slot is 1 when some
 * watched frame falls in it. A write to a frame whose slot is 0 is to no watched frame (every watched frame marked its
 * slot), so it skips the set lookup; a slot that is 1 only sends the write on to the set.
 */
const WATCH_SLOTS = 4096;
const watchedSlots = new Uint8Array(WATCH_SLOTS);

/** Counts the writes to watched page frames (a memo that saw another value is out of date). */
export const watchEpoch = (): number => epoch;
/** Watch page frame `pfn`: every later write to it advances `watchEpoch`. */
export const watchPage = (pfn: number): void => {
  watched.add(pfn);
  watchedSlots[(pfn >>> 0) & (WATCH_SLOTS - 1)] = 1;
};
/** Stop watching every page frame. */
export const unwatchAll = (): void => {
  if (watched.size === 0) return;
  watched = new Set();
  watchedSlots.fill(0);
};

// A second watch list, with a write count per page (src/ept/walk.ts's memo of level-1 answers watches the EPT page
// tables it read: a write to one of them invalidates the answers read from it alone, and must not drop the memo of
// the upper levels).
const leafIndex = new Map<number, number>();
const leafSlots = new Uint8Array(WATCH_SLOTS);
const leafCount = { versions: new Int32Array(256) };
/**
 * The write counts of the pages watched with `watchLeafPage`, by the index it gave (the array itself may be replaced
 * by a later `watchLeafPage`: read it again after one).
 */
export const leafVersions = (): Int32Array => leafCount.versions;
/** Watch page frame `pfn`: its index in `leafVersions`, whose count every later write to the frame advances. */
export const watchLeafPage = (pfn: number): number => {
  const known = leafIndex.get(pfn);
  if (known !== undefined) return known;
  const i = leafIndex.size;
  leafIndex.set(pfn, i);
  if (i === leafCount.versions.length) {
    const grown = new Int32Array(2 * i);
    grown.set(leafCount.versions);
    leafCount.versions = grown;
  }
  leafSlots[(pfn >>> 0) & (WATCH_SLOTS - 1)] = 1;
  return i;
};
/** Stop watching every page frame watched with `watchLeafPage` (their indexes are given anew afterwards). */
export const unwatchLeafAll = (): void => {
  if (leafIndex.size === 0) return;
  leafIndex.clear();
  leafSlots.fill(0);
};

type MutableNode = (Node | Page | Owner | undefined)[];

/**
 * `n` itself when transient scope `s` copied it (src/arch/transient.ts), else a copy stamped with `s` (`empty`'s copy
 * when there is no node yet).
 */
/**
 * Did scope `s` (non-null) copy node `n`? One function for `writableNode` and the owned-path check of
 * `withWritablePage`, so that the compare's type feedback is shared: written inline in the check, it saw only scope
 * objects in a process's first run (a stamp of null, from memory written outside any scope, came before V8 kept
 * feedback) and deoptimized at the first chunk of every later run.
 */
const ownedBy = (n: Node | undefined, s: Owner): n is Node => n !== undefined && n[OWNER] === s;

const writableNode = (n: Node | undefined, s: Owner, empty: Node): MutableNode => {
  if (s !== null && ownedBy(n, s)) return n as MutableNode;
  const c = (n ?? empty).slice();
  c[OWNER] = s ?? NO_SCOPE;
  return c;
};

/**
 * A memory in which page `pfn` is writable: its page and the trie nodes on its path are fresh copies (or, inside a
 * transient scope, copies this scope already made), so writing into `page(result, pfn)` changes no other memory.
 */
const withWritablePage = (mem: PhysMem, pfn: number): PhysMem => {
  const lo = pfn >>> 0;
  if (watchedSlots[lo & (WATCH_SLOTS - 1)] !== 0 && watched.has(pfn)) epoch++;
  if (leafSlots[lo & (WATCH_SLOTS - 1)] !== 0) {
    const li = leafIndex.get(pfn);
    if (li !== undefined) leafCount.versions[li]++;
  }
  const i0 = Math.floor(pfn / TWO32) & 0xff, i1 = lo >>> 24, i2 = (lo >>> 16) & 0xff, i3 = (lo >>> 8) & 0xff, i4 = lo & 0xff;
  const s = scope();
  // The common case inside a scope: the page and every node on its path are this scope's already (a page table
  // written again in the same replay chunk). Nothing is copied or stored: the path below would store each node back
  // into the slot it came from, and each of those stores ran V8's write barrier (about 1,600 instructions per first
  // touch of b-random, measured, for its four page writes).
  if (s !== null) {
    const n0 = mem.root;
    const n1 = ownedBy(n0, s) ? n0[i0] as Node | undefined : undefined;
    const n2 = ownedBy(n1, s) ? n1[i1] as Node | undefined : undefined;
    const n3 = ownedBy(n2, s) ? n2[i2] as Node | undefined : undefined;
    const n4 = ownedBy(n3, s) ? n3[i3] as Node | undefined : undefined;
    // (a page is stamped only together with the page it stores: a stamped slot holds a page)
    if (ownedBy(n4, s) && n4[PAGE_OWNER + i4] === s) {
      const pg = n4[i4] as Page;
      const same: PhysMem = { root: n0, pages: mem.pages };
      carryCache(mem, same, pfn, pg);
      return same;
    }
  }
  const n0 = writableNode(mem.root, s, EMPTY_NODE);
  const n1 = writableNode(n0[i0] as Node | undefined, s, EMPTY_NODE);
  n0[i0] = n1;
  const n2 = writableNode(n1[i1] as Node | undefined, s, EMPTY_NODE);
  n1[i1] = n2;
  const n3 = writableNode(n2[i2] as Node | undefined, s, EMPTY_NODE);
  n2[i2] = n3;
  const n4 = writableNode(n3[i3] as Node | undefined, s, EMPTY_LEAF);
  n3[i3] = n4;
  const old = n4[i4] as Page | undefined;
  if (old === undefined || s === null || n4[PAGE_OWNER + i4] !== s) {
    n4[i4] = old === undefined ? new Uint32Array(PAGE_SIZE / 4) : old.slice();
    n4[PAGE_OWNER + i4] = s ?? NO_SCOPE;
  }
  const next: PhysMem = { root: n0, pages: mem.pages + (old === undefined ? 1 : 0) };
  carryCache(mem, next, pfn, n4[i4] as Page);
  return next;
};

/** Applies `edit` to a private copy of page `pfn` and returns the new memory (the old one is unchanged). */
export const updatePage = (mem: PhysMem, pfn: number, edit: (p: Page) => void): PhysMem => {
  const m = withWritablePage(mem, pfn);
  edit(page(m, pfn)!);
  return m;
};

/** Sets byte `off` of page `p` to the low 8 bits of `v`. */
const setByte = (p: Page, off: number, v: number): void => {
  const sh = (off & 3) * 8;
  p[off >>> 2] = ((p[off >>> 2] & ~(0xff << sh)) | ((v & 0xff) << sh)) >>> 0;
};

export const write8 = (mem: PhysMem, addr: number, v: number): PhysMem =>
  updatePage(mem, Math.floor(addr / PAGE_SIZE), (p) => setByte(p, addr & 0xfff, v));

/**
 * `write8` of each [address, value] of `bytes`, in order (a later write of an address wins), with one copy per page
 * written instead of one per byte.
 */
export const writeBytes = (mem: PhysMem, bytes: Iterable<readonly [number, number]>): PhysMem => {
  const byPage = new Map<number, (readonly [number, number])[]>();
  for (const w of bytes) {
    const pfn = Math.floor(w[0] / PAGE_SIZE);
    const list = byPage.get(pfn);
    if (list === undefined) byPage.set(pfn, [w]); else list.push(w);
  }
  let m = mem;
  for (const [pfn, list] of byPage) m = updatePage(m, pfn, (p) => { for (const [a, v] of list) setByte(p, a & 0xfff, v); });
  return m;
};

export const write32 = (mem: PhysMem, addr: number, v: number): PhysMem => {
  if ((addr & 3) !== 0) {
    let m = mem;
    for (let i = 0; i < 4; i++) m = write8(m, addr + i, (v >>> (8 * i)) & 0xff);
    return m;
  }
  return updatePage(mem, Math.floor(addr / PAGE_SIZE), (p) => { p[(addr & 0xfff) >>> 2] = v >>> 0; });
};

/** Writes a 64-bit value given as two 32-bit halves (8-byte aligned `addr`). */
export const write64Parts = (mem: PhysMem, addr: number, lo: number, hi: number): PhysMem => {
  const pfn = Math.floor(addr / PAGE_SIZE);
  const m = withWritablePage(mem, pfn);
  const p = page(m, pfn)!;
  const w = (addr & 0xfff) >>> 2;
  p[w] = lo >>> 0;
  p[w + 1] = hi >>> 0;
  return m;
};

export const write64 = (mem: PhysMem, addr: number, v: bigint): PhysMem => {
  const x = v & 0xffff_ffff_ffff_ffffn;
  const lo = Number(x & 0xffff_ffffn);
  const hi = Number(x >> 32n);
  if ((addr & 7) === 0) return write64Parts(mem, addr, lo, hi);
  return write32(write32(mem, addr, lo), addr + 4, hi);
};

/** Writes `size` bytes (1, 2, 4 or 8) of `v` little-endian. */
export const writeN = (mem: PhysMem, addr: number, v: bigint, size: number): PhysMem => {
  let m = mem;
  for (let i = 0; i < size; i++) m = write8(m, addr + i, Number((v >> BigInt(8 * i)) & 0xffn));
  return m;
};

export const readN = (mem: PhysMem, addr: number, size: number): bigint => {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(read8(mem, addr + i));
  return v;
};
