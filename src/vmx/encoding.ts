/**
 * VMCS component encodings as VMREAD/VMWRITE see them.
 *
 * Models: SDM Vol. 3C "VMREAD, VMWRITE, and Encodings of VMCS Fields" (the 32-bit encoding: access type, index, type,
 * width) and the VMREAD/VMWRITE instruction pages (unsupported component => VMfailValid(12); "high" access to the
 * upper half of a 64-bit field; zero extension on read, truncation on write).
 * Leaves out: which fields a particular CPU supports beyond src/vmx/fields.ts (every row there is supported).
 */

import { fieldByEncoding, VmcsField, widthMask, type Area, type Width } from './fields';

export type AccessType = 'full' | 'high';
/** the width and type bits of an encoding name the same widths and areas as the field table */
export type EncodedWidth = Width;
export type EncodedType = Area;

export interface DecodedEncoding {
  readonly access: AccessType;
  /** bits 9:1 */
  readonly index: number;
  /** bits 11:10 */
  readonly type: EncodedType;
  /** bits 14:13 */
  readonly width: EncodedWidth;
  /** bit 12 or bits 31:15 set */
  readonly reservedBitsSet: boolean;
}

const WIDTHS: readonly EncodedWidth[] = [16, 64, 32, 'natural'];
const TYPES: readonly EncodedType[] = ['control', 'exit-info', 'guest', 'host'];
/** bits 31:15 and bit 12 (SDM "Encodings of VMCS Fields": reserved, must be 0) */
const RESERVED_MASK = 0xffff9000;

/** Splits a 32-bit encoding into its parts (SDM table "Structure of VMCS Component Encoding"). */
export const decodeEncoding = (enc: number): DecodedEncoding => {
  const e = enc >>> 0;
  return {
    access: (e & 1) === 1 ? 'high' : 'full',
    index: (e >>> 1) & 0x1ff,
    type: TYPES[(e >>> 10) & 3],
    width: WIDTHS[(e >>> 13) & 3],
    reservedBitsSet: (e & RESERVED_MASK) !== 0,
  };
};

/** A resolved encoding: the field and which part of it the access touches. */
export interface Component {
  readonly field: VmcsField;
  readonly access: AccessType;
}

/**
 * Resolves an encoding against the supported-field table; undefined = "unsupported VMCS component"
 * (VMfailValid(12)): reserved bits set, no such field, or a high access to a field that is not 64 bits wide.
 * A register operand with bits 63:32 set is unsupported as well (as Bochs vmx.cc treats it in 64-bit mode).
 */
export const resolve = (enc: number): Component | undefined => {
  if (!Number.isInteger(enc) || enc < 0 || enc > 0xffffffff) return undefined;
  const d = decodeEncoding(enc);
  if (d.reservedBitsSet) return undefined;
  const field = fieldByEncoding(enc & ~1);
  if (field === undefined) return undefined;
  if (d.access === 'high' && field.width !== 64) return undefined;
  return { field, access: d.access };
};

/** VMREAD result for a component: the field value zero-extended, or bits 63:32 of it for a high access. */
export const readComponent = (c: Component, full: bigint): bigint => {
  const v = full & widthMask(c.field);
  return c.access === 'high' ? v >> 32n : v;
};

/**
 * The field value after VMWRITE of `source` to a component: truncated to the field width for a full access;
 * a high access replaces bits 63:32 only and keeps bits 31:0 (SDM "VMWRITE").
 */
export const writeComponent = (c: Component, old: bigint, source: bigint): bigint => {
  if (c.access === 'high') return ((source & 0xffff_ffffn) << 32n) | (old & 0xffff_ffffn);
  return source & widthMask(c.field);
};
