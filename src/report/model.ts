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

import type { Monoid } from 'fp-ts/Monoid';
import * as Cost from '../mmu/cost';
import type { TranslationStats } from '../mmu/cost';
import { exitName } from '../vmx/exitReasons';

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
// The statistics monoid.

export interface RunStats {
  readonly events: number;
  /** uapi name -> exits */
  readonly exitsByReason: Readonly<Record<string, number>>;
  /** uapi name -> estimated cycles */
  readonly exitCyclesByReason: Readonly<Record<string, number>>;
  /** TLB / walk counters and translation cycles (src/mmu/cost) */
  readonly translation: TranslationStats;
  /** paging-structure-cache lookups (one per walk unless the engine says otherwise) */
  readonly pscLookups: number;
  readonly nestedTlbLookups: number;
  /** guest + nested references of one walk -> walks */
  readonly refsHistogram: Readonly<Record<string, number>>;
  /** cycles of `run` events */
  readonly guestCycles: number;
}

const addCounts = (
  a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>,
): Readonly<Record<string, number>> => {
  const keysB = Object.keys(b);
  if (keysB.length === 0) return a;
  if (Object.keys(a).length === 0) return b;
  const out: Record<string, number> = { ...a };
  for (const k of keysB) out[k] = (out[k] ?? 0) + b[k];
  return out;
};

export const emptyRunStats: RunStats = {
  events: 0, exitsByReason: {}, exitCyclesByReason: {}, translation: Cost.emptyStats, pscLookups: 0,
  nestedTlbLookups: 0, refsHistogram: {}, guestCycles: 0,
};

export const concatRunStats = (a: RunStats, b: RunStats): RunStats => ({
  events: a.events + b.events,
  exitsByReason: addCounts(a.exitsByReason, b.exitsByReason),
  exitCyclesByReason: addCounts(a.exitCyclesByReason, b.exitCyclesByReason),
  translation: Cost.combine(a.translation, b.translation),
  pscLookups: a.pscLookups + b.pscLookups,
  nestedTlbLookups: a.nestedTlbLookups + b.nestedTlbLookups,
  refsHistogram: addCounts(a.refsHistogram, b.refsHistogram),
  guestCycles: a.guestCycles + b.guestCycles,
});

/** fp-ts Monoid instance: a replay is `concatAll(MonoidRunStats)(perEventStats)`. */
export const MonoidRunStats: Monoid<RunStats> = { empty: emptyRunStats, concat: concatRunStats };

export const foldRunStats = (xs: Iterable<RunStats>): RunStats => {
  let acc = emptyRunStats;
  for (const x of xs) acc = concatRunStats(acc, x);
  return acc;
};

// Singletons: what one event contributes.

/** One trace event (every op counts, including `run` and `guest_map`). */
export const ofEvent = (n = 1): RunStats => ({ ...emptyRunStats, events: n });

/** `run` cycles of guest work that causes no exit. */
export const ofGuestCycles = (cycles: number): RunStats => ({ ...emptyRunStats, guestCycles: cycles });

/** One VM exit with basic reason `reason` (number or uapi name), priced by `model`. */
export const ofExit = (reason: number | string, model: ExitCostModel = defaultExitCost): RunStats => {
  const name = typeof reason === 'number' ? exitName(reason) : reason;
  return { ...emptyRunStats, exitsByReason: { [name]: 1 }, exitCyclesByReason: { [name]: exitCycles(model, name) } };
};

/**
 * One translation's statistics (src/mmu/translate `TranslateResult.stats`). A walk's references go into the
 * histogram (guest + nested). PSC lookups default to one per walk; nested-TLB lookups default to the hits plus the
 * guest references whose page was translated through EPT (unknown here, so the engine should pass them).
 */
export const ofTranslation = (
  t: TranslationStats, lookups?: { readonly psc?: number; readonly nestedTlb?: number },
): RunStats => {
  const refs = t.guestRefs + t.nestedRefs;
  return {
    ...emptyRunStats,
    translation: t,
    pscLookups: lookups?.psc ?? t.walks,
    nestedTlbLookups: lookups?.nestedTlb ?? t.nestedTlbHits,
    refsHistogram: t.walks === 1 ? { [String(refs)]: 1 } : {},
  };
};

// ---------------------------------------------------------------------------------------------------------------
// Exit cost estimates.

/**
 * Estimated cycles of one VM exit: `roundTrip` (the hardware VM exit plus the VM entry that resumes the guest,
 * with KVM's register save/restore) plus the handler's cost for that reason (`handler[name]`, else `defaultHandler`).
 *
 * Sources (approximate, Skylake-server-class host, KVM with EPT; every value is configurable):
 *  - roundTrip 1,100: kvm-unit-tests x86/vmexit.c measures the cheapest exits (`cpuid`, `vmcall`) at roughly
 *    1,100-1,500 cycles per round trip on Skylake-class hosts (figures quoted in KVM patch threads); Agesen et al.,
 *    "Software Techniques for Avoiding Hardware Virtualization Exits" (USENIX ATC 2012) show the hardware round trip
 *    falling from ~2,400 (Nehalem era) toward ~1,000 cycles on later cores.
 *  - CPUID 150: vmexit.c `cpuid` total ~1,200-1,250 cycles, so the handler (kvm_emulate_cpuid) is small.
 *  - VMCALL 200: vmexit.c `vmcall` total ~1,300 cycles.
 *  - RDTSC / RDTSCP / RDPMC 100-300: emulated in a few instructions in kernel.
 *  - MSR_READ 300, MSR_WRITE 600: vmexit.c `rdmsr`/`wrmsr` style tests (e.g. `wr_tsc_adjust_msr`) ~1,500-2,000 total.
 *  - CR_ACCESS 300, INVLPG 400, XSETBV 300, DR_ACCESS 300: in-kernel emulation of one instruction.
 *  - IO_INSTRUCTION 6,000: port I/O that goes to the user-space device model (vmexit.c `inl_from_qemu` measures
 *    several thousand cycles; in-kernel `inl_from_pmtimer` is ~2,000-3,000).
 *  - EPT_VIOLATION 3,000: kvm_mmu_page_fault on a first touch (page allocation, EPT entry install); "several
 *    thousand cycles" including the round trip.
 *  - EPT_MISCONFIG 1,500: KVM's MMIO fast path (handle_ept_misconfig -> emulate the access in kernel when the
 *    device is in kernel, e.g. the local APIC; user-space MMIO costs about as much as port I/O).
 *  - EXTERNAL_INTERRUPT 500: host IRQ handling runs on the way out; EXCEPTION_NMI 1,000 (reflect / reinject).
 *  - HLT 1,000: kvm_vcpu_halt bookkeeping (the time blocked is not counted).
 *  - PREEMPTION_TIMER 300, PAUSE_INSTRUCTION 500 (PLE: yield attempt), WBINVD 2,000 (the flush itself).
 *  - everything else: defaultHandler 500.
 */
export interface ExitCostModel {
  readonly roundTrip: number;
  readonly defaultHandler: number;
  /** uapi name -> handler cycles */
  readonly handler: Readonly<Record<string, number>>;
}

export const defaultExitCost: ExitCostModel = {
  roundTrip: 1100,
  defaultHandler: 500,
  handler: {
    CPUID: 150, VMCALL: 200, RDTSC: 100, RDTSCP: 100, RDPMC: 300, MSR_READ: 300, MSR_WRITE: 600, CR_ACCESS: 300,
    INVLPG: 400, XSETBV: 300, DR_ACCESS: 300, IO_INSTRUCTION: 6000, EPT_VIOLATION: 3000, EPT_MISCONFIG: 1500,
    EXTERNAL_INTERRUPT: 500, EXCEPTION_NMI: 1000, HLT: 1000, PREEMPTION_TIMER: 300, PAUSE_INSTRUCTION: 500,
    WBINVD: 2000,
  },
};

/** Estimated cycles of one exit of that reason (number or uapi name). */
export const exitCycles = (model: ExitCostModel, reason: number | string): number => {
  const name = typeof reason === 'number' ? exitName(reason) : reason;
  return model.roundTrip + (Object.prototype.hasOwnProperty.call(model.handler, name)
    ? model.handler[name] : model.defaultHandler);
};

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
