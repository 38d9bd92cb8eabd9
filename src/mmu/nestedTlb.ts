/**
 * The nested TLB: guest-physical mappings (GPA page -> HPA frame) of the pages that hold guest paging structures.
 *
 * Models: SDM Vol. 3C "Information That May Be Cached" (28.3.1): guest-physical mappings are derived from the EPT
 * paging structures when they translate guest-physical addresses, tagged by EP4TA, and are used for the guest-physical
 * addresses of guest paging-structure entries during a two-dimensional walk ("Creating and Using Cached Translation
 * Information", 28.3.2). A separate structure for them is the "nested TLB" of Bhargava et al. (ASPLOS 2008); on Intel
 * the equivalent sharing with the TLBs is not documented, so a separate small set-associative array is our model.
 * Entries hold the 4 KiB piece of the EPT page (an EPT 2 MiB / 1 GiB leaf is kept as the 4 KiB piece that was used)
 * and the EPT rights ANDed over the EPT walk (FL_EPT_R / W / X), so an access the rights do not allow re-walks.
 * Leaves out: EPT paging-structure caches (partial EPT walks); EPT A/D state (a hit does not set EPT accessed flags,
 * as on hardware: flags are set when the mapping is created).
 */

import {
  type CacheArray, emptyArray, flagsOf, FL_EPT_R, FL_EPT_W, FL_EPT_X, insert, insertAbsent, KIND_GPA, probe, setOf,
  SIZE_4K, entryFlags, entryValue, touch,
} from './tlb';
import type { TlbConfig } from './tlbConfig';

export type NestedTlb = CacheArray;

export const emptyNestedTlb = (c: TlbConfig): NestedTlb => emptyArray(c.nested);

/** A hit is set * 64 + way; -1 on a miss. Allocation-free. */
export const lookup = (n: NestedTlb, ep4ta: number, gpa: number): number => {
  if (n.sets === 0) return -1;
  const key = Math.floor(gpa / 4096);
  const set = setOf(n, key);
  const w = probe(n, set, KIND_GPA, SIZE_4K, key, 0, 0, ep4ta);
  return w < 0 ? -1 : set * 64 + w;
};

/** The host-physical address of `gpa` through the hit entry. */
export const hitHpa = (n: NestedTlb, h: number, gpa: number): number =>
  entryValue(n, h >>> 6, h & 63) * 4096 + (gpa & 0xfff);

/** The EPT rights (FL_EPT_R | FL_EPT_W | FL_EPT_X) of the hit entry. */
export const hitRights = (n: NestedTlb, h: number): number =>
  entryFlags(n, h >>> 6, h & 63) & (FL_EPT_R | FL_EPT_W | FL_EPT_X);

export const touchHit = (n: NestedTlb, h: number): NestedTlb => touch(n, h >>> 6, h & 63);

/**
 * Cache the guest-physical mapping of the 4 KiB page holding `gpa` (EPT rights as FL_EPT_* bits). `absent`: a `lookup`
 * of this page with this EP4TA just missed and `n` was not written since; the fill then skips the scan for an entry to
 * replace (tlb.ts `insertAbsent`). Same result.
 */
export const fill = (n: NestedTlb, ep4ta: number, gpa: number, hpa: number, eptRights: number, absent = false): NestedTlb => {
  const flags = flagsOf(KIND_GPA, SIZE_4K, eptRights & (FL_EPT_R | FL_EPT_W | FL_EPT_X));
  const key = Math.floor(gpa / 4096);
  const value = Math.floor(hpa / 4096);
  return absent ? insertAbsent(n, flags, key, 0, 0, ep4ta, value) : insert(n, flags, key, 0, 0, ep4ta, value);
};
