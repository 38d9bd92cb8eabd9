/**
 * Branded address types and 64-bit value helpers shared by every layer.
 *
 * Models: the three address spaces of VMX (guest-linear, guest-physical, host-physical). Physical addresses fit a JS
 * number exactly (MAXPHYADDR <= 52 < 53). Guest-linear addresses are 64-bit canonical values; in the hot path they are
 * kept as the SIGNED value of the canonical address in a number (the upper half is negative): every 4-level
 * (48-bit) canonical address fits exactly, and so does every 5-level address within 2^53 of zero. Table indexes and
 * page offsets of a signed address use `mod` (never `%`), which gives the bits of the two's-complement value.
 * Rule 7 of the style guide: numbers in the hot path, bigint at the edges.
 */

declare const GvaBrand: unique symbol;
declare const GpaBrand: unique symbol;
declare const HpaBrand: unique symbol;
/** guest-linear address: the canonical address as a signed number (upper half negative) */
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
/**
 * 2^-(12 + 9 (level - 1)) for paging levels 1-5 (index 0 unused): `Math.floor(a * LEVEL_INV[level])` is `a` divided by
 * the bytes one entry of that level maps, exactly (a multiplication by a power of two is exact, and cheaper than the
 * floating-point division); guest paging, EPT and the paging-structure caches index with it.
 */
export const LEVEL_INV: readonly number[] = [1, 2 ** -12, 2 ** -21, 2 ** -30, 2 ** -39, 2 ** -48];
export const SIZE_2M = 0x200000;
export const SIZE_1G = 0x40000000;
export const LA57_MASK = 2 ** 57;

export const U64_MASK = (1n << 64n) - 1n;
export const u64 = (x: bigint): bigint => x & U64_MASK;

/** Page frame number of an address held in a number (no bigint, no 32-bit truncation). */
export const pfn = (a: number): number => Math.floor(a / PAGE_SIZE);
/** Offset of an address within its 4 KiB page. */
export const pageOffset = (a: number): number => mod(a, PAGE_SIZE);

/** Bits hi:lo of a number-held address (hi < 53), for table indexes; no bigint. */
export const bitsOf = (a: number, lo: number, hi: number): number => mod(Math.floor(a / 2 ** lo), 2 ** (hi - lo + 1));

/** Is a 64-bit linear address canonical for a 48-bit (4-level) or 57-bit (5-level) linear-address width? */
export const isCanonical = (a: bigint, la57: boolean): boolean => {
  const w = la57 ? 57n : 48n;
  const top = u64(a) >> (w - 1n);
  return top === 0n || top === (1n << (65n - w)) - 1n;
};

/** The signed value of a 64-bit address (bit 63 set: negative): its low 64 bits as two's complement. */
const signed64 = (a: bigint): bigint => BigInt.asIntN(64, a);

/** A bigint's 64 bits seen as two 32-bit halves (little-endian, checked below). */
const CONV = new BigUint64Array(1);
const CONV32 = new Uint32Array(CONV.buffer);

const TWO53 = 1n << 53n;
/** Can this canonical address be held exactly as a hot-path number (|value| <= 2^53)? */
export const gvaRepresentable = (a: bigint): boolean => { const s = signed64(a); return s >= -TWO53 && s <= TWO53; };

/**
 * A canonical 64-bit linear address to its hot-path number form (the signed value; exact when gvaRepresentable). The
 * low 64 bits are read as two 32-bit halves through a typed array (`CONV`, above), and the signed value is made with
 * one rounding, so it equals `Number(BigInt.asIntN(64, a))` (~30 instructions against ~250).
 */
export const gvaFromBig = (a: bigint): Gva => {
  CONV[0] = a;
  const hi = CONV32[1];
  return ((hi >= 0x8000_0000 ? hi - 0x1_0000_0000 : hi) * 0x1_0000_0000 + CONV32[0]) as Gva;
};
/**
 * Back to the 64-bit value (two's complement of the signed number): for an integer, its two 32-bit halves written
 * through the typed array, which equals `BigInt.asUintN(64, BigInt(g))` (~30 instructions against ~330); anything
 * else throws, as BigInt does. `la57` is kept for callers' clarity: the signed form is the same for both widths.
 */
export const gvaToBig = (g: Gva, _la57?: boolean): bigint => {
  if (!Number.isInteger(g)) return u64(BigInt(g));
  // ToUint32 keeps an integer modulo 2^32 exactly: the low word, and (of the quotient by 2^32) the high word
  CONV32[0] = g >>> 0;
  CONV32[1] = Math.floor(g / 0x1_0000_0000) >>> 0;
  return CONV[0];
};

/** Non-negative remainder: the low bits of a (possibly negative, two's-complement) address. */
export const mod = (a: number, m: number): number => { const r = a % m; return r < 0 ? r + m : r; };

/**
 * `mod(x, size)` for an integer x with |x| < 2^53 and a power-of-two size up to 2^30, without a floating-point
 * remainder (which V8 computes with a libc call for numbers above 2^31): ToInt32 keeps x modulo 2^32 exactly, so the
 * low bits are x's low bits in two's complement, i.e. the mathematical (non-negative) remainder.
 */
export const lowBits = (x: number, size: number): number => x & (size - 1);

/** 2^(m - 32) - 1 for MAXPHYADDR m in 32..52: the address bits of an entry's high word (a table: no Math.pow on the
 * hot path). */
const HI_ADDR: readonly number[] = Array.from({ length: 53 }, (_, m) => (m >= 32 ? 2 ** (m - 32) - 1 : 0));
export const hiAddrMask = (maxPhyAddr: number): number => HI_ADDR[maxPhyAddr] ?? 2 ** (maxPhyAddr - 32) - 1;

/** Lowercase 0x hex, as the JSON contract writes addresses and 64-bit values. */
export const hex = (x: bigint | number): string => '0x' + (typeof x === 'bigint' ? u64(x) : x).toString(16);

/** 1n << n for n = 0..63, made once (a bit test then makes one bigint, not three). */
const BIT_MASKS: readonly bigint[] = Array.from({ length: 64 }, (_, i) => 1n << BigInt(i));

/** Whether bit n of a 64-bit value (an MSR, control register or VMCS field) is 1. */
export const isBitSet = (v: bigint, n: number): boolean =>
  (n >= 0 && n < 64 && (n | 0) === n ? (v & BIT_MASKS[n]) !== 0n : ((v >> BigInt(n)) & 1n) === 1n);

/** The 64-bit value with only bit n set. */
export const bitMask = (n: number): bigint => 1n << BigInt(n);

/** The bigints 0..1023, made once: BigInt(n) of a small count, index or reason allocates a new bigint every time. */
const SMALL_BIGINTS: readonly bigint[] = Array.from({ length: 1024 }, (_, i) => BigInt(i));

/** BigInt(n) for an integer n (a shared value for 0 <= n < 1024; throws for a non-integer, as BigInt does). */
export const bigOf = (n: number): bigint => (n >= 0 && n < 1024 && (n | 0) === n ? SMALL_BIGINTS[n] : BigInt(n));

/**
 * Number(b) for 0 <= b < 2^53 (the caller checks the range; outside it the result is wrong): through a typed array.
 * Number() of a bigint is a call into the runtime, ~150 instructions; this is ~10.
 */
export const smallNumberOf = (b: bigint): number => {
  CONV[0] = b;
  return CONV32[0] + CONV32[1] * 0x1_0000_0000;
};
if (smallNumberOf(0x1f_0000_0002n) !== 0x1f_0000_0002 || smallNumberOf(0xffff_ffffn) !== 0xffff_ffff ||
  gvaFromBig(0xffff_8000_0000_1000n) !== -(2 ** 47) + 0x1000 || gvaToBig(-(2 ** 47) + 0x1000 as Gva) !== 0xffff_8000_0000_1000n) {
  throw new Error('addr.ts: smallNumberOf, gvaFromBig and gvaToBig need a little-endian platform');
}
