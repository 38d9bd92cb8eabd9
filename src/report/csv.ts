/**
 * CSV rendering of reports: one row per metric, `section,key,value`.
 *
 * Models: RFC 4180 "Common Format and MIME Type for CSV Files": CRLF line ends, a header line, a field that holds a
 * comma, a double quote, CR or LF is enclosed in double quotes and its double quotes are doubled.
 * Layout (long form): `section` is the report's top-level key (`run` for the top-level scalars `schemaVersion`,
 * `events`, `partial`, `mode`), `key` is the path below it joined by `.` (`byReason.EPT_VIOLATION`,
 * `tlb.hits`, `referencesHistogram.24`), `value` is the number, string or boolean; null is an empty field.
 * Compare output adds a leading `mode` column. Leaves out: scenario `steps` (not metrics; use --json).
 */

import { canonicalReport } from './json';
import type { RunReport } from './model';

/** RFC 4180 field quoting. */
export const csvField = (s: string): string => (/[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s);

const scalar = (v: unknown): string => {
  if (v === null || v === undefined) return '';
  if (typeof v === 'bigint') return '0x' + v.toString(16);
  return String(v);
};

/** The report as `[section, key, value]` rows, in the JSON key order. */
export const reportRows = (r: RunReport): [string, string, string][] => {
  const rows: [string, string, string][] = [];
  const walk = (section: string, prefix: string, v: unknown): void => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(section, prefix === '' ? k : `${prefix}.${k}`, x);
    } else rows.push([section, prefix, scalar(v)]);
  };
  for (const [k, v] of Object.entries(canonicalReport(r))) {
    if (k === 'steps') continue;
    if (v !== null && typeof v === 'object') walk(k, '', v);
    else rows.push(['run', k, scalar(v)]);
  }
  return rows;
};

const line = (fields: readonly string[]): string => fields.map(csvField).join(',') + '\r\n';

/** `vtxsim run --format csv`. */
export const renderReportCsv = (r: RunReport): string =>
  line(['section', 'key', 'value']) + reportRows(r).map(line).join('');

/** `vtxsim compare --format csv`: the long form with a leading `mode` column. */
export const renderCompareCsv = (reports: readonly RunReport[]): string =>
  line(['mode', 'section', 'key', 'value']) +
  reports.map((r) => reportRows(r).map((row) => line([r.mode, ...row])).join('')).join('');
