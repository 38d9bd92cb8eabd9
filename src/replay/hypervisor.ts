/**
 * The managed hypervisor: a KVM-like handler for every exit reason a trace can cause. Each handler works through the
 * pure model like real VMM software (VMREAD the exit information, edit EPT or guest state, VMWRITE, VMRESUME), never
 * around it.
 *
 * Models (KVM, arch/x86/kvm/vmx/vmx.c `kvm_vmx_exit_handlers`):
 *  - EPT_VIOLATION (handle_ept_violation -> kvm_mmu_page_fault): ordinary memory is mapped read/write/execute at
 *    `ept.pageSize` to fresh host frames and the access is retried; a GPA in an `mmio` range gets the misconfigured
 *    entry KVM installs for MMIO (bits 2:0 = 110b, write+execute without read: VMX_EPT_MISCONFIG_WX_VALUE), so the
 *    next access to that page gives EPT_MISCONFIG.
 *  - EPT_MISCONFIG (handle_ept_misconfig): the MMIO access is emulated (the device model completes it) and RIP skips
 *    the instruction: the access is not retried.
 *  - CPUID, RDMSR/WRMSR, I/O, CR access, RDTSC/RDTSCP/RDPMC, XSETBV, INVD/WBINVD, MWAIT/MONITOR, PAUSE, VMCALL,
 *    MOV DR, INVLPG: emulated; RIP += VM-exit instruction length (skip_emulated_instruction).
 *  - HLT (kvm_emulate_halt): RIP skips HLT; the vCPU waits for the next interrupt (the trace's next events).
 *  - EXTERNAL_INTERRUPT: the host handles the interrupt; a guest-bound interrupt (the trace's `interrupt` event) is
 *    injected at the next VM entry through the VM-entry interruption-information field.
 *  - EXCEPTION_NMI: an intercepted exception is reflected into the guest (event injection); an NMI is handled by the
 *    host and then injected.
 *  - PREEMPTION_TIMER: resume. PML_FULL: the log is drained (PML index <- 511) and the access retried.
 *  - Shadow paging (mode shadow, src/replay/shadow.ts): #PF exits (hidden fault filled and retried, page-table write
 *    emulated and retried, true fault injected), MOV to/from CR3 (shadow root switch, the guest's CR3 value), INVLPG.
 * Leaves out: user-space exits (KVM_EXIT_IO / KVM_EXIT_MMIO round trips are priced, not simulated), device state.
 */
import { PAGE_SIZE, smallNumberOf } from '../arch/addr';
import * as Phys from '../arch/phys';
import * as EptBuild from '../ept/build';
import { cpuWith, currentFields, vmcsRead, vmcsWriteFlat, withCurrentFields } from '../vmx/cpu';
import { F } from '../vmx/fields';
import { R } from '../vmx/exitReasons';
import { eptRootOf } from '../vmx/entry';
import { interruptionInfoNumber } from '../vmx/qualifications';
import { machineWith, machineWithCpu, withMem, type ExitRecord, type Machine } from '../vmx/machine';
import type { MsrWrite } from '../vmx/entry';
import type { Config } from './config';
import * as Shadow from './shadow';

export interface Hypervisor {
  readonly config: Config;
  /** an interrupt the host took for the guest, to inject at the next VM entry */
  readonly pendingInjection: { readonly vector: number; readonly type: 'external-interrupt' | 'nmi' | 'hardware-exception'; readonly errorCode?: number } | null;
  /** the shadow MMU (mode shadow), else null */
  readonly shadow: Shadow.ShadowState | null;
}

export const initialHypervisor = (config: Config, shadow: Shadow.ShadowState | null = null): Hypervisor => {
  // The config goes in after the object is made (a fresh object, not yet shared): a literal's first value fixes the
  // type V8 records for the field (here the class of the first config), and making the literal's boilerplate later
  // (at the literal's second run, again after each GC that flushed it: in practice at the start of a process's second
  // replay) generalized that type, which deoptimized handleExit (its optimized code relied on the class of
  // `hv.config`): it then ran unoptimized for most of that replay. Made with no config first, the field's type is
  // general from the start.
  const hv: { -readonly [K in keyof Hypervisor]: Hypervisor[K] } = { config: undefined as unknown as Config, pendingInjection: null, shadow };
  hv.config = config;
  return hv;
};

/** `{ ...hv, pendingInjection: p }` as one literal of a fixed shape (a spread is a generic object clone on the exit
 * path); every field of Hypervisor is listed (HV_KEYS fails to compile when one is added and not here). */
const withInjection = (hv: Hypervisor, p: Hypervisor['pendingInjection']): Hypervisor =>
  ({ config: hv.config, pendingInjection: p, shadow: hv.shadow });
const HV_KEYS = { config: 1, pendingInjection: 1, shadow: 1 } as const satisfies Record<keyof Hypervisor, 1>;
void HV_KEYS;

// The lowest start of the MMIO ranges of the last list `inMmio` was asked about, as a number (a memo of one, keyed by
// the list's identity): a guest-physical address below it is in none of them, which `inMmio` answers without making a
// bigint of the address. A start above 2^53 may round either way, but every address the model handles is below 2^53,
// so below such a start too: the answer is the same.
let mmioList: Config['mmio'] | null = null;
let mmioLowest = Infinity;

const inMmio = (config: Config, gpa: number): boolean => {
  const ranges = config.mmio;
  if (ranges !== mmioList) {
    let lowest = Infinity;
    for (const [lo] of ranges) if (Number(lo) < lowest) lowest = Number(lo);
    mmioList = ranges;
    mmioLowest = lowest;
  }
  if (gpa < mmioLowest) return false;
  const g = BigInt(gpa);
  for (const [lo, hi] of ranges) if (g >= lo && g <= hi) return true;
  return false;
};

// The handlers' VMREAD/VMWRITE. The hypervisor is the model's own software: it runs in root operation with its
// VMCS current and only touches read/write fields at their full encodings, where SDM "VMREAD" / "VMWRITE" succeed and
// read or store the field's value (truncated to its width). So a handler's reads are plain field reads and its writes
// one batch, applied in order, instead of one checked instruction (and one copy of the field store) each.

const fieldsOf = (m: Machine): ReturnType<typeof currentFields> => {
  if (m.cpu.vmx !== 'root' || m.cpu.currentVmcs === null) throw new Error('hypervisor: VMREAD/VMWRITE outside root operation or without a current VMCS');
  return currentFields(m.cpu);
};
const U64 = 0xffff_ffff_ffff_ffffn;
/** a register value as the 64-bit pattern VMWRITE stores (no new bigint when it is one already) */
const u64 = (v: bigint): bigint => (v >= 0n && v <= U64 ? v : BigInt.asUintN(64, v));
const writeAll = (m: Machine, encs: readonly number[], vals: readonly bigint[]): Machine => {
  const f = fieldsOf(m);
  const g = vmcsWriteFlat(f, encs, vals.map(u64));
  return g === f ? m : machineWithCpu(m, withCurrentFields(m.cpu, g));
};
const ONE_ENC: number[] = [0];
const ONE_VAL: bigint[] = [0n];
const write = (m: Machine, enc: number, v: bigint): Machine => {
  const f = fieldsOf(m);
  // one pair of arrays for every single write (vmcsWriteFlat reads them during the call only)
  ONE_ENC[0] = enc;
  ONE_VAL[0] = u64(v);
  const g = vmcsWriteFlat(f, ONE_ENC, ONE_VAL);
  return g === f ? m : machineWithCpu(m, withCurrentFields(m.cpu, g));
};
const read = (m: Machine, enc: number): bigint => vmcsRead(fieldsOf(m), enc);

/** skip_emulated_instruction: GUEST_RIP += VM-exit instruction length. */
const skipInstruction = (m: Machine): Machine => {
  const f = fieldsOf(m);
  const rip = vmcsRead(f, F.GUEST_RIP) + vmcsRead(f, F.VM_EXIT_INSTRUCTION_LEN);
  return write(m, F.GUEST_RIP, rip > U64 ? rip & U64 : rip);
};

/** Ordinary memory's EPT rights (one immutable value for every mapping). */
const RWX: EptBuild.EptPerm = { r: true, w: true, x: true };

/** KVM's MMIO SPTE for EPT: write + execute without read, a misconfiguration on every access (reference §8.5). */
const MMIO_ENTRY_LO = 0b110;

/** kvm_mmu_page_fault for a first touch: map the page at ept.pageSize, or mark it MMIO. */
const mapGpa = (m: Machine, config: Config, gpa: number): Machine => {
  const ept = eptRootOf(m.cpu.caps, currentFields(m.cpu));
  if (ept === null) return m;
  const root = ept.root;
  if (inMmio(config, gpa)) {
    const page = gpa - (gpa % PAGE_SIZE);
    const r = EptBuild.eptWriteEntry(m.cpu.mem, root, ept.levels, page, 1, BigInt(MMIO_ENTRY_LO), m.hostAlloc);
    if (r === undefined) return m;
    return machineWithCpu(m, cpuWith(m.cpu, { mem: r.mem }), r.alloc ?? m.hostAlloc);
  }
  const size = config.ept.pageSize;
  const bytes = EptBuild.pageBytes(size);
  // the page's host frame, aligned to the page size, then the intermediate tables after it
  const frame = Math.ceil(m.hostAlloc.next / bytes) * bytes;
  const r = EptBuild.eptMap(m.cpu.mem, { next: frame + bytes }, root, ept.levels, gpa, frame, size, RWX, 6);
  // literals, not spreads: the machines of the exit path keep one hidden class (src/vmx/machine.ts `withMem`)
  return machineWithCpu(m, cpuWith(m.cpu, { mem: r.mem }), r.alloc);
};

export interface Handled {
  readonly machine: Machine;
  readonly hv: Hypervisor;
  /** false: the exit ends the run (triple fault, failed entry) */
  readonly resume: boolean;
  /** the guest's faulting instruction runs again after VMRESUME (a hidden shadow fault, an emulated table write) */
  readonly retry?: boolean;
  /** a #PF injected into the guest at the next entry, with the CR2 the hypervisor loaded (shadow paging) */
  readonly injectedFault?: { readonly errorCode: number; readonly cr2: bigint };
}

/** Handles one VM exit in root operation and leaves the machine ready for VMRESUME. */
export const handleExit = (hv: Hypervisor, m0: Machine, exit: ExitRecord): Handled => {
  let m = m0;
  const config = hv.config;
  switch (exit.reason) {
    case R.EPT_VIOLATION:
      return { machine: mapGpa(m, config, exit.guestPhysical ?? 0), hv, resume: true };
    case R.EPT_MISCONFIG:
      // emulated MMIO: the instruction completes in the hypervisor, no retry; EPT violations have no instruction length
      // field, so KVM decodes the instruction; the model's accesses are one instruction of unknown length: RIP + 3
      m = machineWith(m, { pendingRetry: null });
      return { machine: write(m, F.GUEST_RIP, (read(m, F.GUEST_RIP) + 3n) & 0xffff_ffff_ffff_ffffn), hv, resume: true };
    case R.PML_FULL: {
      // drain the log (a real VMM would record the logged GPAs as dirty for migration) and reset the index
      const pml = Number(read(m, F.PML_ADDRESS));
      m = withMem(m, Phys.updatePage(m.cpu.mem, Math.floor(pml / PAGE_SIZE), (p) => { p.fill(0); }));
      return { machine: write(m, F.GUEST_PML_INDEX, 511n), hv, resume: true };
    }
    case R.EXTERNAL_INTERRUPT: {
      const info = exit.interruptionInfo ?? 0;
      return { machine: m, hv: withInjection(hv, { vector: info & 0xff, type: 'external-interrupt' }), resume: true };
    }
    case R.EXCEPTION_NMI: {
      const info = exit.interruptionInfo ?? 0;
      const vector = info & 0xff;
      const type = ((info >> 8) & 7) === 2 ? 'nmi' as const : 'hardware-exception' as const;
      if (hv.shadow !== null && vector === 14 && type === 'hardware-exception') {
        // SDM "Exception Bitmap": a #PF exit's qualification is the linear address; CR2 was not written
        const r = Shadow.pageFault(hv.shadow, m, exit.qualification, exit.interruptionErrorCode ?? 0);
        const hv1 = { ...hv, shadow: r.s };
        const v = r.verdict;
        switch (v.kind) {
          case 'emulated': case 'hidden':
            return { machine: r.m, hv: hv1, resume: true, retry: true };
          case 'guest':
            // kvm_inject_page_fault: CR2 and the event, delivered at the next VM entry
            return {
              machine: r.m, hv: { ...hv1, pendingInjection: { vector: 14, type: 'hardware-exception', errorCode: v.errorCode } },
              resume: true, injectedFault: { errorCode: v.errorCode, cr2: v.cr2 },
            };
          default: { const never: never = v; throw new Error(`bad verdict ${JSON.stringify(never)}`); }
        }
      }
      return {
        machine: m,
        hv: { ...hv, pendingInjection: { vector, type, ...(exit.interruptionErrorCode !== undefined ? { errorCode: exit.interruptionErrorCode } : {}) } },
        resume: true,
      };
    }
    case R.PREEMPTION_TIMER:
      return { machine: m, hv, resume: true };
    case R.TRIPLE_FAULT: case R.INVALID_STATE: case R.MSR_LOAD_FAIL:
      return { machine: m, hv, resume: false };
    case R.CR_ACCESS: {
      // MOV to CR0/CR4 of a host-owned bit: update the guest's register and the read shadow (vmx_set_cr0/cr4)
      const q = exit.qualification;
      const cr = Number(q & 0xfn);
      const type = Number((q >> 4n) & 3n);
      if (cr === 3 && hv.shadow !== null) {
        // shadow paging: MOV to CR3 switches shadow roots; MOV from CR3 reads the guest's own value (into RAX)
        if (type === 0) {
          const r = Shadow.loadCr3(hv.shadow, m, m.gprs.rax);
          return { machine: skipInstruction(r.m), hv: { ...hv, shadow: r.s }, resume: true };
        }
        return { machine: skipInstruction(machineWith(m, { gprs: { ...m.gprs, rax: hv.shadow.guestCr3 } })), hv, resume: true };
      }
      if (type === 0 && (cr === 0 || cr === 4)) {
        const v = m.gprs.rax;
        const shadowEnc = cr === 0 ? F.CR0_READ_SHADOW : F.CR4_READ_SHADOW;
        const guestEnc = cr === 0 ? F.GUEST_CR0 : F.GUEST_CR4;
        const fixed0 = cr === 0 ? m.cpu.caps.cr0Fixed0 & ~0x8000_0001n : m.cpu.caps.cr4Fixed0;
        const f = fieldsOf(m);
        const rip = (vmcsRead(f, F.GUEST_RIP) + vmcsRead(f, F.VM_EXIT_INSTRUCTION_LEN)) & 0xffff_ffff_ffff_ffffn;
        return { machine: writeAll(m, [shadowEnc, guestEnc, F.GUEST_RIP], [v, v | fixed0, rip]), hv, resume: true };
      }
      return { machine: skipInstruction(m), hv, resume: true };
    }
    case R.INVLPG:
      if (hv.shadow !== null) {
        // SDM "Exit Qualification for ... INVLPG": the linear-address operand
        const r = Shadow.invlpg(hv.shadow, m, exit.qualification);
        return { machine: skipInstruction(r.m), hv: { ...hv, shadow: r.s }, resume: true };
      }
      return { machine: skipInstruction(m), hv, resume: true };
    case R.MSR_WRITE: {
      // kvm_set_msr: the guest's value (EDX:EAX) for MSR ECX
      const msrs = new Map(m.guestMsrs);
      msrs.set(Number(m.gprs.rcx), m.gprs.rax);
      return { machine: skipInstruction(machineWith(m, { guestMsrs: msrs })), hv, resume: true };
    }
    default:
      // every instruction exit: emulate and skip it
      return { machine: exit.instructionLength !== undefined ? skipInstruction(m) : m, hv, resume: true };
  }
};

/**
 * How `handleExit` and `prepareEntry` handle an exit when that is only an edit of the VMCS and the guest's MSR values
 * (for the fused round trip, src/vmx/entry.ts `exitAndResume`): RIP advanced past the instruction, an event to inject
 * at the next entry (the VM-entry interruption-information value), an MSR value the handler keeps for the guest. `gprs` are the registers the exit left (the handler's operands). Undefined for any other exit
 * and whenever anything else would happen: an event already pending injection, shadow paging, exits that map memory,
 * retry an access, reflect an exception, write CRs or end the run. tests/replay/quickExit.test.ts checks that the
 * fused path leaves the machine and hypervisor as handleExit and prepareEntry do.
 */
export interface QuickHandling {
  readonly advanceRip: boolean;
  readonly inject: bigint | null;
  /** `inject` as a number for a run of exits (src/vmx/entry.ts `runExit`): -1 when null, -2 when not a 32-bit value */
  readonly injectInfo: number;
  /** kvm_set_msr: the MSR (index, value) the guest's WRMSR wrote, kept in the guest MSR values; null: none */
  readonly msrWrite: MsrWrite | null;
}
const SKIP: QuickHandling = { advanceRip: true, inject: null, injectInfo: -1, msrWrite: null };
/** by basic exit reason: 1 for the instruction exits `handleExit` sends to its `default` branch (emulate and skip) */
const SKIPPED = new Uint8Array(128);
for (const r of [
  R.CPUID, R.HLT, R.IO_INSTRUCTION, R.MSR_READ, R.RDTSC, R.RDTSCP, R.RDPMC, R.INVD, R.WBINVD, R.XSETBV, R.PAUSE_INSTRUCTION,
  R.MWAIT_INSTRUCTION, R.MONITOR_INSTRUCTION, R.VMCALL, R.DR_ACCESS, R.RDRAND, R.RDSEED, R.GETSEC, R.INVLPG,
]) SKIPPED[r] = 1;

let lastVector = -1;
let lastInjection: QuickHandling = SKIP;

/** Number(rcx): through smallNumberOf for an MSR index (Number() of a bigint is a call into the runtime, ~150
 * instructions) */
const msrIndex = (rcx: bigint): number => (rcx >= 0n && rcx <= 0xffff_ffffn ? smallNumberOf(rcx) : Number(rcx));

export const quickHandling = (
  hv: Hypervisor, reason: number, interruptionInfo: number | undefined, gprs: Machine['gprs'],
): QuickHandling | undefined => {
  if (hv.pendingInjection !== null || hv.shadow !== null) return undefined;
  if (reason === R.EXTERNAL_INTERRUPT) {
    // handleExit's EXTERNAL_INTERRUPT case, then prepareEntry's injection of it (the handling of the last vector is
    // kept: an immutable value, and the same injection bigint is then found in the field by identity)
    const vector = (interruptionInfo ?? 0) & 0xff;
    if (vector !== lastVector) {
      lastVector = vector;
      const info = interruptionInfoNumber({ vector, type: 'external-interrupt', errorCodeValid: false });
      lastInjection = { advanceRip: false, inject: BigInt(info), injectInfo: info >= 0 && info <= 0xffff_ffff ? info : -2, msrWrite: null };
    }
    return lastInjection;
  }
  if (reason === R.MSR_WRITE) return { advanceRip: true, inject: null, injectInfo: -1, msrWrite: { index: msrIndex(gprs.rcx), value: gprs.rax } };
  return reason >= 0 && reason < SKIPPED.length && SKIPPED[reason] === 1 ? SKIP : undefined;
};

/** Before VMRESUME: inject a pending event through the VM-entry interruption-information field. */
export const prepareEntry = (hv: Hypervisor, m: Machine): { machine: Machine; hv: Hypervisor } => {
  const p = hv.pendingInjection;
  if (p === null) return { machine: m, hv };
  const hasError = p.errorCode !== undefined;
  const info = BigInt(interruptionInfoNumber({ vector: p.vector, type: p.type, errorCodeValid: hasError }));
  const x = hasError
    ? writeAll(m, [F.VM_ENTRY_INTR_INFO_FIELD, F.VM_ENTRY_EXCEPTION_ERROR_CODE], [info, BigInt(p.errorCode!)])
    : write(m, F.VM_ENTRY_INTR_INFO_FIELD, info);
  return { machine: x, hv: withInjection(hv, null) };
};

export const vmcsValue = (m: Machine, enc: number): bigint => vmcsRead(currentFields(m.cpu), enc);
