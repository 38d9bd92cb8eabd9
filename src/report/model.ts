/**
 * The run report and the statistics a replay folds into it.
 *
 * Models: the outside of a run (interface §5: `schemaVersion`, `events`, `exits`, `translation`, `memory`, `cycles`,
 * whose keys are fixed) plus our extensions (mode, config summary, cycles by exit reason, the references-per-walk
 * histogram, paging-structure-cache and nested-TLB hit rates, overhead against native). `RunStats` is what the replay
 * engine accumulates: a monoid (style rule 10, "Aggregate with monoids"), so a replay is a fold and two halves of a
 * trace combine. Exit costs are an estimate: `ExitCostModel` prices a VM exit as a hardware round trip (VM exit plus
 * VM entry, SDM Vol. 3C "VM Exits" / "VM Entries") plus a KVM handler cost per basic exit reason.
 * Leaves out: distinct-page sets (not a monoid worth folding; the engine counts them and passes the counts to
 * `toReport`), per-vCPU statistics, time distributions (min/max per exit as perf prints them).
 */

import type { RunStats } from '../replay/stats';

export {
  type RunStats, type ExitCostModel, emptyRunStats, concatRunStats, MonoidRunStats, foldRunStats, ofEvent, ofGuestCycles, ofExit,
  ofTranslation, defaultExitCost, exitCycles,
} from '../replay/stats';

// ---------------------------------------------------------------------------------------------------------------
// The report (interface §5 plus extensions). Counters are plain numbers (exact below 2^53).

export interface ConfigSummary {
  /** capability preset name, e.g. `skylake-server` */
  readonly cpu: string;
  /** `native`, `ept` or `shadow` (interface §3 `mode`) */
  readonly mode: string;
  /** EPT levels and leaf size, or null when EPT is off */
  readonly ept: { readonly levels: number; readonly pageSize: string } | null;
  readonly guest: { readonly levels: number; readonly pageSize: string };
  /** "enable VPID" (absent when not known) */
  readonly vpid?: boolean;
}

export interface HitCount {
  readonly hits: number;
  readonly lookups: number;
}

export interface TranslationReport {
  readonly accesses: number;
  readonly tlb: { readonly hits: number; readonly misses: number; readonly l1Hits: number; readonly stlbHits: number };
  readonly walks: number;
  readonly memoryReferences: { readonly guest: number; readonly nested: number; readonly total: number };
  readonly maxReferencesPerWalk: number;
  readonly meanReferencesPerWalk: number;
  /** references of one walk (decimal string key) -> number of walks with that many */
  readonly referencesHistogram: Readonly<Record<string, number>>;
  readonly psc: HitCount;
  readonly nestedTlb: HitCount;
}

/** One step of a scenario run (interface §4), carried through as already-built JSON. */
export interface StepRecord {
  readonly index: number;
  readonly op: string;
  readonly outcome: unknown;
}

export interface RunReport {
  readonly schemaVersion: 1;
  readonly events: number;
  /** true when the run stopped early (a model error or an interrupted input); the counts cover what ran */
  readonly partial?: boolean;
  /** the compare mode name (`ept-2m` ...) or the config mode for a plain run */
  readonly mode: string;
  readonly config: ConfigSummary;
  readonly exits: {
    readonly total: number;
    /** uapi name -> count (interface §4 names) */
    readonly byReason: Readonly<Record<string, number>>;
    /** uapi name -> estimated cycles (ExitCostModel) */
    readonly cyclesByReason: Readonly<Record<string, number>>;
  };
  readonly translation: TranslationReport;
  readonly memory: { readonly guestVirtualPages: number; readonly guestPhysicalPages: number };
  readonly cycles: {
    readonly total: number;
    readonly translation: number;
    readonly exits: number;
    /** the `run` events' cycles */
    readonly guest: number;
  };
  /** present when the native run of the same trace is known: ratio = cycles.total / nativeCycles */
  readonly overhead?: { readonly nativeCycles: number; readonly ratio: number };
  /** scenario steps (interface §4), always present for scenarios, with `--steps` for traces */
  readonly steps?: readonly StepRecord[];
}

// ---------------------------------------------------------------------------------------------------------------
// Stats -> report.

export interface ReportExtra {
  readonly mode: string;
  readonly config: ConfigSummary;
  readonly guestVirtualPages: number;
  readonly guestPhysicalPages: number;
  readonly partial?: boolean;
  /** total cycles of the native run of the same trace, for `overhead` */
  readonly nativeCycles?: number;
  readonly steps?: readonly StepRecord[];
}

const sumValues = (r: Readonly<Record<string, number>>): number => {
  let s = 0;
  for (const k of Object.keys(r)) s += r[k];
  return s;
};

/** Keys of a count record sorted: histogram keys numerically, names alphabetically. */
const sortedRecord = (r: Readonly<Record<string, number>>, numeric: boolean): Record<string, number> => {
  const keys = Object.keys(r).sort(numeric ? (x, y) => Number(x) - Number(y) : undefined);
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = r[k];
  return out;
};

export const toReport = (s: RunStats, extra: ReportExtra): RunReport => {
  const t = s.translation;
  const hits = t.l1Hits + t.stlbHits;
  const refs = t.guestRefs + t.nestedRefs;
  const exitCyclesTotal = sumValues(s.exitCyclesByReason);
  const total = t.cycles + exitCyclesTotal + s.guestCycles;
  const pscHits = t.pscHits[0] + t.pscHits[1] + t.pscHits[2] + t.pscHits[3];
  return {
    schemaVersion: 1,
    events: s.events,
    ...(extra.partial === true ? { partial: true } : {}),
    mode: extra.mode,
    config: extra.config,
    exits: {
      total: sumValues(s.exitsByReason),
      byReason: sortedRecord(s.exitsByReason, false),
      cyclesByReason: sortedRecord(s.exitCyclesByReason, false),
    },
    translation: {
      accesses: t.accesses,
      tlb: { hits, misses: t.accesses - hits, l1Hits: t.l1Hits, stlbHits: t.stlbHits },
      walks: t.walks,
      memoryReferences: { guest: t.guestRefs, nested: t.nestedRefs, total: refs },
      maxReferencesPerWalk: t.maxRefsPerWalk,
      meanReferencesPerWalk: t.walks === 0 ? 0 : refs / t.walks,
      referencesHistogram: sortedRecord(s.refsHistogram, true),
      psc: { hits: pscHits, lookups: s.pscLookups },
      nestedTlb: { hits: t.nestedTlbHits, lookups: s.nestedTlbLookups },
    },
    memory: { guestVirtualPages: extra.guestVirtualPages, guestPhysicalPages: extra.guestPhysicalPages },
    cycles: { total, translation: t.cycles, exits: exitCyclesTotal, guest: s.guestCycles },
    ...(extra.nativeCycles !== undefined
      ? { overhead: { nativeCycles: extra.nativeCycles, ratio: extra.nativeCycles === 0 ? 0 : total / extra.nativeCycles } }
      : {}),
    ...(extra.steps !== undefined ? { steps: extra.steps } : {}),
  };
};

/** A report with its overhead against a native report of the same trace (compare). */
export const withOverhead = (r: RunReport, nativeCycles: number): RunReport => ({
  ...r,
  overhead: { nativeCycles, ratio: nativeCycles === 0 ? 0 : r.cycles.total / nativeCycles },
});
