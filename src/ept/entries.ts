/**
 * EPT paging-structure entries as layout tables, plus the numeric masks the walk uses.
 *
 * Models: SDM Vol. 3C "EPT Translation Mechanism", tables "Format of an EPT PML5 Entry" ... "Format of an EPT
 * Page-Table Entry" (one declaration per table, fields low to high). The walk (src/ept/walk.ts) reads an entry as two
 * 32-bit numbers; the `EPTE_*` constants below are the same bits as numbers and tests check they agree with the tables.
 * Leaves out: the address field's upper bound depends on MAXPHYADDR, so the tables declare the architectural maximum
 * (bit 51) and the walk treats bits 51:N as reserved.
 */

import { defineLayout, Layout } from '../arch/layout';

const rwx = [
  { name: 'R', lo: 0, doc: 'read access' },
  { name: 'W', lo: 1, doc: 'write access' },
  { name: 'X', lo: 2, doc: 'execute access (supervisor-mode linear addresses when mode-based execute control = 1)' },
];

/** SDM table "Format of an EPT PML5 Entry (PML5E) that References an EPT PML4 Table" */
export const EPT_PML5E: Layout = defineLayout('EPT PML5E', 'SDM Vol. 3C table "Format of an EPT PML5 Entry"', 64, [
  ...rwx,
  { name: 'A', lo: 8, doc: 'accessed (EPTP bit 6 = 1)' },
  { name: 'UX', lo: 10, doc: 'user-mode execute (mode-based execute control = 1)' },
  { name: 'ADDR', lo: 12, hi: 51, doc: 'physical address of the EPT PML4 table' },
]);

/** SDM table "Format of an EPT PML4 Entry (PML4E) that References an EPT Page-Directory-Pointer Table" */
export const EPT_PML4E: Layout = defineLayout('EPT PML4E', 'SDM Vol. 3C table "Format of an EPT PML4 Entry"', 64, [
  ...rwx,
  { name: 'A', lo: 8, doc: 'accessed (EPTP bit 6 = 1)' },
  { name: 'UX', lo: 10, doc: 'user-mode execute (mode-based execute control = 1)' },
  { name: 'ADDR', lo: 12, hi: 51, doc: 'physical address of the EPT page-directory-pointer table' },
]);

const leafHigh = [
  { name: 'VGP', lo: 57, doc: 'verify guest paging (tertiary control bit 3)' },
  { name: 'PWA', lo: 58, doc: 'paging-write access (tertiary control bit 2)' },
  { name: 'SSS', lo: 60, doc: 'supervisor shadow stack (EPTP bit 7)' },
];

/** SDM table "Format of an EPT Page-Directory-Pointer-Table Entry (PDPTE) that Maps a 1-GByte Page" */
export const EPT_PDPTE_1G: Layout = defineLayout('EPT PDPTE (1 GiB page)', 'SDM Vol. 3C table "Format of an EPT PDPTE that Maps a 1-GByte Page"', 64, [
  ...rwx,
  { name: 'MT', lo: 3, hi: 5, doc: 'EPT memory type' },
  { name: 'IPAT', lo: 6, doc: 'ignore PAT memory type' },
  { name: 'PS', lo: 7, doc: 'must be 1 (otherwise the entry references a page directory)' },
  { name: 'A', lo: 8, doc: 'accessed' },
  { name: 'D', lo: 9, doc: 'dirty' },
  { name: 'UX', lo: 10, doc: 'user-mode execute' },
  { name: 'ADDR', lo: 30, hi: 51, doc: 'physical address of the 1 GiB page' },
  ...leafHigh,
  { name: 'SVE', lo: 63, doc: 'suppress #VE' },
]);

/** SDM table "Format of an EPT Page-Directory-Pointer-Table Entry (PDPTE) that References an EPT Page Directory" */
export const EPT_PDPTE: Layout = defineLayout('EPT PDPTE', 'SDM Vol. 3C table "Format of an EPT PDPTE that References an EPT Page Directory"', 64, [
  ...rwx,
  { name: 'PS', lo: 7, doc: 'must be 0' },
  { name: 'A', lo: 8, doc: 'accessed' },
  { name: 'UX', lo: 10, doc: 'user-mode execute' },
  { name: 'ADDR', lo: 12, hi: 51, doc: 'physical address of the EPT page directory' },
]);

/** SDM table "Format of an EPT Page-Directory Entry (PDE) that Maps a 2-MByte Page" */
export const EPT_PDE_2M: Layout = defineLayout('EPT PDE (2 MiB page)', 'SDM Vol. 3C table "Format of an EPT PDE that Maps a 2-MByte Page"', 64, [
  ...rwx,
  { name: 'MT', lo: 3, hi: 5, doc: 'EPT memory type' },
  { name: 'IPAT', lo: 6, doc: 'ignore PAT memory type' },
  { name: 'PS', lo: 7, doc: 'must be 1' },
  { name: 'A', lo: 8, doc: 'accessed' },
  { name: 'D', lo: 9, doc: 'dirty' },
  { name: 'UX', lo: 10, doc: 'user-mode execute' },
  { name: 'ADDR', lo: 21, hi: 51, doc: 'physical address of the 2 MiB page' },
  ...leafHigh,
  { name: 'SVE', lo: 63, doc: 'suppress #VE' },
]);

/** SDM table "Format of an EPT Page-Directory Entry (PDE) that References an EPT Page Table" */
export const EPT_PDE: Layout = defineLayout('EPT PDE', 'SDM Vol. 3C table "Format of an EPT PDE that References an EPT Page Table"', 64, [
  ...rwx,
  { name: 'PS', lo: 7, doc: 'must be 0' },
  { name: 'A', lo: 8, doc: 'accessed' },
  { name: 'UX', lo: 10, doc: 'user-mode execute' },
  { name: 'ADDR', lo: 12, hi: 51, doc: 'physical address of the EPT page table' },
]);

/** SDM table "Format of an EPT Page-Table Entry that Maps a 4-KByte Page" */
export const EPT_PTE: Layout = defineLayout('EPT PTE', 'SDM Vol. 3C table "Format of an EPT Page-Table Entry that Maps a 4-KByte Page"', 64, [
  ...rwx,
  { name: 'MT', lo: 3, hi: 5, doc: 'EPT memory type' },
  { name: 'IPAT', lo: 6, doc: 'ignore PAT memory type' },
  { name: 'A', lo: 8, doc: 'accessed' },
  { name: 'D', lo: 9, doc: 'dirty' },
  { name: 'UX', lo: 10, doc: 'user-mode execute' },
  { name: 'ADDR', lo: 12, hi: 51, doc: 'physical address of the 4 KiB page' },
  ...leafHigh,
  { name: 'SPP', lo: 61, doc: 'sub-page write permissions' },
  { name: 'SVE', lo: 63, doc: 'suppress #VE' },
]);

/** Every EPT entry table, for the well-formedness test. */
export const EPT_LAYOUTS: readonly Layout[] = [EPT_PML5E, EPT_PML4E, EPT_PDPTE_1G, EPT_PDPTE, EPT_PDE_2M, EPT_PDE, EPT_PTE];

// The same bits as numbers over the low word of an entry (hot path).
export const EPTE_R = 0x1;
export const EPTE_W = 0x2;
export const EPTE_X = 0x4;
export const EPTE_RWX = 0x7;
export const EPTE_MT_SHIFT = 3;
export const EPTE_IPAT = 0x40;
export const EPTE_PS = 0x80;
export const EPTE_A = 0x100;
export const EPTE_D = 0x200;
export const EPTE_UX = 0x400;
/** bit 63 (suppress #VE) in the high word */
export const EPTE_HI_SVE = 0x8000_0000;

/** EPT memory types (SDM "EPT and Memory Typing"); 2, 3 and 7 are reserved. */
export const EPT_MT = { UC: 0, WC: 1, WT: 4, WP: 5, WB: 6 } as const;
export const isReservedEptMemType = (mt: number): boolean => mt === 2 || mt === 3 || mt === 7;
