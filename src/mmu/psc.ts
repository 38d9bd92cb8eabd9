/**
 * Paging-structure caches for the guest paging levels (PML5E, PML4E, PDPTE and PDE caches).
 *
 * Models: SDM Vol. 3A "Paging-Structure Caches" (4.10.3) and, with EPT, the combined paging-structure-cache entries of
 * SDM Vol. 3C "Information That May Be Cached" (28.3.1). A PDE-cache entry is referenced by linear-address bits 56:21
 * (the key is linear / 2^21), holds the address of the page table the PDE references, R/W and U/S ANDed over the
 * levels and XD ORed; likewise the PDPTE cache (bits 56:30), PML4E cache (56:39) and PML5E cache (56:48). Entries are
 * tagged VPID + PCID + EP4TA (-1 when EPT is not in use). The stored table address is guest-physical under EPT (the
 * walk then translates it, usually through the nested TLB); a leaf (page) entry is never cached here ("Caches for
 * Paging Structures": only entries that reference another paging structure).
 * Lookup returns the deepest hit, so the walk starts at the level below it.
 * Leaves out: EPT paging-structure caches (the nested TLB stands for them), PCD/PWT.
 */

import { LEVEL_INV } from '../arch/addr';
import {
  type CacheArray, emptyArray, flagsOf, FL_RW, FL_US, FL_X, insert, insertAbsent, KIND_PSC,
  entryFlags, entryValue, probe, setOf, SIZE_4K, touch,
} from './tlb';
import type { TlbConfig } from './tlbConfig';

/** arrays[0] = PDE cache (level 2), [1] = PDPTE (3), [2] = PML4E (4), [3] = PML5E (5). */
export interface Psc {
  readonly arrays: ReadonlyArray<CacheArray>;
}

export const emptyPsc = (c: TlbConfig): Psc => ({ arrays: [c.pde, c.pdpt, c.pml4, c.pml5].map(emptyArray) });

/** Linear-address shift of the entry cached for a paging-structure level (2 = PDE ... 5 = PML5E). */
export const levelShift = (level: number): number => 12 + 9 * (level - 1);
export const pscKey = (gva: number, level: number): number => Math.floor(gva * LEVEL_INV[level]);

/**
 * A hit is level * 2^16 + set * 64 + way; -1 when no cache holds the address. Searches the PDE cache first (it
 * skips the most levels), down to the highest level below the root (`rootLevel` - 1 ... 2; the root entry itself is
 * the PML4E / PML5E). Allocation-free.
 */
export const lookup = (psc: Psc, rootLevel: number, gva: number, vpid: number, pcid: number, ep4ta: number): number => {
  for (let level = 2; level <= rootLevel; level++) {
    const arr = psc.arrays[level - 2];
    if (arr.sets === 0) continue;
    const key = pscKey(gva, level);
    const set = setOf(arr, key);
    const w = probe(arr, set, KIND_PSC, SIZE_4K, key, vpid, pcid, ep4ta);
    if (w >= 0) {
      const o = lookupOut;
      o.level = level;
      o.table = entryValue(arr, set, w) * 4096;
      o.rights = entryFlags(arr, set, w) & (FL_RW | FL_US | FL_X);
      o.mru = arr.meta[5 * arr.n + set] === set * arr.ways + w;
      return level * 65536 + set * 64 + w;
    }
  }
  return -1;
};

/**
 * What the last `lookup` that hit found: `hitLevel`, `hitTable` and `hitRights` of its hit, and whether the entry is
 * already the most recently used of its set (`mru`: a `touchHit` of it then changes nothing while the cache is not
 * written), read from this record right after the call (one record for the process; no decoding of the hit number).
 */
export const lookupOut = { level: 0, table: 0, rights: 0, mru: false };

/** The level of the cached entry (2 = PDE); the walk continues at level - 1. */
export const hitLevel = (h: number): number => Math.floor(h / 65536);
const hitSet = (h: number): number => (h >>> 6) & 1023;
const hitWay = (h: number): number => h & 63;

/** Address (guest-physical under EPT) of the next paging structure the cached entry references. */
export const hitTable = (psc: Psc, h: number): number => {
  const arr = psc.arrays[hitLevel(h) - 2];
  return entryValue(arr, hitSet(h), hitWay(h)) * 4096;
};

/** Accumulated rights (FL_RW, FL_US, FL_X) of the levels down to the cached entry. */
export const hitRights = (psc: Psc, h: number): number => {
  const arr = psc.arrays[hitLevel(h) - 2];
  return entryFlags(arr, hitSet(h), hitWay(h)) & (FL_RW | FL_US | FL_X);
};

/**
 * `psc` with array `i` now `arr` (`psc` itself when it is that array already). One function for the touches and the
 * fills: its rare path (a copy, the first write of a chunk) then has type feedback from either, and optimized code
 * that inlined it does not deoptimize when a touch first takes it.
 */
const withArray = (psc: Psc, i: number, arr: CacheArray): Psc => {
  if (arr === psc.arrays[i]) return psc;
  const arrays = psc.arrays.slice();
  arrays[i] = arr;
  return { arrays };
};

export const touchHit = (psc: Psc, h: number): Psc => {
  const i = hitLevel(h) - 2;
  return withArray(psc, i, touch(psc.arrays[i], hitSet(h), hitWay(h)));
};

/**
 * Cache a present non-leaf entry of `level` (2..5) met on a successful walk: `table` is the address of the structure
 * it references, `rights` the FL_RW | FL_US | FL_X accumulated down to and including it. `absent`: `lookup` with these
 * tags probed this level's cache for `gva` and found nothing (it probes from the PDE cache up and stops at the first
 * hit, so every level below a hit was probed), and the cache was not written since; the fill then skips the scan for
 * an entry to replace (tlb.ts `insertAbsent`). Same result.
 */
export const fill = (
  psc: Psc, level: number, gva: number, vpid: number, pcid: number, ep4ta: number, table: number, rights: number,
  absent = false,
): Psc => {
  if (level < 2 || level > 5) return psc;
  const i = level - 2;
  const flags = flagsOf(KIND_PSC, SIZE_4K, rights & (FL_RW | FL_US | FL_X));
  const key = pscKey(gva, level);
  const value = Math.floor(table / 4096);
  return withArray(psc, i, absent ? insertAbsent(psc.arrays[i], flags, key, vpid, pcid, ep4ta, value) : insert(psc.arrays[i], flags, key, vpid, pcid, ep4ta, value));
};

export const mapArrays = (psc: Psc, f: (arr: CacheArray) => CacheArray): Psc => {
  let changed = false;
  const arrays = psc.arrays.map((a) => {
    const n = f(a);
    if (n !== a) changed = true;
    return n;
  });
  return changed ? { arrays } : psc;
};
