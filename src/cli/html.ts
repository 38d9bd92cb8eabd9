/**
 * Writing the HTML report: reads the Chart.js build from its npm package (the report inlines it) and writes the page
 * atomically. The page itself is built by src/report/html.ts (pure).
 */
import * as fs from 'fs';
import * as path from 'path';
import { isRight } from 'fp-ts/Either';
import { renderHtml, type HtmlInput, type WalkJson } from '../report/html';
import { explainWalk } from '../replay/walk';
import type { Config } from '../replay/config';
import type { MemoryAccess } from '../guest/events';
import { gvaToBig } from '../arch/addr';
import { walkJson } from './commands/walk';
import type { Io } from './io';

/** chart.js hides dist/ behind its package "exports", so resolve the package and take the UMD build beside it. */
export const chartJsSource = (): string =>
  fs.readFileSync(path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.js'), 'utf8');

/** The walk grid of the trace's first memory access, explained from cold caches (as `vtxsim walk` does). */
export const walkOf = (config: Config, a: MemoryAccess | null): WalkJson | undefined => {
  if (a === null || config.mode === 'shadow') return undefined;
  const x = explainWalk(config, gvaToBig(a.gva, config.guest.levels === 5), a.op, a.user);
  return isRight(x) ? (walkJson(x.right) as unknown as WalkJson) : undefined;
};

export const writeHtml = (io: Io, file: string, input: HtmlInput): void => {
  io.writeFileAtomic(file, renderHtml(input, { chartJs: chartJsSource() }));
};
