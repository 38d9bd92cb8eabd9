/**
 * Guest events: what runs inside the VM, one record per trace line (interface §2).
 *
 * Models: the guest-side causes of VM exits and of address translations: memory accesses at guest-linear
 * addresses, the instructions of SDM "Instructions That Cause VM Exits Unconditionally / Conditionally",
 * exceptions, interrupts and NMIs arriving (SDM "Other Causes of VM Exits"), time passing, and the guest OS
 * writing its own page tables.
 * Types: `gva` is the hot-path `Gva` of src/arch/addr.ts (low 57 bits of a canonical address: canonicality is
 * checked against the 57-bit width at the boundary, so a 4-level walker can still see bits 56:47 and check the
 * 48-bit rule itself); sizes, ports, leaves and MSR indexes are numbers; 64-bit values (WRMSR and MOV-to-CR
 * values, VMCALL numbers, cycle counts) are bigint.
 * Leaves out: instruction encodings, operand addresses of INS/OUTS, prefixes other than REP.
 */
import type { Gpa, Gva } from '../arch/addr';

export type AccessOp = 'read' | 'write' | 'fetch';
export type CounterOp = 'rdtsc' | 'rdtscp' | 'rdpid' | 'rdpmc';
export type SimpleOp = 'hlt' | 'pause' | 'mwait' | 'monitor' | 'wbinvd' | 'invd' | 'xsetbv' | 'rdrand' | 'rdseed';
export type ControlRegister = 0 | 3 | 4 | 8;
export type IoSize = 1 | 2 | 4;
export type GuestPageSize = '4K' | '2M' | '1G';

export interface MemoryAccess {
  readonly op: AccessOp;
  readonly gva: Gva;
  /** bytes, >= 1 (default 1) */
  readonly size: number;
  /** CPL 3 access (default true) */
  readonly user: boolean;
}
export interface Cpuid { readonly op: 'cpuid'; readonly leaf: number; readonly subleaf: number }
export interface CounterRead { readonly op: CounterOp }
export interface Rdmsr { readonly op: 'rdmsr'; readonly msr: number }
export interface Wrmsr { readonly op: 'wrmsr'; readonly msr: number; readonly value: bigint }
export interface PortIo {
  readonly op: 'in' | 'out';
  readonly port: number;
  readonly size: IoSize;
  /** INS/OUTS */
  readonly string: boolean;
  readonly rep: boolean;
}
export interface MovToCr { readonly op: 'mov_to_cr'; readonly cr: ControlRegister; readonly value: bigint }
export interface MovFromCr { readonly op: 'mov_from_cr'; readonly cr: ControlRegister }
export interface Clts { readonly op: 'clts' }
/** LMSW: the 16-bit source operand (only bits 3:0 reach CR0) */
export interface Lmsw { readonly op: 'lmsw'; readonly value: number }
export interface Invlpg { readonly op: 'invlpg'; readonly gva: Gva }
export interface Simple { readonly op: SimpleOp }
export interface Vmcall { readonly op: 'vmcall'; readonly nr?: bigint }
export interface GuestException { readonly op: 'exception'; readonly vector: number; readonly errorCode?: number }
export interface ExternalInterrupt { readonly op: 'interrupt'; readonly vector: number }
export interface Nmi { readonly op: 'nmi' }
export interface Run { readonly op: 'run'; readonly cycles: bigint }
export interface GuestMap {
  readonly op: 'guest_map';
  readonly gva: Gva;
  readonly gpa: Gpa;
  readonly size: GuestPageSize;
  /** subset of "rwux"; `x` absent sets XD */
  readonly flags: string;
}
export interface GuestUnmap { readonly op: 'guest_unmap'; readonly gva: Gva }

export type GuestEvent =
  | MemoryAccess | Cpuid | CounterRead | Rdmsr | Wrmsr | PortIo | MovToCr | MovFromCr | Clts | Lmsw | Invlpg
  | Simple | Vmcall | GuestException | ExternalInterrupt | Nmi | Run | GuestMap | GuestUnmap;

export type GuestOp = GuestEvent['op'];

export const ACCESS_OPS: readonly AccessOp[] = ['read', 'write', 'fetch'];
export const COUNTER_OPS: readonly CounterOp[] = ['rdtsc', 'rdtscp', 'rdpid', 'rdpmc'];
export const SIMPLE_OPS: readonly SimpleOp[] = ['hlt', 'pause', 'mwait', 'monitor', 'wbinvd', 'invd', 'xsetbv', 'rdrand', 'rdseed'];

/** Every op of interface §2, in the order of its table. */
export const GUEST_OPS: readonly GuestOp[] = [
  ...ACCESS_OPS, 'cpuid', ...COUNTER_OPS, 'rdmsr', 'wrmsr', 'in', 'out', 'mov_to_cr', 'mov_from_cr', 'clts', 'lmsw',
  'invlpg', ...SIMPLE_OPS, 'vmcall', 'exception', 'interrupt', 'nmi', 'run', 'guest_map', 'guest_unmap',
];

export const isMemoryAccess = (e: GuestEvent): e is MemoryAccess => e.op === 'read' || e.op === 'write' || e.op === 'fetch';

/** A memory access with the defaults of interface §2 (size 1, user true). */
export const access = (op: AccessOp, gva: Gva, size = 1, user = true): MemoryAccess => ({ op, gva, size, user });

/**
 * The same event, built as one object literal per op, with its fields in the order of the interface above. Events
 * built field by field (the trace codec's decoder, a structured clone from the decode worker) have other hidden
 * classes than literals; the replay engine's exit path then meets several shapes of one event kind and runs slower
 * (the bench's exit mix replayed ~2x slower end to end than from literals). Values are unchanged; optional fields
 * stay absent when absent.
 */
export const canonicalEvent = (e: GuestEvent): GuestEvent => {
  switch (e.op) {
    case 'read': case 'write': case 'fetch': return { op: e.op, gva: e.gva, size: e.size, user: e.user };
    case 'cpuid': return { op: 'cpuid', leaf: e.leaf, subleaf: e.subleaf };
    case 'rdtsc': case 'rdtscp': case 'rdpid': case 'rdpmc': return { op: e.op };
    case 'rdmsr': return { op: 'rdmsr', msr: e.msr };
    case 'wrmsr': return { op: 'wrmsr', msr: e.msr, value: e.value };
    case 'in': case 'out': return { op: e.op, port: e.port, size: e.size, string: e.string, rep: e.rep };
    case 'mov_to_cr': return { op: 'mov_to_cr', cr: e.cr, value: e.value };
    case 'mov_from_cr': return { op: 'mov_from_cr', cr: e.cr };
    case 'clts': return { op: 'clts' };
    case 'lmsw': return { op: 'lmsw', value: e.value };
    case 'invlpg': return { op: 'invlpg', gva: e.gva };
    case 'hlt': case 'pause': case 'mwait': case 'monitor': case 'wbinvd': case 'invd': case 'xsetbv': case 'rdrand': case 'rdseed':
      return { op: e.op };
    case 'vmcall': return e.nr === undefined ? { op: 'vmcall' } : { op: 'vmcall', nr: e.nr };
    case 'exception': return e.errorCode === undefined ? { op: 'exception', vector: e.vector } : { op: 'exception', vector: e.vector, errorCode: e.errorCode };
    case 'interrupt': return { op: 'interrupt', vector: e.vector };
    case 'nmi': return { op: 'nmi' };
    case 'run': return { op: 'run', cycles: e.cycles };
    case 'guest_map': return { op: 'guest_map', gva: e.gva, gpa: e.gpa, size: e.size, flags: e.flags };
    case 'guest_unmap': return { op: 'guest_unmap', gva: e.gva };
    default: {
      const never: never = e;
      return never;
    }
  }
};
