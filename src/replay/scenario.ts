/**
 * The scenario runner (interface §4): a config plus explicit steps, each a root-mode operation or a guest event, run
 * one by one through the pure model, each with its outcome. Nothing is automatic: after a VM exit the steps go on in
 * root mode until a VMRESUME; a memory access that exited is retried at that VMRESUME.
 */
import { isLeft, left, right, type Either } from 'fp-ts/Either';
import * as Phys from '../arch/phys';
import type { Gva } from '../arch/addr';
import { hex, PAGE_SIZE } from '../arch/addr';
import type { DecodeFailure } from '../arch/codecReport';
import * as TlbConfig from '../mmu/tlbConfig';
import * as CostM from '../mmu/cost';
import * as Inv from '../mmu/invalidate';
import * as EptBuild from '../ept/build';
import { eptTranslate } from '../ept/walk';
import * as GuestBuild from '../guest/build';
import type { GuestEvent } from '../guest/events';
import { decodeGuestEvent } from '../guest/traceCodec';
import * as Instr from '../vmx/instructions';
import { cpuWith, initialCpu, currentFields, vmcsRead } from '../vmx/cpu';
import { presetByName, revisionId } from '../vmx/caps';
import { F } from '../vmx/fields';
import { vmEntry, eptContextOf } from '../vmx/entry';
import { guestStep, memoryAccess } from '../vmx/step';
import { exitName } from '../vmx/exitReasons';
import { machineWith, nonRootWithRetry, withMem, type Env, type ExitRecord, type GuestCpu, type Machine, type Outcome } from '../vmx/machine';
import type { Config } from './config';
import { buildProgram, fieldKey, GUEST_TABLES_BASE, MODEL_MEMORY_BASE } from './program';
import { decodeScenario, type RootStep, type Scenario, type Step } from './scenarioCodec';

export interface StepRecord {
  readonly index: number;
  readonly op: string;
  readonly outcome: Outcome;
}

export interface RunProblem {
  readonly path: string;
  readonly expected: string;
  readonly found: string;
}

/**
 * Environments made so far, by their inputs (at most ENV_MEMO_MAX, then forgotten at once). An Env is immutable, so
 * equal inputs may share one; and they should: a new TLB geometry or cost model object per run made V8 throw away the
 * replay loop's optimized code at every later run of a process (it had specialized on the one it saw), ~70 ms each.
 */
const envMemo = new Map<string, Either<RunProblem, Env>>();
const ENV_MEMO_MAX = 64;

/** The run environment of a config: CPU preset, TLB geometry, costs. Problems name the config path. */
export const envOf = (config: Config): Either<RunProblem, Env> => {
  const key = JSON.stringify([config.cpu, config.tlb ?? null, config.cost ?? null], (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  const known = envMemo.get(key);
  if (known !== undefined) return known;
  if (envMemo.size >= ENV_MEMO_MAX) envMemo.clear();
  const made = makeEnv(config);
  envMemo.set(key, made);
  return made;
};

const makeEnv = (config: Config): Either<RunProblem, Env> => {
  const caps = presetByName(config.cpu);
  if (caps === undefined) return left({ path: 'config.cpu', expected: 'a CPU preset ("skylake-server" or "icelake-server")', found: JSON.stringify(config.cpu) });
  const t = TlbConfig.fromInput(config.tlb as TlbConfig.TlbConfigInput);
  if (t.problems.length > 0) return left({ path: `config.tlb.${t.problems[0].path}`, expected: t.problems[0].message, found: JSON.stringify(config.tlb) });
  const c = CostM.fromInput(config.cost);
  if (c.problems.length > 0) return left({ path: `config.cost.${c.problems[0].path}`, expected: c.problems[0].message, found: JSON.stringify(config.cost) });
  return right({ caps, tlb: t.config, cost: c.cost });
};

/** A native (bare-metal) guest: IA-32e paging with its root table at 16 MiB, CPL 0 for instructions. */
export const nativeGuest = (config: Config): GuestCpu => ({
  cr0: 0x8005_0033n, cr2: 0n, cr3: BigInt(GUEST_TABLES_BASE),
  cr4: (1n << 5n) | (1n << 7n) | (1n << 9n) | (1n << 10n) | (1n << 18n) | (config.guest.levels === 5 ? 1n << 12n : 0n),
  cr8: 0n, efer: 0xd01n, rip: 0x40_0000n, rflags: 0x202n, activity: 0, pmlIndex: 0,
});

export const initialMachine = (env: Env, config: Config): Machine => ({
  cpu: initialCpu(env.caps),
  tsc: 0n,
  mmu: Inv.emptyCaches(env.tlb),
  guest: config.mode === 'native' ? nativeGuest(config) : null,
  nonRoot: null,
  pendingRetry: null,
  native: config.mode === 'native',
  guestAlloc: { next: GUEST_TABLES_BASE + PAGE_SIZE },
  guestMsrs: new Map(),
  gprs: { rax: 0n, rcx: 0n },
  hostAlloc: { next: MODEL_MEMORY_BASE },
  // machineWith's key order, savedCr2 included: one object shape for every machine of a run (src/vmx/machine.ts)
  savedCr2: undefined,
});

type StepOut = Either<RunProblem, { machine: Machine; outcome: Outcome }>;

const ok = (machine: Machine, outcome: Outcome): StepOut => right({ machine, outcome });
const fromInstr = (m: Machine, s: Instr.Step): StepOut => {
  let machine = machineWith(m, { cpu: s.cpu });
  if (s.invalidate !== undefined) machine = machineWith(machine, { mmu: Inv.apply(machine.mmu, s.invalidate as Inv.Invalidation) });
  return ok(machine, s.outcome);
};

const writeRevision = (m: Machine, addr: bigint, revision: bigint | undefined): Machine =>
  withMem(m, Phys.write32(m.cpu.mem, Number(addr), Number(revision ?? BigInt(revisionId(m.cpu.caps)))));

const fieldOf = (ref: unknown, path: string): Either<RunProblem, number> => {
  if (typeof ref === 'number') return right(ref);
  const enc = fieldKey(String(ref));
  return enc === undefined ? left({ path, expected: 'a Linux vmcs_field name or an encoding', found: JSON.stringify(ref) }) : right(enc);
};

/** VMLAUNCH / VMRESUME, then the retry of a memory access that exited (SDM: the access is re-executed). */
const enter = (env: Env, m0: Machine, instr: 'vmlaunch' | 'vmresume'): StepOut => {
  const r = vmEntry(m0, instr);
  if (r.outcome.result !== 'entered' || r.machine.nonRoot?.retry == null) return ok(r.machine, r.outcome);
  const retry = r.machine.nonRoot.retry;
  const m1 = machineWith(r.machine, { nonRoot: nonRootWithRetry(r.machine.nonRoot, null) });
  const a = memoryAccess(env, m1, retry);
  return ok(a.machine, a.outcome.result === 'exit' ? a.outcome : { result: 'entered', retried: true });
};

/** The EPT context of the current VMCS, for ept_map / ept_write_entry. */
const eptOf = (m: Machine, path: string): Either<RunProblem, { root: number; levels: 4 | 5 }> => {
  const ctx = eptContextOf(m.cpu.caps, currentFields(m.cpu), 0);
  if (ctx !== null) return right({ root: ctx.root as number, levels: ctx.levels });
  const eptp = vmcsRead(currentFields(m.cpu), F.EPT_POINTER);
  if (eptp !== 0n) return right({ root: Number(eptp & 0x000f_ffff_ffff_f000n), levels: ((eptp >> 3n) & 7n) === 4n ? 5 : 4 });
  return left({ path, expected: 'a current VMCS with an EPT pointer (run "launch" or vmwrite EPT_POINTER first)', found: 'no EPT pointer' });
};

/** The hypervisor writes the guest's page tables (root mode): table pages get EPT mappings as needed. */
const hypervisorGuestEdit = (m0: Machine, ev: Extract<GuestEvent, { op: 'guest_map' | 'guest_unmap' }>): Machine => {
  const f = currentFields(m0.cpu);
  const ept = eptContextOf(m0.cpu.caps, f, 0);
  const cr3 = Number(vmcsRead(f, F.GUEST_CR3) & 0x000f_ffff_ffff_f000n) || GUEST_TABLES_BASE;
  const la57 = ((vmcsRead(f, F.GUEST_CR4) >> 12n) & 1n) === 1n;
  const hpaOf = (s: Machine, gpa: number): { s: Machine; hpa: number } => {
    if (ept === null) return { s, hpa: gpa };
    const r = eptTranslate(s.cpu.mem, ept, gpa, { kind: 'write', user: false, pagingStructure: false });
    if (r._tag === 'ok') return { s, hpa: r.hpa as number };
    // a fresh host frame for the table page, then its EPT mapping (intermediate EPT tables come after it)
    const frame = s.hostAlloc.next;
    const mapped = EptBuild.eptMap(s.cpu.mem, { next: frame + PAGE_SIZE }, ept.root as number, ept.levels, gpa, frame, '4K', { r: true, w: true, x: true });
    return { s: { ...s, cpu: { ...s.cpu, mem: mapped.mem }, hostAlloc: mapped.alloc }, hpa: frame + (gpa % PAGE_SIZE) };
  };
  const io: GuestBuild.GuestPhysIo<Machine> = {
    read: (s, gpa) => {
      if (ept === null) return { lo: Phys.read64Lo(s.cpu.mem, gpa), hi: Phys.read64Hi(s.cpu.mem, gpa) };
      const r = eptTranslate(s.cpu.mem, ept, gpa, { kind: 'read', user: false, pagingStructure: false });
      return r._tag === 'ok' ? { lo: Phys.read64Lo(s.cpu.mem, r.hpa as number), hi: Phys.read64Hi(s.cpu.mem, r.hpa as number) } : { lo: 0, hi: 0 };
    },
    write: (s, gpa, lo, hi) => {
      const t = hpaOf(s, gpa);
      return { ...t.s, cpu: { ...t.s.cpu, mem: Phys.write64Parts(t.s.cpu.mem, t.hpa, lo, hi) } };
    },
  };
  if (ev.op === 'guest_map') {
    const r = GuestBuild.guestMap(io, m0, m0.guestAlloc, cr3, la57 ? 5 : 4, ev.gva as number, ev.gpa as number, ev.size, GuestBuild.parseGuestFlags(ev.flags));
    return machineWith(r.state, { guestAlloc: r.alloc });
  }
  return GuestBuild.guestUnmap(io, m0, cr3, la57 ? 5 : 4, ev.gva as number).state;
};

/** `launch`: VMXON, VMCLEAR, VMPTRLD, the VMCS program of the config, VMLAUNCH. */
const launch = (env: Env, config: Config, m0: Machine, args: Readonly<Record<string, unknown>>, path: string): StepOut => {
  const vmxonAddr = (args.vmxon as bigint | undefined) ?? 0x1000n;
  const vmcsAddr = (args.vmcs as bigint | undefined) ?? 0x2000n;
  const p = buildProgram(config, m0.cpu.mem);
  if (isLeft(p)) return left({ ...p.left, path: p.left.path });
  let m = machineWith(m0, {
    cpu: cpuWith(m0.cpu, { mem: p.right.mem }), hostAlloc: { next: Math.max(m0.hostAlloc.next, p.right.hostAlloc.next) }, guestAlloc: p.right.guestAlloc,
  });
  const steps: ((x: Machine) => Instr.Step)[] = [
    (x) => Instr.vmxon(x.cpu, vmxonAddr),
    (x) => Instr.vmclear(x.cpu, vmcsAddr),
    (x) => Instr.vmptrld(x.cpu, vmcsAddr),
    ...p.right.writes.map(([enc, v]) => (x: Machine) => Instr.vmwrite(x.cpu, enc, v)),
  ];
  m = writeRevision(m, vmxonAddr, undefined);
  m = writeRevision(m, vmcsAddr, undefined);
  for (const s of steps) {
    const r = s(m);
    if (r.outcome.result !== 'VMsucceed') return ok(machineWith(m, { cpu: r.cpu }), r.outcome);
    m = machineWith(m, { cpu: r.cpu });
  }
  void path;
  // ept.backing: identity maps all guest memory GPA = HPA before launch; prefault maps it to fresh host frames
  const root = p.right.eptRoot;
  if (root !== null && config.ept.backing !== 'demand') {
    const bytes = config.guest.memoryMiB * 1024 * 1024;
    const size = config.ept.pageSize;
    if (config.ept.backing === 'identity') {
      const r = EptBuild.eptIdentity(m.cpu.mem, m.hostAlloc, root, config.ept.levels, bytes, size);
      m = machineWith(m, { cpu: cpuWith(m.cpu, { mem: r.mem }), hostAlloc: r.alloc });
    } else {
      const step = EptBuild.pageBytes(size);
      let mem = m.cpu.mem;
      let alloc = m.hostAlloc;
      // guest memory frames come after the table frames: reserve them first, aligned to the page size
      let frame = Math.ceil((alloc.next + 64 * PAGE_SIZE) / step) * step;
      for (let g = 0; g < bytes; g += step) {
        const r = EptBuild.eptMap(mem, alloc, root, config.ept.levels, g, frame, size, { r: true, w: true, x: true });
        mem = r.mem; alloc = r.alloc; frame += step;
      }
      m = machineWith(m, { cpu: cpuWith(m.cpu, { mem }), hostAlloc: { next: Math.max(alloc.next, frame) } });
    }
  }
  return enter(env, m, 'vmlaunch');
};

/** The managed hypervisor's launch of the config's guest (the replay engine starts every trace with it). */
export const launchMachine = (env: Env, config: Config, m: Machine): StepOut => launch(env, config, m, {}, 'config');

const rootStep = (env: Env, config: Config, m: Machine, s: RootStep, path: string): StepOut => {
  const a = s.args;
  switch (s.op) {
    case 'vmxon': return fromInstr(m, Instr.vmxon(writeRevision(m, a.addr as bigint, a.revision as bigint | undefined).cpu, a.addr as bigint));
    case 'vmxoff': return fromInstr(m, Instr.vmxoff(m.cpu));
    case 'vmclear': return fromInstr(m, Instr.vmclear(m.cpu, a.addr as bigint));
    case 'vmptrld': return fromInstr(m, Instr.vmptrld(writeRevision(m, a.addr as bigint, a.revision as bigint | undefined).cpu, a.addr as bigint));
    case 'vmptrst': return fromInstr(m, Instr.vmptrst(m.cpu));
    case 'vmread': {
      const f = fieldOf(a.field, `${path}.field`);
      return isLeft(f) ? f : fromInstr(m, Instr.vmread(m.cpu, f.right));
    }
    case 'vmwrite': {
      const f = fieldOf(a.field, `${path}.field`);
      return isLeft(f) ? f : fromInstr(m, Instr.vmwrite(m.cpu, f.right, a.value as bigint));
    }
    case 'vmlaunch': case 'vmresume':
      return enter(env, machineWith(m, { cpu: Instr.withMovSsBlocking(m.cpu, a.blockedByMovSs === true) }), s.op);
    case 'invept': return fromInstr(m, Instr.invept(m.cpu, a.type as number, a.eptp as bigint));
    case 'invvpid': return fromInstr(m, Instr.invvpid(m.cpu, a.type as number, a.vpid as bigint, (a.gva as bigint | undefined) ?? 0n));
    case 'ept_map': {
      const e = eptOf(m, path);
      if (isLeft(e)) return e;
      const r = EptBuild.eptMap(m.cpu.mem, m.hostAlloc, e.right.root, e.right.levels, Number(a.gpa), Number(a.hpa),
        (a.size as '4K' | '2M' | '1G' | undefined) ?? '4K', EptBuild.parsePerm((a.perm as string | undefined) ?? 'rwx'), (a.memtype as number | undefined) ?? 6);
      return ok(machineWith(m, { cpu: cpuWith(m.cpu, { mem: r.mem }), hostAlloc: r.alloc }), { result: 'VMsucceed' });
    }
    case 'ept_write_entry': {
      const e = eptOf(m, path);
      if (isLeft(e)) return e;
      const r = EptBuild.eptWriteEntry(m.cpu.mem, e.right.root, e.right.levels, Number(a.gpa), a.level as number, a.value as bigint, m.hostAlloc);
      if (r === undefined) return left({ path: `${path}.level`, expected: 'a level whose upper tables exist', found: String(a.level) });
      return ok(machineWith(m, { cpu: cpuWith(m.cpu, { mem: r.mem }), hostAlloc: r.alloc ?? m.hostAlloc }), { result: 'VMsucceed' });
    }
    case 'write_phys':
      return ok(withMem(m, Phys.writeN(m.cpu.mem, Number(a.hpa), a.value as bigint, (a.size as number | undefined) ?? 8)), { result: 'VMsucceed' });
    case 'launch':
      return launch(env, config, m, a, path);
    default: {
      const never: never = s.op;
      throw new Error(`unhandled root op ${String(never)}`);
    }
  }
};

/** Runs every step; a step that cannot run at all (a guest event in root mode, a bad field name) is a problem. */
export const runScenario = (s: Scenario<GuestEvent>): Either<RunProblem, { records: StepRecord[]; machine: Machine; env: Env }> => {
  const e = envOf(s.config);
  if (isLeft(e)) return e;
  const env = e.right;
  let m = initialMachine(env, s.config);
  const records: StepRecord[] = [];
  for (let i = 0; i < s.steps.length; i++) {
    const step: Step<GuestEvent> = s.steps[i];
    const path = `steps[${i}]`;
    let r: StepOut;
    if (step.kind === 'root') {
      if (m.native) return left({ path: `${path}.op`, expected: 'a guest event (the config says mode "native": there is no VMX)', found: JSON.stringify(step.op) });
      if (m.cpu.vmx === 'non-root') return left({ path: `${path}.op`, expected: 'a guest event (the guest is running; root-mode operations come after a VM exit)', found: JSON.stringify(step.op) });
      r = rootStep(env, s.config, m, step, path);
    } else if (m.cpu.vmx === 'non-root' || m.native) {
      const g = guestStep(env, m, step.event);
      r = right({ machine: g.machine, outcome: g.outcome });
    } else if (step.event.op === 'vmcall') {
      r = fromInstr(m, Instr.vmcall(m.cpu));
    } else if (step.event.op === 'guest_map' || step.event.op === 'guest_unmap') {
      r = right({ machine: hypervisorGuestEdit(m, step.event), outcome: { result: 'VMsucceed' } });
    } else {
      return left({ path: `${path}.op`, expected: 'a root-mode operation (the processor is in VMX root operation: a guest event needs a successful VM entry first)', found: JSON.stringify(step.op) });
    }
    if (isLeft(r)) return r;
    m = r.right.machine;
    records.push({ index: i, op: step.op, outcome: r.right.outcome });
  }
  return right({ records, machine: m, env });
};

export const parseScenario = (u: unknown): Either<DecodeFailure, Scenario<GuestEvent>> => decodeScenario(u, decodeGuestEvent);

/** The exit object of interface §4 (JSON-ready: hex strings for 64-bit values). */
export const exitJson = (x: ExitRecord): Record<string, unknown> => ({
  reason: x.reason,
  name: exitName(x.reason),
  qualification: hex(x.qualification),
  ...(x.guestLinear !== undefined ? { guestLinear: hex(x.guestLinear) } : {}),
  ...(x.guestPhysical !== undefined ? { guestPhysical: hex(x.guestPhysical) } : {}),
  ...(x.instructionLength !== undefined ? { instructionLength: x.instructionLength } : {}),
  ...(x.interruptionInfo !== undefined ? { interruptionInfo: hex(x.interruptionInfo) } : {}),
  ...(x.interruptionErrorCode !== undefined ? { interruptionErrorCode: hex(x.interruptionErrorCode) } : {}),
  ...(x.failedEntry ? { failedEntry: true } : {}),
});

export const outcomeJson = (o: Outcome): Record<string, unknown> => {
  switch (o.result) {
    case 'VMsucceed': return o.value !== undefined ? { result: o.result, value: hex(o.value) } : { result: o.result };
    case 'VMfailInvalid': return { result: o.result };
    case 'VMfailValid': return { result: o.result, error: o.error };
    case 'entered': return o.retried === true ? { result: o.result, retried: true } : { result: o.result };
    case 'exit': return { result: o.result, exit: exitJson(o.exit) };
    case 'passthrough': return { result: o.result, ...(o.value !== undefined ? { value: hex(o.value) } : {}), ...(o.aux !== undefined ? { aux: hex(o.aux) } : {}) };
    case 'fault': return { result: o.result, vector: o.vector, ...(o.errorCode !== undefined ? { errorCode: o.errorCode } : {}) };
    default: { const never: never = o; throw new Error(`bad outcome ${JSON.stringify(never)}`); }
  }
};

export type { Gva };
