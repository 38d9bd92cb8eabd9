/**
 * Sizes of the translation caches: the TLBs, the paging-structure caches and the nested TLB.
 *
 * Models: SDM Vol. 3A "Caching Translation Information" (4.10) lets a processor cache translations in TLBs and
 * paging-structure caches of any size; the sizes are micro-architectural. The defaults describe a Skylake-SP core.
 * The config key `tlb` of the interface (§3) is a partial `TlbConfig`: every key below may be given; a missing key
 * keeps its default. Each structure is `{ entries, ways }`; `entries / ways` sets (ways = entries: fully associative).
 *
 * Keys and defaults (Skylake-SP):
 *   l1d4k  64 entries, 4-way      L1 DTLB, 4 KiB pages        Intel Optimization Reference Manual (Skylake
 *   l1d2m  32 entries, 4-way      L1 DTLB, 2 MiB pages        microarchitecture, "TLB Parameters" table);
 *   l1d1g   4 entries, 4-way      L1 DTLB, 1 GiB pages        WikiChip "Skylake (server)" memory hierarchy;
 *   l1i4k 128 entries, 8-way      L1 ITLB, 4 KiB pages        7-cpu.com "Intel Skylake"; AnandTech, "The Intel
 *   l1i2m   8 entries, 8-way      L1 ITLB, 2 MiB pages        Skylake-X Review", page 4 (cache/TLB table).
 *   stlb  1536 entries, 12-way    shared STLB, 4 KiB and 2 MiB pages
 *   stlb1g 16 entries, 4-way      shared STLB, 1 GiB pages
 *   pml5 / pml4 / pdpt / pde: 2 / 2 / 4 / 32 entries, fully associative — paging-structure caches for the guest
 *     levels. Intel does not publish these sizes. The numbers follow the research estimate for Intel cores in
 *     A. Bhattacharjee, "Large-Reach Memory Management Unit Caches", MICRO 2013 (PML4 2, PDP 4, PDE 32 entries),
 *     consistent with the reverse engineering of Gras et al., "ASLR on the Line" (AnC), NDSS 2017. The PML5 cache is
 *     our guess (same as PML4). Treat all four as approximate.
 *   nested  16 entries, 4-way — the nested TLB (guest-physical mappings of guest paging-structure pages, SDM 28.3.1
 *     "Information That May Be Cached"). Intel publishes no size; 16 entries follows the nested-TLB size evaluated in
 *     Bhargava et al., "Accelerating Two-Dimensional Page Walks for Virtualized Systems", ASPLOS 2008. Approximate.
 * Replacement: true LRU in every set (documented choice; hardware uses tree-PLRU-like policies that are not public).
 */

export interface CacheGeometry {
  readonly entries: number;
  readonly ways: number;
}

export interface TlbConfig {
  readonly l1d4k: CacheGeometry;
  readonly l1d2m: CacheGeometry;
  readonly l1d1g: CacheGeometry;
  readonly l1i4k: CacheGeometry;
  readonly l1i2m: CacheGeometry;
  readonly stlb: CacheGeometry;
  readonly stlb1g: CacheGeometry;
  readonly pml5: CacheGeometry;
  readonly pml4: CacheGeometry;
  readonly pdpt: CacheGeometry;
  readonly pde: CacheGeometry;
  readonly nested: CacheGeometry;
}

export const TLB_CONFIG_KEYS: ReadonlyArray<keyof TlbConfig> = [
  'l1d4k', 'l1d2m', 'l1d1g', 'l1i4k', 'l1i2m', 'stlb', 'stlb1g', 'pml5', 'pml4', 'pdpt', 'pde', 'nested',
];

const g = (entries: number, ways: number): CacheGeometry => ({ entries, ways });

/** Skylake-SP (sources in the module header). */
export const skylakeServer: TlbConfig = {
  l1d4k: g(64, 4),
  l1d2m: g(32, 4),
  l1d1g: g(4, 4),
  l1i4k: g(128, 8),
  l1i2m: g(8, 8),
  stlb: g(1536, 12),
  stlb1g: g(16, 4),
  pml5: g(2, 2),
  pml4: g(2, 2),
  pdpt: g(4, 4),
  pde: g(32, 32),
  nested: g(16, 4),
};

export const defaultTlbConfig: TlbConfig = skylakeServer;

/** A geometry is usable when ways >= 1 divides entries (entries = 0 disables the structure). */
export const geometryProblem = (x: CacheGeometry): string | undefined => {
  if (!Number.isInteger(x.entries) || x.entries < 0) return 'entries must be a non-negative integer';
  if (x.entries === 0) return undefined;
  if (!Number.isInteger(x.ways) || x.ways < 1) return 'ways must be a positive integer';
  if (x.entries % x.ways !== 0) return 'entries must be a multiple of ways';
  return undefined;
};

export type TlbConfigInput = { readonly [K in keyof TlbConfig]?: Partial<CacheGeometry> };

/**
 * The `tlb` config key onto a full config: missing keys keep the default; a geometry with only `entries` is fully
 * associative unless the default's ways still divide it. Returns the problems (path, message) instead of throwing.
 */
export const fromInput = (
  input: TlbConfigInput,
  base: TlbConfig = defaultTlbConfig,
): { readonly config: TlbConfig; readonly problems: ReadonlyArray<{ readonly path: string; readonly message: string }> } => {
  const out: Record<string, CacheGeometry> = { ...base };
  const problems: { path: string; message: string }[] = [];
  for (const k of Object.keys(input)) {
    if (!(TLB_CONFIG_KEYS as ReadonlyArray<string>).includes(k)) {
      problems.push({ path: `tlb.${k}`, message: `unknown key (expected one of ${TLB_CONFIG_KEYS.join(', ')})` });
      continue;
    }
    const key = k as keyof TlbConfig;
    const given = input[key] ?? {};
    const entries = given.entries ?? base[key].entries;
    const ways = given.ways ?? (entries % base[key].ways === 0 ? base[key].ways : entries);
    const geo = g(entries, ways);
    const p = geometryProblem(geo);
    if (p !== undefined) problems.push({ path: `tlb.${k}`, message: p });
    else out[key] = geo;
  }
  return { config: out as unknown as TlbConfig, problems };
};
