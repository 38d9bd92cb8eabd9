import { csvField, renderCompareCsv, renderReportCsv, reportRows } from '../../src/report/csv';
import { smallReport } from './fixtures';

describe('CSV (RFC 4180)', () => {
  it('a field with a comma, quote or line break is quoted and its quotes doubled', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
  });
  it('header, CRLF line ends, one row per metric in the JSON order', () => {
    const csv = renderReportCsv(smallReport);
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe('section,key,value');
    expect(lines.slice(1, 5)).toEqual(['run,schemaVersion,1', 'run,events,12', 'run,mode,ept', 'config,cpu,skylake-server']);
    expect(csv.endsWith('\r\n')).toBe(true);
    expect(csv.replace(/\r\n/g, '')).not.toMatch(/\n/);
  });
  it('nested keys are dotted paths below the section; null is an empty field', () => {
    const rows = reportRows({ ...smallReport, config: { ...smallReport.config, ept: null } });
    expect(rows).toContainEqual(['exits', 'byReason.EPT_VIOLATION', '3']);
    expect(rows).toContainEqual(['translation', 'tlb.l1Hits', '5']);
    expect(rows).toContainEqual(['translation', 'referencesHistogram.24', '2']);
    expect(rows).toContainEqual(['cycles', 'guest', '1000']);
    expect(rows).toContainEqual(['config', 'ept', '']);
  });
  it('compare CSV prefixes every row with its mode', () => {
    const csv = renderCompareCsv([smallReport, { ...smallReport, mode: 'a,b' }]);
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe('mode,section,key,value');
    expect(lines[1]).toBe('ept,run,schemaVersion,1');
    expect(lines).toContain('"a,b",run,mode,"a,b"');
  });
});
