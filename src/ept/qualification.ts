/**
 * The exit qualification of an EPT violation (exit reason 48): layout, encoder (numbers) and decoder (bigint edge).
 *
 * Models: SDM Vol. 3C "Exit Qualification for EPT Violations" (table "Exit Qualification for EPT Violations").
 * Bits 9-11 ("advanced VM-exit information", IA32_VMX_EPT_VPID_CAP[22]) are reported only when bits 7 and 8 are
 * both 1; otherwise they are undefined and the encoder writes 0.
 * Leaves out: bits 13-16 (shadow-stack, supervisor shadow stack, guest-paging verification, asynchronous access):
 * the model has none of those features, so they are always 0.
 */

import { defineLayout, get, Layout } from '../arch/layout';

/** SDM table "Exit Qualification for EPT Violations" */
export const EPT_VIOLATION_QUALIFICATION: Layout = defineLayout('EPT violation qualification', 'SDM Vol. 3C table "Exit Qualification for EPT Violations"', 64, [
  { name: 'read', lo: 0, doc: 'the access was a data read' },
  { name: 'write', lo: 1, doc: 'the access was a data write' },
  { name: 'fetch', lo: 2, doc: 'the access was an instruction fetch' },
  { name: 'readable', lo: 3, doc: 'AND of bit 0 over the EPT entries used' },
  { name: 'writable', lo: 4, doc: 'AND of bit 1 over the EPT entries used' },
  { name: 'executable', lo: 5, doc: 'AND of bit 2 over the EPT entries used' },
  { name: 'userExecutable', lo: 6, doc: 'AND of bit 10 (mode-based execute control), else undefined' },
  { name: 'guestLinearAddressValid', lo: 7, doc: 'the guest-linear-address field is valid' },
  { name: 'finalTranslation', lo: 8, doc: 'access to the translation of the linear address (0: to a paging-structure entry)' },
  { name: 'userModeLinear', lo: 9, doc: 'advanced information: user-mode linear address' },
  { name: 'writableLinear', lo: 10, doc: 'advanced information: the linear address is read/write' },
  { name: 'executeDisableLinear', lo: 11, doc: 'advanced information: the linear address is execute-disable' },
  { name: 'nmiUnblocking', lo: 12, doc: 'NMI unblocking due to IRET' },
  { name: 'shadowStack', lo: 13, doc: 'shadow-stack access' },
  { name: 'supervisorShadowStack', lo: 14, doc: 'supervisor shadow-stack bit of the EPT leaf' },
  { name: 'guestPagingVerification', lo: 15, doc: 'caused by guest-paging verification' },
  { name: 'asynchronous', lo: 16, doc: 'access asynchronous to instruction execution' },
]);

export interface EptViolationBits {
  readonly read: boolean;
  readonly write: boolean;
  readonly fetch: boolean;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly executable: boolean;
  readonly userExecutable: boolean;
}

/** The linear-address part: bit 7 and 8, and the guest paging's view when advanced information applies. */
export interface EptViolationLinear {
  readonly guestLinearAddressValid: boolean;
  readonly finalTranslation: boolean;
  /** present only when the CPU reports advanced information and bits 7 and 8 are 1 */
  readonly advanced?: { readonly userModeLinear: boolean; readonly writableLinear: boolean; readonly executeDisableLinear: boolean };
  readonly nmiUnblocking?: boolean;
}

/** Encodes the qualification as a number (it fits 17 bits). */
export const encodeEptViolation = (v: EptViolationBits, l: EptViolationLinear): number => {
  let q = 0;
  if (v.read) q |= 1 << 0;
  if (v.write) q |= 1 << 1;
  if (v.fetch) q |= 1 << 2;
  if (v.readable) q |= 1 << 3;
  if (v.writable) q |= 1 << 4;
  if (v.executable) q |= 1 << 5;
  if (v.userExecutable) q |= 1 << 6;
  if (l.guestLinearAddressValid) {
    q |= 1 << 7;
    // Bit 8 is 0 when bit 7 is 0.
    if (l.finalTranslation) {
      q |= 1 << 8;
      if (l.advanced !== undefined) {
        if (l.advanced.userModeLinear) q |= 1 << 9;
        if (l.advanced.writableLinear) q |= 1 << 10;
        if (l.advanced.executeDisableLinear) q |= 1 << 11;
      }
    }
  }
  if (l.nmiUnblocking === true) q |= 1 << 12;
  return q;
};

export interface DecodedEptViolation extends EptViolationBits {
  readonly guestLinearAddressValid: boolean;
  readonly finalTranslation: boolean;
  readonly userModeLinear: boolean;
  readonly writableLinear: boolean;
  readonly executeDisableLinear: boolean;
  readonly nmiUnblocking: boolean;
  readonly shadowStack: boolean;
  readonly supervisorShadowStack: boolean;
  readonly guestPagingVerification: boolean;
  readonly asynchronous: boolean;
}

/** Named fields of a recorded qualification (edge: decode command, reports). */
export const decodeEptViolation = (q: bigint): DecodedEptViolation => {
  const b = (name: string): boolean => get(EPT_VIOLATION_QUALIFICATION, name, q) === 1n;
  return {
    read: b('read'), write: b('write'), fetch: b('fetch'),
    readable: b('readable'), writable: b('writable'), executable: b('executable'), userExecutable: b('userExecutable'),
    guestLinearAddressValid: b('guestLinearAddressValid'), finalTranslation: b('finalTranslation'),
    userModeLinear: b('userModeLinear'), writableLinear: b('writableLinear'), executeDisableLinear: b('executeDisableLinear'),
    nmiUnblocking: b('nmiUnblocking'), shadowStack: b('shadowStack'), supervisorShadowStack: b('supervisorShadowStack'),
    guestPagingVerification: b('guestPagingVerification'), asynchronous: b('asynchronous'),
  };
};
