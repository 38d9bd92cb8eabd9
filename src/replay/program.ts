/**
 * The managed hypervisor's VMCS program: what a KVM-like hypervisor writes into the VMCS for a 64-bit guest, from a
 * config (interface §3). Every default is KVM's choice in arch/x86/kvm/vmx/vmx.c (setup_vmcs_config,
 * init_vmcs, vmx_update_exception_bitmap, vmx_set_cr0/cr4, the possible-passthrough MSR list) and is listed in the
 * README "Defaults" section with that source.
 * Leaves out: the APIC virtualization features (virtual-APIC page, posted interrupts, APIC-access page): the model has
 * no local APIC, so "use TPR shadow" is off and CR8 accesses exit, as KVM configures a CPU without TPR shadow.
 */
import { isLeft, left, right, type Either } from 'fp-ts/Either';
import * as Phys from '../arch/phys';
import { PAGE_SIZE } from '../arch/addr';
import { allowedSettings, presetByName, type Caps } from '../vmx/caps';
import { controlValue, type ControlKind } from '../vmx/controls';
import { F, fieldByName, fieldByEncoding } from '../vmx/fields';
import { validGuestState64, validHostState } from '../vmx/defaultState';
import { encodeEptp } from '../ept/eptp';
import type { Config } from './config';

/** The control lists of each mode before the config's own lists replace them (KVM's choices). */
export const MODE_CONTROLS: Readonly<Record<'ept' | 'shadow', Readonly<Record<ControlKind, readonly string[]>>>> = {
  ept: {
    // vmx.c setup_vmcs_config: PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS
    pin: ['external-interrupt-exiting', 'nmi-exiting', 'virtual-nmis'],
    // CPU_BASED_HLT_EXITING | CR8_LOAD/STORE (no TPR shadow here) | UNCOND_IO_EXITING | MOV_DR_EXITING |
    // USE_TSC_OFFSETTING | MWAIT/MONITOR_EXITING | RDPMC_EXITING | USE_MSR_BITMAPS | ACTIVATE_SECONDARY_CONTROLS;
    // CR3 load/store and INVLPG exiting are dropped with EPT
    primary: ['hlt-exiting', 'use-tsc-offsetting', 'mwait-exiting', 'rdpmc-exiting', 'cr8-load-exiting', 'cr8-store-exiting',
      'mov-dr-exiting', 'unconditional-io-exiting', 'use-msr-bitmaps', 'monitor-exiting', 'activate-secondary-controls'],
    // SECONDARY_EXEC_ENABLE_EPT | ENABLE_VPID | ENABLE_RDTSCP | UNRESTRICTED_GUEST | WBINVD_EXITING
    secondary: ['enable-ept', 'enable-vpid', 'enable-rdtscp', 'unrestricted-guest', 'wbinvd-exiting'],
    tertiary: [],
    // VM_EXIT_HOST_ADDR_SPACE_SIZE | ACK_INTR_ON_EXIT | SAVE/LOAD_IA32_PAT | SAVE/LOAD_IA32_EFER
    exit: ['host-address-space-size', 'acknowledge-interrupt-on-exit', 'save-ia32-pat', 'load-ia32-pat', 'save-ia32-efer', 'load-ia32-efer'],
    // VM_ENTRY_IA32E_MODE (64-bit guest) | LOAD_IA32_PAT | LOAD_IA32_EFER
    entry: ['ia-32e-mode-guest', 'load-ia32-pat', 'load-ia32-efer'],
  },
  shadow: {
    pin: ['external-interrupt-exiting', 'nmi-exiting', 'virtual-nmis'],
    // without EPT KVM keeps CR3 load/store and INVLPG exiting (shadow paging must see them)
    primary: ['hlt-exiting', 'use-tsc-offsetting', 'invlpg-exiting', 'mwait-exiting', 'rdpmc-exiting', 'cr3-load-exiting', 'cr3-store-exiting',
      'cr8-load-exiting', 'cr8-store-exiting', 'mov-dr-exiting', 'unconditional-io-exiting', 'use-msr-bitmaps', 'monitor-exiting',
      'activate-secondary-controls'],
    secondary: ['enable-vpid', 'enable-rdtscp', 'wbinvd-exiting'],
    tertiary: [],
    exit: ['host-address-space-size', 'acknowledge-interrupt-on-exit', 'save-ia32-pat', 'load-ia32-pat', 'save-ia32-efer', 'load-ia32-efer'],
    entry: ['ia-32e-mode-guest', 'load-ia32-pat', 'load-ia32-efer'],
  },
};

/** MSRs KVM passes through (vmx.c vmx_possible_passthrough_msrs and the intercept setup for a 64-bit guest). */
export const PASSTHROUGH_MSRS: readonly { readonly msr: number; readonly read: boolean; readonly write: boolean; readonly name: string }[] = [
  { msr: 0x10, read: true, write: false, name: 'IA32_TIME_STAMP_COUNTER (read only)' },
  { msr: 0x48, read: true, write: true, name: 'IA32_SPEC_CTRL' },
  { msr: 0x49, read: false, write: true, name: 'IA32_PRED_CMD (write only)' },
  { msr: 0x10b, read: false, write: true, name: 'IA32_FLUSH_CMD (write only)' },
  { msr: 0x174, read: true, write: true, name: 'IA32_SYSENTER_CS' },
  { msr: 0x175, read: true, write: true, name: 'IA32_SYSENTER_ESP' },
  { msr: 0x176, read: true, write: true, name: 'IA32_SYSENTER_EIP' },
  { msr: 0xc0000100, read: true, write: true, name: 'IA32_FS_BASE' },
  { msr: 0xc0000101, read: true, write: true, name: 'IA32_GS_BASE' },
  { msr: 0xc0000102, read: true, write: true, name: 'IA32_KERNEL_GS_BASE' },
];

/** vmx.c vmx_update_exception_bitmap: #UD, #MC, #AC always; #PF only without EPT (shadow paging). */
export const exceptionBitmapFor = (mode: 'ept' | 'shadow'): number => (1 << 6) | (1 << 17) | (1 << 18) | (mode === 'shadow' ? 1 << 14 : 0);

const CR0_TS = 1n << 3n;
const CR0_WP = 1n << 16n;
const CR4_GUEST_OWNED = (1n << 1n) | (1n << 3n) | (1n << 8n) | (1n << 9n) | (1n << 10n) | (1n << 12n) | (1n << 7n) | (1n << 2n) | (1n << 16n);
const U64 = (1n << 64n) - 1n;

/** The guest-physical address of the guest OS model's first root table; its allocator starts above it. */
export const GUEST_TABLES_BASE = 16 * 1024 * 1024;
/** Host-physical memory below 1 MiB belongs to the scenario (interface §4). */
export const MODEL_MEMORY_BASE = 1024 * 1024;

export interface Program {
  readonly caps: Caps;
  /** VMCS writes in order (encoding, value) */
  readonly writes: readonly (readonly [number, bigint])[];
  /** memory with the bitmaps (and identity/prefaulted EPT) written */
  readonly mem: Phys.PhysMem;
  readonly hostAlloc: { readonly next: number };
  readonly guestAlloc: { readonly next: number };
  /** the EPT root (host-physical), when EPT is on */
  readonly eptRoot: number | null;
  /** the shadow root (host-physical) loaded in GUEST_CR3, in mode shadow */
  readonly shadowRoot: number | null;
  readonly guestCr3: bigint;
  /** VPID programmed (0 when off) */
  readonly vpid: number;
}

export interface ProgramProblem {
  readonly path: string;
  readonly expected: string;
  readonly found: string;
}

const bitsOf = (caps: Caps, kind: ControlKind, names: readonly string[], path: string): Either<ProgramProblem, bigint> => {
  const v = controlValue(kind, names);
  if (isLeft(v)) return left({ path, expected: `a ${kind} control name (${v.left.known.slice(0, 6).join(', ')}, ...)`, found: JSON.stringify(v.left.name) });
  // default1 bits come from the TRUE capability MSRs (interface §3)
  return right(v.right | allowedSettings(caps, kind).allowed0);
};

/** Resolves a VMCS key of the config ("0x2010" or a Linux vmcs_field name) to an encoding. */
export const fieldKey = (key: string): number | undefined => {
  if (/^(0[xX][0-9a-fA-F]+|[0-9]+)$/.test(key)) {
    const enc = Number(BigInt(key));
    return enc <= 0xffff_ffff ? enc : undefined;
  }
  return fieldByName(key)?.encoding;
};

/** A bitmap page with exactly the given bits set (its bytes written in one copy of the page). */
const bitmapPage = (mem: Phys.PhysMem, base: number, bits: readonly number[]): Phys.PhysMem => {
  const m = Phys.updatePage(mem, Math.floor(base / PAGE_SIZE), () => undefined);
  const bytes = new Map<number, number>();
  for (const b of bits) bytes.set(b >>> 3, (bytes.get(b >>> 3) ?? 0) | (1 << (b & 7)));
  return Phys.writeBytes(m, [...bytes].map(([off, v]) => [base + off, v] as const));
};

const msrBit = (msr: number, write: boolean): number | undefined => {
  if (msr <= 0x1fff) return (write ? 0x800 : 0) * 8 + msr;
  if (msr >= 0xc0000000 && msr <= 0xc0001fff) return (write ? 0xc00 : 0x400) * 8 + (msr - 0xc0000000);
  return undefined;
};

/**
 * Builds the VMCS program for `config` (mode ept or shadow). `vmcsAddr`: the VMCS region (the link pointer must not
 * point at it). Pure: returns the memory with the bitmaps written, and the allocators after what it took.
 */
export const buildProgram = (config: Config, mem0: Phys.PhysMem): Either<ProgramProblem, Program> => {
  const caps = presetByName(config.cpu);
  if (caps === undefined) return left({ path: 'config.cpu', expected: 'a CPU preset ("skylake-server" or "icelake-server")', found: JSON.stringify(config.cpu) });
  const mode = config.mode === 'shadow' ? 'shadow' : 'ept';
  let next = MODEL_MEMORY_BASE;
  const take = (): number => { const a = next; next += PAGE_SIZE; return a; };
  const msrBitmap = take();
  const ioA = take();
  const ioB = take();
  const pml = take();
  const eptRoot = mode === 'ept' ? take() : null;
  // shadow paging: GUEST_CR3 holds the root of the hypervisor's shadow table for the guest's first CR3 (an empty
  // table; src/replay/shadow.ts fills it on hidden page faults)
  const shadowRoot = mode === 'shadow' ? take() : null;
  let mem = mem0;

  const ctl: Partial<Record<ControlKind, bigint>> = {};
  const ioGiven = config.ioBitmap.exitPorts !== undefined;
  for (const kind of ['pin', 'primary', 'secondary', 'tertiary', 'exit', 'entry'] as const) {
    let names = config.controls[kind] ?? MODE_CONTROLS[mode][kind];
    if (config.controls[kind] === undefined) {
      if (kind === 'primary' && ioGiven) names = names.filter((n) => n !== 'unconditional-io-exiting').concat(['use-io-bitmaps']);
      if (kind === 'secondary' && config.ept.pml && mode === 'ept') names = [...names, 'enable-pml'];
      if (kind === 'entry' && config.guest.levels === 5) names = [...names];
    }
    const v = kind === 'tertiary' && names.length === 0 ? right(0n) : bitsOf(caps, kind, names, `config.controls.${kind}`);
    if (isLeft(v)) return v;
    ctl[kind] = v.right;
  }

  // MSR bitmap: KVM's passthrough list, unless the config lists the exiting MSRs itself
  const readExit = config.msrBitmap.readExit?.map(Number);
  const writeExit = config.msrBitmap.writeExit?.map(Number);
  const msrBits: number[] = [];
  const passR = new Set(PASSTHROUGH_MSRS.filter((p) => p.read).map((p) => p.msr));
  const passW = new Set(PASSTHROUGH_MSRS.filter((p) => p.write).map((p) => p.msr));
  const ranges = [[0, 0x1fff], [0xc0000000, 0xc0001fff]] as const;
  for (const write of [false, true]) {
    const listed = write ? writeExit : readExit;
    if (listed !== undefined) {
      for (const msr of listed) { const b = msrBit(msr, write); if (b !== undefined) msrBits.push(b); }
    } else {
      const pass = write ? passW : passR;
      for (const [lo, hi] of ranges) for (let msr = lo; msr <= hi; msr++) if (!pass.has(msr)) msrBits.push(msrBit(msr, write)!);
    }
  }
  mem = bitmapPage(mem, msrBitmap, msrBits);
  const ports: number[] = [];
  for (const [lo, hi] of config.ioBitmap.exitPorts ?? []) for (let p = Number(lo); p <= Number(hi); p++) ports.push(p);
  mem = bitmapPage(mem, ioA, ports.filter((p) => p < 0x8000));
  mem = bitmapPage(mem, ioB, ports.filter((p) => p >= 0x8000).map((p) => p - 0x8000));

  const guestCr3 = BigInt(GUEST_TABLES_BASE);
  const la57 = config.guest.levels === 5;
  // a Linux-like guest CR4: PAE, PGE, OSFXSR, OSXMMEXCPT, OSXSAVE (+ LA57), plus what VMX operation fixes to 1
  const cr4Guest = (1n << 5n) | (1n << 7n) | (1n << 9n) | (1n << 10n) | (1n << 18n) | (la57 ? 1n << 12n : 0n);
  const cr4 = (cr4Guest | caps.cr4Fixed0) & caps.cr4Fixed1;
  // RFLAGS.IF = 1: a running kernel takes interrupts (and an injected external interrupt needs IF, SDM entry checks)
  const guestState = validGuestState64(caps, { cr3: shadowRoot !== null ? BigInt(shadowRoot) : guestCr3, unrestricted: mode === 'ept' })
    .map(([e, v]) => (e === F.GUEST_CR4 ? [e, cr4] as [number, bigint] : e === F.GUEST_RFLAGS ? [e, 0x202n] as [number, bigint] : [e, v] as [number, bigint]));
  const cr0 = guestState.find(([e]) => e === F.GUEST_CR0)![1];
  const vpid = 1;
  const writes: (readonly [number, bigint])[] = [
    [F.PIN_BASED_VM_EXEC_CONTROL, ctl.pin!],
    [F.CPU_BASED_VM_EXEC_CONTROL, ctl.primary!],
    [F.SECONDARY_VM_EXEC_CONTROL, ctl.secondary!],
    [F.VM_EXIT_CONTROLS, ctl.exit!],
    [F.VM_ENTRY_CONTROLS, ctl.entry!],
    ...(ctl.tertiary !== 0n ? [[F.TERTIARY_VM_EXEC_CONTROL, ctl.tertiary!] as const] : []),
    [F.EXCEPTION_BITMAP, BigInt(exceptionBitmapFor(mode))],
    [F.PAGE_FAULT_ERROR_CODE_MASK, 0n],
    [F.PAGE_FAULT_ERROR_CODE_MATCH, 0n],
    [F.CR3_TARGET_COUNT, 0n],
    [F.MSR_BITMAP, BigInt(msrBitmap)],
    [F.IO_BITMAP_A, BigInt(ioA)],
    [F.IO_BITMAP_B, BigInt(ioB)],
    [F.VIRTUAL_PROCESSOR_ID, BigInt(vpid)],
    // vmx.c: CR0 guest-owned bits are TS (and WP with EPT); everything else is host-owned and shadowed
    [F.CR0_GUEST_HOST_MASK, U64 & ~(CR0_TS | (mode === 'ept' ? CR0_WP : 0n))],
    [F.CR0_READ_SHADOW, cr0],
    [F.CR4_GUEST_HOST_MASK, U64 & ~CR4_GUEST_OWNED],
    // the guest believes CR4.VMXE is 0 (KVM hides it behind the shadow)
    [F.CR4_READ_SHADOW, cr4 & ~(1n << 13n)],
    [F.TSC_OFFSET, 0n],
    [F.TSC_MULTIPLIER, 1n << 48n],
    [F.VM_EXIT_MSR_STORE_COUNT, 0n], [F.VM_EXIT_MSR_LOAD_COUNT, 0n], [F.VM_ENTRY_MSR_LOAD_COUNT, 0n],
    [F.VM_ENTRY_INTR_INFO_FIELD, 0n],
    ...(eptRoot !== null ? [[F.EPT_POINTER, encodeEptp({ root: eptRoot, levels: config.ept.levels, ad: config.ept.accessedDirty })] as const] : []),
    ...(config.ept.pml ? [[F.PML_ADDRESS, BigInt(pml)] as const, [F.GUEST_PML_INDEX, 511n] as const] : []),
    ...validHostState(caps),
    ...guestState,
  ];
  // raw VMCS writes last, in file order (interface §3)
  for (const [key, value] of config.vmcs) {
    const enc = fieldKey(key);
    if (enc === undefined || fieldByEncoding(enc & ~1) === undefined) {
      return left({ path: `config.vmcs.${key}`, expected: 'a VMCS field encoding ("0x2010") or Linux vmcs_field name ("TSC_OFFSET")', found: JSON.stringify(key) });
    }
    writes.push([enc, value]);
  }
  return right({
    caps, writes, mem, hostAlloc: { next }, guestAlloc: { next: GUEST_TABLES_BASE + PAGE_SIZE },
    eptRoot, shadowRoot, guestCr3, vpid,
  });
};
