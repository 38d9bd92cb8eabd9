/**
 * The VMX-preemption timer.
 *
 * Models: SDM Vol. 3C "VMX-Preemption Timer" and "VM Exits Caused by the VMX-Preemption Timer" (exit reason 52),
 * "Saving VMX-Preemption Timer Value" (exit control bit 22) and the VM-entry rule that a value of 0 exits before the
 * first guest instruction. The timer counts down by 1 each time bit X of the (physical) TSC changes, X =
 * IA32_VMX_MISC[4:0]; between host TSC values t0 and t1 that happens floor(t1 / 2^X) - floor(t0 / 2^X) times. The
 * TSC offset and multiplier do not affect it.
 * Leaves out: C-state behaviour (the model never leaves C0/HLT), SMM, and the exact point inside an instruction at
 * which the exit is taken (it is taken at the instruction boundary that the caller chooses).
 */

import { R } from './exitReasons';

/** X = IA32_VMX_MISC[4:0]: the timer's rate relative to the TSC. */
export const rateShift = (vmxMisc: bigint): number => Number(vmxMisc & 0x1fn);

/** Bit-X transitions of the TSC between t0 and t1 (t1 ≥ t0). */
export const ticks = (t0: bigint, t1: bigint, x: number): bigint => (t1 >> BigInt(x)) - (t0 >> BigInt(x));

export type TimerAdvance =
  | { readonly kind: 'running'; readonly remaining: number }
  /** the timer reached 0 at host TSC `at` (the TSC value whose bit-X transition made the last tick) */
  | { readonly kind: 'expired'; readonly remaining: 0; readonly at: bigint };

/** Counts the timer down as the host TSC goes from t0 to t1. */
export const advance = (value: number, t0: bigint, t1: bigint, x: number): TimerAdvance => {
  if (value === 0) return { kind: 'expired', remaining: 0, at: t0 };
  const n = ticks(t0, t1, x);
  if (n < BigInt(value)) return { kind: 'running', remaining: value - Number(n) };
  const at = ((t0 >> BigInt(x)) + BigInt(value)) << BigInt(x);
  return { kind: 'expired', remaining: 0, at };
};

/** SDM "VM Entries" / "VMX-Preemption Timer": with the timer active, a value of 0 at VM entry causes a VM exit before
 * the first guest instruction. */
export const exitsAtEntry = (active: boolean, value: number): boolean => active && value === 0;

/** The exit the timer causes: reason 52, qualification 0. */
export const TIMER_EXIT = { reason: R.PREEMPTION_TIMER, qualification: 0n } as const;

/** SDM "Saving VMX-Preemption Timer Value": with exit control "save VMX-preemption timer value" the field gets the
 * remaining count (0 after a timer exit); otherwise it keeps the value software programmed. */
export const valueSavedOnExit = (save: boolean, programmed: number, remaining: number): number =>
  save ? remaining >>> 0 : programmed >>> 0;

/** Exit-control bit 22 and pin-based bit 6 (Linux VM_EXIT_SAVE_VMX_PREEMPTION_TIMER, PIN_BASED_VMX_PREEMPTION_TIMER). */
export const VM_EXIT_SAVE_VMX_PREEMPTION_TIMER = 22;
export const PIN_BASED_VMX_PREEMPTION_TIMER = 6;
