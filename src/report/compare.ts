/**
 * `vtxsim compare`: several runs of one trace side by side.
 *
 * Models: interface §1 `compare` (modes `native`, `ept`, `ept-2m`, `ept-1g`, `ept-5level`, `shadow`,
 * `ept-novpid`): rows are metrics (exits by reason, translation references, cycles, overhead against native),
 * columns are modes. The cost of nested paging shows up as the nested references of SDM Vol. 3C "EPT and the guest
 * paging structures" and the exits of shadow paging as CR_ACCESS / INVLPG / EXCEPTION_NMI rows.
 * Leaves out: statistical significance (a run is deterministic), HTML (the CLI's).
 */

import { canonicalReport, stringify } from './json';
import type { RunReport } from './model';

/** `{ "schemaVersion": 1, "modes": { "<mode>": <report> } }`, modes in the given order. */
export const compareDocument = (reports: readonly RunReport[]): unknown =>
  ({ schemaVersion: 1, modes: Object.fromEntries(reports.map((r) => [r.mode, canonicalReport(r)])) });

export const renderCompareJson = (reports: readonly RunReport[]): string => stringify(compareDocument(reports));

/**
 * Total cycles of the native run: the `native` mode's report when compared, else the first report's own
 * `overhead.nativeCycles`, else undefined.
 */
export const nativeCyclesOf = (reports: readonly RunReport[]): number | undefined => {
  const native = reports.find((r) => r.mode === 'native');
  if (native !== undefined) return native.cycles.total;
  return reports.find((r) => r.overhead !== undefined)?.overhead?.nativeCycles;
};

type Cell = string;
interface Row { readonly label: string; readonly cells: readonly Cell[] }

const ratio = (part: number, whole: number): string => (whole === 0 ? '-' : ((part / whole) * 100).toFixed(2) + '%');

/** The metric rows of the compare table (labels and one cell per report). */
export const compareRows = (reports: readonly RunReport[]): Row[] => {
  const num = (f: (r: RunReport) => number): Cell[] => reports.map((r) => String(f(r)));
  const rows: Row[] = [{ label: 'events', cells: num((r) => r.events) }];
  rows.push({ label: 'exits', cells: num((r) => r.exits.total) });
  // every reason any mode saw, most frequent (summed over modes) first, then by name
  const totals = new Map<string, number>();
  for (const r of reports) {
    for (const [n, c] of Object.entries(r.exits.byReason)) totals.set(n, (totals.get(n) ?? 0) + c);
  }
  const names = [...totals.keys()].filter((n) => (totals.get(n) ?? 0) > 0)
    .sort((a, b) => (totals.get(b) ?? 0) - (totals.get(a) ?? 0) || (a < b ? -1 : a > b ? 1 : 0));
  for (const n of names) rows.push({ label: `  ${n}`, cells: num((r) => r.exits.byReason[n] ?? 0) });
  rows.push(
    { label: 'translation accesses', cells: num((r) => r.translation.accesses) },
    { label: 'TLB hits', cells: num((r) => r.translation.tlb.hits) },
    { label: 'TLB misses', cells: num((r) => r.translation.tlb.misses) },
    { label: 'walks', cells: num((r) => r.translation.walks) },
    { label: 'references (guest)', cells: num((r) => r.translation.memoryReferences.guest) },
    { label: 'references (nested)', cells: num((r) => r.translation.memoryReferences.nested) },
    { label: 'references (total)', cells: num((r) => r.translation.memoryReferences.total) },
    { label: 'references per walk (mean)', cells: reports.map((r) => r.translation.meanReferencesPerWalk.toFixed(2)) },
    { label: 'references per walk (max)', cells: num((r) => r.translation.maxReferencesPerWalk) },
    { label: 'PSC hit rate', cells: reports.map((r) => ratio(r.translation.psc.hits, r.translation.psc.lookups)) },
    { label: 'nested-TLB hit rate',
      cells: reports.map((r) => ratio(r.translation.nestedTlb.hits, r.translation.nestedTlb.lookups)) },
    { label: 'guest-virtual pages', cells: num((r) => r.memory.guestVirtualPages) },
    { label: 'guest-physical pages', cells: num((r) => r.memory.guestPhysicalPages) },
    { label: 'cycles: exits (estimated)', cells: num((r) => r.cycles.exits) },
    { label: 'cycles: translation', cells: num((r) => r.cycles.translation) },
    { label: 'cycles: guest work', cells: num((r) => r.cycles.guest) },
    { label: 'cycles: total', cells: num((r) => r.cycles.total) },
  );
  const native = nativeCyclesOf(reports);
  rows.push({
    label: 'overhead vs native',
    cells: reports.map((r) => (native === undefined || native === 0 ? '-' : (r.cycles.total / native).toFixed(2) + 'x')),
  });
  return rows;
};

/** The compare table: a `metric` column left-aligned, one right-aligned column per mode; ends with a newline. */
export const renderCompareText = (reports: readonly RunReport[]): string => {
  const rows = compareRows(reports);
  const labelWidth = Math.max('metric'.length, ...rows.map((r) => r.label.length));
  const widths = reports.map((r, i) =>
    Math.max(r.mode.length, ...rows.map((row) => row.cells[i].length)));
  const fmt = (label: string, cells: readonly string[]): string =>
    (label.padEnd(labelWidth) + cells.map((c, i) => '  ' + c.padStart(widths[i])).join('')).replace(/\s+$/, '');
  return [fmt('metric', reports.map((r) => r.mode)), ...rows.map((r) => fmt(r.label, r.cells))].join('\n') + '\n';
};
