// The self-contained HTML report without a browser: structure, self-containment, escaping, determinism, size.
// Expected numbers come from the hand-written fixture (tests/report/fixtures.ts), not from the renderer.
import * as fs from 'fs';
import * as path from 'path';
import fc from 'fast-check';
import {
  renderHtml, sampleTimeline, jsonForScript, TIMELINE_MAX_POINTS, type HtmlInput, type TimelinePoint, type WalkJson,
} from '../../src/report/html';
import type { RunReport } from '../../src/report/model';
import { smallReport } from './fixtures';

const stub = { chartJs: 'window.Chart = function Chart() {};' };
const realChartJs = (): string =>
  fs.readFileSync(path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.js'), 'utf8');

interface Spec { name: string; config: { type: string; data: { labels?: string[]; datasets: { label: string; data: unknown[] }[] } } }
/** The chart data block, parsed back. */
const chartData = (html: string): Spec[] => {
  const m = /<script type="application\/json" id="vtxsim-charts">([\s\S]*?)<\/script>/.exec(html);
  if (m === null) throw new Error('no chart data block');
  return JSON.parse(m[1]) as Spec[];
};
const canvasNames = (html: string): string[] => [...html.matchAll(/<canvas data-chart="([^"]+)"/g)].map((m) => m[1]);

/** 4-level guest paging under 4-level EPT: 24 references (SDM Vol. 3C "EPT and the guest paging structures"). */
const walk4x4 = (): WalkJson => {
  const references: WalkJson['references'][number][] = [];
  for (const g of [4, 3, 2, 1, null]) {
    for (const e of [4, 3, 2, 1]) {
      references.push({ index: references.length + 1, dimension: 'nested', guestLevel: g, eptLevel: e,
        address: `0x${(0x10000 + references.length * 8).toString(16)}` });
    }
    if (g !== null) {
      references.push({ index: references.length + 1, dimension: 'guest', guestLevel: g, eptLevel: null,
        address: `0x${(0x20000 + references.length * 8).toString(16)}` });
    }
  }
  return { references, counts: { guest: 4, nested: 20, total: 24 }, result: { kind: 'translated', hpa: '0xabc000' } };
};

const runInput = (extra: Partial<Extract<HtmlInput, { kind: 'run' }>> = {}): HtmlInput =>
  ({ kind: 'run', report: smallReport, ...extra });

describe('renderHtml: one self-contained document', () => {
  const html = renderHtml(runInput({ timeline: [{ at: 3, reason: 'CPUID' }], walk: walk4x4() }), stub);

  test('one HTML document with a strict Content-Security-Policy that forbids every fetch', () => {
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
    expect(html.endsWith('</html>\n')).toBe(true);
    expect(html.match(/<html/g)).toHaveLength(1);
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html);
    expect(csp).not.toBeNull();
    const directives = (csp?.[1] ?? '').split(';').map((d) => d.trim());
    expect(directives).toEqual(expect.arrayContaining(
      ["default-src 'none'", "script-src 'unsafe-inline'", "style-src 'unsafe-inline'", 'img-src data:']));
    // nothing re-opens the network: no connect-src, font-src or any directive naming a host or scheme
    expect(directives.filter((d) => /https?:|\*|'self'/.test(d))).toEqual([]);
  });

  test('no external resource: no src, href, link, import, url() or remote address anywhere', () => {
    expect(html).not.toMatch(/\s(src|href|srcset|action)=/i);
    expect(html).not.toMatch(/<(link|img|iframe|object|embed)\b/i);
    expect(html).not.toMatch(/@import|url\(/i);
    expect(html).not.toMatch(/https?:\/\//i);
  });

  test('the real Chart.js build is inlined: no script or link tag points outside the file', () => {
    const real = renderHtml(runInput(), { chartJs: realChartJs() });
    expect(real).toContain('Chart.js v4');
    expect(real).not.toMatch(/<script[^>]*\ssrc=/i);
    expect(real).not.toMatch(/<link\b/i);
    expect(real.match(/<\/script>/gi)).toHaveLength(3);
  });

  test('every canvas has exactly one chart configuration of the same name, and the reverse', () => {
    const names = canvasNames(html);
    expect(names).toEqual(['exits', 'cycles', 'refs-histogram', 'timeline']);
    expect(chartData(html).map((s) => s.name)).toEqual(names);
  });
});

describe('renderHtml: charts are data built from the report', () => {
  const specs = chartData(renderHtml(runInput(), stub));
  const byName = (n: string): Spec => {
    const s = specs.find((x) => x.name === n);
    if (s === undefined) throw new Error(`no chart ${n}`);
    return s;
  };

  test('exits by reason: a bar chart, most frequent reason first (fixture: EPT_VIOLATION 3, CPUID 1)', () => {
    const c = byName('exits').config;
    expect(c.type).toBe('bar');
    expect(c.data.labels).toEqual(['EPT_VIOLATION', 'CPUID']);
    expect(c.data.datasets[0].data).toEqual([3, 1]);
    expect(c.data.datasets[1].data).toEqual([12300, 1250]);
  });

  test('cycles split between exits, translation and guest work (fixture: 13550, 450, 1000)', () => {
    const c = byName('cycles').config;
    expect(c.type).toBe('doughnut');
    expect(c.data.datasets[0].data).toEqual([13550, 450, 1000]);
  });

  test('references-per-walk histogram in numeric order of the reference count (fixture: 6 -> 2, 24 -> 2)', () => {
    const c = byName('refs-histogram').config;
    expect(c.data.labels).toEqual(['6', '24']);
    expect(c.data.datasets[0].data).toEqual([2, 2]);
  });

  test('the numbers are also in plain tables (readable without JavaScript)', () => {
    const html = renderHtml(runInput(), stub);
    // EPT_VIOLATION: 3 of 4 exits = 75.00%, 12300 of 13550 exit cycles = 90.77%
    expect(html).toMatch(/<th scope="row">EPT_VIOLATION<\/th><td class="num">3<\/td><td class="num">75\.00%<\/td>/);
    expect(html).toMatch(/<td class="num">12300<\/td><td class="num">90\.77%<\/td>/);
    // TLB: 6 hits of 10 accesses
    expect(html).toMatch(/TLB hits<\/th><td class="num">6<\/td><td class="num">60\.00%<\/td>/);
  });

  test('compare: the modes side by side, in the given order, with a table column per mode', () => {
    const shadow: RunReport = { ...smallReport, mode: 'shadow', exits: { total: 2, byReason: { CR_ACCESS: 2 },
      cyclesByReason: { CR_ACCESS: 2800 } }, cycles: { total: 4000, translation: 200, exits: 2800, guest: 1000 } };
    const html = renderHtml({ kind: 'compare', reports: { shadow, ept: smallReport } }, stub);
    const cs = chartData(html);
    expect(cs.map((s) => s.name)).toEqual(canvasNames(html));
    const exits = cs.find((s) => s.name === 'compare-exits')?.config;
    expect(exits?.data.datasets.map((d) => d.label)).toEqual(['shadow', 'ept']);
    // reasons summed over modes: EPT_VIOLATION 3, CR_ACCESS 2, CPUID 1
    expect(exits?.data.labels).toEqual(['EPT_VIOLATION', 'CR_ACCESS', 'CPUID']);
    expect(exits?.data.datasets[0].data).toEqual([0, 2, 0]);
    const cycles = cs.find((s) => s.name === 'compare-cycles')?.config;
    expect(cycles?.data.labels).toEqual(['shadow', 'ept']);
    expect(cycles?.data.datasets.map((d) => d.data)).toEqual([[2800, 13550], [200, 450], [1000, 1000]]);
    expect(html).toContain('<th scope="col" class="num">shadow</th><th scope="col" class="num">ept</th>');
  });
});

describe('renderHtml: escaping', () => {
  const evil = '</script><script>alert(1)</script><!--';
  const report: RunReport = {
    ...smallReport, exits: { total: 1, byReason: { [evil]: 1 }, cyclesByReason: { [evil]: 1600 } },
  };
  const html = renderHtml({ kind: 'run', report, title: '<b>"x" & \'y\'</b>' }, { chartJs: 'var s = "</script><!--";' });

  test('hostile names cannot close a script element or open a comment; the data still round-trips', () => {
    expect(html).not.toContain('<script>alert');
    expect(html.match(/<\/script/gi)).toHaveLength(3);
    expect(html.match(/<!--/g)).toBeNull();
    expect(chartData(html).find((s) => s.name === 'exits')?.config.data.labels).toEqual([evil]);
  });

  test('text in the page is HTML-escaped', () => {
    expect(html).toContain('&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;!--');
    expect(html).toContain('<title>vtxsim run report: &lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;</title>');
  });

  test('jsonForScript: no <, >, & or line separators survive, and JSON.parse gives the value back', () => {
    fc.assert(fc.property(fc.jsonValue(), fc.string(), (v, s) => {
      const value = { v, s: s + '</script>\u2028\u2029<!--&' };
      const out = jsonForScript(value);
      return !/[<>&\u2028\u2029]/.test(out) && JSON.stringify(JSON.parse(out)) === JSON.stringify(value);
    }));
  });
});

describe('renderHtml: deterministic', () => {
  test('the same input gives the same bytes (also from a deep copy of the input)', () => {
    const input = runInput({ timeline: [{ at: 1, reason: 'HLT' }, { at: 2, reason: 'CPUID' }], walk: walk4x4() });
    const a = renderHtml(input, stub);
    const b = renderHtml(JSON.parse(JSON.stringify(input)) as HtmlInput, stub);
    expect(b).toBe(a);
    expect(renderHtml(input, stub)).toBe(a);
  });
});

describe('renderHtml: the walk grid', () => {
  const html = renderHtml(runInput({ walk: walk4x4() }), stub);
  const grid = /<table class="walk-grid">([\s\S]*?)<\/table>/.exec(html)?.[1] ?? '';
  const rows = [...grid.matchAll(/<tr><th scope="row">([^<]*)<\/th>(.*?)<\/tr>/g)]
    .map((m) => [m[1], ...[...m[2].matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((c) => c[1])]);

  test('SDM nested walk: each guest table address is translated by a 4-level EPT walk before its entry is read', () => {
    expect(rows).toEqual([
      ['guest level-4 table', '1', '2', '3', '4', '5'],
      ['guest level-3 table', '6', '7', '8', '9', '10'],
      ['guest level-2 table', '11', '12', '13', '14', '15'],
      ['guest level-1 table', '16', '17', '18', '19', '20'],
      ['final GPA (the data)', '21', '22', '23', '24', ''],
    ]);
  });

  test('each cell carries its address for the click handler', () => {
    // reference 5 is the guest level-4 entry read: address 0x20000 + 4 * 8
    expect(html).toMatch(/data-ref="5" data-describe="#5: guest level-4 entry read at HPA 0x20020" title="0x20020"/);
    expect(html.match(/<td class="ref /g)).toHaveLength(24);
  });
});

describe('timeline sampling', () => {
  test('at most TIMELINE_MAX_POINTS plus one per reason, in order, every reason kept; short timelines untouched', () => {
    const point = fc.record({ at: fc.nat(), reason: fc.constantFrom('A', 'B', 'C', 'D') });
    fc.assert(fc.property(fc.array(point, { maxLength: 300 }), fc.integer({ min: 1, max: 50 }), (pts, max) => {
      const { points } = sampleTimeline(pts, max);
      const reasons = new Set(pts.map((p) => p.reason));
      if (pts.length <= max) return points === pts;
      // a subsequence of the input (same objects, same order)
      let j = 0;
      for (const p of points) { while (j < pts.length && pts[j] !== p) j++; if (j === pts.length) return false; j++; }
      return points.length <= max + reasons.size && new Set(points.map((p) => p.reason)).size === reasons.size;
    }));
  });

  test('a 1e6-exit timeline keeps the HTML under 2 MB with the real Chart.js, keeps a rare reason, says it sampled', () => {
    const n = 1_000_000;
    const timeline: TimelinePoint[] = new Array(n);
    for (let i = 0; i < n; i++) timeline[i] = { at: i * 3, reason: i % 7 === 0 ? 'EPT_VIOLATION' : 'IO_INSTRUCTION' };
    timeline[777_777] = { at: 777_777 * 3, reason: 'TRIPLE_FAULT' };
    const html = renderHtml(runInput({ timeline }), { chartJs: realChartJs() });
    const bytes = Buffer.byteLength(html, 'utf8');
    expect(bytes).toBeLessThan(2_000_000);
    const tl = chartData(html).find((s) => s.name === 'timeline')?.config;
    const kept = (tl?.data.datasets ?? []).reduce((a, d) => a + d.data.length, 0);
    expect(kept).toBeLessThanOrEqual(TIMELINE_MAX_POINTS + 3);
    expect(tl?.data.datasets.map((d) => d.label)).toEqual(['IO_INSTRUCTION', 'EPT_VIOLATION', 'TRIPLE_FAULT']);
    expect(html).toMatch(/Sampled: \d+ of 1000000 exits shown/);
  });
});
