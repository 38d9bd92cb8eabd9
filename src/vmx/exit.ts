/**
 * VM exits: what the processor records in the VMCS, saves of the guest, stores and loads, in the SDM's order.
 *
 * Models: SDM Vol. 3C "VM Exits": "Recording VM-Exit Information and Updating VM-Entry Control Fields", "Saving
 * Guest State", "Saving MSRs", "Loading Host State"; and "VM-Entry Failures During or After Loading Guest State"
 * (a failed entry records only the exit reason and qualification, saves no guest state, and loads host state).
 * Leaves out: host state beyond the VMCS (the host's registers are not modelled), VMX aborts (the model's exits do not
 * fail), IDT-vectoring information (events are never interrupted mid-delivery in the model; the field reads 0).
 */
import * as Phys from '../arch/phys';
import { bigOf } from '../arch/addr';
import * as Inv from '../mmu/invalidate';
import { currentFields, groupStamp, vmcsRead, vmcsWriteFlat, watchFields, withCurrentFields, type VmcsFields } from './cpu';
import { controlMask } from './controls';
import { F } from './fields';
import { valueSavedOnExit, rateShift, advance } from './preemptionTimer';
import { msrStoreTsc, IA32_TIME_STAMP_COUNTER } from './tsc';
import { machineOf, type ExitRecord, type GuestCpu, type Machine, type MachinePatch } from './machine';

/** What caused the exit, before the processor records it (src/vmx/step.ts and entry.ts build these). */
export type ExitCause = Omit<ExitRecord, 'failedEntry' | 'rip' | 'tsc'>;

const VALID = 0x8000_0000n;

// The writes of one exit, applied at once: encodings and values, in the SDM's order. One pair of arrays for every
// exit, the first `count` entries in use (vmExit is not re-entered, and vmcsWriteFlat reads them during the call only).
const ENCS: number[] = new Array<number>(32).fill(0);
const VALS: bigint[] = new Array<bigint>(32).fill(0n);
let count = 0;
const put = (enc: number, v: bigint): void => { ENCS[count] = enc; VALS[count] = v; count++; };
/**
 * `put` when `cond` holds, without a branch: the pair always goes into the next free slot, which counts only when
 * `cond` holds (a slot past `count` is scratch). For the writes that only the first exit of a run makes (the reason
 * and interruption information the last exit's store already holds are left out, and so are the saves of a guest the
 * entry loaded): code run on every exit, so that it has type feedback however rarely the write is made (a call made
 * only at the first exit of a run had none when this module was optimized, and deoptimized it at the start of every
 * later run in a process).
 */
const putWhen = (cond: boolean, enc: number, v: bigint): void => {
  ENCS[count] = enc;
  VALS[count] = v;
  // an add of 0 or 1, not `if (cond) count++`: the increment under the branch had no type feedback when no call of a
  // process's first replay took it (b-random's exits are all EPT violations: the reason and information never change),
  // and deoptimized `record` at the first exit of every later replay
  count += cond ? 1 : 0;
};

// The interruption information of the last vectored exit as a bigint: an interrupt exits with the same vector again
// and again, and the same bigint is then compared by identity when the field already holds it (a memo of one).
let lastInfo = -1;
let lastInfoBig = 0n;
const infoBig = (info: number): bigint => {
  if (info !== lastInfo) { lastInfo = info; lastInfoBig = BigInt(info); }
  return lastInfoBig;
};

// The exit-information values of the last exit (not a failed entry) in the field store its writes made (`applied`),
// as numbers: the next exit that starts from that very store (no write to the VMCS in between: any write makes a new
// store) leaves out the writes that would store the value a field already holds, without comparing bigints.
// -1: not known (a length the last exit did not write and the store before it held).
let applied: VmcsFields | null = null;
let appliedReason = -1;
let appliedQualZero = false;
let appliedInfo = -1;
let appliedLen = -1;

/** Writes the exit-information fields (SDM "Basic VM-Exit Information"); undefined side fields are left alone. */
const record = (f: VmcsFields, c: ExitCause, failedEntry: boolean): void => {
  // the store these writes make is noted when they are applied (vmExitWith, batchApply: every record is applied)
  const known = f === applied;
  if (failedEntry) {
    put(F.VM_EXIT_REASON, BigInt(c.reason) | 0x8000_0000n);
    put(F.EXIT_QUALIFICATION, c.qualification);
    if (c.guestLinear !== undefined) put(F.GUEST_LINEAR_ADDRESS, c.guestLinear);
    if (c.guestPhysical !== undefined) put(F.GUEST_PHYSICAL_ADDRESS, BigInt(c.guestPhysical));
  } else {
    const info = c.interruptionInfo === undefined ? 0 : c.interruptionInfo;
    const qualZero = c.qualification === 0n;
    const reason = c.reason;
    const newReason = !known || appliedReason !== reason;
    putWhen(newReason, F.VM_EXIT_REASON, bigOf(reason));
    // every exit but a failed entry writes 0 here: the store of the last one holds 0, and a write of the value a field
    // holds makes no new store (vmcsWriteFlat). Written with the reason, not under `!known` alone (see putWhen)
    putWhen(newReason, F.IDT_VECTORING_INFO_FIELD, 0n);
    if (!known || !qualZero || !appliedQualZero) put(F.EXIT_QUALIFICATION, c.qualification);
    if (c.guestLinear !== undefined) put(F.GUEST_LINEAR_ADDRESS, c.guestLinear);
    if (c.guestPhysical !== undefined) put(F.GUEST_PHYSICAL_ADDRESS, BigInt(c.guestPhysical));
    putWhen(!known || appliedInfo !== info, F.VM_EXIT_INTR_INFO, c.interruptionInfo === undefined ? 0n : infoBig(info));
    if (c.interruptionErrorCode !== undefined) put(F.VM_EXIT_INTR_ERROR_CODE, bigOf(c.interruptionErrorCode));
    const len = c.instructionLength;
    if (len !== undefined && (!known || appliedLen !== len)) put(F.VM_EXIT_INSTRUCTION_LEN, bigOf(len));
    // what the fields hold after these writes
    appliedReason = reason;
    appliedQualZero = qualZero;
    appliedInfo = info;
    appliedLen = len !== undefined ? len : known ? appliedLen : -1;
  }
  // SDM "Updating VM-Entry Control Fields": bit 31 of the VM-entry interruption-information field is cleared (no write
  // when the field holds a value with the bit clear: writing it back would store the value it holds)
  const entryInfo = f.get(F.VM_ENTRY_INTR_INFO_FIELD);
  if (entryInfo === undefined) put(F.VM_ENTRY_INTR_INFO_FIELD, 0n);
  else if (entryInfo >= VALID) put(F.VM_ENTRY_INTR_INFO_FIELD, entryInfo & ~VALID);
};

// What the exit controls and the MSR-store count decide, per version of those fields (they change only when the VMM
// writes them): a memo of one, keyed by the stamp of the group (src/vmx/cpu.ts `watchFields`).
const EXIT_GROUP = watchFields([F.VM_EXIT_CONTROLS, F.VM_EXIT_MSR_STORE_COUNT]);
const SAVE_EFER = controlMask('exit', 'save-ia32-efer');
const SAVE_TIMER = controlMask('exit', 'save-vmx-preemption-timer-value');
interface ExitDecisions { readonly saveEfer: boolean; readonly saveTimer: boolean; readonly storeCount: number }
let lastStamp: number | undefined;
let lastDecisions: ExitDecisions = { saveEfer: false, saveTimer: false, storeCount: 0 };
const decisionsOf = (f: VmcsFields): ExitDecisions => {
  const stamp = groupStamp(f, EXIT_GROUP);
  if (stamp !== undefined && stamp === lastStamp) return lastDecisions;
  const ctls = vmcsRead(f, F.VM_EXIT_CONTROLS);
  const d: ExitDecisions = {
    saveEfer: (ctls & SAVE_EFER) !== 0n,
    saveTimer: (ctls & SAVE_TIMER) !== 0n,
    storeCount: Number(vmcsRead(f, F.VM_EXIT_MSR_STORE_COUNT) & 0xffff_ffffn),
  };
  lastStamp = stamp;
  lastDecisions = d;
  return d;
};

/** SDM "Saving MSRs": entries of 16 bytes (index, reserved, value); IA32_TSC is stored as RDMSR would read it outside
 * non-root operation, i.e. the host TSC without offset or scaling. */
const storeMsrs = (m: Machine, f: VmcsFields, count: number, msrs: ReadonlyMap<number, bigint>): Phys.PhysMem => {
  let mem = m.cpu.mem;
  if (count === 0) return mem;
  const base = Number(vmcsRead(f, F.VM_EXIT_MSR_STORE_ADDR));
  for (let i = 0; i < Math.min(count, 512); i++) {
    const idx = Phys.read32(mem, base + 16 * i);
    const value = idx === IA32_TIME_STAMP_COUNTER ? msrStoreTsc(m.tsc) : (msrs.get(idx) ?? 0n);
    mem = Phys.write64(mem, base + 16 * i + 8, value);
  }
  return mem;
};

// The guest state the last VM entry loaded and the field store it loaded it from (set by src/vmx/entry.ts). Both are
// immutable, so while the guest at exit is that very object and the current fields are that very store (the VMCS
// cannot change in non-root operation), saving the guest state would write back exactly the values the fields hold:
// the saves are left out. Only a guest whose saved fields were all present (not defaulted to 0) is noted, so leaving
// the writes out never leaves a field absent that the writes would have created.
let loadedGuest: GuestCpu | null = null;
let loadedFields: VmcsFields | null = null;

/**
 * Would saving guest `g` into fields `f` write back exactly the values they hold? When `f` is the store the last entry
 * loaded and `g` is that guest, or a copy of it equal in every register an exit saves (the common copy: the guest's
 * page-fault handler's CR2, which the VMCS does not hold). Comparing EFER even when the exit does not save it only
 * makes the answer no more often.
 */
const savesNothing = (g: GuestCpu, f: VmcsFields): boolean => {
  const l = loadedGuest;
  if (f !== loadedFields || l === null) return false;
  return g === l || (g.cr0 === l.cr0 && g.cr3 === l.cr3 && g.cr4 === l.cr4 && g.rip === l.rip && g.rflags === l.rflags &&
    g.activity === l.activity && g.pmlIndex === l.pmlIndex && g.efer === l.efer);
};

/** VM entry loaded guest `g` from `f`; `complete`: every field the exit saves was present in `f`. */
export const noteGuestLoaded = (g: GuestCpu, f: VmcsFields, complete: boolean): void => {
  loadedGuest = complete ? g : null;
  loadedFields = complete ? f : null;
};

/** What software state the exit leaves besides the processor's (see `vmExit`). */
export interface ExitSoftware {
  /** the memory access to retry at the next VM entry (Machine.pendingRetry) */
  readonly pendingRetry?: MachinePatch['pendingRetry'];
  /** the exiting instruction's register operands, where the VMM's handler reads them (Machine.gprs) */
  readonly gprs?: Machine['gprs'];
}

/**
 * A VM exit from non-root operation (or a failed VM entry when `failedEntry`): record, save, store, load host,
 * flush VPID-0 mappings when VPID is off. Returns the machine in root operation and the exit as the VMM reads it.
 * `sw` sets the software state that goes with the exit (the retried access, the instruction's operands) in the same
 * copy of the machine: the same machine as `vmExit({ ...m, ...sw }, c, failedEntry)`.
 */
export const vmExit = (m: Machine, c: ExitCause, failedEntry = false, sw?: ExitSoftware): { machine: Machine; exit: ExitRecord } =>
  vmExitWith(m, c, failedEntry, sw?.pendingRetry, sw?.gprs);

/** `vmExit(m, c, failedEntry, { pendingRetry, gprs })` with the software state as arguments (undefined: kept), so
 * the guest's step makes no object for it. */
export const vmExitWith = (
  m: Machine, c: ExitCause, failedEntry: boolean, pendingRetry: ExitSoftware['pendingRetry'], gprs: ExitSoftware['gprs'],
): { machine: Machine; exit: ExitRecord } => {
  const cpu0 = m.cpu;
  // the fields written below are none of the ones read here, so every read sees the VMCS before the exit and the
  // writes are applied at once (one copy of the field map), in the SDM's order
  const f = currentFields(cpu0);
  count = 0;
  record(f, c, failedEntry);
  let mem = cpu0.mem;
  const g = m.guest;
  const nr = m.nonRoot;
  if (!failedEntry && g !== null && nr !== null) {
    // SDM "Saving Guest State" (left out when it would write back the values the fields hold: see noteGuestLoaded)
    const d = decisionsOf(f);
    const save = !savesNothing(g, f);
    // putWhen written out (`at` moves by `inc` after each pair): vmExitWith is past the size up to which V8 inlines its
    // calls, and putWhen, called, was ~440 instructions per exit (b-random's first touches, 262,144 events: 109 per
    // event, now none); straight-line code as putWhen's, so every store has type feedback whichever way `save` goes
    const inc = save ? 1 : 0;
    let at = count;
    ENCS[at] = F.GUEST_CR0; VALS[at] = g.cr0; at += inc;
    ENCS[at] = F.GUEST_CR3; VALS[at] = g.cr3; at += inc;
    ENCS[at] = F.GUEST_CR4; VALS[at] = g.cr4; at += inc;
    ENCS[at] = F.GUEST_RIP; VALS[at] = g.rip; at += inc;
    ENCS[at] = F.GUEST_RFLAGS; VALS[at] = g.rflags; at += inc;
    ENCS[at] = F.GUEST_ACTIVITY_STATE; VALS[at] = bigOf(g.activity); at += inc;
    ENCS[at] = F.GUEST_PML_INDEX; VALS[at] = bigOf(g.pmlIndex & 0xffff); at += inc;
    ENCS[at] = F.GUEST_IA32_EFER; VALS[at] = g.efer; at += d.saveEfer ? inc : 0;
    count = at;
    if (nr.timer !== null) {
      const a = advance(nr.timer.value, nr.timer.since, m.tsc, rateShift(m.cpu.caps.misc));
      const remaining = a.kind === 'running' ? a.remaining : 0;
      const programmed = Number(vmcsRead(f, F.VMX_PREEMPTION_TIMER_VALUE));
      put(F.VMX_PREEMPTION_TIMER_VALUE, BigInt(valueSavedOnExit(d.saveTimer, programmed, remaining)));
    }
    mem = storeMsrs(m, f, d.storeCount, m.guestMsrs);
  }
  const f1 = vmcsWriteFlat(f, ENCS, VALS, count);
  applied = failedEntry ? null : f1;
  const cpu = withCurrentFields(cpu0, f1, { mem, vmx: 'root' });
  // SDM "Caching Translation Information": with "enable VPID" = 0, VM exits invalidate VPID-0 linear/combined mappings
  const vpidOff = nr === null || nr.vpid === 0;
  const mmu = vpidOff ? Inv.vmEntryExitFlush(m.mmu) : m.mmu;
  // machineWith(m, { cpu, guest, nonRoot: null, savedCr2, mmu, pendingRetry, gprs }) without a patch object
  const retry = pendingRetry !== undefined ? pendingRetry : m.pendingRetry;
  const machine = g !== null && !failedEntry
    ? machineOf(m, cpu, m.tsc, mmu, null, null, retry, m.guestAlloc, m.guestMsrs, gprs ?? m.gprs, m.hostAlloc, g.cr2)
    : machineOf(m, cpu, m.tsc, mmu, failedEntry ? m.guest : null, null, retry, m.guestAlloc, m.guestMsrs, gprs ?? m.gprs, m.hostAlloc, m.savedCr2);
  return { machine, exit: exitRecord(c, failedEntry, g, m.tsc) };
};

/** The exit as the VMM reads it: the cause, with the guest's RIP (0 without a guest) and the host TSC at the exit. */
export const exitRecord = (c: ExitCause, failedEntry: boolean, g: GuestCpu | null, tsc: bigint): ExitRecord => {
  // built field by field on a fresh object (no spread of a temporary per optional field), in the record's key order
  const exit: { -readonly [K in keyof ExitRecord]: ExitRecord[K] } = { reason: c.reason, failedEntry, qualification: c.qualification } as ExitRecord;
  if (c.guestLinear !== undefined) exit.guestLinear = c.guestLinear;
  if (c.guestPhysical !== undefined) exit.guestPhysical = c.guestPhysical;
  if (c.instructionLength !== undefined) exit.instructionLength = c.instructionLength;
  if (c.interruptionInfo !== undefined) exit.interruptionInfo = c.interruptionInfo;
  if (c.interruptionErrorCode !== undefined) exit.interruptionErrorCode = c.interruptionErrorCode;
  exit.rip = g?.rip ?? 0n;
  exit.tsc = tsc;
  return exit;
};

// ---------------------------------------------------------------------------------------------------------------
// A VM exit as the first part of a fused round trip (src/vmx/entry.ts `exitAndResume`): the writes of the exit, then
// the VMM's, then VM entry, with no machine in between. Only for an exit whose saves would write nothing.

/**
 * Starts the batch of field writes of a VM exit from `m` (current fields `f`) with the exit's own writes (SDM
 * "Recording VM-Exit Information"), when the exit would write nothing else: the guest state is the one the last VM
 * entry loaded from `f` (saving it writes back the values the fields hold), no preemption timer runs and the
 * MSR-store list is empty. Returns false otherwise (the batch is then undefined: take `vmExitWith`). More writes can
 * follow (`batchPut`) before `batchApply`.
 */
export const beginQuickExit = (m: Machine, f: VmcsFields, c: ExitCause): boolean => {
  const g = m.guest;
  const nr = m.nonRoot;
  if (g === null || nr === null || nr.timer !== null || g !== loadedGuest || f !== loadedFields) return false;
  if (decisionsOf(f).storeCount !== 0) return false;
  count = 0;
  record(f, c, false);
  return true;
};

/**
 * `beginQuickExit`'s conditions without starting a batch: an exit from `m` (current fields `f`) would save nothing
 * (the guest is the one the last VM entry loaded from `f`, no preemption timer runs, the MSR-store list is empty).
 */
export const quickExitReady = (m: Machine, f: VmcsFields): boolean => {
  const g = m.guest;
  const nr = m.nonRoot;
  return g !== null && nr !== null && nr.timer === null && g === loadedGuest && f === loadedFields && decisionsOf(f).storeCount === 0;
};

/**
 * The fields `f` after a run of exits that each saved nothing (`quickExitReady`), each followed by the VMM's writes
 * of GUEST_RIP and the VM-entry interruption-information field, as one batch: what the run's writes leave in each
 * field (SDM "Basic VM-Exit Information": the last exit's reason, qualification, interruption information, and the
 * last instruction length recorded; IDT-vectoring information 0), `entryInfo` in the VM-entry interruption-information
 * field (undefined: not written) and `rip` in GUEST_RIP. `info` undefined: the last exit had no interruption
 * information (the field reads 0); `len` -1: no exit of the run recorded a length. Only for exits without a linear
 * or guest-physical address or an error code (src/vmx/entry.ts `QuickRun` declines the others).
 */
export const applyExitRun = (
  f: VmcsFields, reason: number, qualification: bigint, info: number | undefined, len: number, entryInfo: bigint | undefined, rip: bigint,
): VmcsFields => {
  count = 0;
  put(F.VM_EXIT_REASON, bigOf(reason));
  put(F.IDT_VECTORING_INFO_FIELD, 0n);
  put(F.EXIT_QUALIFICATION, qualification);
  put(F.VM_EXIT_INTR_INFO, info === undefined ? 0n : infoBig(info));
  if (len >= 0) put(F.VM_EXIT_INSTRUCTION_LEN, bigOf(len));
  if (entryInfo !== undefined) put(F.VM_ENTRY_INTR_INFO_FIELD, entryInfo);
  put(F.GUEST_RIP, rip);
  const f1 = vmcsWriteFlat(f, ENCS, VALS, count);
  // the values `record` would know of the last exit's writes are not kept: its next call writes every field
  applied = null;
  return f1;
};

/** Appends a write to the batch begun by `beginQuickExit` (applied after the ones before it). */
export const batchPut = (enc: number, v: bigint): void => put(enc, v);

/** The fields `f` after the writes of the batch, in order (`vmcsWriteFlat`). */
export const batchApply = (f: VmcsFields): VmcsFields => {
  const f1 = vmcsWriteFlat(f, ENCS, VALS, count);
  applied = f1;
  return f1;
};
