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

/** VMPTRST's value when there is no current VMCS. */
export const INVALID_VMCS_POINTER = 0xffff_ffff_ffff_ffffn;

export const emptyFields: VmcsFields = new Map();

export const initialCpu = (caps: Caps, mem: Phys.PhysMem = Phys.empty): Cpu => ({
  caps,
  mem,
  vmx: 'off',
  vmxonPtr: null,
  currentVmcs: null,
  vmcs: new Map(),
  blockingByMovSs: false,
});

/** The current VMCS's state, or undefined when there is none. */
export const currentVmcsState = (cpu: Cpu): VmcsState | undefined =>
  cpu.currentVmcs === null ? undefined : cpu.vmcs.get(cpu.currentVmcs);

/** Fields of the current VMCS (empty when there is none or it was never written). */
export const currentFields = (cpu: Cpu): VmcsFields => currentVmcsState(cpu)?.fields ?? emptyFields;

/** Replaces the state of the VMCS at `addr`. */
export const withVmcs = (cpu: Cpu, addr: number, state: VmcsState): Cpu => {
  const vmcs = new Map(cpu.vmcs);
  vmcs.set(addr, state);
  return { ...cpu, vmcs };
};

/** Replaces the fields of the current VMCS; throws when there is no current VMCS (a broken invariant). */
export const withCurrentFields = (cpu: Cpu, fields: VmcsFields): Cpu => {
  if (cpu.currentVmcs === null) throw new Error('withCurrentFields: no current VMCS');
  const old = cpu.vmcs.get(cpu.currentVmcs) ?? { fields: emptyFields, launch: 'clear' as const };
  return withVmcs(cpu, cpu.currentVmcs, { ...old, fields });
};

/** A field value by full encoding; a field never written reads 0. */
export const vmcsRead = (fields: VmcsFields, enc: number): bigint => fields.get(enc) ?? 0n;

/** Each known field's width mask by encoding (unknown encodings keep 64 bits). */
const MASK_BY_ENCODING: ReadonlyMap<number, bigint> = new Map(FIELDS.map((f) => [f.encoding, widthMask(f)]));
const ALL_64 = 0xffff_ffff_ffff_ffffn;
const truncate = (enc: number, v: bigint): bigint => v & (MASK_BY_ENCODING.get(enc) ?? ALL_64);

/**
 * Where a field map came from: the map it was copied from and the encodings written into the copy. A side table of
 * immutable maps (never mutated after the write returns), so `changedFields` can name what changed between two
 * versions of a VMCS without comparing every field.
 */
interface Derivation { readonly parent: VmcsFields; readonly written: readonly number[] }
const derivations = new WeakMap<VmcsFields, Derivation>();

/** Writes a field by full encoding, truncating to the field's width (unknown encodings keep 64 bits). */
export const vmcsWrite = (fields: VmcsFields, enc: number, v: bigint): VmcsFields => {
  const t = truncate(enc, v);
  if (fields.get(enc) === t && (t !== 0n || fields.has(enc))) return fields;
  const m = new Map(fields);
  m.set(enc, t);
  derivations.set(m, { parent: fields, written: [enc] });
  return m;
};

/** Writes several fields at once (one copy of the map; none when every value is already there). */
export const vmcsWriteAll = (fields: VmcsFields, writes: Iterable<readonly [number, bigint]>): VmcsFields => {
  let m: Map<number, bigint> | undefined;
  const written: number[] = [];
  for (const [enc, v] of writes) {
    const t = truncate(enc, v);
    const cur = m ?? fields;
    if (cur.get(enc) === t && (t !== 0n || cur.has(enc))) continue;
    if (m === undefined) m = new Map(fields);
    m.set(enc, t);
    written.push(enc);
  }
  if (m === undefined) return fields;
  derivations.set(m, { parent: fields, written });
  return m;
};

/**
 * The encodings whose value may differ between `from` and `to` (a superset of the changed ones), found by following
 * `to`'s writes back to `from`; undefined when `to` does not derive from `from` within `maxSteps` copies.
 */
export const changedFields = (from: VmcsFields, to: VmcsFields, maxSteps = 64): number[] | undefined => {
  const out: number[] = [];
  let cur = to;
  for (let i = 0; i <= maxSteps; i++) {
    if (cur === from) return out;
    const d = derivations.get(cur);
    if (d === undefined) return undefined;
    for (const e of d.written) out.push(e);
    cur = d.parent;
  }
  return undefined;
};
