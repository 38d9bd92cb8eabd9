/**
 * Pure builders of guest IA-32e page tables, written by guest-physical address.
 *
 * Models: what a guest OS writes to map a linear page (SDM Vol. 3A "4-Level Paging and 5-Level Paging": entry
 * formats, index bits). Every write goes through a function the caller supplies (`GuestPhysIo`), so under EPT the
 * caller translates GPA to HPA (or lets the hypervisor map the page), and under shadow paging it can see the writes.
 * Intermediate entries get P, R/W and U/S so the leaf alone decides the rights (as Linux does); leaf A/D start 0.
 * Tables come from a pure guest frame allocator `{ next }` (a guest-physical address, 4 KiB steps).
 * Leaves out: PAT/PCD/PWT, global pages, protection keys; splitting a large page (a new mapping replaces it).
 */

import { PAGE_SIZE, mod } from '../arch/addr';
import { guestIndex, PTE_HI_XD, PTE_P, PTE_PS, PTE_RW, PTE_US } from './paging';

export interface GuestPhysIo<S> {
  readonly read: (s: S, gpa: number) => { readonly lo: number; readonly hi: number };
  readonly write: (s: S, gpa: number, lo: number, hi: number) => S;
}

export interface GuestFrameAlloc {
  /** guest-physical address of the next free 4 KiB frame */
  readonly next: number;
}

export type GuestPageSize = '4K' | '2M' | '1G';
export interface GuestFlags {
  readonly writable: boolean;
  readonly user: boolean;
  /** false sets XD (needs IA32_EFER.NXE = 1 to be legal) */
  readonly executable: boolean;
}

// The last flags string parsed and its result (immutable, so shared): the guest OS model maps every page with the same
// flags, one of two strings.
let lastFlags: string | null = null;
let lastParsed: GuestFlags = { writable: false, user: false, executable: false };

/** Parses the trace's `flags` ("rwux": r is implied by present; w writable; u user; x executable, absent = XD). */
export const parseGuestFlags = (s: string): GuestFlags => {
  if (s === lastFlags) return lastParsed;
  const f = { writable: s.includes('w'), user: s.includes('u'), executable: s.includes('x') };
  lastFlags = s;
  lastParsed = f;
  return f;
};

const TWO32 = 4294967296;
export const guestPageBytes = (size: GuestPageSize): number => (size === '4K' ? PAGE_SIZE : size === '2M' ? 0x200000 : 0x40000000);
const leafLevelOf = (size: GuestPageSize): number => (size === '4K' ? 1 : size === '2M' ? 2 : 3);
const isTable = (lo: number, level: number): boolean => (lo & PTE_P) !== 0 && (level >= 4 || (lo & PTE_PS) === 0);

export interface GuestMapResult<S> {
  readonly state: S;
  readonly alloc: GuestFrameAlloc;
  /** guest-physical frames allocated for new tables (the caller may need to back them) */
  readonly newTables: readonly number[];
  /** guest-physical addresses written, in order */
  readonly written: readonly number[];
}

const tableFor = <S>(io: GuestPhysIo<S>, s0: S, alloc: GuestFrameAlloc, root: number, levels: number, gva: number, level: number) => {
  let s = s0;
  let next = alloc.next;
  let table = root;
  const newTables: number[] = [];
  const written: number[] = [];
  for (let l = levels; l > level; l--) {
    const addr = table + 8 * guestIndex(gva, l);
    const e = io.read(s, addr);
    if (isTable(e.lo, l)) {
      table = ((e.lo & 0xffff_f000) >>> 0) + (e.hi & 0xfffff) * TWO32;
    } else {
      const fresh = next;
      next += PAGE_SIZE;
      newTables.push(fresh);
      s = io.write(s, addr, ((fresh % TWO32) | PTE_P | PTE_RW | PTE_US) >>> 0, Math.floor(fresh / TWO32));
      written.push(addr);
      table = fresh;
    }
  }
  return { s, alloc: { next }, table, newTables, written };
};

/** Maps the `size` page at `gva` to `gpa` in the tables rooted at `root` (CR3's table). */
export const guestMap = <S>(
  io: GuestPhysIo<S>, s: S, alloc: GuestFrameAlloc, root: number, levels: 4 | 5, gva: number, gpa: number, size: GuestPageSize, flags: GuestFlags,
): GuestMapResult<S> => {
  const bytes = guestPageBytes(size);
  const v = gva - mod(gva, bytes);
  const p = gpa - (gpa % bytes);
  const level = leafLevelOf(size);
  const t = tableFor(io, s, alloc, root, levels, v, level);
  const addr = t.table + 8 * guestIndex(v, level);
  const lo = ((p % TWO32) | PTE_P | (flags.writable ? PTE_RW : 0) | (flags.user ? PTE_US : 0) | (level > 1 ? PTE_PS : 0)) >>> 0;
  const hi = (Math.floor(p / TWO32) | (flags.executable ? 0 : PTE_HI_XD)) >>> 0;
  const state = io.write(t.s, addr, lo, hi);
  // (tableFor's list is this call's own: appended to, not copied)
  t.written.push(addr);
  return { state, alloc: t.alloc, newTables: t.newTables, written: t.written };
};

/** Clears the leaf entry mapping `gva` (at whatever level it is); unchanged when nothing maps it. */
export const guestUnmap = <S>(io: GuestPhysIo<S>, s: S, root: number, levels: 4 | 5, gva: number): { readonly state: S; readonly written: readonly number[] } => {
  let table = root;
  for (let l: number = levels; l >= 1; l--) {
    const addr = table + 8 * guestIndex(gva, l);
    const e = io.read(s, addr);
    if ((e.lo & PTE_P) === 0) return { state: s, written: [] };
    if (l === 1 || (l <= 3 && (e.lo & PTE_PS) !== 0)) return { state: io.write(s, addr, 0, 0), written: [addr] };
    table = ((e.lo & 0xffff_f000) >>> 0) + (e.hi & 0xfffff) * TWO32;
  }
  return { state: s, written: [] };
};
