/**
 * Pure builders of EPT paging structures (scenarios `ept_map` / `ept_write_entry`, the hypervisor model, tests).
 *
 * Models: what a VMM writes into host memory to map guest-physical pages (SDM Vol. 3C "EPT Translation Mechanism":
 * entry formats and index bits). Intermediate tables come from a pure frame allocator `{ next }` that hands out
 * 4 KiB host frames upward. Intermediate entries get R, W, X and bit 10 (user-execute, ignored without MBEC), so
 * the leaf alone decides the rights. Writing an entry does not invalidate any TLB (the caller runs INVEPT).
 * Leaves out: freeing tables; splitting an existing large page (a new mapping below a large leaf replaces it).
 */

import { PAGE_SIZE } from '../arch/addr';
import * as Phys from '../arch/phys';
import { EPTE_PS, EPTE_R, EPTE_RWX, EPTE_UX, EPTE_W, EPTE_X } from './entries';
import { eptIndex } from './walk';

export interface FrameAlloc {
  /** host-physical address of the next free 4 KiB frame */
  readonly next: number;
}

export type EptPageSize = '4K' | '2M' | '1G';
export interface EptPerm {
  readonly r: boolean;
  readonly w: boolean;
  readonly x: boolean;
  readonly ux?: boolean;
}

const TWO32 = 4294967296;
const INTERMEDIATE = EPTE_RWX | EPTE_UX;

export const pageBytes = (size: EptPageSize): number => (size === '4K' ? PAGE_SIZE : size === '2M' ? 0x200000 : 0x40000000);
const leafLevelOf = (size: EptPageSize): number => (size === '4K' ? 1 : size === '2M' ? 2 : 3);

/** Parses "rwx" / "rw" / "r-x" / "x" / "rwxu" (u = user-execute, bit 10). */
export const parsePerm = (s: string): EptPerm => ({ r: s.includes('r'), w: s.includes('w'), x: s.includes('x'), ux: s.includes('u') });

/** The low word of a leaf entry (frame bits below 2^32 included). */
export const leafLo = (hpa: number, size: EptPageSize, perm: EptPerm, memType: number): number =>
  ((hpa % TWO32) | (perm.r ? EPTE_R : 0) | (perm.w ? EPTE_W : 0) | (perm.x ? EPTE_X : 0) | (perm.ux === true ? EPTE_UX : 0) |
    ((memType & 7) << 3) | (size === '4K' ? 0 : EPTE_PS)) >>> 0;

const isTable = (lo: number, level: number): boolean => (lo & EPTE_RWX) !== 0 && (level === 4 || level === 5 || (lo & EPTE_PS) === 0);
const frameOf = (lo: number, hi: number): number => ((lo & 0xffff_f000) >>> 0) + (hi & 0xfffff) * TWO32;

/** Walks down to the table holding the entry for `gpa` at `level`, allocating missing tables. */
const tableFor = (mem: Phys.PhysMem, alloc: FrameAlloc, root: number, levels: number, gpa: number, level: number): { mem: Phys.PhysMem; alloc: FrameAlloc; table: number } => {
  let m = mem;
  let next = alloc.next;
  let table = root;
  for (let l = levels; l > level; l--) {
    const addr = table + 8 * eptIndex(gpa, l);
    const lo = Phys.read64Lo(m, addr);
    const hi = Phys.read64Hi(m, addr);
    if (isTable(lo, l)) {
      table = frameOf(lo, hi);
    } else {
      const fresh = next;
      next += PAGE_SIZE;
      m = Phys.write64Parts(m, addr, (fresh % TWO32 | INTERMEDIATE) >>> 0, Math.floor(fresh / TWO32));
      table = fresh;
    }
  }
  return { mem: m, alloc: { next }, table };
};

/** Maps the `size` page at `gpa` to `hpa` (both aligned down to the page size). */
export const eptMap = (
  mem: Phys.PhysMem, alloc: FrameAlloc, root: number, levels: 4 | 5, gpa: number, hpa: number, size: EptPageSize, perm: EptPerm, memType = 6,
): { mem: Phys.PhysMem; alloc: FrameAlloc } => {
  const bytes = pageBytes(size);
  const g = gpa - (gpa % bytes);
  const h = hpa - (hpa % bytes);
  const level = leafLevelOf(size);
  const t = tableFor(mem, alloc, root, levels, g, level);
  const addr = t.table + 8 * eptIndex(g, level);
  return { mem: Phys.write64Parts(t.mem, addr, leafLo(h, size, perm, memType), Math.floor(h / TWO32)), alloc: t.alloc };
};

/** Host address of the entry for `gpa` at `level`, or undefined when an upper entry is not a present table. */
export const eptEntryAddress = (mem: Phys.PhysMem, root: number, levels: number, gpa: number, level: number): number | undefined => {
  let table = root;
  for (let l = levels; l > level; l--) {
    const addr = table + 8 * eptIndex(gpa, l);
    const lo = Phys.read64Lo(mem, addr);
    if (!isTable(lo, l)) return undefined;
    table = frameOf(lo, Phys.read64Hi(mem, addr));
  }
  return table + 8 * eptIndex(gpa, level);
};

/**
 * Writes a raw entry (misconfigurations included) for `gpa` at `level`. Missing upper tables are allocated when an
 * allocator is given; otherwise the result is `undefined`.
 */
export const eptWriteEntry = (
  mem: Phys.PhysMem, root: number, levels: 4 | 5, gpa: number, level: number, raw: bigint, alloc?: FrameAlloc,
): { mem: Phys.PhysMem; alloc?: FrameAlloc } | undefined => {
  if (alloc === undefined) {
    const addr = eptEntryAddress(mem, root, levels, gpa, level);
    return addr === undefined ? undefined : { mem: Phys.write64(mem, addr, raw) };
  }
  const t = tableFor(mem, alloc, root, levels, gpa, level);
  return { mem: Phys.write64(t.mem, t.table + 8 * eptIndex(gpa, level), raw), alloc: t.alloc };
};

/** Identity-maps [0, bytes) with `size` pages, all rights (tests, `ept.backing = identity`). */
export const eptIdentity = (mem: Phys.PhysMem, alloc: FrameAlloc, root: number, levels: 4 | 5, bytes: number, size: EptPageSize): { mem: Phys.PhysMem; alloc: FrameAlloc } => {
  let s = { mem, alloc };
  const step = pageBytes(size);
  for (let a = 0; a < bytes; a += step) s = eptMap(s.mem, s.alloc, root, levels, a, a, size, { r: true, w: true, x: true, ux: true });
  return s;
};
