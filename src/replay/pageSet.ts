/**
 * A persistent set of 4 KiB page numbers, for the replay's "distinct pages touched" counts.
 *
 * Models: nothing architectural; bookkeeping of the replay engine (the report's guest-virtual and guest-physical
 * page counts). Representation: a radix trie over the page number (3 levels of 2048-way nodes above bitmap leaves of
 * 8192 pages, a Uint32Array of 256 words): 46 bits of page number, enough for 57-bit linear addresses, negative
 * (kernel-half, signed Gva) page numbers folded into the upper half. A batch insert copies each node it touches once
 * and shares every other node with the old set, so old sets stay valid and a chunk of pages costs a few small copies
 * instead of a copy of the whole set.
 * Leaves out: removal (the counts only grow).
 */

type Leaf = Uint32Array;
type Node = ReadonlyArray<Node | Leaf | undefined>;

export interface PageSet {
  /** number of distinct pages in the set */
  readonly size: number;
  readonly root: Node | undefined;
}

const LEAF_BITS = 13;
const NODE_BITS = 11;
const FANOUT = 1 << NODE_BITS;
const LEAF_WORDS = (1 << LEAF_BITS) / 32;
const SPAN = 2 ** (LEAF_BITS + 3 * NODE_BITS); // 2^46 page numbers
/** leaves remembered by `addPages` during one call (a power of two) */
const LEAF_CACHE = 16;

export const emptyPageSet: PageSet = { size: 0, root: undefined };

const fold = (page: number): number => (page < 0 ? page + SPAN : page);

/** Slot indexes of a (folded) page number: top node, middle node, bottom node, leaf word, bit. */
// Indexes of a folded page number u (an integer below 2^46): `leafOf(u)` is u / 2^LEAF_BITS, exact by multiplication
// with the power-of-two reciprocal (no floating-point division or remainder); its low bits index the nodes (the
// bitwise AND takes the low 32 bits of an integer below 2^53 exactly).
const LEAF_INV = 2 ** -LEAF_BITS;
const NODE_INV = 2 ** -NODE_BITS;
const leafOf = (u: number): number => Math.floor(u * LEAF_INV);
const idx0 = (leaf: number): number => Math.floor(leaf * NODE_INV * NODE_INV) & (FANOUT - 1);
const idx1 = (leaf: number): number => Math.floor(leaf * NODE_INV) & (FANOUT - 1);
const idx2 = (leaf: number): number => leaf & (FANOUT - 1);

/** The leaf of the set holding folded page number u's bit, if any. */
const leafAt = (root: Node | undefined, u: number): Leaf | undefined => {
  const l = leafOf(u);
  const n1 = root?.[idx0(l)] as Node | undefined;
  const n2 = n1?.[idx1(l)] as Node | undefined;
  return n2?.[idx2(l)] as Leaf | undefined;
};

export const hasPage = (s: PageSet, page: number): boolean => {
  const u = fold(page);
  const leaf = leafAt(s.root, u);
  if (leaf === undefined) return false;
  const b = u - leafOf(u) * (1 << LEAF_BITS);
  return (leaf[b >>> 5] & (1 << (b & 31))) !== 0;
};

/**
 * Membership tests against one set, many of them (the replay engine asks for every page an access touches, and
 * pushes only the pages its state's sets lack). Valid as long as the set is (a set is never changed). The leaves
 * looked at are copied into one typed array, by leaf number modulo the number of slots, so that a page number below
 * 2^31 is tested with int32 arithmetic and two typed-array reads (~40 instructions on b-warm; ~70 with the leaves
 * themselves, kept in an array beside their numbers, and floating-point index arithmetic).
 */
export interface PageProbe {
  readonly set: PageSet;
  /** slots - 1 (slots: a power of two) */
  readonly mask: number;
  /** the leaf number copied into each slot (-1: none) */
  readonly leafNo: Int32Array;
  /** LEAF_WORDS words per slot: a copy of the set's leaf of that number (zeros when the set has none) */
  readonly words: Uint32Array;
}

/**
 * Slots of a probe at most (16 KiB of words, zeroed for each chunk: two probes of 32 KiB each were ~16 instructions
 * per event of b-warm in memset).
 */
const PROBE_SLOTS = 16;

/**
 * A probe of `s` for about `tests` membership tests: its slots are sized to them (a chunk of a few events makes a
 * small one; a chunk of 2048 events or more has PROBE_SLOTS, 2^17 pages: 512 MiB of guest memory).
 */
export const pageProbe = (s: PageSet, tests: number): PageProbe => {
  const slots = Math.min(PROBE_SLOTS, 2 ** Math.ceil(Math.log2(Math.max(4, tests / 128))));
  // words of a probe released before (their slots are all marked empty: a slot is written whole before it is read)
  const k = spareWords.findIndex((w) => w.length === slots * LEAF_WORDS);
  const words = k >= 0 ? spareWords.splice(k, 1)[0] : new Uint32Array(slots * LEAF_WORDS);
  return { set: s, mask: slots - 1, leafNo: new Int32Array(slots).fill(-1), words };
};

/**
 * Words of probes no longer used, for the next probes: a new array is zeroed (memset, ~8 instructions per event of a
 * 4096-event chunk for its two probes, which made the TLB-friendly loop (a) 2% slower).
 */
const spareWords: Uint32Array[] = [];
const SPARE_MAX = 4;

/** Gives back the words of a probe that will not be asked again (the replay engine, at the end of a chunk). */
export const releaseProbe = (p: PageProbe): void => {
  if (spareWords.length < SPARE_MAX) spareWords.push(p.words);
};

/** `hasPage` of the probe's set. */
export const probeHas = (p: PageProbe, page: number): boolean => {
  if (page >= 0 && page <= 0x7fffffff) {
    const l = page >>> LEAF_BITS;
    const c = l & p.mask;
    if (p.leafNo[c] !== l) copyLeaf(p, c, l);
    return (p.words[(c * LEAF_WORDS) | ((page & ((1 << LEAF_BITS) - 1)) >>> 5)] & (1 << (page & 31))) !== 0;
  }
  return hasPage(p.set, page);
};

/** Slot `c` of the probe holding leaf `l` of its set (a page number below 2^31: no folding). */
const copyLeaf = (p: PageProbe, c: number, l: number): void => {
  const leaf = leafAt(p.set.root, l * (1 << LEAF_BITS));
  if (leaf === undefined) p.words.fill(0, c * LEAF_WORDS, (c + 1) * LEAF_WORDS);
  else p.words.set(leaf, c * LEAF_WORDS);
  p.leafNo[c] = l;
};

/**
 * The set with every page of `pages` added. Pure: `s` is unchanged; nodes the batch does not touch are shared.
 * Inside the call, nodes made for this batch are written in place (they are not yet visible to anyone).
 */
export const addPages = (s: PageSet, pages: Iterable<number>): PageSet => {
  const fresh = new Set<object>();
  const own = <T extends object>(x: T | undefined, make: () => T, copy: (x: T) => T): T => {
    if (x === undefined) { const n = make(); fresh.add(n); return n; }
    if (fresh.has(x)) return x;
    const n = copy(x);
    fresh.add(n);
    return n;
  };
  const mkNode = (): (Node | Leaf | undefined)[] => new Array<Node | Leaf | undefined>(FANOUT).fill(undefined);
  const cpNode = (n: (Node | Leaf | undefined)[]): (Node | Leaf | undefined)[] => n.slice();
  let root = s.root as (Node | Leaf | undefined)[] | undefined;
  let size = s.size;
  const list = Array.isArray(pages) ? pages as readonly number[] : [...pages];
  // (the replay engine's chunks mostly add nothing: it pushes only the pages its state's sets lack)
  if (list.length === 0) return s;
  // the leaves looked at, by leaf number modulo LEAF_CACHE (the pages of a batch share few leaves: a leaf spans 32 MiB);
  // a cached leaf is always the set's current leaf for its number (a copy of it made below is cached in its place).
  // `cachedFresh`: the cached leaf was made by this call. Its path (root, nodes) then was too, since a leaf is made
  // only on a path made writable first, and nothing of that path has been replaced since (a node this call made is
  // written in place): a page of it is added by setting its bit, which is all the walk below would change
  const cachedNo = new Float64Array(LEAF_CACHE).fill(-1);
  const cached = new Array<Leaf | undefined>(LEAF_CACHE).fill(undefined);
  const cachedFresh = new Uint8Array(LEAF_CACHE);
  for (let k = 0; k < list.length; k++) {
    const u = fold(list[k]);
    const l = leafOf(u);
    const b = u - l * (1 << LEAF_BITS);
    const c = l & (LEAF_CACHE - 1);
    let present: Leaf | undefined;
    if (cachedNo[c] === l) present = cached[c];
    else {
      present = leafAt(root, u);
      cachedNo[c] = l;
      cached[c] = present;
      cachedFresh[c] = 0;
    }
    if (present !== undefined && (present[b >>> 5] & (1 << (b & 31))) !== 0) continue;
    if (cachedFresh[c] !== 0) {
      present![b >>> 5] |= 1 << (b & 31);
      size++;
      continue;
    }
    const i0 = idx0(l);
    const i1 = idx1(l);
    const i2 = idx2(l);
    root = own(root, mkNode, cpNode);
    const n1 = own(root[i0] as (Node | Leaf | undefined)[] | undefined, mkNode, cpNode);
    root[i0] = n1;
    const n2 = own(n1[i1] as (Node | Leaf | undefined)[] | undefined, mkNode, cpNode);
    n1[i1] = n2;
    const leaf = own(n2[i2] as Leaf | undefined, () => new Uint32Array(LEAF_WORDS), (l) => l.slice());
    n2[i2] = leaf;
    leaf[b >>> 5] |= 1 << (b & 31);
    cached[c] = leaf;
    cachedFresh[c] = 1;
    size++;
  }
  return size === s.size ? s : { size, root };
};

/** A set of the given pages (tests and small uses). */
export const pageSetOf = (pages: Iterable<number>): PageSet => addPages(emptyPageSet, pages);
