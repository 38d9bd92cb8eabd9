/**
 * Simulated physical memory (host-physical), persistent.
 *
 * Models: the memory that VMX structures live in (VMXON/VMCS regions, bitmaps, EPT and guest paging structures, the
 * PML log). Only pages that were written exist; every other byte reads 0. A page is a Uint32Array of 1024 little-endian
 * 32-bit words, so a 64-bit entry is two numbers (low word, high word) and reading it allocates nothing.
 * Purity: a write returns a new memory; the old one stays valid. Storage is a 256-ary radix trie over the page-frame
 * number (5 levels = 40 bits of PFN = 52-bit physical addresses); a write copies one page and the 5 nodes on its path.
 * Leaves out: caching and memory types (the cost model prices accesses; contents do not depend on them).
 */

import { PAGE_SIZE } from './addr';

export type Page = Uint32Array;
type Node = ReadonlyArray<Node | Page | undefined>;

export interface PhysMem {
  readonly root: Node;
  /** number of pages materialized (written at least once) */
  readonly pages: number;
}

const FANOUT = 256;
const LEVELS = 5;
const EMPTY_NODE: Node = Object.freeze(new Array<undefined>(FANOUT).fill(undefined));

export const empty: PhysMem = { root: EMPTY_NODE, pages: 0 };

/** The page holding physical page frame `pfn`, or undefined when it was never written (reads as zeros). */
export const page = (mem: PhysMem, pfn: number): Page | undefined => {
  let node: Node | Page | undefined = mem.root;
  let div = FANOUT ** (LEVELS - 1);
  for (let l = 0; l < LEVELS; l++) {
    if (node === undefined) return undefined;
    node = (node as Node)[Math.floor(pfn / div) % FANOUT];
    div /= FANOUT;
  }
  return node as Page | undefined;
};

/** Low 32 bits of the 64-bit little-endian value at `addr` (8-byte aligned). */
export const read64Lo = (mem: PhysMem, addr: number): number => {
  const p = page(mem, Math.floor(addr / PAGE_SIZE));
  return p === undefined ? 0 : p[(addr % PAGE_SIZE) >>> 2];
};
/** High 32 bits of the 64-bit little-endian value at `addr` (8-byte aligned). */
export const read64Hi = (mem: PhysMem, addr: number): number => {
  const p = page(mem, Math.floor(addr / PAGE_SIZE));
  return p === undefined ? 0 : p[((addr % PAGE_SIZE) >>> 2) + 1];
};

export const read8 = (mem: PhysMem, addr: number): number => {
  const p = page(mem, Math.floor(addr / PAGE_SIZE));
  if (p === undefined) return 0;
  const off = addr % PAGE_SIZE;
  return (p[off >>> 2] >>> ((off & 3) * 8)) & 0xff;
};

export const read32 = (mem: PhysMem, addr: number): number => {
  if (addr % 4 !== 0) {
    return (read8(mem, addr) | (read8(mem, addr + 1) << 8) | (read8(mem, addr + 2) << 16) | (read8(mem, addr + 3) << 24)) >>> 0;
  }
  const p = page(mem, Math.floor(addr / PAGE_SIZE));
  return p === undefined ? 0 : p[(addr % PAGE_SIZE) >>> 2];
};

/** The 64-bit value at `addr` as a bigint (edges only: VMX structures, scenario reads). */
export const read64 = (mem: PhysMem, addr: number): bigint =>
  (BigInt(read32(mem, addr + 4)) << 32n) | BigInt(read32(mem, addr));

/** Applies `edit` to a private copy of page `pfn` and returns the new memory (the old one is unchanged). */
export const updatePage = (mem: PhysMem, pfn: number, edit: (p: Page) => void): PhysMem => {
  const path: Node[] = [];
  let node: Node | undefined = mem.root;
  let div = FANOUT ** (LEVELS - 1);
  const idx: number[] = [];
  for (let l = 0; l < LEVELS - 1; l++) {
    const n: Node = node ?? EMPTY_NODE;
    path.push(n);
    const i = Math.floor(pfn / div) % FANOUT;
    idx.push(i);
    node = n[i] as Node | undefined;
    div /= FANOUT;
  }
  const leafNode: Node = node ?? EMPTY_NODE;
  const li = pfn % FANOUT;
  const old = leafNode[li] as Page | undefined;
  const fresh = old === undefined ? new Uint32Array(PAGE_SIZE / 4) : old.slice();
  edit(fresh);
  let child: Node | Page = replace(leafNode, li, fresh);
  for (let l = LEVELS - 2; l >= 0; l--) child = replace(path[l], idx[l], child);
  return { root: child as Node, pages: mem.pages + (old === undefined ? 1 : 0) };
};

const replace = (n: Node, i: number, v: Node | Page): Node => {
  const c = n.slice();
  c[i] = v;
  return c;
};

export const write8 = (mem: PhysMem, addr: number, v: number): PhysMem =>
  updatePage(mem, Math.floor(addr / PAGE_SIZE), (p) => {
    const off = addr % PAGE_SIZE;
    const sh = (off & 3) * 8;
    p[off >>> 2] = ((p[off >>> 2] & ~(0xff << sh)) | ((v & 0xff) << sh)) >>> 0;
  });

export const write32 = (mem: PhysMem, addr: number, v: number): PhysMem => {
  if (addr % 4 !== 0) {
    let m = mem;
    for (let i = 0; i < 4; i++) m = write8(m, addr + i, (v >>> (8 * i)) & 0xff);
    return m;
  }
  return updatePage(mem, Math.floor(addr / PAGE_SIZE), (p) => { p[(addr % PAGE_SIZE) >>> 2] = v >>> 0; });
};

/** Writes a 64-bit value given as two 32-bit halves (8-byte aligned `addr`). */
export const write64Parts = (mem: PhysMem, addr: number, lo: number, hi: number): PhysMem =>
  updatePage(mem, Math.floor(addr / PAGE_SIZE), (p) => {
    const w = (addr % PAGE_SIZE) >>> 2;
    p[w] = lo >>> 0;
    p[w + 1] = hi >>> 0;
  });

export const write64 = (mem: PhysMem, addr: number, v: bigint): PhysMem => {
  const x = v & 0xffff_ffff_ffff_ffffn;
  const lo = Number(x & 0xffff_ffffn);
  const hi = Number(x >> 32n);
  if (addr % 8 === 0) return write64Parts(mem, addr, lo, hi);
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
