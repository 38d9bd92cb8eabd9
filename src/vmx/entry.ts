/**
 * VM entry (VMLAUNCH / VMRESUME) from root operation: the basic checks, the control/host/guest/MSR-load checks, then
 * loading guest state and starting the guest.
 *
 * Models: SDM Vol. 3C "VM Entries": "Basic VM-Entry Checks" (src/vmx/instructions.ts), "Checks on VMX Controls and
 * Host-State Area" and "Checking and Loading Guest State" (src/vmx/entryChecks.ts), "Loading MSRs", "Event Injection",
 * "VMX-Preemption Timer" (a value of 0 exits before the first guest instruction), and "Caching Translation
 * Information" (with VPID off every VM entry invalidates VPID-0 linear and combined mappings).
 * Leaves out: loading MSR values from the VM-entry MSR-load list into the model (the list is checked, and IA32_TSC_AUX
 * is the only MSR the guest model reads back), and injection of events into a guest IDT (an injected event is
 * reported in the outcome; the guest model has no IDT).
 */
import * as Phys from '../arch/phys';
import { adopt, owned } from '../arch/transient';
import { bigOf, isBitSet as bit, smallNumberOf, type Hpa } from '../arch/addr';
import * as Inv from '../mmu/invalidate';
import type { Walk2dConfig } from '../mmu/walk2d';
import type { GuestPagingConfig } from '../guest/paging';
import type { EptContext } from '../ept/walk';
import { eptVpidCapBit, type Caps } from './caps';
import { changedFields, cpuWith, currentFields, emptyFields, groupStamp, isWatched, sameStamps, vmcsRead, watchFields, withCurrentFields, type Cpu, type VmcsFields } from './cpu';
import { controlMask } from './controls';
import { entryRunBounds, firstEntryFailureCached, newRunBounds, type EntryContext, type RunBounds } from './entryChecks';
import { CONTROL_FIELDS, controlsWithMem, fromVmcs, type ExecControls } from './exitConditions';
import { F } from './fields';
import { markLaunched, vmentryPreconditions, vmFail } from './instructions';
import { applyExitRun, batchApply, batchPut, beginQuickExit, noteGuestLoaded, quickExitReady, vmExit, type ExitCause } from './exit';
import { TIMER_EXIT } from './preemptionTimer';
import { machineAfterExit, machineOf, machineWith, type GuestCpu, type Machine, type NonRoot, type Outcome, type StepResult } from './machine';

const U64 = 0xffff_ffff_ffff_ffffn;

const frameMask = (maxPhyAddr: number): bigint => ((1n << BigInt(maxPhyAddr)) - 1n) & ~0xfffn;

// The control bits read on every VM exit and entry, as masks made once (`isSet` looks a name up in the layout's table:
// a generic keyed load per call)
const ACTIVATE_SECONDARY = controlMask('primary', 'activate-secondary-controls');
const ENABLE_EPT = controlMask('secondary', 'enable-ept');
const ENABLE_PML = controlMask('secondary', 'enable-pml');
const MBEC = controlMask('secondary', 'mode-based-execute-control-for-ept');

/** Secondary controls as the processor sees them: 0 unless "activate secondary controls" (SDM). */
const secondaryOf = (f: VmcsFields): bigint =>
  (vmcsRead(f, F.CPU_BASED_VM_EXEC_CONTROL) & ACTIVATE_SECONDARY) !== 0n ? vmcsRead(f, F.SECONDARY_VM_EXEC_CONTROL) : 0n;

/** The last `eptRoot` answer, for the EPTP and MAXPHYADDR it was made from. */
let lastRoot: { readonly eptp: bigint; readonly maxPhyAddr: number; readonly root: number; readonly levels: 4 | 5 } | null = null;

/**
 * The root HPA (EPTP bits N-1:12) and the walk length (bits 5:3, plus one: 4 or 5) an EPTP names, one shared answer
 * while the EPTP and MAXPHYADDR stay the same.
 */
const eptRoot = (eptp: bigint, maxPhyAddr: number): { readonly root: number; readonly levels: 4 | 5 } => {
  const l = lastRoot;
  if (l !== null && l.eptp === eptp && l.maxPhyAddr === maxPhyAddr) return l;
  const r = {
    eptp, maxPhyAddr, root: Number(eptp & frameMask(maxPhyAddr)),
    levels: (Number((eptp >> 3n) & 7n) + 1) === 5 ? 5 as const : 4 as const,
  };
  lastRoot = r;
  return r;
};

/**
 * The EPT root HPA and level count under `f` (`eptContextOf`'s `root` and `levels`), or null when EPT is off: what an
 * EPT-violation handler that maps a page needs, without the rest of the context.
 */
export const eptRootOf = (caps: Caps, f: VmcsFields): { readonly root: number; readonly levels: 4 | 5 } | null =>
  (secondaryOf(f) & ENABLE_EPT) !== 0n ? eptRoot(vmcsRead(f, F.EPT_POINTER), caps.maxPhyAddr) : null;

/** The EPT context of a VMCS, or null when EPT is not in use. */
export const eptContextOf = (caps: Caps, f: VmcsFields, pmlIndex: number): EptContext | null => {
  const sec = secondaryOf(f);
  if ((sec & ENABLE_EPT) === 0n) return null;
  const eptp = vmcsRead(f, F.EPT_POINTER);
  const pml = (sec & ENABLE_PML) !== 0n
    ? { pml: { address: Number(vmcsRead(f, F.PML_ADDRESS) & frameMask(caps.maxPhyAddr)) as Hpa, index: pmlIndex } }
    : {};
  const { root, levels } = eptRoot(eptp, caps.maxPhyAddr);
  return {
    root: root as EptContext['root'],
    levels,
    ad: bit(eptp, 6),
    mbec: (sec & MBEC) !== 0n,
    executeOnly: eptVpidCapBit(caps, 0),
    pages1G: eptVpidCapBit(caps, 17),
    pages2M: eptVpidCapBit(caps, 16),
    maxPhyAddr: caps.maxPhyAddr,
    ...pml,
  };
};

// The last `guestPagingOf` answer and the MAXPHYADDR and registers it was made from (a memo of one: the answer is
// immutable, so it is shared while they stay the same). Every guest_map and every new access context asks, with the
// same registers again and again; decoding them made a handful of bigints per call.
let pagingMaxPhyAddr = -1;
let pagingCr0 = -1n;
let pagingCr3 = -1n;
let pagingCr4 = -1n;
let pagingEfer = -1n;
let lastPaging: GuestPagingConfig | null = null;

/** Guest paging as CR0/CR3/CR4/EFER say (IA-32e paging when CR0.PG = 1; the model has no 32-bit or PAE guests). */
export const guestPagingOf = (caps: Caps, g: GuestCpu): GuestPagingConfig | null => {
  if (caps.maxPhyAddr === pagingMaxPhyAddr && g.cr0 === pagingCr0 && g.cr3 === pagingCr3 && g.cr4 === pagingCr4 && g.efer === pagingEfer) {
    return lastPaging;
  }
  const p = decodePaging(caps, g);
  pagingMaxPhyAddr = caps.maxPhyAddr;
  pagingCr0 = g.cr0;
  pagingCr3 = g.cr3;
  pagingCr4 = g.cr4;
  pagingEfer = g.efer;
  lastPaging = p;
  return p;
};

const decodePaging = (caps: Caps, g: GuestCpu): GuestPagingConfig | null =>
  bit(g.cr0, 31)
    ? {
        cr3: Number(g.cr3 & frameMask(caps.maxPhyAddr)) as GuestPagingConfig['cr3'],
        la57: bit(g.cr4, 12),
        nxe: bit(g.efer, 11),
        wp: bit(g.cr0, 16),
        smep: bit(g.cr4, 20),
        maxPhyAddr: caps.maxPhyAddr,
      }
    : null;

export const walkConfigOf = (caps: Caps, f: VmcsFields, g: GuestCpu): Walk2dConfig => ({
  guest: guestPagingOf(caps, g),
  ept: eptContextOf(caps, f, g.pmlIndex),
  advancedInfo: eptVpidCapBit(caps, 22),
});

/** SDM "Loading Guest State": the registers the model keeps, from the guest-state area; CR2 is the VMM's saved value
 * (the VMCS has no CR2 field). */
const loadGuest = (f: VmcsFields, cr2: bigint): GuestCpu => {
  // each field read once: its value, and whether it was present (a missing field reads 0)
  const cr0 = f.get(F.GUEST_CR0), cr3 = f.get(F.GUEST_CR3), cr4 = f.get(F.GUEST_CR4), efer = f.get(F.GUEST_IA32_EFER);
  const rip = f.get(F.GUEST_RIP), rflags = f.get(F.GUEST_RFLAGS), activity = f.get(F.GUEST_ACTIVITY_STATE);
  const pml = f.get(F.GUEST_PML_INDEX);
  const g: GuestCpu = {
    cr0: cr0 ?? 0n,
    cr2,
    cr3: cr3 ?? 0n,
    cr4: cr4 ?? 0n,
    cr8: 0n,
    efer: efer ?? 0n,
    rip: rip ?? 0n,
    rflags: rflags ?? 0n,
    activity: activity === undefined ? 0 : Number(activity),
    pmlIndex: pml === undefined ? 0 : Number(pml),
  };
  // complete: every field loadGuest reads that a VM exit saves back was present (src/vmx/exit.ts noteGuestLoaded)
  const complete = cr0 !== undefined && cr3 !== undefined && cr4 !== undefined && efer !== undefined && rip !== undefined
    && rflags !== undefined && activity !== undefined && pml !== undefined;
  noteGuestLoaded(g, f, complete);
  return g;
};

/** SDM "Loading MSRs": the VM-entry MSR-load list (after the checks passed) into the guest's MSR values. */
const loadEntryMsrs = (mem: Phys.PhysMem, f: VmcsFields, base: ReadonlyMap<number, bigint>): ReadonlyMap<number, bigint> => {
  const c = f.get(F.VM_ENTRY_MSR_LOAD_COUNT);
  // an empty list (the common case) without bigint arithmetic
  if (c === undefined || c === 0n) return base;
  const count = Number(c & 0xffff_ffffn);
  if (count === 0) return base;
  const addr = Number(vmcsRead(f, F.VM_ENTRY_MSR_LOAD_ADDR));
  const out = new Map(base);
  for (let i = 0; i < Math.min(count, 512); i++) out.set(Phys.read32(mem, addr + 16 * i), Phys.read64(mem, addr + 16 * i + 8));
  return out;
};

// What VM entry derives from the VMCS besides the guest registers (the execution controls, the walk configuration,
// the VPID and whether the preemption timer is active) is reused from the last entry while none of the fields it
// reads changed: a cache of one entry, keyed by the caps and by the stamps of the field groups it reads (src/vmx/cpu.ts
// `watchFields`), or, for a field map that is not a store, by the fields that changed. The result is the same value
// `fromVmcs` / `walkConfigOf` / the control decoding would build.

/** The fields `walkConfigOf` reads: the controls that enable EPT/PML, EPTP, the PML address, the paging registers. */
const WALK_FIELDS: readonly number[] = [
  F.CPU_BASED_VM_EXEC_CONTROL, F.SECONDARY_VM_EXEC_CONTROL, F.EPT_POINTER, F.PML_ADDRESS, F.GUEST_PML_INDEX,
  F.GUEST_CR0, F.GUEST_CR3, F.GUEST_CR4, F.GUEST_IA32_EFER,
];
/** The fields the VPID and timer decisions read. */
const MODE_FIELDS: readonly number[] = [
  F.PIN_BASED_VM_EXEC_CONTROL, F.CPU_BASED_VM_EXEC_CONTROL, F.SECONDARY_VM_EXEC_CONTROL, F.VIRTUAL_PROCESSOR_ID,
];
const CONTROL_GROUP = watchFields(CONTROL_FIELDS);
const WALK_GROUP = watchFields(WALK_FIELDS);
const MODE_GROUP = watchFields(MODE_FIELDS);
const CONTROL_READ = new Uint8Array(0x10000);
const WALK_READ = new Uint8Array(0x10000);
const MODE_READ = new Uint8Array(0x10000);
for (const e of CONTROL_FIELDS) CONTROL_READ[e] = 1;
for (const e of WALK_FIELDS) WALK_READ[e] = 1;
for (const e of MODE_FIELDS) MODE_READ[e] = 1;

const ENABLE_VPID = controlMask('secondary', 'enable-vpid');
const TIMER_ON = controlMask('pin', 'activate-vmx-preemption-timer');

/** VPID (0 when "enable VPID" is off) and "activate VMX-preemption timer". */
interface Mode { readonly vpid: number; readonly timerOn: boolean }
const modeOf = (f: VmcsFields): Mode => ({
  vpid: (secondaryOf(f) & ENABLE_VPID) !== 0n ? Number(vmcsRead(f, F.VIRTUAL_PROCESSOR_ID) & 0xffffn) : 0,
  timerOn: (vmcsRead(f, F.PIN_BASED_VM_EXEC_CONTROL) & TIMER_ON) !== 0n,
});

interface Derived {
  readonly caps: Caps;
  /** the fields this was derived from (moved on to a later version with equal stamps when reused) */
  fields: VmcsFields;
  readonly controls: ExecControls;
  readonly walk: Walk2dConfig;
  readonly mode: Mode;
}
let lastDerived: Derived | null = null;

/** The controls, walk configuration and mode of an entry with these fields and this memory and guest. */
const derive = (caps: Caps, f: VmcsFields, mem: Phys.PhysMem, guest: GuestCpu): Derived => {
  const d = lastDerived;
  let controls: ExecControls | undefined;
  let walk: Walk2dConfig | undefined;
  let mode: Mode | undefined;
  if (d !== null && d.caps === caps) {
    let ctl = true, wlk = true, md = true;
    if (d.fields !== f && !sameStamps(d.fields, f)) {
      const c0 = groupStamp(d.fields, CONTROL_GROUP), c1 = groupStamp(f, CONTROL_GROUP);
      if (c0 !== undefined && c1 !== undefined) {
        ctl = c0 === c1;
        wlk = groupStamp(d.fields, WALK_GROUP) === groupStamp(f, WALK_GROUP);
        md = groupStamp(d.fields, MODE_GROUP) === groupStamp(f, MODE_GROUP);
      } else {
        for (const e of changedFields(d.fields, f)) {
          if (e < 0 || e >= 0x10000) { ctl = false; wlk = false; md = false; break; }
          if (CONTROL_READ[e] === 1) ctl = false;
          if (WALK_READ[e] === 1) wlk = false;
          if (MODE_READ[e] === 1) md = false;
        }
      }
    }
    if (ctl) controls = d.controls.mem === mem ? d.controls : controlsWithMem(d.controls, mem);
    if (wlk) walk = d.walk;
    if (md) mode = d.mode;
  }
  if (d !== null && controls === d.controls && walk === d.walk && mode === d.mode) {
    // nothing to decode again: the cache record (never handed out) now stands for these fields
    d.fields = f;
    return d;
  }
  controls ??= fromVmcs(f, mem);
  walk ??= walkConfigOf(caps, f, guest);
  mode ??= modeOf(f);
  const out: Derived = { caps, fields: f, controls, walk, mode };
  lastDerived = out;
  return out;
};

// The non-root state of the last entry: an entry with the same controls, walk configuration and VPID, no timer and
// no access to retry, reuses the object (it is immutable; equal contents, one allocation less per round trip).
let lastNonRoot: NonRoot | null = null;
const nonRootOf = (derived: Derived, vpid: number, timer: NonRoot['timer'], retry: NonRoot['retry']): NonRoot => {
  const l = lastNonRoot;
  if (l !== null && timer === null && retry === null && l.timer === null && l.retry === null && l.controls === derived.controls
    && l.walk === derived.walk && l.vpid === vpid) return l;
  const nr: NonRoot = { controls: derived.controls, walk: derived.walk, vpid, timer, retry };
  lastNonRoot = nr;
  return nr;
};

/** The outcome of an entry that started the guest (immutable, shared). */
const ENTERED: Outcome = { result: 'entered' };

/**
 * VMLAUNCH or VMRESUME. `guestMsrs` carries the guest's MSR values across exits (the VMCS does not hold them all).
 * The result's outcome is VMfailInvalid / VMfailValid / #UD, a failed-entry exit (33, 34), `entered`, or the
 * preemption-timer exit that a zero timer value causes before the first guest instruction.
 */
export const vmEntry = (m: Machine, instr: 'vmlaunch' | 'vmresume'): StepResult => (instr === 'vmresume' ? vmResume(m) : vmLaunch(m));

/**
 * VMRESUME (`vmEntry(m, 'vmresume')`): the replay's entries call it directly. VMLAUNCH is another function: a launch
 * happens once per run, at its start, so in a process's first run its path (markLaunched) ran before VM entry had type
 * feedback, and when it was a branch of the one entry function the launch of every later run deoptimized that
 * function's optimized code, which then ran unoptimized for some thousands of entries (b-random, 262,144 events after
 * an untimed run: the replay's VM entries 1,128 instructions per event, 296 of them unoptimized; split, ~910).
 */
export const vmResume = (m: Machine): StepResult => {
  const pre = vmentryPreconditions(m.cpu, 'vmresume');
  if (pre !== undefined) return { machine: machineWith(m, { cpu: pre.cpu }), outcome: pre.outcome };
  const cpu0 = m.cpu;
  const f = currentFields(cpu0);
  const failure = entryFailure(cpu0, f);
  if (failure !== undefined) return failedEntry(m, cpu0, failure);
  return loadAndEnter(m, cpuWith(cpu0, { vmx: 'non-root' }), f, m.savedCr2, m.guestMsrs, m.mmu, undefined);
};

/** VMLAUNCH: `vmResume` with the launch checks and the launch state set (SDM "VMLAUNCH/VMRESUME"). */
const vmLaunch = (m: Machine): StepResult => {
  const pre = vmentryPreconditions(m.cpu, 'vmlaunch');
  if (pre !== undefined) return { machine: machineWith(m, { cpu: pre.cpu }), outcome: pre.outcome };
  const cpu0 = m.cpu;
  const f = currentFields(cpu0);
  const failure = entryFailure(cpu0, f);
  if (failure !== undefined) return failedEntry(m, cpu0, failure);
  return loadAndEnter(m, cpuWith(markLaunched(cpu0), { vmx: 'non-root' }), f, m.savedCr2, m.guestMsrs, m.mmu, undefined);
};

/** The first failing check of "Checks on VMX Controls and Host-State Area" and "Checking and Loading Guest State". */
const entryFailure = (cpu0: Cpu, f: VmcsFields): ReturnType<typeof firstEntryFailureCached> => firstEntryFailureCached({
  caps: cpu0.caps, fields: f, mem: cpu0.mem, currentVmcs: cpu0.currentVmcs ?? 0, vmxonPtr: cpu0.vmxonPtr ?? 0,
});

/** An entry whose checks failed: VMfailValid, or a failed-entry exit (SDM "VM-Entry Failures During or After Loading
 * Guest State": exit reason with bit 31, host state loaded). */
const failedEntry = (m: Machine, cpu0: Cpu, failure: NonNullable<ReturnType<typeof firstEntryFailureCached>>): StepResult => {
  if (failure.outcome.kind === 'VMfailValid') {
    const s = vmFail(cpu0, failure.outcome.error);
    return { machine: machineWith(m, { cpu: s.cpu }), outcome: s.outcome };
  }
  const r = vmExit(m, { reason: failure.outcome.reason, qualification: failure.outcome.qualification }, true);
  return { machine: r.machine, outcome: { result: 'exit', exit: r.exit } };
};

/**
 * VM entry once its checks passed (SDM "Loading Guest State", "Loading MSRs", the VPID flush, a zero preemption timer):
 * `cpu` is the processor already in non-root operation with the current VMCS's fields `f`; `m` gives the rest of the
 * machine, except for what the caller passes: the VMM's saved CR2 (undefined: none saved), the guest MSR values
 * before the MSR-load list, the caches, the registers (undefined: `m`'s), and the guest state `loadGuest(f, savedCr2)`
 * gives when the caller already has it (`exitAndResume`; it was noted with `noteGuestLoaded`).
 */
const loadAndEnter = (
  m: Machine, cpu: Cpu, f: VmcsFields, savedCr2: bigint | undefined, msrs: ReadonlyMap<number, bigint>, mmu: Machine['mmu'],
  gprs: Machine['gprs'] | undefined, loaded?: GuestCpu,
): StepResult => {
  const guest = loaded ?? loadGuest(f, savedCr2 ?? 0n);
  const guestMsrs = loadEntryMsrs(cpu.mem, f, msrs);
  const derived = derive(cpu.caps, f, cpu.mem, guest);
  const { vpid, timerOn } = derived.mode;
  const timerValue = timerOn ? Number(vmcsRead(f, F.VMX_PREEMPTION_TIMER_VALUE) & 0xffff_ffffn) : 0;
  const nonRoot = nonRootOf(derived, vpid, timerOn ? { value: timerValue, since: m.tsc } : null, m.pendingRetry);
  // machineWith(m, { cpu, guest, nonRoot, pendingRetry: null, guestMsrs, savedCr2, gprs, mmu }) without a patch object
  // (`savedCr2` undefined only from vmEntry, where it is m's own: the machine keeps m's, as machineWith does)
  const entered = machineOf(
    m, cpu, m.tsc, vpid === 0 ? Inv.vmEntryExitFlush(mmu) : mmu, guest, nonRoot, null, m.guestAlloc, guestMsrs, gprs ?? m.gprs,
    m.hostAlloc, savedCr2,
  );
  // SDM "VMX-Preemption Timer": a value of 0 at VM entry exits before the first guest instruction
  if (timerOn && timerValue === 0) {
    const r = vmExit(entered, { reason: TIMER_EXIT.reason, qualification: 0n });
    return { machine: r.machine, outcome: { result: 'exit', exit: r.exit } };
  }
  return { machine: entered, outcome: ENTERED };
};

/** The entry-check context of the fused entry, one object set up for each call (firstEntryFailureCached keeps no
 * reference to it; cleared after the call so that it holds no store or memory alive). */
const CHECK_CTX: { -readonly [K in keyof EntryContext]: EntryContext[K] } = {
  caps: undefined as unknown as Caps, fields: emptyFields, mem: Phys.empty, currentVmcs: 0, vmxonPtr: 0,
};

/** A guest MSR value a VMM keeps (kvm_set_msr after a WRMSR exit). */
export interface MsrWrite { readonly index: number; readonly value: bigint }

/**
 * The guest MSR values with `w` set. A map this transient scope made (src/arch/transient.ts) is set in place: only the
 * machine being threaded through the replay chunk holds it; any other is copied, and the copy is the scope's.
 */
const withMsr = (msrs: Machine['guestMsrs'], w: MsrWrite): Machine['guestMsrs'] => {
  // (the value first, then the compare: a bigint compared with the undefined of a missing MSR, as at the first WRMSR
  // of each run, deoptimized the compare's optimized code in a warm process)
  const cur = msrs.get(w.index);
  if (cur !== undefined && cur === w.value) return msrs;
  if (owned(msrs)) {
    (msrs as Map<number, bigint>).set(w.index, w.value);
    return msrs;
  }
  const out = new Map(msrs);
  out.set(w.index, w.value);
  return adopt(out);
};

/**
 * A VM exit, the VMM's writes to the current VMCS, and VMRESUME as one step, for the exits a VMM handles by emulating
 * the instruction (advancing RIP past it: `advanceRip`), injecting an event at the next entry (`inject`: the VM-entry
 * interruption-information value) and keeping a guest MSR value (`msrWrite`, null: none), with `gprs` the
 * registers the exit leaves (undefined: unchanged). Gives what
 *
 *   x = vmExit(m, cause, false, { pendingRetry: null, gprs }); x.machine with the MSR value set; VMWRITE GUEST_RIP
 *   (GUEST_RIP + VM_EXIT_INSTRUCTION_LEN) when `advanceRip`; VMWRITE VM_ENTRY_INTR_INFO_FIELD `inject` when not
 *   null; vmEntry(..., 'vmresume')
 *
 * gives (the same machine values and entry outcome; the exit record is `exitRecord(cause, false, m.guest, m.tsc)`),
 * without the machines in between: one batch of field writes, one Cpu and one Machine; when the entry checks fail,
 * the machine in root operation that the VMM's writes leave goes to `vmEntry`. Returns undefined, having changed
 * nothing, when the exit would save guest
 * state, the timer or MSRs (`beginQuickExit`), when a memory access waits for its retry, or when VMRESUME would fail
 * before its checks (SDM "Basic VM-Entry Checks"): take the general path then. tests/replay/quickExit.test.ts
 * compares the two.
 */
export const exitAndResume = (
  m: Machine, c: ExitCause, gprs: Machine['gprs'] | undefined, advanceRip: boolean, inject: bigint | null,
  msrWrite: MsrWrite | null,
): StepResult | undefined => {
  const g = m.guest;
  const nr = m.nonRoot;
  const cpu0 = m.cpu;
  if (g === null || nr === null || m.native || nr.retry !== null || m.pendingRetry !== null) return undefined;
  if (cpu0.vmx !== 'non-root' || cpu0.currentVmcs === null || cpu0.blockingByMovSs) return undefined;
  // what vmentryPreconditions asks of the VMCS for VMRESUME (the exit changes neither the launch state nor the pointer)
  const st = cpu0.vmcs.get(cpu0.currentVmcs);
  if (st === undefined || st.launch !== 'launched' || st.corrupted === true) return undefined;
  if (advanceRip && c.instructionLength === undefined) return undefined;
  const f = st.fields;
  if (!beginQuickExit(m, f, c)) return undefined;
  // skip_emulated_instruction: GUEST_RIP (the guest's RIP: the exit saved nothing new) + the length just recorded
  let rip = g.rip;
  if (advanceRip) {
    const r = g.rip + bigOf(c.instructionLength!);
    rip = r > U64 ? r & U64 : r;
    batchPut(F.GUEST_RIP, rip);
  }
  if (inject !== null) batchPut(F.VM_ENTRY_INTR_INFO_FIELD, inject);
  // from here on `m` is superseded (inside a transient scope the field array may be written in place)
  const f1 = batchApply(f);
  // SDM "Caching Translation Information": with VPID off the exit flushes VPID-0 mappings (and the entry again)
  const mmu = nr.vpid === 0 ? Inv.vmEntryExitFlush(m.mmu) : m.mmu;
  const msrs = msrWrite === null ? m.guestMsrs : withMsr(m.guestMsrs, msrWrite);
  const ctx = CHECK_CTX;
  ctx.caps = cpu0.caps; ctx.fields = f1; ctx.mem = cpu0.mem; ctx.currentVmcs = cpu0.currentVmcs; ctx.vmxonPtr = cpu0.vmxonPtr ?? 0;
  const failure = firstEntryFailureCached(ctx);
  ctx.fields = emptyFields;
  ctx.mem = Phys.empty;
  if (failure !== undefined) {
    const cpu = withCurrentFields(cpu0, f1, { mem: cpu0.mem, vmx: 'root' });
    return vmEntry(machineWith(m, { cpu, guest: null, nonRoot: null, savedCr2: g.cr2, mmu, pendingRetry: null, guestMsrs: msrs, gprs }), 'vmresume');
  }
  // SDM "Loading Guest State" from f1: the fields hold what `g` was loaded from (the exit saved nothing: see
  // beginQuickExit), but RIP (`rip`: a natural-width field keeps the 64-bit value as written); loadGuest would build a
  // copy of `g` with the new RIP (CR8 reads 0 in both: a guest whose CR8 changed is not the one loaded)
  // (RIP moved exactly when it was advanced by a length other than 0: the sum is below 2^64 + 2^32)
  const guest: GuestCpu = !advanceRip || c.instructionLength === 0 ? g : {
    cr0: g.cr0, cr2: g.cr2, cr3: g.cr3, cr4: g.cr4, cr8: g.cr8, efer: g.efer, rip, rflags: g.rflags, activity: g.activity, pmlIndex: g.pmlIndex,
  };
  noteGuestLoaded(guest, f1, true);
  const cpu = withCurrentFields(cpu0, f1);
  // the writes changed no watched field (no control, walk, VPID/timer or other field a check reads: the batch wrote
  // exit information, RIP and the injection field), and `nr` was loaded from `f`: the entry would derive the same
  // controls (for this memory), walk configuration and VPID, and no timer (nr.timer is null), so it would reuse `nr`
  // (nonRootOf); only the MSR-load list is read again
  if (sameStamps(f, f1) && nr.controls.mem === cpu0.mem && nr.timer === null && nr.retry === null) {
    const loaded = loadEntryMsrs(cpu0.mem, f1, msrs);
    return {
      machine: machineAfterExit(m, cpu, nr.vpid === 0 ? Inv.vmEntryExitFlush(mmu) : mmu, guest, nr, loaded, gprs, g.cr2),
      outcome: ENTERED,
    };
  }
  return loadAndEnter(m, cpu, f1, g.cr2, msrs, mmu, gprs, guest);
};
// ---------------------------------------------------------------------------------------------------------------
// A run of fused round trips: consecutive exits that `exitAndResume` would each take through its shortest path (the
// exit saves nothing, the VMM only advances RIP, injects an event or keeps an MSR value, the entry passes and derives
// what the last one derived), kept as the values they change and applied to the machine once, when the run ends.
// Between the exits of a run nothing reads the machine but the exit decisions, which read what the run leaves as it
// was (the controls, CR4, the exit controls) and the registers (kept by the run): so the machine at the end is the one
// the exits taken one by one would leave, without the field stores, Cpus, guests and machines in between.

const VALID = 0x8000_0000;
/** the exit-information fields an exit of a run writes (besides GUEST_RIP and the VM-entry interruption information) */
const RUN_INFO_FIELDS: readonly number[] = [
  F.VM_EXIT_REASON, F.IDT_VECTORING_INFO_FIELD, F.EXIT_QUALIFICATION, F.VM_EXIT_INTR_INFO, F.VM_EXIT_INSTRUCTION_LEN,
];
/** A run writes no field of a watched group (src/vmx/cpu.ts `watchFields`): so the entries keep the stamps, and with
 * them the controls, walk configuration and VPID of the last entry (the fast path of `exitAndResume`). */
const runWritesUnwatched = (): boolean =>
  !isWatched(F.GUEST_RIP) && !isWatched(F.VM_ENTRY_INTR_INFO_FIELD) && RUN_INFO_FIELDS.every((e) => !isWatched(e));
/** false when a field a run writes is watched (then no run starts). Every group is declared by now: this module's
 * above, and those of the modules it imports (entryChecks.ts, exit.ts), which ran first. */
const RUNS_ALLOWED = runWritesUnwatched();

/** A run of fused round trips (see `runExit`): one per replay chunk, reused from run to run. While `exits` > 0 the
 * machine the run started from is superseded: the run's values stand for it (`gprs`: the registers it leaves). */
export interface QuickRun {
  readonly exits: number;
  readonly gprs: Machine['gprs'];
}

/** A run's state (the object behind QuickRun). */
interface RunState {
  exits: number;
  /** the machine the run started from (null: no run) and its current VMCS fields (those the last entry loaded) */
  machine: Machine | null;
  fields: VmcsFields;
  /** the registers, guest MSR values, guest RIP (`ripBase`, the RIP the run started from, + `ripOff`) and VM-entry
   * interruption-information field (-1: not present; the field is 32 bits wide) the exits so far leave: RIP and the
   * field as numbers, made bigints when the run ends (with the bigints, each exit's sum, wrap test, valid-bit
   * clear and entry-memo compares made runExit 341 instructions per event of the exit mix, ~680 an exit; as numbers
   * 124, plus entryRunBounds' 48 at the runs' first exits) */
  gprs: Machine['gprs'];
  msrs: Machine['guestMsrs'];
  ripBase: bigint;
  ripOff: number;
  entryInfo: number;
  /** the last exit's reason, qualification and interruption information; the last instruction length recorded (-1:
   * none in the run) */
  reason: number;
  qualification: bigint;
  info: number | undefined;
  len: number;
  /** the entry-check context of the run's entries (the fields the run started from) */
  readonly ctx: { -readonly [K in keyof EntryContext]: EntryContext[K] };
  /** what the entry-check memo says of the run's entries (`entryRunBounds`, asked at its first exit) */
  readonly bounds: RunBounds;
}

const EMPTY_MSRS: Machine['guestMsrs'] = new Map();
const NO_GPRS: Machine['gprs'] = { rax: 0n, rcx: 0n };

/** An empty run. */
export const newQuickRun = (): QuickRun => {
  const r: RunState = {
    exits: 0, machine: null, fields: emptyFields, gprs: NO_GPRS, msrs: EMPTY_MSRS, ripBase: 0n, ripOff: 0, entryInfo: -1,
    reason: 0, qualification: 0n, info: undefined, len: -1,
    ctx: { caps: undefined as unknown as Caps, fields: emptyFields, mem: Phys.empty, currentVmcs: 0, vmxonPtr: 0 },
    bounds: newRunBounds(),
  };
  return r;
};

/**
 * True when a run of fused round trips can start from `m`: the guest runs in VMX non-root operation with a launched,
 * current VMCS, VPID on (an exit and an entry with VPID off flush the caches), no access waiting for its retry, no
 * preemption timer, empty MSR-store and MSR-load lists, and an exit would save nothing (`quickExitReady`).
 */
export const runCanStart = (m: Machine): boolean => {
  const g = m.guest;
  const nr = m.nonRoot;
  const cpu = m.cpu;
  if (g === null || nr === null || m.native || nr.retry !== null || m.pendingRetry !== null || nr.timer !== null || nr.vpid === 0) return false;
  if (cpu.vmx !== 'non-root' || cpu.currentVmcs === null || cpu.blockingByMovSs || nr.controls.mem !== cpu.mem) return false;
  const st = cpu.vmcs.get(cpu.currentVmcs);
  if (st === undefined || st.launch !== 'launched' || st.corrupted === true) return false;
  const loadCount = st.fields.get(F.VM_ENTRY_MSR_LOAD_COUNT);
  if (loadCount !== undefined && (loadCount & 0xffff_ffffn) !== 0n) return false;
  return RUNS_ALLOWED && quickExitReady(m, st.fields);
};

/**
 * One more exit in `run`, from the machine the run stands for (`m` when the run is empty: it starts from `m`, which
 * `runCanStart` must have accepted): what `exitAndResume(m, c, gprs, advanceRip, inject, msrWrite)` would do when it
 * takes its shortest path (the entry passes, answered from the entry-check memo by `entryRunBounds`, and reuses the
 * non-root state), kept in the run; `inject`: the injection as a number, -1 for none (hypervisor.ts
 * `QuickHandling.injectInfo`). False, having changed nothing, when it would not (an exit with a linear or guest-physical
 * address or an error code, an injection beyond 32 bits, an entry the memo cannot answer, RIP past the offsets the
 * memo answers for: then it may also be an entry that passes): end the run (`endRun`) and take `exitAndResume` for the
 * exit.
 */
export const runExit = (
  run: QuickRun, m: Machine, c: ExitCause, gprs: Machine['gprs'] | undefined, advanceRip: boolean, inject: number,
  msrWrite: MsrWrite | null,
): boolean => {
  if (c.guestLinear !== undefined || c.guestPhysical !== undefined || c.interruptionErrorCode !== undefined) return false;
  const len = c.instructionLength;
  // (a length that is not a small integer: the general path, which adds it as a bigint)
  if (advanceRip && (len === undefined || !(len >= 0 && (len | 0) === len))) return false;
  if (inject < -1) return false;
  const r = run as RunState;
  const bounds = r.bounds;
  if (r.exits === 0) {
    const cpu = m.cpu;
    const f = cpu.vmcs.get(cpu.currentVmcs!)!.fields;
    const ctx = r.ctx;
    ctx.caps = cpu.caps; ctx.fields = f; ctx.mem = cpu.mem; ctx.currentVmcs = cpu.currentVmcs!; ctx.vmxonPtr = cpu.vmxonPtr ?? 0;
    // (declined as the run's first exit, the run stays empty: what it noted is not read, and goes with the chunk's run)
    // (whether a check reads an exit-information field is asked at the run's first exit only: no entry is checked by
    // the memo while the run is open, so its readers stay as they were)
    if (!entryRunBounds(ctx, RUN_INFO_FIELDS, m.guest!.rip, bounds)) return false;
    r.machine = m;
    r.fields = f;
    r.gprs = m.gprs;
    r.msrs = m.guestMsrs;
    r.ripBase = m.guest!.rip;
    r.ripOff = 0;
    // (the field is 32 bits wide: a value that is not is left to the general path)
    const held = f.get(F.VM_ENTRY_INTR_INFO_FIELD);
    if (held !== undefined && !(held >= 0n && held <= 0xffff_ffffn)) return false;
    r.entryInfo = held === undefined ? -1 : smallNumberOf(held);
    r.len = -1;
  }
  // SDM "Updating VM-Entry Control Fields": the exit clears the valid bit of the injection field; then the VMM's
  // writes: the event to inject, RIP past the instruction (skip_emulated_instruction)
  const held = r.entryInfo;
  const entryInfo = inject >= 0 ? inject : held < 0 ? 0 : held >= VALID ? held - VALID : held;
  const off = advanceRip ? r.ripOff + len! : r.ripOff;
  if (!(off <= bounds.ripMax || off === bounds.ripHot)) return false;
  if (!injPasses(bounds, entryInfo)) return false;
  r.exits++;
  r.entryInfo = entryInfo;
  r.ripOff = off;
  r.reason = c.reason;
  r.qualification = c.qualification;
  r.info = c.interruptionInfo;
  if (len !== undefined) r.len = len;
  if (gprs !== undefined) r.gprs = gprs;
  if (msrWrite !== null) r.msrs = withMsr(r.msrs, msrWrite);
  return true;
};

/** `v` is one of the injection values with which the run's entries pass */
const injPasses = (b: RunBounds, v: number): boolean => {
  const inj = b.inj;
  for (let k = 0; k < b.injN; k++) if (inj[k] === v) return true;
  return false;
};

/** BigInt(n) for a value of the injection field (the last one kept: a VMM injects the same interrupt again and again) */
let lastInfo = -1;
let lastInfoBig = 0n;
const infoBig = (n: number): bigint => {
  if (n !== lastInfo) {
    lastInfo = n;
    lastInfoBig = BigInt(n);
  }
  return lastInfoBig;
};

const clearRun = (r: RunState): void => {
  r.exits = 0;
  r.machine = null;
  r.fields = emptyFields;
  r.gprs = NO_GPRS;
  r.msrs = EMPTY_MSRS;
  r.ripBase = 0n;
  r.ctx.fields = emptyFields;
  r.ctx.mem = Phys.empty;
};

/**
 * The machine a run of fused round trips leaves (`run.exits` > 0): its writes applied to the fields it started from
 * in one batch (`applyExitRun`), the last entry checked (it passes: `runExit` asked), the guest at the new RIP, the
 * registers and MSR values; the non-root state and caches of the machine it started from. The run is empty after.
 */
export const endRun = (run: QuickRun): Machine => {
  const r = run as RunState;
  const m = r.machine!;
  const g = m.guest!;
  const nr = m.nonRoot!;
  const cpu0 = m.cpu;
  const f = r.fields;
  // (within the memo's bounds: no wrap, the sum is below 2^64)
  const rip = r.ripOff === 0 ? r.ripBase : r.ripBase + BigInt(r.ripOff);
  const f1 = applyExitRun(f, r.reason, r.qualification, r.info, r.len, r.entryInfo < 0 ? undefined : infoBig(r.entryInfo), rip);
  const ctx = r.ctx;
  ctx.fields = f1;
  const failure = firstEntryFailureCached(ctx);
  if (failure !== undefined || !sameStamps(f, f1)) throw new Error('endRun: the entry of a run of fused round trips did not take the shortest path');
  // (RIP moved exactly when the offset is not 0: the run started at g.rip)
  const guest: GuestCpu = r.ripOff === 0 ? g : {
    cr0: g.cr0, cr2: g.cr2, cr3: g.cr3, cr4: g.cr4, cr8: g.cr8, efer: g.efer, rip, rflags: g.rflags, activity: g.activity, pmlIndex: g.pmlIndex,
  };
  noteGuestLoaded(guest, f1, true);
  const cpu = withCurrentFields(cpu0, f1);
  const out = machineAfterExit(m, cpu, m.mmu, guest, nr, r.msrs, r.gprs, g.cr2);
  clearRun(r);
  return out;
};
