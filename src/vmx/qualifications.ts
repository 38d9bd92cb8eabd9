/**
 * Exit qualifications and the interruption-information format, as bit layouts with encoders and a decoder.
 *
 * Models: SDM Vol. 3C "Exit Qualification for VM Exits" (tables "Exit Qualification for Control-Register Accesses",
 * "... for MOV DR", "... for I/O Instructions", "... for Task Switches"), "Basic VM-Exit Information" (INVLPG
 * qualification = the linear-address operand; VM-entry failure qualification codes) and "Information for VM Exits
 * Due to Vectored Events" (interruption-information format).
 * Leaves out: the EPT-violation qualification (src/ept), APIC-access, debug-exception and instruction-information
 * layouts; decodeQualification names fields only for the reasons listed above.
 */

import { defineLayout, encode, get, numberField, type Layout } from '../arch/layout';
import { R } from './exitReasons';

// SDM "Exit Qualification for Control-Register Accesses"
export const CR_ACCESS_QUAL: Layout = defineLayout(
  'CR access qualification', 'SDM Vol. 3C "Exit Qualification for Control-Register Accesses"', 64, [
    { name: 'cr', lo: 0, hi: 3, doc: 'number of control register (0 for CLTS and LMSW)' },
    { name: 'accessType', lo: 4, hi: 5, doc: '0 MOV to CR, 1 MOV from CR, 2 CLTS, 3 LMSW' },
    { name: 'lmswOperandType', lo: 6, doc: 'LMSW operand type: 0 register, 1 memory' },
    { name: 'register', lo: 8, hi: 11, doc: 'general-purpose register for MOV CR (0 RAX .. 15 R15)' },
    { name: 'lmswSource', lo: 16, hi: 31, doc: 'LMSW source data' },
  ]);

// SDM "Exit Qualification for MOV DR"
export const MOV_DR_QUAL: Layout = defineLayout('MOV DR qualification', 'SDM Vol. 3C "Exit Qualification for MOV DR"', 64, [
  { name: 'dr', lo: 0, hi: 2, doc: 'number of debug register' },
  { name: 'direction', lo: 4, doc: '0 MOV to DR, 1 MOV from DR' },
  { name: 'register', lo: 8, hi: 11, doc: 'general-purpose register' },
]);

// SDM "Exit Qualification for I/O Instructions"
export const IO_QUAL: Layout = defineLayout('I/O qualification', 'SDM Vol. 3C "Exit Qualification for I/O Instructions"', 64, [
  { name: 'size', lo: 0, hi: 2, doc: 'size of access minus 1 (0 = 1 byte, 1 = 2 bytes, 3 = 4 bytes)' },
  { name: 'direction', lo: 3, doc: '0 OUT, 1 IN' },
  { name: 'string', lo: 4, doc: 'string instruction (INS/OUTS)' },
  { name: 'rep', lo: 5, doc: 'REP prefixed' },
  { name: 'operandEncoding', lo: 6, doc: '0 DX, 1 immediate' },
  { name: 'port', lo: 16, hi: 31, doc: 'port number' },
]);

// SDM "Exit Qualification for Task Switches"
export const TASK_SWITCH_QUAL: Layout = defineLayout(
  'Task-switch qualification', 'SDM Vol. 3C "Exit Qualification for Task Switches"', 64, [
    { name: 'selector', lo: 0, hi: 15, doc: 'selector of the task-state segment' },
    { name: 'source', lo: 30, hi: 31, doc: '0 CALL, 1 IRET, 2 JMP, 3 task gate in IDT' },
  ]);

// SDM "Format of the VM-Exit Interruption-Information Field" (same layout as IDT-vectoring and VM-entry interruption
// information; bit 12 is NMI unblocking for exits only)
export const INTR_INFO: Layout = defineLayout(
  'Interruption information', 'SDM Vol. 3C "Format of the VM-Exit Interruption-Information Field"', 32, [
    { name: 'vector', lo: 0, hi: 7, doc: 'vector of interrupt or exception' },
    { name: 'type', lo: 8, hi: 10, doc: '0 ext int, 2 NMI, 3 hw exception, 4 sw int, 5 priv sw exc, 6 sw exc, 7 other' },
    { name: 'errorCodeValid', lo: 11, doc: 'error code valid' },
    { name: 'nmiUnblocking', lo: 12, doc: 'NMI unblocking due to IRET' },
    { name: 'valid', lo: 31, doc: 'valid' },
  ]);

export const ALL_LAYOUTS: readonly Layout[] = [CR_ACCESS_QUAL, MOV_DR_QUAL, IO_QUAL, TASK_SWITCH_QUAL, INTR_INFO];

export type CrAccessType = 'mov-to-cr' | 'mov-from-cr' | 'clts' | 'lmsw';
const CR_ACCESS_TYPES: readonly CrAccessType[] = ['mov-to-cr', 'mov-from-cr', 'clts', 'lmsw'];

export interface CrAccess {
  readonly cr: number;
  readonly accessType: CrAccessType;
  /** GPR number for MOV CR (0 RAX .. 15 R15); 0 otherwise */
  readonly register?: number;
  /** LMSW source operand (bits 15:0) */
  readonly lmswSource?: number;
  /** LMSW with a memory operand */
  readonly lmswMemory?: boolean;
}

export const encodeCrAccess = (a: CrAccess): bigint =>
  encode(CR_ACCESS_QUAL, {
    // SDM: the CR-number field is 0 for CLTS and LMSW
    cr: a.accessType === 'clts' || a.accessType === 'lmsw' ? 0 : a.cr,
    accessType: CR_ACCESS_TYPES.indexOf(a.accessType),
    lmswOperandType: a.accessType === 'lmsw' && a.lmswMemory === true,
    register: a.accessType === 'mov-to-cr' || a.accessType === 'mov-from-cr' ? (a.register ?? 0) : 0,
    lmswSource: a.accessType === 'lmsw' ? (a.lmswSource ?? 0) & 0xffff : 0,
  });

export interface MovDr {
  readonly dr: number;
  readonly direction: 'to' | 'from';
  readonly register: number;
}

export const encodeMovDr = (m: MovDr): bigint =>
  encode(MOV_DR_QUAL, { dr: m.dr, direction: m.direction === 'from', register: m.register });

export interface IoAccess {
  readonly size: 1 | 2 | 4;
  readonly direction: 'in' | 'out';
  readonly string: boolean;
  readonly rep: boolean;
  readonly immediate: boolean;
  readonly port: number;
}

const IO_SIZE = numberField(IO_QUAL, 'size'), IO_DIRECTION = numberField(IO_QUAL, 'direction');
const IO_STRING = numberField(IO_QUAL, 'string'), IO_REP = numberField(IO_QUAL, 'rep');
const IO_OPERAND = numberField(IO_QUAL, 'operandEncoding'), IO_PORT = numberField(IO_QUAL, 'port');

/** The I/O qualification: the IO_QUAL fields placed by arithmetic (every field lies in bits 31:0; the same value as
 * `encode(IO_QUAL, ...)`, without the generic codec, since every I/O exit builds one). */
export const encodeIo = (io: IoAccess): bigint =>
  BigInt(IO_SIZE(io.size - 1) + IO_DIRECTION(io.direction === 'in' ? 1 : 0) + IO_STRING(io.string ? 1 : 0) +
    IO_REP(io.rep ? 1 : 0) + IO_OPERAND(io.immediate ? 1 : 0) + IO_PORT(io.port & 0xffff));

export type TaskSwitchSource = 'call' | 'iret' | 'jmp' | 'task-gate';
const TASK_SWITCH_SOURCES: readonly TaskSwitchSource[] = ['call', 'iret', 'jmp', 'task-gate'];

export const encodeTaskSwitch = (selector: number, source: TaskSwitchSource): bigint =>
  encode(TASK_SWITCH_QUAL, { selector, source: TASK_SWITCH_SOURCES.indexOf(source) });

/** SDM "Basic VM-Exit Information": INVLPG's qualification is the linear-address operand, bits 63:32 cleared outside
 * 64-bit mode. */
export const encodeInvlpg = (linear: bigint, longMode: boolean): bigint =>
  longMode ? BigInt.asUintN(64, linear) : BigInt.asUintN(32, linear);

/** SDM "VM-Entry Failures During or After Loading Guest State": qualification of exit reason 33. */
export const ENTRY_FAILURE_QUAL = { DEFAULT: 0n, PDPTE: 2n, NMI_STI: 3n, VMCS_LINK_POINTER: 4n } as const;
export type EntryFailureKind = 'default' | 'pdpte' | 'nmi-sti' | 'vmcs-link-pointer';

export const encodeEntryFailure = (k: EntryFailureKind): bigint => {
  switch (k) {
    case 'default': return ENTRY_FAILURE_QUAL.DEFAULT;
    case 'pdpte': return ENTRY_FAILURE_QUAL.PDPTE;
    case 'nmi-sti': return ENTRY_FAILURE_QUAL.NMI_STI;
    case 'vmcs-link-pointer': return ENTRY_FAILURE_QUAL.VMCS_LINK_POINTER;
    default: return absurd(k);
  }
};

/** SDM "Loading MSRs": the qualification of exit reason 34 is the 1-based index of the failing MSR-load entry. */
export const encodeMsrLoadFailure = (index1: number): bigint => BigInt(index1);

export type InterruptionType =
  | 'external-interrupt' | 'nmi' | 'hardware-exception' | 'software-interrupt'
  | 'privileged-software-exception' | 'software-exception' | 'other-event';
const INTR_TYPES: Readonly<Record<InterruptionType, number>> = {
  'external-interrupt': 0, nmi: 2, 'hardware-exception': 3, 'software-interrupt': 4,
  'privileged-software-exception': 5, 'software-exception': 6, 'other-event': 7,
};

export interface InterruptionInfo {
  readonly vector: number;
  readonly type: InterruptionType;
  readonly errorCodeValid: boolean;
  readonly nmiUnblocking?: boolean;
  /** defaults to true */
  readonly valid?: boolean;
}

const intrField = (name: string): ((v: number) => number) => numberField(INTR_INFO, name);
const I_VECTOR = intrField('vector'), I_TYPE = intrField('type'), I_ERROR_CODE = intrField('errorCodeValid');
const I_NMI_UNBLOCKING = intrField('nmiUnblocking'), I_VALID = intrField('valid');

/**
 * The interruption-information value as a number: the INTR_INFO layout's fields placed by arithmetic (the same value
 * as `encode(INTR_INFO, ...)`, without the generic codec, for the VM-exit and event-injection paths).
 */
export const interruptionInfoNumber = (i: InterruptionInfo): number =>
  I_VECTOR(i.vector) + I_TYPE(INTR_TYPES[i.type]) + I_ERROR_CODE(i.errorCodeValid ? 1 : 0) +
  I_NMI_UNBLOCKING(i.nmiUnblocking === true ? 1 : 0) + I_VALID(i.valid !== false ? 1 : 0);

export const encodeInterruptionInfo = (i: InterruptionInfo): bigint => BigInt(interruptionInfoNumber(i));

export type QualificationFields = Readonly<Record<string, string | number | boolean | bigint>>;

const GPR_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];

/** The qualification of an exit, by field name (interface §5 names); {} for reasons whose qualification is 0 or not
 * modelled here. */
export const decodeQualification = (reason: number, q: bigint): QualificationFields => {
  const n = (layout: Layout, name: string): number => Number(get(layout, name, q));
  switch (reason) {
    case R.IO_INSTRUCTION:
      return {
        size: n(IO_QUAL, 'size') + 1,
        direction: n(IO_QUAL, 'direction') === 1 ? 'in' : 'out',
        string: n(IO_QUAL, 'string') === 1,
        rep: n(IO_QUAL, 'rep') === 1,
        immediate: n(IO_QUAL, 'operandEncoding') === 1,
        port: n(IO_QUAL, 'port'),
      };
    case R.CR_ACCESS: {
      const accessType = CR_ACCESS_TYPES[n(CR_ACCESS_QUAL, 'accessType')];
      const register = n(CR_ACCESS_QUAL, 'register');
      return {
        cr: n(CR_ACCESS_QUAL, 'cr'),
        accessType,
        register,
        registerName: GPR_NAMES[register],
        lmswOperand: n(CR_ACCESS_QUAL, 'lmswOperandType') === 1 ? 'memory' : 'register',
        lmswSource: n(CR_ACCESS_QUAL, 'lmswSource'),
      };
    }
    case R.DR_ACCESS:
      return {
        dr: n(MOV_DR_QUAL, 'dr'),
        direction: n(MOV_DR_QUAL, 'direction') === 1 ? 'from' : 'to',
        register: n(MOV_DR_QUAL, 'register'),
      };
    case R.TASK_SWITCH:
      return { selector: n(TASK_SWITCH_QUAL, 'selector'), source: TASK_SWITCH_SOURCES[n(TASK_SWITCH_QUAL, 'source')] };
    case R.INVLPG:
      return { linearAddress: q };
    case R.INVALID_STATE:
      return { entryFailure: q === 2n ? 'pdpte' : q === 3n ? 'nmi-sti' : q === 4n ? 'vmcs-link-pointer' : 'default' };
    case R.MSR_LOAD_FAIL:
      return { msrIndex: Number(q) };
    default:
      return {};
  }
};

/** Decodes an interruption-information value (VM-exit / IDT-vectoring / VM-entry). */
export const decodeInterruptionInfo = (v: bigint): InterruptionInfo => {
  const t = Number(get(INTR_INFO, 'type', v));
  const type = (Object.keys(INTR_TYPES) as InterruptionType[]).find((k) => INTR_TYPES[k] === t) ?? 'other-event';
  return {
    vector: Number(get(INTR_INFO, 'vector', v)),
    type,
    errorCodeValid: get(INTR_INFO, 'errorCodeValid', v) === 1n,
    nmiUnblocking: get(INTR_INFO, 'nmiUnblocking', v) === 1n,
    valid: get(INTR_INFO, 'valid', v) === 1n,
  };
};

const absurd = (x: never): never => {
  throw new Error(`unexpected ${String(x)}`);
};
