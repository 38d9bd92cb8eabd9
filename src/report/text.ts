/**
 * The text report of a run.
 *
 * Models: the exit table of `perf kvm stat report` (tools/perf/builtin-kvm.c print_result: the event name right-
 * aligned in 20 columns as perf printed it before KVM_EVENT_NAME_LEN became 40, `%10s` Samples, `%9s` Samples%,
 * `%9s` Time%, rows `%8.2f%%`, then `Total Samples:N, ...`), with our estimated cycles in place of perf's measured
 * times; then the translation section (SDM Vol. 3A "Using the TLBs and Paging-Structure Caches" and Vol. 3C "EPT and
 * the guest paging structures": TLB levels, walks, guest vs nested references) and the cycles section.
 * Leaves out: perf's Min/Max/Avg time columns (we have no time distribution), colour, per-vCPU tables, locale digit
 * grouping. Trailing blanks of perf's fixed-width fields are trimmed from each line.
 */

import { renderHistogram } from './histogram';
import type { RunReport } from './model';

const pct = (part: number, whole: number): string => (whole === 0 ? '-' : ((part / whole) * 100).toFixed(2) + '%');
const fixed2 = (x: number): string => x.toFixed(2);
const trimEnd = (s: string): string => s.replace(/\s+$/, '');

/** perf's `"%8.2f%% "` of a share, printing 0.00% when the whole is 0 (perf would divide by zero). */
const perfPct = (part: number, whole: number): string =>
  ((whole === 0 ? 0 : (part / whole) * 100).toFixed(2) + '%').padStart(9);

const NAME_WIDTH = 20;

/** The exit table in `perf kvm stat report` shape: header, blank line, one row per reason, blank, Total line. */
export const renderExitTable = (r: RunReport): string[] => {
  const names = Object.keys(r.exits.byReason).filter((n) => r.exits.byReason[n] > 0);
  names.sort((a, b) => r.exits.byReason[b] - r.exits.byReason[a] || (a < b ? -1 : a > b ? 1 : 0));
  const total = r.exits.total;
  const totalCycles = r.cycles.exits;
  const lines: string[] = [
    'Analyze events for all VCPUs:',
    '',
    trimEnd(`${'VM-EXIT'.padStart(NAME_WIDTH)} ${'Samples'.padStart(10)} ${'Samples%'.padStart(9)} ` +
      `${'Est. cycles'.padStart(14)} ${'Time%'.padStart(9)}`),
    '',
  ];
  for (const n of names) {
    const count = r.exits.byReason[n];
    const cycles = r.exits.cyclesByReason[n] ?? 0;
    lines.push(trimEnd(`${n.padStart(NAME_WIDTH)} ${String(count).padStart(10)} ${perfPct(count, total)} ` +
      `${String(cycles).padStart(14)} ${perfPct(cycles, totalCycles)}`));
  }
  lines.push('', `Total Samples:${total}, Total estimated exit cycles:${totalCycles}.`);
  return lines;
};

const LABEL_WIDTH = 34;
const row = (label: string, value: string, note = ''): string =>
  trimEnd(`  ${label.padEnd(LABEL_WIDTH)}${value.padStart(14)}${note === '' ? '' : '  ' + note}`);
const hitRow = (label: string, hits: number, lookups: number): string =>
  row(label, `${hits} / ${lookups}`, lookups === 0 ? '' : `(${pct(hits, lookups)})`);

export const renderTranslation = (r: RunReport): string[] => {
  const t = r.translation;
  const lines = [
    'Translation:',
    row('accesses', String(t.accesses)),
    row('TLB hits', String(t.tlb.hits), t.accesses === 0 ? '' : `(${pct(t.tlb.hits, t.accesses)})`),
    row('  L1 TLB hits', String(t.tlb.l1Hits)),
    row('  STLB hits', String(t.tlb.stlbHits)),
    row('TLB misses', String(t.tlb.misses)),
    row('walks', String(t.walks)),
    row('references (guest)', String(t.memoryReferences.guest)),
    row('references (nested)', String(t.memoryReferences.nested)),
    row('references (total)', String(t.memoryReferences.total)),
    row('references per walk (mean)', fixed2(t.meanReferencesPerWalk)),
    row('references per walk (max)', String(t.maxReferencesPerWalk)),
    hitRow('paging-structure-cache hits', t.psc.hits, t.psc.lookups),
    hitRow('nested-TLB hits', t.nestedTlb.hits, t.nestedTlb.lookups),
    row('guest-virtual pages touched', String(r.memory.guestVirtualPages)),
    row('guest-physical pages touched', String(r.memory.guestPhysicalPages)),
  ];
  const hist = renderHistogram(t.referencesHistogram, 30);
  if (hist.length > 0) lines.push('  references per walk:', ...hist.map((l) => '    ' + l));
  return lines;
};

export const renderCycles = (r: RunReport): string[] => {
  const c = r.cycles;
  const share = (x: number): string => (c.total === 0 ? '' : `(${pct(x, c.total)})`);
  const lines = [
    'Cycles:',
    row('exits (estimated)', String(c.exits), share(c.exits)),
    row('translation', String(c.translation), share(c.translation)),
    row('guest work', String(c.guest), share(c.guest)),
    row('total', String(c.total)),
  ];
  if (r.overhead !== undefined) {
    lines.push(row('native', String(r.overhead.nativeCycles)),
      row('overhead vs native', fixed2(r.overhead.ratio) + 'x'));
  }
  return lines;
};

const configLine = (r: RunReport): string => {
  const c = r.config;
  const ept = c.ept === null ? 'EPT off' : `EPT ${c.ept.levels}-level ${c.ept.pageSize}`;
  const vpid = c.vpid === undefined ? '' : c.vpid ? ', VPID on' : ', VPID off';
  return `mode ${r.mode} (cpu ${c.cpu}, ${c.mode}, ${ept}, guest ${c.guest.levels}-level ${c.guest.pageSize}${vpid})`;
};

/** The whole text report, ending with a newline. */
export const renderReportText = (r: RunReport): string => {
  const lines = [
    `vtxsim run report: ${configLine(r)}`,
    `events: ${r.events}${r.partial === true ? ' (partial: the run stopped early)' : ''}`,
    '',
    ...renderExitTable(r),
    '',
    ...renderTranslation(r),
    '',
    ...renderCycles(r),
  ];
  return lines.join('\n') + '\n';
};
