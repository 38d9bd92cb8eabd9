/**
 * The VM-entry checks of VMLAUNCH/VMRESUME, as one table of named checks.
 *
 * Models: SDM Vol. 3C "VM Entries": "Checks on VMX Controls" (VM-execution, VM-exit and VM-entry control fields,
 * failure = VMfailValid(7)), "Checks on Host State Area" (control registers and MSRs, segment and descriptor-table
 * registers, address-space size; failure = VMfailValid(8)), "Checking and Loading Guest State" (guest control
 * registers, segment registers, descriptor-table registers, RIP/RFLAGS, non-register state, PDPTEs; failure = VM
 * exit 33 with bit 31 set and qualification 0 / 2 / 3 / 4) and "Loading MSRs" (the VM-entry MSR-load list; failure
 * = VM exit 34, qualification = 1-based index of the failing entry). Rows keep the SDM's order within each class.
 *
 * Glossary: UG = "unrestricted guest", VID = "virtual-interrupt delivery", PI = "process posted interrupts",
 * IA-32e guest = the "IA-32e mode guest" VM-entry control, N = MAXPHYADDR.
 *
 * Leaves out: SMM and the dual-monitor treatment (the model is never in SMM, so "entry to SMM" and "deactivate
 * dual-monitor treatment" must be 0), CET/SSP, PKRS, BNDCFGS, RTIT, LBR_CTL, UINV, FRED, HLAT, SPP tables, IPI
 * virtualization, SGX enclave interruption, the executive-VMCS pointer; "model-specific" MSR-load refusals beyond
 * the microcode MSRs; the checks of step 4 of VMLAUNCH (launch state, MOV-SS blocking), which the instruction does.
 */

import { isBitSet as bit, isCanonical, smallNumberOf } from '../arch/addr';
import * as Phys from '../arch/phys';
import { allowedSettings, Caps, controlViolation, ControlKind, eptVpidCapBit, revisionId } from './caps';
import { changedFields, groupStamp, watchFields, writtenBetween } from './cpu';
import { F, FIELDS } from './fields';

export type VmcsFields = ReadonlyMap<number, bigint>;

export type CheckClass = 'control' | 'host' | 'guest' | 'msr-load';

export type EntryOutcome =
  | { readonly kind: 'VMfailValid'; readonly error: 7 | 8 }
  | { readonly kind: 'exit'; readonly reason: 33 | 34; readonly qualification: bigint };

export interface EntryContext {
  readonly caps: Caps;
  readonly fields: VmcsFields;
  /** host-physical memory: VMCS link region, virtual-APIC page, PDPTEs (without EPT), the MSR-load list */
  readonly mem: Phys.PhysMem;
  /** the current-VMCS pointer (physical address) */
  readonly currentVmcs: number;
  /** the VMXON pointer (physical address); unused outside SMM, kept for the SMM rules the model leaves out */
  readonly vmxonPtr: number;
  /** IA32_EFER.LMA of the host executing VMLAUNCH; default true (a 64-bit host) */
  readonly hostLma?: boolean;
}

/** What one check says: nothing (pass), a detail, or (MSR loading) a detail with the exit qualification. */
export type Verdict = undefined | string | { readonly detail: string; readonly qualification: bigint };

export interface EntryCheck {
  /** stable kebab-case name */
  readonly id: string;
  /** the SDM section title the rule is in */
  readonly sdm: string;
  readonly class: CheckClass;
  /** one line: what the rule demands */
  readonly rule: string;
  /** exit qualification of a guest-state failure (SDM "VM-Entry Failures During or After Loading Guest State") */
  readonly qualification?: bigint;
  readonly test: (ctx: EntryContext) => Verdict;
}

export interface EntryFailure {
  readonly id: string;
  readonly message: string;
  readonly sdm: string;
  readonly outcome: EntryOutcome;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading the VMCS

const rd = (ctx: EntryContext, enc: number): bigint => ctx.fields.get(enc) ?? 0n;
/** (1n << w) - 1n for widths 0..64, made once */
const WIDTH_MASKS: readonly bigint[] = Array.from({ length: 65 }, (_, w) => (1n << BigInt(w)) - 1n);
const bits = (v: bigint, lo: number, hi: number): bigint => (lo === 0 ? v : v >> BigInt(lo)) & WIDTH_MASKS[hi - lo + 1];
const hx = (v: bigint | number): string => '0x' + (typeof v === 'bigint' ? v : BigInt(v)).toString(16);
const maxPhy = (ctx: EntryContext): bigint => BigInt(ctx.caps.maxPhyAddr);
/** no bit at or above MAXPHYADDR */
const inWidth = (ctx: EntryContext, a: bigint): boolean => a >> maxPhy(ctx) === 0n;
/** a physical address aligned to 2^alignBits and below 2^MAXPHYADDR (SDM wording "valid physical address") */
const physOk = (ctx: EntryContext, a: bigint, alignBits: number): boolean =>
  (a & ((1n << BigInt(alignBits)) - 1n)) === 0n && inWidth(ctx, a);

const pin = (ctx: EntryContext): bigint => rd(ctx, F.PIN_BASED_VM_EXEC_CONTROL);
const primary = (ctx: EntryContext): bigint => rd(ctx, F.CPU_BASED_VM_EXEC_CONTROL);
/** SDM "Secondary Processor-Based VM-Execution Controls": all 0 when primary bit 31 ("activate secondary") is 0 */
const secondary = (ctx: EntryContext): bigint => (bit(primary(ctx), 31) ? rd(ctx, F.SECONDARY_VM_EXEC_CONTROL) : 0n);
const tertiary = (ctx: EntryContext): bigint => (bit(primary(ctx), 17) ? rd(ctx, F.TERTIARY_VM_EXEC_CONTROL) : 0n);
const exitCtl = (ctx: EntryContext): bigint => rd(ctx, F.VM_EXIT_CONTROLS);
const entryCtl = (ctx: EntryContext): bigint => rd(ctx, F.VM_ENTRY_CONTROLS);

// control bits (SDM tables "Pin-Based VM-Execution Controls" ... "VM-Entry Controls")
const PIN_EXT_INTR = 0, PIN_NMI_EXITING = 3, PIN_VIRTUAL_NMIS = 5, PIN_PREEMPTION_TIMER = 6, PIN_POSTED_INTR = 7;
const PRI_TERTIARY = 17, PRI_TPR_SHADOW = 21, PRI_NMI_WINDOW = 22, PRI_IO_BITMAPS = 25, PRI_MTF = 27;
const PRI_MSR_BITMAPS = 28, PRI_SECONDARY = 31;
const SEC_APIC_ACCESSES = 0, SEC_EPT = 1, SEC_X2APIC = 4, SEC_VPID = 5, SEC_UG = 7, SEC_APIC_REG = 8, SEC_VID = 9;
const SEC_VMFUNC = 13, SEC_SHADOW_VMCS = 14, SEC_PML = 17, SEC_EPT_VE = 18, SEC_MBEC = 22, SEC_SPP = 23;
const EXIT_HOST_64 = 9, EXIT_ACK_INTR = 15, EXIT_LOAD_PAT = 19, EXIT_LOAD_EFER = 21, EXIT_SAVE_TIMER = 22;
const EXIT_LOAD_PERF = 12;
const ENTRY_LOAD_DEBUG = 2, ENTRY_IA32E = 9, ENTRY_SMM = 10, ENTRY_DUAL_MONITOR = 11, ENTRY_LOAD_PERF = 13;
const ENTRY_LOAD_PAT = 14, ENTRY_LOAD_EFER = 15;

const ug = (ctx: EntryContext): boolean => bit(secondary(ctx), SEC_UG);
const ia32e = (ctx: EntryContext): boolean => bit(entryCtl(ctx), ENTRY_IA32E);
const host64 = (ctx: EntryContext): boolean => bit(exitCtl(ctx), EXIT_HOST_64);

// VM-entry interruption-information field (SDM "VM-Entry Controls for Event Injection")
const intrInfo = (ctx: EntryContext): bigint => rd(ctx, F.VM_ENTRY_INTR_INFO_FIELD);
const injecting = (ctx: EntryContext): boolean => bit(intrInfo(ctx), 31);
const injType = (ctx: EntryContext): number => Number(bits(intrInfo(ctx), 8, 10));
const injVector = (ctx: EntryContext): number => Number(bits(intrInfo(ctx), 0, 7));
const INTR_EXT = 0, INTR_NMI = 2, INTR_HW_EXC = 3, INTR_OTHER = 7;

/** Each allowed-0 bit 1 and each bit outside allowed-1 0 (SDM "VM-Execution Control Fields", A.3-A.5). */
const allowedRule = (ctx: EntryContext, kind: ControlKind, value: bigint): Verdict => {
  const v = controlViolation(ctx.caps, kind, value);
  if (v === undefined) return undefined;
  return `${hx(value)}: bits ${hx(v.mustBeOne)} must be 1, bits ${hx(v.mustBeZero)} must be 0`;
};

/** SDM "VM-Exit Control Fields" / "VM-Entry Control Fields": an MSR area of `count` 16-byte entries. */
const msrArea = (ctx: EntryContext, addrEnc: number, countEnc: number): Verdict => {
  const count = rd(ctx, countEnc);
  const addr = rd(ctx, addrEnc);
  if (count === 0n) return undefined;
  if ((addr & 0xfn) !== 0n) return `address ${hx(addr)} is not 16-byte aligned`;
  const last = addr + 16n * count - 1n;
  if (!inWidth(ctx, addr) || !inWidth(ctx, last)) return `bytes ${hx(addr)}..${hx(last)} exceed MAXPHYADDR`;
  return undefined;
};

/** SDM "Checks on Host Control Registers, MSRs, and SSP": each byte of IA32_PAT is 0, 1, 4, 5, 6 or 7. */
const patProblem = (pat: bigint): string | undefined => {
  for (let i = 0; i < 8; i++) {
    const t = Number(bits(pat, 8 * i, 8 * i + 7));
    if (t === 2 || t === 3 || t > 7) return `PAT entry ${i} = ${t} is not a memory type`;
  }
  return undefined;
};

/** IA32_EFER bits that exist on Intel 64: SCE (0), LME (8), LMA (10), NXE (11); the others are reserved. */
const EFER_DEFINED = 0xd01n;
/**
 * IA32_PERF_GLOBAL_CTRL bits that exist in the model: 8 general-purpose counters (7:0) and 3 fixed counters (34:32).
 * The real mask depends on CPUID leaf 0AH, which the capability presets do not carry.
 */
const PERF_GLOBAL_DEFINED = 0xffn | (0x7n << 32n);
/** IA32_DEBUGCTL bits that exist: LBR (0), BTF (1), TR..FREEZE_WHILE_SMM (14:6), RTM (15); 5:2 and 63:16 reserved. */
const DEBUGCTL_DEFINED = 0xffc3n;

const cr = (fixed0: bigint, fixed1: bigint, value: bigint, relax: bigint): Verdict => {
  const must1 = fixed0 & ~relax & ~value;
  const must0 = value & ~fixed1 & 0xffff_ffffn;
  const high = value >> 32n;
  if (must1 !== 0n || must0 !== 0n || high !== 0n) {
    return `${hx(value)}: bits ${hx(must1)} must be 1, bits ${hx(must0 | (high << 32n))} must be 0`;
  }
  return undefined;
};

// ---------------------------------------------------------------------------------------------------------------
// Guest segments (SDM "Checks on Guest Segment Registers")

interface Seg { readonly name: string; readonly sel: bigint; readonly base: bigint; readonly limit: bigint; readonly ar: bigint }
/** the segment registers in VMCS field order (GUEST_ES_* + 2k) */
const SEG_INDEX = { ES: 0, CS: 1, SS: 2, DS: 3, FS: 4, GS: 5, LDTR: 6, TR: 7 } as const;
type SegName = keyof typeof SEG_INDEX;
const seg = (ctx: EntryContext, name: SegName): Seg => {
  const k = SEG_INDEX[name];
  return {
    name,
    sel: rd(ctx, F.GUEST_ES_SELECTOR + 2 * k),
    base: rd(ctx, F.GUEST_ES_BASE + 2 * k),
    limit: rd(ctx, F.GUEST_ES_LIMIT + 2 * k),
    ar: rd(ctx, F.GUEST_ES_AR_BYTES + 2 * k),
  };
};
const usable = (s: Seg): boolean => !bit(s.ar, 16);
const arType = (s: Seg): number => Number(bits(s.ar, 0, 3));
const arDpl = (s: Seg): number => Number(bits(s.ar, 5, 6));
const rpl = (s: Seg): number => Number(s.sel & 3n);
const AR_RESERVED = 0xfffe0f00n;
/** G = 0 ⇒ limit[31:20] = 0; G = 1 ⇒ limit[11:0] = 0xFFF (SDM: the G bit and the limit agree) */
const limitOk = (s: Seg): boolean =>
  bit(s.ar, 15) ? (s.limit & 0xfffn) === 0xfffn : (s.limit & 0xfff0_0000n) === 0n;
const guestCr0 = (ctx: EntryContext): bigint => rd(ctx, F.GUEST_CR0);
const guestCr4 = (ctx: EntryContext): bigint => rd(ctx, F.GUEST_CR4);
const v8086 = (ctx: EntryContext): boolean => bit(rd(ctx, F.GUEST_RFLAGS), 17);
const guestLa57 = (ctx: EntryContext): boolean => bit(guestCr4(ctx), 12);
const TWO_48 = 1n << 48n, TWO_57 = 1n << 57n, TWO_64 = 1n << 64n;
/** the least 64-bit value whose bits 63:48 (63:57) are all 1 */
const HIGH_48 = TWO_64 - TWO_48, HIGH_57 = TWO_64 - TWO_57;
/** segment registers other than CS, LDTR, TR whose AR rules apply when usable */
const DATA_SEGS: readonly SegName[] = ['ES', 'SS', 'DS', 'FS', 'GS'];
/** the ones whose AR checks apply outside virtual-8086 mode: CS always, the others when usable */
const checkedSegs = (ctx: EntryContext): Seg[] =>
  [seg(ctx, 'CS'), ...DATA_SEGS.map((n) => seg(ctx, n)).filter(usable)];
const firstBad = (segs: readonly Seg[], bad: (s: Seg) => string | undefined): Verdict => {
  for (const s of segs) {
    const d = bad(s);
    if (d !== undefined) return `${s.name}: ${d}`;
  }
  return undefined;
};

// ---------------------------------------------------------------------------------------------------------------
// The MSR-load list (SDM "Loading MSRs"): 16-byte entries, index[31:0], reserved[63:32], value[127:64]

interface MsrEntry { readonly index: number; readonly reserved: number; readonly value: bigint }
/** Entries read beyond this count are not examined (the SDM recommends at most 512·(MISC[27:25]+1)). */
const MSR_LIST_SCAN_LIMIT = 8192;
const msrLoadList = (ctx: EntryContext): MsrEntry[] => {
  // an invalid area already fails "entry-msr-load-area" (VMfailValid(7)), so no MSR is loaded from it
  if (msrArea(ctx, F.VM_ENTRY_MSR_LOAD_ADDR, F.VM_ENTRY_MSR_LOAD_COUNT) !== undefined) return [];
  const count = Math.min(Number(rd(ctx, F.VM_ENTRY_MSR_LOAD_COUNT)), MSR_LIST_SCAN_LIMIT);
  const addr = Number(rd(ctx, F.VM_ENTRY_MSR_LOAD_ADDR));
  const out: MsrEntry[] = [];
  for (let i = 0; i < count; i++) {
    const a = addr + 16 * i;
    out.push({ index: Phys.read32(ctx.mem, a), reserved: Phys.read32(ctx.mem, a + 4), value: Phys.read64(ctx.mem, a + 8) });
  }
  return out;
};
const firstBadEntry = (ctx: EntryContext, bad: (e: MsrEntry) => string | undefined): Verdict => {
  const list = msrLoadList(ctx);
  for (let i = 0; i < list.length; i++) {
    const d = bad(list[i]);
    if (d !== undefined) return { detail: `entry ${i + 1} (MSR ${hx(list[i].index)}): ${d}`, qualification: BigInt(i + 1) };
  }
  return undefined;
};
const MSR_SYSENTER_ESP = 0x175, MSR_SYSENTER_EIP = 0x176, MSR_PAT = 0x277, MSR_EFER = 0xc0000080;
const MSR_LSTAR = 0xc0000082, MSR_CSTAR = 0xc0000083, MSR_KERNEL_GS_BASE = 0xc0000102;
const MSR_FS_BASE = 0xc0000100, MSR_GS_BASE = 0xc0000101, MSR_SMM_MONITOR_CTL = 0x9b;
const MSR_BIOS_UPDT_TRIG = 0x79, MSR_BIOS_SIGN_ID = 0x8b;
const CANONICAL_MSRS = new Set([MSR_SYSENTER_ESP, MSR_SYSENTER_EIP, MSR_LSTAR, MSR_CSTAR, MSR_KERNEL_GS_BASE]);
/** Would WRMSR of `value` to `index` at CPL 0 raise #GP? Modelled for the MSRs whose legal values the SDM fixes. */
const wrmsrFaults = (e: MsrEntry): string | undefined => {
  if (e.index === MSR_EFER && (e.value & ~EFER_DEFINED) !== 0n) return `EFER reserved bits ${hx(e.value & ~EFER_DEFINED)}`;
  if (e.index === MSR_PAT) return patProblem(e.value);
  // WRMSR of a non-canonical address to these MSRs is #GP (SDM "WRMSR"); 4-level width, as the host's CR4.LA57
  // is not in the VMCS at this point of the entry
  if (CANONICAL_MSRS.has(e.index) && !isCanonical(e.value, false)) return `${hx(e.value)} is not canonical`;
  return undefined;
};

// ---------------------------------------------------------------------------------------------------------------
// The table

const S_EXEC = 'Checks on VMX Controls: VM-Execution Control Fields';
const S_EXIT = 'Checks on VMX Controls: VM-Exit Control Fields';
const S_ENTRY = 'Checks on VMX Controls: VM-Entry Control Fields';
const S_HOST_CR = 'Checks on Host Control Registers, MSRs, and SSP';
const S_HOST_SEG = 'Checks on Host Segment and Descriptor-Table Registers';
const S_HOST_SIZE = 'Checks Related to Address-Space Size';
const S_GUEST_CR = 'Checks on Guest Control Registers, Debug Registers, and MSRs';
const S_GUEST_SEG = 'Checks on Guest Segment Registers';
const S_GUEST_DT = 'Checks on Guest Descriptor-Table Registers';
const S_GUEST_RIP = 'Checks on Guest RIP, RFLAGS, and SSP';
const S_GUEST_NR = 'Checks on Guest Non-Register State';
const S_GUEST_PDPTE = 'Checks on Guest Page-Directory-Pointer-Table Entries';
const S_MSR = 'Loading MSRs';

const row = (
  cls: CheckClass, sdm: string, id: string, rule: string, test: (ctx: EntryContext) => Verdict, qualification?: bigint,
): EntryCheck => (qualification === undefined ? { id, sdm, class: cls, rule, test } : { id, sdm, class: cls, rule, test, qualification });
/** The detail when `cond` holds (built only then: a passing check builds no message). */
const when = (cond: boolean, detail: () => string): string | undefined => (cond ? detail() : undefined);

// The guest-rip check in two parts: the rule the fields other than RIP select (read in the check's order, after RIP:
// "IA-32e mode guest", then CS.L, access-rights bit 13, then CR4.LA57), and the test of a RIP value against it.
// `ripOnly` keeps the rule of the memo's fields while only RIP (and the injection field) change.
/** RIP[63:32] = 0 */
const RIP_32 = 1;
/** bits 63:48 identical */
const RIP_48 = 2;
/** bits 63:57 identical */
const RIP_57 = 3;
const ripRuleOf = (c: EntryContext): number =>
  (!ia32e(c) || !bit(rd(c, F.GUEST_CS_AR_BYTES), 13) ? RIP_32 : guestLa57(c) ? RIP_57 : RIP_48);
/** the SDM demands bits 63:N be identical, one bit weaker than canonical: all 0 (below 2^N) or all 1 (from
 * 2^64 - 2^N up to 2^64 - 1) */
const ripPasses = (rule: number, rip: bigint): boolean => (rule === RIP_32
  ? rip >= 0n && rip <= 0xffff_ffffn
  : rip >= 0n && (rip < (rule === RIP_57 ? TWO_57 : TWO_48) || (rip >= (rule === RIP_57 ? HIGH_57 : HIGH_48) && rip < TWO_64)));

const controlChecks: readonly EntryCheck[] = [
  row('control', S_EXEC, 'pin-based-controls-allowed', 'pin-based controls within IA32_VMX_(TRUE_)PINBASED_CTLS',
    (c) => allowedRule(c, 'pin', pin(c))),
  row('control', S_EXEC, 'primary-controls-allowed', 'primary processor-based controls within IA32_VMX_(TRUE_)PROCBASED_CTLS',
    (c) => allowedRule(c, 'primary', primary(c))),
  row('control', S_EXEC, 'secondary-controls-allowed', 'secondary controls (when activated) within IA32_VMX_PROCBASED_CTLS2',
    (c) => (bit(primary(c), PRI_SECONDARY) ? allowedRule(c, 'secondary', secondary(c)) : undefined)),
  row('control', S_EXEC, 'tertiary-controls-allowed', 'tertiary controls (when activated) within IA32_VMX_PROCBASED_CTLS3',
    (c) => (bit(primary(c), PRI_TERTIARY) ? allowedRule(c, 'tertiary', tertiary(c)) : undefined)),
  row('control', S_EXEC, 'cr3-target-count', 'CR3-target count ≤ IA32_VMX_MISC[24:16]', (c) => {
    const n = rd(c, F.CR3_TARGET_COUNT);
    const max = bits(c.caps.misc, 16, 24);
    return when(n > max, () => `count ${n} > ${max}`);
  }),
  row('control', S_EXEC, 'io-bitmap-addresses', '"use I/O bitmaps" ⇒ I/O bitmap A and B 4-KByte aligned within MAXPHYADDR',
    (c) => {
      if (!bit(primary(c), PRI_IO_BITMAPS)) return undefined;
      const a = rd(c, F.IO_BITMAP_A), b = rd(c, F.IO_BITMAP_B);
      return when(!physOk(c, a, 12) || !physOk(c, b, 12), () => `A ${hx(a)}, B ${hx(b)}`);
    }),
  row('control', S_EXEC, 'msr-bitmap-address', '"use MSR bitmaps" ⇒ MSR-bitmap address 4-KByte aligned within MAXPHYADDR',
    (c) => when(bit(primary(c), PRI_MSR_BITMAPS) && !physOk(c, rd(c, F.MSR_BITMAP), 12), () => hx(rd(c, F.MSR_BITMAP)))),
  row('control', S_EXEC, 'virtual-apic-address', '"use TPR shadow" ⇒ virtual-APIC address 4-KByte aligned within MAXPHYADDR',
    (c) => when(bit(primary(c), PRI_TPR_SHADOW) && !physOk(c, rd(c, F.VIRTUAL_APIC_PAGE_ADDR), 12),
      () => hx(rd(c, F.VIRTUAL_APIC_PAGE_ADDR)))),
  row('control', S_EXEC, 'tpr-threshold-reserved', '"use TPR shadow" and no VID ⇒ TPR threshold bits 31:4 = 0', (c) => {
    const t = rd(c, F.TPR_THRESHOLD);
    return when(bit(primary(c), PRI_TPR_SHADOW) && !bit(secondary(c), SEC_VID) && (t & 0xffff_fff0n) !== 0n, () => hx(t));
  }),
  row('control', S_EXEC, 'tpr-threshold-vtpr',
    '"use TPR shadow", no VID, no "virtualize APIC accesses" ⇒ TPR threshold[3:0] ≤ VTPR[7:4]', (c) => {
      const s = secondary(c);
      if (!bit(primary(c), PRI_TPR_SHADOW) || bit(s, SEC_VID) || bit(s, SEC_APIC_ACCESSES)) return undefined;
      const vapic = rd(c, F.VIRTUAL_APIC_PAGE_ADDR);
      if (!physOk(c, vapic, 12)) return undefined;
      // VTPR is byte 80H of the virtual-APIC page
      const vtpr = Phys.read8(c.mem, Number(vapic) + 0x80);
      const thr = Number(rd(c, F.TPR_THRESHOLD) & 0xfn);
      return when(thr > vtpr >> 4, () => `threshold ${thr} > VTPR[7:4] ${vtpr >> 4}`);
    }),
  row('control', S_EXEC, 'tpr-shadow-required',
    'no "use TPR shadow" ⇒ "virtualize x2APIC mode", "APIC-register virtualization" and VID are 0', (c) => {
      const s = secondary(c);
      return when(!bit(primary(c), PRI_TPR_SHADOW) && (bit(s, SEC_X2APIC) || bit(s, SEC_APIC_REG) || bit(s, SEC_VID)),
        () => `secondary ${hx(s)}`);
    }),
  row('control', S_EXEC, 'virtual-nmis-need-nmi-exiting', '"NMI exiting" = 0 ⇒ "virtual NMIs" = 0',
    (c) => when(!bit(pin(c), PIN_NMI_EXITING) && bit(pin(c), PIN_VIRTUAL_NMIS), () => `pin ${hx(pin(c))}`)),
  row('control', S_EXEC, 'nmi-window-needs-virtual-nmis', '"virtual NMIs" = 0 ⇒ "NMI-window exiting" = 0',
    (c) => when(!bit(pin(c), PIN_VIRTUAL_NMIS) && bit(primary(c), PRI_NMI_WINDOW), () => `primary ${hx(primary(c))}`)),
  row('control', S_EXEC, 'apic-access-address', '"virtualize APIC accesses" ⇒ APIC-access address 4-KByte aligned within MAXPHYADDR',
    (c) => when(bit(secondary(c), SEC_APIC_ACCESSES) && !physOk(c, rd(c, F.APIC_ACCESS_ADDR), 12), () => hx(rd(c, F.APIC_ACCESS_ADDR)))),
  row('control', S_EXEC, 'x2apic-excludes-apic-accesses', '"virtualize x2APIC mode" ⇒ "virtualize APIC accesses" = 0',
    (c) => when(bit(secondary(c), SEC_X2APIC) && bit(secondary(c), SEC_APIC_ACCESSES), () => `secondary ${hx(secondary(c))}`)),
  row('control', S_EXEC, 'vid-needs-external-interrupt-exiting', 'VID ⇒ "external-interrupt exiting" = 1',
    (c) => when(bit(secondary(c), SEC_VID) && !bit(pin(c), PIN_EXT_INTR), () => `pin ${hx(pin(c))}`)),
  row('control', S_EXEC, 'posted-interrupts-controls', 'PI ⇒ VID = 1 and "acknowledge interrupt on exit" = 1',
    (c) => when(bit(pin(c), PIN_POSTED_INTR) && (!bit(secondary(c), SEC_VID) || !bit(exitCtl(c), EXIT_ACK_INTR)),
      () => `secondary ${hx(secondary(c))}, exit ${hx(exitCtl(c))}`)),
  row('control', S_EXEC, 'posted-interrupt-vector', 'PI ⇒ posted-interrupt notification vector bits 15:8 = 0',
    (c) => when(bit(pin(c), PIN_POSTED_INTR) && (rd(c, F.POSTED_INTR_NV) & 0xff00n) !== 0n, () => hx(rd(c, F.POSTED_INTR_NV)))),
  row('control', S_EXEC, 'posted-interrupt-descriptor', 'PI ⇒ posted-interrupt descriptor 64-byte aligned within MAXPHYADDR',
    (c) => when(bit(pin(c), PIN_POSTED_INTR) && !physOk(c, rd(c, F.POSTED_INTR_DESC_ADDR), 6), () => hx(rd(c, F.POSTED_INTR_DESC_ADDR)))),
  row('control', S_EXEC, 'vpid-nonzero', '"enable VPID" ⇒ VPID ≠ 0',
    (c) => when(bit(secondary(c), SEC_VPID) && (rd(c, F.VIRTUAL_PROCESSOR_ID) & 0xffffn) === 0n, () => 'VPID is 0')),
  row('control', S_EXEC, 'eptp-memory-type', '"enable EPT" ⇒ EPTP[2:0] is UC (0) or WB (6) and that type is in IA32_VMX_EPT_VPID_CAP',
    (c) => {
      if (!bit(secondary(c), SEC_EPT)) return undefined;
      const t = Number(bits(rd(c, F.EPT_POINTER), 0, 2));
      const ok = (t === 0 && eptVpidCapBit(c.caps, 8)) || (t === 6 && eptVpidCapBit(c.caps, 14));
      return when(!ok, () => `memory type ${t}`);
    }),
  row('control', S_EXEC, 'eptp-walk-length', '"enable EPT" ⇒ EPTP[5:3] is 3 (4-level) or 4 (5-level) as IA32_VMX_EPT_VPID_CAP allows',
    (c) => {
      if (!bit(secondary(c), SEC_EPT)) return undefined;
      const w = Number(bits(rd(c, F.EPT_POINTER), 3, 5));
      const ok = (w === 3 && eptVpidCapBit(c.caps, 6)) || (w === 4 && eptVpidCapBit(c.caps, 7));
      return when(!ok, () => `page-walk length ${w + 1}`);
    }),
  row('control', S_EXEC, 'eptp-accessed-dirty', '"enable EPT" ⇒ EPTP[6] (A/D flags) only if IA32_VMX_EPT_VPID_CAP[21]',
    (c) => when(bit(secondary(c), SEC_EPT) && bit(rd(c, F.EPT_POINTER), 6) && !eptVpidCapBit(c.caps, 21), () => 'A/D not supported')),
  row('control', S_EXEC, 'eptp-reserved-bits',
    '"enable EPT" ⇒ EPTP bit 7 only if IA32_VMX_EPT_VPID_CAP[23]; bits 11:8 and 63:N are 0', (c) => {
      if (!bit(secondary(c), SEC_EPT)) return undefined;
      const e = rd(c, F.EPT_POINTER);
      if (bit(e, 7) && !eptVpidCapBit(c.caps, 23)) return 'bit 7 (supervisor shadow-stack control) not supported';
      return when(bits(e, 8, 11) !== 0n || !inWidth(c, e), () => hx(e));
    }),
  row('control', S_EXEC, 'pml-needs-ept', '"enable PML" ⇒ "enable EPT"',
    (c) => when(bit(secondary(c), SEC_PML) && !bit(secondary(c), SEC_EPT), () => `secondary ${hx(secondary(c))}`)),
  row('control', S_EXEC, 'pml-address', '"enable PML" ⇒ PML address 4-KByte aligned within MAXPHYADDR',
    (c) => when(bit(secondary(c), SEC_PML) && !physOk(c, rd(c, F.PML_ADDRESS), 12), () => hx(rd(c, F.PML_ADDRESS)))),
  row('control', S_EXEC, 'unrestricted-guest-needs-ept', '"unrestricted guest" ⇒ "enable EPT"',
    (c) => when(ug(c) && !bit(secondary(c), SEC_EPT), () => `secondary ${hx(secondary(c))}`)),
  row('control', S_EXEC, 'mbec-needs-ept', '"mode-based execute control for EPT" ⇒ "enable EPT"',
    (c) => when(bit(secondary(c), SEC_MBEC) && !bit(secondary(c), SEC_EPT), () => `secondary ${hx(secondary(c))}`)),
  row('control', S_EXEC, 'spp-needs-ept', '"sub-page write permissions for EPT" ⇒ "enable EPT"',
    (c) => when(bit(secondary(c), SEC_SPP) && !bit(secondary(c), SEC_EPT), () => `secondary ${hx(secondary(c))}`)),
  row('control', S_EXEC, 'vm-function-controls', '"enable VM functions" ⇒ VM-function controls within IA32_VMX_VMFUNC',
    (c) => {
      const v = rd(c, F.VM_FUNCTION_CONTROL);
      return when(bit(secondary(c), SEC_VMFUNC) && (v & ~c.caps.vmfunc) !== 0n, () => hx(v));
    }),
  row('control', S_EXEC, 'eptp-switching',
    'EPTP switching ⇒ "enable EPT" and EPTP-list address 4-KByte aligned within MAXPHYADDR', (c) => {
      if (!bit(secondary(c), SEC_VMFUNC) || !bit(rd(c, F.VM_FUNCTION_CONTROL), 0)) return undefined;
      return when(!bit(secondary(c), SEC_EPT) || !physOk(c, rd(c, F.EPTP_LIST_ADDRESS), 12), () => hx(rd(c, F.EPTP_LIST_ADDRESS)));
    }),
  row('control', S_EXEC, 'vmcs-shadowing-bitmaps', '"VMCS shadowing" ⇒ VMREAD/VMWRITE bitmaps 4-KByte aligned within MAXPHYADDR',
    (c) => when(bit(secondary(c), SEC_SHADOW_VMCS) && (!physOk(c, rd(c, F.VMREAD_BITMAP), 12) || !physOk(c, rd(c, F.VMWRITE_BITMAP), 12)),
      () => `${hx(rd(c, F.VMREAD_BITMAP))}, ${hx(rd(c, F.VMWRITE_BITMAP))}`)),
  row('control', S_EXEC, 've-information-address', '"EPT-violation #VE" ⇒ #VE-information address 4-KByte aligned within MAXPHYADDR',
    (c) => when(bit(secondary(c), SEC_EPT_VE) && !physOk(c, rd(c, F.VE_INFORMATION_ADDRESS), 12), () => hx(rd(c, F.VE_INFORMATION_ADDRESS)))),
  // --- VM-exit control fields
  row('control', S_EXIT, 'exit-controls-allowed', 'primary VM-exit controls within IA32_VMX_(TRUE_)EXIT_CTLS',
    (c) => allowedRule(c, 'exit', exitCtl(c))),
  row('control', S_EXIT, 'preemption-timer-save', '"activate VMX-preemption timer" = 0 ⇒ "save VMX-preemption timer value" = 0',
    (c) => when(!bit(pin(c), PIN_PREEMPTION_TIMER) && bit(exitCtl(c), EXIT_SAVE_TIMER), () => `exit ${hx(exitCtl(c))}`)),
  row('control', S_EXIT, 'exit-msr-store-area', 'VM-exit MSR-store area 16-byte aligned, last byte within MAXPHYADDR',
    (c) => msrArea(c, F.VM_EXIT_MSR_STORE_ADDR, F.VM_EXIT_MSR_STORE_COUNT)),
  row('control', S_EXIT, 'exit-msr-load-area', 'VM-exit MSR-load area 16-byte aligned, last byte within MAXPHYADDR',
    (c) => msrArea(c, F.VM_EXIT_MSR_LOAD_ADDR, F.VM_EXIT_MSR_LOAD_COUNT)),
  // --- VM-entry control fields
  row('control', S_ENTRY, 'entry-controls-allowed', 'VM-entry controls within IA32_VMX_(TRUE_)ENTRY_CTLS',
    (c) => allowedRule(c, 'entry', entryCtl(c))),
  row('control', S_ENTRY, 'event-injection-type', 'injected event type ≠ 1 (reserved); type 7 only if "monitor trap flag" is supported',
    (c) => {
      if (!injecting(c)) return undefined;
      const t = injType(c);
      const mtf = bit(allowedSettings(c.caps, 'primary').allowed1, PRI_MTF);
      return when(t === 1 || (t === INTR_OTHER && !mtf), () => `type ${t}`);
    }),
  row('control', S_ENTRY, 'event-injection-vector', 'NMI ⇒ vector 2; hardware exception ⇒ vector ≤ 31; other event ⇒ vector 0',
    (c) => {
      if (!injecting(c)) return undefined;
      const t = injType(c), v = injVector(c);
      return when((t === INTR_NMI && v !== 2) || (t === INTR_HW_EXC && v > 31) || (t === INTR_OTHER && v !== 0),
        () => `type ${t} vector ${v}`);
    }),
  row('control', S_ENTRY, 'event-injection-error-code-bit',
    'deliver-error-code = 1 exactly for a hardware exception that pushes one in protected mode (any vector if IA32_VMX_BASIC[56])',
    (c) => {
      if (!injecting(c)) return undefined;
      const t = injType(c), v = injVector(c);
      const deliver = bit(intrInfo(c), 11);
      const protectedMode = bit(guestCr0(c), 0) || !ug(c);
      const anyVector = bit(c.caps.basic, 56);
      const pushes = [8, 10, 11, 12, 13, 14, 17, 21].includes(v);
      const must1 = t === INTR_HW_EXC && protectedMode && !anyVector && pushes;
      const must0 = t !== INTR_HW_EXC || !protectedMode || (!anyVector && !pushes);
      return when((must1 && !deliver) || (must0 && deliver), () => `type ${t} vector ${v} deliver-error-code ${deliver ? 1 : 0}`);
    }),
  row('control', S_ENTRY, 'event-injection-reserved', 'VM-entry interruption-information bits 30:12 = 0',
    (c) => when(injecting(c) && bits(intrInfo(c), 12, 30) !== 0n, () => hx(intrInfo(c)))),
  row('control', S_ENTRY, 'event-injection-error-code', 'deliver-error-code ⇒ VM-entry exception error code bits 31:16 = 0',
    (c) => when(injecting(c) && bit(intrInfo(c), 11) && (rd(c, F.VM_ENTRY_EXCEPTION_ERROR_CODE) & 0xffff_0000n) !== 0n,
      () => hx(rd(c, F.VM_ENTRY_EXCEPTION_ERROR_CODE)))),
  row('control', S_ENTRY, 'event-injection-instruction-length',
    'software interrupt/exception (types 4, 5, 6) ⇒ instruction length 1..15 (0 allowed if IA32_VMX_MISC[30])', (c) => {
      if (!injecting(c) || ![4, 5, 6].includes(injType(c))) return undefined;
      const len = rd(c, F.VM_ENTRY_INSTRUCTION_LEN);
      const min = bit(c.caps.misc, 30) ? 0n : 1n;
      return when(len < min || len > 15n, () => `length ${len}`);
    }),
  row('control', S_ENTRY, 'entry-msr-load-area', 'VM-entry MSR-load area 16-byte aligned, last byte within MAXPHYADDR',
    (c) => msrArea(c, F.VM_ENTRY_MSR_LOAD_ADDR, F.VM_ENTRY_MSR_LOAD_COUNT)),
  // the model is never in SMM: both controls must be 0 (SDM: "entry to SMM" and "deactivate dual-monitor
  // treatment" must be 0 if VM entry is not from SMM)
  row('control', S_ENTRY, 'entry-to-smm', '"entry to SMM" = 0 outside SMM',
    (c) => when(bit(entryCtl(c), ENTRY_SMM), () => `entry ${hx(entryCtl(c))}`)),
  row('control', S_ENTRY, 'deactivate-dual-monitor', '"deactivate dual-monitor treatment" = 0 outside SMM',
    (c) => when(bit(entryCtl(c), ENTRY_DUAL_MONITOR), () => `entry ${hx(entryCtl(c))}`)),
];

const hostCr4 = (c: EntryContext): bigint => rd(c, F.HOST_CR4);
const hostLa57 = (c: EntryContext): boolean => bit(hostCr4(c), 12);
const HOST_SELECTORS: ReadonlyArray<[string, number]> = [
  ['ES', F.HOST_ES_SELECTOR], ['CS', F.HOST_CS_SELECTOR], ['SS', F.HOST_SS_SELECTOR], ['DS', F.HOST_DS_SELECTOR],
  ['FS', F.HOST_FS_SELECTOR], ['GS', F.HOST_GS_SELECTOR], ['TR', F.HOST_TR_SELECTOR],
];
const HOST_BASES: ReadonlyArray<[string, number]> = [
  ['FS', F.HOST_FS_BASE], ['GS', F.HOST_GS_BASE], ['GDTR', F.HOST_GDTR_BASE], ['IDTR', F.HOST_IDTR_BASE], ['TR', F.HOST_TR_BASE],
];

const hostChecks: readonly EntryCheck[] = [
  row('host', S_HOST_CR, 'host-cr0-fixed', 'host CR0 obeys IA32_VMX_CR0_FIXED0/FIXED1',
    (c) => cr(c.caps.cr0Fixed0, c.caps.cr0Fixed1, rd(c, F.HOST_CR0), 0n)),
  row('host', S_HOST_CR, 'host-cr4-fixed', 'host CR4 obeys IA32_VMX_CR4_FIXED0/FIXED1',
    (c) => cr(c.caps.cr4Fixed0, c.caps.cr4Fixed1, hostCr4(c), 0n)),
  row('host', S_HOST_CR, 'host-cr3-width', 'host CR3 has no bit set at or above MAXPHYADDR',
    (c) => when(!inWidth(c, rd(c, F.HOST_CR3)), () => hx(rd(c, F.HOST_CR3)))),
  row('host', S_HOST_CR, 'host-sysenter-canonical', 'host IA32_SYSENTER_ESP and IA32_SYSENTER_EIP canonical', (c) => {
    const esp = rd(c, F.HOST_IA32_SYSENTER_ESP), eip = rd(c, F.HOST_IA32_SYSENTER_EIP);
    return when(!isCanonical(esp, hostLa57(c)) || !isCanonical(eip, hostLa57(c)), () => `ESP ${hx(esp)}, EIP ${hx(eip)}`);
  }),
  row('host', S_HOST_CR, 'host-perf-global-ctrl', '"load IA32_PERF_GLOBAL_CTRL" ⇒ host value has no reserved bit set', (c) => {
    const v = rd(c, F.HOST_IA32_PERF_GLOBAL_CTRL);
    return when(bit(exitCtl(c), EXIT_LOAD_PERF) && (v & ~PERF_GLOBAL_DEFINED) !== 0n, () => hx(v));
  }),
  row('host', S_HOST_CR, 'host-pat', '"load IA32_PAT" ⇒ every host PAT entry a valid memory type',
    (c) => (bit(exitCtl(c), EXIT_LOAD_PAT) ? patProblem(rd(c, F.HOST_IA32_PAT)) : undefined)),
  row('host', S_HOST_CR, 'host-efer', '"load IA32_EFER" ⇒ host EFER reserved bits 0, LMA = LME = "host address-space size"',
    (c) => {
      if (!bit(exitCtl(c), EXIT_LOAD_EFER)) return undefined;
      const e = rd(c, F.HOST_IA32_EFER);
      const h = host64(c);
      return when((e & ~EFER_DEFINED) !== 0n || bit(e, 10) !== h || bit(e, 8) !== h, () => hx(e));
    }),
  row('host', S_HOST_SEG, 'host-selector-rpl-ti', 'host ES, CS, SS, DS, FS, GS, TR selectors have RPL = 0 and TI = 0', (c) => {
    const bad = HOST_SELECTORS.filter(([, e]) => (rd(c, e) & 7n) !== 0n);
    return when(bad.length > 0, () => bad.map(([n, e]) => `${n} ${hx(rd(c, e))}`).join(', '));
  }),
  row('host', S_HOST_SEG, 'host-cs-nonzero', 'host CS selector ≠ 0', (c) => when(rd(c, F.HOST_CS_SELECTOR) === 0n, () => 'CS is 0')),
  row('host', S_HOST_SEG, 'host-tr-nonzero', 'host TR selector ≠ 0', (c) => when(rd(c, F.HOST_TR_SELECTOR) === 0n, () => 'TR is 0')),
  row('host', S_HOST_SEG, 'host-ss-nonzero', '"host address-space size" = 0 ⇒ host SS selector ≠ 0',
    (c) => when(!host64(c) && rd(c, F.HOST_SS_SELECTOR) === 0n, () => 'SS is 0')),
  row('host', S_HOST_SEG, 'host-bases-canonical', 'host FS, GS, GDTR, IDTR, TR bases canonical', (c) => {
    const bad = HOST_BASES.filter(([, e]) => !isCanonical(rd(c, e), hostLa57(c)));
    return when(bad.length > 0, () => bad.map(([n, e]) => `${n} ${hx(rd(c, e))}`).join(', '));
  }),
  row('host', S_HOST_SIZE, 'host-address-space-size',
    'host in IA-32e mode (IA32_EFER.LMA = 1) ⇒ "host address-space size" = 1; otherwise it and "IA-32e mode guest" are 0', (c) => {
      const lma = c.hostLma ?? true;
      if (lma) return when(!host64(c), () => 'host address-space size is 0 on a 64-bit host');
      return when(host64(c) || ia32e(c), () => 'host is not in IA-32e mode');
    }),
  row('host', S_HOST_SIZE, 'host-32-ia32e-guest', '"host address-space size" = 0 ⇒ "IA-32e mode guest" = 0',
    (c) => when(!host64(c) && ia32e(c), () => `entry ${hx(entryCtl(c))}`)),
  row('host', S_HOST_SIZE, 'host-32-pcide', '"host address-space size" = 0 ⇒ host CR4.PCIDE = 0',
    (c) => when(!host64(c) && bit(hostCr4(c), 17), () => hx(hostCr4(c)))),
  row('host', S_HOST_SIZE, 'host-32-rip', '"host address-space size" = 0 ⇒ host RIP[63:32] = 0',
    (c) => when(!host64(c) && rd(c, F.HOST_RIP) >> 32n !== 0n, () => hx(rd(c, F.HOST_RIP)))),
  row('host', S_HOST_SIZE, 'host-64-pae', '"host address-space size" = 1 ⇒ host CR4.PAE = 1',
    (c) => when(host64(c) && !bit(hostCr4(c), 5), () => hx(hostCr4(c)))),
  row('host', S_HOST_SIZE, 'host-64-rip-canonical', '"host address-space size" = 1 ⇒ host RIP canonical',
    (c) => when(host64(c) && !isCanonical(rd(c, F.HOST_RIP), hostLa57(c)), () => hx(rd(c, F.HOST_RIP)))),
];

const guestChecks: readonly EntryCheck[] = [
  // --- control registers, debug registers, MSRs
  row('guest', S_GUEST_CR, 'guest-cr0-fixed', 'guest CR0 obeys IA32_VMX_CR0_FIXED0/FIXED1 (PE and PG free with "unrestricted guest")',
    (c) => cr(c.caps.cr0Fixed0, c.caps.cr0Fixed1, guestCr0(c), ug(c) ? 0x8000_0001n : 0n)),
  row('guest', S_GUEST_CR, 'guest-cr0-pg-needs-pe', 'guest CR0.PG = 1 ⇒ CR0.PE = 1',
    (c) => when(bit(guestCr0(c), 31) && !bit(guestCr0(c), 0), () => hx(guestCr0(c)))),
  row('guest', S_GUEST_CR, 'guest-cr4-fixed', 'guest CR4 obeys IA32_VMX_CR4_FIXED0/FIXED1',
    (c) => cr(c.caps.cr4Fixed0, c.caps.cr4Fixed1, guestCr4(c), 0n)),
  row('guest', S_GUEST_CR, 'guest-debugctl', '"load debug controls" ⇒ guest IA32_DEBUGCTL reserved bits 0', (c) => {
    const v = rd(c, F.GUEST_IA32_DEBUGCTL);
    return when(bit(entryCtl(c), ENTRY_LOAD_DEBUG) && (v & ~DEBUGCTL_DEFINED) !== 0n, () => hx(v));
  }),
  row('guest', S_GUEST_CR, 'guest-ia32e-pg-pae', '"IA-32e mode guest" ⇒ guest CR0.PG = 1 and CR4.PAE = 1',
    (c) => when(ia32e(c) && (!bit(guestCr0(c), 31) || !bit(guestCr4(c), 5)), () => `CR0 ${hx(guestCr0(c))}, CR4 ${hx(guestCr4(c))}`)),
  row('guest', S_GUEST_CR, 'guest-pcide-needs-ia32e', '"IA-32e mode guest" = 0 ⇒ guest CR4.PCIDE = 0',
    (c) => when(!ia32e(c) && bit(guestCr4(c), 17), () => hx(guestCr4(c)))),
  row('guest', S_GUEST_CR, 'guest-cr3-width', 'guest CR3 has no bit set at or above MAXPHYADDR',
    (c) => when(!inWidth(c, rd(c, F.GUEST_CR3)), () => hx(rd(c, F.GUEST_CR3)))),
  row('guest', S_GUEST_CR, 'guest-dr7', '"load debug controls" ⇒ guest DR7[63:32] = 0',
    (c) => when(bit(entryCtl(c), ENTRY_LOAD_DEBUG) && rd(c, F.GUEST_DR7) >> 32n !== 0n, () => hx(rd(c, F.GUEST_DR7)))),
  row('guest', S_GUEST_CR, 'guest-sysenter-canonical', 'guest IA32_SYSENTER_ESP and IA32_SYSENTER_EIP canonical', (c) => {
    const esp = rd(c, F.GUEST_SYSENTER_ESP), eip = rd(c, F.GUEST_SYSENTER_EIP);
    return when(!isCanonical(esp, guestLa57(c)) || !isCanonical(eip, guestLa57(c)), () => `ESP ${hx(esp)}, EIP ${hx(eip)}`);
  }),
  row('guest', S_GUEST_CR, 'guest-perf-global-ctrl', '"load IA32_PERF_GLOBAL_CTRL" ⇒ guest value has no reserved bit set', (c) => {
    const v = rd(c, F.GUEST_IA32_PERF_GLOBAL_CTRL);
    return when(bit(entryCtl(c), ENTRY_LOAD_PERF) && (v & ~PERF_GLOBAL_DEFINED) !== 0n, () => hx(v));
  }),
  row('guest', S_GUEST_CR, 'guest-pat', '"load IA32_PAT" ⇒ every guest PAT entry a valid memory type',
    (c) => (bit(entryCtl(c), ENTRY_LOAD_PAT) ? patProblem(rd(c, F.GUEST_IA32_PAT)) : undefined)),
  row('guest', S_GUEST_CR, 'guest-efer-reserved', '"load IA32_EFER" ⇒ guest EFER reserved bits 0', (c) => {
    const e = rd(c, F.GUEST_IA32_EFER);
    return when(bit(entryCtl(c), ENTRY_LOAD_EFER) && (e & ~EFER_DEFINED) !== 0n, () => hx(e));
  }),
  row('guest', S_GUEST_CR, 'guest-efer-lma', '"load IA32_EFER" ⇒ guest EFER.LMA = "IA-32e mode guest"',
    (c) => when(bit(entryCtl(c), ENTRY_LOAD_EFER) && bit(rd(c, F.GUEST_IA32_EFER), 10) !== ia32e(c), () => hx(rd(c, F.GUEST_IA32_EFER)))),
  row('guest', S_GUEST_CR, 'guest-efer-lme', '"load IA32_EFER" and CR0.PG = 1 ⇒ guest EFER.LME = EFER.LMA', (c) => {
    const e = rd(c, F.GUEST_IA32_EFER);
    return when(bit(entryCtl(c), ENTRY_LOAD_EFER) && bit(guestCr0(c), 31) && bit(e, 8) !== bit(e, 10), () => hx(e));
  }),
  // --- segment registers
  row('guest', S_GUEST_SEG, 'guest-v8086-segments',
    'RFLAGS.VM = 1 ⇒ each of CS, SS, DS, ES, FS, GS has base = selector·16, limit FFFFH, access rights F3H', (c) => {
      if (!v8086(c)) return undefined;
      return firstBad((['CS', 'SS', 'DS', 'ES', 'FS', 'GS'] as const).map((n) => seg(c, n)), (s) =>
        when(s.base !== s.sel << 4n || s.limit !== 0xffffn || s.ar !== 0xf3n,
          () => `base ${hx(s.base)}, limit ${hx(s.limit)}, AR ${hx(s.ar)}`));
    }),
  row('guest', S_GUEST_SEG, 'guest-tr-ldtr-selector-ti', 'TR selector TI = 0; usable LDTR selector TI = 0', (c) => {
    const tr = seg(c, 'TR'), ldtr = seg(c, 'LDTR');
    return when(bit(tr.sel, 2) || (usable(ldtr) && bit(ldtr.sel, 2)), () => `TR ${hx(tr.sel)}, LDTR ${hx(ldtr.sel)}`);
  }),
  row('guest', S_GUEST_SEG, 'guest-ss-cs-rpl', 'not virtual-8086 and no "unrestricted guest" ⇒ SS.RPL = CS.RPL', (c) => {
    const ss = seg(c, 'SS'), cs = seg(c, 'CS');
    return when(!v8086(c) && !ug(c) && rpl(ss) !== rpl(cs), () => `SS ${hx(ss.sel)}, CS ${hx(cs.sel)}`);
  }),
  row('guest', S_GUEST_SEG, 'guest-segment-bases',
    'TR, FS, GS (and usable LDTR) bases canonical; CS base and usable SS, DS, ES bases have bits 63:32 = 0', (c) => {
      const la57 = guestLa57(c);
      const canon = [seg(c, 'TR'), seg(c, 'FS'), seg(c, 'GS'), seg(c, 'LDTR')].filter((s) => s.name !== 'LDTR' || usable(s));
      const low = [seg(c, 'CS'), ...(['SS', 'DS', 'ES'] as const).map((n) => seg(c, n)).filter(usable)];
      return firstBad(canon, (s) => when(!isCanonical(s.base, la57), () => `base ${hx(s.base)} not canonical`)) ??
        firstBad(low, (s) => when(s.base >> 32n !== 0n, () => `base ${hx(s.base)} above 4 GBytes`));
    }),
  row('guest', S_GUEST_SEG, 'guest-cs-type', 'CS type 9, 11, 13 or 15 (or 3 with "unrestricted guest")', (c) => {
    if (v8086(c)) return undefined;
    const t = arType(seg(c, 'CS'));
    return when(![9, 11, 13, 15].includes(t) && !(t === 3 && ug(c)), () => `type ${t}`);
  }),
  row('guest', S_GUEST_SEG, 'guest-data-segment-types',
    'usable SS type 3 or 7; usable DS, ES, FS, GS accessed, and readable if code', (c) => {
      if (v8086(c)) return undefined;
      const ss = seg(c, 'SS');
      if (usable(ss) && ![3, 7].includes(arType(ss))) return `SS: type ${arType(ss)}`;
      return firstBad((['DS', 'ES', 'FS', 'GS'] as const).map((n) => seg(c, n)).filter(usable), (s) => {
        const t = arType(s);
        return when((t & 1) === 0 || ((t & 8) !== 0 && (t & 2) === 0), () => `type ${t}`);
      });
    }),
  row('guest', S_GUEST_SEG, 'guest-segment-s', 'CS and usable SS, DS, ES, FS, GS have S = 1 (code or data)',
    (c) => (v8086(c) ? undefined : firstBad(checkedSegs(c), (s) => when(!bit(s.ar, 4), () => 'S = 0')))),
  row('guest', S_GUEST_SEG, 'guest-cs-dpl',
    'CS type 3 ⇒ DPL 0; type 9 or 11 ⇒ DPL = SS.DPL; type 13 or 15 ⇒ DPL ≤ SS.DPL', (c) => {
      if (v8086(c)) return undefined;
      const cs = seg(c, 'CS'), ss = seg(c, 'SS');
      const t = arType(cs), d = arDpl(cs), sd = arDpl(ss);
      const bad = (t === 3 && d !== 0) || ((t === 9 || t === 11) && d !== sd) || ((t === 13 || t === 15) && d > sd);
      return when(bad, () => `CS type ${t} DPL ${d}, SS.DPL ${sd}`);
    }),
  row('guest', S_GUEST_SEG, 'guest-ss-dpl',
    'no "unrestricted guest" ⇒ SS.DPL = SS.RPL; CS type 3 or CR0.PE = 0 ⇒ SS.DPL = 0', (c) => {
      if (v8086(c)) return undefined;
      const ss = seg(c, 'SS');
      const bad = (!ug(c) && arDpl(ss) !== rpl(ss)) ||
        ((arType(seg(c, 'CS')) === 3 || !bit(guestCr0(c), 0)) && arDpl(ss) !== 0);
      return when(bad, () => `SS selector ${hx(ss.sel)} DPL ${arDpl(ss)}`);
    }),
  row('guest', S_GUEST_SEG, 'guest-data-segment-dpl',
    'no "unrestricted guest" ⇒ usable DS, ES, FS, GS of type 0..11 have DPL ≥ RPL', (c) => {
      if (v8086(c) || ug(c)) return undefined;
      return firstBad((['DS', 'ES', 'FS', 'GS'] as const).map((n) => seg(c, n)).filter(usable),
        (s) => when(arType(s) <= 11 && arDpl(s) < rpl(s), () => `DPL ${arDpl(s)} < RPL ${rpl(s)}`));
    }),
  row('guest', S_GUEST_SEG, 'guest-segment-present', 'CS and usable SS, DS, ES, FS, GS are present (P = 1)',
    (c) => (v8086(c) ? undefined : firstBad(checkedSegs(c), (s) => when(!bit(s.ar, 7), () => 'P = 0')))),
  row('guest', S_GUEST_SEG, 'guest-segment-ar-reserved', 'CS and usable SS, DS, ES, FS, GS have AR bits 11:8 and 31:17 = 0',
    (c) => (v8086(c) ? undefined : firstBad(checkedSegs(c), (s) => when((s.ar & AR_RESERVED) !== 0n, () => `AR ${hx(s.ar)}`)))),
  row('guest', S_GUEST_SEG, 'guest-cs-l-d', '"IA-32e mode guest" and CS.L = 1 ⇒ CS.D = 0', (c) => {
    const cs = seg(c, 'CS');
    return when(!v8086(c) && ia32e(c) && bit(cs.ar, 13) && bit(cs.ar, 14), () => `AR ${hx(cs.ar)}`);
  }),
  row('guest', S_GUEST_SEG, 'guest-segment-granularity', 'CS and usable SS, DS, ES, FS, GS: G and limit agree',
    (c) => (v8086(c) ? undefined : firstBad(checkedSegs(c), (s) => when(!limitOk(s), () => `limit ${hx(s.limit)}, AR ${hx(s.ar)}`)))),
  row('guest', S_GUEST_SEG, 'guest-tr-type', 'TR type 11 (busy 64-bit TSS) with "IA-32e mode guest"; else 3 or 11', (c) => {
    const t = arType(seg(c, 'TR'));
    return when(ia32e(c) ? t !== 11 : t !== 3 && t !== 11, () => `type ${t}`);
  }),
  row('guest', S_GUEST_SEG, 'guest-tr-descriptor', 'TR usable, S = 0, P = 1, AR reserved bits 0, G and limit agree', (c) => {
    const tr = seg(c, 'TR');
    const bad = !usable(tr) || bit(tr.ar, 4) || !bit(tr.ar, 7) || (tr.ar & AR_RESERVED) !== 0n || !limitOk(tr);
    return when(bad, () => `limit ${hx(tr.limit)}, AR ${hx(tr.ar)}`);
  }),
  row('guest', S_GUEST_SEG, 'guest-ldtr-descriptor', 'usable LDTR: type 2, S = 0, P = 1, AR reserved bits 0, G and limit agree',
    (c) => {
      const l = seg(c, 'LDTR');
      if (!usable(l)) return undefined;
      const bad = arType(l) !== 2 || bit(l.ar, 4) || !bit(l.ar, 7) || (l.ar & AR_RESERVED) !== 0n || !limitOk(l);
      return when(bad, () => `limit ${hx(l.limit)}, AR ${hx(l.ar)}`);
    }),
  // --- descriptor-table registers
  row('guest', S_GUEST_DT, 'guest-gdtr-idtr-bases', 'GDTR and IDTR bases canonical', (c) => {
    const g = rd(c, F.GUEST_GDTR_BASE), i = rd(c, F.GUEST_IDTR_BASE);
    return when(!isCanonical(g, guestLa57(c)) || !isCanonical(i, guestLa57(c)), () => `GDTR ${hx(g)}, IDTR ${hx(i)}`);
  }),
  row('guest', S_GUEST_DT, 'guest-gdtr-idtr-limits', 'GDTR and IDTR limits bits 31:16 = 0', (c) => {
    const g = rd(c, F.GUEST_GDTR_LIMIT), i = rd(c, F.GUEST_IDTR_LIMIT);
    return when(g > 0xffffn || i > 0xffffn, () => `GDTR ${hx(g)}, IDTR ${hx(i)}`);
  }),
  // --- RIP and RFLAGS
  row('guest', S_GUEST_RIP, 'guest-rip',
    'RIP[63:32] = 0 unless "IA-32e mode guest" and CS.L = 1; then bits 63:N (N = linear-address width) identical', (c) => {
      // this check re-runs on every entry that moved RIP: comparisons with constants, no shifts (no new bigints)
      const rip = rd(c, F.GUEST_RIP);
      return ripPasses(ripRuleOf(c), rip) ? undefined : hx(rip);
    }),
  row('guest', S_GUEST_RIP, 'guest-rflags-reserved', 'RFLAGS bits 63:22, 15, 5, 3 = 0 and bit 1 = 1', (c) => {
    const f = rd(c, F.GUEST_RFLAGS);
    return when((f & 0xffff_ffff_ffc0_8028n) !== 0n || !bit(f, 1), () => hx(f));
  }),
  row('guest', S_GUEST_RIP, 'guest-rflags-vm', '"IA-32e mode guest" or CR0.PE = 0 ⇒ RFLAGS.VM = 0',
    (c) => when((ia32e(c) || !bit(guestCr0(c), 0)) && v8086(c), () => hx(rd(c, F.GUEST_RFLAGS)))),
  row('guest', S_GUEST_RIP, 'guest-rflags-if-injection', 'injecting an external interrupt ⇒ RFLAGS.IF = 1',
    (c) => when(injecting(c) && injType(c) === INTR_EXT && !bit(rd(c, F.GUEST_RFLAGS), 9), () => hx(rd(c, F.GUEST_RFLAGS)))),
  // --- non-register state
  row('guest', S_GUEST_NR, 'guest-activity-state', 'activity state 0..3 and supported by IA32_VMX_MISC[8:6]', (c) => {
    const a = rd(c, F.GUEST_ACTIVITY_STATE);
    return when(a > 3n || (a > 0n && !bit(c.caps.misc, 5 + Number(a))), () => `activity state ${a}`);
  }),
  row('guest', S_GUEST_NR, 'guest-activity-hlt-ss-dpl', 'activity state HLT ⇒ SS.DPL = 0',
    (c) => when(rd(c, F.GUEST_ACTIVITY_STATE) === 1n && arDpl(seg(c, 'SS')) !== 0, () => `SS.DPL ${arDpl(seg(c, 'SS'))}`)),
  row('guest', S_GUEST_NR, 'guest-activity-blocking', 'activity state not active ⇒ no blocking by STI or by MOV SS',
    (c) => when(rd(c, F.GUEST_ACTIVITY_STATE) !== 0n && (rd(c, F.GUEST_INTERRUPTIBILITY_INFO) & 3n) !== 0n,
      () => `interruptibility ${hx(rd(c, F.GUEST_INTERRUPTIBILITY_INFO))}`)),
  row('guest', S_GUEST_NR, 'guest-activity-injection',
    'injection in HLT: external interrupt, NMI, #DB, #MC, MTF only; in shutdown: NMI, #MC only; none in wait-for-SIPI', (c) => {
      if (!injecting(c)) return undefined;
      const a = rd(c, F.GUEST_ACTIVITY_STATE), t = injType(c), v = injVector(c);
      const excOk = (vs: number[]): boolean => t === INTR_HW_EXC && vs.includes(v);
      const ok = a === 0n ||
        (a === 1n && (t === INTR_EXT || t === INTR_NMI || excOk([1, 18]) || (t === INTR_OTHER && v === 0))) ||
        (a === 2n && (t === INTR_NMI || excOk([18])));
      return when(!ok, () => `activity state ${a}, event type ${t} vector ${v}`);
    }),
  row('guest', S_GUEST_NR, 'guest-interruptibility-reserved', 'interruptibility state bits 31:5 = 0',
    (c) => when((rd(c, F.GUEST_INTERRUPTIBILITY_INFO) & 0xffff_ffe0n) !== 0n, () => hx(rd(c, F.GUEST_INTERRUPTIBILITY_INFO)))),
  row('guest', S_GUEST_NR, 'guest-interruptibility-sti-movss', 'not both blocking by STI and blocking by MOV SS',
    (c) => when((rd(c, F.GUEST_INTERRUPTIBILITY_INFO) & 3n) === 3n, () => hx(rd(c, F.GUEST_INTERRUPTIBILITY_INFO)))),
  row('guest', S_GUEST_NR, 'guest-interruptibility-sti-if', 'blocking by STI ⇒ RFLAGS.IF = 1',
    (c) => when(bit(rd(c, F.GUEST_INTERRUPTIBILITY_INFO), 0) && !bit(rd(c, F.GUEST_RFLAGS), 9), () => hx(rd(c, F.GUEST_RFLAGS)))),
  row('guest', S_GUEST_NR, 'guest-interruptibility-external-injection',
    'injecting an external interrupt ⇒ no blocking by STI or by MOV SS',
    (c) => when(injecting(c) && injType(c) === INTR_EXT && (rd(c, F.GUEST_INTERRUPTIBILITY_INFO) & 3n) !== 0n,
      () => hx(rd(c, F.GUEST_INTERRUPTIBILITY_INFO)))),
  row('guest', S_GUEST_NR, 'guest-interruptibility-nmi-movss', 'injecting an NMI ⇒ no blocking by MOV SS',
    (c) => when(injecting(c) && injType(c) === INTR_NMI && bit(rd(c, F.GUEST_INTERRUPTIBILITY_INFO), 1),
      () => hx(rd(c, F.GUEST_INTERRUPTIBILITY_INFO)))),
  // the NMI-under-STI rule has its own exit qualification (3);
  // the SDM allows a processor to refuse it, and the model does
  row('guest', S_GUEST_NR, 'guest-interruptibility-nmi-sti', 'injecting an NMI ⇒ no blocking by STI (implementation-specific)',
    (c) => when(injecting(c) && injType(c) === INTR_NMI && bit(rd(c, F.GUEST_INTERRUPTIBILITY_INFO), 0),
      () => hx(rd(c, F.GUEST_INTERRUPTIBILITY_INFO))), 3n),
  row('guest', S_GUEST_NR, 'guest-interruptibility-smi', 'outside SMM ⇒ no blocking by SMI',
    (c) => when(bit(rd(c, F.GUEST_INTERRUPTIBILITY_INFO), 2), () => hx(rd(c, F.GUEST_INTERRUPTIBILITY_INFO)))),
  row('guest', S_GUEST_NR, 'guest-interruptibility-virtual-nmi',
    '"virtual NMIs" and injecting an NMI ⇒ no blocking by NMI (virtual-NMI blocking)',
    (c) => when(bit(pin(c), PIN_VIRTUAL_NMIS) && injecting(c) && injType(c) === INTR_NMI &&
      bit(rd(c, F.GUEST_INTERRUPTIBILITY_INFO), 3), () => hx(rd(c, F.GUEST_INTERRUPTIBILITY_INFO)))),
  row('guest', S_GUEST_NR, 'guest-pending-dbg-reserved', 'pending debug exceptions bits 11:4, 13, 15, 63:17 = 0', (c) => {
    const p = rd(c, F.GUEST_PENDING_DBG_EXCEPTIONS);
    // B3:B0 (3:0), enabled breakpoint (12), BS (14), RTM (16) are defined
    return when((p & ~0x1_500fn) !== 0n, () => hx(p));
  }),
  row('guest', S_GUEST_NR, 'guest-pending-dbg-bs',
    'STI/MOV-SS blocking or HLT ⇒ pending BS = 1 iff RFLAGS.TF = 1 and IA32_DEBUGCTL.BTF = 0', (c) => {
      const blocked = (rd(c, F.GUEST_INTERRUPTIBILITY_INFO) & 3n) !== 0n || rd(c, F.GUEST_ACTIVITY_STATE) === 1n;
      if (!blocked) return undefined;
      const tf = bit(rd(c, F.GUEST_RFLAGS), 8), btf = bit(rd(c, F.GUEST_IA32_DEBUGCTL), 1);
      const bs = bit(rd(c, F.GUEST_PENDING_DBG_EXCEPTIONS), 14);
      return when(bs !== (tf && !btf), () => `BS ${bs ? 1 : 0}, TF ${tf ? 1 : 0}, BTF ${btf ? 1 : 0}`);
    }),
  row('guest', S_GUEST_NR, 'guest-pending-dbg-rtm',
    'pending RTM (bit 16) ⇒ bit 12 = 1, bits 11:0 and 15:13 = 0, no blocking by MOV SS', (c) => {
      const p = rd(c, F.GUEST_PENDING_DBG_EXCEPTIONS);
      if (!bit(p, 16)) return undefined;
      return when((p & 0xefffn) !== 0n || !bit(p, 12) || bit(rd(c, F.GUEST_INTERRUPTIBILITY_INFO), 1), () => hx(p));
    }),
  row('guest', S_GUEST_NR, 'vmcs-link-pointer-address',
    'VMCS link pointer all ones, or 4-KByte aligned within MAXPHYADDR', (c) => {
      const p = rd(c, F.VMCS_LINK_POINTER);
      return when(p !== 0xffff_ffff_ffff_ffffn && !physOk(c, p, 12), () => hx(p));
    }, 4n),
  row('guest', S_GUEST_NR, 'vmcs-link-pointer-revision',
    'VMCS link pointer (not all ones): region bits 30:0 = VMCS revision, bit 31 = "VMCS shadowing"', (c) => {
      const p = rd(c, F.VMCS_LINK_POINTER);
      if (p === 0xffff_ffff_ffff_ffffn || !physOk(c, p, 12)) return undefined;
      const w = Phys.read32(c.mem, Number(p));
      const rev = w & 0x7fff_ffff, shadow = w >>> 31 === 1;
      return when(rev !== revisionId(c.caps) || shadow !== bit(secondary(c), SEC_SHADOW_VMCS),
        () => `region header ${hx(w)}, revision ${hx(revisionId(c.caps))}`);
    }, 4n),
  row('guest', S_GUEST_NR, 'vmcs-link-pointer-current', 'outside SMM, the VMCS link pointer ≠ the current-VMCS pointer',
    (c) => when(rd(c, F.VMCS_LINK_POINTER) === BigInt(c.currentVmcs), () => hx(c.currentVmcs)), 4n),
  // --- PDPTEs
  row('guest', S_GUEST_PDPTE, 'guest-pdptes',
    'PAE paging (CR0.PG, CR4.PAE, not IA-32e): present PDPTEs have bits 2:1, 8:5 and 63:N = 0', (c) => {
      if (!bit(guestCr0(c), 31) || !bit(guestCr4(c), 5) || ia32e(c)) return undefined;
      // with EPT the PDPTEs come from the VMCS; without it, from the 32-byte table at CR3[31:5]
      const ept = bit(secondary(c), SEC_EPT);
      const base = Number(rd(c, F.GUEST_CR3) & 0xffff_ffe0n);
      for (let i = 0; i < 4; i++) {
        const e = ept ? rd(c, F.GUEST_PDPTR0 + 2 * i) : Phys.read64(c.mem, base + 8 * i);
        if (bit(e, 0) && ((e & 0x1e6n) !== 0n || !inWidth(c, e))) return `PDPTE${i} ${hx(e)}`;
      }
      return undefined;
    }, 2n),
];

const msrChecks: readonly EntryCheck[] = [
  row('msr-load', S_MSR, 'entry-msr-load-fs-gs-base', 'no entry loads IA32_FS_BASE (C0000100H) or IA32_GS_BASE (C0000101H)',
    (c) => firstBadEntry(c, (e) => when(e.index === MSR_FS_BASE || e.index === MSR_GS_BASE, () => 'FS/GS base'))),
  // the SDM rules out the whole x2APIC range (bits 31:8 = 000008H), whatever the APIC mode; KVM checks it only in
  // x2APIC mode
  row('msr-load', S_MSR, 'entry-msr-load-x2apic', 'no entry with index bits 31:8 = 000008H (x2APIC registers)',
    (c) => firstBadEntry(c, (e) => when(e.index >>> 8 === 0x8, () => 'x2APIC MSR'))),
  row('msr-load', S_MSR, 'entry-msr-load-smm-only', 'no entry loads an MSR writable only in SMM (IA32_SMM_MONITOR_CTL)',
    (c) => firstBadEntry(c, (e) => when(e.index === MSR_SMM_MONITOR_CTL, () => 'IA32_SMM_MONITOR_CTL'))),
  // "cannot be loaded for model-specific reasons": the model refuses the microcode MSRs, as KVM does
  row('msr-load', S_MSR, 'entry-msr-load-model-specific', 'no entry loads an MSR refused for model-specific reasons',
    (c) => firstBadEntry(c, (e) => when(e.index === MSR_BIOS_UPDT_TRIG || e.index === MSR_BIOS_SIGN_ID, () => 'microcode MSR'))),
  row('msr-load', S_MSR, 'entry-msr-load-reserved', 'each entry has bits 63:32 = 0',
    (c) => firstBadEntry(c, (e) => when(e.reserved !== 0, () => `reserved ${hx(e.reserved)}`))),
  row('msr-load', S_MSR, 'entry-msr-load-wrmsr-gp', 'no entry holds a value WRMSR at CPL 0 would refuse with #GP',
    (c) => firstBadEntry(c, wrmsrFaults)),
];

/** Every VM-entry check, controls then host state then guest state then MSR loading, each in SDM order. */
export const ENTRY_CHECKS: readonly EntryCheck[] = [...controlChecks, ...hostChecks, ...guestChecks, ...msrChecks];

const outcomeOf = (check: EntryCheck, v: Exclude<Verdict, undefined>): EntryOutcome => {
  switch (check.class) {
    case 'control':
      return { kind: 'VMfailValid', error: 7 };
    case 'host':
      return { kind: 'VMfailValid', error: 8 };
    case 'guest':
      return { kind: 'exit', reason: 33, qualification: check.qualification ?? 0n };
    case 'msr-load':
      return { kind: 'exit', reason: 34, qualification: typeof v === 'string' ? 0n : v.qualification };
    default: {
      const never: never = check.class;
      throw new Error(`unknown check class ${String(never)}`);
    }
  }
};

/** Runs one check: its failure, or undefined when it passes. */
export const runCheck = (check: EntryCheck, ctx: EntryContext): EntryFailure | undefined => failureOf(check, check.test(ctx));

const failureOf = (check: EntryCheck, v: Verdict): EntryFailure | undefined => {
  if (v === undefined) return undefined;
  const detail = typeof v === 'string' ? v : v.detail;
  return { id: check.id, message: `${check.rule}: ${detail}`, sdm: check.sdm, outcome: outcomeOf(check, v) };
};

/** Every failing check, in table (SDM) order: what `vtxsim check` lists. */
export const allEntryFailures = (ctx: EntryContext): EntryFailure[] => {
  const out: EntryFailure[] = [];
  for (const check of ENTRY_CHECKS) {
    const f = runCheck(check, ctx);
    if (f !== undefined) out.push(f);
  }
  return out;
};

/**
 * What VMLAUNCH/VMRESUME reports: the first failing control check (VMfailValid(7)), else the first host-state check
 * (VMfailValid(8)), else the first guest-state check (exit 33), else the MSR-load entry processed first (exit 34,
 * the lowest index). SDM "Basic VM-Entry Checks" ... "Checking and Loading Guest State" and "Loading MSRs": only
 * one error is reported.
 */
export const firstEntryFailure = (ctx: EntryContext): EntryFailure | undefined =>
  firstOf((i) => runCheck(ENTRY_CHECKS[i], ctx));

/** The failure VM entry reports, given each check's failure by table index (see `firstEntryFailure`). */
const firstOf = (failureAt: (i: number) => EntryFailure | undefined): EntryFailure | undefined => {
  let msr: EntryFailure | undefined;
  for (let i = 0; i < ENTRY_CHECKS.length; i++) {
    const check = ENTRY_CHECKS[i];
    const f = failureAt(i);
    if (f === undefined) continue;
    if (check.class !== 'msr-load') return f;
    if (msr === undefined || (f.outcome.kind === 'exit' && msr.outcome.kind === 'exit' &&
      f.outcome.qualification < msr.outcome.qualification)) msr = f;
  }
  return msr;
};

/** The check with this id (for the CLI and tests). */
export const checkById = (id: string): EntryCheck | undefined => ENTRY_CHECKS.find((c) => c.id === id);

// ---------------------------------------------------------------------------------------------------------------
// The same outcome, re-running only the checks whose inputs changed

/**
 * The verdict of every check on one VMCS, with what each check read: the encodings of the fields (its read set on
 * that run) and whether it read memory. A check is a pure function of what it reads, so while none of its fields
 * (and, if it read memory, the memory) changed, its verdict stands.
 *
 * A cache, not domain state: the memo of a capability set is updated in place (there is one per caps object, and it
 * always describes the `fields`/`mem` it names, whichever machine state asks next).
 */
interface CheckMemo {
  currentVmcs: number;
  vmxonPtr: number;
  hostLma: boolean | undefined;
  /** null while an update is in progress (a check that throws leaves the memo unusable, so it is rebuilt) */
  fields: VmcsFields | null;
  /** the values of the HOT_FIELDS in `fields`, copied: inside a transient scope `fields` may have been written over
   * in place by a newer version (src/vmx/cpu.ts), so the memo never reads it back */
  readonly hot: bigint[];
  mem: Phys.PhysMem;
  readonly verdicts: Verdict[];
  /** whether each check read memory on its current run (set through `setReadsMem`, which keeps `memReaders`) */
  readonly readsMem: boolean[];
  /** how many entries of `readsMem` are true: with none, a change of memory re-runs nothing, and the update does not
   * scan the list (a VMM's EPT-violation handler changes memory at every such exit; the default VMCS's checks read
   * none) */
  memReaders: number;
  /** encoding -> indexes of the checks that read it on some run (a superset of each check's current read set) */
  readonly readers: Map<number, number[]>;
  /** the same lists for the fields of the table, by dense index (position in FIELDS) */
  readonly readersByIndex: (number[] | undefined)[];
  /** check i is in the readers of the field at dense index d (a table field): registered[i * FIELDS.length + d] = 1 */
  readonly registered: Uint8Array;
  /** some check read a field outside WATCHED (the HOT_FIELDS fast path is then off for this memo) */
  readsUnwatched: boolean;
  /** what VM entry reports with these verdicts */
  result: EntryFailure | undefined;
  /** the remembered runs of each check (RUNS_PER_CHECK per check) and which one the next run replaces */
  readonly runs: (Run | undefined)[];
  readonly nextRun: Uint8Array;
  /** values of the VM-entry interruption-information field with which every check passes, given the values the
   * memo's fields hold in every other field a check reads but GUEST_RIP (at most two: the value an injection writes
   * and the one the next exit leaves); emptied whenever such a field or the memory changes (see `ripOnly`) */
  readonly injOk: bigint[];
  /** the guest-rip rule (`ripRuleOf`) of `fields`, 0 when not known: set by `ripOnly`, cleared whenever the memo
   * takes fields by another way (only `ripOnly` knows that no field the rule reads changed) */
  ripRule: number;
}

// Between two entries of a running guest, a VMM changes few fields the checks read: the handler advances RIP or
// injects an event, and the exit clears the valid bit of the injection field (besides writing the VM-exit
// information fields, which no check reads). So the memo keeps a stamp of every other field the checks may read
// (COLD_GROUP, src/vmx/cpu.ts `watchFields`): while it is unchanged, only the HOT_FIELDS need comparing, value by
// value, and only their readers run again. A check that reads a field in neither set (an exit-information field, or
// an encoding outside the field table) turns this path off for the memo; the general path diffs the field maps.

/** The fields VMM software commonly changes between entries (KVM: skip_emulated_instruction, event injection). */
const HOT_FIELDS: readonly number[] = [
  F.GUEST_RIP, F.GUEST_RFLAGS, F.GUEST_ACTIVITY_STATE, F.GUEST_INTERRUPTIBILITY_INFO, F.VM_ENTRY_INTR_INFO_FIELD,
  F.VM_ENTRY_EXCEPTION_ERROR_CODE, F.VM_ENTRY_INSTRUCTION_LEN,
];
/** Every other field of the table except the VM-exit information fields. */
const COLD_FIELDS: readonly number[] = FIELDS
  .filter((f) => f.area !== 'exit-info' && !HOT_FIELDS.includes(f.encoding)).map((f) => f.encoding);
const COLD_GROUP = watchFields(COLD_FIELDS);
/** the dense index (position in FIELDS) of each encoding of the table, -1 for the others */
const DENSE = new Int16Array(0x10000).fill(-1);
FIELDS.forEach((f, d) => { DENSE[f.encoding] = d; });
/** by dense index: 1 + the position of the field in HOT_FIELDS, 0 for the other fields */
const HOT_SLOT = new Uint8Array(FIELDS.length);
HOT_FIELDS.forEach((e, k) => { HOT_SLOT[DENSE[e]] = k + 1; });
/** 1 for the encodings of HOT_FIELDS and COLD_FIELDS */
const WATCHED = new Uint8Array(0x10000);
for (const e of HOT_FIELDS) WATCHED[e] = 1;
for (const e of COLD_FIELDS) WATCHED[e] = 1;

/** The memo per capability set (keyed by the immutable caps object), and the last one used (checked first). */
const memos = new WeakMap<Caps, CheckMemo>();
let lastCaps: Caps | undefined;
let lastMemo: CheckMemo | undefined;

// One recording context, reused: a check's field reads are appended to `recReads` (the first `recCount` entries), a
// memory read sets `recMem`.
const recReads: number[] = [];
/** the values those reads returned */
const recVals: (bigint | undefined)[] = [];
let recCount = 0;
let recMem = false;
let recBase: VmcsFields = new Map();
let recMemValue: Phys.PhysMem = Phys.empty;
const recFields: Pick<VmcsFields, 'get'> = {
  get: (enc: number) => { const v = recBase.get(enc); recVals[recCount] = v; recReads[recCount++] = enc; return v; },
};

/** The context a check runs in while its reads are recorded: one object, set up again for each entry (an object
 * literal with an accessor per entry costs more than the checks it saves). */
const rec: { -readonly [K in keyof EntryContext]: EntryContext[K] } = {
  caps: undefined as unknown as Caps, fields: recFields as VmcsFields, currentVmcs: 0, vmxonPtr: 0, hostLma: undefined,
  get mem() { recMem = true; return recMemValue; },
};
const recordingContext = (ctx: EntryContext): EntryContext => {
  recBase = ctx.fields;
  recMemValue = ctx.mem;
  rec.caps = ctx.caps;
  rec.currentVmcs = ctx.currentVmcs;
  rec.vmxonPtr = ctx.vmxonPtr;
  rec.hostLma = ctx.hostLma;
  return rec;
};

/** Notes whether check `i` read memory (`readsMem`), keeping the count of the checks that did (`memReaders`). */
const setReadsMem = (memo: CheckMemo, i: number, reads: boolean): void => {
  if (memo.readsMem[i] === reads) return;
  memo.readsMem[i] = reads;
  memo.memReaders += reads ? 1 : -1;
};

/** Runs check `i` in the recording context, adds it to the readers of what it read; returns its verdict. */
const recordCheck = (memo: CheckMemo, i: number, rec: EntryContext): Verdict => {
  recCount = 0;
  recMem = false;
  const verdict = ENTRY_CHECKS[i].test(rec);
  // readers only grows (a superset of the current read sets still marks every check that must run again)
  const row = i * FIELDS.length;
  for (let k = 0; k < recCount; k++) {
    const e = recReads[k];
    const d = e >= 0 && e < 0x10000 ? DENSE[e] : -1;
    if (d >= 0 && memo.registered[row + d] === 1) continue;
    const l = memo.readers.get(e);
    if (l === undefined) {
      const fresh = [i];
      memo.readers.set(e, fresh);
      if (d >= 0) memo.readersByIndex[d] = fresh;
    } else if (l[l.length - 1] !== i && !l.includes(i)) l.push(i);
    if (d >= 0) memo.registered[row + d] = 1;
    if (!(e >= 0 && e < 0x10000 && WATCHED[e] === 1)) memo.readsUnwatched = true;
  }
  setReadsMem(memo, i, recMem);
  return verdict;
};

// Each check also remembers its last two runs that read no memory: the fields read, in order, with their values, and
// the verdict. A check is a pure function of what it reads (the memo's caps and pointers are fixed), and which field
// it reads next depends only on the values read before: so when every field of a run reads the same value now, the
// check would read exactly those and return that verdict. This catches the fields a VMM toggles between two values
// (the injection field: valid at the entry that injects, cleared by the next exit).

/** One remembered run of a check. */
interface Run { readonly encs: number[]; readonly vals: (bigint | undefined)[]; n: number; verdict: Verdict }
const RUNS_PER_CHECK = 2;

/** The verdict of a remembered run of check `i` that matches the current fields, else the `none` marker. */
const NO_RUN: { readonly none: true } = { none: true };
const rememberedVerdict = (memo: CheckMemo, i: number, f: VmcsFields): Verdict | typeof NO_RUN => {
  for (let s = 0; s < RUNS_PER_CHECK; s++) {
    const r = memo.runs[i * RUNS_PER_CHECK + s];
    if (r === undefined || r.n < 0) continue;
    let k = 0;
    while (k < r.n && f.get(r.encs[k]) === r.vals[k]) k++;
    if (k === r.n) { memo.nextRun[i] = 1 - s; return r.verdict; }
  }
  return NO_RUN;
};

/** Remembers the run just recorded (recReads/recVals) of check `i`, unless it read memory. */
const rememberRun = (memo: CheckMemo, i: number, verdict: Verdict): void => {
  if (recMem) return;
  const slot = i * RUNS_PER_CHECK + memo.nextRun[i];
  let r = memo.runs[slot];
  if (r === undefined) { r = { encs: [], vals: [], n: -1, verdict: undefined }; memo.runs[slot] = r; }
  for (let k = 0; k < recCount; k++) { r.encs[k] = recReads[k]; r.vals[k] = recVals[k]; }
  r.n = recCount;
  r.verdict = verdict;
  memo.nextRun[i] = 1 - memo.nextRun[i];
};

/** Which checks run again on this entry: a stamp per check (the entry's number), so no array is cleared per entry. */
const stamp = new Int32Array(ENTRY_CHECKS.length);
let epoch = 0;

/** The dense indexes written since the memo's fields (the first ones of the array; reused, grows as needed). */
const writtenScratch: number[] = [];

/** The hot fields that changed on this entry (the first ones of the array; reused). */
const changedScratch: number[] = new Array<number>(HOT_FIELDS.length).fill(0);

/**
 * What VMLAUNCH/VMRESUME reports, exactly as `firstEntryFailure`, but re-running only the checks that read a field
 * (or memory) that changed since the last entry checked with the same capabilities; the others keep their verdicts.
 */
export const firstEntryFailureCached = (ctx: EntryContext): EntryFailure | undefined => {
  const prev = ctx.caps === lastCaps ? lastMemo : memos.get(ctx.caps);
  let memo: CheckMemo | undefined;
  let nWritten = -1;
  if (prev !== undefined && prev.fields !== null && prev.currentVmcs === ctx.currentVmcs && prev.vmxonPtr === ctx.vmxonPtr && prev.hostLma === ctx.hostLma) {
    lastCaps = ctx.caps;
    lastMemo = prev;
    if (prev.fields === ctx.fields && prev.mem === ctx.mem) return prev.result;
    // the common case: these fields descend from the memo's through a few writes (an exit, a handler, an injection),
    // whose written indexes name every field that may have changed (no values compared)
    nWritten = writtenBetween(prev.fields, ctx.fields, writtenScratch);
    if (nWritten >= 0 && prev.mem === ctx.mem && prev.result === undefined && ripOnly(prev, ctx, nWritten)) return undefined;
    memo = prev;
  }
  // every other case through this one call: its target is known (type feedback) from the updates of the first run in
  // a process, so that the cases only a later run's first entry takes (a new memo, fields that do not descend from
  // the memo's) do not deoptimize this function's code
  return updateMemo(ctx, memo, nWritten);
};

/** The memo after an entry that `ripOnly` did not settle: a new memo (`prev` undefined), an update by the fields
 * written since the memo's (`nWritten` of them in writtenScratch), or the general update (`nWritten` -1). */
const updateMemo = (ctx: EntryContext, prev: CheckMemo | undefined, nWritten: number): EntryFailure | undefined => {
  if (prev === undefined) return newMemo(ctx);
  const memChanged = prev.mem !== ctx.mem;
  if (nWritten < 0) return generalUpdate(prev, ctx, prev.fields!, memChanged);
  const n = ENTRY_CHECKS.length;
  // an entry that toggles the injection field (and moves RIP) and passes: both values of the field pass from now on
  const toggle = !memChanged && prev.result === undefined && onlyRipAndInjection(prev, nWritten);
  const injBefore = prev.hot[INJ_HOT];
  const rec = recordingContext(ctx);
  if (++epoch === 0x7fff_ffff) { epoch = 1; stamp.fill(0); }
  prev.fields = null;
  let verdictChanged = false;
  const byIndex = prev.readersByIndex;
  for (let c = 0; c < nWritten; c++) {
    const d = writtenScratch[c];
    const l = byIndex[d];
    if (l !== undefined) for (let k = 0; k < l.length; k++) if (rerun(prev, l[k], rec)) verdictChanged = true;
    // the copy of the hot values follows the hot fields written
    const h = HOT_SLOT[d];
    if (h > 0) prev.hot[h - 1] = ctx.fields.get(HOT_FIELDS[h - 1]) ?? 0n;
  }
  if (memChanged && prev.memReaders > 0) for (let i = 0; i < n; i++) if (prev.readsMem[i] && rerun(prev, i, rec)) verdictChanged = true;
  if (verdictChanged) prev.result = resultOf(prev.verdicts);
  prev.fields = ctx.fields;
  prev.ripRule = 0;
  prev.mem = ctx.mem;
  forgetInjOk(prev);
  if (toggle && prev.result === undefined) prev.injOk.push(injBefore, prev.hot[INJ_HOT]);
  return prev.result;
};

// The first entry with these caps, VMCS and VMXON region (or after a memo was left half-updated): every check
// recorded. A function of its own, as is the general update below: the cases a later run's first entry takes in a
// warm process, out of the optimized code of the common ones.
const newMemo = (ctx: EntryContext): EntryFailure | undefined => {
  const n = ENTRY_CHECKS.length;
  const memo: CheckMemo = {
    currentVmcs: ctx.currentVmcs, vmxonPtr: ctx.vmxonPtr, hostLma: ctx.hostLma,
    fields: null, hot: HOT_FIELDS.map(() => 0n), mem: ctx.mem, verdicts: new Array<Verdict>(n).fill(undefined), readsMem: new Array<boolean>(n).fill(false), memReaders: 0,
    readers: new Map(), readersByIndex: new Array<number[] | undefined>(FIELDS.length).fill(undefined), registered: new Uint8Array(n * FIELDS.length), readsUnwatched: false, result: undefined,
    runs: new Array<Run | undefined>(n * RUNS_PER_CHECK).fill(undefined), nextRun: new Uint8Array(n), injOk: [], ripRule: 0,
  };
  memos.set(ctx.caps, memo);
  lastCaps = ctx.caps;
  lastMemo = memo;
  const rec = recordingContext(ctx);
  for (let i = 0; i < n; i++) {
    const v = recordCheck(memo, i, rec);
    memo.verdicts[i] = v;
    rememberRun(memo, i, v);
  }
  memo.result = resultOf(memo.verdicts);
  setFields(memo, ctx.fields);
  return memo.result;
};

/** The memo updated for fields that do not descend from its own (within the generations a store remembers). */
const generalUpdate = (prev: CheckMemo, ctx: EntryContext, from: VmcsFields, memChanged: boolean): EntryFailure | undefined => {
  const n = ENTRY_CHECKS.length;
  let changed: readonly number[];
  let nChanged: number;
  const cold = groupStamp(from, COLD_GROUP);
  if (!prev.readsUnwatched && cold !== undefined && cold === groupStamp(ctx.fields, COLD_GROUP)) {
    // only hot fields may differ among the fields the checks read
    nChanged = 0;
    const hot = prev.hot;
    for (let k = 0; k < HOT_FIELDS.length; k++) {
      const e = HOT_FIELDS[k];
      if (hot[k] !== (ctx.fields.get(e) ?? 0n)) changedScratch[nChanged++] = e;
    }
    changed = changedScratch;
  } else {
    changed = changedFields(from, ctx.fields);
    nChanged = changed.length;
  }
  // no field a check reads changed (nor the guest-rip rule's fields): the memo, its rule included, describes ctx.fields
  if (nChanged === 0 && !memChanged) { prev.fields = ctx.fields; return prev.result; }
  if (++epoch === 0x7fff_ffff) { epoch = 1; stamp.fill(0); }
  const rec = recordingContext(ctx);
  prev.fields = null;
  let verdictChanged = false;
  // the readers of a changed field, and memory readers when memory changed (a check re-run here may add itself to
  // the readers of a field it did not read before: that field did not change, so the loop needs no second pass)
  for (let c = 0; c < nChanged; c++) {
    const l = prev.readers.get(changed[c]);
    if (l !== undefined) for (let k = 0; k < l.length; k++) if (rerun(prev, l[k], rec)) verdictChanged = true;
  }
  if (memChanged && prev.memReaders > 0) for (let i = 0; i < n; i++) if (prev.readsMem[i] && rerun(prev, i, rec)) verdictChanged = true;
  return finish(prev, ctx, verdictChanged);
};

// The entry after an emulated instruction (KVM's skip_emulated_instruction): since the last entry, which passed, the
// exit wrote its information fields (no check reads them) and the VMM advanced RIP. GUEST_RIP has one reader, the
// guest-rip check, whose read set does not depend on the RIP value (it reads RIP, then the "IA-32e mode guest"
// control, CS.L and CR4.LA57, each read or not depending on the ones before: tests/vmx/entryCheckRip.test.ts checks
// this): so on the new fields it reads the fields of its recorded run, registered already, and it can run on the plain
// context, without recording or the remembered runs. When it passes, every check passes.
//
// The same holds when the VM-entry interruption-information field was written too (an injection, or the exit that
// clears its valid bit) and its new value is one with which every check passed while no other field a check reads
// changed (`injOk`): the VMM that injects an interrupt after each HLT toggles between two such values.

/** the guest-rip check (by table index) and the dense index and HOT_FIELDS slot of GUEST_RIP */
const RIP_CHECK = ENTRY_CHECKS.findIndex((c) => c.id === 'guest-rip');
const RIP_DENSE = DENSE[F.GUEST_RIP];
const RIP_HOT = HOT_SLOT[RIP_DENSE] - 1;
const INJ_DENSE = DENSE[F.VM_ENTRY_INTR_INFO_FIELD];
const INJ_HOT = HOT_SLOT[INJ_DENSE] - 1;

/** True when the fields written since the memo's (the first `nWritten` of writtenScratch) that a check reads are
 * among GUEST_RIP and the VM-entry interruption-information field, and GUEST_RIP has no reader but the guest-rip check. */
const onlyRipAndInjection = (prev: CheckMemo, nWritten: number): boolean => {
  const byIndex = prev.readersByIndex;
  for (let c = 0; c < nWritten; c++) {
    const d = writtenScratch[c];
    if (d !== RIP_DENSE && d !== INJ_DENSE && byIndex[d] !== undefined) return false;
  }
  const l = byIndex[RIP_DENSE];
  return l === undefined || (l.length === 1 && l[0] === RIP_CHECK);
};

/** Empties the memo's `injOk`. Only when it holds values: an assignment to an array's length calls into the runtime
 * (~400 instructions) even when the length stays 0, and most memos never hold any. */
const forgetInjOk = (prev: CheckMemo): void => {
  if (prev.injOk.length !== 0) prev.injOk.length = 0;
};

/** `v` is one of the memo's `injOk` values (one compare site for either value: a site only the start of a later run
 * in a process reached had no type feedback and deoptimized the code it was inlined in) */
const injOkHas = (ok: readonly bigint[], v: bigint): boolean => {
  for (let k = 0; k < ok.length; k++) if (ok[k] === v) return true;
  return false;
};

/**
 * True when the memo (every verdict a pass, memory unchanged) now describes `ctx.fields`, whose fields written since
 * the memo's (the first `nWritten` of writtenScratch) have no reader but GUEST_RIP's and the injection field's, the
 * injection field (when written) holds a value of `injOk`, and the guest-rip check passes on them: the entry passes.
 * False, having changed nothing, otherwise (the general update then runs).
 */
const ripOnly = (prev: CheckMemo, ctx: EntryContext, nWritten: number): boolean => {
  const byIndex = prev.readersByIndex;
  let rip = false;
  let inj = false;
  for (let c = 0; c < nWritten; c++) {
    const d = writtenScratch[c];
    if (d === RIP_DENSE) rip = true;
    else if (d === INJ_DENSE) inj = true;
    else if (byIndex[d] !== undefined) return false;
  }
  let injValue = 0n;
  if (inj) {
    injValue = ctx.fields.get(F.VM_ENTRY_INTR_INFO_FIELD) ?? 0n;
    if (!injOkHas(prev.injOk, injValue)) return false;
  }
  if (rip) {
    const l = byIndex[RIP_DENSE];
    if (l === undefined || l.length !== 1 || l[0] !== RIP_CHECK) return false;
    // the guest-rip check on ctx: its rule was read from fields none of which was written since (a write to one would
    // have named the check among the field's readers), so only the RIP value is tested
    const newRip = ctx.fields.get(F.GUEST_RIP) ?? 0n;
    let rule = prev.ripRule;
    if (rule === 0) rule = ripRuleOf(ctx);
    if (!ripPasses(rule, newRip)) return false;
    prev.ripRule = rule;
    // the memo's copy of the hot values follows (the general path compares them when the store's history ends)
    prev.hot[RIP_HOT] = newRip;
  }
  if (inj) prev.hot[INJ_HOT] = injValue;
  prev.fields = ctx.fields;
  return true;
};

/**
 * What the entry-check memo says of the entries of a run of fused round trips (src/vmx/entry.ts `runExit`), as numbers:
 * entries with the fields of the last entry checked with these capabilities (`ctx.fields`, which must be those very
 * fields, with this memory, VMCS and VMXON region; and that entry passed) changed in GUEST_RIP, in the VM-entry
 * interruption-information field and in exit-information fields that no check reads. Filled by `entryRunBounds`.
 */
export interface RunBounds {
  /** the entry passes with GUEST_RIP = the run's first RIP + an offset from 0 to `ripMax` (-1: none), and no wrap */
  ripMax: number;
  /** the offset (at most 2^30 - 1) at which GUEST_RIP holds the memo's value (passes as well), -1: none */
  ripHot: number;
  /** the injection-field values with which the entry passes (the first `injN`; the field is 32 bits wide: values above
   * 2^32 - 1 are left out, a run never holds one) */
  readonly inj: number[];
  injN: number;
}

export const newRunBounds = (): RunBounds => ({ ripMax: -1, ripHot: -1, inj: [0, 0, 0, 0], injN: 0 });

/**
 * The largest RIP offset `entryRunBounds` answers for: a run's sum of instruction lengths stays a small integer (a run
 * that goes further ends, and the next one starts from there).
 */
const RIP_SPAN_MAX = 2 ** 30 - 1;
const RIP_SPAN_MAX_BIG = BigInt(RIP_SPAN_MAX);
/** the last RIPs from which every offset up to RIP_SPAN_MAX passes, in the lower interval of each rule */
const SPAN_32 = 0xffff_ffffn - RIP_SPAN_MAX_BIG, SPAN_48 = TWO_48 - 1n - RIP_SPAN_MAX_BIG, SPAN_57 = TWO_57 - 1n - RIP_SPAN_MAX_BIG;
const SPAN_HIGH = TWO_64 - 1n - RIP_SPAN_MAX_BIG;

/**
 * The largest offset n (at most RIP_SPAN_MAX) such that `ripPasses(rule, base + k)` and base + k < 2^64 for every k
 * from 0 to n, or -1 when `base` itself fails. The passing RIPs are one or two intervals (`ripPasses`); those after
 * `base` in its own interval, the rest are more than 2^52 away.
 */
const ripSpan = (rule: number, base: bigint): number => {
  // (the common case by compares alone: a bigint difference made a number is a call into the runtime)
  if (base >= 0n && base <= (rule === RIP_32 ? SPAN_32 : rule === RIP_57 ? SPAN_57 : SPAN_48)) return RIP_SPAN_MAX;
  if (rule !== RIP_32 && base >= (rule === RIP_57 ? HIGH_57 : HIGH_48) && base <= SPAN_HIGH) return RIP_SPAN_MAX;
  let last: bigint;
  if (rule === RIP_32) {
    if (!(base >= 0n && base <= 0xffff_ffffn)) return -1;
    last = 0xffff_ffffn;
  } else {
    const low = rule === RIP_57 ? TWO_57 : TWO_48;
    if (base >= 0n && base < low) last = low - 1n;
    else if (base >= (rule === RIP_57 ? HIGH_57 : HIGH_48) && base < TWO_64) last = TWO_64 - 1n;
    else return -1;
  }
  const span = last - base;
  return span >= RIP_SPAN_MAX_BIG ? RIP_SPAN_MAX : smallNumberOf(span);
};

/**
 * Fills `out` with what `firstEntryFailureCached` would say, answered as `ripOnly` answers it, of entries with the
 * fields `ctx.fields` (those of the last entry checked with these capabilities, with this memory, VMCS and VMXON region;
 * that entry passed) changed in the fields `others` (encodings) to any values, in GUEST_RIP to `ripBase` + an offset
 * and in the VM-entry interruption-information field: such an entry passes when the offset is from 0 to `out.ripMax`
 * (the fields in `others` have no reader, GUEST_RIP has no reader but the guest-rip check, and that passes) or is
 * `out.ripHot`, and the injection value is one of `out.inj` (the memo's value or one of `injOk`). False when the memo
 * cannot say (the entries are then checked by `firstEntryFailureCached`). Changes nothing.
 *
 * For a run of fused round trips (src/vmx/entry.ts `QuickRun`), asked at its first exit: no entry is checked while the
 * run is open, so the memo stays as it was, and the run's later entries are answered by compares of numbers (src/vmx/entry.ts
 * `RunState` gives the counts).
 */
export const entryRunBounds = (ctx: EntryContext, others: readonly number[], ripBase: bigint, out: RunBounds): boolean => {
  const prev = ctx.caps === lastCaps ? lastMemo : memos.get(ctx.caps);
  if (prev === undefined || prev.fields !== ctx.fields || prev.mem !== ctx.mem || prev.result !== undefined
    || prev.currentVmcs !== ctx.currentVmcs || prev.vmxonPtr !== ctx.vmxonPtr || prev.hostLma !== ctx.hostLma) return false;
  const byIndex = prev.readersByIndex;
  for (let k = 0; k < others.length; k++) {
    const d = DENSE[others[k]];
    if (d < 0 || d === RIP_DENSE || d === INJ_DENSE || byIndex[d] !== undefined) return false;
  }
  const hot = prev.hot[RIP_HOT];
  if (hot === ripBase) out.ripHot = 0;
  else {
    const d = hot - ripBase;
    out.ripHot = d >= 0n && d <= RIP_SPAN_MAX_BIG ? smallNumberOf(d) : -1;
  }
  const l = byIndex[RIP_DENSE];
  // the rule is read from the memo's fields (ctx.fields): none of the fields it reads is written here (not kept:
  // `ripOnly` keeps it when an entry by these fields passes)
  out.ripMax = l === undefined || l.length !== 1 || l[0] !== RIP_CHECK ? -1 : ripSpan(prev.ripRule !== 0 ? prev.ripRule : ripRuleOf(ctx), ripBase);
  const inj = out.inj;
  let n = 0;
  const hotInj = prev.hot[INJ_HOT];
  if (hotInj >= 0n && hotInj <= 0xffff_ffffn) inj[n++] = smallNumberOf(hotInj);
  const ok = prev.injOk;
  for (let k = 0; k < ok.length; k++) if (ok[k] >= 0n && ok[k] <= 0xffff_ffffn) inj[n++] = smallNumberOf(ok[k]);
  out.injN = n;
  return true;
};

/** After the re-runs: the result again if a verdict changed; the memo now describes `ctx`. */
const finish = (prev: CheckMemo, ctx: EntryContext, verdictChanged: boolean): EntryFailure | undefined => {
  forgetInjOk(prev);
  if (verdictChanged) prev.result = resultOf(prev.verdicts);
  setFields(prev, ctx.fields);
  prev.mem = ctx.mem;
  return prev.result;
};

/** The memo now describes `f`: it keeps `f` (for identity and stamps) and a copy of its hot values. */
const setFields = (memo: CheckMemo, f: VmcsFields): void => {
  for (let k = 0; k < HOT_FIELDS.length; k++) memo.hot[k] = f.get(HOT_FIELDS[k]) ?? 0n;
  memo.fields = f;
  memo.ripRule = 0;
};

/** Runs check `i` again unless it already ran on this entry; true when its verdict changed. */
const rerun = (memo: CheckMemo, i: number, rec: EntryContext): boolean => {
  if (stamp[i] === epoch) return false;
  stamp[i] = epoch;
  const known = rememberedVerdict(memo, i, recBase);
  let v: Verdict;
  if (known !== NO_RUN) {
    v = known as Verdict;
    // this path reads no memory (a remembered run never did); its fields are registered from that run
    setReadsMem(memo, i, false);
  } else {
    v = recordCheck(memo, i, rec);
    rememberRun(memo, i, v);
  }
  if (sameVerdict(memo.verdicts[i], v)) return false;
  memo.verdicts[i] = v;
  return true;
};

const sameVerdict = (a: Verdict, b: Verdict): boolean =>
  a === b || (typeof a === 'object' && typeof b === 'object' && a.detail === b.detail && a.qualification === b.qualification);

const resultOf = (verdicts: readonly Verdict[]): EntryFailure | undefined =>
  firstOf((i) => (verdicts[i] === undefined ? undefined : failureOf(ENTRY_CHECKS[i], verdicts[i])));
