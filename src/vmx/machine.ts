/**
 * The whole simulated machine as one immutable record: the processor's VMX state (src/vmx/cpu.ts), host-physical
 * memory, the host TSC, the translation caches, and, while the processor is in VMX non-root operation, the live guest
 * state and the controls that were loaded at VM entry.
 *
 * Models: SDM Vol. 3C "VMX Non-Root Operation" (the guest runs with the controls of the current VMCS; controls cannot
 * change until the next VM exit, since VMWRITE exits in non-root operation) and "VM Exits"/"VM Entries" for how guest
 * state moves between the VMCS and the processor.
 * Leaves out: general-purpose registers (only RIP, RFLAGS, CR0/CR2/CR3/CR4, EFER and the MSRs the trace language reads
 * are kept), segment state beyond what the entry checks read from the VMCS, and the host's own execution.
 */
import type { Gva } from '../arch/addr';
import type * as Phys from '../arch/phys';
import type { MmuCaches } from '../mmu/invalidate';
import type { CostModel } from '../mmu/cost';
import type { TlbConfig } from '../mmu/tlbConfig';
import type { Walk2dConfig } from '../mmu/walk2d';
import type { Caps } from './caps';
import { cpuWith, type Cpu } from './cpu';
import type { ExecControls } from './exitConditions';
import type { MemoryAccess } from '../guest/events';

/** Static parameters of a run (not state): what the CPU is and how accesses are priced. */
export interface Env {
  readonly caps: Caps;
  readonly tlb: TlbConfig;
  readonly cost: CostModel;
}

/** The guest's processor state while it runs (non-root), or the state of a native run. */
export interface GuestCpu {
  readonly cr0: bigint;
  readonly cr2: bigint;
  readonly cr3: bigint;
  readonly cr4: bigint;
  readonly cr8: bigint;
  readonly efer: bigint;
  readonly rip: bigint;
  readonly rflags: bigint;
  /** 0 active, 1 HLT (SDM "Guest Non-Register State") */
  readonly activity: number;
  /** PML index (the VMCS field is written back at VM exit) */
  readonly pmlIndex: number;
}

/** The VMX-preemption timer while the guest runs: the value at host TSC `since`. */
export interface TimerState {
  readonly value: number;
  readonly since: bigint;
}

/** What was loaded at VM entry and stays fixed until the next VM exit. */
export interface NonRoot {
  readonly controls: ExecControls;
  readonly walk: Walk2dConfig;
  readonly vpid: number;
  readonly timer: TimerState | null;
  /** a memory access that caused a VM exit: retried at the next VM entry, as on hardware */
  readonly retry: MemoryAccess | null;
}

export interface Machine {
  readonly cpu: Cpu;
  /** host TSC (IA32_TIME_STAMP_COUNTER) */
  readonly tsc: bigint;
  readonly mmu: MmuCaches;
  /** live guest state: in non-root operation, or always in a native run */
  readonly guest: GuestCpu | null;
  /** set while in VMX non-root operation */
  readonly nonRoot: NonRoot | null;
  /** a memory access that exited, kept across the exit so the next VM entry retries it */
  readonly pendingRetry: MemoryAccess | null;
  /** the guest's CR2 while the host runs: the VMCS has no CR2 field, so a VMM saves it at VM exit and restores it
   * before VM entry (KVM keeps vcpu->arch.cr2); undefined = 0 (a machine built by `machineWith` always has the key) */
  readonly savedCr2?: bigint;
  /** true: no VMX at all, the same trace on bare metal (config mode "native") */
  readonly native: boolean;
  /** the guest OS's allocator of guest-physical frames for its page tables (interface §3: upward from 16 MiB) */
  readonly guestAlloc: { readonly next: number };
  /** guest MSR values the trace can read or write (IA32_TSC_AUX, ...); missing = 0. Kept across exits, as a VMM
   * keeps the guest MSRs that the VMCS does not hold */
  readonly guestMsrs: ReadonlyMap<number, bigint>;
  /** the general-purpose registers the model needs: the operands of exiting instructions (MOV CR source in RAX,
   * WRMSR EDX:EAX in `rax` as one 64-bit value and ECX in `rcx`, CPUID EAX/ECX); software keeps them across exits */
  readonly gprs: { readonly rax: bigint; readonly rcx: bigint };
  /** the model's allocator of host-physical frames for EPT tables, guest memory, bitmaps (above 1 MiB) */
  readonly hostAlloc: { readonly next: number };
  /** shadow paging (config mode "shadow"): how the guest's own page-table writes reach memory; absent otherwise */
  readonly shadow?: ShadowView;
}

/**
 * Shadow paging as the running guest sees it (src/replay/shadow.ts keeps it up to date). EPT is off, so the guest's
 * "guest-physical" memory is host memory at a fixed offset (the hypervisor's memslot), and the guest's own CR3 value
 * is not what the processor walks (GUEST_CR3 holds the shadow root).
 */
export interface ShadowView {
  /** the memslot: host-physical = guest-physical + memBase */
  readonly memBase: number;
  /** the guest's own CR3 (a guest-physical address): the tables the guest OS edits */
  readonly guestCr3: bigint;
  /** guest-physical frame numbers whose direct-map shadow entries are read-only (the shadowed guest page tables):
   * a guest write to one of them is a #PF (write, present) */
  readonly writeProtected: ReadonlySet<number>;
}

/** `{ ...nr, retry }` as one literal in the key order of VM entry's (src/vmx/entry.ts `nonRootOf`): a spread makes an
 * object of another hidden class, and the memory-access path that reads it then handles two (every field of NonRoot
 * is listed: NON_ROOT_KEYS fails to compile when one is added and not here). */
export const nonRootWithRetry = (nr: NonRoot, retry: MemoryAccess | null): NonRoot =>
  ({ controls: nr.controls, walk: nr.walk, vpid: nr.vpid, timer: nr.timer, retry });
const NON_ROOT_KEYS = { controls: 1, walk: 1, vpid: 1, timer: 1, retry: 1 } as const satisfies Record<keyof NonRoot, 1>;
void NON_ROOT_KEYS;

export const mem = (m: Machine): Phys.PhysMem => m.cpu.mem;
/** The machine with another memory: `{ ...m, cpu: { ...m.cpu, mem } }` as the literals of `machineWith` and `cpuWith`
 * (an object made by a spread has another hidden class than one made by a literal: the exit path's optimized code then
 * handled two shapes of each, and the spread's shape, kept only while such an object lives, went at a full GC and
 * took that code with it). */
export const withMem = (m: Machine, mem: Phys.PhysMem): Machine => (mem === m.cpu.mem ? m : machineWithCpu(m, cpuWith(m.cpu, { mem })));

/** A VM exit as the hypervisor reads it from the VMCS (interface §4 `exit`, with bigints inside). */
export interface ExitRecord {
  readonly reason: number;
  readonly failedEntry: boolean;
  readonly qualification: bigint;
  readonly guestLinear?: bigint;
  readonly guestPhysical?: number;
  readonly instructionLength?: number;
  readonly interruptionInfo?: number;
  readonly interruptionErrorCode?: number;
  /** guest RIP at the exit (for the exit log) */
  readonly rip: bigint;
  /** host TSC at the exit */
  readonly tsc: bigint;
}

/** The outcome of one step (interface §4). */
export type Outcome =
  | { readonly result: 'VMsucceed'; readonly value?: bigint }
  | { readonly result: 'VMfailInvalid' }
  | { readonly result: 'VMfailValid'; readonly error: number }
  | { readonly result: 'entered'; readonly retried?: boolean }
  | { readonly result: 'exit'; readonly exit: ExitRecord }
  | { readonly result: 'passthrough'; readonly value?: bigint; readonly aux?: bigint }
  | { readonly result: 'fault'; readonly vector: number; readonly errorCode?: number };

export interface StepResult {
  readonly machine: Machine;
  readonly outcome: Outcome;
}

/** A memory-access event's guest-linear address as a number (for messages). */
export const gvaOf = (a: MemoryAccess): Gva => a.gva;

/** The parts of a machine the VM-exit/VM-entry path replaces (left out or undefined: kept). */
export interface MachinePatch {
  readonly cpu?: Cpu;
  readonly mmu?: MmuCaches;
  readonly guest?: GuestCpu | null;
  readonly nonRoot?: NonRoot | null;
  readonly pendingRetry?: MemoryAccess | null;
  readonly savedCr2?: bigint;
  readonly guestMsrs?: ReadonlyMap<number, bigint>;
  readonly gprs?: Machine['gprs'];
  readonly hostAlloc?: Machine['hostAlloc'];
  readonly guestAlloc?: Machine['guestAlloc'];
  readonly tsc?: bigint;
}

/**
 * `{ ...m, ...p }` as one object literal of a fixed shape: on the exit/entry path a spread of a Machine is a generic
 * object clone, several times the cost of listing the fields. Every field of Machine is listed (MACHINE_KEYS fails
 * to compile when one is added and not here).
 */
export const machineWith = (m: Machine, p: MachinePatch): Machine => machineOf(
  m, p.cpu ?? m.cpu, p.tsc ?? m.tsc, p.mmu ?? m.mmu, p.guest !== undefined ? p.guest : m.guest,
  p.nonRoot !== undefined ? p.nonRoot : m.nonRoot, p.pendingRetry !== undefined ? p.pendingRetry : m.pendingRetry,
  p.guestAlloc ?? m.guestAlloc, p.guestMsrs ?? m.guestMsrs, p.gprs ?? m.gprs, p.hostAlloc ?? m.hostAlloc, p.savedCr2 ?? m.savedCr2,
);

/**
 * The machine `m` (its `native` flag and shadow view) with every other field given: machineWith's literal without a
 * patch object. The paths of a first touch (VM exit and entry, the hypervisor's and the guest OS's page mappings) use
 * it through the helpers below: each of their calls of machineWith read its patch's fields with generic (megamorphic)
 * property loads, the patches being objects of a dozen shapes, ~70 instructions each.
 */
export const machineOf = (
  m: Machine, cpu: Cpu, tsc: bigint, mmu: MmuCaches, guest: GuestCpu | null, nonRoot: NonRoot | null,
  pendingRetry: MemoryAccess | null, guestAlloc: Machine['guestAlloc'], guestMsrs: ReadonlyMap<number, bigint>,
  gprs: Machine['gprs'], hostAlloc: Machine['hostAlloc'], savedCr2: bigint | undefined,
): Machine => {
  // `savedCr2` is always a key (undefined: none saved), so that a machine before the first exit has the shape of every
  // later one: a second shape, seen only at the start of a run, made the exit path's optimized code of a warm process
  // deoptimize at the first exit of each new run. The shadow view goes in the literal itself (adding it afterwards
  // changes the object's shape on every call), in the same key order
  if (m.shadow === undefined) {
    return { cpu, tsc, mmu, guest, nonRoot, pendingRetry, native: m.native, guestAlloc, guestMsrs, gprs, hostAlloc, savedCr2 };
  }
  return {
    cpu, tsc, mmu, guest, nonRoot, pendingRetry, native: m.native, guestAlloc, guestMsrs, gprs, hostAlloc, savedCr2,
    shadow: m.shadow,
  };
};

/** `machineWith(m, { guest })` (machineOf). */
export const machineWithGuest = (m: Machine, guest: GuestCpu | null): Machine => machineOf(
  m, m.cpu, m.tsc, m.mmu, guest, m.nonRoot, m.pendingRetry, m.guestAlloc, m.guestMsrs, m.gprs, m.hostAlloc, m.savedCr2);
/** `machineWith(m, { nonRoot })` (machineOf). */
export const machineWithNonRoot = (m: Machine, nonRoot: NonRoot | null): Machine => machineOf(
  m, m.cpu, m.tsc, m.mmu, m.guest, nonRoot, m.pendingRetry, m.guestAlloc, m.guestMsrs, m.gprs, m.hostAlloc, m.savedCr2);
/** `machineWith(m, { pendingRetry })` (machineOf). */
export const machineWithRetry = (m: Machine, pendingRetry: MemoryAccess | null): Machine => machineOf(
  m, m.cpu, m.tsc, m.mmu, m.guest, m.nonRoot, pendingRetry, m.guestAlloc, m.guestMsrs, m.gprs, m.hostAlloc, m.savedCr2);
/** `machineWith(m, { guestAlloc })` (machineOf). */
export const machineWithGuestAlloc = (m: Machine, guestAlloc: Machine['guestAlloc']): Machine => machineOf(
  m, m.cpu, m.tsc, m.mmu, m.guest, m.nonRoot, m.pendingRetry, guestAlloc, m.guestMsrs, m.gprs, m.hostAlloc, m.savedCr2);
/** `machineWith(m, { cpu, hostAlloc })` (machineOf). */
export const machineWithCpu = (m: Machine, cpu: Cpu, hostAlloc: Machine['hostAlloc'] = m.hostAlloc): Machine => machineOf(
  m, cpu, m.tsc, m.mmu, m.guest, m.nonRoot, m.pendingRetry, m.guestAlloc, m.guestMsrs, m.gprs, hostAlloc, m.savedCr2);

/**
 * `machineWith(m, { cpu, mmu, guest, nonRoot, pendingRetry: null, guestMsrs, gprs, savedCr2 })` with the patch as
 * arguments (`gprs` undefined: kept): the machine a VM exit or a fused exit round trip leaves, without a patch object.
 */
export const machineAfterExit = (
  m: Machine, cpu: Cpu, mmu: MmuCaches, guest: GuestCpu | null, nonRoot: NonRoot | null, guestMsrs: ReadonlyMap<number, bigint>,
  gprs: Machine['gprs'] | undefined, savedCr2: bigint,
): Machine => machineOf(m, cpu, m.tsc, mmu, guest, nonRoot, null, m.guestAlloc, guestMsrs, gprs ?? m.gprs, m.hostAlloc, savedCr2);

const MACHINE_KEYS = {
  cpu: 1, tsc: 1, mmu: 1, guest: 1, nonRoot: 1, pendingRetry: 1, savedCr2: 1, native: 1, guestAlloc: 1, guestMsrs: 1,
  gprs: 1, hostAlloc: 1, shadow: 1,
} as const satisfies Record<keyof Machine, 1>;
void MACHINE_KEYS;
