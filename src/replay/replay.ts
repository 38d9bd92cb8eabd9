/**
 * The replay engine: a trace folded through the pure model with the managed hypervisor (src/replay/hypervisor.ts) in
 * charge of VM exits and the guest OS model (below) in charge of guest page faults.
 *
 * Guest OS model (interface §3 "guest.policy": demand): the first touch of a guest-linear page that is not mapped
 * raises #PF inside the guest (no VM exit unless the exception bitmap says so); the guest OS then maps a fresh
 * guest-physical frame at `guest.pageSize` by writing its own page tables with guest-physical writes (the same path
 * as a `guest_map` event: under EPT those writes can cause EPT violations), one table page per populated region,
 * and retries the access. Frames and tables come from one allocator, upward from guest-physical 16 MiB.
 *
 * Purity: `replayChunk(state, events)` returns a new state; the input state stays valid, so a state can be saved,
 * forked and continued twice. Inside a chunk, counters are accumulated in local variables (nothing escapes).
 */
import { isLeft, left, right, type Either } from 'fp-ts/Either';
import { PAGE_SIZE, gva as mkGva, gpa as mkGpa, gvaFromBig } from '../arch/addr';
import { transient } from '../arch/transient';
import * as Cost from '../mmu/cost';
import type { GuestEvent, GuestOp, MemoryAccess, MovToCr, Run } from '../guest/events';
import { accessOut, forgetAccessContext, guestStep, immediateExit, PASSTHROUGH, immediateExitGprs, immediateRunUnchanged, memoryAccessFast, type Carried, type GuestStepResult } from '../vmx/step';
import { l1HitStats } from '../mmu/translate';
import * as Tlb from '../mmu/tlb';
import { endRun, exitAndResume, newQuickRun, runCanStart, runExit, vmResume, type QuickRun } from '../vmx/entry';
import { exitRecord } from '../vmx/exit';
import { R, exitName } from '../vmx/exitReasons';
import { machineWith, machineWithGuestAlloc, machineWithNonRoot, machineWithRetry, nonRootWithRetry, type Env, type ExitRecord, type Machine, type StepResult } from '../vmx/machine';
import type { Config } from './config';
import * as Shadow from './shadow';
import { GUEST_TABLES_BASE } from './program';
import { handleExit, initialHypervisor, prepareEntry, quickHandling, type Hypervisor } from './hypervisor';
import { envOf, initialMachine, launchMachine, type RunProblem } from './scenario';
import { addPages, emptyPageSet, pageProbe, probeHas, releaseProbe, type PageProbe, type PageSet } from './pageSet';
import { concatRunStats, defaultExitCost, emptyRunStats, ExitTally, type ExitCostModel, type RunStats } from './stats';

export interface ReplayState {
  readonly env: Env;
  readonly config: Config;
  readonly machine: Machine;
  readonly hv: Hypervisor;
  readonly stats: RunStats;
  /** distinct guest-virtual 4 KiB pages accessed (a persistent set: forks share it) */
  readonly gvaPages: PageSet;
  /** distinct guest-physical 4 KiB pages touched (data and guest page tables) */
  readonly gpaPages: PageSet;
  /** page faults delivered to the guest (and handled by the guest OS model or reported) */
  readonly guestFaults: number;
  readonly exitCost: ExitCostModel;
  /** set when the run cannot go on (a triple fault, guest memory exhausted) */
  readonly stopped: string | null;
  /** guest-physical pages a `mov_to_cr` 3 chose as address-space roots (interface §2): the allocator skips them */
  readonly roots: ReadonlySet<number>;
}

export interface ChunkResult {
  readonly state: ReplayState;
  /** the exits of this chunk, in order (only when asked for: --exit-log, --html) */
  readonly exits: readonly ExitRecord[];
  /** for each exit, the 0-based index of the trace event that caused it */
  readonly exitEvents: readonly number[];
}

/** Starts a replay: the hypervisor launches the guest (modes ept, shadow), or a bare-metal guest (native). */
export const startReplay = (config: Config): Either<RunProblem, ReplayState> => {
  const e = envOf(config);
  if (isLeft(e)) return e;
  const env = e.right;
  let machine = initialMachine(env, config);
  if (config.mode !== 'native') {
    const l = launchMachine(env, config, machine);
    if (isLeft(l)) return l;
    if (l.right.outcome.result !== 'entered') {
      return left({ path: 'config', expected: 'a config whose VM entry succeeds (see `vtxsim check`)', found: JSON.stringify(l.right.outcome, hexBigints) });
    }
    machine = l.right.machine;
  }
  let hv = initialHypervisor(config);
  if (config.mode === 'shadow' && machine.guest !== null) {
    // shadow paging: the launched GUEST_CR3 is the shadow root of the guest OS model's first root table
    const sh = Shadow.initialShadow(config.guest.levels, BigInt(GUEST_TABLES_BASE), Number(machine.guest.cr3));
    machine = { ...machine, shadow: Shadow.viewOf(sh) };
    hv = initialHypervisor(config, sh);
  }
  return right(replayState({
    env, config, machine, hv, stats: emptyRunStats, gvaPages: emptyPageSet, gpaPages: emptyPageSet,
    guestFaults: 0, exitCost: defaultExitCost, stopped: null, roots: new Set(),
  }));
};

/** JSON.stringify replacer: bigints (an exit record's qualification, RIP, TSC) as 0x-hex strings (JSON has none). */
const hexBigints = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v);

/**
 * A replay state as one object literal of a fixed shape. Every state the engine makes comes from here: a state built
 * by a spread or a literal elsewhere has another hidden class, and a state of a new class reaching the optimized
 * replay loop deoptimizes it (on Node 20 a second long replay in one process then ran ~1.7x slower, unoptimized).
 */
export const replayState = (s: ReplayState): ReplayState => ({
  env: s.env, config: s.config, machine: s.machine, hv: s.hv, stats: s.stats, gvaPages: s.gvaPages,
  gpaPages: s.gpaPages, guestFaults: s.guestFaults, exitCost: s.exitCost, stopped: s.stopped, roots: s.roots,
});
const REPLAY_STATE_KEYS = {
  env: 1, config: 1, machine: 1, hv: 1, stats: 1, gvaPages: 1, gpaPages: 1, guestFaults: 1, exitCost: 1, stopped: 1, roots: 1,
} as const satisfies Record<keyof ReplayState, 1>;
void REPLAY_STATE_KEYS;

/** Translation counters of one chunk, added to in place (a fresh object local to replayChunk). */
interface TranslationAcc {
  accesses: number; l1Hits: number; stlbHits: number; walks: number; guestRefs: number; nestedRefs: number;
  psc0: number; psc1: number; psc2: number; psc3: number; nestedTlbHits: number; nestedTlbLookups: number;
  maxRefsPerWalk: number; cycles: number;
}

/** Adds `n` translations of statistics `t`, their cycles only if `cycles` (see `accountTranslation`). */
const addTranslationCounts = (a: TranslationAcc, t: Cost.TranslationStats, n: number, cycles: boolean): void => {
  a.accesses += t.accesses * n; a.l1Hits += t.l1Hits * n; a.stlbHits += t.stlbHits * n; a.walks += t.walks * n;
  a.guestRefs += t.guestRefs * n; a.nestedRefs += t.nestedRefs * n;
  a.psc0 += t.pscHits[0] * n; a.psc1 += t.pscHits[1] * n; a.psc2 += t.pscHits[2] * n; a.psc3 += t.pscHits[3] * n;
  a.nestedTlbHits += t.nestedTlbHits * n; a.nestedTlbLookups += t.nestedTlbLookups * n;
  if (t.maxRefsPerWalk > a.maxRefsPerWalk) a.maxRefsPerWalk = t.maxRefsPerWalk;
  if (cycles) a.cycles += t.cycles * n;
};

const translationOf = (a: TranslationAcc): Cost.TranslationStats => Cost.stats(
  a.accesses, a.l1Hits, a.stlbHits, a.walks, a.guestRefs, a.nestedRefs, [a.psc0, a.psc1, a.psc2, a.psc3],
  a.nestedTlbHits, a.nestedTlbLookups, a.maxRefsPerWalk, a.cycles,
);

/** Mutable counters of one chunk (local to replayChunk). */
interface Acc {
  /** exits and their estimated cycles by reason */
  exits: ExitTally;
  translation: TranslationAcc;
  /** walks by references per walk (a walk reads at most (5+1)(5+1)-1 = 35 entries; larger counts go to histOver) */
  hist: Float64Array;
  histOver: Map<number, number>;
  guestCycles: number;
  /** pages touched in this chunk that the state's sets lack (with repeats; merged into them at the end of the chunk) */
  gvaPages: number[];
  gpaPages: number[];
  /** the state's sets, asked before a page is pushed (after the first touches of a run, they have nearly every page) */
  knownGva: PageProbe;
  knownGpa: PageProbe;
  /** pages pushed in this chunk, direct-mapped by page number (a page found in its slot is not pushed again) */
  seenGva: Float64Array;
  seenGpa: Float64Array;
  /** by level (bottom up) of a walk's guest entries (`accessOut.tables`), the table page counted there last */
  lastTables: Float64Array;
  /**
   * The translation statistics objects counted in this chunk (up to TALLY_SIZE; after that they are added up at once)
   * and how often each came: statistics are shared objects, one per kind of translation (`Cost.walkStats`, b-warm
   * meets 7 of them), so a chunk counts each kind's translations and adds them up once at its end.
   */
  tallied: Cost.TranslationStats[];
  talliedCounts: Float64Array;
  /** objects in `tallied` (the array is made full, of objects: one elements kind from the start) */
  talliedN: number;
  /**
   * Whether the cycles are tallied too: when every price of the cost model is an integer, so is every translation's
   * cycles, and their sum is the same in any order; else they are added in event order (see `accountTranslation`).
   */
  cyclesTallied: boolean;
  guestFaults: number;
  log: ExitRecord[] | null;
  /** the address-space roots so far (the state's, plus this chunk's CR3 loads) */
  roots: ReadonlySet<number>;
  logEvents: number[] | null;
  /** index of the event being replayed */
  current: number;
}

const MAX_ITERATIONS = 64;
const HIST_SIZE = 64;

/**
 * Pages remembered per chunk to skip repeated pushes, by page number modulo the table's size (a power of two): a
 * program's code and data pages and the page-table pages of its walks come back again and again. The table is sized
 * to the chunk (a chunk of a few events makes a small one).
 */
const SEEN_MAX = 4096;
const seenTable = (events: number): Float64Array => new Float64Array(Math.min(SEEN_MAX, 2 ** Math.ceil(Math.log2(Math.max(8, events))))).fill(NaN);
/** Was page `p` pushed already (found in its slot)? Else it is noted there. */
const seenBefore = (table: Float64Array, p: number): boolean => {
  const slot = p & (table.length - 1);
  if (table[slot] === p) return true;
  table[slot] = p;
  return false;
};
/**
 * Counts a guest-virtual page accessed: pushed unless this chunk counted it already (`seenBefore`: a loop's pages come
 * back, and this is the cheaper test, ~12 instructions) or the state's set has it (~40: a chunk of b-warm pushed ~2.7
 * pages per event, and merging them cost ~290 instructions per event at the chunk's end, though the set had every
 * one).
 */
const pushGva = (acc: Acc, p: number): void => {
  if (!seenBefore(acc.seenGva, p) && !probeHas(acc.knownGva, p)) acc.gvaPages.push(p);
};

const TALLY_SIZE = 16;

/**
 * Counts one step's translation statistics: the totals, and one histogram entry per walk. The counts (integers: any
 * order gives the same sums) are tallied by statistics object (`Acc.tallied`; adding each step's 13 counts and its
 * histogram entry was ~170 instructions per walk, finding its tally ~40); so are the cycles when they are integers
 * (`Acc.cyclesTallied`), else they are added at once, in event order (a sum of fractions depends on its order).
 */
const accountTranslation = (acc: Acc, t: Cost.TranslationStats): void => {
  if (t.accesses === 0) return;
  if (acc.cyclesTallied !== true) acc.translation.cycles += t.cycles;
  const ts = acc.tallied;
  const n = acc.talliedN;
  for (let i = 0; i < n; i++) {
    if (ts[i] === t) {
      acc.talliedCounts[i]++;
      return;
    }
  }
  if (n < TALLY_SIZE) {
    ts[n] = t;
    acc.talliedCounts[n] = 1;
    acc.talliedN = n + 1;
    return;
  }
  addCounted(acc, t, 1);
};

/** Adds `n` steps' translation statistics `t` (their cycles when tallied, see accountTranslation). */
const addCounted = (acc: Acc, t: Cost.TranslationStats, n: number): void => {
  addTranslationCounts(acc.translation, t, n, acc.cyclesTallied);
  if (t.walks > 0) {
    // one histogram entry per walk: a step makes at most one walk per 4 KiB piece; attribute refs evenly
    const refs = Math.round((t.guestRefs + t.nestedRefs) / t.walks);
    if (refs < HIST_SIZE) acc.hist[refs] += t.walks * n;
    else acc.histOver.set(refs, (acc.histOver.get(refs) ?? 0) + t.walks * n);
  }
};

/** Counts a guest-physical page a step touched (as pushGva counts a guest-virtual one). */
const accountGpaPage = (acc: Acc, p: number): void => {
  if (!probeHas(acc.knownGpa, p) && !seenBefore(acc.seenGpa, p)) acc.gpaPages.push(p);
};

/** Counts what one step translated and the guest-physical pages it touched. */
const accountStep = (acc: Acc, r: GuestStepResult): void => {
  accountTranslation(acc, r.translation);
  const pages = r.touchedGpaPages;
  for (let i = 0; i < pages.length; i++) accountGpaPage(acc, pages[i]);
};

/** accountStep for a step `memoryAccessFast` made: its statistics and pages are in `accessOut`. */
const accountFast = (acc: Acc): void => {
  const out = accessOut;
  accountTranslation(acc, out.stats);
  // (a comparison with true: a field read as a condition was tested for every falsy value)
  if (out.walked !== true) return;
  accountGpaPage(acc, out.gpaPage);
  // a walk's upper tables are the same from walk to walk: a table page the last walk counted at the same level (its
  // entries are top-down, and a walk that hit the paging-structure caches reads only the lower ones) was counted in
  // this chunk already; the chunk's table pages repeat: `seenGpa` first (it holds the pages counted in this chunk)
  // (seenBefore written out: this function is past the size up to which it was inlined, and its call was ~40
  // instructions)
  const last = acc.lastTables;
  const tables = out.tables;
  const seen = acc.seenGpa;
  for (let k = out.tableCount - 1, level = 0; k >= 0; k--, level++) {
    const p = Math.floor(tables[k] / 4096);
    if (last[level] === p) continue;
    last[level] = p;
    const slot = p & (seen.length - 1);
    if (seen[slot] === p) continue;
    seen[slot] = p;
    if (!probeHas(acc.knownGpa, p)) acc.gpaPages.push(p);
  }
};

/**
 * Runs one event to completion: exits are handled and the guest resumed, guest page faults are served. `first` is the
 * event's first step when the caller already made it (from `m0`, and counted with accountStep).
 */
const runEvent = (
  s0: ReplayState, m0: Machine, hv0: Hypervisor, ev: GuestEvent, acc: Acc, base: ReplayState, first?: GuestStepResult,
): { m: Machine; hv: Hypervisor; stopped: string | null } => {
  let m = m0;
  let hv = hv0;
  const { env, config } = s0;
  for (let i = 0; i < MAX_ITERATIONS; i++) {
    const allocBefore = m.guestAlloc.next;
    let r: GuestStepResult;
    if (i === 0 && first !== undefined) {
      r = first;
    } else if (isAccess(ev)) {
      // an access retried (after the guest OS mapped its page, after the exit it caused): replayEvents' path, the
      // common case without result objects first (a walk that translates: counted as accountStep would count the
      // step memoryAccess makes), else guestStep from what it translated
      const hit = memoryAccessFast(env, m, ev);
      if (hit !== undefined) {
        accountFast(acc);
        return { m: hit, hv, stopped: null };
      }
      r = guestStep(env, m, ev, accessOut.carried);
      accountStep(acc, r);
    } else {
      r = guestStep(env, m, ev);
      accountStep(acc, r);
    }
    m = r.machine;
    const o = r.outcome;
    switch (o.result) {
      case 'passthrough':
        return { m, hv, stopped: null };
      case 'fault': {
        acc.guestFaults++;
        if (o.vector === 14 && ev.op !== 'guest_map' && ev.op !== 'guest_unmap' && isAccess(ev) && ((o.errorCode ?? 0) & 1) === 0 && config.guest.policy === 'demand') {
          const mapped = guestOsMap(s0, m, hv, ev, acc, base);
          if (mapped.stopped !== null) return mapped;
          m = mapped.m;
          hv = mapped.hv;
          continue; // retry the access
        }
        return { m, hv, stopped: null };
      }
      case 'exit': {
        const x = o.exit;
        acc.exits.add(x.reason, s0.exitCost);
        acc.log?.push(x);
        acc.logEvents?.push(acc.current);
        let h = handleExit(hv, m, x);
        if (!h.resume) return { m: h.machine, hv: h.hv, stopped: `${exitName(x.reason)} exit: the guest cannot go on` };
        // a memory access (or guest page-table write) that exited is re-executed after the VM entry (SDM "VM
        // Exits": a fault-like exit leaves the instruction to run again); a guest_map/guest_unmap exits only on a
        // table write EPT refused, so the OS's write runs again too (the writes before it stay done). An
        // EPT_MISCONFIG write was emulated by the hypervisor, so that one is complete.
        const retry = h.machine.pendingRetry !== null || h.retry === true
          || ((ev.op === 'guest_map' || ev.op === 'guest_unmap') && x.reason !== R.EPT_MISCONFIG);
        if (ev.op === 'guest_map' && x.guestPhysical !== undefined) h = { ...h, machine: releaseUnwrittenTables(allocBefore, h.machine, x.guestPhysical) };
        const p = prepareEntry(h.hv, h.machine.pendingRetry === null ? h.machine : machineWithRetry(h.machine, null));
        const resumed = afterEntry(s0, vmResume(p.machine), p.hv, acc);
        if (resumed.stopped !== null) return resumed;
        m = resumed.m;
        hv = resumed.hv;
        const inj = h.injectedFault;
        if (inj !== undefined && m.guest !== null) {
          // shadow paging: the #PF injected at this entry runs the guest's handler (CR2 as the hypervisor loaded it)
          m = machineWith(m, { guest: { ...m.guest, cr2: inj.cr2 } });
          acc.guestFaults++;
          if (isAccess(ev) && (inj.errorCode & 1) === 0 && config.guest.policy === 'demand') {
            const mapped = guestOsMap(s0, m, hv, ev, acc, base);
            if (mapped.stopped !== null) return mapped;
            m = mapped.m;
            hv = mapped.hv;
            continue; // retry the access
          }
          return { m, hv, stopped: null };
        }
        // a memory access (or guest page-table write) that exited runs again; an emulated instruction is done
        if (retry) continue;
        return { m, hv, stopped: null };
      }
      default:
        return { m, hv, stopped: `unexpected outcome ${o.result}` };
    }
  }
  return { m, hv, stopped: `event ${ev.op} did not complete after ${MAX_ITERATIONS} exits` };
};

/** The machine and hypervisor after an event, and why the run stops (null: it goes on). */
interface Resumed { readonly m: Machine; readonly hv: Hypervisor; readonly stopped: string | null }
const isResumed = (r: Machine | Resumed): r is Resumed => (r as Partial<Resumed>).stopped !== undefined;

/**
 * After the VMRESUME that follows a handled exit: an exit at entry (a zero preemption timer, a failed entry) is counted
 * and handled, and the guest resumed again; the access the entry retried is done.
 */
const afterEntry = (s0: ReplayState, e: StepResult, hv0: Hypervisor, acc: Acc): Resumed => {
  let m = e.machine;
  let hv = hv0;
  if (e.outcome.result === 'exit') {
    // an exit at entry (a zero preemption timer, a failed entry): count it and handle it next round
    const y = e.outcome.exit;
    const yn = exitName(y.reason);
    acc.exits.add(y.reason, s0.exitCost);
    acc.log?.push(y);
    acc.logEvents?.push(acc.current);
    if (y.failedEntry) return { m, hv, stopped: `VM entry failed (${yn})` };
    const h2 = handleExit(hv, m, y);
    const p2 = prepareEntry(h2.hv, h2.machine);
    hv = p2.hv;
    const e2 = vmResume(p2.machine);
    if (e2.outcome.result !== 'entered') return { m: e2.machine, hv, stopped: `VM entry failed after ${yn}` };
    m = e2.machine;
  } else if (e.outcome.result !== 'entered') {
    return { m, hv, stopped: `VMRESUME failed: ${JSON.stringify(e.outcome, hexBigints)}` };
  }
  if (m.nonRoot !== null && m.nonRoot.retry !== null) m = machineWithNonRoot(m, nonRootWithRetry(m.nonRoot, null));
  return { m, hv, stopped: null };
};

/** Off: every exit takes runEvent's general path (tests compare the two; see `setQuickExits`). */
let quickExits = true;

/**
 * Turns the fused exit round trip (`quickRoundTrip`) on or off; returns the previous setting. For tests that compare
 * it with the general path: results are the same either way.
 */
export const setQuickExits = (on: boolean): boolean => {
  const was = quickExits;
  quickExits = on;
  return was;
};

/**
 * An instruction that runs without an exit and leaves the machine unchanged (src/vmx/step.ts `immediateRunUnchanged`):
 * the machine as it is. An instruction or interrupt event that exits at once and whose handling only advances RIP, injects the interrupt or
 * keeps an MSR value (hypervisor.ts `quickHandling`), as one fused exit-handler-entry step (src/vmx/entry.ts
 * `exitAndResume`): what runEvent does for it (the exit counted and logged, handleExit, prepareEntry, vmEntry), without
 * the intermediate machines. Gives the machine with the guest running again (the hypervisor is unchanged), or, when
 * the entry did not simply start the guest, what `afterEntry` makes of it; undefined when the event is not such an
 * exit (nothing changed: take runEvent).
 */
const quickRoundTrip = (s0: ReplayState, m: Machine, hv: Hypervisor, ev: GuestEvent, op: GuestOp, acc: Acc): Machine | Resumed | undefined => {
  const c = immediateExit(m, ev, m.gprs, op);
  // an instruction that runs without an exit and changes nothing (RDTSCP, ...): runEvent's one passthrough step would
  // give the same machine and count nothing
  if (c === null) return immediateRunUnchanged() ? m : undefined;
  const gprs = immediateExitGprs();
  const h = quickHandling(hv, c.reason, c.interruptionInfo, gprs ?? m.gprs);
  if (h === undefined) return undefined;
  const x = acc.log !== null ? exitRecord(c, false, m.guest, m.tsc) : null;
  const e = exitAndResume(m, c, gprs, h.advanceRip, h.inject, h.msrWrite);
  if (e === undefined) return undefined;
  acc.exits.add(c.reason, s0.exitCost);
  if (x !== null) {
    acc.log?.push(x);
    acc.logEvents?.push(acc.current);
  }
  const nr = e.machine.nonRoot;
  if (e.outcome.result === 'entered' && nr !== null && nr.retry === null) return e.machine;
  return afterEntry(s0, e, hv, acc);
};

/**
 * `quickRoundTrip` inside a run of fused round trips (src/vmx/entry.ts `runExit`): an instruction or interrupt event
 * whose exit the run takes (counted here; the machine stays superseded by the run), or an instruction that runs
 * without an exit and changes nothing. False, having changed nothing, for any other event: end the run (`endRun`)
 * and take the usual paths. Not with an exit log (its records read the guest at each exit).
 */
const runStep = (s0: ReplayState, m: Machine, hv: Hypervisor, ev: GuestEvent, op: GuestOp, acc: Acc, run: QuickRun): boolean => {
  // (no run can start from this machine: quickRoundTrip decides the exit, once)
  if (run.exits === 0 && !runCanStart(m)) return false;
  const c = immediateExit(m, ev, run.exits > 0 ? run.gprs : m.gprs, op);
  if (c === null) return immediateRunUnchanged();
  const gprs = immediateExitGprs();
  const h = quickHandling(hv, c.reason, c.interruptionInfo, gprs ?? (run.exits > 0 ? run.gprs : m.gprs));
  if (h === undefined || !runExit(run, m, c, gprs, h.advanceRip, h.injectInfo, h.msrWrite)) return false;
  acc.exits.add(c.reason, s0.exitCost);
  return true;
};

/**
 * A guest_map that exited on a refused table write gives back the tables it allocated and never linked, and the
 * retry allocates from there again (interface §3: one table page per populated region, allocated upward from
 * 16 MiB, never more). The builder walks top-down and allocates a table just before writing the entry that links
 * it, so: a refused write into a table this attempt allocated keeps that table (its parent entry was written) and
 * frees the ones after it; a refused write into a page that existed before (the root, or a table reached through
 * present entries) comes before every allocation of this attempt, which are all unlinked and all freed.
 */
export const releaseUnwrittenTables = (allocBefore: number, m: Machine, failedGpa: number): Machine => {
  const page = failedGpa - (failedGpa % PAGE_SIZE);
  if (page >= allocBefore && page < m.guestAlloc.next) return machineWith(m, { guestAlloc: { next: page + PAGE_SIZE } });
  return m.guestAlloc.next > allocBefore ? machineWith(m, { guestAlloc: { next: allocBefore } }) : m;
};

/**
 * The first address at or above `next`, aligned to `align`, whose next `span` bytes hold no address-space root: the
 * guest OS never hands out a page that a CR3 value uses as its root table (interface §2 "mov_to_cr").
 */
const skipRoots = (next: number, align: number, span: number, roots: ReadonlySet<number>): number => {
  let at = Math.ceil(next / align) * align;
  if (roots.size === 0) return at;
  for (;;) {
    let clash = -1;
    for (const r of roots) {
      const a = r * PAGE_SIZE;
      if (a >= at && a < at + span && a > clash) clash = a;
    }
    if (clash < 0) return at;
    at = Math.ceil((clash + PAGE_SIZE) / align) * align;
  }
};

const isAccess = (ev: GuestEvent): ev is MemoryAccess => ev.op === 'read' || ev.op === 'write' || ev.op === 'fetch';

const pageBytes = (size: '4K' | '2M' | '1G'): number => (size === '4K' ? PAGE_SIZE : size === '2M' ? 0x200000 : 0x40000000);

/** The guest OS's page-fault handler: a fresh frame mapped at the faulting address, through guest writes. */
const guestOsMap = (s0: ReplayState, m0: Machine, hv: Hypervisor, ev: MemoryAccess, acc: Acc, base: ReplayState): { m: Machine; hv: Hypervisor; stopped: string | null } => {
  const size = s0.config.guest.pageSize;
  const bytes = pageBytes(size);
  // the frame, then at most one table per level after it, all clear of the address-space roots
  const frame = skipRoots(m0.guestAlloc.next, bytes, bytes + PAGE_SIZE * s0.config.guest.levels, acc.roots);
  const limit = s0.config.guest.memoryMiB * 1024 * 1024;
  if (frame + bytes > limit) return { m: m0, hv, stopped: `guest memory exhausted (guest.memoryMiB = ${s0.config.guest.memoryMiB}): the trace touches more pages than the guest has` };
  // the frame is taken first; the page tables the mapping needs come after it
  const m1 = machineWithGuestAlloc(m0, { next: frame + bytes });
  // the faulting address is CR2 (SDM "Page-Fault Exceptions"), not the access's start: the second page of an
  // access that crosses a page boundary faults on its own
  const va = m0.guest !== null ? (gvaFromBig(m0.guest.cr2) as number) : (ev.gva as number);
  const map: GuestEvent = {
    op: 'guest_map', gva: mkGva(va - (((va % bytes) + bytes) % bytes)), gpa: mkGpa(frame), size,
    flags: ev.user ? 'rwxu' : 'rwx',
  };
  return runEvent(s0, m1, hv, map, acc, base);
};

/**
 * Replays a chunk of events. Pure: `state` is not changed; the result shares what did not change.
 * `collectExits` keeps every exit record of the chunk (for --exit-log).
 */
export const replayChunk = (state: ReplayState, events: readonly GuestEvent[], collectExits = false): ChunkResult =>
  // one transient scope per chunk (src/arch/transient.ts): the machine is threaded from event to event and no
  // intermediate machine is kept, so structures copied during the chunk are updated in place until it returns
  transient(() => replayEvents(state, events, collectExits));

/** Pages the L1-hit memo keeps per access kind (a power of two): a program alternates between a few pages. */
const HIT_WAYS = 4;
if (HIT_WAYS !== 4) throw new Error('replay.ts: the L1-hit memo is cleared 4 ways at a time');
const memoHas = (pages: Float64Array, slot: number, page: number): boolean => {
  for (let at = slot * HIT_WAYS, end = at + HIT_WAYS; at < end; at++) if (pages[at] === page) return true;
  return false;
};

/**
 * The memo's slot of an access kind (read/write/fetch x supervisor/user). Computed where the memo is used, not for
 * every access (~30 instructions, for nothing on a TLB miss).
 */
const kindSlot = (op: GuestOp, ev: MemoryAccess): number => (op === 'read' ? 0 : op === 'write' ? 2 : 4) + (ev.user === true ? 1 : 0);

const replayEvents = (state: ReplayState, events: readonly GuestEvent[], collectExits: boolean): ChunkResult => {
  if (state.stopped !== null) return { state, exits: [], exitEvents: [] };
  const acc: Acc = {
    exits: new ExitTally(), hist: new Float64Array(HIST_SIZE), histOver: new Map(), guestCycles: 0,
    translation: { accesses: 0, l1Hits: 0, stlbHits: 0, walks: 0, guestRefs: 0, nestedRefs: 0, psc0: 0, psc1: 0, psc2: 0, psc3: 0, nestedTlbHits: 0, nestedTlbLookups: 0, maxRefsPerWalk: 0, cycles: 0 },
    gvaPages: [], gpaPages: [], knownGva: pageProbe(state.gvaPages, events.length),
    knownGpa: pageProbe(state.gpaPages, events.length), seenGva: seenTable(events.length), seenGpa: seenTable(events.length),
    lastTables: new Float64Array(8).fill(NaN), tallied: new Array<Cost.TranslationStats>(TALLY_SIZE).fill(Cost.emptyStats),
    talliedCounts: new Float64Array(TALLY_SIZE), talliedN: 0,
    cyclesTallied: Cost.COST_KEYS.every((k) => Number.isInteger(state.env.cost[k])),
    guestFaults: 0, log: collectExits ? [] : null, roots: state.roots, logEvents: collectExits ? [] : null,
    current: state.stats.events,
  };
  let m = state.machine;
  let hv = state.hv;
  let stopped: string | null = null;
  forgetAccessContext();
  const t = acc.translation;
  const l1 = l1HitStats(state.env.cost);
  // Memo of the L1-hit path: while the machine is `hitMachine` (an L1 hit on an MRU entry leaves it unchanged) and no
  // cache array was written since (`hitWrites`: inside this chunk's scope the caches are updated in place, so the same
  // machine object does not mean the same TLB contents), the last HIT_WAYS pages hit by each access kind
  // (read/write/fetch x supervisor/user) hit again; anything else clears it. Every page in it was hit without a
  // change to the machine or the caches since it was noted, so each is still its L1 set's most recently used entry.
  let hitMachine: Machine | null = null;
  let hitWrites = -1;
  const hitPages = new Float64Array(6 * HIT_WAYS).fill(NaN);
  const hitNext = new Uint8Array(6);
  /** the access kinds (bits by slot) with pages in the memo */
  let hitKinds = 0;
  // consecutive exits taken as one run of fused round trips (none with an exit log); `m` is superseded while it is open
  const run = quickExits && acc.log === null ? newQuickRun() : null;
  // events replayed (a local: a field of `acc` was ~9 instructions per event)
  let replayed = 0;
  for (let i = 0; i < events.length; i++) {
    const ev = events[i];
    replayed++;
    // the op read once (events of different ops have different shapes: each read of it here is a generic lookup, ~40
    // instructions, and so are the reads of the functions it is passed to)
    const op = ev.op;
    const access = op === 'read' || op === 'write' || op === 'fetch';
    if (run !== null) {
      if (!access && runStep(state, m, hv, ev, op, acc, run)) continue;
      if (run.exits > 0) m = endRun(run);
    }
    // what memoryAccessFast translated for this event when it could not finish it (guestStep takes it from there)
    let carried: Carried;
    if (access) {
      const a = ev.gva as number;
      const first = Math.floor(a / 4096);
      const last = Math.floor((a + (ev.size > 1 ? ev.size : 1) - 1) / 4096);
      if (first === last) {
        pushGva(acc, first);
        // the L1-TLB-hit path: what runEvent would do (one passthrough step, one L1 hit), without its result objects
        if (m === hitMachine && Tlb.writeCount() === hitWrites && memoHas(hitPages, kindSlot(op, ev as MemoryAccess), first)) {
          t.accesses += l1.accesses; t.l1Hits += l1.l1Hits; t.cycles += l1.cycles;
          continue;
        }
        // the common case without result objects: an L1 hit (remembered as above), an STLB hit or a walk that
        // translated; anything else goes on below with what it translated (`carried`)
        const hit = memoryAccessFast(state.env, m, ev as MemoryAccess);
        if (hit !== undefined) {
          if (accessOut.l1) {
            const slot = kindSlot(op, ev as MemoryAccess);
            if (hit !== hitMachine || Tlb.writeCount() !== hitWrites) {
              hitMachine = hit;
              hitWrites = Tlb.writeCount();
              // only the kinds noted since the memo was last cleared hold pages (by their bits, the lowest first: the exit
              // mix's accesses mostly change the caches, and a loop over all six kinds was ~45 instructions per event
              // of it; an entry's generation instead, tested at each lookup, cost the loop workload (a) 8 per event)
              for (let kinds = hitKinds; kinds !== 0; kinds &= kinds - 1) {
                const at = (31 - Math.clz32(kinds & -kinds)) * HIT_WAYS;
                hitPages[at] = NaN; hitPages[at + 1] = NaN; hitPages[at + 2] = NaN; hitPages[at + 3] = NaN;
              }
              hitKinds = 0;
            }
            hitKinds |= 1 << slot;
            hitPages[slot * HIT_WAYS + hitNext[slot]] = first;
            hitNext[slot] = (hitNext[slot] + 1) & (HIT_WAYS - 1);
            t.accesses += l1.accesses; t.l1Hits += l1.l1Hits; t.cycles += l1.cycles;
          } else {
            accountFast(acc);
          }
          m = hit;
          continue;
        }
        carried = accessOut.carried;
      } else {
        for (let p = first; p <= last; p++) pushGva(acc, p);
      }
    } else if (op === 'run') {
      acc.guestCycles += Number((ev as Run).cycles);
    } else if (op === 'mov_to_cr' && (ev as MovToCr).cr === 3) {
      // SDM "CR3": bits M-1:12 hold the root table's physical address (PCID and the no-flush bit 63 aside)
      const root = Number((ev as MovToCr).value & 0x000f_ffff_ffff_f000n) / PAGE_SIZE;
      if (!acc.roots.has(root)) acc.roots = new Set([...acc.roots, root]);
    }
    if (op === 'guest_map') m = machineWithGuestAlloc(m, { next: skipRoots(m.guestAlloc.next, 1, PAGE_SIZE * state.config.guest.levels, acc.roots) });
    acc.current = state.stats.events + i;
    // the step runEvent starts from (an access's first step, already made and counted), or none
    let first: GuestStepResult | undefined;
    if (access) {
      // the common case of a TLB miss in a small function of its own: one step that passes through (a walk that
      // translated); anything else (a fault, an exit) is finished by runEvent from this step
      first = guestStep(state.env, m, ev as MemoryAccess, carried);
      accountStep(acc, first);
      // (by identity: the outcomes of the faults and exits of a run's first accesses have other hidden classes, which
      // the optimized loop had not seen when it met them at the start of a later run in a process)
      if (first.outcome === PASSTHROUGH) { m = first.machine; continue; }
    } else if (quickExits) {
      const q = quickRoundTrip(state, m, hv, ev, op, acc);
      if (q !== undefined) {
        if (!isResumed(q)) { m = q; continue; }
        m = q.m;
        hv = q.hv;
        if (q.stopped !== null) { stopped = q.stopped; break; }
        continue;
      }
    }
    // one call for every event the paths above did not finish (accesses that fault or exit, other events): the first
    // exit of a run (before the guest state was saved once) and the first-touch faults of its accesses take the same
    // call, which so has type feedback from the first run of a process (a call taken only by the first exit had none,
    // and deoptimized this loop at the start of every later run)
    const r = runEvent(state, m, hv, ev, acc, state, first);
    m = r.m;
    hv = r.hv;
    if (r.stopped !== null) { stopped = r.stopped; break; }
  }
  if (run !== null && run.exits > 0) m = endRun(run);
  for (let i = 0; i < acc.talliedN; i++) addCounted(acc, acc.tallied[i], acc.talliedCounts[i]);
  releaseProbe(acc.knownGva);
  releaseProbe(acc.knownGpa);
  const hist: Record<string, number> = {};
  // integer-like keys: an object lists them in ascending order whatever the insertion order
  for (let k = 0; k < HIST_SIZE; k++) if (acc.hist[k] !== 0) hist[String(k)] = acc.hist[k];
  for (const [k, v] of acc.histOver) hist[String(k)] = v;
  const chunkStats: RunStats = {
    events: replayed,
    exitsByReason: Object.fromEntries(acc.exits.counts()),
    exitCyclesByReason: Object.fromEntries(acc.exits.cycles()),
    translation: translationOf(acc.translation),
    pscLookups: acc.translation.walks,
    nestedTlbLookups: acc.translation.nestedTlbLookups,
    refsHistogram: hist,
    guestCycles: acc.guestCycles,
  };
  return {
    state: replayState({
      env: state.env, config: state.config, machine: m, hv, stats: concatRunStats(state.stats, chunkStats),
      gvaPages: addPages(state.gvaPages, acc.gvaPages), gpaPages: addPages(state.gpaPages, acc.gpaPages),
      guestFaults: state.guestFaults + acc.guestFaults, exitCost: state.exitCost, stopped, roots: acc.roots,
    }),
    exits: acc.log ?? [],
    exitEvents: acc.logEvents ?? [],
  };
};
