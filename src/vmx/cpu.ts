/**
 * The logical processor as VMX root-mode software sees it: VMX operation state, the VMXON pointer, the current-VMCS
 * pointer and every VMCS the processor has touched (its field values and launch state).
 *
 * Models: SDM Vol. 3C "Software Use of Virtual-Machine Control Structures" (launch state, current VMCS) and
 * "VMCS Region" (the field data is opaque, so it is kept in a map keyed by field encoding, not in memory).
 * Leaves out: SMM and dual-monitor treatment, CPL/mode checks (software is assumed to run at CPL 0 in 64-bit mode),
 * and the write-back of cached VMCS data to memory (a VMCS's fields live here, not in `mem`).
 */

import * as Phys from '../arch/phys';
import { scope } from '../arch/transient';
import { Caps } from './caps';
import { FIELDS, widthMask } from './fields';

/** VMCS field values keyed by full encoding (access type 0), each truncated to its width; missing = 0. */
export type VmcsFields = ReadonlyMap<number, bigint>;

export interface VmcsState {
  readonly fields: VmcsFields;
  readonly launch: 'clear' | 'launched';
  /** launched when VMXOFF ran: VMRESUME of it fails with error 6 (SDM "VMRESUME after VMXOFF") */
  readonly corrupted?: boolean;
}

export type VmxMode = 'off' | 'root' | 'non-root';

export interface Cpu {
  readonly caps: Caps;
  readonly mem: Phys.PhysMem;
  readonly vmx: VmxMode;
  /** VMXON pointer (region address) while in VMX operation */
  readonly vmxonPtr: number | null;
  /** current-VMCS pointer; null stands for FFFFFFFF_FFFFFFFFH (no current VMCS) */
  readonly currentVmcs: number | null;
  /** every VMCS region the processor knows, by region address */
  readonly vmcs: ReadonlyMap<number, VmcsState>;
  /** "blocking by MOV SS" in effect for the next instruction (VM entry then fails with error 26) */
  readonly blockingByMovSs: boolean;
}

// The VMCS regions a processor knows are few (one per vCPU in a VMM): a persistent map kept as two small frozen
// arrays (address, state), copied on write, instead of a Map rehashed on every VMCS write.

interface Regions extends ReadonlyMap<number, VmcsState> {
  readonly addrs: readonly number[];
  readonly states: readonly VmcsState[];
}

function* regionEntries(this: RegionsImpl): IterableIterator<[number, VmcsState]> {
  for (let i = 0; i < this.addrs.length; i++) yield [this.addrs[i], this.states[i]];
}

/** The methods every region set shares (a class, so a write allocates only the object and its arrays). */
class RegionsImpl {
  constructor(readonly addrs: readonly number[], readonly states: readonly VmcsState[]) {}
  get(addr: number): VmcsState | undefined {
    const a = this.addrs;
    for (let i = 0; i < a.length; i++) if (a[i] === addr) return this.states[i];
    return undefined;
  }

  has(addr: number): boolean { return this.addrs.includes(addr); }
  get size(): number { return this.addrs.length; }
  entries(): IterableIterator<[number, VmcsState]> { return regionEntries.call(this); }
  [Symbol.iterator](): IterableIterator<[number, VmcsState]> { return regionEntries.call(this); }
  *keys(): IterableIterator<number> { yield* this.addrs; }
  *values(): IterableIterator<VmcsState> { yield* this.states; }
  forEach(cb: (v: VmcsState, k: number, m: ReadonlyMap<number, VmcsState>) => void): void {
    for (let i = 0; i < this.addrs.length; i++) cb(this.states[i], this.addrs[i], this as unknown as Regions);
  }

  get [Symbol.toStringTag](): string { return 'VmcsRegions'; }
}

const makeRegions = (addrs: readonly number[], states: readonly VmcsState[]): Regions =>
  new RegionsImpl(addrs, states) as unknown as Regions;

const emptyRegions: Regions = makeRegions([], []);

/** `set` with the state at `addr` replaced (or added); any ReadonlyMap is accepted (a literal Map from a test). */
const regionsWith = (set: ReadonlyMap<number, VmcsState>, addr: number, state: VmcsState): Regions => {
  const r = set instanceof RegionsImpl ? set as Regions : makeRegions([...set.keys()], [...set.values()]);
  const i = r.addrs.indexOf(addr);
  if (i < 0) return makeRegions([...r.addrs, addr], [...r.states, state]);
  if (r.states[i] === state) return r;
  // one region (one vCPU) is the common case: no slice of a one-element array
  if (r.states.length === 1) return makeRegions(r.addrs, [state]);
  const states = r.states.slice();
  states[i] = state;
  return makeRegions(r.addrs, states);
};

/** VMPTRST's value when there is no current VMCS. */
export const INVALID_VMCS_POINTER = 0xffff_ffff_ffff_ffffn;

export const initialCpu = (caps: Caps, mem: Phys.PhysMem = Phys.empty): Cpu => ({
  caps,
  mem,
  vmx: 'off',
  vmxonPtr: null,
  currentVmcs: null,
  vmcs: emptyRegions,
  blockingByMovSs: false,
});

/** The current VMCS's state, or undefined when there is none. */
export const currentVmcsState = (cpu: Cpu): VmcsState | undefined =>
  cpu.currentVmcs === null ? undefined : cpu.vmcs.get(cpu.currentVmcs);

/** Fields of the current VMCS (empty when there is none or it was never written). */
export const currentFields = (cpu: Cpu): VmcsFields => currentVmcsState(cpu)?.fields ?? emptyFields;

/** Replaces the state of the VMCS at `addr`. */
export const withVmcs = (cpu: Cpu, addr: number, state: VmcsState): Cpu => cpuWith(cpu, { vmcs: regionsWith(cpu.vmcs, addr, state) });

/**
 * `{ ...cpu, vmx, vmxonPtr, currentVmcs, blockingByMovSs }` (and `vmcs` when given) as the one Cpu literal: every Cpu
 * of a run has one hidden class (a spread's object has another; the exit path's optimized code then handled both, and
 * the spread's class, held only while such an object lives, went at a full GC and took that code with it).
 */
export const cpuWithMode = (
  cpu: Cpu, vmx: VmxMode, vmxonPtr: number | null, currentVmcs: number | null, blockingByMovSs: boolean,
  vmcs: ReadonlyMap<number, VmcsState> = cpu.vmcs,
): Cpu => ({ caps: cpu.caps, mem: cpu.mem, vmx, vmxonPtr, currentVmcs, vmcs, blockingByMovSs });

/** Replaces the fields of the current VMCS (and, in the same copy of the Cpu, its memory and mode when given);
 * throws when there is no current VMCS (a broken invariant). */
export const withCurrentFields = (cpu: Cpu, fields: VmcsFields, also?: { readonly mem: Phys.PhysMem; readonly vmx: VmxMode }): Cpu => {
  if (cpu.currentVmcs === null) throw new Error('withCurrentFields: no current VMCS');
  const old = cpu.vmcs.get(cpu.currentVmcs) ?? { fields: emptyFields, launch: 'clear' as const };
  const state: VmcsState = old.corrupted === undefined
    ? { fields, launch: old.launch } : { fields, launch: old.launch, corrupted: old.corrupted };
  const vmcs = old.fields === fields ? cpu.vmcs : regionsWith(cpu.vmcs, cpu.currentVmcs, state);
  return cpuWith(cpu, also === undefined ? { vmcs } : { vmcs, mem: also.mem, vmx: also.vmx });
};

/** `{ ...cpu, ...p }` as one literal of a fixed shape (a spread of the Cpu is a generic object clone on the hot
 * exit/entry path). */
export const cpuWith = (cpu: Cpu, p: { readonly mem?: Phys.PhysMem; readonly vmx?: VmxMode; readonly vmcs?: ReadonlyMap<number, VmcsState> }): Cpu => ({
  caps: cpu.caps, mem: p.mem ?? cpu.mem, vmx: p.vmx ?? cpu.vmx, vmxonPtr: cpu.vmxonPtr, currentVmcs: cpu.currentVmcs,
  vmcs: p.vmcs ?? cpu.vmcs, blockingByMovSs: cpu.blockingByMovSs,
});

// ---------------------------------------------------------------------------------------------------------------
// The field store: a persistent map from encoding to value. The field table is fixed, so a known field has a dense
// index and a VMCS version is a frozen array of values by index (one array copy per batch of writes, instead of
// rehashing a Map); encodings outside the table go to a small side map.
//
// A store also carries one stamp per watched group of fields (`watchFields`): a number that changes exactly when a
// write changes the value of a field of the group. Two stores with the same stamp for a group hold the same values in
// every field of the group (they descend from the one write that set the stamp, with no change to the group since),
// so a cache keyed on a group (VM entry's decoded controls, the entry checks' memo) compares one number per group
// instead of diffing field maps.
//
// Inside a transient scope (src/arch/transient.ts) a value array the scope copied is written in place: each write
// still returns a new store (a new identity, with its own stamps and written indexes), but the versions of the scope
// share one array, so only the newest of them (the `head` of the array's cell) can be read. Reading an older one
// throws (it would see newer values); `changedFields` from an older one answers every field (a superset), so the
// caches that keep an older version compare stamps, identities and values they copied, never its contents.
// Outside a scope every write copies the array, as a plain persistent map.

/** dense index of each encoding of the field table (-1: not in the table) */
const INDEX_OF = new Int16Array(0x10000).fill(-1);
FIELDS.forEach((f, i) => { INDEX_OF[f.encoding] = i; });
const indexOf = (enc: number): number => (enc >= 0 && enc < 0x10000 ? INDEX_OF[enc] : -1);

/** How many generations of writes a store remembers (beyond, `changedFields` compares every value). */
const MAX_DEPTH = 16;

/** At most this many watched groups (a bit each in GROUP_BITS). */
const MAX_GROUPS = 8;
/** the groups each dense index belongs to, one bit per group */
const GROUP_BITS = new Uint8Array(FIELDS.length);
let groups = 0;
/** the last stamp handed out (stamps are unique for the life of the process) */
let lastStamp = 0;
let storesMade = false;

/**
 * Declares a group of fields whose changes a store tracks with a stamp (see `groupStamp`). Groups are declared at
 * module load, before any store exists (a store made earlier would not have tracked the group): throws otherwise,
 * or when an encoding is not in the field table.
 */
export const watchFields = (encs: readonly number[]): number => {
  if (storesMade) throw new Error('watchFields: a field store already exists');
  if (groups >= MAX_GROUPS) throw new Error('watchFields: too many groups');
  const g = groups++;
  for (const e of encs) {
    const i = indexOf(e);
    if (i < 0) throw new Error(`watchFields: ${e.toString(16)} is not a VMCS field of the table`);
    GROUP_BITS[i] |= 1 << g;
  }
  return g;
};

/** True when the field (an encoding of the table) belongs to a watched group: a write that changes it changes a
 * stamp. False for encodings outside the table (they are never watched). */
export const isWatched = (enc: number): boolean => {
  const i = indexOf(enc);
  return i >= 0 && GROUP_BITS[i] !== 0;
};

/** The encodings of each declared group, in declaration order (for tests and diagnostics). */
export const watchedGroups = (): readonly (readonly number[])[] =>
  Array.from({ length: groups }, (_, g) => FIELDS.filter((_f, i) => (GROUP_BITS[i] & (1 << g)) !== 0).map((f) => f.encoding));

const freshStamps = (): number[] => {
  const s = new Array<number>(MAX_GROUPS);
  for (let g = 0; g < MAX_GROUPS; g++) s[g] = ++lastStamp;
  return s;
};

/** The array of values that a run of versions shares: `owner` is the transient scope that copied it (null: never
 * written in place), `head` the newest version, the only one whose values the array holds. */
interface Cell {
  readonly owner: object | null;
  head: Store | null;
}

/** A field store's own data (read through the ReadonlyMap methods of StoreImpl). */
interface Store extends ReadonlyMap<number, bigint> {
  readonly vals: readonly (bigint | undefined)[];
  readonly cell: Cell;
  readonly extra: ReadonlyMap<number, bigint>;
  readonly count: number;
  /** the store this one was written from (kept for a few generations only: see StoreImpl), and the dense indexes
   * written */
  readonly parent: Store | undefined;
  readonly written: readonly number[];
  readonly depth: number;
  /** a stamp per watched group */
  readonly stamps: readonly number[];
}

const STALE = 'VMCS field store: a version read after a newer one was written over it in place (transient scope)';

function* storeEntries(this: StoreImpl): IterableIterator<[number, bigint]> {
  if (this.cell.head !== (this as unknown as Store)) throw new Error(STALE);
  for (let i = 0; i < this.vals.length; i++) {
    const v = this.vals[i];
    if (v !== undefined) yield [FIELDS[i].encoding, v];
  }
  yield* this.extra;
}

/** One version of a VMCS's fields (read through the ReadonlyMap methods). */
class StoreImpl {
  /** the version this one was written from (undefined: not remembered; cleared when a descendant cuts the history) */
  parent: Store | undefined;
  readonly depth: number;
  constructor(
    readonly vals: readonly (bigint | undefined)[],
    readonly cell: Cell,
    readonly extra: ReadonlyMap<number, bigint>,
    readonly count: number,
    parent: Store | undefined,
    readonly written: readonly number[],
    readonly stamps: readonly number[],
  ) {
    const depth = parent === undefined ? 0 : parent.depth + 1;
    this.parent = parent;
    if (depth > MAX_DEPTH) {
      // the history is cut above the parent (the parent forgets its own), so that a store holds at most MAX_DEPTH + 1
      // older versions alive, and a new store still knows its parent: the entry-check memo, which asks what was
      // written since the last entry's version (usually the new store's parent), never finds the history cut in between
      (parent as unknown as StoreImpl).parent = undefined;
      this.depth = 1;
    } else {
      this.depth = depth;
    }
    cell.head = this as unknown as Store;
  }

  get(enc: number): bigint | undefined {
    if (this.cell.head !== (this as unknown as Store)) throw new Error(STALE);
    const i = indexOf(enc);
    return i >= 0 ? this.vals[i] : this.extra.get(enc);
  }

  has(enc: number): boolean {
    if (this.cell.head !== (this as unknown as Store)) throw new Error(STALE);
    const i = indexOf(enc);
    return i >= 0 ? this.vals[i] !== undefined : this.extra.has(enc);
  }

  get size(): number { return this.count; }
  entries(): IterableIterator<[number, bigint]> { return storeEntries.call(this); }
  [Symbol.iterator](): IterableIterator<[number, bigint]> { return storeEntries.call(this); }
  *keys(): IterableIterator<number> { for (const [k] of this.entries()) yield k; }
  *values(): IterableIterator<bigint> { for (const [, v] of this.entries()) yield v; }
  forEach(cb: (v: bigint, k: number, m: ReadonlyMap<number, bigint>) => void): void {
    for (const [k, v] of this.entries()) cb(v, k, this as unknown as Store);
  }

  get [Symbol.toStringTag](): string { return 'VmcsFields'; }
}

const NO_INDEXES: readonly number[] = [];

const makeStore = (
  vals: readonly (bigint | undefined)[], cell: Cell, extra: ReadonlyMap<number, bigint>, count: number,
  parent?: Store, written: readonly number[] = NO_INDEXES, stamps?: readonly number[],
): Store => {
  storesMade = true;
  return new StoreImpl(vals, cell, extra, count, parent, written, stamps ?? freshStamps()) as unknown as Store;
};

/**
 * The fields of a VMCS never written: an empty field store, made once at module load. A store and not a `Map`, so
 * that the field reads and writes of every VMCS see one kind of object (the first VMCLEAR/VMPTRLD of each new run fed
 * a `Map` to the hot field accessors and deoptimized their optimized code in a warm process). It holds no value, so
 * the groups declared after it (`watchFields`) have nothing to track in it: it does not count as a store made.
 */
export const emptyFields: VmcsFields = new StoreImpl(
  new Array<bigint | undefined>(FIELDS.length).fill(undefined), { owner: null, head: null }, new Map(), 0, undefined, NO_INDEXES, freshStamps(),
) as unknown as Store;

/** False when a newer version was written over this one's values in place (see the note on transient scopes). */
const isLive = (s: Store): boolean => s.cell.head === s;

const isStore = (f: VmcsFields): f is Store => f instanceof StoreImpl;

/** The same fields as a store (any ReadonlyMap is accepted, e.g. a literal Map from defaultState or a test). */
const toStore = (f: VmcsFields): Store => {
  if (isStore(f)) return f;
  const vals = new Array<bigint | undefined>(FIELDS.length).fill(undefined);
  const extra = new Map<number, bigint>();
  for (const [k, v] of f) {
    const i = indexOf(k);
    if (i >= 0) vals[i] = v; else extra.set(k, v);
  }
  return makeStore(vals, { owner: null, head: null }, extra, f.size);
};

/**
 * The stamp of a watched group in this version of the fields: equal stamps of two versions mean every field of the
 * group holds the same value in both. A map that is not a field store has no stamps (undefined: compare values).
 */
export const groupStamp = (f: VmcsFields, group: number): number | undefined => (isStore(f) ? f.stamps[group] : undefined);

/**
 * True when every watched group has the same stamp in both versions (each group's fields hold the same values in
 * both): one comparison, for a batch of writes that changed no watched field (the store then keeps its stamps).
 * False when they differ or either map is not a field store (compare stamps or values then).
 */
export const sameStamps = (a: VmcsFields, b: VmcsFields): boolean => isStore(a) && isStore(b) && a.stamps === b.stamps;

/** A field value by full encoding; a field never written reads 0. */
export const vmcsRead = (fields: VmcsFields, enc: number): bigint => fields.get(enc) ?? 0n;

/** Each known field's width mask by dense index (unknown encodings keep 64 bits). */
const MASK_BY_INDEX: readonly bigint[] = FIELDS.map((f) => widthMask(f));
const ALL_64 = 0xffff_ffff_ffff_ffffn;

/** Writes a field by full encoding, truncating to the field's width (unknown encodings keep 64 bits). */
export const vmcsWrite = (fields: VmcsFields, enc: number, v: bigint): VmcsFields => vmcsWriteFlat(fields, [enc], [v]);

/** Writes several fields at once (one copy of the value array; none when every value is already there). */
export const vmcsWriteAll = (fields: VmcsFields, writes: Iterable<readonly [number, bigint]>): VmcsFields => {
  const encs: number[] = [];
  const vals: bigint[] = [];
  for (const [enc, v] of writes) { encs.push(enc); vals.push(v); }
  return vmcsWriteFlat(fields, encs, vals);
};

/** vmcsWriteFlat's dense indexes written, before the store's copy (at most one per write: grows with the largest batch) */
const WRITTEN_SCRATCH: number[] = new Array<number>(64).fill(0);

/**
 * `vmcsWriteAll` with the writes as two parallel arrays: encodings and values, the first `n` of them (default: all)
 * applied in order. The arrays are read during the call only (a caller may reuse them).
 */
export const vmcsWriteFlat = (fields: VmcsFields, encs: readonly number[], values: readonly bigint[], n = encs.length): VmcsFields => {
  const base = toStore(fields);
  if (!isLive(base)) throw new Error(STALE);
  // the array this scope copied is written in place (the versions before it in the scope are superseded)
  const sc = scope();
  const inPlace = sc !== null && base.cell.owner === sc;
  let vals: Array<bigint | undefined> | undefined;
  let extra: Map<number, bigint> | undefined;
  let count = base.count;
  let vals0 = base.vals;
  // the indexes written go to a scratch array first; the store keeps a copy of exactly that length
  let nWritten = 0;
  const written = WRITTEN_SCRATCH;
  let touched = 0;
  for (let k = 0; k < n; k++) {
    const enc = encs[k];
    const i = indexOf(enc);
    const v = values[k];
    if (i >= 0) {
      const cur = vals0[i];
      // the value the field holds (already truncated): nothing to write, no range test
      if (cur === v) continue;
      // a value already within the field's width is its own truncation (no new bigint; `cur === v` said it differs)
      const mask = MASK_BY_INDEX[i];
      let t = v;
      if (!(v >= 0n && v <= mask)) {
        t = v & mask;
        if (cur === t) continue;
      }
      if (vals === undefined) { vals = inPlace ? base.vals as Array<bigint | undefined> : base.vals.slice(); vals0 = vals; }
      if (cur === undefined) count++;
      vals[i] = t;
      written[nWritten++] = i;
      touched |= GROUP_BITS[i];
    } else {
      const t = v >= 0n && v <= ALL_64 ? v : v & ALL_64;
      const m = extra ?? base.extra;
      if (m.get(enc) === t) continue;
      if (extra === undefined) extra = new Map(base.extra);
      if (!extra.has(enc)) count++;
      extra.set(enc, t);
    }
  }
  if (vals === undefined && extra === undefined) return base;
  let stamps = base.stamps;
  if (touched !== 0) {
    const s = stamps.slice();
    for (let g = 0; g < groups; g++) if ((touched & (1 << g)) !== 0) s[g] = ++lastStamp;
    stamps = s;
  }
  // the same cell when the array is shared with `base` and this scope may write it; a fresh one for a fresh copy
  // (owned by the scope that made it) or for an array shared with `base` that stays read-only
  const cell: Cell = inPlace ? base.cell : { owner: vals !== undefined ? sc : null, head: null };
  return makeStore(vals ?? base.vals, cell, extra ?? base.extra, count, base, nWritten === 0 ? NO_INDEXES : written.slice(0, nWritten), stamps);
};

/**
 * The dense indexes (positions in FIELDS) written on the way from `from` to its descendant `to`, appended to `out`
 * from position 0 (a superset of the table fields whose values differ; an index may repeat); returns how many, or -1
 * when `to` does not descend from `from` within the generations a store remembers, when either is not a field store,
 * or when a field outside the table changed on the way. Compares no values, so it also answers for a `from` that was
 * written over in place. `out` grows as needed.
 */
export const writtenBetween = (from: VmcsFields, to: VmcsFields, out: number[]): number => {
  if (!isStore(from) || !isStore(to) || from.extra !== to.extra) return -1;
  let n = 0;
  let cur: Store | undefined = to;
  for (let k = 0; k <= MAX_DEPTH && cur !== undefined; k++, cur = cur.parent) {
    if (cur === from) return n;
    const w = cur.written;
    for (let j = 0; j < w.length; j++) out[n++] = w[j];
  }
  return -1;
};

/** Every encoding either version may hold: what `changedFields` answers when it cannot compare values. */
const everyField = (from: VmcsFields, to: VmcsFields): number[] => {
  const out = FIELDS.map((f) => f.encoding);
  const extras = new Set<number>();
  for (const s of [from, to]) {
    if (isStore(s)) { for (const k of s.extra.keys()) extras.add(k); } else for (const k of s.keys()) if (indexOf(k) < 0) extras.add(k);
  }
  return out.concat([...extras]);
};

/**
 * Encodings whose values differ between two versions of a VMCS (a missing field reads 0). When `from` descends to
 * `to` through a few generations of writes, the encodings written on the way (a superset of the changed ones, each
 * once per write). When either version was written over in place (transient scope), every encoding (a superset).
 */
export const changedFields = (from: VmcsFields, to: VmcsFields): number[] => {
  const out: number[] = [];
  if (from === to) return out;
  if (isStore(from) && isStore(to)) {
    // a few generations of writes from `from`: the indexes written (a superset of the changed ones)
    let cur: Store | undefined = to;
    const seen: number[] = [];
    for (let k = 0; k <= MAX_DEPTH && cur !== undefined && cur !== from; k++, cur = cur.parent) for (const i of cur.written) seen.push(i);
    if (cur === from) {
      for (const i of seen) out.push(FIELDS[i].encoding);
    } else if (!isLive(from) || !isLive(to)) {
      return everyField(from, to);
    } else {
      const a = from.vals, b = to.vals;
      if (a !== b) for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && (a[i] ?? 0n) !== (b[i] ?? 0n)) out.push(FIELDS[i].encoding);
    }
    if (from.extra === to.extra) return out;
    // the side maps are copied on write, never written in place: compare them
    for (const [k, v] of to.extra) if ((from.extra.get(k) ?? 0n) !== v) out.push(k);
    for (const [k, v] of from.extra) if (!to.extra.has(k) && v !== 0n) out.push(k);
    return out;
  }
  if ((isStore(from) && !isLive(from)) || (isStore(to) && !isLive(to))) return everyField(from, to);
  for (const [k, v] of to) if ((from.get(k) ?? 0n) !== v) out.push(k);
  for (const [k, v] of from) if (!to.has(k) && v !== 0n) out.push(k);
  return out;
};
