/**
 * Shadow paging: the managed hypervisor's MMU when EPT is off (config mode "shadow"), after KVM's shadow MMU
 * (arch/x86/kvm/mmu/mmu.c, paging_tmpl.h). The processor walks the hypervisor's shadow tables (guest-linear to
 * host-physical, IA-32e format, a native walk: 4 references cold with 4-level paging); the guest's own tables live in
 * guest-physical memory and are never walked by the processor.
 *
 * Models (SDM Vol. 3C "VMX Non-Root Operation" for the exits this design relies on; SDM Vol. 3A "Paging" for the
 * entry formats and the page-fault error code):
 *  - Memslot: guest-physical memory is host memory at a fixed offset (host-physical = guest-physical + MEMSLOT_BASE).
 *  - CR3: CR3-load and CR3-store exiting with CR3-target count 0 (KVM without EPT), so every MOV to CR3 exits
 *    (CR_ACCESS). The hypervisor keeps the guest's CR3 value (MOV from CR3 returns it) and loads GUEST_CR3 with the
 *    shadow root of that guest CR3. Root cache: one shadow root per guest CR3 ever loaded, kept for the whole run
 *    (KVM finds a guest root's shadow page again in its hash of shadow pages, kvm_mmu_get_shadow_page, until memory
 *    pressure zaps it; the model never zaps roots). A new guest CR3 gets an empty shadow root. The switch flushes the
 *    current VPID's non-global TLB entries and paging-structure caches, as the guest's MOV to CR3 would.
 *  - #PF is in the exception bitmap (PFEC mask = match = 0: every #PF exits). On a #PF exit the hypervisor walks the
 *    guest's tables (paging_tmpl.h walk_addr) for the faulting address with the fault's access (error code W, U,
 *    I/D). If the guest maps it with the rights asked for, the fault is hidden: the shadow leaf is filled (frame =
 *    memslot address of the guest's frame; rights = the guest's rights ANDed over the walk; at the guest's page size;
 *    a guest page-table frame is mapped read-only) and the access is retried; the guest never sees it. Otherwise it
 *    is a true guest fault: #PF is injected at the next VM entry (VM-entry interruption information, error code from
 *    the guest walk: P = 1 when a present entry denied the access), with the guest's CR2 set to the address.
 *  - Write protection: every guest page-table frame the hypervisor walked through while filling the shadow is
 *    write-protected (KVM account_shadowed). A guest write to one exits as the #PF the guest's write through its
 *    direct map would take (write + present, address DIRECT_MAP_BASE + GPA, src/vmx/step.ts); the hypervisor
 *    emulates the write (the value comes in RAX) and zaps the shadow entries that mirror the written guest entry
 *    (KVM kvm_mmu_pte_write: no prefetch of the new value), then flushes the VPID's TLB when it zapped a present
 *    entry (kvm_flush_remote_tlbs). The guest's retried write then finds the value in place and completes.
 *  - INVLPG exiting: INVLPG exits; the hypervisor drops the shadow leaf of that address in the current root and the
 *    TLB entry (KVM kvm_mmu_invlpg), then skips the instruction.
 * Leaves out: guest A/D bits (the hypervisor does not set them in the guest's tables, and a clean guest page is not
 * shadowed read-only to catch the first write), write-flooding detection and unsync shadow pages (every write to a
 * protected frame exits), write-protecting a frame that already has writable shadow leaves (the guest OS model never
 * maps its own table frames), and the shadow roots' memory use. The PCID of the guest is ignored (CR4.PCIDE = 0).
 */
import { PAGE_SIZE, gvaFromBig } from '../arch/addr';
import * as Phys from '../arch/phys';
import * as Inv from '../mmu/invalidate';
import * as GuestBuild from '../guest/build';
import { guestIndex, PTE_HI_XD, PTE_P, PTE_PS, PTE_RW, PTE_US } from '../guest/paging';
import * as Instr from '../vmx/instructions';
import { currentFields, vmcsRead } from '../vmx/cpu';
import { F } from '../vmx/fields';
import { DIRECT_MAP_BASE } from '../vmx/step';
import type { Machine, ShadowView } from '../vmx/machine';

/** Host-physical base of the guest's memslot (1 TiB: above anything the model allocates for itself). */
export const MEMSLOT_BASE = 2 ** 40;

const TWO32 = 4294967296;
const ADDR_MASK = 0x000f_ffff_ffff_f000n;
/** Bytes one entry of a level-L table maps. */
const entryBytes = (level: number): number => 2 ** (12 + 9 * (level - 1));

/** Where a shadowed guest page-table frame is mirrored: the shadow root and the table's level and linear base. */
export interface Shadowed {
  readonly root: number;
  readonly level: number;
  readonly gvaBase: number;
}

export interface ShadowCounters {
  readonly hiddenFaults: number;
  readonly trueFaults: number;
  readonly emulatedWrites: number;
  readonly zaps: number;
  readonly rootSwitches: number;
  readonly invlpgs: number;
}

export interface ShadowState {
  readonly levels: 4 | 5;
  /** the guest's CR3 (guest-physical) */
  readonly guestCr3: bigint;
  /** the shadow root (host-physical) in GUEST_CR3 */
  readonly root: number;
  /** root cache: guest CR3 table address -> shadow root */
  readonly roots: ReadonlyMap<number, number>;
  /** write-protected guest page-table frames (GPA / 4096) and where the shadow mirrors them */
  readonly shadowed: ReadonlyMap<number, readonly Shadowed[]>;
  readonly counters: ShadowCounters;
}

const ZERO: ShadowCounters = { hiddenFaults: 0, trueFaults: 0, emulatedWrites: 0, zaps: 0, rootSwitches: 0, invlpgs: 0 };

export const initialShadow = (levels: 4 | 5, guestCr3: bigint, root: number): ShadowState => ({
  levels, guestCr3, root, roots: new Map([[Number(guestCr3 & ADDR_MASK), root]]), shadowed: new Map(), counters: ZERO,
});

/** What the running guest sees of the shadow state (Machine.shadow). */
export const viewOf = (s: ShadowState): ShadowView => {
  const last = views.get(s.shadowed);
  if (last !== undefined && last.guestCr3 === s.guestCr3) return last;
  const v: ShadowView = { memBase: MEMSLOT_BASE, guestCr3: s.guestCr3, writeProtected: keySet(s.shadowed) };
  views.set(s.shadowed, v);
  return v;
};

/** The last view built per shadowed-page map (a cache: the map is immutable, the view a function of it and CR3). */
const views = new WeakMap<ReadonlyMap<number, readonly Shadowed[]>, ShadowView>();

/** The keys of a map as a read-only set, without copying them (the map is never changed). */
const keySet = (m: ReadonlyMap<number, unknown>): ReadonlySet<number> => ({
  has: (k: number) => m.has(k),
  get size() { return m.size; },
  forEach: (cb: (v: number, k: number, s: ReadonlySet<number>) => void) => { for (const k of m.keys()) cb(k, k, keySet(m)); },
  keys: () => m.keys(),
  values: () => m.keys(),
  entries: function* () { for (const k of m.keys()) yield [k, k] as [number, number]; },
  [Symbol.iterator]: () => m.keys(),
} as ReadonlySet<number>);

const count = (s: ShadowState, k: keyof ShadowCounters): ShadowState => ({ ...s, counters: { ...s.counters, [k]: s.counters[k] + 1 } });

const vmwrite = (m: Machine, enc: number, v: bigint): Machine => {
  const r = Instr.vmwrite(m.cpu, enc, v);
  if (r.outcome.result !== 'VMsucceed') throw new Error(`shadow: VMWRITE ${enc.toString(16)} failed`);
  return { ...m, cpu: r.cpu };
};

/** The VPID the guest's TLB entries carry (0 when "enable VPID" is off). */
const vpidOf = (m: Machine): number => {
  const f = currentFields(m.cpu);
  const secOn = ((vmcsRead(f, F.CPU_BASED_VM_EXEC_CONTROL) >> 31n) & 1n) === 1n;
  const vpidOn = secOn && ((vmcsRead(f, F.SECONDARY_VM_EXEC_CONTROL) >> 5n) & 1n) === 1n;
  return vpidOn ? Number(vmcsRead(f, F.VIRTUAL_PROCESSOR_ID) & 0xffffn) : 0;
};

/** The machine with the guest's view of the new state. */
const synced = (m: Machine, s: ShadowState): Machine => ({ ...m, shadow: viewOf(s) });

/** Host-memory io for the shadow tables (host-physical addresses, no translation). */
const hostIo: GuestBuild.GuestPhysIo<Machine> = {
  read: (m, a) => ({ lo: Phys.read64Lo(m.cpu.mem, a), hi: Phys.read64Hi(m.cpu.mem, a) }),
  write: (m, a, lo, hi) => ({ ...m, cpu: { ...m.cpu, mem: Phys.write64Parts(m.cpu.mem, a, lo, hi) } }),
};

const frameOf = (lo: number, hi: number): number => ((lo & 0xffff_f000) >>> 0) + (hi & 0xfffff) * TWO32;

/** Clears the shadow entry of `level` that maps `gva` under `root`; `zapped` when it was present. */
const zapEntry = (m: Machine, root: number, levels: number, gva: number, level: number): { m: Machine; zapped: boolean } => {
  let table = root;
  for (let l = levels; l >= level; l--) {
    const a = table + 8 * guestIndex(gva, l);
    const lo = Phys.read64Lo(m.cpu.mem, a);
    if ((lo & PTE_P) === 0) return { m, zapped: false };
    if (l === level) return { m: hostIo.write(m, a, 0, 0), zapped: true };
    if (l <= 3 && (lo & PTE_PS) !== 0) return { m, zapped: false };
    table = frameOf(lo, Phys.read64Hi(m.cpu.mem, a));
  }
  return { m, zapped: false };
};

/**
 * MOV to CR3 (CR_ACCESS exit, type 0): switch to the cached shadow root of `value`, or a new empty one; GUEST_CR3 is
 * loaded with it. Returns the machine ready for the instruction to be skipped.
 */
export const loadCr3 = (s0: ShadowState, m0: Machine, value: bigint): { s: ShadowState; m: Machine } => {
  const key = Number(value & ADDR_MASK);
  let m = m0;
  let roots = s0.roots;
  let root = roots.get(key);
  if (root === undefined) {
    root = m.hostAlloc.next;
    m = { ...m, hostAlloc: { next: root + PAGE_SIZE }, cpu: { ...m.cpu, mem: Phys.updatePage(m.cpu.mem, root / PAGE_SIZE, (p) => { p.fill(0); }) } };
    roots = new Map(roots).set(key, root);
  }
  m = vmwrite(m, F.GUEST_CR3, BigInt(root));
  // the guest's MOV to CR3 flushes its non-global translations (SDM 4.10.4.1); the VPID tags them
  m = { ...m, mmu: Inv.movToCr3(m.mmu, vpidOf(m), 0, false) };
  const s = count({ ...s0, guestCr3: value, root, roots }, 'rootSwitches');
  return { s, m: synced(m, s) };
};

/** INVLPG exit: drop the shadow leaf of `gva` in the current root and its TLB entries (KVM kvm_mmu_invlpg). */
export const invlpg = (s0: ShadowState, m0: Machine, linear: bigint): { s: ShadowState; m: Machine } => {
  const gva = gvaFromBig(linear) as number;
  const m1 = GuestBuild.guestUnmap(hostIo, m0, s0.root, s0.levels, gva).state;
  const m = { ...m1, mmu: Inv.invlpg(m1.mmu, vpidOf(m1), 0, gva) };
  return { s: count(s0, 'invlpgs'), m };
};

/** Emulates the guest's write of `value` to guest-physical `gpa` (a write-protected page-table frame) and zaps the
 * shadow entries that mirror that guest entry. */
const emulateWrite = (s0: ShadowState, m0: Machine, gpa: number, value: bigint): { s: ShadowState; m: Machine } => {
  const lo = Number(value & 0xffff_ffffn);
  const hi = Number((value >> 32n) & 0xffff_ffffn);
  let m = hostIo.write(m0, gpa + MEMSLOT_BASE, lo, hi);
  let s = count(s0, 'emulatedWrites');
  let flush = false;
  const index = Math.floor((gpa % PAGE_SIZE) / 8);
  for (const w of s.shadowed.get(Math.floor(gpa / PAGE_SIZE)) ?? []) {
    const z = zapEntry(m, w.root, s.levels, w.gvaBase + index * entryBytes(w.level), w.level);
    m = z.m;
    if (z.zapped) { flush = true; s = count(s, 'zaps'); }
  }
  if (flush) m = { ...m, mmu: Inv.apply(m.mmu, { kind: 'vpid-single', vpid: vpidOf(m) }) };
  return { s, m };
};

export type FaultVerdict =
  /** a write to a write-protected guest table: emulated; the guest's write is retried and completes */
  | { readonly kind: 'emulated' }
  /** the guest maps the address: the shadow was filled; the access is retried */
  | { readonly kind: 'hidden' }
  /** the guest does not map it (or denies the access): inject #PF with this error code, CR2 = the address */
  | { readonly kind: 'guest'; readonly errorCode: number; readonly cr2: bigint };

const PF_P = 1;
const PF_W = 2;
const PF_U = 4;
const PF_ID = 16;

/**
 * A #PF exit (EXCEPTION_NMI, vector 14): `linear` from the exit qualification, `errorCode` from the VM-exit
 * interruption error code, the written value in RAX for a direct-map write.
 */
export const pageFault = (s0: ShadowState, m0: Machine, linear: bigint, errorCode: number): { s: ShadowState; m: Machine; verdict: FaultVerdict } => {
  if (linear >= DIRECT_MAP_BASE) {
    const gpa = Number(linear - DIRECT_MAP_BASE);
    if (s0.shadowed.has(Math.floor(gpa / PAGE_SIZE))) {
      const e = emulateWrite(s0, m0, gpa, m0.gprs.rax);
      return { s: e.s, m: synced(e.m, e.s), verdict: { kind: 'emulated' } };
    }
  }
  const gva = gvaFromBig(linear) as number;
  const write = (errorCode & PF_W) !== 0;
  const user = (errorCode & PF_U) !== 0;
  const fetch = (errorCode & PF_ID) !== 0;
  const mem = m0.cpu.mem;
  // paging_tmpl.h walk_addr: the guest's tables, read through the memslot
  let table = Number(s0.guestCr3 & ADDR_MASK);
  let rw = true;
  let us = true;
  let xd = false;
  const tables: { frame: number; level: number }[] = [];
  const trueFault = (present: boolean) => ({
    s: count(s0, 'trueFaults'), m: m0,
    verdict: { kind: 'guest' as const, cr2: linear, errorCode: (present ? PF_P : 0) | (errorCode & (PF_W | PF_U | PF_ID)) },
  });
  for (let l: number = s0.levels; l >= 1; l--) {
    tables.push({ frame: Math.floor(table / PAGE_SIZE), level: l });
    const a = table + 8 * guestIndex(gva, l) + MEMSLOT_BASE;
    const lo = Phys.read64Lo(mem, a);
    const hi = Phys.read64Hi(mem, a);
    if ((lo & PTE_P) === 0) return trueFault(false);
    rw &&= (lo & PTE_RW) !== 0;
    us &&= (lo & PTE_US) !== 0;
    xd ||= (hi & PTE_HI_XD) !== 0;
    const leaf = l === 1 || (l <= 3 && (lo & PTE_PS) !== 0);
    if (!leaf) { table = frameOf(lo, hi); continue; }
    // SDM 4.6 "Access Rights" (CR0.WP = 1: supervisor writes need R/W too)
    if ((write && !rw) || (user && !us) || (fetch && xd)) return trueFault(true);
    const bytes = entryBytes(l);
    const frame = frameOf(lo, hi) - (frameOf(lo, hi) % bytes);
    // hidden fault: fill the shadow leaf; a guest page-table frame is mapped read-only
    let s = count(s0, 'hiddenFaults');
    let shadowed = s.shadowed;
    for (const t of tables) {
      const list = shadowed.get(t.frame) ?? [];
      const gvaBase = gva - (gva % (entryBytes(t.level) * 512));
      if (list.some((x) => x.root === s.root && x.level === t.level && x.gvaBase === gvaBase)) continue;
      if (shadowed === s.shadowed) shadowed = new Map(shadowed);
      (shadowed as Map<number, readonly Shadowed[]>).set(t.frame, [...list, { root: s.root, level: t.level, gvaBase }]);
    }
    s = { ...s, shadowed };
    const protectedLeaf = l === 1 && shadowed.has(Math.floor(frame / PAGE_SIZE));
    const size: GuestBuild.GuestPageSize = l === 1 ? '4K' : l === 2 ? '2M' : '1G';
    const r = GuestBuild.guestMap(hostIo, m0, m0.hostAlloc, s.root, s.levels, gva, frame + MEMSLOT_BASE, size,
      { writable: rw && !protectedLeaf, user: us, executable: !xd });
    const m = { ...r.state, hostAlloc: r.alloc };
    return { s, m: synced(m, s), verdict: { kind: 'hidden' } };
  }
  return trueFault(false);
};
