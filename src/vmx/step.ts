/**
 * The step function: one guest event in VMX non-root operation (or on bare metal in a native run) to its outcome.
 * One dispatch point, exhaustive over the trace language (interface §2).
 *
 * Models: SDM Vol. 3C "VMX Non-Root Operation" ("Instructions That Cause VM Exits Unconditionally/Conditionally",
 * "Other Causes of VM Exits", "Changes to Instruction Behavior in VMX Non-Root Operation", "VMX-Preemption Timer"),
 * "EPT-Induced VM Exits", and the guest's own paging (Vol. 3A "Paging").
 * Leaves out: instruction semantics beyond what the trace observes (no general-purpose registers, no device state: IN
 * without an exit reads all ones, as from an absent device), interrupt-window and NMI-window exits (the model
 * delivers an arriving interrupt at once when it does not exit), and event delivery through a guest IDT.
 */
import { bigOf, gvaToBig, PAGE_SIZE, type Gva } from '../arch/addr';
import * as Phys from '../arch/phys';
import * as Inv from '../mmu/invalidate';
import * as Cost from '../mmu/cost';
import { fastOut } from '../mmu/fastOut';
import { translate, translateFast, translateReference, type TranslateContext, type TranslateResult } from '../mmu/translate';
import { eptLeafHpa, eptTranslate } from '../ept/walk';
import { encodeEptViolation } from '../ept/qualification';
import * as GuestBuild from '../guest/build';
import type { Cpuid, ExternalInterrupt, GuestEvent, GuestOp, Lmsw, MemoryAccess, MovToCr, PortIo, Rdmsr, Wrmsr } from '../guest/events';
import { R } from './exitReasons';
import { decide, type Decision, type ExecControls, type Instruction, SECONDARY_EXEC, secondaryOn } from './exitConditions';
import * as Cr from './crShadow';
import { onException } from './exceptionBitmap';
import { advance, rateShift } from './preemptionTimer';
import { tscControls, guestTsc, IA32_TIME_STAMP_COUNTER, IA32_TSC_AUX } from './tsc';
import { interruptionInfoNumber } from './qualifications';
import { controlMask } from './controls';
import { vmExitWith, type ExitCause } from './exit';
import { guestPagingOf } from './entry';
import { cpuWith, currentFields, vmcsRead } from './cpu';
import { F } from './fields';
import { machineWith, machineWithGuest, machineWithGuestAlloc, withMem, type Env, type GuestCpu, type Machine, type NonRoot, type Outcome } from './machine';

export interface GuestStepResult {
  readonly machine: Machine;
  readonly outcome: Outcome;
  /** translation statistics of the memory accesses this step made */
  readonly translation: Cost.TranslationStats;
  /** guest-physical 4 KiB pages this step touched (data pages and guest page-table pages) */
  readonly touchedGpaPages: readonly number[];
}

const NO_PAGES: readonly number[] = [];
/** VM-exit control "acknowledge interrupt on exit" (bit 15) */
const ACK_INTR_ON_EXIT = controlMask('exit', 'acknowledge-interrupt-on-exit');
const U64 = (1n << 64n) - 1n;
const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) === 1n;

const result = (machine: Machine, outcome: Outcome, translation = Cost.emptyStats, touchedGpaPages = NO_PAGES): GuestStepResult =>
  ({ machine, outcome, translation, touchedGpaPages });

/** A VM exit for `cause`; a memory access that exited is kept for the retry at the next VM entry; `gprs`: the
 * exiting instruction's register operands (see `operandsOf`). */
const exitWith = (
  m: Machine, cause: ExitCause, retry: MemoryAccess | null = null, translation = Cost.emptyStats, pages = NO_PAGES,
  gprs?: Machine['gprs'],
): GuestStepResult => {
  const r = vmExitWith(m, cause, false, retry, gprs);
  return result(r.machine, { result: 'exit', exit: r.exit }, translation, pages);
};

/** `{ ...g, cr2 }` as one literal in the key order of VM entry's (src/vmx/entry.ts `loadGuest`): an object made by a
 * spread has another hidden class, which the exit that saves this guest then met (in a new one each process run, so
 * its optimized code deoptimized at the first page fault of every later run). GUEST_KEYS fails to compile when a field
 * of GuestCpu is added and not here. */
const guestWithCr2 = (g: GuestCpu, cr2: bigint): GuestCpu => ({
  cr0: g.cr0, cr2, cr3: g.cr3, cr4: g.cr4, cr8: g.cr8, efer: g.efer, rip: g.rip, rflags: g.rflags, activity: g.activity,
  pmlIndex: g.pmlIndex,
});
const GUEST_KEYS = {
  cr0: 1, cr2: 1, cr3: 1, cr4: 1, cr8: 1, efer: 1, rip: 1, rflags: 1, activity: 1, pmlIndex: 1,
} as const satisfies Record<keyof GuestCpu, 1>;
void GUEST_KEYS;

/** The translation context for the current guest (VPID and PCID tags, CR4.PGE). */
const translateContext = (env: Env, nr: NonRoot | null, g: GuestCpu, walk: NonRoot['walk']): TranslateContext => ({
  walk,
  vpid: nr?.vpid ?? 0,
  pcid: bit(g.cr4, 17) ? Number(g.cr3 & 0xfffn) : 0,
  pge: bit(g.cr4, 7),
  cost: env.cost,
});

/** The walk configuration: the one loaded at entry, with guest paging following the live CR0/CR3/CR4/EFER. */
const walkOf = (env: Env, m: Machine, g: GuestCpu): NonRoot['walk'] => {
  const base = m.nonRoot?.walk ?? { guest: null, ept: null, advancedInfo: false };
  const ept = base.ept === null ? null : base.ept.pml === undefined ? base.ept : { ...base.ept, pml: { ...base.ept.pml, index: g.pmlIndex } };
  // a literal in walkConfigOf's key order (src/vmx/entry.ts), not a spread of `base`: one hidden class for both
  return { guest: guestPagingOf(env.caps, g), ept, advancedInfo: base.advancedInfo };
};

/** What a memory access needs from the machine besides the caches: a pure function of (env, nonRoot, guest). */
interface AccessContext {
  readonly env: Env;
  /** what it was built from (nonRoot's walk and VPID, the guest's paging registers and PML index) */
  readonly walk: NonRoot['walk'] | null;
  readonly vpid: number;
  readonly cr0: bigint;
  readonly cr3: bigint;
  readonly cr4: bigint;
  readonly efer: bigint;
  readonly pmlIndex: number;
  readonly ctx: TranslateContext;
  readonly la57: boolean;
}

/**
 * The last access context built, reused while everything it was built from is equal (a few number and bigint
 * comparisons instead of decoding CR0/CR4/EFER bigints): accesses between two exits share it, and so do accesses after
 * a VM exit and entry that left the paging registers, the VPID and the walk configuration as they were (VM entry
 * reuses the walk configuration while the fields it reads are unchanged).
 */
let lastContext: AccessContext | null = null;

/** The guest and non-root objects the last context was asked for with (the same objects: nothing to compare). */
let lastGuest: GuestCpu | null = null;
let lastNonRoot: NonRoot | null = null;

/**
 * Drops the last access context: the next access builds one again (the same values). The replay engine calls it at
 * the start of each chunk, so that building one is a path every run takes many times: taken only at the first
 * accesses of a process (a new run's environment is a new object), its calls had no type feedback, and at the start
 * of every later run they deoptimized the code of the memory-access path they were inlined into.
 */
export const forgetAccessContext = (): void => {
  lastContext = null;
  lastGuest = null;
  lastNonRoot = null;
};

const accessContext = (env: Env, m: Machine, g: GuestCpu): AccessContext => {
  const l = lastContext;
  const nr = m.nonRoot;
  if (l !== null && g === lastGuest && nr === lastNonRoot && l.env === env) return l;
  lastGuest = g;
  lastNonRoot = nr;
  const walk = nr === null ? null : nr.walk;
  const vpid = nr === null ? 0 : nr.vpid;
  if (l !== null && l.env === env && l.walk === walk && l.vpid === vpid && l.cr0 === g.cr0 && l.cr3 === g.cr3 &&
    l.cr4 === g.cr4 && l.efer === g.efer && l.pmlIndex === g.pmlIndex) return l;
  const w = walkOf(env, m, g);
  const c: AccessContext = {
    env, walk, vpid, cr0: g.cr0, cr3: g.cr3, cr4: g.cr4, efer: g.efer, pmlIndex: g.pmlIndex,
    ctx: translateContext(env, nr, g, w), la57: w.guest?.la57 === true,
  };
  lastContext = c;
  return c;
};

/** The access kinds as walker inputs, shared (no allocation per access). */
const ACCESSES = {
  read: [{ kind: 'read', user: false }, { kind: 'read', user: true }],
  write: [{ kind: 'write', user: false }, { kind: 'write', user: true }],
  fetch: [{ kind: 'fetch', user: false }, { kind: 'fetch', user: true }],
} as const;

/**
 * The walker input of an access (`ACCESSES[op][user]` by comparisons: a property read keyed by the op string was a
 * megamorphic load in the per-access path, ~100 instructions).
 */
const accessOf = (ev: MemoryAccess): (typeof ACCESSES)[MemoryAccess['op']][number] => {
  const u = ev.user === true ? 1 : 0;
  return ev.op === 'read' ? ACCESSES.read[u] : ev.op === 'write' ? ACCESSES.write[u] : ACCESSES.fetch[u];
};

/** The outcome of every memory access that passes through (`memoryAccess`, so `guestStep` for an access): one shared
 * object, so that a caller can tell it by identity. */
export const PASSTHROUGH: Outcome = { result: 'passthrough' };

/**
 * What `memoryAccessFast` did (one record for the process, read right after the call): on success, whether it was an
 * L1 hit, the translation statistics and the guest-physical pages touched: when `walked`, the data page `gpaPage`
 * and the pages of the guest-physical addresses `tables[0 .. tableCount)` (the guest entries the walk read, top-down;
 * `translateFast`'s own array, valid until the next translation: copying them out as page numbers here cost ~80
 * instructions per walk, and the replay engine skips most of them by address); when it returns undefined, `carried`
 * is what its translation found, for `guestStep` to finish without translating again: a result (a guest page fault,
 * an EPT violation), 'walk' (the fast walk gave up: walk in full), or undefined (nothing was translated).
 */
export const accessOut = {
  l1: false,
  stats: Cost.emptyStats,
  walked: false,
  gpaPage: 0,
  tables: fastOut.tableGpas,
  tableCount: 0,
  carried: undefined as Carried,
};

/** A translation of an access's first piece already made (see `accessOut.carried`). */
export type Carried = TranslateResult | 'walk' | undefined;

/**
 * The common case of `memoryAccess` without result objects: an access within one 4 KiB page that translates (an L1 or
 * STLB hit, or a walk of `translateFast`). Returns the machine after the access, with what `memoryAccess` would report
 * in `accessOut` (its outcome would be a passthrough); undefined when `memoryAccess` must run, with `accessOut.carried`
 * to pass to it (through `guestStep`).
 */
export const memoryAccessFast = (env: Env, m: Machine, ev: MemoryAccess): Machine | undefined => {
  const out = accessOut;
  out.carried = undefined;
  const g = m.guest;
  if (g === null) return undefined;
  const first = ev.gva as number;
  const size = ev.size > 1 ? ev.size : 1;
  // a page-crossing access is two lookups (memoryAccess); so is an address below zero (a kernel-half Gva)
  if (first < 0 || (first & 0xfff) + size > 0x1000) return undefined;
  const { ctx } = accessContext(env, m, g);
  // accessOf's choice, written out (calling accessOf here measured ~10 instructions per event more on (a), 348 against
  // 338), with a comparison with true (`ev.user` read as a condition was tested for every falsy value)
  const u = ev.user === true ? 1 : 0;
  const access = ev.op === 'read' ? ACCESSES.read[u] : ev.op === 'write' ? ACCESSES.write[u] : ACCESSES.fetch[u];
  const r = translateFast(m.mmu, m.cpu.mem, ctx, first as Gva, access);
  if (r !== null) {
    out.carried = r === undefined ? 'walk' : r;
    return undefined;
  }
  const f = fastOut;
  // (`tlbLevel !== null` first: a comparison of a string-or-null with 'l1' was a call of the generic StrictEqual,
  // ~30 instructions per access)
  out.l1 = f.tlbLevel !== null && f.tlbLevel === 'l1';
  out.stats = f.stats;
  // (comparisons with true: a field read as a condition was tested for every falsy value, ~12 instructions)
  const walked = f.walked === true;
  out.walked = walked;
  if (walked) {
    if (m.shadow !== undefined) {
      // shadow paging: the walk read the hypervisor's shadow tables (host memory); the data page is memslot memory
      out.gpaPage = Math.floor((f.gpa - m.shadow.memBase) / 4096);
      out.tableCount = 0;
    } else {
      out.gpaPage = Math.floor(f.gpa / 4096);
      if (out.tables !== f.tableGpas) out.tables = f.tableGpas;
      out.tableCount = f.tableCount;
    }
  }
  // withTranslation's common case, without the call (~30 instructions per access)
  const pml = f.pmlIndex;
  if (f.caches === m.mmu && f.mem === m.cpu.mem && (pml === undefined || pml === g.pmlIndex)) return m;
  return withTranslation(m, f.caches, f.mem, pml);
};

/**
 * `m` (a guest running) with the caches, memory and PML index a translation left; `m` itself when they are its own
 * (the common case: a hit on the most recently used TLB entry, or caches updated in place).
 */
const withTranslation = (m: Machine, caches: Machine['mmu'], mem: Phys.PhysMem, pmlIndex: number | undefined): Machine => {
  let next = m;
  if (caches !== m.mmu || mem !== m.cpu.mem) next = machineWith(m, { mmu: caches, cpu: mem === m.cpu.mem ? m.cpu : cpuWith(m.cpu, { mem }) });
  const g = next.guest!;
  if (pmlIndex !== undefined && pmlIndex !== g.pmlIndex) next = machineWith(next, { guest: { ...g, pmlIndex } });
  return next;
};

/**
 * A memory access: each 4 KiB piece is one TLB lookup (a page-crossing access is two). A guest #PF goes through the
 * exception bitmap; an EPT violation, misconfiguration or PML-full exits and the access is retried at the next entry.
 * `carried`: the first piece's translation `memoryAccessFast` already made from `m0` (see `accessOut`).
 */
export const memoryAccess = (env: Env, m0: Machine, ev: MemoryAccess, carried?: Carried): GuestStepResult => {
  const g0 = m0.guest;
  if (g0 === null) throw new Error('memoryAccess: no guest is running');
  const first = ev.gva as number;
  const last = first + Math.max(1, ev.size) - 1;
  const pieces = Math.floor(last / PAGE_SIZE) - Math.floor(first / PAGE_SIZE) + 1;
  let m = m0;
  let g = g0;
  let stats = Cost.emptyStats;
  // the pages touched, made at their exact length (the common case is one walk of one piece)
  let pages: number[] = [];
  const { ctx, la57 } = accessContext(env, m, g);
  const access = accessOf(ev);
  for (let i = 0; i < pieces; i++) {
    const addr = (i === 0 ? first : (Math.floor(first / PAGE_SIZE) + i) * PAGE_SIZE) as Gva;
    const r = i === 0 && carried !== undefined
      ? (carried === 'walk' ? translateReference(m.mmu, m.cpu.mem, ctx, addr, access) : carried)
      : translate(m.mmu, m.cpu.mem, ctx, addr, access);
    stats = i === 0 ? r.stats : Cost.combine(stats, r.stats);
    m = withTranslation(m, r.caches, r.mem, r.pmlIndex);
    g = m.guest!;
    const o = r.outcome;
    switch (o._tag) {
      case 'translated':
        if (o.walked !== undefined && m.shadow !== undefined) {
          // shadow paging: the walk read the hypervisor's shadow tables (host memory); the data page is memslot memory
          pages.push(Math.floor((o.walked.gpa - m.shadow.memBase) / PAGE_SIZE));
        } else if (o.walked !== undefined) {
          const t = o.walked.tableGpas;
          const walked = new Array<number>(t.length + 1);
          walked[0] = Math.floor(o.walked.gpa / PAGE_SIZE);
          for (let k = 0; k < t.length; k++) walked[k + 1] = Math.floor(t[k] / PAGE_SIZE);
          pages = pages.length === 0 ? walked : pages.concat(walked);
        }
        continue;
      case 'guest-fault': {
        // SDM "Exception Bitmap" with the #PF error-code filter; CR2 is not written when the #PF exits
        const linear = gvaToBig(o.cr2, la57);
        const x = m.native ? { kind: 'deliver' as const, vector: 14, errorCode: o.errorCode } : onException(m.nonRoot!.controls, 14, o.errorCode, linear);
        if (x.kind === 'exit') {
          return exitWith(m, {
            reason: x.reason, qualification: x.qualification, interruptionInfo: Number(x.interruptionInfo),
            ...(x.errorCode !== undefined ? { interruptionErrorCode: x.errorCode } : {}),
          }, null, stats, pages);
        }
        g = guestWithCr2(g, linear);
        return result(machineWithGuest(m, g), { result: 'fault', vector: 14, errorCode: o.errorCode }, stats, pages);
      }
      case 'ept-violation':
        // the guest-linear address only when qualification bit 7 says it is valid (SDM "Exit Qualification for EPT
        // Violations"); two literals, not a spread of a conditional object (a generic clone per EPT violation)
        return exitWith(m, (o.qualification & 0x80) !== 0
          ? { reason: R.EPT_VIOLATION, qualification: BigInt(o.qualification), guestPhysical: o.gpa as number, guestLinear: gvaToBig(o.gla, la57) }
          : { reason: R.EPT_VIOLATION, qualification: BigInt(o.qualification), guestPhysical: o.gpa as number }, ev, stats, pages);
      case 'ept-misconfig':
        return exitWith(m, { reason: R.EPT_MISCONFIG, qualification: 0n, guestPhysical: o.gpa as number }, ev, stats, pages);
      case 'pml-full':
        return exitWith(m, { reason: R.PML_FULL, qualification: 0n }, ev, stats, pages);
      default: {
        const never: never = o;
        throw new Error(`unhandled translation outcome ${JSON.stringify(never)}`);
      }
    }
  }
  return result(m, PASSTHROUGH, stats, pages.length === 0 ? NO_PAGES : pages);
};

/**
 * The synthetic linear address of the guest's direct map (Linux page_offset_base, 4-level): a guest page-table write
 * by guest-physical address `gpa` is, in a real kernel, a write to DIRECT_MAP_BASE + gpa. Under shadow paging its
 * #PF reports that address (exit qualification / CR2).
 */
export const DIRECT_MAP_BASE = 0xffff_8880_0000_0000n;
/** #PF error code of a supervisor write to a present read-only page (SDM "Page-Fault Error Code": P = 1, W/R = 1) */
const PFEC_WRITE_PRESENT = 0b11;

type PhysWrite = { m: Machine } | { exit: ExitCause; m?: Machine } | { fault: number };

/**
 * A guest-physical write by the guest (its own page tables, written by GPA): EPT-translated without the TLB. Under
 * shadow paging (EPT off) the write goes to the memslot; a write to a write-protected guest page-table frame faults
 * (#PF, write + present, at the frame's direct-map address) and exits when the exception bitmap says so, with the
 * value in RAX for the hypervisor's emulator. Writing the value an entry already holds writes nothing, so the write
 * retried after the hypervisor emulated it completes without a second fault.
 */
const guestPhysWrite = (m: Machine, gpa: number, lo: number, hi: number): PhysWrite => {
  const ept = m.nonRoot?.walk.ept ?? null;
  const sv = m.shadow;
  if (ept === null && sv !== undefined) {
    const hpa = gpa + sv.memBase;
    const mem = m.cpu.mem;
    if (Phys.read64Lo(mem, hpa) === lo >>> 0 && Phys.read64Hi(mem, hpa) === hi >>> 0) return { m };
    if (sv.writeProtected.has(Math.floor(gpa / PAGE_SIZE)) && m.nonRoot !== null) {
      const linear = DIRECT_MAP_BASE + BigInt(gpa);
      const x = onException(m.nonRoot.controls, 14, PFEC_WRITE_PRESENT, linear);
      if (x.kind !== 'exit') return { fault: PFEC_WRITE_PRESENT };
      const rax = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
      return {
        m: machineWith(m, { gprs: { ...m.gprs, rax } }),
        exit: { reason: x.reason, qualification: x.qualification, interruptionInfo: Number(x.interruptionInfo), interruptionErrorCode: PFEC_WRITE_PRESENT },
      };
    }
    return { m: withMem(m, Phys.write64Parts(mem, hpa, lo, hi)) };
  }
  if (ept === null) return { m: withMem(m, Phys.write64Parts(m.cpu.mem, gpa, lo, hi)) };
  // the common case first: a translation that sets no EPT A/D flag (through the EPT memo, nothing allocated)
  const h = eptLeafHpa(m.cpu.mem, ept, gpa, false, true, false, false);
  if (h >= 0) return { m: withMem(m, Phys.write64Parts(m.cpu.mem, h, lo, hi)) };
  const r = eptTranslate(m.cpu.mem, ept, gpa, { kind: 'write', user: false, pagingStructure: false });
  switch (r._tag) {
    case 'ok':
      return { m: withMem(m, Phys.write64Parts(r.mem, r.hpa as number, lo, hi)) };
    case 'violation':
      // a guest-physical access with no linear address: qualification bit 7 = 0 (SDM "Exit Qualification for EPT
      // Violations")
      return { exit: { reason: R.EPT_VIOLATION, qualification: BigInt(encodeEptViolation(r, { guestLinearAddressValid: false, finalTranslation: false })), guestPhysical: gpa } };
    case 'misconfig':
      return { exit: { reason: R.EPT_MISCONFIG, qualification: 0n, guestPhysical: gpa } };
    case 'pml-full':
      return { exit: { reason: R.PML_FULL, qualification: 0n } };
    default: {
      const never: never = r;
      throw new Error(`unhandled EPT outcome ${JSON.stringify(never)}`);
    }
  }
};

const guestPhysRead = (m: Machine, gpa: number): { lo: number; hi: number } => {
  const ept = m.nonRoot?.walk.ept ?? null;
  const base = ept === null && m.shadow !== undefined ? m.shadow.memBase : 0;
  if (base !== 0) return { lo: Phys.read64Lo(m.cpu.mem, gpa + base), hi: Phys.read64Hi(m.cpu.mem, gpa + base) };
  if (ept === null) return { lo: Phys.read64Lo(m.cpu.mem, gpa), hi: Phys.read64Hi(m.cpu.mem, gpa) };
  // the common case first: a translation that would set no EPT A/D flag (through the EPT memo, nothing allocated)
  const h = eptLeafHpa(m.cpu.mem, ept, gpa, true, false, false, false);
  if (h >= 0) return { lo: Phys.read64Lo(m.cpu.mem, h), hi: Phys.read64Hi(m.cpu.mem, h) };
  const r = eptTranslate(m.cpu.mem, ept, gpa, { kind: 'read', user: false, pagingStructure: false });
  if (r._tag !== 'ok') return { lo: 0, hi: 0 };
  return { lo: Phys.read64Lo(m.cpu.mem, r.hpa as number), hi: Phys.read64Hi(m.cpu.mem, r.hpa as number) };
};

/**
 * `guest_map` / `guest_unmap`: the guest OS writes its own paging entries by guest-physical address. The first write
 * that EPT refuses exits (EPT violation with no linear address); the event is retried at the next entry, and the
 * writes already done stay done, as when an OS is interrupted halfway through updating its tables.
 */
const guestTableEdit = (m0: Machine, ev: Extract<GuestEvent, { op: 'guest_map' | 'guest_unmap' }>): GuestStepResult => {
  const g = m0.guest!;
  const paging = guestPagingOf(m0.cpu.caps, g);
  if (paging === null) return result(m0, { result: 'fault', vector: 13, errorCode: 0 });
  let stop: ExitCause | null = null;
  let fault: number | null = null;
  const io: GuestBuild.GuestPhysIo<Machine> = {
    read: (s, gpa) => guestPhysRead(s, gpa),
    write: (s, gpa, lo, hi) => {
      if (stop !== null || fault !== null) return s;
      const w = guestPhysWrite(s, gpa, lo, hi);
      if ('fault' in w) { fault = w.fault; return s; }
      if ('exit' in w) { stop = w.exit; return w.m ?? s; }
      return w.m;
    },
  };
  const levels = paging.la57 ? 5 : 4;
  // under shadow paging CR3 holds the shadow root; the guest edits the tables of its own CR3
  const root = m0.shadow !== undefined ? Number(m0.shadow.guestCr3 & 0x000f_ffff_ffff_f000n) : paging.cr3 as number;
  let m: Machine;
  if (ev.op === 'guest_map') {
    const r = GuestBuild.guestMap(io, m0, m0.guestAlloc, root, levels, ev.gva as number, ev.gpa as number, ev.size, GuestBuild.parseGuestFlags(ev.flags));
    m = machineWithGuestAlloc(r.state, r.alloc);
  } else {
    m = GuestBuild.guestUnmap(io, m0, root, levels, ev.gva as number).state;
  }
  if (stop !== null) return exitWith(m, stop, null);
  if (fault !== null) return result(m, { result: 'fault', vector: 14, errorCode: fault });
  return result(m, { result: 'passthrough' });
};

/** The instructions without operands, one immutable value each (no object per event). */
type PlainOp = 'cpuid' | 'rdtsc' | 'rdtscp' | 'rdpid' | 'rdpmc' | 'clts' | 'hlt' | 'pause' | 'mwait' | 'monitor' | 'wbinvd'
  | 'invd' | 'xsetbv' | 'rdrand' | 'rdseed' | 'vmcall';
const PLAIN_INSTRUCTIONS: Readonly<Record<PlainOp, Instruction>> = {
  cpuid: { op: 'cpuid' }, rdtsc: { op: 'rdtsc' }, rdtscp: { op: 'rdtscp' }, rdpid: { op: 'rdpid' }, rdpmc: { op: 'rdpmc' },
  clts: { op: 'clts' }, hlt: { op: 'hlt' }, pause: { op: 'pause' }, mwait: { op: 'mwait' }, monitor: { op: 'monitor' },
  wbinvd: { op: 'wbinvd' }, invd: { op: 'invd' }, xsetbv: { op: 'xsetbv' }, rdrand: { op: 'rdrand' }, rdseed: { op: 'rdseed' },
  vmcall: { op: 'vmcall' },
};

/** The SDM decision for an instruction event, or undefined for events that are not instructions. */
export const instructionOf = (ev: GuestEvent): Instruction | undefined => {
  switch (ev.op) {
    case 'cpuid': case 'rdtsc': case 'rdtscp': case 'rdpid': case 'rdpmc': case 'clts': case 'hlt': case 'pause':
    case 'mwait': case 'monitor': case 'wbinvd': case 'invd': case 'xsetbv': case 'rdrand': case 'rdseed': case 'vmcall':
      return PLAIN_INSTRUCTIONS[ev.op];
    case 'rdmsr': return { op: 'rdmsr', msr: ev.msr };
    case 'wrmsr': return { op: 'wrmsr', msr: ev.msr, value: ev.value };
    case 'in': case 'out': return { op: ev.op, port: ev.port, size: ev.size, string: ev.string, rep: ev.rep };
    case 'mov_to_cr': return { op: 'mov_to_cr', cr: ev.cr, value: ev.value };
    case 'mov_from_cr': return { op: 'mov_from_cr', cr: ev.cr };
    case 'lmsw': return { op: 'lmsw', value: BigInt(ev.value) };
    // the 64-bit linear address (the signed hot-path form converted back)
    case 'invlpg': return { op: 'invlpg', gva: gvaToBig(ev.gva) };
    default: return undefined;
  }
};

/** An exception raised in the guest (or by an instruction): exception bitmap, else delivered to the guest. */
const raise = (m: Machine, vector: number, errorCode: number | undefined): GuestStepResult => {
  if (m.native || m.nonRoot === null) return result(m, { result: 'fault', vector, ...(errorCode !== undefined ? { errorCode } : {}) });
  const x = onException(m.nonRoot.controls, vector, errorCode);
  if (x.kind === 'exit') {
    return exitWith(m, {
      reason: x.reason, qualification: x.qualification, interruptionInfo: Number(x.interruptionInfo),
      ...(x.errorCode !== undefined ? { interruptionErrorCode: x.errorCode } : {}),
    });
  }
  return result(m, { result: 'fault', vector: x.vector, ...(x.errorCode !== undefined ? { errorCode: x.errorCode } : {}) });
};

/** The exit an external interrupt with this vector causes, or null when it does not exit (it is delivered to the
 * guest). */
const interruptExit = (m: Machine, vector: number): ExitCause | null => {
  const c = m.nonRoot?.controls;
  // SDM "Other Causes of VM Exits": external interrupts exit with "external-interrupt exiting" = 1
  if (m.native || c === undefined || (c.pin & 1) === 0) return null;
  // SDM "Information for VM Exits Due to Vectored Events": with "acknowledge interrupt on exit" = 0 the
  // interrupt is not acknowledged and the VM-exit interruption-information field is invalid
  const ack = (vmcsRead(currentFields(m.cpu), F.VM_EXIT_CONTROLS) & ACK_INTR_ON_EXIT) !== 0n;
  // the cause of the last interrupt exit again for the same vector and acknowledgement (an immutable value)
  if (vector === lastInterruptVector && ack === lastInterruptAck) return lastInterruptCause;
  const cause: ExitCause = ack
    ? { reason: R.EXTERNAL_INTERRUPT, qualification: 0n, interruptionInfo: interruptionInfoNumber({ vector, type: 'external-interrupt', errorCodeValid: false }) }
    : { reason: R.EXTERNAL_INTERRUPT, qualification: 0n };
  lastInterruptVector = vector;
  lastInterruptAck = ack;
  lastInterruptCause = cause;
  return cause;
};
let lastInterruptVector = -1;
let lastInterruptAck = false;
let lastInterruptCause: ExitCause = { reason: R.EXTERNAL_INTERRUPT, qualification: 0n };

/**
 * The VM exit `guestStep` takes for an instruction event that exits (SDM "Instructions That Cause VM Exits ...") or an
 * external interrupt that exits; null for any other event or outcome (the event runs, faults, or is not an instruction
 * or interrupt). The registers the exit leaves (undefined: unchanged) are in `immediateExitGprs` until the next call.
 * For the fused exit round trip of the replay engine: `guestStep` gives `exitWith(m, cause, null, ..., gprs)` for these
 * events. `gprs`: the registers the machine holds (default `m.gprs`; a run of fused round trips keeps its own, see
 * src/vmx/entry.ts `QuickRun`); `op`: `ev.op`, when the caller has read it already.
 *
 * The event's fields are read once its op is known, each at a site that sees one kind of event: events of different
 * ops are objects of different shapes, and a property read at a site that met more than four shapes is a generic
 * (megamorphic) lookup, ~40 instructions (the exit mix of the benchmark met 8 at `ev.op`, 2 per call of this function,
 * and at the operand reads: with the replay loop reading it once, 2,038 -> 1,800 instructions per event).
 */
export const immediateExit = (m: Machine, ev: GuestEvent, gprs: Machine['gprs'] = m.gprs, op: GuestOp = ev.op): ExitCause | null => {
  exitGprs = undefined;
  runsUnchanged = false;
  const g = m.guest;
  const nr = m.nonRoot;
  if (g === null || m.native || nr === null) return null;
  if (op === 'interrupt') return interruptExit(m, (ev as ExternalInterrupt).vector);
  const c = nr.controls;
  // (by identity first: a guest object is immutable, and a run of exits asks with the same one; comparing the CR4
  // bigints was ~28 instructions)
  if (c !== decidedControls || g !== decidedGuest) decisionContext(c, g);
  let d: Decision | undefined;
  let unchanged: boolean;
  switch (op) {
    case 'in': case 'out': {
      const k = ioKey(ev as PortIo, op);
      d = k < 0 ? undefined : decidedIo.get(k);
      unchanged = true;
      break;
    }
    case 'rdmsr': {
      const k = msrKey((ev as Rdmsr).msr, false);
      d = k < 0 ? undefined : decidedMsr.get(k);
      unchanged = true;
      break;
    }
    case 'wrmsr': {
      const k = msrKey((ev as Wrmsr).msr, true);
      d = k < 0 ? undefined : decidedMsr.get(k);
      unchanged = false;
      break;
    }
    default: {
      const p = plainIndex(op);
      d = p >= 0 ? decidedPlain[p] : undefined;
      unchanged = p >= 0 ? UNCHANGED_PLAIN[p] : UNCHANGED_BY_RUN.has(op);
    }
  }
  if (d === undefined) {
    const i = instructionOf(ev);
    if (i === undefined) return null;
    // decide reads the context during the call only: one object for every call
    DECIDE_CTX.cr4 = g.cr4;
    d = decide(c, DECIDE_CTX, i);
    noteDecision(ev, d);
  }
  if (d.kind !== 'exit') {
    runsUnchanged = d.kind === 'run' && unchanged;
    return null;
  }
  exitGprs = operandsOf(gprs, ev, op);
  return d;
};
let exitGprs: Machine['gprs'] | undefined;
let runsUnchanged = false;

// The decisions for port I/O and RDMSR/WRMSR at CPL 0 (what immediateExit asks) are a function of the controls and the
// instruction's operands only (the bitmaps are read from the controls' memory; CR4 is not read): they are kept per
// controls object (immutable, reused by VM entry while the controls are unchanged), by operands, so that a repeated
// IN/OUT/RDMSR/WRMSR builds no instruction, qualification or decision again. The decisions for the instructions
// without operands (CPUID, HLT, ...) read the controls and CR4 only: kept per controls object and CR4 value, by
// instruction (by `plainIndex`: a Map keyed by the op string was ~40 instructions a lookup). A decision is immutable.
let decidedControls: ExecControls | null = null;
let decidedCr4 = 0n;
/** a guest whose CR4 is `decidedCr4` (null: none) */
let decidedGuest: GuestCpu | null = null;
const decidedIo = new Map<number, Decision>();
const decidedMsr = new Map<number, Decision>();
/** The instructions without operands, in the order of `plainIndex`. */
const PLAIN_OPS: readonly PlainOp[] = [
  'cpuid', 'rdtscp', 'hlt', 'rdtsc', 'rdpid', 'rdpmc', 'clts', 'pause', 'mwait', 'monitor', 'wbinvd', 'invd', 'xsetbv',
  'rdrand', 'rdseed', 'vmcall',
];
const decidedPlain: (Decision | undefined)[] = PLAIN_OPS.map(() => undefined);
/** The position of an instruction without operands in PLAIN_OPS, else -1 (a switch: its cases compare the op by
 * reference when the ops met were internalized strings). */
const plainIndex = (op: string): number => {
  switch (op) {
    case 'cpuid': return 0; case 'rdtscp': return 1; case 'hlt': return 2; case 'rdtsc': return 3; case 'rdpid': return 4;
    case 'rdpmc': return 5; case 'clts': return 6; case 'pause': return 7; case 'mwait': return 8; case 'monitor': return 9;
    case 'wbinvd': return 10; case 'invd': return 11; case 'xsetbv': return 12; case 'rdrand': return 13; case 'rdseed': return 14;
    case 'vmcall': return 15;
    default: return -1;
  }
};
/** the key of an IN/OUT event (port, size, string, REP, direction), or -1 when it has none (a port outside 16 bits) */
const ioKey = (ev: PortIo, op: 'in' | 'out'): number =>
  (ev.port >>> 0 === ev.port && ev.port <= 0xffff && (ev.size === 1 || ev.size === 2 || ev.size === 4))
    ? ev.port + ev.size * 0x1_0000 + (ev.string ? 0x8_0000 : 0) + (ev.rep ? 0x10_0000 : 0) + (op === 'out' ? 0x20_0000 : 0)
    : -1;
/** the key of an RDMSR/WRMSR event (the MSR index, and the direction), or -1 when it has none */
const msrKey = (msr: number, write: boolean): number => (msr >>> 0 === msr ? msr * 2 + (write ? 1 : 0) : -1);
/** The decisions kept are for controls `c` and the CR4 of guest `g` from now on. */
const decisionContext = (c: ExecControls, g: GuestCpu): void => {
  if (c !== decidedControls) {
    decidedControls = c;
    decidedCr4 = g.cr4;
    decidedIo.clear();
    decidedMsr.clear();
    decidedPlain.fill(undefined);
  } else if (g.cr4 !== decidedCr4) {
    decidedCr4 = g.cr4;
    decidedPlain.fill(undefined);
  }
  decidedGuest = g;
};
/** At most this many decisions kept per kind (a trace of ever new ports or MSRs starts over). */
const MAX_DECIDED = 1024;
const keep = (memo: Map<number, Decision>, k: number, d: Decision): void => {
  if (memo.size >= MAX_DECIDED) memo.clear();
  memo.set(k, d);
};
/** Keeps `decide`'s decision for an IN/OUT/RDMSR/WRMSR event or an instruction without operands under
 * `decidedControls` (and `decidedCr4`). */
const noteDecision = (ev: GuestEvent, d: Decision): void => {
  switch (ev.op) {
    case 'in': case 'out': { const k = ioKey(ev, ev.op); if (k >= 0) keep(decidedIo, k, d); return; }
    case 'rdmsr': case 'wrmsr': { const k = msrKey(ev.msr, ev.op === 'wrmsr'); if (k >= 0) keep(decidedMsr, k, d); return; }
    default: { const p = plainIndex(ev.op); if (p >= 0) decidedPlain[p] = d; }
  }
};
const DECIDE_CTX: { cpl: number; cr4: bigint } = { cpl: 0, cr4: 0n };
/** The registers the exit of the last `immediateExit` leaves (undefined: unchanged). */
export const immediateExitGprs = (): Machine['gprs'] | undefined => exitGprs;
/**
 * True when the last `immediateExit` found an instruction that runs without an exit and whose execution leaves the
 * machine as it was (RDTSC, RDTSCP, RDMSR, IN, OUT, MOV from CR, PAUSE, ...: they only give values): `guestStep` then
 * gives that same machine, a passthrough outcome, no translation and no touched pages.
 */
export const immediateRunUnchanged = (): boolean => runsUnchanged;
/** The instructions `execute` gives the machine back unchanged for (every other one changes the guest, the MSR values
 * or the caches: WRMSR, MOV to CR, CLTS, LMSW, INVLPG, HLT) */
const UNCHANGED_BY_RUN: ReadonlySet<string> = new Set([
  'cpuid', 'rdtsc', 'rdtscp', 'rdpid', 'rdpmc', 'rdmsr', 'in', 'out', 'mov_from_cr', 'pause', 'mwait', 'monitor', 'wbinvd',
  'invd', 'xsetbv', 'rdrand', 'rdseed', 'vmcall',
]);
/** UNCHANGED_BY_RUN by plainIndex */
const UNCHANGED_PLAIN: readonly boolean[] = PLAIN_OPS.map((op) => UNCHANGED_BY_RUN.has(op));
// (the op cases of immediateExit and the kept decisions assume these; checked when the module loads)
if (PLAIN_OPS.some((op, i) => plainIndex(op) !== i) || Object.keys(PLAIN_INSTRUCTIONS).some((op) => plainIndex(op) < 0)
  || !UNCHANGED_BY_RUN.has('in') || !UNCHANGED_BY_RUN.has('out') || !UNCHANGED_BY_RUN.has('rdmsr') || UNCHANGED_BY_RUN.has('wrmsr')) {
  throw new Error('step.ts: PLAIN_OPS, plainIndex and UNCHANGED_BY_RUN disagree');
}

/** The instruction's register operands, where the VMM's handler will read them (see Machine.gprs); undefined when
 * the instruction has none. */
const operandsOf = (gprs: Machine['gprs'], ev: GuestEvent, op: GuestOp): Machine['gprs'] | undefined => {
  switch (op) {
    case 'mov_to_cr': return { rax: (ev as MovToCr).value, rcx: gprs.rcx };
    case 'wrmsr': return { rax: (ev as Wrmsr).value, rcx: msrBig((ev as Wrmsr).msr) };
    case 'rdmsr': return { rax: gprs.rax, rcx: msrBig((ev as Rdmsr).msr) };
    case 'cpuid': return { rax: bigOf((ev as Cpuid).leaf), rcx: bigOf((ev as Cpuid).subleaf) };
    case 'lmsw': return { rax: bigOf((ev as Lmsw).value), rcx: gprs.rcx };
    default: return undefined;
  }
};

/** bigOf(msr), the last one above bigOf's shared values kept (x2APIC and other MSRs are above 1023: BigInt() of a
 * number is a call into the runtime, ~250 instructions at each WRMSR of the exit mix) */
let lastMsr = 0;
let lastMsrBig = 0n;
const msrBig = (msr: number): bigint => {
  if (msr >= 0 && msr < 1024) return bigOf(msr);
  if (msr !== lastMsr) {
    lastMsrBig = bigOf(msr);
    lastMsr = msr;
  }
  return lastMsrBig;
};

/** What an instruction does when it does not exit. */
const execute = (env: Env, m: Machine, ev: GuestEvent): GuestStepResult => {
  const g = m.guest!;
  const c = m.nonRoot?.controls;
  const tsc = () => (m.native || c === undefined ? m.tsc : guestTsc(m.tsc, tscControls(c)));
  switch (ev.op) {
    case 'rdtsc': return result(m, { result: 'passthrough', value: tsc() });
    case 'rdtscp': return result(m, { result: 'passthrough', value: tsc(), aux: (m.guestMsrs.get(IA32_TSC_AUX) ?? 0n) & 0xffff_ffffn });
    case 'rdpid': return result(m, { result: 'passthrough', value: m.guestMsrs.get(IA32_TSC_AUX) ?? 0n });
    case 'rdmsr':
      if (ev.msr === IA32_TIME_STAMP_COUNTER) return result(m, { result: 'passthrough', value: tsc() });
      return result(m, { result: 'passthrough', value: m.guestMsrs.get(ev.msr) ?? 0n });
    case 'wrmsr': {
      const msrs = new Map(m.guestMsrs);
      msrs.set(ev.msr, ev.value);
      return result(machineWith(m, { guestMsrs: msrs }), { result: 'passthrough' });
    }
    case 'in': return result(m, { result: 'passthrough', value: (1n << BigInt(8 * ev.size)) - 1n });
    case 'mov_from_cr': {
      const v = ev.cr === 0 ? (c === undefined ? g.cr0 : Cr.readCr(g.cr0, c.cr0Mask, c.cr0Shadow))
        : ev.cr === 4 ? (c === undefined ? g.cr4 : Cr.readCr(g.cr4, c.cr4Mask, c.cr4Shadow))
          : ev.cr === 3 ? g.cr3 : g.cr8;
      return result(m, { result: 'passthrough', value: v });
    }
    case 'mov_to_cr': {
      const caps = env.caps;
      switch (ev.cr) {
        case 0: {
          const w = Cr.movToCr0(g.cr0, ev.value, c?.cr0Mask ?? 0n, { fixed0: m.native ? 0n : caps.cr0Fixed0, fixed1: m.native ? U64 : caps.cr0Fixed1 },
            c !== undefined && secondaryOn(c, SECONDARY_EXEC.UNRESTRICTED_GUEST));
          return w.kind === 'gp' ? raise(m, 13, 0) : result(machineWithGuest(m, { ...g, cr0: w.value }), { result: 'passthrough' });
        }
        case 4: {
          const w = Cr.movToCr4(g.cr4, ev.value, c?.cr4Mask ?? 0n, { fixed0: m.native ? 0n : caps.cr4Fixed0, fixed1: m.native ? U64 : caps.cr4Fixed1 });
          return w.kind === 'gp' ? raise(m, 13, 0) : result(machineWithGuest(m, { ...g, cr4: w.value }), { result: 'passthrough' });
        }
        case 3: {
          // SDM 4.10.4.1: MOV to CR3 invalidates non-global TLB entries of the new PCID unless CR3[63] with PCIDE
          const pcide = bit(g.cr4, 17);
          const noFlush = pcide && bit(ev.value, 63);
          const value = noFlush ? ev.value & ~(1n << 63n) : ev.value;
          const pcid = pcide ? Number(value & 0xfffn) : 0;
          const mmu = Inv.movToCr3(m.mmu, m.nonRoot?.vpid ?? 0, pcid, noFlush);
          return result(machineWith(m, { guest: { ...g, cr3: value }, mmu }), { result: 'passthrough' });
        }
        case 8: return result(machineWithGuest(m, { ...g, cr8: ev.value & 0xfn }), { result: 'passthrough' });
        default: { const never: never = ev.cr; throw new Error(`bad CR ${String(never)}`); }
      }
    }
    case 'clts': return result(machineWithGuest(m, { ...g, cr0: Cr.clts(g.cr0, c?.cr0Mask ?? 0n) }), { result: 'passthrough' });
    case 'lmsw': return result(machineWithGuest(m, { ...g, cr0: Cr.lmsw(g.cr0, BigInt(ev.value), c?.cr0Mask ?? 0n) }), { result: 'passthrough' });
    case 'invlpg': {
      const mmu = Inv.invlpg(m.mmu, m.nonRoot?.vpid ?? 0, bit(g.cr4, 17) ? Number(g.cr3 & 0xfffn) : 0, ev.gva as number);
      return result(machineWith(m, { mmu }), { result: 'passthrough' });
    }
    case 'hlt': return result(machineWithGuest(m, { ...g, activity: 1 }), { result: 'passthrough' });
    default: return result(m, { result: 'passthrough' });
  }
};

/** The host TSC advances to `to`; the preemption timer may expire on the way (exit 52 at the tick that reaches 0). */
const advanceTime = (m: Machine, to: bigint): GuestStepResult => {
  const t = m.nonRoot?.timer ?? null;
  if (t !== null) {
    const a = advance(t.value, t.since, to, rateShift(m.cpu.caps.misc));
    if (a.kind === 'expired') {
      const at = a.at < m.tsc ? m.tsc : a.at;
      return exitWith(machineWith(m, { tsc: at }), { reason: R.PREEMPTION_TIMER, qualification: 0n });
    }
  }
  return result(machineWith(m, { tsc: to }), { result: 'passthrough' });
};

/**
 * One guest event. The machine must be in VMX non-root operation (or a native run); the scenario runner and the
 * replay engine check that before calling.
 */
export const guestStep = (env: Env, m: Machine, ev: GuestEvent, carried?: Carried): GuestStepResult => {
  const g = m.guest;
  if (g === null) throw new Error('guestStep: no guest is running');
  switch (ev.op) {
    case 'read': case 'write': case 'fetch':
      return memoryAccess(env, m, ev, carried);
    case 'run':
      return advanceTime(m, (m.tsc + ev.cycles) & U64);
    case 'guest_map': case 'guest_unmap':
      return guestTableEdit(m, ev);
    case 'exception':
      return raise(m, ev.vector, ev.errorCode);
    case 'interrupt': {
      const x = interruptExit(m, ev.vector);
      if (x !== null) return exitWith(m, x);
      // delivered through the guest IDT; an interrupt ends HLT
      return result(machineWithGuest(m, { ...g, activity: 0 }), { result: 'passthrough', value: BigInt(ev.vector) });
    }
    case 'nmi': {
      const c = m.nonRoot?.controls;
      if (!m.native && c !== undefined && (c.pin & (1 << 3)) !== 0) {
        return exitWith(m, { reason: R.EXCEPTION_NMI, qualification: 0n, interruptionInfo: interruptionInfoNumber({ vector: 2, type: 'nmi', errorCodeValid: false }) });
      }
      return result(machineWithGuest(m, { ...g, activity: 0 }), { result: 'passthrough', value: 2n });
    }
    default: {
      const i = instructionOf(ev);
      if (i === undefined) throw new Error(`guestStep: unhandled op ${ev.op}`);
      if (m.native) {
        // bare metal: CPUID, VMCALL etc. just run (VMCALL outside VMX operation is #UD)
        if (ev.op === 'vmcall') return raise(m, 6, undefined);
        if ((ev.op === 'rdtscp' || ev.op === 'rdpid')) return execute(env, m, ev);
        return execute(env, m, ev);
      }
      const d = decide(m.nonRoot!.controls, { cpl: 0, cr4: g.cr4 }, i);
      switch (d.kind) {
        case 'exit':
          // the decision carries the cause's fields (reason, qualification, instruction length, linear address)
          return exitWith(m, d, null, Cost.emptyStats, NO_PAGES, operandsOf(m.gprs, ev, ev.op));
        case 'ud': return raise(m, 6, undefined);
        case 'gp': return raise(m, 13, 0);
        case 'run': return execute(env, m, ev);
        default: { const never: never = d; throw new Error(`bad decision ${JSON.stringify(never)}`); }
      }
    }
  }
};

