/**
 * Decoding recorded VM exits: a KVM `kvm_exit` trace line, or a reason and a qualification, into the exit object of
 * interface §4 plus `fields`, the qualification decoded by name (interface §5).
 *
 * Models: SDM Vol. 3C "Exit Qualification for EPT Violations", "Exit Qualification for I/O Instructions",
 * "Exit Qualification for Control-Register Accesses" (layouts in src/ept/qualification.ts and
 * src/vmx/qualifications.ts) and "VM-Exit Interruption-Information Field"; and the text KVM prints for its
 * tracepoints (arch/x86/kvm/trace.h) in three generations of `kvm_exit`:
 *   G1 `reason %s rip 0x%lx info %llx %llx` (info = qualification, VM-exit interruption information),
 *   G2 `vcpu %u reason %s%s%s rip 0x%lx info %llx %llx`,
 *   G3 `vcpu %u reason %s%s%s rip 0x%lx info1 0x%016llx info2 0x%016llx intr_info 0x%08x error_code 0x%08x`
 *      (info1 the qualification, info2 the IDT-vectoring information), later with ` requests 0x%016llx` and
 *      ` [guest]` / ` [imm exit]` markers;
 * each behind ftrace's `comm-pid [cpu] flags ts:` prefix or perf script's `... ts: kvm:kvm_exit:` prefix.
 * Leaves out: SVM exits (kvm_exit isa AMD), and the GPA (KVM prints it on a separate kvm_page_fault line; the
 * kvm-trace importer pairs them).
 */
import { hex } from '../arch/addr';
import { decodeEptViolation } from '../ept/qualification';
import { reasonByName, reasonByNumber, R } from './exitReasons';
import { decodeInterruptionInfo, decodeQualification } from './qualifications';

/** A line of kernel trace text split into its event name and body. */
export interface TraceLine {
  readonly event: string;
  readonly body: string;
  readonly timestamp?: number;
  readonly cpu?: number;
}

// `<comm>-<pid> [cpu] <flags> <ts>: <event>: body` (ftrace, trace-cmd) or `<comm> <pid> [cpu] <ts>: kvm:<event>: body`
const TRACE_PREFIX = /(?:\[(\d+)\]\s+)?(?:\S+\s+)?(\d+\.\d+):\s+(?:[a-z_]+:)?(kvm_[a-z_0-9]+):\s*(.*)$/;
const BARE = /^\s*(?:[a-z_]+:)?(kvm_[a-z_0-9]+):\s*(.*)$/;

/** Splits a trace line; undefined when it carries no `kvm_*` event. */
export const splitTraceLine = (line: string): TraceLine | undefined => {
  const m = TRACE_PREFIX.exec(line);
  if (m !== null) {
    return { event: m[3], body: m[4].trim(), timestamp: Number(m[2]), ...(m[1] !== undefined ? { cpu: Number(m[1]) } : {}) };
  }
  const b = BARE.exec(line);
  return b === null ? undefined : { event: b[1], body: b[2].trim() };
};

/** One recorded kvm_exit. */
export interface KvmExit {
  readonly generation: 1 | 2 | 3;
  /** basic exit reason, or undefined when the name is unknown */
  readonly reason: number | undefined;
  /** the reason as printed */
  readonly reasonText: string;
  readonly failedEntry: boolean;
  readonly vcpu?: number;
  readonly rip: bigint;
  readonly qualification: bigint;
  /** G3 info2: IDT-vectoring information */
  readonly idtVectoringInfo?: bigint;
  readonly intrInfo?: bigint;
  readonly errorCode?: bigint;
  readonly requests?: bigint;
  /** `[guest]`, `[imm exit]` ... */
  readonly markers: readonly string[];
  readonly timestamp?: number;
}

export type Parsed<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly expected: string; readonly found: string };

const fail = (expected: string, found: string): Parsed<never> => ({ ok: false, expected, found: JSON.stringify(found.length > 70 ? found.slice(0, 67) + '...' : found) });
const hexOf = (s: string | undefined): bigint | undefined => (s !== undefined && /^(0x)?[0-9a-fA-F]{1,16}$/.test(s) ? BigInt(s.startsWith('0x') ? s : '0x' + s) : undefined);

const EXIT_EXPECTED = 'a kvm_exit body "[vcpu N ]reason X rip 0x.. info Q I" or "vcpu N reason X rip 0x.. info1 0x.. info2 0x.. intr_info 0x.. error_code 0x.."';

/** Parses the body of a kvm_exit event (after `kvm_exit:`). */
export const parseKvmExitBody = (body: string, timestamp?: number): Parsed<KvmExit> => {
  const markers: string[] = [];
  const text = body.replace(/\[([^\]]*)\]/g, (_m, x: string) => { markers.push(x); return ' '; });
  const tok = text.split(/\s+/).filter((x) => x !== '');
  let i = 0;
  let vcpu: number | undefined;
  if (tok[i] === 'vcpu') {
    if (!/^\d+$/.test(tok[i + 1] ?? '')) return fail(EXIT_EXPECTED, body);
    vcpu = Number(tok[i + 1]);
    i += 2;
  }
  if (tok[i] !== 'reason' || tok[i + 1] === undefined) return fail(EXIT_EXPECTED, body);
  const reasonText = tok[i + 1];
  i += 2;
  const flags: string[] = [];
  while (i < tok.length && tok[i] !== 'rip') flags.push(tok[i++]);
  const rip = hexOf(tok[i + 1]);
  if (tok[i] !== 'rip' || rip === undefined) return fail(EXIT_EXPECTED, body);
  i += 2;
  const failedEntry = flags.some((f) => f.includes('FAILED_VMENTRY'));
  const reason = reasonByName(reasonText)?.number;
  const common = { reason, reasonText, failedEntry, rip, markers, ...(vcpu !== undefined ? { vcpu } : {}), ...(timestamp !== undefined ? { timestamp } : {}) };
  if (tok[i] === 'info') {
    const q = hexOf(tok[i + 1]);
    const ii = hexOf(tok[i + 2]);
    if (q === undefined || ii === undefined) return fail(EXIT_EXPECTED, body);
    return { ok: true, value: { generation: vcpu === undefined ? 1 : 2, qualification: q, intrInfo: ii, ...common } };
  }
  const kv: Record<string, bigint> = {};
  for (; i < tok.length; i += 2) {
    const v = hexOf(tok[i + 1]);
    if (v === undefined) return fail(EXIT_EXPECTED, body);
    kv[tok[i]] = v;
  }
  if (kv.info1 === undefined) return fail(EXIT_EXPECTED, body);
  return {
    ok: true,
    value: {
      generation: 3, qualification: kv.info1, ...common,
      ...(kv.info2 !== undefined ? { idtVectoringInfo: kv.info2 } : {}),
      ...(kv.intr_info !== undefined ? { intrInfo: kv.intr_info } : {}),
      ...(kv.error_code !== undefined ? { errorCode: kv.error_code } : {}),
      ...(kv.requests !== undefined ? { requests: kv.requests } : {}),
    },
  };
};

/** Parses a whole kvm_exit line (with or without an ftrace / perf prefix). */
export const parseKvmExitLine = (line: string): Parsed<KvmExit> => {
  const t = splitTraceLine(line);
  if (t === undefined) {
    // a bare body, as a user may paste it
    return parseKvmExitBody(line.trim());
  }
  if (t.event !== 'kvm_exit') return fail('a kvm_exit line', line);
  return parseKvmExitBody(t.body, t.timestamp);
};

export type FieldValue = string | number | boolean | bigint;

/** The exit object of interface §4, plus decoded `fields` and, from a recorded line, vcpu, rip and timestamp. */
export interface DecodedExit {
  readonly reason: number;
  readonly name: string;
  readonly sdmName: string;
  readonly qualification: bigint;
  readonly failedEntry?: boolean;
  readonly interruptionInfo?: bigint;
  readonly idtVectoringInfo?: bigint;
  readonly errorCode?: bigint;
  readonly fields: Readonly<Record<string, FieldValue>>;
  readonly vcpu?: number;
  readonly rip?: bigint;
  readonly timestamp?: number;
  readonly markers?: readonly string[];
}

/** The qualification of `reason` decoded field by field (interface §5 names). */
export const qualificationFields = (reason: number, q: bigint): Readonly<Record<string, FieldValue>> => {
  if (reason === R.EPT_VIOLATION) {
    const d = decodeEptViolation(q);
    return { ...d, access: d.fetch ? 'fetch' : d.write ? 'write' : d.read ? 'read' : 'none' };
  }
  return decodeQualification(reason, q);
};

/** Decodes a reason number and a qualification (and, when known, the interruption information). */
export const decodeExit = (
  reason: number, qualification: bigint,
  extra: { failedEntry?: boolean; intrInfo?: bigint; idtVectoringInfo?: bigint; errorCode?: bigint } = {},
): DecodedExit => {
  const info = reasonByNumber(reason);
  const fields: Record<string, FieldValue> = { ...qualificationFields(reason, qualification) };
  // SDM "VM-Exit Interruption-Information Field": valid for exits due to exceptions, NMIs and external interrupts
  if (extra.intrInfo !== undefined && (reason === R.EXCEPTION_NMI || reason === R.EXTERNAL_INTERRUPT)) {
    const ii = decodeInterruptionInfo(extra.intrInfo);
    Object.assign(fields, { vector: ii.vector, interruptionType: ii.type, errorCodeValid: ii.errorCodeValid, interruptionInfoValid: ii.valid === true });
  }
  return {
    reason, name: info?.name ?? `UNKNOWN_${reason}`, sdmName: info?.sdm ?? 'unknown exit reason', qualification,
    ...(extra.failedEntry === true ? { failedEntry: true } : {}),
    ...(extra.intrInfo !== undefined ? { interruptionInfo: extra.intrInfo } : {}),
    ...(extra.idtVectoringInfo !== undefined ? { idtVectoringInfo: extra.idtVectoringInfo } : {}),
    ...(extra.errorCode !== undefined ? { errorCode: extra.errorCode } : {}),
    fields,
  };
};

/** Decodes a recorded kvm_exit. */
export const decodeKvmExit = (e: KvmExit): DecodedExit | undefined =>
  e.reason === undefined ? undefined : {
    ...decodeExit(e.reason, e.qualification, e),
    rip: e.rip, markers: e.markers,
    ...(e.vcpu !== undefined ? { vcpu: e.vcpu } : {}),
    ...(e.timestamp !== undefined ? { timestamp: e.timestamp } : {}),
  };

/** JSON form: bigints as lowercase 0x hex (interface §1). */
export const exitToJson = (d: DecodedExit): Record<string, unknown> => {
  const conv = (v: unknown): unknown => (typeof v === 'bigint' ? hex(v) : v);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d)) {
    out[k] = k === 'fields' ? Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([a, b]) => [a, conv(b)])) : conv(v);
  }
  return out;
};
