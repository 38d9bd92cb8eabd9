/**
 * The trace codec: one JSON line of a `.jsonl` trace to one guest event, and back (interface §2).
 *
 * Models: parsing at the boundary (style rule 8): io-ts codecs turn each line into a typed `GuestEvent`; past this
 * module nothing sees `unknown`. A decode error is an `InputProblem` naming the file, the line, the field path,
 * what was expected and what was found (our own short reporter over io-ts `Errors`).
 * Values: addresses and 64-bit values are hex strings (`"0x7fff0000"`) or decimal strings; plain JSON numbers are
 * also accepted when they are safe integers (<= 2^53 - 1), since JSON cannot carry larger integers exactly.
 * A `gva` must be a canonical linear address for the widest (57-bit, 5-level) linear-address width (SDM
 * "Canonical Addressing"); the 48-bit rule of 4-level paging is left to the guest walker. A `gpa` must fit 52 bits.
 * Unknown ops and unknown fields are errors. The encoder writes addresses and 64-bit values as lowercase 0x hex and
 * omits fields equal to their defaults. A fast path parses the commonest memory-access lines by hand and falls
 * back to the codec for everything else, so its errors are the codec's.
 * Leaves out: scenario root-mode steps (the scenario runner decodes those, and calls `decodeGuestEvent` for the rest).
 */
import { hexEnd, hexValueOf } from './hexScan';
import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { gpa as toGpa, gvaFromBig, gvaRepresentable, gvaToBig, isCanonical, type Gva } from '../arch/addr';
import { inputProblem, showFound, type InputProblem } from '../arch/problem';
import { GUEST_OPS, canonicalEvent, type GuestEvent, type GuestOp } from './events';
import { FETCH, READ, WRITE, type AccessInterner } from './intern';

/** A decode failure before file and line are known. */
export interface FieldProblem { readonly path: string; readonly expected: string; readonly found: string }

// ---------------------------------------------------------------------------------------------------------------
// Scalar codecs

const parseUnsigned = (u: unknown): bigint | undefined => {
  if (typeof u === 'number') return Number.isSafeInteger(u) && u >= 0 ? BigInt(u) : undefined;
  if (typeof u !== 'string') return undefined;
  if (/^0x[0-9a-fA-F]+$/.test(u)) return BigInt(u);
  if (/^[0-9]+$/.test(u)) return BigInt(u);
  return undefined;
};

/** An unsigned integer of at most `bits` bits, held as a bigint. */
const uBig = (bits: number, name: string): t.Type<bigint, string, unknown> => {
  const max = (1n << BigInt(bits)) - 1n;
  return new t.Type<bigint, string, unknown>(
    name,
    (u): u is bigint => typeof u === 'bigint' && u >= 0n && u <= max,
    (u, c) => {
      const v = parseUnsigned(u);
      return v !== undefined && v <= max ? t.success(v) : t.failure(u, c);
    },
    (v) => '0x' + v.toString(16),
  );
};

/** An unsigned integer of at most `bits` (<= 53) bits, held as a number; encoded as a number or hex string. */
const uNum = (bits: number, name: string, encodeHex = false): t.Type<number, number | string, unknown> => {
  const max = 2 ** bits - 1;
  const bigMax = BigInt(max);
  return new t.Type<number, number | string, unknown>(
    name,
    (u): u is number => typeof u === 'number' && Number.isInteger(u) && u >= 0 && u <= max,
    (u, c) => {
      const v = parseUnsigned(u);
      return v !== undefined && v <= bigMax ? t.success(Number(v)) : t.failure(u, c);
    },
    (v) => (encodeHex ? '0x' + v.toString(16) : v),
  );
};

const oneOf = <A extends string | number>(values: readonly A[], name: string): t.Type<A, A, unknown> =>
  new t.Type<A, A, unknown>(
    name,
    (u): u is A => (values as readonly unknown[]).includes(u),
    (u, c) => {
      // numbers may also come as decimal strings, like every other integer field
      const n = typeof u === 'string' && typeof values[0] === 'number' ? parseUnsigned(u) : undefined;
      const v = n !== undefined ? Number(n) : u;
      return (values as readonly unknown[]).includes(v) ? t.success(v as A) : t.failure(u, c);
    },
    (v) => v,
  );

const bool = new t.Type<boolean, boolean, unknown>('true or false', t.boolean.is, (u, c) => (typeof u === 'boolean' ? t.success(u) : t.failure(u, c)), (v) => v);

const MAX_U64 = (1n << 64n) - 1n;
const GVA_EXACT = 'an address within 2^53 of zero as a signed 64-bit value (every 4-level canonical address is; 5-level upper-half addresses below -2^53 are not supported)';

/** `gva`: a canonical 64-bit linear address (57-bit width), kept as its signed value (src/arch/addr.ts Gva). */
export const GvaCodec = new t.Type<Gva, string, unknown>(
  'a canonical 64-bit address as a hex or decimal string',
  (u): u is Gva => typeof u === 'number' && Number.isSafeInteger(u),
  (u, c) => {
    const v = parseUnsigned(u);
    if (v === undefined || v > MAX_U64) return t.failure(u, c, 'a 64-bit address as a hex or decimal string');
    if (!isCanonical(v, true)) return t.failure(u, c, 'a canonical address (bits 63:56 all equal to bit 56)');
    // a Gva is the signed value in a JS number: exact within 2^53 of zero; refuse rather than round
    if (!gvaRepresentable(v)) return t.failure(u, c, GVA_EXACT);
    return t.success(gvaFromBig(v));
  },
  (g) => '0x' + gvaToBig(g, true).toString(16),
);

const GpaCodec = new t.Type<ReturnType<typeof toGpa>, string, unknown>(
  'a 52-bit guest-physical address as a hex or decimal string',
  (u): u is ReturnType<typeof toGpa> => typeof u === 'number' && Number.isInteger(u) && u >= 0 && u < 2 ** 52,
  (u, c) => {
    const v = parseUnsigned(u);
    return v !== undefined && v < 1n << 52n ? t.success(toGpa(Number(v))) : t.failure(u, c);
  },
  (g) => '0x' + g.toString(16),
);

const u64 = uBig(64, 'a 64-bit value as a hex or decimal string');
const u32 = uNum(32, 'a 32-bit unsigned integer');
const msr = uNum(32, 'a 32-bit MSR index', true);
const vector = uNum(8, 'a vector 0-255');
const accessSize = new t.Type<number, number, unknown>(
  'an access size in bytes, 1-4096',
  (u): u is number => typeof u === 'number' && Number.isInteger(u) && u >= 1 && u <= 4096,
  (u, c) => {
    const v = parseUnsigned(u);
    return v !== undefined && v >= 1n && v <= 4096n ? t.success(Number(v)) : t.failure(u, c);
  },
  (v) => v,
);
const flagsCodec = new t.Type<string, string, unknown>(
  'page flags: a subset of "rwux" (e.g. "rwux"; x absent sets XD)',
  (u): u is string => typeof u === 'string',
  (u, c) => (typeof u === 'string' && /^[rwux]*$/.test(u) && new Set(u).size === u.length ? t.success(u) : t.failure(u, c)),
  (v) => v,
);

// ---------------------------------------------------------------------------------------------------------------
// Per-op field tables

interface Field {
  readonly type: t.Type<unknown, unknown, unknown>;
  readonly optional?: boolean;
  /** applied when the field is absent; omitted by the encoder when equal */
  readonly default?: unknown;
}
const req = (type: t.Type<unknown, unknown, unknown>): Field => ({ type });
const opt = (type: t.Type<unknown, unknown, unknown>, dflt?: unknown): Field =>
  dflt === undefined ? { type, optional: true } : { type, optional: true, default: dflt };

const T = <A, O>(x: t.Type<A, O, unknown>): t.Type<unknown, unknown, unknown> => x as unknown as t.Type<unknown, unknown, unknown>;

const accessFields = { gva: req(T(GvaCodec)), size: opt(T(accessSize), 1), user: opt(T(bool), true) };
const ioFields = {
  port: req(T(uNum(16, 'a port 0-0xffff'))), size: opt(T(oneOf([1, 2, 4] as const, 'an I/O size 1, 2 or 4')), 1),
  string: opt(T(bool), false), rep: opt(T(bool), false),
};
const crType = T(oneOf([0, 3, 4, 8] as const, 'a control register 0, 3, 4 or 8'));

export const FIELDS: Readonly<Record<GuestOp, Readonly<Record<string, Field>>>> = {
  read: accessFields, write: accessFields, fetch: accessFields,
  rdtsc: {}, rdtscp: {}, rdpid: {}, rdpmc: {},
  hlt: {}, pause: {}, mwait: {}, monitor: {}, wbinvd: {}, invd: {}, xsetbv: {}, rdrand: {}, rdseed: {},
  cpuid: { leaf: req(T(u32)), subleaf: opt(T(u32), 0) },
  rdmsr: { msr: req(T(msr)) },
  wrmsr: { msr: req(T(msr)), value: req(T(u64)) },
  in: ioFields,
  out: ioFields,
  mov_to_cr: { cr: req(crType), value: req(T(u64)) },
  mov_from_cr: { cr: req(crType) },
  clts: {},
  lmsw: { value: req(T(uNum(16, 'a 16-bit LMSW source operand'))) },
  invlpg: { gva: req(T(GvaCodec)) },
  vmcall: { nr: opt(T(u64)) },
  exception: { vector: req(T(vector)), errorCode: opt(T(u32)) },
  interrupt: { vector: req(T(vector)) },
  nmi: {},
  run: { cycles: req(T(u64)) },
  guest_map: {
    gva: req(T(GvaCodec)), gpa: req(T(GpaCodec)),
    size: opt(T(oneOf(['4K', '2M', '1G'] as const, 'a page size "4K", "2M" or "1G"')), '4K'),
    flags: req(T(flagsCodec)),
  },
  guest_unmap: { gva: req(T(GvaCodec)) },
};

/** FIELDS as lists of [name, field] (made once: a decode walks them for every event). */
const FIELD_LISTS = Object.fromEntries(Object.entries(FIELDS).map(([op, f]) => [op, Object.entries(f)])) as unknown as Readonly<Record<GuestOp, ReadonlyArray<readonly [string, Field]>>>;

const OP_SET: ReadonlySet<string> = new Set(GUEST_OPS);
const OP_EXPECTED = 'a guest event op (' + GUEST_OPS.join(', ') + ')';

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === 'object' && u !== null && !Array.isArray(u);

/** The io-ts codec of one guest event (a JSON object with `op`), closed: unknown fields fail. */
export const GuestEventCodec = new t.Type<GuestEvent, Record<string, unknown>, unknown>(
  'a guest event object',
  (u): u is GuestEvent => isRecord(u) && typeof u.op === 'string' && OP_SET.has(u.op),
  (u, c) => {
    if (!isRecord(u)) return t.failure(u, c, 'a JSON object with an "op" field');
    const op = u.op;
    if (typeof op !== 'string' || !OP_SET.has(op)) return t.failure(op, t.appendContext(c, 'op', t.string, op), OP_EXPECTED);
    const fields = FIELDS[op as GuestOp];
    const out: Record<string, unknown> = { op };
    for (const k of Object.keys(u)) {
      if (k !== 'op' && !(k in fields)) {
        const known = ['op', ...Object.keys(fields)].join(', ');
        return t.failure(u[k], t.appendContext(c, k, t.never, u[k]), `no field "${k}" in a ${op} event (fields: ${known})`);
      }
    }
    for (const [k, f] of FIELD_LISTS[op as GuestOp]) {
      const v = u[k];
      if (v === undefined) {
        if (f.optional !== true) return t.failure(v, t.appendContext(c, k, f.type, v), f.type.name);
        if (f.default !== undefined) out[k] = f.default;
        continue;
      }
      // validated in the object's context (no context entry made for a valid field); a failure is validated again
      // with the field's entry, for the error's path (the field codecs are pure: the same failure)
      const r = f.type.validate(v, c);
      if (E.isLeft(r)) {
        const again = f.type.validate(v, t.appendContext(c, k, f.type, v));
        return t.failures(E.isLeft(again) ? again.left : r.left);
      }
      out[k] = r.right;
    }
    // as literals build it (one hidden class per op: the replay engine's exit path stays monomorphic)
    return t.success(canonicalEvent(out as unknown as GuestEvent));
  },
  (e) => {
    const fields = FIELDS[e.op];
    const out: Record<string, unknown> = { op: e.op };
    const rec = e as unknown as Record<string, unknown>;
    for (const [k, f] of Object.entries(fields)) {
      const v = rec[k];
      if (v === undefined || (f.default !== undefined && v === f.default)) continue;
      out[k] = f.type.encode(v);
    }
    return out;
  },
);

// ---------------------------------------------------------------------------------------------------------------
// Reporter

/** Our short reporter: the first error, as field path, expected and found. */
export const report = (errors: t.Errors, path: string): FieldProblem => {
  const e = errors[0];
  const keys = e.context.map((x) => x.key).filter((k) => k !== '');
  const last = e.context[e.context.length - 1];
  const p = [path, ...keys].filter((k) => k !== '').join('.');
  return { path: p, expected: e.message ?? last.type.name, found: showFound(e.value) };
};

/** Decodes a guest event from a parsed JSON value; `path` prefixes the field path (e.g. "steps[3]"). */
export const decodeGuestEvent = (obj: unknown, path: string): E.Either<FieldProblem, GuestEvent> => {
  const r = GuestEventCodec.decode(obj);
  return E.isRight(r) ? r : E.left(report(r.left, path));
};

/** The JSON object of an event (addresses and 64-bit values as lowercase 0x hex; defaults omitted). */
export const encodeGuestEvent = (e: GuestEvent): Record<string, unknown> => GuestEventCodec.encode(e);

/** One trace line (no newline). */
export const encodeTraceLine = (e: GuestEvent): string => JSON.stringify(encodeGuestEvent(e));

// ---------------------------------------------------------------------------------------------------------------
// Lines

/** `str` at `text[i]`? (char codes; no allocation) */
const at = (text: string, i: number, str: string): boolean => {
  if (i + str.length > text.length) return false;
  for (let k = 0; k < str.length; k++) if (text.charCodeAt(i + k) !== str.charCodeAt(k)) return false;
  return true;
};

/**
 * The hand-written parser for the commonest lines, over `text[start, end)`, scanned by char code:
 * `{"op":"read|write|fetch","gva":"0x<1-13 hex digits>"[,"size":<1-4096>][,"user":true|false]}` exactly (no blanks),
 * and the encoder's WRMSR line (`wrmsrAt`).
 * Undefined means "ask the codec" (which then gives the same event or the error). With `intern`, equal accesses
 * share one event object (the same values either way).
 */
export const fastParseAt = (text: string, start: number, end: number, intern?: AccessInterner): GuestEvent | undefined => {
  let i = start;
  if (!at(text, i, '{"op":"')) return undefined;
  i += 7;
  let op: number;
  if (at(text, i, 'read"')) { op = READ; i += 5; } else if (at(text, i, 'write"')) { op = WRITE; i += 6; } else if (at(text, i, 'fetch"')) { op = FETCH; i += 6; } else return at(text, i, 'wrmsr"') ? wrmsrAt(text, i + 6, end) : undefined;
  if (!at(text, i, ',"gva":"0x')) return undefined;
  i += 10;
  const h0 = i;
  i = hexEnd(text, h0, end);
  // 13 hex digits (52 bits) are exact in a number and always canonical; everything longer goes to the codec
  if (i === h0 || i - h0 > 13 || i >= end || text.charCodeAt(i) !== 34) return undefined;
  const g = hexValueOf(text, h0, i);
  i++;
  let size = 1;
  if (at(text, i, ',"size":')) {
    i += 8;
    const s0 = i;
    if (i >= end || text.charCodeAt(i) === 48) return undefined;
    size = 0;
    for (; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      size = size * 10 + (c - 48);
    }
    if (i === s0 || i - s0 > 4 || size > 4096) return undefined;
  }
  let user = true;
  if (at(text, i, ',"user":')) {
    i += 8;
    if (at(text, i, 'true')) i += 4;
    else if (at(text, i, 'false')) { user = false; i += 5; } else return undefined;
  }
  if (i !== end - 1 || text.charCodeAt(i) !== 125) return undefined;
  if (intern !== undefined) return intern.access(op, g, size, user);
  return { op: op === READ ? 'read' : op === WRITE ? 'write' : 'fetch', gva: g as Gva, size, user };
};

/**
 * The rest of `{"op":"wrmsr"` from `text[i]`: `,"msr":"0x<1-8 hex digits>","value":"0x<1-16 hex digits>"}` exactly
 * (the encoder's form; its values always fit the fields, so the codec would give the same event), else undefined. The
 * value differs from line to line in a recorded trace, so these lines are seldom decoded before.
 */
const wrmsrAt = (text: string, i: number, end: number): GuestEvent | undefined => {
  if (!at(text, i, ',"msr":"0x')) return undefined;
  i += 10;
  const m0 = i;
  i = hexEnd(text, i, end);
  if (i === m0 || i - m0 > 8 || !at(text, i, '","value":"0x')) return undefined;
  const msr = hexValueOf(text, m0, i);
  i += 13;
  const v0 = i;
  i = hexEnd(text, i, end);
  if (i === v0 || i - v0 > 16 || i !== end - 2 || !at(text, i, '"}')) return undefined;
  // 13 hex digits are exact in a number
  const value = i - v0 <= 13 ? BigInt(hexValueOf(text, v0, i)) : BigInt(text.slice(v0 - 2, i));
  return { op: 'wrmsr', msr, value };
};

/** `fastParseAt` over a whole line. */
export const fastParse = (text: string): GuestEvent | undefined => fastParseAt(text, 0, text.length);

/** Decodes one trace line; `null` for a blank line or a `#` comment. */
export const decodeTraceLine = (text: string, lineNumber: number, file?: string): E.Either<InputProblem, GuestEvent | null> => {
  const s = text.trim();
  if (s === '' || s.startsWith('#')) return E.right(null);
  const fast = fastParse(s);
  if (fast !== undefined) return E.right(fast);
  let obj: unknown;
  try {
    obj = JSON.parse(s);
  } catch (err) {
    return E.left(inputProblem({ file, line: lineNumber, path: '', expected: 'a JSON object', found: `invalid JSON (${(err as Error).message})` }));
  }
  const r = decodeGuestEvent(obj, '');
  return E.isRight(r) ? r : E.left(inputProblem({ file, line: lineNumber, ...r.left }));
};
