/**
 * Bit layouts as declarations (style guide rule 4).
 *
 * Models: the SDM's register/field/entry tables (bit ranges `hi:lo` and their names). One declaration per SDM table,
 * fields listed low to high; one generic codec over `bigint` for the edges (decode, explain, JSON); hot paths use the
 * precomputed `mask`/`shift` numbers of a field when it lies in bits 31:0 or 63:32 of a 64-bit value.
 * Leaves out: nothing beyond plain unsigned bit fields (signedness and meaning belong to the users of a layout).
 */

export interface FieldDecl {
  readonly name: string;
  /** lowest bit */
  readonly lo: number;
  /** highest bit (inclusive); defaults to `lo` (a one-bit flag) */
  readonly hi?: number;
  /** short meaning, as the SDM table says it */
  readonly doc?: string;
}

export interface Field {
  readonly name: string;
  readonly lo: number;
  readonly hi: number;
  readonly width: number;
  readonly doc: string;
  /** mask of the field in place, as a bigint */
  readonly mask: bigint;
}

export interface Layout {
  /** e.g. "EPT PML4E" */
  readonly name: string;
  /** where the table comes from, e.g. 'SDM Vol. 3C "Format of an EPT PML4 Entry"' */
  readonly source: string;
  /** width of the whole value in bits (16, 32 or 64) */
  readonly width: number;
  readonly fields: readonly Field[];
  readonly byName: Readonly<Record<string, Field>>;
}

export const defineLayout = (name: string, source: string, width: number, decls: readonly FieldDecl[]): Layout => {
  const fields = decls.map((d): Field => {
    const hi = d.hi ?? d.lo;
    const w = hi - d.lo + 1;
    return { name: d.name, lo: d.lo, hi, width: w, doc: d.doc ?? '', mask: ((1n << BigInt(w)) - 1n) << BigInt(d.lo) };
  });
  const byName: Record<string, Field> = {};
  for (const f of fields) byName[f.name] = f;
  return { name, source, width, fields, byName };
};

export type LayoutProblem =
  | { readonly kind: 'out-of-range'; readonly field: string }
  | { readonly kind: 'overlap'; readonly field: string; readonly other: string }
  | { readonly kind: 'not-ascending'; readonly field: string }
  | { readonly kind: 'duplicate-name'; readonly field: string };

/** Well-formedness: every field inside the width, no two fields overlap, listed low to high, names unique. */
export const problems = (layout: Layout): readonly LayoutProblem[] => {
  const out: LayoutProblem[] = [];
  const fs = layout.fields;
  for (let i = 0; i < fs.length; i++) {
    const f = fs[i];
    if (f.lo < 0 || f.hi < f.lo || f.hi >= layout.width) out.push({ kind: 'out-of-range', field: f.name });
    if (i > 0 && f.lo < fs[i - 1].lo) out.push({ kind: 'not-ascending', field: f.name });
    for (let j = 0; j < i; j++) {
      const g = fs[j];
      if (g.name === f.name) out.push({ kind: 'duplicate-name', field: f.name });
      if (f.lo <= g.hi && g.lo <= f.hi) out.push({ kind: 'overlap', field: f.name, other: g.name });
    }
  }
  return out;
};

const U64 = (1n << 64n) - 1n;

/** Value of one field (unsigned, shifted down). */
export const get = (layout: Layout, name: string, value: bigint): bigint => {
  const f = layout.byName[name];
  if (f === undefined) throw new Error(`layout ${layout.name} has no field ${name}`);
  return (value & f.mask) >> BigInt(f.lo);
};

/** Returns `value` with one field replaced (the new field value is truncated to the field width). */
export const set = (layout: Layout, name: string, value: bigint, field: bigint): bigint => {
  const f = layout.byName[name];
  if (f === undefined) throw new Error(`layout ${layout.name} has no field ${name}`);
  return ((value & ~f.mask) | ((field << BigInt(f.lo)) & f.mask)) & U64;
};

/** Every declared field of `value`, by name. */
export const decode = (layout: Layout, value: bigint): Readonly<Record<string, bigint>> => {
  const out: Record<string, bigint> = {};
  for (const f of layout.fields) out[f.name] = (value & f.mask) >> BigInt(f.lo);
  return out;
};

/** Builds a value from named fields (unnamed fields are 0). */
export const encode = (layout: Layout, fields: Readonly<Record<string, bigint | number | boolean>>): bigint => {
  let v = 0n;
  for (const [name, raw] of Object.entries(fields)) {
    const x = typeof raw === 'boolean' ? (raw ? 1n : 0n) : BigInt(raw);
    v = set(layout, name, v, x);
  }
  return v;
};

/**
 * The placer of one field of a value held in a number, for hot paths: `v` truncated to the field's width and moved to
 * its place, (v mod 2^width) * 2^lo, the same bits `set` puts into 0 for a non-negative integer `v`. Only for fields
 * within bits 31:0 (the sum of the placed fields of one layout is then the encoded value); throws otherwise.
 */
export const numberField = (layout: Layout, name: string): ((v: number) => number) => {
  const f = layout.byName[name];
  if (f === undefined) throw new Error(`layout ${layout.name} has no field ${name}`);
  if (f.hi > 31) throw new Error(`layout ${layout.name}: field ${name} is above bit 31`);
  const mask = 2 ** f.width - 1;
  const scale = 2 ** f.lo;
  return f.width === 32 ? (v) => (v >>> 0) * scale : (v) => (v & mask) * scale;
};

/** Bits of `value` not covered by any declared field (reserved or undefined bits that are set). */
export const undeclaredBits = (layout: Layout, value: bigint): bigint => {
  let covered = 0n;
  for (const f of layout.fields) covered |= f.mask;
  return value & ~covered & ((1n << BigInt(layout.width)) - 1n);
};
