/**
 * `vtxsim explain`: a trace or scenario replayed up to an event, and the reason for its outcome (or for every VM exit)
 * told with the facts the model read: the control, bitmap bit, exception-bitmap bit or EPT entry that decided.
 *
 * Models: the same fold as src/replay/replay.ts (guest step, KVM-like exit handling, guest OS demand paging) and the
 * scenario runner of src/replay/scenario.ts; the "why" of one decision comes from src/vmx/explain.ts, which calls the
 * model's own predicates. For a memory access, the two-dimensional walk (SDM "EPT Translation Mechanism") at that
 * moment: a TLB hit, or the cold walk's references with those the paging-structure caches and nested TLB skipped.
 * To see the machine at the instant of each exit, an event that exits is run a second time by `traceEvent`, a
 * replica of replay.ts's event loop; the exits it sees are compared with the real replay's and a divergence is
 * reported (`diverged`), never hidden.
 * Leaves out: shadow paging (mode "shadow"), exits at VM entry other than a zero preemption timer.
 */
import { isLeft, left, right, type Either } from 'fp-ts/Either';
import { gva as mkGva, gpa as mkGpa, hex, isBitSet as bit, PAGE_SIZE, type Gva } from '../arch/addr';
import type { GuestEvent, MemoryAccess } from '../guest/events';
import type { GuestWalkStart } from '../guest/paging';
import * as Psc from '../mmu/psc';
import * as NestedTlb from '../mmu/nestedTlb';
import { translate, ep4taOf, type TranslateContext } from '../mmu/translate';
import { walk2d, type Reference, type Walk2dConfig } from '../mmu/walk2d';
import { guestStep, instructionOf } from '../vmx/step';
import { currentFields } from '../vmx/cpu';
import { vmEntry, guestPagingOf } from '../vmx/entry';
import { R } from '../vmx/exitReasons';
import { qualificationFields, type FieldValue } from '../vmx/decode';
import * as Why from '../vmx/explain';
import { IA32_TSC_AUX } from '../vmx/tsc';
import type { Env, ExitRecord, Machine, Outcome } from '../vmx/machine';
import type { Config } from './config';
import { handleExit, prepareEntry, type Hypervisor } from './hypervisor';
import { releaseUnwrittenTables, replayChunk, startReplay, type ReplayState } from './replay';
import { runScenario, type RunProblem } from './scenario';
import type { Scenario } from './scenarioCodec';

/** The 2-D walk of a memory access at the moment it ran. */
export interface WalkView {
  readonly gva: number;
  readonly access: 'read' | 'write' | 'fetch';
  readonly tlb: 'l1' | 'stlb' | null;
  readonly guestLevels: number;
  readonly eptLevels: number | null;
  /** every reference of the walk from cold caches */
  readonly cold: readonly Reference[];
  /** the references this walk made (empty on a TLB hit) */
  readonly performed: readonly Reference[];
  /** paging-structure-cache hit: the guest level whose table the walk started at */
  readonly pscStart: number | null;
  /** guest levels whose table page the nested TLB translated (their EPT walk skipped) */
  readonly nestedHits: readonly number[];
}

export interface EventWhy {
  /** trace event index or scenario step index (0-based) */
  readonly index: number;
  readonly op: string;
  /** set when the outcome came from an event the model made on the guest's behalf (the guest OS's demand map) */
  readonly via?: string;
  readonly outcome: Outcome;
  readonly facts: readonly Why.Fact[];
  /** the exit qualification decoded by name (interface §5 names) */
  readonly qualification?: Readonly<Record<string, FieldValue>>;
  readonly walk?: WalkView;
}

export interface ExplainResult {
  readonly items: readonly EventWhy[];
  /** events replayed */
  readonly events: number;
  /** set when the replica disagreed with the real replay (a bug to report) */
  readonly diverged: string | null;
}

export type Selection = { readonly kind: 'event'; readonly index: number } | { readonly kind: 'all-exits' };

const isAccess = (ev: GuestEvent): ev is MemoryAccess => ev.op === 'read' || ev.op === 'write' || ev.op === 'fetch';


/** The walk of the first 4 KiB piece of `ev` in machine `m`: TLB hit, or cold vs performed references. */
export const walkView = (env: Env, m: Machine, ev: MemoryAccess): WalkView | undefined => {
  const g = m.guest;
  if (g === null) return undefined;
  const base = m.nonRoot?.walk ?? { guest: null, ept: null };
  const cfg: Walk2dConfig = { ...base, guest: guestPagingOf(env.caps, g) };
  if (cfg.guest === null) return undefined;
  const vpid = m.nonRoot?.vpid ?? 0;
  const pcid = bit(g.cr4, 17) ? Number(g.cr3 & 0xfffn) : 0;
  const ctx: TranslateContext = { walk: cfg, vpid, pcid, pge: bit(g.cr4, 7), cost: env.cost };
  const addr = ev.gva as Gva;
  const access = { kind: ev.op, user: ev.user };
  const t = translate(m.mmu, m.cpu.mem, ctx, addr, access);
  const guestLevels = cfg.guest.la57 ? 5 : 4;
  const eptLevels = cfg.ept === null ? null : cfg.ept.levels;
  const cold = walk2d(m.cpu.mem, cfg, addr, access, { record: true }).references ?? [];
  if (t.tlbLevel !== null) return { gva: addr as number, access: ev.op, tlb: t.tlbLevel, guestLevels, eptLevels, cold, performed: [], pscStart: null, nestedHits: [] };
  // the same cache lookups translate() makes before it walks (src/mmu/translate.ts step 3)
  const ep4ta = ep4taOf(cfg);
  const ph = Psc.lookup(m.mmu.psc, guestLevels, addr as number, vpid, pcid, ep4ta);
  let start: GuestWalkStart | undefined;
  let pscStart: number | null = null;
  if (ph >= 0) {
    const level = Psc.hitLevel(ph);
    const rights = Psc.hitRights(m.mmu.psc, ph);
    start = { level: level - 1, table: mkGpa(Psc.hitTable(m.mmu.psc, ph)), user: (rights & 4) !== 0, writable: (rights & 2) !== 0, xd: (rights & 1) === 0 };
    pscStart = level - 1;
  }
  const nestedHits: number[] = [];
  const nestedOn = cfg.ept !== null && m.mmu.nested.sets > 0;
  const nestedLookup = nestedOn
    ? (gpaPage: number, guestLevel: number | null): number | undefined => {
      if (guestLevel === null) return undefined;
      const h = NestedTlb.lookup(m.mmu.nested, ep4ta, gpaPage);
      if (h < 0) return undefined;
      nestedHits.push(guestLevel);
      return NestedTlb.hitHpa(m.mmu.nested, h, gpaPage);
    }
    : undefined;
  const w = walk2d(m.cpu.mem, cfg, addr, access, { ...(start !== undefined ? { start } : {}), nestedLookup, record: true });
  return { gva: addr as number, access: ev.op, tlb: null, guestLevels, eptLevels, cold, performed: w.references ?? [], pscStart, nestedHits };
};

/** The facts of one guest step: `before` is the machine the step ran on, `o` its outcome. */
export const explainStep = (env: Env, before: Machine, ev: GuestEvent, o: Outcome): Pick<EventWhy, 'facts' | 'walk' | 'qualification'> => {
  const nr = before.nonRoot;
  const c = nr?.controls;
  const facts: Why.Fact[] = [];
  const x = o.result === 'exit' ? o.exit : undefined;
  const qualification = x !== undefined ? qualificationFields(x.reason, x.qualification) : undefined;
  const withQ = { ...(qualification !== undefined ? { qualification } : {}) };
  if (before.native || c === undefined) {
    facts.push({ text: 'native run (no VMX): nothing exits; the instruction runs on bare metal', decisive: true });
    return { facts, ...(isAccess(ev) ? { walk: walkView(env, before, ev) } : {}), ...withQ };
  }
  // exits that are not the instruction's own decision
  if (x !== undefined && (x.reason === R.EPT_VIOLATION || x.reason === R.EPT_MISCONFIG) && nr?.walk.ept != null && x.guestPhysical !== undefined) {
    const q = Number(x.qualification);
    // SDM "Exit Qualification for EPT Violations": bit 7 = 1 and bit 8 = 0: the access was to a guest paging entry
    const pagingStructure = x.reason === R.EPT_VIOLATION && (q & 0x80) !== 0 && (q & 0x100) === 0;
    const kind = pagingStructure ? 'read' : x.reason === R.EPT_VIOLATION ? ((q & 4) !== 0 ? 'fetch' : (q & 2) !== 0 ? 'write' : 'read') : isAccess(ev) ? ev.op : 'write';
    if (ev.op === 'guest_map' || ev.op === 'guest_unmap') facts.push({ text: `the guest OS writes its own page-table entry at GPA ${hex(x.guestPhysical)} (a guest-physical write, no linear address)`, decisive: false });
    else if (pagingStructure) facts.push({ text: `the guest page walk reads a guest paging-structure entry at GPA ${hex(x.guestPhysical)} (qualification bit 7 = 1, bit 8 = 0)`, decisive: false });
    facts.push(...Why.explainEptWalk(before.cpu.mem, nr.walk.ept, x.guestPhysical, { kind, user: isAccess(ev) ? ev.user : false, pagingStructure }));
    return { facts, ...(isAccess(ev) ? { walk: walkView(env, before, ev) } : {}), ...withQ };
  }
  if (x !== undefined && x.reason === R.PREEMPTION_TIMER) {
    const t = nr?.timer;
    facts.push({ text: `activate-vmx-preemption-timer = 1: the VMX-preemption timer${t != null ? ` (value ${t.value} at host TSC ${hex(t.since)}, counting down once every 2^${Number(before.cpu.caps.misc & 0x1fn)} TSC ticks)` : ''} reached 0 at host TSC ${hex(x.tsc)} -> exit 52 (PREEMPTION_TIMER)`, decisive: true });
    return { facts, ...withQ };
  }
  if (x !== undefined && x.reason === R.PML_FULL) {
    facts.push({ text: `enable-pml = 1 and the PML index was ${before.guest?.pmlIndex ?? '?'} (no free entry): logging a dirty GPA -> exit 62 (PML_FULL)`, decisive: true });
    return { facts, ...withQ };
  }
  switch (ev.op) {
    case 'read': case 'write': case 'fetch': {
      const walk = walkView(env, before, ev);
      if (o.result === 'fault' || (x !== undefined && x.reason === R.EXCEPTION_NMI)) {
        const ec = o.result === 'fault' ? o.errorCode : x?.interruptionErrorCode;
        facts.push({ text: `the guest page walk of GVA ${hex(ev.gva as number)} faults: #PF`, decisive: false });
        facts.push(...Why.explainException(c, 14, ec).facts);
      } else if (o.result === 'passthrough') {
        facts.push({ text: walk?.tlb != null ? `TLB hit (${walk.tlb === 'l1' ? 'L1 TLB' : 'STLB'}): translated without a walk, no exit` : `translated by a walk (${walk?.performed.length ?? 0} references); every EPT entry grants the ${ev.op}: no exit`, decisive: true });
      }
      return { facts, ...(walk !== undefined ? { walk } : {}), ...withQ };
    }
    case 'exception':
      facts.push(...Why.explainException(c, ev.vector, ev.errorCode).facts);
      return { facts, ...withQ };
    case 'interrupt': {
      const on = (c.pin & 1) !== 0;
      facts.push({ text: `external-interrupt-exiting = ${on ? 1 : 0} -> ${on ? 'exit 1 (EXTERNAL_INTERRUPT)' : 'delivered through the guest IDT'} (vector ${ev.vector})`, decisive: true });
      return { facts, ...withQ };
    }
    case 'nmi': {
      const on = (c.pin & 8) !== 0;
      facts.push({ text: `nmi-exiting = ${on ? 1 : 0} -> ${on ? 'exit 0 (EXCEPTION_NMI, NMI)' : 'delivered to the guest'}`, decisive: true });
      return { facts, ...withQ };
    }
    case 'run':
      facts.push({ text: `${(c.pin & 0x40) !== 0 ? 'activate-vmx-preemption-timer = 1, but the timer did not reach 0' : 'activate-vmx-preemption-timer = 0'}: ${ev.cycles} cycles of guest work without an exit`, decisive: true });
      return { facts, ...withQ };
    case 'guest_map': case 'guest_unmap':
      facts.push({ text: `the guest OS edits its page tables; every EPT entry it writes through grants the write: no exit`, decisive: true });
      return { facts, ...withQ };
    default: {
      const i = instructionOf(ev);
      if (i === undefined) return { facts, ...withQ };
      const g = before.guest;
      const time: Why.TimeInputs = { hostTsc: before.tsc, tscAux: before.guestMsrs.get(IA32_TSC_AUX) ?? 0n };
      const w = Why.explainInstruction(c, { cpl: 0, cr4: g?.cr4 ?? 0n }, i, time);
      facts.push(...w.facts);
      if (w.decision.kind === 'ud' || w.decision.kind === 'gp') {
        const vector = w.decision.kind === 'ud' ? 6 : 13;
        facts.push(...Why.explainException(c, vector, w.decision.kind === 'gp' ? 0 : undefined).facts);
      }
      return { facts, ...withQ };
    }
  }
};

/** An exit at VM entry: a zero VMX-preemption timer, or a failed entry told by the checks that fail (`m` after it). */
const entryExitFacts = (m: Machine, x: ExitRecord): Why.Fact[] =>
  x.reason === R.PREEMPTION_TIMER
    ? [{ text: 'activate-vmx-preemption-timer = 1 and the VMX-preemption timer value is 0 at VM entry -> exit 52 (PREEMPTION_TIMER) before any guest instruction', decisive: true }]
    : Why.explainEntryFailure({ caps: m.cpu.caps, fields: currentFields(m.cpu), mem: m.cpu.mem, currentVmcs: m.cpu.currentVmcs ?? 0, vmxonPtr: m.cpu.vmxonPtr ?? 0 }, x.reason, x.qualification);

const pageBytes = (size: '4K' | '2M' | '1G'): number => (size === '4K' ? PAGE_SIZE : size === '2M' ? 0x200000 : 0x40000000);
const MAX_ITERATIONS = 64;

interface Traced { readonly items: EventWhy[]; readonly exits: ExitRecord[]; readonly machine: Machine; readonly hv: Hypervisor; readonly ok: boolean }

/**
 * A replica of replay.ts's runEvent that keeps the machine at each step, so every exit (and the first outcome) can be
 * explained from the state the step ran on.
 */
const traceEvent = (s: ReplayState, ev0: GuestEvent, index: number, explainAll = true): Traced => {
  const { env, config } = s;
  const items: EventWhy[] = [];
  const exits: ExitRecord[] = [];
  let m = s.machine;
  let hv: Hypervisor = s.hv;
  const run = (ev: GuestEvent, via: string | undefined): boolean => {
    for (let i = 0; i < MAX_ITERATIONS; i++) {
      const before = m;
      const allocBefore = m.guestAlloc.next;
      const r = guestStep(env, m, ev);
      m = r.machine;
      const o = r.outcome;
      const record = (): void => { items.push({ index, op: ev.op, ...(via !== undefined ? { via } : {}), outcome: o, ...explainStep(env, before, ev, o) }); };
      switch (o.result) {
        case 'passthrough':
          if (explainAll && items.length === 0 && via === undefined) record();
          return true;
        case 'fault': {
          if (explainAll && via === undefined && items.length === 0) record();
          if (o.vector === 14 && isAccess(ev) && ((o.errorCode ?? 0) & 1) === 0 && config.guest.policy === 'demand') {
            const size = config.guest.pageSize;
            const bytes = pageBytes(size);
            const frame = Math.ceil(m.guestAlloc.next / bytes) * bytes;
            if (frame + bytes > config.guest.memoryMiB * 1024 * 1024) return false;
            m = { ...m, guestAlloc: { next: frame + bytes } };
            const va = ev.gva as number;
            const map: GuestEvent = { op: 'guest_map', gva: mkGva(va - (va % bytes)), gpa: mkGpa(frame), size, flags: ev.user ? 'rwxu' : 'rwx' };
            if (!run(map, `the guest OS's demand-fault mapping of GVA ${hex(va - (va % bytes))} -> GPA ${hex(frame)} (${size}) for ${ev.op} ${hex(va)}`)) return false;
            continue;
          }
          return true;
        }
        case 'exit': {
          const x = o.exit;
          exits.push(x);
          record();
          let h = handleExit(hv, m, x);
          if (!h.resume) return false;
          const retry = h.machine.pendingRetry !== null || ((ev.op === 'guest_map' || ev.op === 'guest_unmap') && x.reason !== R.EPT_MISCONFIG);
          if (ev.op === 'guest_map' && x.guestPhysical !== undefined) {
            const page = x.guestPhysical - (x.guestPhysical % PAGE_SIZE);
            h = { ...h, machine: releaseUnwrittenTables(allocBefore, h.machine, page) };
          }
          const p = prepareEntry(h.hv, { ...h.machine, pendingRetry: null });
          hv = p.hv;
          const e = vmEntry(p.machine, 'vmresume');
          m = e.machine;
          if (e.outcome.result === 'exit') {
            const y = e.outcome.exit;
            exits.push(y);
            items.push({ index, op: 'vmresume', ...(via !== undefined ? { via } : {}), outcome: e.outcome, facts: entryExitFacts(m, y),
              qualification: qualificationFields(y.reason, y.qualification) });
            if (y.failedEntry) return false;
            const h2 = handleExit(hv, m, y);
            const p2 = prepareEntry(h2.hv, h2.machine);
            hv = p2.hv;
            const e2 = vmEntry(p2.machine, 'vmresume');
            if (e2.outcome.result !== 'entered') return false;
            m = e2.machine;
          } else if (e.outcome.result !== 'entered') {
            return false;
          }
          m = { ...m, nonRoot: m.nonRoot === null ? null : { ...m.nonRoot, retry: null } };
          if (retry) continue;
          return true;
        }
        default:
          return false;
      }
    }
    return false;
  };
  const ok = run(ev0, undefined);
  return { items, exits, machine: m, hv, ok };
};

const sameExits = (a: readonly ExitRecord[], b: readonly ExitRecord[]): boolean =>
  a.length === b.length && a.every((x, i) => x.reason === b[i].reason && x.qualification === b[i].qualification && x.guestPhysical === b[i].guestPhysical);

/**
 * Explains a trace: event `index` (its outcome and every exit it caused), or every exit of the trace. Pure; events
 * after the last one needed are not replayed.
 */
export const explainTrace = (config: Config, events: readonly GuestEvent[], sel: Selection): Either<RunProblem, ExplainResult> => {
  if (config.mode === 'shadow') return left({ path: 'config.mode', expected: '"ept" or "native" (explain does not model shadow paging yet)', found: '"shadow"' });
  if (sel.kind === 'event' && (sel.index < 0 || sel.index >= events.length)) {
    return left({ path: '--event', expected: `an event index from 0 to ${events.length - 1}`, found: String(sel.index) });
  }
  const st = startReplay(config);
  if (isLeft(st)) return st;
  const last = sel.kind === 'event' ? sel.index : events.length - 1;
  // the real replay, once: which events exit, and with what (the replica below must see the same)
  const real = replayChunk(st.right, events.slice(0, last + 1), true);
  const targets = sel.kind === 'event' ? [sel.index] : [...new Set(real.exitEvents)];
  let s = st.right;
  const items: EventWhy[] = [];
  const seen: ExitRecord[] = [];
  let i = 0;
  for (const k of targets) {
    if (sel.kind === 'event') { s = replayChunk(s, events.slice(i, k)).state; i = k; }
    // between exits, the replica runs the events without explaining them (faster than a chunk per stretch)
    for (; i < k && s.stopped === null; i++) {
      const t = traceEvent(s, events[i], i, false);
      s = t.ok ? { ...s, machine: t.machine, hv: t.hv } : replayChunk(s, [events[i]]).state;
    }
    if (s.stopped !== null) break;
    const before = s;
    const t = traceEvent(s, events[k], k);
    seen.push(...t.exits);
    items.push(...(sel.kind === 'event' ? t.items : t.items.filter((x) => x.outcome.result === 'exit')));
    // explain needs only the machine and the hypervisor to go on; the statistics are the replay's business
    s = t.ok ? { ...before, machine: t.machine, hv: t.hv } : replayChunk(before, [events[k]]).state;
    i = k + 1;
  }
  const expected = sel.kind === 'event' ? real.exits.filter((_, j) => real.exitEvents[j] === sel.index) : real.exits;
  const diverged = sameExits(seen, expected) ? null
    : `explain saw ${seen.length} exits [${seen.slice(0, 8).map((x) => x.reason).join(', ')}...], the replay ${expected.length} [${expected.slice(0, 8).map((x) => x.reason).join(', ')}...]`;
  return right({ items, events: last + 1, diverged });
};

/**
 * Explains a scenario (interface §4): step `index`, or every step whose outcome is a VM exit. A guest event is
 * explained from the machine the steps before it left; root-mode steps are told by their outcome.
 */
export const explainScenario = (sc: Scenario<GuestEvent>, sel: Selection): Either<RunProblem, ExplainResult> => {
  const full = runScenario(sc);
  if (isLeft(full)) return full;
  const records = full.right.records;
  const wanted = sel.kind === 'event'
    ? [sel.index]
    : records.filter((r) => r.outcome.result === 'exit').map((r) => r.index);
  if (sel.kind === 'event' && (sel.index < 0 || sel.index >= records.length)) {
    return left({ path: '--event', expected: `a step index from 0 to ${records.length - 1}`, found: String(sel.index) });
  }
  const items: EventWhy[] = [];
  for (const k of wanted) {
    const step = sc.steps[k];
    const rec = records[k];
    if (step.kind === 'guest') {
      const prefix = runScenario({ ...sc, steps: sc.steps.slice(0, k) });
      if (isLeft(prefix)) return prefix;
      const before = prefix.right.machine;
      if (before.cpu.vmx === 'non-root' || before.native) {
        items.push({ index: k, op: step.op, outcome: rec.outcome, ...explainStep(prefix.right.env, before, step.event, rec.outcome) });
        continue;
      }
    }
    if ((step.op === 'vmresume' || step.op === 'vmlaunch' || step.op === 'launch') && rec.outcome.result === 'exit') {
      // the exit of a retried memory access, or one at VM entry
      const prefix = runScenario({ ...sc, steps: sc.steps.slice(0, k) });
      if (isLeft(prefix)) return prefix;
      const x = rec.outcome.exit;
      const retry = prefix.right.machine.pendingRetry;
      if (retry !== null && !x.failedEntry) {
        // the retried access runs on the machine just after the entry: rebuild it with the entry alone
        const e = vmEntry(prefix.right.machine, step.op === 'vmresume' ? 'vmresume' : 'vmlaunch');
        const m1: Machine = e.machine.nonRoot === null ? e.machine : { ...e.machine, nonRoot: { ...e.machine.nonRoot, retry: null } };
        items.push({ index: k, op: step.op, via: `the retry of ${retry.op} ${hex(retry.gva as number)} at VM entry`, outcome: rec.outcome, ...explainStep(prefix.right.env, m1, retry, rec.outcome) });
        continue;
      }
      // the machine just after the failed entry: its VMCS is the one the entry checked
      const after = runScenario({ ...sc, steps: sc.steps.slice(0, k + 1) });
      if (isLeft(after)) return after;
      items.push({ index: k, op: step.op, outcome: rec.outcome, facts: entryExitFacts(after.right.machine, x),
        qualification: qualificationFields(x.reason, x.qualification) });
      continue;
    }
    items.push({ index: k, op: step.op, outcome: rec.outcome, facts: [{ text: `root-mode operation ${step.op}`, decisive: true }] });
  }
  return right({ items, events: records.length, diverged: null });
};
