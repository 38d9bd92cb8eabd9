import { compareRows, nativeCyclesOf, renderCompareJson, renderCompareText } from '../../src/report/compare';
import type { RunReport } from '../../src/report/model';
import { smallReport } from './fixtures';

const native: RunReport = {
  ...smallReport,
  mode: 'native',
  config: { ...smallReport.config, mode: 'native', ept: null },
  exits: { total: 0, byReason: {}, cyclesByReason: {} },
  translation: { ...smallReport.translation, memoryReferences: { guest: 10, nested: 0, total: 10 }, walks: 4,
    maxReferencesPerWalk: 4, meanReferencesPerWalk: 2.5, referencesHistogram: {}, nestedTlb: { hits: 0, lookups: 0 } },
  cycles: { total: 6000, translation: 5000, exits: 0, guest: 1000 },
};

describe('compare (interface §1: modes side by side)', () => {
  it('JSON: { schemaVersion: 1, modes: { <mode>: <report> } } in the given order, byte-identical twice', () => {
    const a = renderCompareJson([native, smallReport]);
    expect(a).toBe(renderCompareJson([native, smallReport]));
    const doc = JSON.parse(a);
    expect(doc.schemaVersion).toBe(1);
    expect(Object.keys(doc.modes)).toEqual(['native', 'ept']);
    expect(doc.modes.ept.exits.byReason.EPT_VIOLATION).toBe(3);
    expect(doc.modes.native.schemaVersion).toBe(1);
  });
  it('overhead vs native: total cycles over the native run (15000 / 6000 = 2.50x)', () => {
    expect(nativeCyclesOf([native, smallReport])).toBe(6000);
    const row = compareRows([native, smallReport]).find((r) => r.label === 'overhead vs native');
    expect(row?.cells).toEqual(['1.00x', '2.50x']);
  });
  it('without a native mode, overhead comes from a report that carries it, else "-"', () => {
    expect(compareRows([smallReport]).find((r) => r.label === 'overhead vs native')?.cells).toEqual(['-']);
    const withNat = { ...smallReport, overhead: { nativeCycles: 3000, ratio: 5 } };
    expect(compareRows([withNat]).find((r) => r.label === 'overhead vs native')?.cells).toEqual(['5.00x']);
  });
  it('exit rows cover every reason any mode saw, most frequent first; a mode without it shows 0', () => {
    const rows = compareRows([native, smallReport]);
    const exitRows = rows.filter((r) => r.label.startsWith('  '));
    expect(exitRows.map((r) => [r.label.trim(), ...r.cells])).toEqual([['EPT_VIOLATION', '0', '3'], ['CPUID', '0', '1']]);
  });
  it('text table: metric column left-aligned, one right-aligned column per mode, header first', () => {
    const lines = renderCompareText([native, smallReport]).split('\n');
    // widest label is 'references per walk (mean)' (26); columns are 'native' (6) and 'ept' padded to its widest cell, '12.50%' (6)
    expect(lines[0]).toBe('metric'.padEnd(26) + '  native' + '  ' + 'ept'.padStart(6));
    expect(lines[1]).toBe('events'.padEnd(26) + '  ' + '12'.padStart(6) + '  ' + '12'.padStart(6));
    expect(lines).toContain('references (nested)'.padEnd(26) + '  ' + '0'.padStart(6) + '  ' + '50'.padStart(6));
    expect(lines).toContain('nested-TLB hit rate'.padEnd(26) + '  ' + '-'.padStart(6) + '  ' + '12.50%');
  });
});
