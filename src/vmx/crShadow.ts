/**
 * CR0/CR4 guest/host masks and read shadows: which accesses exit, and what the guest sees and changes when they do not.
 *
 * Models: SDM Vol. 3C "Guest/Host Masks and Read Shadows for CR0 and CR4", "Instructions That Cause VM Exits
 * Conditionally" (CLTS, LMSW, MOV to CR0/CR4) and "Changes to Instruction Behavior in VMX Non-Root Operation"
 * (CLTS, LMSW, MOV from CR0/CR4, MOV to CR0/CR4, SMSW).
 * A mask bit of 1 means the host owns that bit: guest reads see the shadow, guest writes that would change the
 * shadowed value exit. Leaves out: SMSW/MOV-from-CR with 16/32-bit destinations (the full 64-bit value is returned),
 * the CR0.CD/NW and CR4.PCIDE/LA57 architectural #GP rules other than the VMX fixed bits and PG-without-PE.
 */

export const CR0_PE = 1n << 0n;
export const CR0_MP = 1n << 1n;
export const CR0_EM = 1n << 2n;
export const CR0_TS = 1n << 3n;
export const CR0_NE = 1n << 5n;
export const CR0_PG = 1n << 31n;
const LMSW_BITS = 0xfn;

/** SDM "Changes to Instruction Behavior in VMX Non-Root Operation" (MOV from CR0/CR4, SMSW): host-owned bits read
 * from the read shadow, guest-owned bits from the register. */
export const readCr = (real: bigint, mask: bigint, shadow: bigint): bigint => (real & ~mask) | (shadow & mask);

/** SDM "Instructions That Cause VM Exits Conditionally" (MOV to CR0/CR4): exit iff some host-owned bit of the source
 * differs from the read shadow. */
export const movToCrExits = (src: bigint, mask: bigint, shadow: bigint): boolean => (src & mask) !== (shadow & mask);

/** SDM "Instructions That Cause VM Exits Conditionally" (CLTS): exit iff TS is set in both the mask and the shadow. */
export const cltsExits = (mask: bigint, shadow: bigint): boolean => (mask & CR0_TS) !== 0n && (shadow & CR0_TS) !== 0n;

/** SDM "Instructions That Cause VM Exits Conditionally" (LMSW): exit if mask.PE = 1, source.PE = 1 and shadow.PE = 0
 * (LMSW cannot clear PE, so only setting it can differ), or if any of bits 3:1 is masked and source and shadow differ
 * there. */
export const lmswExits = (src: bigint, mask: bigint, shadow: bigint): boolean => {
  const peSet = (mask & CR0_PE) !== 0n && (src & CR0_PE) !== 0n && (shadow & CR0_PE) === 0n;
  const m31 = mask & 0xen;
  return peSet || (src & m31) !== (shadow & m31);
};

/** Fixed bits of CR0 or CR4 in VMX operation (IA32_VMX_CR0_FIXED0/1, IA32_VMX_CR4_FIXED0/1). */
export interface FixedBits {
  readonly fixed0: bigint;
  readonly fixed1: bigint;
}

export type CrWrite = { readonly kind: 'ok'; readonly value: bigint } | { readonly kind: 'gp' };

/** SDM "VMX-Fixed Bits in CR0" with "Unrestricted Guests": a value is allowed when every FIXED0 bit is 1 and no bit
 * outside FIXED1 is 1; with unrestricted guest PE and PG are exempt from FIXED0. */
const fixedOk = (v: bigint, f: FixedBits, exempt: bigint): boolean =>
  (v & (f.fixed0 & ~exempt)) === (f.fixed0 & ~exempt) && (v & ~f.fixed1 & ((1n << 64n) - 1n)) === 0n;

/** SDM "Changes to Instruction Behavior in VMX Non-Root Operation" (MOV to CR0) for a write that did not exit: only
 * guest-owned bits change; #GP if the result violates the VMX fixed bits or sets PG without PE. */
export const movToCr0 = (old: bigint, src: bigint, mask: bigint, fixed: FixedBits, unrestrictedGuest: boolean): CrWrite => {
  const value = (old & mask) | (src & ~mask);
  if ((value & CR0_PG) !== 0n && (value & CR0_PE) === 0n) return { kind: 'gp' };
  if (!fixedOk(value, fixed, unrestrictedGuest ? CR0_PE | CR0_PG : 0n)) return { kind: 'gp' };
  return { kind: 'ok', value };
};

/** SDM "Changes to Instruction Behavior in VMX Non-Root Operation" (MOV to CR4) for a write that did not exit. */
export const movToCr4 = (old: bigint, src: bigint, mask: bigint, fixed: FixedBits): CrWrite => {
  const value = (old & mask) | (src & ~mask);
  return fixedOk(value, fixed, 0n) ? { kind: 'ok', value } : { kind: 'gp' };
};

/** SDM "Changes to Instruction Behavior in VMX Non-Root Operation" (CLTS) for a CLTS that did not exit: TS is cleared
 * if it is guest-owned; if it is host-owned (and the shadow has TS = 0) CLTS leaves CR0.TS unchanged. */
export const clts = (cr0: bigint, mask: bigint): bigint => ((mask & CR0_TS) !== 0n ? cr0 : cr0 & ~CR0_TS);

/** SDM "Changes to Instruction Behavior in VMX Non-Root Operation" (LMSW) for an LMSW that did not exit: only
 * guest-owned bits among CR0[3:0] change; PE can be set but never cleared. */
export const lmsw = (cr0: bigint, src: bigint, mask: bigint): bigint => {
  const owned = LMSW_BITS & ~mask;
  const pe = (cr0 | src) & CR0_PE & owned;
  const others = src & 0xen & owned;
  return (cr0 & ~owned) | pe | others;
};
