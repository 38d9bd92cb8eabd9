/**
 * Run statistics as a monoid (style guide rule 10: a replay is a fold) and the estimated cost of VM exits.
 * Lives in src/replay so the replay engine can fold it; src/report turns it into the report of interface §5.
 */
import type { Monoid } from 'fp-ts/Monoid';
import * as Cost from '../mmu/cost';
import type { TranslationStats } from '../mmu/cost';
import { exitName } from '../vmx/exitReasons';

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


/** The TSC rate at which recorded handler times become cycles unless told otherwise (a nominal Skylake-server TSC). */
export const DEFAULT_RECORDED_TSC_GHZ = 2.0;

/**
 * The cost model with recorded handler times (`perf kvm stat report`'s Avg time: the host's time from kvm_exit to
 * kvm_entry, microseconds) in place of the estimates: handler[name] = avgUs * 1000 * tscGhz cycles, rounded.
 * Reasons without a recorded time keep the model's estimate; the round trip stays the model's.
 */
export const withRecordedTimes = (
  model: ExitCostModel, avgUs: Readonly<Record<string, number>>, tscGhz = DEFAULT_RECORDED_TSC_GHZ,
): ExitCostModel => {
  const handler: Record<string, number> = { ...model.handler };
  for (const [name, us] of Object.entries(avgUs)) if (Number.isFinite(us) && us >= 0) handler[name] = Math.round(us * 1000 * tscGhz);
  return { ...model, handler };
};

/**
 * Exit counts and estimated cycles of one replay chunk by exit reason: what a `Map` from uapi name to count (and one to
 * cycles) accumulates with a get and a set per exit, as two arrays indexed by the basic exit reason (a name per
 * reason, `exitName`, one-to-one). `counts()` and `cycles()` list the names in the order of their first exit, as the
 * maps would, with the same sums (the cycles of one name are added in the same order).
 */
export class ExitTally {
  // V8 keeps the hidden class of an object with its fields (reached from the class's initial one through weak
  // transitions) only while an object of it lives. Each replay chunk makes its own tally, so between two runs of a
  // process none may live: a full GC then dropped the class, and the optimized code that relied on it (the replay loop,
  // the fused exit round trip, `add`) was thrown away and compiled again at the start of the next run. One tally held by
  // the class itself keeps it.
  static readonly keepsShape: ExitTally = new ExitTally();

  private readonly n: number[] = [];
  private readonly c: number[] = [];
  /** the reasons in the order of their first exit */
  private readonly order: number[] = [];
  /** cycles of one exit by reason, for `model` */
  private costOf: number[] = [];
  private model: ExitCostModel | null = null;

  /** One exit of `reason`, priced by `model`. */
  add(reason: number, model: ExitCostModel): void {
    if (model !== this.model) { this.model = model; this.costOf = []; }
    const k = reason >= 0 && reason < 0x1_0000 && Number.isInteger(reason) ? reason : -1;
    if (k < 0) { this.addSlow(reason, model); return; }
    let cost = this.costOf[k];
    if (cost === undefined) { cost = exitCycles(model, reason); this.costOf[k] = cost; }
    const had = this.n[k];
    if (had === undefined) { this.order.push(k); this.n[k] = 1; this.c[k] = 0 + cost; } else { this.n[k] = had + 1; this.c[k] += cost; }
  }

  /** reasons outside the array range (not exit reasons the SDM defines): by name */
  private readonly slow = new Map<string, { n: number; c: number }>();
  private readonly slowOrder: (number | string)[] = [];
  private addSlow(reason: number, model: ExitCostModel): void {
    const name = exitName(reason);
    const e = this.slow.get(name);
    if (e === undefined) { this.slow.set(name, { n: 1, c: 0 + exitCycles(model, name) }); this.order.push(-1 - this.slowOrder.length); this.slowOrder.push(name); } else { e.n++; e.c += exitCycles(model, name); }
  }

  private entries(counts: boolean): [string, number][] {
    return this.order.map((k): [string, number] => {
      if (k >= 0) return [exitName(k), counts ? this.n[k] : this.c[k]];
      const name = this.slowOrder[-1 - k] as string;
      const e = this.slow.get(name)!;
      return [name, counts ? e.n : e.c];
    });
  }

  /** [uapi name, exits], in the order of the first exit of each */
  counts(): [string, number][] { return this.entries(true); }
  /** [uapi name, estimated cycles], in the same order */
  cycles(): [string, number][] { return this.entries(false); }
}

