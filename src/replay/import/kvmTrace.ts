/**
 * Importer `kvm-trace`: ftrace / trace-cmd / `perf script` text of KVM's tracepoints (arch/x86/kvm/trace.h) to the
 * guest events that caused each VM exit.
 *
 * Models: `kvm_exit` in its three generations (src/vmx/decode.ts), paired with the detail lines KVM prints while
 * handling the exit, before the next `kvm_entry` on the same CPU column:
 *   kvm_page_fault `[vcpu %u rip 0x%lx ]address %lx|0x%016llx error_code %x|0x%llx` (the GPA of an EPT violation),
 *   kvm_msr `msr_%s %x = 0x%llx[ (#GP)]`, kvm_pio `pio_%s at 0x%x size %d count %d[ val 0x%llx ...]`,
 *   kvm_cr `cr_%s %x = 0x%lx`, kvm_mmio `mmio %s len %u gpa 0x%llx val 0x%llx`, kvm_cpuid `func %x[ idx %x] ...`.
 * Mapping (one exit to the event that causes it):
 *   EPT_VIOLATION: an access that touches exactly the recorded GPA, fetch if qualification bit 2, else write if
 *     bit 1, else read; user = advanced bit 9. Traces carry no guest-linear address (kvm_page_fault prints the GPA
 *     only), and the replay's guest OS maps a fresh frame for every unmapped page it meets, so an access "at the GPA
 *     used as a GVA" lands on some other frame plus page-table pages of its own: the count of EPT violations would
 *     not survive a round trip. So the importer maps a GVA window onto guest-physical memory with 1 GiB guest pages
 *     (`guest_map gva = GPA_WINDOW + r, gpa = r, 1G, rwxu`, emitted once per 1 GiB region r at its first use) and
 *     puts the access at GPA_WINDOW + GPA: the access reaches the recorded GPA itself, so a first touch gives the
 *     one EPT violation KVM recorded, and the window's few page-table pages (one PDPT per 512 GiB) are the only
 *     guest pages the replay adds (a 1 GiB guest page needs no PD or PT);
 *   EPT_MISCONFIG: an access at GPA_WINDOW + the kvm_mmio GPA, read or write as kvm_mmio says, size its len. A
 *     misconfiguration right after an EPT violation on the same page is the first touch of an MMIO page (the
 *     violation installs KVM's MMIO SPTE, the retried access misconfigures): that pair is one guest access, so the
 *     violation's access is dropped and the misconfiguration's access, replayed, gives both exits again;
 *   IO_INSTRUCTION: in/out with port, size, string, rep from the qualification (kvm_pio when G1 lacks it);
 *   CPUID: cpuid with kvm_cpuid's func/idx (leaf 0 when absent); MSR_READ/MSR_WRITE: rdmsr/wrmsr with kvm_msr's
 *   index and value (dropped with a warning when no kvm_msr line follows); CR_ACCESS: mov_to_cr (value from kvm_cr),
 *   mov_from_cr, clts, lmsw; INVLPG: invlpg at the qualification; EXCEPTION_NMI: nmi or exception (vector and
 *   error code from intr_info / error_code); EXTERNAL_INTERRUPT: interrupt with intr_info's vector; HLT, RDTSC,
 *   RDTSCP, RDPMC, PAUSE, MWAIT, MONITOR, WBINVD, INVD, XSETBV, RDRAND, RDSEED, VMCALL: the instruction.
 *   Every other exit (windows, preemption timer, APIC accesses, unknown reasons ...) has no guest event: it is kept
 *   as a `# kvm_exit ...` comment line and counted in a warning.
 * Leaves out: SVM traces, nested-guest (L2) attribution.
 */
import { gpa as toGpa, gva as toGva, type Gva } from '../../arch/addr';
import type { GuestEvent } from '../../guest/events';
import { parseKvmExitBody, splitTraceLine, type KvmExit } from '../../vmx/decode';
import { R, exitName, reasonByNumber } from '../../vmx/exitReasons';
import { decodeEptViolation } from '../../ept/qualification';
import { decodeInterruptionInfo, decodeQualification } from '../../vmx/qualifications';
import { event, malformed, type ImportItem, type ImportOptions } from './common';

interface Details {
  gpa?: number;
  msr?: { write: boolean; index: number; value: bigint };
  pio?: { write: boolean; port: number; size: number; count: number };
  cr?: { write: boolean; cr: number; value: bigint };
  mmio?: { write: boolean; len: number; gpa: number };
  cpuid?: { leaf: number; subleaf: number };
}
interface Pending { readonly exit: KvmExit; readonly details: Details; readonly line: number }

const PAGE_FAULT = /(?:^|\s)address (?:0x)?([0-9a-fA-F]+) error_code (?:0x)?([0-9a-fA-F]+)/;
const MSR = /^msr_(read|write) ([0-9a-fA-F]+) = 0x([0-9a-fA-F]+)/;
const PIO = /^pio_(read|write) at 0x([0-9a-fA-F]+) size (\d+) count (\d+)/;
const CR = /^cr_(read|write) ([0-9a-fA-F]+) = 0x([0-9a-fA-F]+)/;
const MMIO = /^mmio (\S+) len (\d+) gpa 0x([0-9a-fA-F]+)/;
const CPUID = /^func ([0-9a-fA-F]+)(?: idx ([0-9a-fA-F]+))?/;

const SIMPLE: Readonly<Record<number, GuestEvent>> = {
  [R.HLT]: { op: 'hlt' }, [R.RDTSC]: { op: 'rdtsc' }, [R.RDTSCP]: { op: 'rdtscp' }, [R.RDPMC]: { op: 'rdpmc' },
  [R.PAUSE_INSTRUCTION]: { op: 'pause' }, [R.MWAIT_INSTRUCTION]: { op: 'mwait' }, [R.MONITOR_INSTRUCTION]: { op: 'monitor' },
  [R.WBINVD]: { op: 'wbinvd' }, [R.INVD]: { op: 'invd' }, [R.XSETBV]: { op: 'xsetbv' }, [R.RDRAND]: { op: 'rdrand' },
  [R.RDSEED]: { op: 'rdseed' }, [R.VMCALL]: { op: 'vmcall' },
};

const CANONICAL_57 = (a: bigint): Gva | undefined => {
  // INVLPG's operand is a linear address; keep it only when the hot-path number holds it exactly
  const top = a >> 56n;
  const low = a & ((1n << 57n) - 1n);
  if ((top !== 0n && top !== 0xffn) || BigInt(Number(low)) !== low) return undefined;
  return toGva(Number(low));
};

/** The guest event that caused an exit, or why there is none. */
export const exitToEvent = (p: Pending): { event?: GuestEvent; why?: string; code?: string } => {
  const e = p.exit;
  const d = p.details;
  const q = e.qualification;
  if (e.reason === undefined) return { why: `unknown exit reason ${e.reasonText}`, code: 'unknown-reason' };
  if (e.failedEntry) return { why: 'failed VM entry', code: 'failed-entry' };
  const simple = SIMPLE[e.reason];
  if (simple !== undefined) return { event: simple };
  switch (e.reason) {
    case R.EPT_VIOLATION: {
      if (d.gpa === undefined) return { why: 'EPT violation without a kvm_page_fault line (GPA unknown)', code: 'missing-gpa' };
      const v = decodeEptViolation(q);
      return { event: { op: v.fetch ? 'fetch' : v.write ? 'write' : 'read', gva: toGva(d.gpa), size: 1, user: v.userModeLinear } };
    }
    case R.EPT_MISCONFIG:
      if (d.mmio === undefined) return { why: 'EPT misconfiguration without a kvm_mmio line (GPA unknown)', code: 'missing-gpa' };
      return { event: { op: d.mmio.write ? 'write' : 'read', gva: toGva(d.mmio.gpa), size: Math.max(1, d.mmio.len), user: false } };
    case R.IO_INSTRUCTION: {
      if (q === 0n && d.pio !== undefined) {
        const size = d.pio.size === 2 || d.pio.size === 4 ? d.pio.size : 1;
        return { event: { op: d.pio.write ? 'out' : 'in', port: d.pio.port, size, string: d.pio.count > 1, rep: d.pio.count > 1 } };
      }
      const f = decodeQualification(R.IO_INSTRUCTION, q);
      const size = f.size === 2 || f.size === 4 ? f.size : 1;
      return { event: { op: f.direction === 'in' ? 'in' : 'out', port: Number(f.port), size, string: f.string === true, rep: f.rep === true } };
    }
    case R.CPUID:
      return { event: { op: 'cpuid', leaf: d.cpuid?.leaf ?? 0, subleaf: d.cpuid?.subleaf ?? 0 } };
    case R.MSR_READ:
    case R.MSR_WRITE:
      if (d.msr === undefined) return { why: 'MSR exit without a kvm_msr line (MSR index unknown)', code: 'missing-msr' };
      return { event: e.reason === R.MSR_READ ? { op: 'rdmsr', msr: d.msr.index } : { op: 'wrmsr', msr: d.msr.index, value: d.msr.value } };
    case R.CR_ACCESS: {
      const f = decodeQualification(R.CR_ACCESS, q);
      const cr = f.cr === 0 || f.cr === 3 || f.cr === 4 || f.cr === 8 ? f.cr : undefined;
      switch (f.accessType) {
        case 'clts': return { event: { op: 'clts' } };
        case 'lmsw': return { event: { op: 'lmsw', value: Number(f.lmswSource) } };
        case 'mov-from-cr': return cr === undefined ? { why: `MOV from CR${String(f.cr)}`, code: 'bad-cr' } : { event: { op: 'mov_from_cr', cr } };
        default:
          if (cr === undefined) return { why: `MOV to CR${String(f.cr)}`, code: 'bad-cr' };
          if (d.cr === undefined) return { why: 'MOV to CR without a kvm_cr line (value unknown)', code: 'missing-cr-value' };
          return { event: { op: 'mov_to_cr', cr, value: d.cr.value } };
      }
    }
    case R.INVLPG: {
      const g = CANONICAL_57(q);
      return g === undefined ? { why: 'INVLPG of an address a number cannot hold', code: 'bad-address' } : { event: { op: 'invlpg', gva: g } };
    }
    case R.EXCEPTION_NMI: {
      if (e.intrInfo === undefined) return { why: 'exception without interruption information', code: 'missing-intr-info' };
      const ii = decodeInterruptionInfo(e.intrInfo);
      if (ii.type === 'nmi') return { event: { op: 'nmi' } };
      return { event: ii.errorCodeValid && e.errorCode !== undefined ? { op: 'exception', vector: ii.vector, errorCode: Number(e.errorCode & 0xffffffffn) } : { op: 'exception', vector: ii.vector } };
    }
    case R.EXTERNAL_INTERRUPT: {
      const ii = e.intrInfo === undefined ? undefined : decodeInterruptionInfo(e.intrInfo);
      if (ii === undefined || ii.valid !== true) return { why: 'external interrupt without a valid vector', code: 'missing-intr-info' };
      return { event: { op: 'interrupt', vector: ii.vector } };
    }
    default:
      return { why: `no guest event causes ${reasonByNumber(e.reason)?.name ?? e.reasonText}`, code: 'no-guest-event' };
  }
};

const keyOf = (cpu: number | undefined): number => cpu ?? -1;

/** Base of the guest-linear window onto guest-physical memory (2^46: canonical under 4- and 5-level paging, PML4 slots 128-255). */
export const GPA_WINDOW = 0x4000_0000_0000;
const GIB = 0x4000_0000;
const PAGE = 4096;

/** The window's `guest_map` for the 1 GiB region of `g`, when not yet emitted. */
const windowMap = (mapped: Set<number>, g: number): GuestEvent | undefined => {
  const r = Math.floor(g / GIB);
  if (mapped.has(r)) return undefined;
  mapped.add(r);
  return { op: 'guest_map', gva: toGva(GPA_WINDOW + r * GIB), gpa: toGpa(r * GIB), size: '1G', flags: 'rwxu' };
};

/** An access event at a GPA (EPT violation, misconfiguration) moved into the window. */
const gpaOf = (p: Pending): number | undefined =>
  p.exit.reason === R.EPT_VIOLATION ? p.details.gpa : p.exit.reason === R.EPT_MISCONFIG ? p.details.mmio?.gpa : undefined;

export async function* importKvmTrace(lines: AsyncIterable<string>, opts: ImportOptions = {}): AsyncGenerator<ImportItem> {
  const pending = new Map<number, Pending>();
  let n = 0;
  const mapped = new Set<number>();
  // per CPU column: an EPT violation's access, held until the next exit shows whether it was an MMIO first touch
  const held = new Map<number, { page: number; ev: GuestEvent }>();
  // the page of the first recorded EPT violation that was not an access to a final translation (qualification bit
  // 8 = 0: a guest paging-structure access, or a guest-physical access with no linear address such as the guest's
  // own page-table writes): a page the recorded guest used as a page table, usually its first CR3 root
  let tablePage: number | undefined;
  function* emitAt(g: number, ev: GuestEvent): Generator<ImportItem> {
    // The window needs a root: rather than the guest OS model's own root (a page the recording may never have
    // touched, one more EPT violation than KVM saw), load CR3 with a page the recording faulted on as a page table,
    // so the window's PML4 entry lands in a page whose EPT violation is already in the recording.
    if (mapped.size === 0 && tablePage !== undefined) yield event({ op: 'mov_to_cr', cr: 3, value: BigInt(tablePage * PAGE) });
    const map = windowMap(mapped, g);
    if (map !== undefined) yield event(map);
    yield event(ev);
  }
  function* release(k: number, dropIfPage?: number): Generator<ImportItem> {
    const h = held.get(k);
    if (h === undefined) return;
    held.delete(k);
    if (h.page !== dropIfPage) yield* emitAt(h.page * PAGE, h.ev);
  }
  function* flush(k: number): Generator<ImportItem> {
    const p = pending.get(k);
    if (p === undefined) return;
    pending.delete(k);
    const name = p.exit.reason !== undefined ? exitName(p.exit.reason) : p.exit.reasonText;
    yield { kind: 'recorded', reason: name, count: 1 };
    // another CPU's held access goes out first: output order follows the trace's exit order
    for (const o of [...held.keys()]) if (o !== k) yield* release(o);
    const r = exitToEvent(p);
    const g = gpaOf(p);
    if (r.event !== undefined && g !== undefined && (r.event.op === 'read' || r.event.op === 'write' || r.event.op === 'fetch')) {
      const moved: GuestEvent = { ...r.event, gva: toGva(GPA_WINDOW + g) };
      const page = Math.floor(g / PAGE);
      if (tablePage === undefined && p.exit.reason === R.EPT_VIOLATION && (p.exit.qualification & 0x100n) === 0n) tablePage = page;
      if (p.exit.reason === R.EPT_VIOLATION) { yield* release(k); held.set(k, { page, ev: moved }); return; }
      yield* release(k, page);
      yield* emitAt(g, moved);
      return;
    }
    yield* release(k);
    if (r.event !== undefined) { yield event(r.event); return; }
    const e = p.exit;
    yield { kind: 'comment', text: `kvm_exit${e.vcpu !== undefined ? ` vcpu ${e.vcpu}` : ''} reason ${e.reasonText} rip 0x${e.rip.toString(16)} info1 0x${e.qualification.toString(16)}: ${r.why ?? ''}` };
    yield { kind: 'warning', line: p.line, code: r.code ?? 'no-guest-event', message: `line ${p.line}: ${r.why ?? ''}`, reason: name };
  }
  for await (const line of lines) {
    n++;
    const t = splitTraceLine(line);
    if (t === undefined) continue;
    const k = keyOf(t.cpu);
    switch (t.event) {
      case 'kvm_exit': {
        yield* flush(k);
        const p = parseKvmExitBody(t.body, t.timestamp);
        if (!p.ok) { yield malformed(opts, n, p.expected, p.found); break; }
        pending.set(k, { exit: p.value, details: {}, line: n });
        break;
      }
      case 'kvm_entry': yield* flush(k); break;
      default: {
        const p = pending.get(k);
        if (p === undefined) break;
        const d = p.details;
        let m: RegExpExecArray | null;
        if (t.event === 'kvm_page_fault' && (m = PAGE_FAULT.exec(t.body)) !== null) {
          const a = parseInt(m[1], 16);
          if (a < 2 ** 52) d.gpa = a;
        } else if (t.event === 'kvm_msr' && (m = MSR.exec(t.body)) !== null) {
          d.msr = { write: m[1] === 'write', index: parseInt(m[2], 16), value: BigInt('0x' + m[3]) };
        } else if (t.event === 'kvm_pio' && (m = PIO.exec(t.body)) !== null) {
          d.pio = { write: m[1] === 'write', port: parseInt(m[2], 16), size: Number(m[3]), count: Number(m[4]) };
        } else if (t.event === 'kvm_cr' && (m = CR.exec(t.body)) !== null) {
          d.cr = { write: m[1] === 'write', cr: parseInt(m[2], 16), value: BigInt('0x' + m[3]) };
        } else if (t.event === 'kvm_mmio' && (m = MMIO.exec(t.body)) !== null) {
          const a = parseInt(m[3], 16);
          if (a < 2 ** 52) d.mmio = { write: m[1] === 'write', len: Number(m[2]), gpa: a };
        } else if (t.event === 'kvm_cpuid' && (m = CPUID.exec(t.body)) !== null) {
          d.cpuid = { leaf: parseInt(m[1], 16), subleaf: m[2] === undefined ? 0 : parseInt(m[2], 16) };
        }
      }
    }
  }
  for (const k of [...pending.keys()]) yield* flush(k);
  for (const k of [...held.keys()]) yield* release(k);
}
