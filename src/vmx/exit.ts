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
import * as Inv from '../mmu/invalidate';
import { currentFields, vmcsRead, vmcsWriteFlat, withCurrentFields, type VmcsFields } from './cpu';
import { isSet } from './controls';
import { F } from './fields';
import { valueSavedOnExit, rateShift, advance } from './preemptionTimer';
import { msrStoreTsc, IA32_TIME_STAMP_COUNTER } from './tsc';
import { machineWith, type ExitRecord, type Machine } from './machine';

/** What caused the exit, before the processor records it (src/vmx/step.ts and entry.ts build these). */
export type ExitCause = Omit<ExitRecord, 'failedEntry' | 'rip' | 'tsc'>;

const VALID = 0x8000_0000n;

/** The writes of one exit, applied at once: encodings and values, in the SDM's order. */
interface Writes { readonly encs: number[]; readonly vals: bigint[] }
const put = (w: Writes, enc: number, v: bigint): void => { w.encs.push(enc); w.vals.push(v); };

/** Writes the exit-information fields (SDM "Basic VM-Exit Information"); undefined side fields are left alone. */
const record = (w: Writes, f: VmcsFields, c: ExitCause, failedEntry: boolean): void => {
  put(w, F.VM_EXIT_REASON, BigInt(c.reason) | (failedEntry ? 0x8000_0000n : 0n));
  put(w, F.EXIT_QUALIFICATION, c.qualification);
  if (c.guestLinear !== undefined) put(w, F.GUEST_LINEAR_ADDRESS, c.guestLinear);
  if (c.guestPhysical !== undefined) put(w, F.GUEST_PHYSICAL_ADDRESS, BigInt(c.guestPhysical));
  if (!failedEntry) {
    put(w, F.VM_EXIT_INTR_INFO, BigInt(c.interruptionInfo ?? 0));
    if (c.interruptionErrorCode !== undefined) put(w, F.VM_EXIT_INTR_ERROR_CODE, BigInt(c.interruptionErrorCode));
    put(w, F.IDT_VECTORING_INFO_FIELD, 0n);
    if (c.instructionLength !== undefined) put(w, F.VM_EXIT_INSTRUCTION_LEN, BigInt(c.instructionLength));
  }
  // SDM "Updating VM-Entry Control Fields": bit 31 of the VM-entry interruption-information field is cleared
  put(w, F.VM_ENTRY_INTR_INFO_FIELD, vmcsRead(f, F.VM_ENTRY_INTR_INFO_FIELD) & ~VALID);
};

/** SDM "Saving MSRs": entries of 16 bytes (index, reserved, value); IA32_TSC is stored as RDMSR would read it outside
 * non-root operation, i.e. the host TSC without offset or scaling. */
const storeMsrs = (m: Machine, f: VmcsFields, msrs: ReadonlyMap<number, bigint>): Phys.PhysMem => {
  const count = Number(vmcsRead(f, F.VM_EXIT_MSR_STORE_COUNT) & 0xffff_ffffn);
  const base = Number(vmcsRead(f, F.VM_EXIT_MSR_STORE_ADDR));
  let mem = m.cpu.mem;
  for (let i = 0; i < Math.min(count, 512); i++) {
    const idx = Phys.read32(mem, base + 16 * i);
    const value = idx === IA32_TIME_STAMP_COUNTER ? msrStoreTsc(m.tsc) : (msrs.get(idx) ?? 0n);
    mem = Phys.write64(mem, base + 16 * i + 8, value);
  }
  return mem;
};

/**
 * A VM exit from non-root operation (or a failed VM entry when `failedEntry`): record, save, store, load host,
 * flush VPID-0 mappings when VPID is off. Returns the machine in root operation and the exit as the VMM reads it.
 */
export const vmExit = (m: Machine, c: ExitCause, failedEntry = false): { machine: Machine; exit: ExitRecord } => {
  const cpu0 = m.cpu;
  // the fields written below are none of the ones read here, so every read sees the VMCS before the exit and the
  // writes are applied at once (one copy of the field map), in the SDM's order
  const f = currentFields(cpu0);
  const w: Writes = { encs: [], vals: [] };
  record(w, f, c, failedEntry);
  let mem = cpu0.mem;
  const g = m.guest;
  const nr = m.nonRoot;
  if (!failedEntry && g !== null && nr !== null) {
    // SDM "Saving Guest State"
    put(w, F.GUEST_CR0, g.cr0); put(w, F.GUEST_CR3, g.cr3); put(w, F.GUEST_CR4, g.cr4); put(w, F.GUEST_RIP, g.rip);
    put(w, F.GUEST_RFLAGS, g.rflags); put(w, F.GUEST_ACTIVITY_STATE, BigInt(g.activity));
    put(w, F.GUEST_PML_INDEX, BigInt(g.pmlIndex & 0xffff));
    const exitCtls = vmcsRead(f, F.VM_EXIT_CONTROLS);
    if (isSet('exit', exitCtls, 'save-ia32-efer')) put(w, F.GUEST_IA32_EFER, g.efer);
    if (nr.timer !== null) {
      const a = advance(nr.timer.value, nr.timer.since, m.tsc, rateShift(m.cpu.caps.misc));
      const remaining = a.kind === 'running' ? a.remaining : 0;
      const programmed = Number(vmcsRead(f, F.VMX_PREEMPTION_TIMER_VALUE));
      put(w, F.VMX_PREEMPTION_TIMER_VALUE, BigInt(valueSavedOnExit(isSet('exit', exitCtls, 'save-vmx-preemption-timer-value'), programmed, remaining)));
    }
    mem = storeMsrs(m, f, m.guestMsrs);
  }
  const cpu = withCurrentFields(cpu0, vmcsWriteFlat(f, w.encs, w.vals), { mem, vmx: 'root' });
  // SDM "Caching Translation Information": with "enable VPID" = 0, VM exits invalidate VPID-0 linear/combined mappings
  const vpidOff = nr === null || nr.vpid === 0;
  const mmu = vpidOff ? Inv.vmEntryExitFlush(m.mmu) : m.mmu;
  const machine = g !== null && !failedEntry
    ? machineWith(m, { cpu, guest: null, nonRoot: null, savedCr2: g.cr2, mmu })
    : machineWith(m, { cpu, guest: failedEntry ? m.guest : null, nonRoot: null, mmu });
  // built field by field on a fresh object (no spread of a temporary per optional field), in the record's key order
  const exit: { -readonly [K in keyof ExitRecord]: ExitRecord[K] } = { reason: c.reason, failedEntry, qualification: c.qualification } as ExitRecord;
  if (c.guestLinear !== undefined) exit.guestLinear = c.guestLinear;
  if (c.guestPhysical !== undefined) exit.guestPhysical = c.guestPhysical;
  if (c.instructionLength !== undefined) exit.instructionLength = c.instructionLength;
  if (c.interruptionInfo !== undefined) exit.interruptionInfo = c.interruptionInfo;
  if (c.interruptionErrorCode !== undefined) exit.interruptionErrorCode = c.interruptionErrorCode;
  exit.rip = g?.rip ?? 0n;
  exit.tsc = m.tsc;
  return { machine, exit };
};
