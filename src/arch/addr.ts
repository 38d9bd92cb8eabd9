/**
 * Branded address types and 64-bit value helpers shared by every layer.
 *
 * Models: the three address spaces of VMX (guest-linear, guest-physical, host-physical). Physical addresses fit a JS
 * number exactly (MAXPHYADDR <= 52 < 53). Guest-linear addresses are 64-bit canonical values; in the hot path they are
 * kept as the low 57 bits in a number (canonical addresses are the sign extension of bit 47 or 56, so nothing is lost
 * once canonicality has been checked at the boundary). Rule 7 of the style guide: numbers in the hot path, bigint at
 * the edges.
 */

declare const GvaBrand: unique symbol;
declare const GpaBrand: unique symbol;
declare const HpaBrand: unique symbol;
/** guest-linear address: low 57 bits of a canonical address */
export type Gva = number & { readonly [GvaBrand]: true };
/** guest-physical address */
export type Gpa = number & { readonly [GpaBrand]: true };
/** host-physical address */
export type Hpa = number & { readonly [HpaBrand]: true };

export const gva = (n: number): Gva => n as Gva;
export const gpa = (n: number): Gpa => n as Gpa;
export const hpa = (n: number): Hpa => n as Hpa;

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const SIZE_2M = 0x200000;
export const SIZE_1G = 0x40000000;
export const LA57_MASK = 2 ** 57;

export const U64_MASK = (1n << 64n) - 1n;
export const u64 = (x: bigint): bigint => x & U64_MASK;

/** Page frame number of an address held in a number (no bigint, no 32-bit truncation). */
export const pfn = (a: number): number => Math.floor(a / PAGE_SIZE);
/** Offset of an address within its 4 KiB page. */
export const pageOffset = (a: number): number => a % PAGE_SIZE;

/** Bits hi:lo of a number-held address (hi < 53), for table indexes; no bigint. */
export const bitsOf = (a: number, lo: number, hi: number): number => Math.floor(a / 2 ** lo) % 2 ** (hi - lo + 1);

/** Is a 64-bit linear address canonical for a 48-bit (4-level) or 57-bit (5-level) linear-address width? */
export const isCanonical = (a: bigint, la57: boolean): boolean => {
  const w = la57 ? 57n : 48n;
  const top = u64(a) >> (w - 1n);
  return top === 0n || top === (1n << (65n - w)) - 1n;
};

/** A canonical 64-bit linear address to its hot-path number form (low 57 bits). */
export const gvaFromBig = (a: bigint): Gva => Number(u64(a) & ((1n << 57n) - 1n)) as Gva;
/** Back to the 64-bit canonical value (sign-extends from bit 47, or 56 under LA57). */
export const gvaToBig = (g: Gva, la57: boolean): bigint => {
  const x = BigInt(g);
  const sign = la57 ? 56n : 47n;
  return (x >> sign) & 1n ? u64(x | ~((1n << (sign + 1n)) - 1n)) : x & ((1n << (sign + 1n)) - 1n);
};

/** Lowercase 0x hex, as the JSON contract writes addresses and 64-bit values. */
export const hex = (x: bigint | number): string => '0x' + (typeof x === 'bigint' ? u64(x) : x).toString(16);
