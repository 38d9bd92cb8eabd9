/**
 * io-ts codecs shared by every input format: 64-bit values and addresses as hex ("0x7fff0000") or decimal strings
 * (interface §1), and small integers. Plain JSON numbers are accepted when they are safe integers.
 */
import * as t from 'io-ts';

const HEX = /^0[xX][0-9a-fA-F]+$/;
const DEC = /^[0-9]+$/;

/** Parses a hex or decimal string (or a safe integer) into a bigint of at most `bits` bits; undefined when invalid. */
export const parseUint = (v: unknown, bits: number): bigint | undefined => {
  let x: bigint;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) return undefined;
    x = BigInt(v);
  } else if (typeof v === 'string') {
    const s = v.trim().replace(/_/g, '');
    if (HEX.test(s) || DEC.test(s)) x = BigInt(s);
    else return undefined;
  } else return undefined;
  return x < 1n << BigInt(bits) ? x : undefined;
};

/** An unsigned integer of at most `bits` bits, given as "0x..." or decimal string (or a safe JSON integer). */
export const uintCodec = (bits: number, what = `a ${bits}-bit value as a hex or decimal string`): t.Type<bigint, string, unknown> =>
  new t.Type<bigint, string, unknown>(
    what,
    (u): u is bigint => typeof u === 'bigint' && u >= 0n && u < 1n << BigInt(bits),
    (u, c) => {
      const x = parseUint(u, bits);
      return x === undefined ? t.failure(u, c, what) : t.success(x);
    },
    (x) => '0x' + x.toString(16),
  );

export const U64 = uintCodec(64);
/** a physical address (52 bits at most) */
export const PhysAddr = uintCodec(52, 'a physical address (at most 52 bits) as a hex or decimal string');

/** A number-valued small integer in [min, max]. */
export const intIn = (min: number, max: number, what = `an integer from ${min} to ${max}`): t.Type<number, number, unknown> =>
  new t.Type<number, number, unknown>(
    what,
    (u): u is number => typeof u === 'number' && Number.isInteger(u) && u >= min && u <= max,
    (u, c) => {
      const x = typeof u === 'string' ? parseUint(u, 53) : typeof u === 'number' && Number.isInteger(u) ? BigInt(u) : undefined;
      return x !== undefined && x >= BigInt(min) && x <= BigInt(max) ? t.success(Number(x)) : t.failure(u, c, what);
    },
    (x) => x,
  );

/** A literal union with a readable "expected" text. */
export const oneOf = <T extends string>(values: readonly T[]): t.Type<T, T, unknown> => {
  const what = values.map((v) => JSON.stringify(v)).join(' or ');
  return new t.Type<T, T, unknown>(
    what,
    (u): u is T => typeof u === 'string' && (values as readonly string[]).includes(u),
    (u, c) => (typeof u === 'string' && (values as readonly string[]).includes(u) ? t.success(u as T) : t.failure(u, c, what)),
    (x) => x,
  );
};

/** A range "lo-hi" or a single value, both hex or decimal, as [lo, hi] inclusive. */
export const rangeCodec = (bits: number, what: string): t.Type<readonly [bigint, bigint], string, unknown> =>
  new t.Type<readonly [bigint, bigint], string, unknown>(
    what,
    (u): u is readonly [bigint, bigint] => Array.isArray(u) && u.length === 2,
    (u, c) => {
      if (typeof u !== 'string' && typeof u !== 'number') return t.failure(u, c, what);
      const parts = typeof u === 'string' ? u.split('-') : [String(u)];
      if (parts.length > 2) return t.failure(u, c, what);
      const lo = parseUint(parts[0], bits);
      const hi = parts.length === 2 ? parseUint(parts[1], bits) : lo;
      return lo !== undefined && hi !== undefined && lo <= hi ? t.success([lo, hi] as const) : t.failure(u, c, what);
    },
    ([lo, hi]) => `0x${lo.toString(16)}-0x${hi.toString(16)}`,
  );

/** An object type that rejects unknown keys (io-ts `exact` strips them silently; an unknown key is an error here). */
export const strict = <P extends t.Props>(props: P, name: string): t.Type<Partial<t.TypeOf<t.PartialC<P>>>, unknown, unknown> => {
  const partial = t.partial(props);
  return new t.Type<Partial<t.TypeOf<t.PartialC<P>>>, unknown, unknown>(
    name,
    (u): u is Partial<t.TypeOf<t.PartialC<P>>> => partial.is(u),
    (u, c) => {
      if (typeof u !== 'object' || u === null || Array.isArray(u)) return t.failure(u, c, 'an object');
      for (const k of Object.keys(u)) {
        if (!(k in props)) return t.failure(k, [...c, { key: k, type: t.never, actual: (u as Record<string, unknown>)[k] }], `one of the keys ${Object.keys(props).join(', ')} (unknown key)`);
      }
      return partial.validate(u, c) as t.Validation<Partial<t.TypeOf<t.PartialC<P>>>>;
    },
    (x) => x,
  );
};
