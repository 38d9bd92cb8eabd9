/**
 * Importer `perf-kvm-stat`: the table of `perf kvm stat report` (columns `VM-EXIT Samples Samples% Time% Min Time
 * Max Time Avg time`) to a synthetic trace with the same exit mix: for each reason, as many guest events that cause
 * it as it has samples, interleaved evenly (smooth weighted round robin), generated lazily (constant memory).
 * Synthetic events: EPT_VIOLATION a read of a fresh 4 KiB page each time (from gva 0x100000000); EPT_MISCONFIG a
 * write to gva 0x7f0000000000, which a leading `guest_map` maps to the local APIC page (GPA 0xfee00000, an MMIO range
 * of the default config); IO_INSTRUCTION `out` to port 0x80; MSR_READ `rdmsr` 0x3a (IA32_FEATURE_CONTROL);
 * MSR_WRITE `wrmsr` 0x6e0 (IA32_TSC_DEADLINE, KVM's commonest WRMSR exit); CPUID leaf 0; CR_ACCESS `mov_to_cr` 4;
 * EXCEPTION_NMI `exception` 14; EXTERNAL_INTERRUPT `interrupt` 0xec; HLT and the other instructions themselves.
 * Reasons with no guest event are kept as comments and counted in a warning.
 * Leaves out: the time columns (timing is the model's to compute).
 */
import { gpa, gva } from '../../arch/addr';
import type { GuestEvent } from '../../guest/events';
import { R, reasonByName } from '../../vmx/exitReasons';
import { event, malformed, type ImportItem, type ImportOptions } from './common';

const ROW = /^\s*(\S+)\s+(\d+)\s+[\d.]+%\s+[\d.]+%/;
const MMIO_GVA = 0x7f0000000000;
const FRESH_BASE = 0x100000000;

const SYNTH: Readonly<Record<number, GuestEvent>> = {
  [R.HLT]: { op: 'hlt' }, [R.RDTSC]: { op: 'rdtsc' }, [R.RDTSCP]: { op: 'rdtscp' }, [R.RDPMC]: { op: 'rdpmc' },
  [R.PAUSE_INSTRUCTION]: { op: 'pause' }, [R.MWAIT_INSTRUCTION]: { op: 'mwait' }, [R.MONITOR_INSTRUCTION]: { op: 'monitor' },
  [R.WBINVD]: { op: 'wbinvd' }, [R.INVD]: { op: 'invd' }, [R.XSETBV]: { op: 'xsetbv' }, [R.RDRAND]: { op: 'rdrand' },
  [R.RDSEED]: { op: 'rdseed' }, [R.VMCALL]: { op: 'vmcall' }, [R.CPUID]: { op: 'cpuid', leaf: 0, subleaf: 0 },
  [R.IO_INSTRUCTION]: { op: 'out', port: 0x80, size: 1, string: false, rep: false },
  [R.MSR_READ]: { op: 'rdmsr', msr: 0x3a }, [R.MSR_WRITE]: { op: 'wrmsr', msr: 0x6e0, value: 0n },
  [R.CR_ACCESS]: { op: 'mov_to_cr', cr: 4, value: 0x3506f0n },
  [R.EXCEPTION_NMI]: { op: 'exception', vector: 14, errorCode: 0 }, [R.EXTERNAL_INTERRUPT]: { op: 'interrupt', vector: 0xec },
  [R.EPT_MISCONFIG]: { op: 'write', gva: gva(MMIO_GVA), size: 4, user: false },
};

export async function* importPerfKvmStat(lines: AsyncIterable<string>, opts: ImportOptions = {}): AsyncGenerator<ImportItem> {
  const rows: { reason: number; count: number }[] = [];
  let n = 0;
  let inTable = false;
  for await (const line of lines) {
    n++;
    if (/VM-EXIT\s+Samples/.test(line)) { inTable = true; continue; }
    if (!inTable || line.trim() === '' || /^\s*Total Samples/.test(line)) continue;
    const m = ROW.exec(line);
    if (m === null) { yield malformed(opts, n, 'a perf kvm stat row "<REASON> <samples> <samples%> <time%> ..."', JSON.stringify(line.trim())); continue; }
    const r = reasonByName(m[1]);
    if (r === undefined) {
      yield { kind: 'comment', text: `perf kvm stat: ${m[1]} ${m[2]} samples (unknown exit reason)` };
      yield { kind: 'warning', line: n, code: 'unknown-reason', message: `line ${n}: unknown exit reason ${m[1]}` };
      continue;
    }
    if (r.number !== R.EPT_VIOLATION && SYNTH[r.number] === undefined) {
      yield { kind: 'comment', text: `perf kvm stat: ${r.name} ${m[2]} samples (no guest event causes it)` };
      yield { kind: 'warning', line: n, code: 'no-guest-event', message: `line ${n}: no guest event causes ${r.name}` };
      continue;
    }
    rows.push({ reason: r.number, count: Number(m[2]) });
  }
  if (!inTable) { yield malformed(opts, n, 'a "VM-EXIT Samples ..." header of perf kvm stat report', 'none'); return; }
  if (rows.some((r) => r.reason === R.EPT_MISCONFIG)) {
    yield event({ op: 'guest_map', gva: gva(MMIO_GVA), gpa: gpa(0xfee00000), size: '4K', flags: 'rw' });
  }
  // smooth weighted round robin: each step the row furthest behind its share goes next
  const total = rows.reduce((s, r) => s + r.count, 0);
  const done = rows.map(() => 0);
  let fresh = 0;
  for (let i = 0; i < total; i++) {
    let best = -1;
    let bestLag = -Infinity;
    for (let j = 0; j < rows.length; j++) {
      if (done[j] >= rows[j].count) continue;
      const lag = ((i + 1) * rows[j].count) / total - done[j];
      if (lag > bestLag) { bestLag = lag; best = j; }
    }
    done[best]++;
    const reason = rows[best].reason;
    yield event(reason === R.EPT_VIOLATION ? { op: 'read', gva: gva(FRESH_BASE + 4096 * fresh++), size: 1, user: true } : SYNTH[reason]);
  }
}
