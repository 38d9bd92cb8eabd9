/**
 * The self-contained HTML report (`run --html`, `compare --html`).
 *
 * Models: the run report of interface §5 drawn as charts and tables: the exit breakdown (perf kvm stat's exit
 * table), cycles split between VM exits, address translation and guest work, the references-per-walk histogram of
 * SDM Vol. 3C "EPT and the guest paging structures" (a two-dimensional walk makes up to (n+1)(m+1)-1 references),
 * the modes side by side for `compare`, an exit timeline, and the two-dimensional walk of one access as a grid
 * (rows: the guest paging-structure level whose table address is being translated, then the final GPA; columns:
 * the EPT levels, then the guest entry read), the shape of the SDM's nested-walk description.
 * The charts are Chart.js configurations built here as plain data; the page's only script code is a loop that
 * hands each configuration to Chart.js (inlined from its npm package by the caller), plus the walk grid's click
 * handler. One file: inline style, script and data, a Content-Security-Policy that forbids every fetch.
 * Pure: `renderHtml` is a function of its arguments (no clock, no fs); the same input gives the same bytes.
 * Leaves out: per-vCPU views, zooming, time distributions; the timeline keeps at most TIMELINE_MAX_POINTS points
 * (every k-th exit plus the first exit of each reason) and says so on the page.
 */

import { compareRows, nativeCyclesOf } from './compare';
import type { RunReport } from './model';

// ---------------------------------------------------------------------------------------------------------------
// Input.

/** One VM exit on the timeline: `at` is the event index (or a TSC value as a number), `reason` the uapi name. */
export interface TimelinePoint {
  readonly at: number;
  readonly reason: string;
}

/** One memory reference of `vtxsim walk --json` (interface §5). */
export interface WalkReference {
  readonly index: number;
  readonly dimension: 'guest' | 'nested';
  readonly guestLevel: number | null;
  readonly eptLevel: number | null;
  /** host-physical address of the entry read, `0x` hex */
  readonly address: string;
}

/** `vtxsim walk --json` (interface §5); `result` is shown as given. */
export interface WalkJson {
  readonly gva?: string;
  readonly references: readonly WalkReference[];
  readonly counts: { readonly guest: number; readonly nested: number; readonly total: number };
  readonly result: { readonly kind: string } & Readonly<Record<string, unknown>>;
}

export type HtmlInput =
  | {
      readonly kind: 'run';
      readonly report: RunReport;
      /** exits in order, for the exit timeline */
      readonly timeline?: readonly TimelinePoint[];
      /** axis title of `TimelinePoint.at` (default "event index") */
      readonly timelineAxis?: string;
      /** the walk of one chosen access, for the walk grid */
      readonly walk?: WalkJson;
      /** shown in the heading (e.g. the trace file name) */
      readonly title?: string;
    }
  | {
      readonly kind: 'compare';
      /** mode -> report, in display order */
      readonly reports: Readonly<Record<string, RunReport>>;
      readonly title?: string;
    };

/** Text of chart.js's UMD build (`chart.js/dist/chart.umd.js`), read by the CLI. */
export interface HtmlAssets {
  readonly chartJs: string;
}

/** The timeline keeps at most this many points (plus the first exit of each reason). */
export const TIMELINE_MAX_POINTS = 5000;

// ---------------------------------------------------------------------------------------------------------------
// Escaping.

const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/**
 * JSON safe inside `<script type="application/json">`: `<`, `>` and `&` as \u escapes (no `</script>`, no `<!--`
 * can appear), and U+2028/2029 escaped too.
 */
export const jsonForScript = (value: unknown): string =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

/**
 * Library code safe inside `<script>`: `</script` and `<!--` only occur inside string literals of a minified
 * bundle, where `<\/` and `<\!` mean the same characters.
 */
const scriptText = (code: string): string => code.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');

// ---------------------------------------------------------------------------------------------------------------
// Numbers.

const pct = (part: number, whole: number): string => (whole === 0 ? '-' : ((part / whole) * 100).toFixed(2) + '%');
const int = (n: number): string => String(n);

const byCountDesc = (rec: Readonly<Record<string, number>>): string[] =>
  Object.keys(rec).filter((k) => rec[k] > 0)
    .sort((a, b) => rec[b] - rec[a] || (a < b ? -1 : a > b ? 1 : 0));

const histogramKeys = (rec: Readonly<Record<string, number>>): string[] =>
  Object.keys(rec).sort((a, b) => Number(a) - Number(b));

// ---------------------------------------------------------------------------------------------------------------
// Chart configurations (Chart.js `new Chart(canvas, config)` arguments, as data).

const PALETTE = [
  '#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac',
  '#1f77b4', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#17becf',
];
const colour = (i: number): string => PALETTE[i % PALETTE.length];

interface ChartSpec {
  readonly name: string;
  readonly title: string;
  /** text under the chart */
  readonly note?: string;
  readonly tall?: boolean;
  readonly config: unknown;
}

const baseOptions = (title: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  animation: false,
  responsive: true,
  maintainAspectRatio: false,
  plugins: { title: { display: true, text: title }, legend: { display: true } },
  ...extra,
});

const axis = (title: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ title: { display: true, text: title }, ...extra });
/** an axis of counts: whole-number ticks only */
const countAxis = (title: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  axis(title, { beginAtZero: true, ticks: { precision: 0 }, ...extra });

const exitsChart = (r: RunReport): ChartSpec => {
  const names = byCountDesc(r.exits.byReason);
  return {
    name: 'exits',
    title: 'VM exits by reason',
    config: {
      type: 'bar',
      data: {
        labels: names,
        datasets: [
          { label: 'exits', data: names.map((n) => r.exits.byReason[n]), backgroundColor: colour(0), xAxisID: 'x' },
          { label: 'estimated cycles', data: names.map((n) => r.exits.cyclesByReason[n] ?? 0),
            backgroundColor: colour(1), xAxisID: 'x2' },
        ],
      },
      options: baseOptions('VM exits by reason', {
        indexAxis: 'y',
        scales: {
          x: countAxis('exits', { position: 'bottom' }),
          x2: axis('estimated cycles', { beginAtZero: true, position: 'top', grid: { drawOnChartArea: false } }),
        },
      }),
    },
  };
};

const CYCLE_PARTS = [
  { label: 'VM exits (estimated)', key: 'exits' },
  { label: 'address translation', key: 'translation' },
  { label: 'guest work', key: 'guest' },
] as const;

const cyclesChart = (r: RunReport): ChartSpec => ({
  name: 'cycles',
  title: 'Cycles: exits, translation, guest work',
  config: {
    type: 'doughnut',
    data: {
      labels: CYCLE_PARTS.map((p) => p.label),
      datasets: [{ label: 'cycles', data: CYCLE_PARTS.map((p) => r.cycles[p.key]),
        backgroundColor: CYCLE_PARTS.map((_, i) => colour(i)) }],
    },
    options: baseOptions(`Cycles (total ${r.cycles.total})`),
  },
});

const refsHistogramChart = (r: RunReport): ChartSpec => {
  const h = r.translation.referencesHistogram;
  const keys = histogramKeys(h);
  return {
    name: 'refs-histogram',
    title: 'Memory references per walk',
    note: keys.length === 0 ? 'No page walks in this run.' : undefined,
    config: {
      type: 'bar',
      data: { labels: keys, datasets: [{ label: 'walks', data: keys.map((k) => h[k]), backgroundColor: colour(3) }] },
      options: baseOptions('Memory references per walk', {
        scales: { x: axis('references in one walk'), y: countAxis('walks') },
      }),
    },
  };
};

/**
 * Deterministic sample of the timeline: every k-th exit (k = ceil(n / max)) plus the first exit of each reason, so
 * a rare reason never disappears; in timeline order.
 */
export const sampleTimeline = (
  points: readonly TimelinePoint[], max: number = TIMELINE_MAX_POINTS,
): { readonly points: readonly TimelinePoint[]; readonly stride: number } => {
  if (points.length <= max) return { points, stride: 1 };
  const stride = Math.ceil(points.length / max);
  const seen = new Set<string>();
  const out: TimelinePoint[] = [];
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    const first = !seen.has(p.reason);
    if (first) seen.add(p.reason);
    if (first || i % stride === 0) out.push(p);
  }
  return { points: out, stride };
};

const timelineChart = (points: readonly TimelinePoint[], axisTitle: string): ChartSpec => {
  const { points: kept, stride } = sampleTimeline(points);
  // reasons by frequency in the whole timeline (most frequent at the top)
  const counts: Record<string, number> = {};
  for (const p of points) counts[p.reason] = (counts[p.reason] ?? 0) + 1;
  const reasons = byCountDesc(counts);
  const datasets = reasons.map((n, i) => ({
    label: n,
    data: kept.filter((p) => p.reason === n).map((p) => ({ x: p.at, y: n })),
    backgroundColor: colour(i),
    borderColor: colour(i),
    pointRadius: 2,
  }));
  const note = stride === 1
    ? `All ${points.length} exits shown.`
    : `Sampled: ${kept.length} of ${points.length} exits shown (every ${stride}th exit, plus the first exit of ` +
      `each reason); the tables count every exit.`;
  return {
    name: 'timeline',
    title: 'Exit timeline',
    note,
    tall: true,
    config: {
      type: 'scatter',
      data: { datasets },
      options: baseOptions('Exit timeline', {
        scales: {
          x: axis(axisTitle, { type: 'linear' }),
          y: axis('exit reason', { type: 'category', labels: reasons, offset: true }),
        },
      }),
    },
  };
};

// Compare charts: one dataset per mode.

const compareExitsChart = (modes: readonly string[], reports: readonly RunReport[]): ChartSpec => {
  const totals: Record<string, number> = {};
  for (const r of reports) for (const [n, c] of Object.entries(r.exits.byReason)) totals[n] = (totals[n] ?? 0) + c;
  const names = byCountDesc(totals);
  return {
    name: 'compare-exits',
    title: 'VM exits by reason, per mode',
    tall: true,
    config: {
      type: 'bar',
      data: {
        labels: names,
        datasets: reports.map((r, i) => ({ label: modes[i], data: names.map((n) => r.exits.byReason[n] ?? 0),
          backgroundColor: colour(i) })),
      },
      options: baseOptions('VM exits by reason, per mode', {
        indexAxis: 'y', scales: { x: countAxis('exits') },
      }),
    },
  };
};

const compareCyclesChart = (modes: readonly string[], reports: readonly RunReport[]): ChartSpec => ({
  name: 'compare-cycles',
  title: 'Cycles per mode',
  config: {
    type: 'bar',
    data: {
      labels: [...modes],
      datasets: CYCLE_PARTS.map((p, i) => ({ label: p.label, data: reports.map((r) => r.cycles[p.key]),
        backgroundColor: colour(i) })),
    },
    options: baseOptions('Cycles per mode', {
      scales: { x: { stacked: true }, y: axis('cycles', { stacked: true, beginAtZero: true }) },
    }),
  },
});

const compareRefsChart = (modes: readonly string[], reports: readonly RunReport[]): ChartSpec => ({
  name: 'compare-references',
  title: 'Paging-structure references per mode',
  config: {
    type: 'bar',
    data: {
      labels: [...modes],
      datasets: [
        { label: 'guest entries', data: reports.map((r) => r.translation.memoryReferences.guest),
          backgroundColor: colour(0) },
        { label: 'EPT entries', data: reports.map((r) => r.translation.memoryReferences.nested),
          backgroundColor: colour(1) },
      ],
    },
    options: baseOptions('Paging-structure references per mode', {
      scales: { x: { stacked: true }, y: axis('references', { stacked: true, beginAtZero: true }) },
    }),
  },
});

const compareHistogramChart = (modes: readonly string[], reports: readonly RunReport[]): ChartSpec => {
  const keySet = new Set<string>();
  for (const r of reports) for (const k of Object.keys(r.translation.referencesHistogram)) keySet.add(k);
  const keys = [...keySet].sort((a, b) => Number(a) - Number(b));
  return {
    name: 'compare-refs-histogram',
    title: 'Memory references per walk, per mode',
    config: {
      type: 'bar',
      data: {
        labels: keys,
        datasets: reports.map((r, i) => ({ label: modes[i],
          data: keys.map((k) => r.translation.referencesHistogram[k] ?? 0), backgroundColor: colour(i) })),
      },
      options: baseOptions('Memory references per walk, per mode', {
        scales: { x: axis('references in one walk'), y: countAxis('walks') },
      }),
    },
  };
};

// ---------------------------------------------------------------------------------------------------------------
// Tables (the numbers, readable without JavaScript).

const table = (caption: string, head: readonly string[], rows: readonly (readonly string[])[]): string => {
  const th = head.map((h, i) => `<th scope="col"${i === 0 ? '' : ' class="num"'}>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((r) => '<tr>' + r.map((c, i) => (i === 0
    ? `<th scope="row">${escapeHtml(c)}</th>`
    : `<td class="num">${escapeHtml(c)}</td>`)).join('') + '</tr>').join('\n');
  return `<table><caption>${escapeHtml(caption)}</caption>\n<thead><tr>${th}</tr></thead>\n<tbody>\n${body}\n` +
    '</tbody></table>';
};

const exitTable = (r: RunReport): string => {
  const names = byCountDesc(r.exits.byReason);
  const rows = names.map((n) => {
    const cycles = r.exits.cyclesByReason[n] ?? 0;
    return [n, int(r.exits.byReason[n]), pct(r.exits.byReason[n], r.exits.total), int(cycles),
      pct(cycles, r.cycles.exits)];
  });
  rows.push(['total', int(r.exits.total), r.exits.total === 0 ? '-' : '100.00%', int(r.cycles.exits),
    r.cycles.exits === 0 ? '-' : '100.00%']);
  return table('VM exits', ['reason', 'exits', 'exits %', 'estimated cycles', 'cycles %'], rows);
};

const translationTable = (r: RunReport): string => {
  const t = r.translation;
  const rows: string[][] = [
    ['accesses (TLB lookups)', int(t.accesses), ''],
    ['TLB hits', int(t.tlb.hits), pct(t.tlb.hits, t.accesses)],
    ['  L1 TLB hits', int(t.tlb.l1Hits), pct(t.tlb.l1Hits, t.accesses)],
    ['  STLB hits', int(t.tlb.stlbHits), pct(t.tlb.stlbHits, t.accesses)],
    ['TLB misses', int(t.tlb.misses), pct(t.tlb.misses, t.accesses)],
    ['walks', int(t.walks), ''],
    ['references: guest entries', int(t.memoryReferences.guest), pct(t.memoryReferences.guest, t.memoryReferences.total)],
    ['references: EPT entries', int(t.memoryReferences.nested), pct(t.memoryReferences.nested, t.memoryReferences.total)],
    ['references: total', int(t.memoryReferences.total), ''],
    ['references per walk (mean)', t.meanReferencesPerWalk.toFixed(2), ''],
    ['references per walk (max)', int(t.maxReferencesPerWalk), ''],
    ['paging-structure cache hits / lookups', `${t.psc.hits} / ${t.psc.lookups}`, pct(t.psc.hits, t.psc.lookups)],
    ['nested TLB hits / lookups', `${t.nestedTlb.hits} / ${t.nestedTlb.lookups}`,
      pct(t.nestedTlb.hits, t.nestedTlb.lookups)],
    ['guest-virtual pages', int(r.memory.guestVirtualPages), ''],
    ['guest-physical pages', int(r.memory.guestPhysicalPages), ''],
  ];
  return table('Address translation', ['metric', 'value', 'share'], rows);
};

const cyclesTable = (r: RunReport): string => {
  const rows = CYCLE_PARTS.map((p) => [p.label, int(r.cycles[p.key]), pct(r.cycles[p.key], r.cycles.total)]);
  rows.push(['total', int(r.cycles.total), r.cycles.total === 0 ? '-' : '100.00%']);
  if (r.overhead !== undefined) {
    rows.push(['native run (total)', int(r.overhead.nativeCycles), '']);
    rows.push(['overhead vs native', r.overhead.ratio.toFixed(2) + 'x', '']);
  }
  return table('Cycles', ['part', 'cycles', 'share'], rows);
};

const histogramTable = (r: RunReport): string => {
  const h = r.translation.referencesHistogram;
  const total = Object.values(h).reduce((a, b) => a + b, 0);
  return table('References per walk', ['references', 'walks', 'share'],
    histogramKeys(h).map((k) => [k, int(h[k]), pct(h[k], total)]));
};

const configLine = (r: RunReport): string => {
  const c = r.config;
  const ept = c.ept === null ? 'EPT off' : `EPT ${c.ept.levels}-level, ${c.ept.pageSize} pages`;
  const vpid = c.vpid === undefined ? '' : c.vpid ? ', VPID on' : ', VPID off';
  return `mode ${c.mode}, CPU ${c.cpu}, ${ept}, guest ${c.guest.levels}-level paging with ${c.guest.pageSize} ` +
    `pages${vpid}`;
};

const summaryList = (r: RunReport): string => {
  const items: [string, string][] = [
    ['events', int(r.events)],
    ['VM exits', int(r.exits.total)],
    ['walks', int(r.translation.walks)],
    ['references', int(r.translation.memoryReferences.total)],
    ['cycles', int(r.cycles.total)],
  ];
  if (r.overhead !== undefined) items.push(['vs native', r.overhead.ratio.toFixed(2) + 'x']);
  return '<dl class="summary">' +
    items.map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`).join('') + '</dl>';
};

// ---------------------------------------------------------------------------------------------------------------
// The walk grid.

const levelsDesc = (xs: readonly (number | null)[]): number[] =>
  [...new Set(xs.filter((x): x is number => x !== null))].sort((a, b) => b - a);

/**
 * The two-dimensional walk as a grid (SDM Vol. 3C "EPT and the guest paging structures": each guest paging-structure
 * address, and finally the GPA, is translated through EPT before it is used). Row per guest level (top level
 * first) plus the final GPA; a column per EPT level (top first) then the guest entry read itself. Each cell holds
 * the reference's number in walk order and carries its details as data attributes for the click handler.
 */
const walkGrid = (w: WalkJson): string => {
  const refs = w.references;
  const guestLevels = levelsDesc(refs.map((x) => x.guestLevel));
  const eptLevels = levelsDesc(refs.filter((x) => x.dimension === 'nested').map((x) => x.eptLevel));
  const hasFinal = refs.some((x) => x.dimension === 'nested' && x.guestLevel === null);
  const rowKeys: (number | null)[] = [...guestLevels, ...(hasFinal ? [null] : [])];
  const cellOf = new Map<string, WalkReference>();
  for (const x of refs) {
    const col = x.dimension === 'guest' ? 'g' : `e${x.eptLevel ?? '?'}`;
    cellOf.set(`${x.guestLevel ?? 'final'}/${col}`, x);
  }
  const cols = [...eptLevels.map((l) => `e${l}`), 'g'];
  const head = '<tr><th scope="col">translating</th>' +
    eptLevels.map((l) => `<th scope="col">EPT level ${l}</th>`).join('') +
    '<th scope="col">guest entry read</th></tr>';
  const describe = (x: WalkReference): string =>
    x.dimension === 'guest'
      ? `#${x.index}: guest level-${x.guestLevel ?? '?'} entry read at HPA ${x.address}`
      : `#${x.index}: EPT level-${x.eptLevel ?? '?'} entry read at HPA ${x.address}, translating ` +
        (x.guestLevel === null ? 'the final GPA' : `the GPA of the guest level-${x.guestLevel} table`);
  const body = rowKeys.map((g) => {
    const label = g === null ? 'final GPA (the data)' : `guest level-${g} table`;
    const cells = cols.map((c) => {
      const x = cellOf.get(`${g ?? 'final'}/${c}`);
      if (x === undefined) return '<td class="empty"></td>';
      return `<td class="ref ${x.dimension}" tabindex="0" data-ref="${x.index}" data-describe="` +
        `${escapeHtml(describe(x))}" title="${escapeHtml(x.address)}">${x.index}</td>`;
    }).join('');
    return `<tr><th scope="row">${escapeHtml(label)}</th>${cells}</tr>`;
  }).join('\n');
  const list = table('References in walk order', ['#', 'dimension', 'guest level', 'EPT level', 'address (HPA)'],
    refs.map((x) => [String(x.index), x.dimension, x.guestLevel === null ? '-' : String(x.guestLevel),
      x.eptLevel === null ? '-' : String(x.eptLevel), x.address]));
  const counts = `${w.counts.guest} guest + ${w.counts.nested} EPT = ${w.counts.total} references`;
  return `<section id="walk"><h2>Walk of one access${w.gva === undefined ? '' : ' (GVA ' + escapeHtml(w.gva) + ')'}` +
    `</h2>\n<p>${escapeHtml(counts)}. Click a cell to see the reference.</p>\n` +
    `<table class="walk-grid"><caption>Two-dimensional walk</caption>\n<thead>${head}</thead>\n<tbody>\n${body}\n` +
    `</tbody></table>\n<p id="walk-detail" class="detail" aria-live="polite">No reference selected.</p>\n` +
    `<h3>Result</h3>\n<pre>${escapeHtml(JSON.stringify(w.result, null, 2))}</pre>\n` +
    `<details><summary>All references</summary>\n${list}\n</details></section>`;
};

// ---------------------------------------------------------------------------------------------------------------
// The page.

const STYLE = `
:root { color-scheme: light; --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --card: #fff; --bg: #f4f6f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: var(--fg); background: var(--bg); }
header { padding: 20px 28px 8px; }
h1 { margin: 0 0 4px; font-size: 22px; }
h2 { font-size: 17px; margin: 0 0 10px; }
h3 { font-size: 15px; margin: 14px 0 6px; }
.config { color: var(--muted); margin: 0 0 12px; }
.partial { background: #fff3cd; border: 1px solid #e0c36c; padding: 6px 10px; border-radius: 4px; display: inline-block; }
main { padding: 0 28px 28px; }
.summary { display: flex; flex-wrap: wrap; gap: 10px; margin: 0 0 16px; }
.summary div { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 120px; }
.summary dt { color: var(--muted); font-size: 12px; }
.summary dd { margin: 0; font-size: 20px; font-variant-numeric: tabular-nums; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 16px; margin-bottom: 16px; }
figure { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 12px; }
figure.tall { grid-column: 1 / -1; }
.chart-box { position: relative; height: 320px; }
figure.tall .chart-box { height: 380px; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 6px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 14px; margin-bottom: 16px; }
.tables { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 16px; }
table { border-collapse: collapse; width: 100%; margin-bottom: 8px; }
caption { text-align: left; font-weight: 600; padding: 4px 0 6px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody th { font-weight: normal; white-space: pre; }
.walk-grid { width: auto; }
.walk-grid td { text-align: center; min-width: 64px; border: 1px solid var(--line); }
.walk-grid td.ref { cursor: pointer; font-variant-numeric: tabular-nums; }
.walk-grid td.guest { background: #e3edf7; }
.walk-grid td.nested { background: #fdebd7; }
.walk-grid td.empty { background: #f7f7f7; }
.walk-grid td.selected { outline: 3px solid #e15759; outline-offset: -3px; font-weight: 700; }
.detail { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--bg); padding: 6px 10px; border-radius: 4px; }
pre { background: var(--bg); padding: 8px 10px; border-radius: 4px; overflow-x: auto; }
footer { color: var(--muted); font-size: 12px; padding: 0 28px 20px; }
`;

/**
 * The page's own script: for each canvas, the configuration with the same `data-chart` name goes to Chart.js; a
 * plugin marks the canvas `data-rendered="1"` after Chart.js has drawn it. Then the walk grid's click handler.
 */
const SCRIPT = `
(function () {
  'use strict';
  var specs = JSON.parse(document.getElementById('vtxsim-charts').textContent);
  var marker = { id: 'vtxsimRendered', afterRender: function (chart) { chart.canvas.setAttribute('data-rendered', '1'); } };
  Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif';
  specs.forEach(function (spec) {
    var canvas = document.querySelector('canvas[data-chart="' + spec.name + '"]');
    var config = spec.config;
    config.plugins = [marker];
    new Chart(canvas, config);
  });
  var detail = document.getElementById('walk-detail');
  var cells = document.querySelectorAll('td.ref');
  function select(cell) {
    for (var i = 0; i < cells.length; i++) cells[i].classList.remove('selected');
    cell.classList.add('selected');
    detail.textContent = cell.getAttribute('data-describe');
  }
  for (var i = 0; i < cells.length; i++) {
    cells[i].addEventListener('click', function (e) { select(e.currentTarget); });
    cells[i].addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') select(e.currentTarget); });
  }
})();
`;

const CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; " +
  "base-uri 'none'; form-action 'none'";

const figure = (c: ChartSpec): string =>
  `<figure${c.tall === true ? ' class="tall"' : ''}><div class="chart-box">` +
  `<canvas data-chart="${escapeHtml(c.name)}" role="img" aria-label="${escapeHtml(c.title)}"></canvas></div>` +
  (c.note === undefined ? '' : `<figcaption>${escapeHtml(c.note)}</figcaption>`) + '</figure>';

const page = (title: string, headerExtra: string, charts: readonly ChartSpec[], body: string, assets: HtmlAssets): string => {
  const data = charts.map((c) => ({ name: c.name, config: c.config }));
  return '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    `<meta http-equiv="Content-Security-Policy" content="${CSP}">\n` +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    `<title>${escapeHtml(title)}</title>\n<style>${STYLE}</style>\n</head>\n<body>\n` +
    `<header><h1>${escapeHtml(title)}</h1>\n${headerExtra}</header>\n<main>\n` +
    `<div class="charts">\n${charts.map(figure).join('\n')}\n</div>\n${body}\n</main>\n` +
    '<footer>Generated by vtxsim. Exit cycles are estimates (a VM exit plus VM entry round trip and a KVM handler ' +
    'cost per reason). Charts drawn with Chart.js (MIT License), inlined.</footer>\n' +
    `<script type="application/json" id="vtxsim-charts">${jsonForScript(data)}</script>\n` +
    `<script>${scriptText(assets.chartJs)}</script>\n<script>${SCRIPT}</script>\n</body>\n</html>\n`;
};

const runPage = (input: Extract<HtmlInput, { kind: 'run' }>, assets: HtmlAssets): string => {
  const r = input.report;
  const charts: ChartSpec[] = [exitsChart(r), cyclesChart(r), refsHistogramChart(r)];
  if (input.timeline !== undefined) charts.push(timelineChart(input.timeline, input.timelineAxis ?? 'event index'));
  const title = `vtxsim run report${input.title === undefined ? '' : ': ' + input.title}`;
  const header = `<p class="config">${escapeHtml(configLine(r))}</p>\n` +
    (r.partial === true ? '<p class="partial">Partial run: the run stopped early; the counts cover what ran.</p>\n' : '') +
    summaryList(r);
  const body = `<div class="tables">\n<section>${exitTable(r)}</section>\n<section>${cyclesTable(r)}</section>\n` +
    `<section>${translationTable(r)}</section>\n<section>${histogramTable(r)}</section>\n</div>\n` +
    (input.walk === undefined ? '' : walkGrid(input.walk));
  return page(title, header, charts, body, assets);
};

const comparePage = (input: Extract<HtmlInput, { kind: 'compare' }>, assets: HtmlAssets): string => {
  const modes = Object.keys(input.reports);
  const reports = modes.map((m) => input.reports[m]);
  const charts = [compareExitsChart(modes, reports), compareCyclesChart(modes, reports),
    compareRefsChart(modes, reports), compareHistogramChart(modes, reports)];
  const title = `vtxsim compare${input.title === undefined ? '' : ': ' + input.title}`;
  const native = nativeCyclesOf(reports);
  const header = `<p class="config">modes: ${escapeHtml(modes.join(', '))}` +
    (native === undefined ? '' : `; native run: ${native} cycles`) + '</p>\n' +
    (reports.some((r) => r.partial === true) ? '<p class="partial">Partial run in at least one mode.</p>\n' : '');
  const rows = compareRows(reports).map((row) => [row.label, ...row.cells]);
  const body = `<section>${table('Modes side by side', ['metric', ...modes], rows)}</section>`;
  return page(title, header, charts, body, assets);
};

/** The whole report as one self-contained HTML document (same input, same bytes). */
export const renderHtml = (input: HtmlInput, assets: HtmlAssets): string => {
  switch (input.kind) {
    case 'run': return runPage(input, assets);
    case 'compare': return comparePage(input, assets);
    default: {
      const never: never = input;
      throw new Error(`renderHtml: unknown input ${JSON.stringify(never)}`);
    }
  }
};
