/**
 * TSC virtualization: the time-stamp counter value a guest reads.
 *
 * Models: SDM Vol. 3C "Timestamp-Counter Offsetting and Scaling", "Changes to Instruction Behavior in VMX Non-Root
 * Operation" (RDTSC, RDTSCP, RDPID, RDMSR of IA32_TIME_STAMP_COUNTER) and "Saving MSRs" (VM-exit MSR-store area).
 * guest TSC = T when "use TSC offsetting" = 0 (the multiplier is then ignored); T + offset when offsetting is on and
 * "use TSC scaling" is 0; ((T × multiplier) >> 48) + offset when both are on, with a 128-bit product; all mod 2^64.
 * Whether the instruction exits is decided in exitConditions.ts; this module only computes values.
 * Leaves out: IA32_TSC_ADJUST and guest writes to IA32_TIME_STAMP_COUNTER, TSC deadline.
 */

import { CPU_BASED, SECONDARY_EXEC, primaryOn, secondaryOn, type ExecControls } from './exitConditions';

export const IA32_TIME_STAMP_COUNTER = 0x10;
export const IA32_TSC_AUX = 0xc0000103;
/** SDM "Timestamp-Counter Offsetting and Scaling": the multiplier has 48 fractional bits; 1.0 = 2^48. */
export const TSC_MULTIPLIER_FRAC_BITS = 48n;
export const TSC_MULTIPLIER_ONE = 1n << 48n;

const U64 = (1n << 64n) - 1n;

export interface TscControls {
  readonly useOffsetting: boolean;
  readonly useScaling: boolean;
  /** two's-complement 64-bit offset (any bigint; taken mod 2^64) */
  readonly offset: bigint;
  readonly multiplier: bigint;
}

/** The TSC controls of decoded execution controls ("use TSC scaling" counts only with secondary controls active). */
export const tscControls = (c: ExecControls): TscControls => ({
  useOffsetting: primaryOn(c, CPU_BASED.USE_TSC_OFFSETTING),
  useScaling: secondaryOn(c, SECONDARY_EXEC.TSC_SCALING),
  offset: c.tscOffset,
  multiplier: c.tscMultiplier,
});

/** SDM "Timestamp-Counter Offsetting and Scaling": the value RDTSC, RDTSCP and RDMSR(0x10) return in the guest. */
export const guestTsc = (hostTsc: bigint, t: TscControls): bigint => {
  const host = hostTsc & U64;
  if (!t.useOffsetting) return host;
  const scaled = t.useScaling ? ((host * (t.multiplier & U64)) >> TSC_MULTIPLIER_FRAC_BITS) & U64 : host;
  return (scaled + t.offset) & U64;
};

export interface RdtscResult {
  readonly eax: number;
  readonly edx: number;
  /** EDX:EAX */
  readonly value: bigint;
}

const split = (v: bigint): RdtscResult => ({ eax: Number(v & 0xffffffffn), edx: Number(v >> 32n), value: v });

/** RDTSC that did not exit: EDX:EAX = guest TSC (upper halves of RAX/RDX cleared). */
export const rdtsc = (hostTsc: bigint, t: TscControls): RdtscResult => split(guestTsc(hostTsc, t));

/** RDTSCP that did not exit: EDX:EAX = guest TSC, ECX = IA32_TSC_AUX[31:0]. */
export const rdtscp = (hostTsc: bigint, t: TscControls, tscAux: bigint): RdtscResult & { readonly ecx: number } => ({
  ...split(guestTsc(hostTsc, t)),
  ecx: Number(tscAux & 0xffffffffn),
});

/** RDPID: the destination gets IA32_TSC_AUX (not the TSC; offset and scaling do not apply). */
export const rdpid = (tscAux: bigint): bigint => tscAux & U64;

/** RDMSR of IA32_TIME_STAMP_COUNTER that did not exit returns the same guest TSC as RDTSC. */
export const rdmsrTsc = (hostTsc: bigint, t: TscControls): bigint => guestTsc(hostTsc, t);

/**
 * SDM "Saving MSRs": each MSR-store entry gets the MSR's value "as it would be read by RDMSR", and the VM exit is no
 * longer in VMX non-root operation, so the non-root offsetting/scaling of RDMSR(0x10) does not apply: the entry for
 * IA32_TIME_STAMP_COUNTER holds the host TSC itself. (Linux nested.c agrees: it applies L1's offset and multiplier
 * to the value the CPU autostored for IA32_TSC, so that value carries no vmcs02 offset.)
 */
export const msrStoreTsc = (hostTsc: bigint): bigint => hostTsc & U64;
