/**
 * Exception bitmap and #PF error-code filtering: which guest exceptions cause VM exits (reason 0), and what the exit
 * records.
 *
 * Models: SDM Vol. 3C "Exception Bitmap" (with "Page-fault error-code mask" / "match"), "Exceptions" in "Other Causes
 * of VM Exits", and "Information for VM Exits Due to Vectored Events" (interruption information, error code,
 * qualification = faulting linear address for #PF, CR2 not written).
 * Leaves out: NMIs (pin-based NMI exiting), the #DB qualification (DR6-style bits), exceptions during event delivery
 * (IDT-vectoring information), #DF/triple-fault escalation.
 */

import { R } from './exitReasons';
import * as Q from './qualifications';

export const PF_VECTOR = 14;

/** Vectors whose hardware delivery pushes an error code (#DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP). */
export const HAS_ERROR_CODE: ReadonlySet<number> = new Set([8, 10, 11, 12, 13, 14, 17, 21]);

export interface ExceptionFilter {
  readonly exceptionBitmap: number;
  readonly pfecMask: number;
  readonly pfecMatch: number;
}

/** SDM "Exception Bitmap": bit v of the bitmap decides for vector v, except #PF, which exits iff
 * ((PFEC & mask) == match) equals bit 14. */
export const exceptionExits = (f: ExceptionFilter, vector: number, errorCode = 0): boolean => {
  const bit14 = ((f.exceptionBitmap >>> PF_VECTOR) & 1) === 1;
  if (vector === PF_VECTOR) return (((errorCode & f.pfecMask) >>> 0) === (f.pfecMatch >>> 0)) === bit14;
  return vector < 32 && ((f.exceptionBitmap >>> vector) & 1) === 1;
};

/** How the exception arose: hardware (type 3), INT3/INTO (software exception, type 6), INT1/ICEBP (type 5). */
export type ExceptionSource = 'hardware' | 'int3' | 'into' | 'int1';

export const interruptionInfo = (vector: number, source: ExceptionSource = 'hardware'): bigint => {
  const type: Q.InterruptionType = source === 'hardware' ? 'hardware-exception'
    : source === 'int1' ? 'privileged-software-exception' : 'software-exception';
  return Q.encodeInterruptionInfo({ vector, type, errorCodeValid: source === 'hardware' && HAS_ERROR_CODE.has(vector) });
};

export type ExceptionOutcome =
  | {
      readonly kind: 'exit'; readonly reason: number; readonly qualification: bigint;
      readonly interruptionInfo: bigint; readonly errorCode?: number;
    }
  | { readonly kind: 'deliver'; readonly vector: number; readonly errorCode?: number };

/** A guest exception: VM exit (reason 0) or delivery through the guest IDT. For #PF, `linear` is the faulting linear
 * address; on exit it becomes the qualification (and CR2 is not written). */
export const onException = (
  f: ExceptionFilter, vector: number, errorCode: number | undefined, linear = 0n, source: ExceptionSource = 'hardware',
): ExceptionOutcome => {
  const ec = source === 'hardware' && HAS_ERROR_CODE.has(vector) ? (errorCode ?? 0) : undefined;
  if (!exceptionExits(f, vector, ec ?? 0)) {
    return ec === undefined ? { kind: 'deliver', vector } : { kind: 'deliver', vector, errorCode: ec };
  }
  const base = {
    kind: 'exit' as const,
    reason: R.EXCEPTION_NMI,
    qualification: vector === PF_VECTOR ? linear & ((1n << 64n) - 1n) : 0n,
    interruptionInfo: interruptionInfo(vector, source),
  };
  return ec === undefined ? base : { ...base, errorCode: ec };
};
