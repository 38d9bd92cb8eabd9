import { renderHistogram } from '../../src/report/histogram';
import { renderCycles, renderExitTable, renderReportText, renderTranslation } from '../../src/report/text';
import { smallReport } from './fixtures';

const sp = (k: number): string => ' '.repeat(k);

describe('text report: perf kvm stat report shape (builtin-kvm.c print_result)', () => {
  it('exit table: %20s name, %10s Samples, %9s Samples%, estimated cycles, Time%; sorted by samples; Total line', () => {
    // widths by hand: name right-aligned in 20, then ' ' + 10, ' ' + 9, ' ' + 14, ' ' + 9
    expect(renderExitTable(smallReport)).toEqual([
      'Analyze events for all VCPUs:',
      '',
      sp(13) + 'VM-EXIT' + ' ' + sp(3) + 'Samples' + ' ' + sp(1) + 'Samples%' + ' ' + sp(3) + 'Est. cycles' + ' ' + sp(4) + 'Time%',
      '',
      // 3/4 = 75.00%; 12300/13550 = 90.77%
      sp(7) + 'EPT_VIOLATION' + ' ' + sp(9) + '3' + ' ' + sp(3) + '75.00%' + ' ' + sp(9) + '12300' + ' ' + sp(3) + '90.77%',
      // 1/4 = 25.00%; 1250/13550 = 9.23%
      sp(15) + 'CPUID' + ' ' + sp(9) + '1' + ' ' + sp(3) + '25.00%' + ' ' + sp(10) + '1250' + ' ' + sp(4) + '9.23%',
      '',
      'Total Samples:4, Total estimated exit cycles:13550.',
    ]);
  });
  it('ties in samples are ordered by name; reasons with zero samples are not listed', () => {
    const r = { ...smallReport, exits: { total: 2, byReason: { HLT: 1, CPUID: 1, RDTSC: 0 }, cyclesByReason: { HLT: 10, CPUID: 10 } },
      cycles: { ...smallReport.cycles, exits: 20 } };
    const rows = renderExitTable(r).slice(4, -2).map((l) => l.trim().split(/\s+/)[0]);
    expect(rows).toEqual(['CPUID', 'HLT']);
  });
  it('no exits: percentages print 0.00% instead of dividing by zero', () => {
    const r = { ...smallReport, exits: { total: 0, byReason: {}, cyclesByReason: {} }, cycles: { ...smallReport.cycles, exits: 0 } };
    expect(renderExitTable(r).slice(-1)).toEqual(['Total Samples:0, Total estimated exit cycles:0.']);
  });
  it('translation section: label padded to 34, value right-aligned in 14, rates in parentheses', () => {
    const t = renderTranslation(smallReport);
    expect(t[0]).toBe('Translation:');
    expect(t).toContain('  ' + 'accesses'.padEnd(34) + sp(12) + '10');
    expect(t).toContain('  ' + 'TLB hits'.padEnd(34) + sp(13) + '6' + '  (60.00%)');
    expect(t).toContain('  ' + 'references per walk (mean)'.padEnd(34) + sp(9) + '15.00');
    expect(t).toContain('  ' + 'paging-structure-cache hits'.padEnd(34) + sp(9) + '2 / 4' + '  (50.00%)');
    expect(t).toContain('  ' + 'nested-TLB hits'.padEnd(34) + sp(9) + '1 / 8' + '  (12.50%)');
    expect(t).toContain('  ' + 'guest-physical pages touched'.padEnd(34) + sp(13) + '7');
    // histogram: keys ascending, equal counts give equal full-width bars (width 30)
    expect(t.slice(-3)).toEqual(['  references per walk:', '     6 | ' + '#'.repeat(30) + ' 2', '    24 | ' + '#'.repeat(30) + ' 2']);
  });
  it('cycles section with shares of the total, and the overhead against native when present', () => {
    expect(renderCycles({ ...smallReport, overhead: { nativeCycles: 6000, ratio: 2.5 } })).toEqual([
      'Cycles:',
      '  ' + 'exits (estimated)'.padEnd(34) + sp(9) + '13550' + '  (90.33%)',
      '  ' + 'translation'.padEnd(34) + sp(11) + '450' + '  (3.00%)',
      '  ' + 'guest work'.padEnd(34) + sp(10) + '1000' + '  (6.67%)',
      '  ' + 'total'.padEnd(34) + sp(9) + '15000',
      '  ' + 'native'.padEnd(34) + sp(10) + '6000',
      '  ' + 'overhead vs native'.padEnd(34) + sp(9) + '2.50x',
    ]);
  });
  it('whole report: header line with mode and config, then the sections; no trailing blanks, ends with newline', () => {
    const text = renderReportText(smallReport);
    expect(text.split('\n')[0]).toBe('vtxsim run report: mode ept (cpu skylake-server, ept, EPT 4-level 4K, guest 4-level 4K)');
    expect(text.split('\n')[1]).toBe('events: 12');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.split('\n').every((l) => !/\s$/.test(l))).toBe(true);
    expect(renderReportText({ ...smallReport, partial: true })).toContain('events: 12 (partial');
  });
});

describe('histogram', () => {
  it('bars scale to the largest count, at least one # for a nonzero count, zero counts omitted', () => {
    expect(renderHistogram({ '24': 10, '4': 5, '100': 0, '9': 1 }, 10)).toEqual([
      ' 4 | ##### 5',
      ' 9 | # 1',
      '24 | ########## 10',
    ]);
  });
  it('an empty histogram renders no lines', () => {
    expect(renderHistogram({})).toEqual([]);
  });
});
