// Browser test of the self-contained HTML report: Debian's /usr/bin/chromium, headless, driven by playwright-core.
// Checks: every chart canvas (run and compare pages) was drawn by Chart.js, the page fetched nothing but its own file, logged no error, and
// the walk grid responds to a click. The run page is the CLI's own report of the shipped traces/boot-mix.jsonl; the
// HTML of the largest shipped trace stays under 2 MB (checked without a browser). Saves tests/output/{report,compare}.{html,png}.
import * as fs from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { renderHtml, type HtmlInput } from '../../src/report/html';
import { main } from '../../src/cli/main';
import { smallReport } from '../report/fixtures';
import { fakeIo } from '../helpers/fakeIo';

/** A shipped trace's HTML report, made by the CLI itself: `vtxsim run <trace> --html <out>` through a fake Io. */
async function htmlOfShippedTrace(trace: string): Promise<string> {
  const out = `tests/output/${path.basename(trace, '.jsonl')}.html`;
  const f = fakeIo({ [trace]: fs.readFileSync(path.join(ROOT, trace), 'utf8') });
  const code = await main(['run', trace, '--html', out], f.io);
  if (code !== 0) throw new Error(`vtxsim run ${trace} --html failed (${code}): ${f.err()}`);
  const html = f.written[out];
  if (html === undefined) throw new Error(`vtxsim run ${trace} --html wrote nothing`);
  return html;
}

/** The report drawn in the browser: the real report of the shipped traces/boot-mix.jsonl (exits of many reasons). */
function reportForBrowserTest(): Promise<string> {
  return htmlOfShippedTrace('traces/boot-mix.jsonl');
}

const ROOT = path.join(__dirname, '..', '..');
/** The largest shipped trace by file size (traces/*.jsonl). */
const largestTrace = (): string => fs.readdirSync(path.join(ROOT, 'traces')).filter((x) => x.endsWith('.jsonl'))
  .map((x) => ({ x, size: fs.statSync(path.join(ROOT, 'traces', x)).size }))
  .sort((a, b) => b.size - a.size)[0].x;

const CHROMIUM = '/usr/bin/chromium';
const OUT = path.join(__dirname, '..', 'output');
const haveChromium = fs.existsSync(CHROMIUM);
const ci = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

jest.setTimeout(60_000);

const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic'];

/** A second mode for the compare page: the fixture with shadow-paging-like numbers (written by hand). */
const compareInput = (): HtmlInput => ({
  kind: 'compare',
  reports: {
    ept: smallReport,
    shadow: {
      ...smallReport, mode: 'shadow', config: { ...smallReport.config, mode: 'shadow', ept: null },
      exits: { total: 5, byReason: { CPUID: 1, CR_ACCESS: 1, EXCEPTION_NMI: 3 },
        cyclesByReason: { CPUID: 1250, CR_ACCESS: 1400, EXCEPTION_NMI: 6300 } },
      translation: { ...smallReport.translation, memoryReferences: { guest: 16, nested: 0, total: 16 },
        maxReferencesPerWalk: 4, meanReferencesPerWalk: 4, referencesHistogram: { '4': 4 } },
      cycles: { total: 9130, translation: 180, exits: 8950, guest: 1000 },
    },
  },
});

describe('HTML report size', () => {
  test('the HTML report of the largest shipped trace (traces/*.jsonl by size) is under 2 MB', async () => {
    const trace = `traces/${largestTrace()}`;
    const html = await htmlOfShippedTrace(trace);
    expect(html.length).toBeGreaterThan(0);
    expect(Buffer.byteLength(html, 'utf8')).toBeLessThan(2 * 1024 * 1024);
  }, 300_000);
});

interface PageResult {
  readonly names: readonly string[];
  readonly notRendered: readonly string[];
  readonly blank: readonly string[];
  readonly errors: readonly string[];
  readonly requests: readonly string[];
  readonly url: string;
}

if (!haveChromium && !ci) {
  // Jest hides the titles of a file whose every test is skipped, so say it on the console too
  console.warn('SKIPPED: chromium not installed (/usr/bin/chromium): HTML report browser test not run');
  test.skip('SKIPPED: chromium not installed (/usr/bin/chromium; apt-get install chromium)', () => undefined);
} else {
  describe('HTML report in headless Chromium', () => {
    let browser: Browser | undefined;
    afterAll(async () => { if (browser !== undefined) await browser.close(); });

    /** Writes tests/output/<base>.html, opens it, waits for the charts, runs `more`, saves <base>.png. */
    const openReport = async (input: HtmlInput | string, base: string, more?: (page: Page) => Promise<void>): Promise<PageResult> => {
      if (!haveChromium) {
        throw new Error(`CI is set but ${CHROMIUM} is missing: .ci/run must install Debian's chromium`);
      }
      fs.mkdirSync(OUT, { recursive: true });
      const chartJs = fs.readFileSync(
        // chart.js's package "exports" hide dist/chart.umd.js; it sits next to the CommonJS entry point
        path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.js'), 'utf8');
      const file = path.join(OUT, `${base}.html`);
      fs.writeFileSync(file, typeof input === 'string' ? input : renderHtml(input, { chartJs }));
      const url = pathToFileURL(file).href;
      if (browser === undefined) browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      const requests: string[] = [];
      const errors: string[] = [];
      page.on('request', (req) => { requests.push(req.url()); });
      page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console: ${msg.text()}`); });
      page.on('pageerror', (err) => { errors.push(`page error: ${err.message}`); });
      await page.goto(url, { waitUntil: 'load' });
      // page-side code as strings: the project's TypeScript lib has no DOM types
      await page.waitForFunction(
        "[...document.querySelectorAll('[data-chart]')].every((e) => e.getAttribute('data-rendered') === '1')",
        undefined, { timeout: 20_000 },
      ).catch(() => undefined);
      const names = await page.evaluate("[...document.querySelectorAll('[data-chart]')].map((e) => e.dataset.chart)") as string[];
      const notRendered = await page.evaluate(`[...document.querySelectorAll('[data-chart]')]
        .filter((e) => e.getAttribute('data-rendered') !== '1').map((e) => e.dataset.chart)`) as string[];
      // a drawn canvas is not blank: some pixel differs from the first one
      const blank = await page.evaluate(`[...document.querySelectorAll('canvas[data-chart]')].filter((c) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 4; i < d.length; i += 4) {
          if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2] || d[i + 3] !== d[3]) return false;
        }
        return true;
      }).map((c) => c.dataset.chart)`) as string[];
      if (more !== undefined) await more(page);
      await page.screenshot({ path: path.join(OUT, `${base}.png`), fullPage: true });
      await context.close();
      return { names, notRendered, blank, errors, requests, url };
    };

    test('run report of traces/boot-mix.jsonl: every chart renders, no network request, no console or page error, screenshot saved', async () => {
      const r = await openReport(await reportForBrowserTest(), 'report', async (page) => {
        // each timeline point sits on its own reason's row of the category axis
        const misplaced = await page.evaluate(`(() => {
          const canvas = document.querySelector('canvas[data-chart="timeline"]');
          if (canvas === null) return [];
          const c = Chart.getChart(canvas);
          const bad = [];
          c.data.datasets.forEach((ds, i) => c.getDatasetMeta(i).data.forEach((el) => {
            const label = c.scales.y.getLabelForValue(Math.round(c.scales.y.getValueForPixel(el.y)));
            if (label !== ds.label) bad.push(ds.label + ' drawn at ' + label);
          }));
          return bad;
        })()`) as string[];
        expect(misplaced).toEqual([]);
        // the walk grid: clicking a cell selects it and shows its address
        if (await page.locator('td.ref').count() > 0) {
          const cell = page.locator('td.ref[data-ref="1"]');
          await cell.click();
          expect(await cell.getAttribute('class')).toContain('selected');
          const address = await cell.getAttribute('title');
          expect(await page.locator('#walk-detail').textContent()).toContain(address ?? '<none>');
        }
      });
      expect(r.names).toEqual(expect.arrayContaining(['exits', 'cycles', 'refs-histogram']));
      expect({ notRendered: r.notRendered, blank: r.blank, errors: r.errors })
        .toEqual({ notRendered: [], blank: [], errors: [] });
      expect(r.requests).toEqual([r.url]);
    });

    test('compare report: the modes side by side render, no network request, no error', async () => {
      const r = await openReport(compareInput(), 'compare');
      expect(r.names).toEqual(['compare-exits', 'compare-cycles', 'compare-references', 'compare-refs-histogram']);
      expect({ notRendered: r.notRendered, blank: r.blank, errors: r.errors })
        .toEqual({ notRendered: [], blank: [], errors: [] });
      expect(r.requests).toEqual([r.url]);
    });
  });
}
