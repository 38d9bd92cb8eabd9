/**
 * The translation cost model and the translation statistics monoid.
 *
 * Models: what one address translation costs in cycles, given where it was found: an L1 TLB hit, an STLB hit, or a
 * walk (reference §9.2 "How the two walks compose": up to (n+1)(m+1)-1 paging-structure references, fewer with
 * paging-structure-cache and nested-TLB hits). Guest and nested (EPT) references are priced apart.
 * Defaults (Skylake-SP; all configurable through the config key `cost`):
 *   l1Hit          1  cycle   L1 DTLB/ITLB hit: folded into the load-to-use latency; we charge 1 so hits are visible.
 *   stlbHit        9  cycles  L1 TLB miss, STLB hit: 7-cpu.com "Intel Skylake" (STLB hit ~9 cycles).
 *   guestRef      14  cycles  one guest paging-entry read during a walk: paging structures mostly hit in the data
 *                             caches (Intel Optimization Reference Manual: the page walker reads through the cache
 *                             hierarchy), priced at the Skylake-SP L2 latency (AnandTech Skylake-X review: 11-13
 *                             cycles; 7-cpu: 14 cycles).
 *   nestedRef     14  cycles  one EPT entry read: same cache reasoning as guestRef, kept apart so it can differ.
 *   pscHit         1  cycle   a paging-structure-cache hit (SRAM lookup next to the walker; not published, a guess).
 *   nestedTlbHit   1  cycle   a nested-TLB hit (not published, a guess).
 *   walkStart      0  cycles  fixed overhead of starting a page walk (set it to model walker queueing).
 * Leaves out: the data access itself, caches for data, overlap of walks with execution, parallel walkers.
 */

export interface CostModel {
  readonly l1Hit: number;
  readonly stlbHit: number;
  readonly guestRef: number;
  readonly nestedRef: number;
  readonly pscHit: number;
  readonly nestedTlbHit: number;
  readonly walkStart: number;
}

export const defaultCost: CostModel = {
  l1Hit: 1, stlbHit: 9, guestRef: 14, nestedRef: 14, pscHit: 1, nestedTlbHit: 1, walkStart: 0,
};

export const COST_KEYS: ReadonlyArray<keyof CostModel> = [
  'l1Hit', 'stlbHit', 'guestRef', 'nestedRef', 'pscHit', 'nestedTlbHit', 'walkStart',
];

/** The `cost` config key onto a full model; unknown keys and non-numbers are reported, not thrown. */
export const fromInput = (
  input: { readonly [k: string]: unknown }, base: CostModel = defaultCost,
): { readonly cost: CostModel; readonly problems: ReadonlyArray<{ readonly path: string; readonly message: string }> } => {
  const out: Record<string, number> = { ...base };
  const problems: { path: string; message: string }[] = [];
  for (const [k, v] of Object.entries(input)) {
    if (!(COST_KEYS as ReadonlyArray<string>).includes(k)) {
      problems.push({ path: `cost.${k}`, message: `unknown key (expected one of ${COST_KEYS.join(', ')})` });
    } else if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      problems.push({ path: `cost.${k}`, message: 'expected a non-negative number' });
    } else out[k] = v;
  }
  return { cost: out as unknown as CostModel, problems };
};

/**
 * Statistics of a sequence of translations (plain numbers; a monoid under `combine` with `emptyStats`).
 * `pscHits[i]` counts hits in the cache of guest level i + 2 (PDE, PDPTE, PML4E, PML5E).
 */
export interface TranslationStats {
  readonly accesses: number;
  readonly l1Hits: number;
  readonly stlbHits: number;
  readonly walks: number;
  readonly guestRefs: number;
  readonly nestedRefs: number;
  readonly pscHits: readonly [number, number, number, number];
  readonly nestedTlbHits: number;
  /** nested-TLB lookups: one per guest paging entry whose page was looked up (hits + misses) */
  readonly nestedTlbLookups: number;
  /** the largest guest + nested reference count of one walk */
  readonly maxRefsPerWalk: number;
  readonly cycles: number;
}

/**
 * Every TranslationStats is made here: one object literal, so every statistics object has one hidden class (objects
 * of the same fields made at different sites can get different ones, and a new class reaching the replay loop's
 * optimized code deoptimized it for the rest of a long run).
 */
export const stats = (
  accesses: number, l1Hits: number, stlbHits: number, walks: number, guestRefs: number, nestedRefs: number,
  pscHits: readonly [number, number, number, number], nestedTlbHits: number, nestedTlbLookups: number,
  maxRefsPerWalk: number, cycles: number,
): TranslationStats => ({
  accesses, l1Hits, stlbHits, walks, guestRefs, nestedRefs, pscHits, nestedTlbHits, nestedTlbLookups, maxRefsPerWalk, cycles,
});

/**
 * Statistics are values (never mutated), so translations with the same counts under the same cost model share one
 * object: the two hit records and the walk records by their counts, kept per model (no allocation per translation).
 */
interface Shared {
  readonly l1: TranslationStats;
  readonly stlb: TranslationStats;
  readonly walks: Map<number, TranslationStats>;
  /** a direct-mapped cache in front of `walks` (slot by a multiplicative hash of the key; -1 = empty) */
  readonly slotKeys: Int32Array;
  readonly slotStats: TranslationStats[];
}
const sharedByModel = new WeakMap<CostModel, Shared>();
let lastModel: CostModel | null = null;
let lastShared: Shared | null = null;

const WALK_SLOT_BITS = 8;
const WALK_SLOTS = 1 << WALK_SLOT_BITS;

const sharedOf = (m: CostModel): Shared => {
  if (m === lastModel && lastShared !== null) return lastShared;
  let sh = sharedByModel.get(m);
  if (sh === undefined) {
    sh = {
      l1: stats(1, 1, 0, 0, 0, 0, [0, 0, 0, 0], 0, 0, 0, cyclesOf(m, 'l1', 0, 0, 0, 0)),
      stlb: stats(1, 0, 1, 0, 0, 0, [0, 0, 0, 0], 0, 0, 0, cyclesOf(m, 'stlb', 0, 0, 0, 0)),
      walks: new Map(),
      slotKeys: new Int32Array(WALK_SLOTS).fill(-1),
      slotStats: new Array<TranslationStats>(WALK_SLOTS).fill(emptyStats),
    };
    sharedByModel.set(m, sh);
  }
  lastModel = m;
  lastShared = sh;
  return sh;
};

/** The statistics of one L1 or STLB hit. */
export const hitStats = (m: CostModel, level: 'l1' | 'stlb'): TranslationStats => sharedOf(m)[level];

/**
 * The statistics of one translation that missed both TLBs and walked: `pscLevel` is the guest level of the
 * paging-structure-cache hit it started below (2 = PDE ... 5 = PML5E) or 0.
 */
export const walkStats = (
  m: CostModel, guestRefs: number, nestedRefs: number, pscLevel: number, nestedTlbHits: number, nestedTlbLookups: number,
): TranslationStats => {
  // the key: the counts (integers below 2^32) as bit fields of 3, 6, 3, 3 and 3 bits, in int32 operations (as double
  // arithmetic and five comparisons, the check and the key were ~half of this function's ~117 instructions per
  // walk); counts too large for their bits (no walk of at most 5 + 5 levels has them) are made apart
  if ((guestRefs | pscLevel | nestedTlbHits | nestedTlbLookups) >>> 0 > 7 || nestedRefs >>> 0 > 63) {
    return newWalkStats(m, guestRefs, nestedRefs, pscLevel, nestedTlbHits, nestedTlbLookups);
  }
  const sh = m === lastModel && lastShared !== null ? lastShared : sharedOf(m);
  const key = guestRefs | (nestedRefs << 3) | (pscLevel << 9) | (nestedTlbHits << 12) | (nestedTlbLookups << 15);
  const slot = Math.imul(key, 0x9e3779b1) >>> (32 - WALK_SLOT_BITS);
  if (sh.slotKeys[slot] === key) return sh.slotStats[slot];
  return walkStatsMiss(sh, slot, key, m, guestRefs, nestedRefs, pscLevel, nestedTlbHits, nestedTlbLookups);
};
/** walkStats for a key not in its slot (a function apart: the common path keeps fewer values in its frame). */
const walkStatsMiss = (
  sh: Shared, slot: number, key: number,
  m: CostModel, guestRefs: number, nestedRefs: number, pscLevel: number, nestedTlbHits: number, nestedTlbLookups: number,
): TranslationStats => {
  let s = sh.walks.get(key);
  if (s === undefined) {
    s = newWalkStats(m, guestRefs, nestedRefs, pscLevel, nestedTlbHits, nestedTlbLookups);
    sh.walks.set(key, s);
  }
  sh.slotKeys[slot] = key;
  sh.slotStats[slot] = s;
  return s;
};
const newWalkStats = (
  m: CostModel, guestRefs: number, nestedRefs: number, pscLevel: number, nestedTlbHits: number, nestedTlbLookups: number,
): TranslationStats => stats(
  1, 0, 0, 1, guestRefs, nestedRefs,
  [pscLevel === 2 ? 1 : 0, pscLevel === 3 ? 1 : 0, pscLevel === 4 ? 1 : 0, pscLevel === 5 ? 1 : 0],
  nestedTlbHits, nestedTlbLookups, guestRefs + nestedRefs,
  cyclesOf(m, null, guestRefs, nestedRefs, pscLevel === 0 ? 0 : 1, nestedTlbHits),
);

export const emptyStats: TranslationStats = stats(0, 0, 0, 0, 0, 0, [0, 0, 0, 0], 0, 0, 0, 0);

export const combine = (a: TranslationStats, b: TranslationStats): TranslationStats => stats(
  a.accesses + b.accesses, a.l1Hits + b.l1Hits, a.stlbHits + b.stlbHits, a.walks + b.walks, a.guestRefs + b.guestRefs,
  a.nestedRefs + b.nestedRefs,
  [a.pscHits[0] + b.pscHits[0], a.pscHits[1] + b.pscHits[1], a.pscHits[2] + b.pscHits[2], a.pscHits[3] + b.pscHits[3]],
  a.nestedTlbHits + b.nestedTlbHits, a.nestedTlbLookups + b.nestedTlbLookups, Math.max(a.maxRefsPerWalk, b.maxRefsPerWalk),
  a.cycles + b.cycles,
);

export const concatAll = (xs: ReadonlyArray<TranslationStats>): TranslationStats => xs.reduce(combine, emptyStats);

/** TLB misses: accesses that neither L1 nor STLB answered. */
export const misses = (s: TranslationStats): number => s.accesses - s.l1Hits - s.stlbHits;

/** Cycles of one translation from its counts. */
export const cyclesOf = (
  m: CostModel, tlbLevel: 'l1' | 'stlb' | null, guestRefs: number, nestedRefs: number, pscHits: number,
  nestedTlbHits: number,
): number => {
  if (tlbLevel === 'l1') return m.l1Hit;
  if (tlbLevel === 'stlb') return m.l1Hit + m.stlbHit;
  return m.l1Hit + m.stlbHit + m.walkStart + guestRefs * m.guestRef + nestedRefs * m.nestedRef + pscHits * m.pscHit +
    nestedTlbHits * m.nestedTlbHit;
};
