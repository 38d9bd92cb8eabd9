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

export const emptyPageSet: PageSet = { size: 0, root: undefined };

const fold = (page: number): number => (page < 0 ? page + SPAN : page);

/** Slot indexes of a (folded) page number: top node, middle node, bottom node, leaf word, bit. */
const idx0 = (u: number): number => Math.floor(u / 2 ** (LEAF_BITS + 2 * NODE_BITS)) % FANOUT;
const idx1 = (u: number): number => Math.floor(u / 2 ** (LEAF_BITS + NODE_BITS)) % FANOUT;
const idx2 = (u: number): number => Math.floor(u / 2 ** LEAF_BITS) % FANOUT;

export const hasPage = (s: PageSet, page: number): boolean => {
  const u = fold(page);
  const n1 = s.root?.[idx0(u)] as Node | undefined;
  const n2 = n1?.[idx1(u)] as Node | undefined;
  const leaf = n2?.[idx2(u)] as Leaf | undefined;
  if (leaf === undefined) return false;
  const b = u % (1 << LEAF_BITS);
  return (leaf[b >>> 5] & (1 << (b & 31))) !== 0;
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
  for (const page of pages) {
    if (hasPage({ size, root }, page)) continue;
    const u = fold(page);
    const i0 = idx0(u);
    const i1 = idx1(u);
    const i2 = idx2(u);
    root = own(root, mkNode, cpNode);
    const n1 = own(root[i0] as (Node | Leaf | undefined)[] | undefined, mkNode, cpNode);
    root[i0] = n1;
    const n2 = own(n1[i1] as (Node | Leaf | undefined)[] | undefined, mkNode, cpNode);
    n1[i1] = n2;
    const leaf = own(n2[i2] as Leaf | undefined, () => new Uint32Array(LEAF_WORDS), (l) => l.slice());
    n2[i2] = leaf;
    const b = u % (1 << LEAF_BITS);
    leaf[b >>> 5] |= 1 << (b & 31);
    size++;
  }
  return size === s.size ? s : { size, root };
};

/** A set of the given pages (tests and small uses). */
export const pageSetOf = (pages: Iterable<number>): PageSet => addPages(emptyPageSet, pages);
