/**
 * Importer `perf-kvm-stat`: the table of `perf kvm stat report` (columns `VM-EXIT Samples Samples% Time% Min Time
 * Max Time Avg time`) to a synthetic trace with the same exit mix: for each reason, as many guest events that cause
 * it as it has samples, interleaved evenly (smooth weighted round robin), generated lazily (constant memory).
 * Synthetic events: EPT_VIOLATION a read of a fresh 4 KiB guest-physical page each time, through a window of 1 GiB
 * guest pages (`guest_map gva 0x400000000000+ -> gpa 4 GiB+`, one per GiB, as kvm-trace does: a fresh GVA page would
 * also make the guest OS build page tables, whose first touches are EPT violations of their own); EPT_MISCONFIG a
 * write to gva 0x7f0000000000, which a leading `guest_map` maps to the local APIC page (GPA 0xfee00000, an MMIO range
 * of the default config); IO_INSTRUCTION `out` to port 0x80; MSR_READ `rdmsr` 0x3a (IA32_FEATURE_CONTROL);
 * MSR_WRITE `wrmsr` 0x6e0 (IA32_TSC_DEADLINE, KVM's commonest WRMSR exit); CPUID leaf 0; CR_ACCESS `mov_to_cr` 4 (below);
 * EXCEPTION_NMI `nmi` (NMI exiting is always on; #PF is not intercepted under EPT); EXTERNAL_INTERRUPT `interrupt` 0xec; HLT and the other instructions themselves.
 * Reasons with no guest event are kept as comments and counted in a warning.
 * Calibration: the set-up events (the window's and the APIC page's guest_map, the first MMIO write) cause exits of
 * their own under the default config (the guest's page-table pages are first touched, so EPT violations; the first
 * MMIO write is an EPT violation then a misconfiguration). The importer replays that prologue under DEFAULT_CONFIG
 * and counts its exits against the rows, so the whole trace replays to exactly the recorded count of every reason
 * it can cause (a row too small to pay for its prologue is reported in a warning).
 * Recorded times: the Avg time column (the host's handling time, from kvm_exit to kvm_entry, in microseconds) is
 * yielded as a `recorded` item per reason; `vtxsim run --use-recorded-times` turns it into handler cycles.
 */
import { gpa, gva } from '../../arch/addr';
import type { GuestEvent } from '../../guest/events';
import { R, exitName, reasonByName } from '../../vmx/exitReasons';
import { isRight } from 'fp-ts/Either';
import { DEFAULT_CONFIG } from '../config';
import { replayChunk, startReplay } from '../replay';
import { event, malformed, type ImportItem, type ImportOptions } from './common';

const ROW = /^\s*(\S+)\s+(\d+)\s+[\d.]+%\s+[\d.]+%(?:\s+([\d.]+)us\s+([\d.]+)us\s+([\d.]+)us)?/;
const MMIO_GVA = 0x7f0000000000;
/** the window onto guest-physical memory, as in kvm-trace, over fresh GPAs from 4 GiB (above the guest's RAM) */
const WINDOW = 0x4000_0000_0000;
const FRESH_GPA = 0x1_0000_0000;
const GIB = 0x4000_0000;
/**
 * MOV to CR4 exits only when a host-owned bit (CR4 guest/host mask) differs from the read shadow (SDM "CR4 Guest/Host
 * Mask"): writing one value twice exits once. The synthetic writes alternate CR4.PSE, host-owned under KVM and
 * ignored when CR4.PAE = 1 (SDM "Enumeration of Paging Features"), around a Linux-like guest CR4 (PAE, PGE, OSFXSR,
 * OSXMMEXCPT, OSXSAVE): every write exits and paging is unchanged.
 */
const CR4_PSE_OFF = 0x406a0n;
const CR4_PSE_ON = CR4_PSE_OFF | 0x10n;

/** Exits by uapi name that `events` cause when replayed from the start under the default config. */
const exitsOf = (events: readonly GuestEvent[]): Readonly<Record<string, number>> => {
  const s = startReplay(DEFAULT_CONFIG);
  return isRight(s) ? replayChunk(s.right, events).state.stats.exitsByReason : {};
};

const SYNTH: Readonly<Record<number, GuestEvent>> = {
  [R.HLT]: { op: 'hlt' }, [R.RDTSC]: { op: 'rdtsc' }, [R.RDTSCP]: { op: 'rdtscp' }, [R.RDPMC]: { op: 'rdpmc' },
  [R.PAUSE_INSTRUCTION]: { op: 'pause' }, [R.MWAIT_INSTRUCTION]: { op: 'mwait' }, [R.MONITOR_INSTRUCTION]: { op: 'monitor' },
  [R.WBINVD]: { op: 'wbinvd' }, [R.INVD]: { op: 'invd' }, [R.XSETBV]: { op: 'xsetbv' }, [R.RDRAND]: { op: 'rdrand' },
  [R.RDSEED]: { op: 'rdseed' }, [R.VMCALL]: { op: 'vmcall' }, [R.CPUID]: { op: 'cpuid', leaf: 0, subleaf: 0 },
  [R.IO_INSTRUCTION]: { op: 'out', port: 0x80, size: 1, string: false, rep: false },
  [R.MSR_READ]: { op: 'rdmsr', msr: 0x3a }, [R.MSR_WRITE]: { op: 'wrmsr', msr: 0x6e0, value: 0n },
  [R.CR_ACCESS]: { op: 'mov_to_cr', cr: 4, value: CR4_PSE_ON },
  [R.EXCEPTION_NMI]: { op: 'nmi' }, [R.EXTERNAL_INTERRUPT]: { op: 'interrupt', vector: 0xec },
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
      yield { kind: 'warning', line: n, code: 'unknown-reason', message: `line ${n}: unknown exit reason ${m[1]} (${m[2]} samples)`, reason: m[1] };
      yield { kind: 'recorded', reason: m[1], count: Number(m[2]) };
      continue;
    }
    yield { kind: 'recorded', reason: r.name, count: Number(m[2]), ...(m[5] !== undefined ? { avgTimeUs: Number(m[5]) } : {}) };
    if (r.number !== R.EPT_VIOLATION && SYNTH[r.number] === undefined) {
      yield { kind: 'comment', text: `perf kvm stat: ${r.name} ${m[2]} samples (no guest event causes it)` };
      yield { kind: 'warning', line: n, code: 'no-guest-event', message: `line ${n}: no guest event causes ${r.name} (${m[2]} samples)`, reason: r.name };
      continue;
    }
    rows.push({ reason: r.number, count: Number(m[2]) });
  }
  if (!inTable) { yield malformed(opts, n, 'a "VM-EXIT Samples ..." header of perf kvm stat report', 'none'); return; }
  const prologue: GuestEvent[] = [];
  const hasEpt = rows.some((r) => r.reason === R.EPT_VIOLATION && r.count > 0);
  const hasMmio = rows.some((r) => r.reason === R.EPT_MISCONFIG && r.count > 0);
  if (hasEpt) prologue.push({ op: 'guest_map', gva: gva(WINDOW + FRESH_GPA), gpa: gpa(FRESH_GPA), size: '1G', flags: 'rwxu' });
  if (hasMmio) {
    prologue.push({ op: 'guest_map', gva: gva(MMIO_GVA), gpa: gpa(0xfee00000), size: '4K', flags: 'rw' });
    prologue.push(SYNTH[R.EPT_MISCONFIG]);
  }
  // what the prologue costs is taken from the rows (see the header: calibration)
  const cost = exitsOf(prologue);
  for (const p of prologue) yield event(p);
  const targets = rows.map((r) => {
    const name = exitName(r.reason);
    const paid = cost[name] ?? 0;
    return { reason: r.reason, count: Math.max(0, r.count - paid), short: Math.max(0, paid - r.count), name };
  });
  for (const t of targets) {
    if (t.short > 0) yield { kind: 'warning', code: 'prologue', message: `${t.name}: the set-up events cause ${t.short} more than the report has`, reason: t.name };
  }
  for (const [name, k] of Object.entries(cost)) {
    if (!targets.some((t) => t.name === name)) yield { kind: 'warning', code: 'prologue', message: `${name}: the set-up events cause ${k} exit(s) the report does not have`, reason: name };
  }
  // smooth weighted round robin: each step the row furthest behind its share goes next
  const total = targets.reduce((s2, r) => s2 + r.count, 0);
  const done = targets.map(() => 0);
  let fresh = 0;
  let crWrites = 0;
  for (let i = 0; i < total; i++) {
    let best = -1;
    let bestLag = -Infinity;
    for (let j = 0; j < targets.length; j++) {
      if (done[j] >= targets[j].count) continue;
      const lag = ((i + 1) * targets[j].count) / total - done[j];
      if (lag > bestLag) { bestLag = lag; best = j; }
    }
    done[best]++;
    const reason = targets[best].reason;
    if (reason === R.EPT_VIOLATION) {
      const g = FRESH_GPA + 4096 * fresh++;
      // a further 1 GiB of the window when the fresh pages pass the first
      if (g % GIB === 0 && g !== FRESH_GPA) yield event({ op: 'guest_map', gva: gva(WINDOW + g), gpa: gpa(g), size: '1G', flags: 'rwxu' });
      yield event({ op: 'read', gva: gva(WINDOW + g), size: 1, user: true });
    } else if (reason === R.CR_ACCESS) {
      yield event({ op: 'mov_to_cr', cr: 4, value: crWrites++ % 2 === 0 ? CR4_PSE_ON : CR4_PSE_OFF });
    } else {
      yield event(SYNTH[reason]);
    }
  }
}
