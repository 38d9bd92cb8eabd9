/**
 * Fidelity of a replay to its recording: per exit reason (SDM Vol. 3C Appendix C "VMX Basic Exit Reasons", by uapi
 * name), the count of exits the recording holds (kvm_exit lines, or perf kvm stat rows) against the count the
 * replay of the imported trace gives, and, for every difference, the named reason for it.
 *
 * Explanations come first from what the importer said about the reason (an exit no guest event causes, an unknown
 * reason, a detail line the recording lacks), then from what the model is known to do differently (below); a
 * difference with neither is reported as unexplained.
 * Leaves out: timing (the cost model is compared by `--use-recorded-times`, not here), per-vCPU counts.
 */

export interface FidelityRow {
  /** uapi name, or the recording's spelling of an unknown reason */
  readonly reason: string;
  readonly recorded: number;
  readonly replayed: number;
  /** why the two differ; absent when they agree */
  readonly explanation?: string;
}

export interface Fidelity {
  readonly rows: readonly FidelityRow[];
  /** every reason agrees */
  readonly agree: boolean;
  /** every difference has an explanation */
  readonly explained: boolean;
}

/** Importer warning codes by reason: code -> how many recorded exits of that reason it concerns. */
export type ImportNotes = Readonly<Record<string, Readonly<Record<string, number>>>>;

const CODE_TEXT: Readonly<Record<string, (reason: string) => string>> = {
  'no-guest-event': (r) => `reason not modelled: no guest event causes ${r} (kept as a comment in the trace)`,
  'unknown-reason': () => 'unknown exit reason: not in the SDM table of exit reasons the model knows',
  'failed-entry': () => 'failed VM entries are not replayed (the model enters with its own valid guest state)',
  'missing-gpa': () => 'the recording lacks the kvm_page_fault / kvm_mmio line with the GPA',
  'missing-msr': () => 'the recording lacks the kvm_msr line with the MSR index',
  'missing-cr-value': () => 'the recording lacks the kvm_cr line with the value written',
  'missing-intr-info': () => 'the recording lacks the interruption information (vector unknown)',
  'bad-cr': () => 'a MOV with a control register the trace format has no event for',
  'bad-address': () => 'an INVLPG operand outside the model\'s 57-bit guest-linear addresses',
  prologue: () => 'the synthetic trace\'s set-up events (guest_map of the GPA window and the APIC page) cause these',
};

/** What the model is known to do differently, by reason and sign of the difference (replayed - recorded). */
const modelDifference = (reason: string, d: number): string | undefined => {
  switch (reason) {
    case 'EPT_VIOLATION':
      return d > 0
        ? 'the replay\'s own guest page tables (the PML4 entry and PDPT of the GPA window) are first touches the recording does not have'
        : 'recorded violations on pages already mapped (permission changes, re-faults after an INVEPT or a zap) are first touches only in the model, which maps RWX once';
    case 'EPT_MISCONFIG':
      return d > 0
        ? 'the model retries an MMIO first touch (violation, then misconfiguration) where KVM emulates it at the violation'
        : 'KVM\'s fast MMIO path or in-kernel emulation at the violation took the access without a misconfiguration';
    case 'EXTERNAL_INTERRUPT':
      return d < 0 ? 'host interrupts are not in the trace' : undefined;
    case 'MSR_READ': case 'MSR_WRITE':
      return 'the replay\'s MSR bitmap differs from the recorded host\'s (config msrBitmap)';
    case 'IO_INSTRUCTION':
      return 'the replay\'s I/O bitmap differs from the recorded host\'s (config ioBitmap)';
    case 'EXCEPTION_NMI':
      return 'the replay\'s exception bitmap differs from the recorded host\'s (with EPT, KVM does not intercept #PF)';
    case 'CR_ACCESS':
      return 'the replay\'s CR0/CR4 guest/host masks or CR3/CR8 exiting controls differ from the recorded host\'s';
    default:
      return undefined;
  }
};

const explain = (reason: string, d: number, notes: ImportNotes): string | undefined => {
  const byCode = notes[reason];
  const parts: string[] = [];
  if (byCode !== undefined) {
    for (const [code, n] of Object.entries(byCode)) parts.push(`${n} ${n === 1 ? 'exit' : 'exits'}: ${(CODE_TEXT[code] ?? (() => code))(reason)}`);
  }
  const dropped = byCode === undefined ? 0 : Object.entries(byCode).reduce((s, [code, n]) => s + (code === 'prologue' ? 0 : n), 0);
  // what the importer accounts for first; the rest is the model's doing
  const rest = d + dropped;
  if (rest !== 0 || parts.length === 0) {
    const m = modelDifference(reason, rest === 0 ? d : rest);
    if (m !== undefined) parts.push(m);
    else if (parts.length === 0) return undefined;
  }
  return parts.join('; ');
};

/** Compares recorded and replayed counts by reason. */
export const fidelity = (
  recorded: Readonly<Record<string, number>>, replayed: Readonly<Record<string, number>>, notes: ImportNotes = {},
): Fidelity => {
  const reasons = [...new Set([...Object.keys(recorded), ...Object.keys(replayed)])]
    .sort((a, b) => (recorded[b] ?? 0) - (recorded[a] ?? 0) || a.localeCompare(b));
  const rows = reasons.map((reason): FidelityRow => {
    const rec = recorded[reason] ?? 0;
    const rep = replayed[reason] ?? 0;
    if (rec === rep) return { reason, recorded: rec, replayed: rep };
    const explanation = explain(reason, rep - rec, notes);
    return { reason, recorded: rec, replayed: rep, ...(explanation !== undefined ? { explanation } : {}) };
  });
  const differing = rows.filter((r) => r.recorded !== r.replayed);
  return { rows, agree: differing.length === 0, explained: differing.every((r) => r.explanation !== undefined) };
};

/** The fidelity table as text, one row per reason, then one line per difference. */
export const renderFidelity = (f: Fidelity): string => {
  const out = ['Fidelity (recorded vs replayed exits):', '', `${'VM-EXIT'.padStart(28)} ${'recorded'.padStart(10)} ${'replayed'.padStart(10)} ${'diff'.padStart(8)}`];
  for (const r of f.rows) {
    const d = r.replayed - r.recorded;
    out.push(`${r.reason.padStart(28)} ${String(r.recorded).padStart(10)} ${String(r.replayed).padStart(10)} ${(d === 0 ? '' : d > 0 ? `+${d}` : String(d)).padStart(8)}`);
  }
  out.push('');
  const diffs = f.rows.filter((r) => r.recorded !== r.replayed);
  if (diffs.length === 0) out.push('Every exit reason agrees.');
  for (const r of diffs) out.push(`${r.reason}: ${r.explanation ?? 'unexplained difference'}`);
  return out.join('\n') + '\n';
};
