/**
 * Guest IA-32e paging (4-level and 5-level) over guest-physical memory (hot path: numbers only, no bigint).
 *
 * Models: SDM Vol. 3A "4-Level Paging and 5-Level Paging" (linear-address translation, the entry formats of its
 * tables), "Access Rights" (U/S, R/W with CR0.WP, XD with IA32_EFER.NXE, optional CR4.SMEP), "Accessed and Dirty
 * Flags", "Page-Fault Exceptions" (error code P, W/R, U/S, RSVD, I/D), and paging disabled (CR0.PG = 0: the linear
 * address is the physical address). The walker never reads memory itself: it takes `readEntry(gpa, level)`, so the
 * caller decides how a guest-physical address is read (directly, or through EPT in src/mmu/walk2d.ts).
 * Leaves out: 32-bit and PAE paging, protection keys, SMAP, shadow stacks, HLAT, PCID (the caller strips CR3[11:0]),
 * global pages (a TLB concern), memory typing (PWT/PCD/PAT). A/D flags are set only when the access succeeds.
 */

import { defineLayout, Layout } from '../arch/layout';
import { Gpa, Gva, gpa as mkGpa, hiAddrMask, LEVEL_INV, lowBits } from '../arch/addr';

const common = [
  { name: 'P', lo: 0, doc: 'present' },
  { name: 'RW', lo: 1, doc: 'read/write' },
  { name: 'US', lo: 2, doc: 'user/supervisor' },
  { name: 'PWT', lo: 3, doc: 'page-level write-through' },
  { name: 'PCD', lo: 4, doc: 'page-level cache disable' },
  { name: 'A', lo: 5, doc: 'accessed' },
];

/** SDM table "Format of a PML5 Entry (PML5E) that References a PML4 Table" */
export const PML5E: Layout = defineLayout('PML5E', 'SDM Vol. 3A table "Format of a PML5 Entry"', 64, [
  ...common, { name: 'PS', lo: 7, doc: 'reserved (must be 0)' }, { name: 'ADDR', lo: 12, hi: 51 }, { name: 'XD', lo: 63 },
]);
/** SDM table "Format of a PML4 Entry (PML4E) that References a Page-Directory-Pointer Table" */
export const PML4E: Layout = defineLayout('PML4E', 'SDM Vol. 3A table "Format of a PML4 Entry"', 64, [
  ...common, { name: 'PS', lo: 7, doc: 'reserved (must be 0)' }, { name: 'ADDR', lo: 12, hi: 51 }, { name: 'XD', lo: 63 },
]);
/** SDM table "Format of a Page-Directory-Pointer-Table Entry (PDPTE) that Maps a 1-GByte Page" */
export const PDPTE_1G: Layout = defineLayout('PDPTE (1 GiB page)', 'SDM Vol. 3A table "Format of a PDPTE that Maps a 1-GByte Page"', 64, [
  ...common, { name: 'D', lo: 6 }, { name: 'PS', lo: 7, doc: 'page size (1)' }, { name: 'G', lo: 8 }, { name: 'PAT', lo: 12 },
  { name: 'ADDR', lo: 30, hi: 51 }, { name: 'PK', lo: 59, hi: 62 }, { name: 'XD', lo: 63 },
]);
/** SDM table "Format of a Page-Directory-Pointer-Table Entry (PDPTE) that References a Page Directory" */
export const PDPTE: Layout = defineLayout('PDPTE', 'SDM Vol. 3A table "Format of a PDPTE that References a Page Directory"', 64, [
  ...common, { name: 'PS', lo: 7, doc: 'page size (0)' }, { name: 'ADDR', lo: 12, hi: 51 }, { name: 'XD', lo: 63 },
]);
/** SDM table "Format of a Page-Directory Entry that Maps a 2-MByte Page" */
export const PDE_2M: Layout = defineLayout('PDE (2 MiB page)', 'SDM Vol. 3A table "Format of a PDE that Maps a 2-MByte Page"', 64, [
  ...common, { name: 'D', lo: 6 }, { name: 'PS', lo: 7, doc: 'page size (1)' }, { name: 'G', lo: 8 }, { name: 'PAT', lo: 12 },
  { name: 'ADDR', lo: 21, hi: 51 }, { name: 'PK', lo: 59, hi: 62 }, { name: 'XD', lo: 63 },
]);
/** SDM table "Format of a Page-Directory Entry that References a Page Table" */
export const PDE: Layout = defineLayout('PDE', 'SDM Vol. 3A table "Format of a PDE that References a Page Table"', 64, [
  ...common, { name: 'PS', lo: 7, doc: 'page size (0)' }, { name: 'ADDR', lo: 12, hi: 51 }, { name: 'XD', lo: 63 },
]);
/** SDM table "Format of a Page-Table Entry that Maps a 4-KByte Page" */
export const PTE: Layout = defineLayout('PTE', 'SDM Vol. 3A table "Format of a Page-Table Entry that Maps a 4-KByte Page"', 64, [
  ...common, { name: 'D', lo: 6 }, { name: 'PAT', lo: 7 }, { name: 'G', lo: 8 }, { name: 'ADDR', lo: 12, hi: 51 },
  { name: 'PK', lo: 59, hi: 62 }, { name: 'XD', lo: 63 },
]);
export const GUEST_LAYOUTS: readonly Layout[] = [PML5E, PML4E, PDPTE_1G, PDPTE, PDE_2M, PDE, PTE];

// The same bits as numbers (low word; XD is bit 31 of the high word).
export const PTE_P = 0x1;
export const PTE_RW = 0x2;
export const PTE_US = 0x4;
export const PTE_A = 0x20;
export const PTE_D = 0x40;
export const PTE_PS = 0x80;
export const PTE_HI_XD = 0x8000_0000;

/** Page-fault error code bits (SDM "Page-Fault Error Code"). */
export const PFEC = { P: 0x1, W: 0x2, U: 0x4, RSVD: 0x8, ID: 0x10 } as const;

export interface GuestPagingConfig {
  /** guest-physical address of the root table (CR3[M-1:12]) */
  readonly cr3: Gpa;
  /** CR4.LA57: 5-level paging */
  readonly la57: boolean;
  /** IA32_EFER.NXE */
  readonly nxe: boolean;
  /** CR0.WP */
  readonly wp: boolean;
  /** CR4.SMEP (optional) */
  readonly smep?: boolean;
  /** guest MAXPHYADDR (bits M-1:12 are the frame) */
  readonly maxPhyAddr: number;
  /** CPUID.80000001H:EDX[26]: 1 GiB pages (default true) */
  readonly pages1G?: boolean;
}

export type GuestAccessKind = 'read' | 'write' | 'fetch';
export interface GuestAccess {
  readonly kind: GuestAccessKind;
  /** CPL = 3 */
  readonly user: boolean;
}

/** Where to start when a paging-structure cache supplies the upper levels. */
export interface GuestWalkStart {
  /** level of the table at `table` (the next entry read is at this level) */
  readonly level: number;
  readonly table: Gpa;
  /** accumulated U/S, R/W (AND) and XD (OR) of the cached upper entries */
  readonly user: boolean;
  readonly writable: boolean;
  readonly xd: boolean;
}

/** One entry read by `readEntry`, or a stop signal from the caller (e.g. an EPT exit on the entry's GPA). */
export type EntryRead<S> = { readonly _tag: 'entry'; readonly lo: number; readonly hi: number } | { readonly _tag: 'stop'; readonly stop: S };
export type ReadEntry<S> = (entryGpa: Gpa, level: number) => EntryRead<S>;

export interface GuestEntryUsed {
  readonly gpa: Gpa;
  readonly level: number;
  readonly lo: number;
  readonly hi: number;
}

export type GuestWalkResult<S> =
  | {
      readonly _tag: 'ok';
      readonly gpa: Gpa;
      readonly pageSize: number;
      /** 1 = PTE, 2 = PDE (2 MiB), 3 = PDPTE (1 GiB) */
      readonly leafLevel: number;
      /** user-mode linear address: U/S = 1 at every level */
      readonly user: boolean;
      /** R/W = 1 at every level */
      readonly writable: boolean;
      /** XD = 1 at some level (with NXE) */
      readonly xd: boolean;
      /** entries read, top-down (for A/D updates and paging-structure caches) */
      readonly entries: readonly GuestEntryUsed[];
    }
  | { readonly _tag: 'fault'; readonly errorCode: number; readonly level: number }
  | { readonly _tag: 'stop'; readonly stop: S; readonly level: number };

const TWO32 = 4294967296;

/** Index of `gva` in the guest table at `level` (PML5 56:48 ... PT 20:12). */
export const guestIndex = (gva: number, level: number): number => Math.floor(gva * LEVEL_INV[level]) & 511;

/** Reserved bits set in a present entry? SDM "Page-Fault Exceptions" (RSVD) for 4-level and 5-level paging. */
export const guestReserved = (cfg: GuestPagingConfig, lo: number, hi: number, level: number): boolean => {
  // Bits 51:M.
  const hiRsvd = 0xfffff & ~(hiAddrMask(cfg.maxPhyAddr));
  if ((hi & hiRsvd) !== 0) return true;
  // XD is reserved when IA32_EFER.NXE = 0.
  if (!cfg.nxe && (hi & PTE_HI_XD) !== 0) return true;
  const ps = (lo & PTE_PS) !== 0;
  if (level >= 4) return ps;
  if (level === 3 && ps) return cfg.pages1G === false || (lo & 0x3fff_e000) !== 0;
  if (level === 2 && ps) return (lo & 0x001f_e000) !== 0;
  return false;
};

/**
 * SDM "Access Rights": do the rights of a whole translation (U/S and R/W ANDed over the levels, XD ORed) allow the
 * access? Supervisor writes to read-only pages need CR0.WP = 0; supervisor fetches from user pages fault with SMEP.
 */
export const rightsAllow = (cfg: GuestPagingConfig, access: GuestAccess, user: boolean, writable: boolean, xd: boolean): boolean => {
  if (access.user && !user) return false;
  if (access.kind === 'write' && !writable && (access.user || cfg.wp)) return false;
  if (access.kind === 'fetch' && (xd || (!access.user && user && cfg.smep === true))) return false;
  return true;
};

/** The page-fault error code bits an access sets whatever the fault (SDM "Page-Fault Error Code": W/R, U/S, I/D;
 * I/D only when SMEP or (PAE and NXE)). */
export const accessErrorBits = (cfg: GuestPagingConfig, access: GuestAccess): number =>
  (access.kind === 'write' ? PFEC.W : 0) | (access.user ? PFEC.U : 0) |
  (access.kind === 'fetch' && (cfg.nxe || cfg.smep === true) ? PFEC.ID : 0);

/**
 * Translates `gva` with guest paging; every entry is read through `readEntry`.
 * Order (SDM "Linear-Address Translation"): top-down, not-present => #PF(P=0), reserved bit => #PF(RSVD), then the
 * access rights of the whole translation.
 */
export const guestWalk = <S>(cfg: GuestPagingConfig, gva: Gva, access: GuestAccess, readEntry: ReadEntry<S>, start?: GuestWalkStart): GuestWalkResult<S> => {
  const hiAddr = hiAddrMask(cfg.maxPhyAddr);
  let level = start?.level ?? (cfg.la57 ? 5 : 4);
  let table = (start?.table ?? cfg.cr3) as number;
  let user = start?.user ?? true;
  let writable = start?.writable ?? true;
  let xd = start?.xd ?? false;
  const entries: GuestEntryUsed[] = [];
  const base = accessErrorBits(cfg, access);
  let lo = 0;
  for (;;) {
    const eGpa = mkGpa(table + 8 * guestIndex(gva, level));
    const e = readEntry(eGpa, level);
    if (e._tag === 'stop') return { _tag: 'stop', stop: e.stop, level };
    lo = e.lo;
    const hi = e.hi;
    entries.push({ gpa: eGpa, level, lo, hi });
    if ((lo & PTE_P) === 0) return { _tag: 'fault', errorCode: base, level };
    if (guestReserved(cfg, lo, hi, level)) return { _tag: 'fault', errorCode: base | PFEC.P | PFEC.RSVD, level };
    user = user && (lo & PTE_US) !== 0;
    writable = writable && (lo & PTE_RW) !== 0;
    xd = xd || (cfg.nxe && (hi & PTE_HI_XD) !== 0);
    if (level === 1 || (level <= 3 && (lo & PTE_PS) !== 0)) {
      const shift = level === 1 ? 12 : level === 2 ? 21 : 30;
      const size = 2 ** shift;
      const frameLo = level === 1 ? lo & 0xffff_f000 : level === 2 ? lo & 0xffe0_0000 : lo & 0xc000_0000;
      const out = (frameLo >>> 0) + (hi & hiAddr) * TWO32 + lowBits(gva, size);
      if (!rightsAllow(cfg, access, user, writable, xd)) return { _tag: 'fault', errorCode: base | PFEC.P, level };
      return { _tag: 'ok', gpa: mkGpa(out), pageSize: size, leafLevel: level, user, writable, xd, entries };
    }
    table = ((lo & 0xffff_f000) >>> 0) + (hi & hiAddr) * TWO32;
    level--;
  }
};

/** An entry's new value after its A/D update, and its position in the walk's entries. */
export interface GuestAdUpdate extends GuestEntryUsed {
  readonly index: number;
}

/**
 * The guest A/D updates a successful access makes (SDM "Accessed and Dirty Flags"): A in every entry used, D in the
 * leaf on a write. Returns only entries whose value changes.
 */
export const guestAdUpdates = (entries: readonly GuestEntryUsed[], write: boolean): readonly GuestAdUpdate[] => {
  const out: GuestAdUpdate[] = [];
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    const nlo = (e.lo | PTE_A | (write && i === entries.length - 1 ? PTE_D : 0)) >>> 0;
    if (nlo !== e.lo) out.push({ gpa: e.gpa, level: e.level, lo: nlo, hi: e.hi, index: i });
  }
  return out;
};
