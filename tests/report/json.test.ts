import { canonicalReport, renderReportJson, stringify, toJsonValue } from '../../src/report/json';
import type { RunReport } from '../../src/report/model';
import { smallReport } from './fixtures';

describe('JSON report (interface §1 --json, §5 keys)', () => {
  it('the same report gives byte-identical output twice', () => {
    expect(renderReportJson(smallReport)).toBe(renderReportJson(smallReport));
  });
  it('key order does not depend on how the report object was built', () => {
    const shuffled = {
      cycles: smallReport.cycles, memory: smallReport.memory, translation: {
        ...smallReport.translation, referencesHistogram: { '6': 2, '24': 2 },
      },
      exits: { cyclesByReason: { EPT_VIOLATION: 12300, CPUID: 1250 }, byReason: { EPT_VIOLATION: 3, CPUID: 1 }, total: 4 },
      config: smallReport.config, mode: 'ept', events: 12, schemaVersion: 1,
    } as unknown as RunReport;
    expect(renderReportJson(shuffled)).toBe(renderReportJson(smallReport));
  });
  it('has the §5 keys in order, schemaVersion 1 first, histogram keys numeric order', () => {
    const doc = JSON.parse(renderReportJson(smallReport));
    expect(Object.keys(doc)).toEqual(['schemaVersion', 'events', 'mode', 'config', 'exits', 'translation', 'memory', 'cycles']);
    expect(doc.schemaVersion).toBe(1);
    expect(Object.keys(doc.translation.referencesHistogram)).toEqual(['6', '24']);
    expect(doc.translation.memoryReferences).toEqual({ guest: 10, nested: 50, total: 60 });
    expect(doc.exits.byReason).toEqual({ CPUID: 1, EPT_VIOLATION: 3 });
  });
  it('partial and overhead appear only when set', () => {
    const doc = JSON.parse(renderReportJson({ ...smallReport, partial: true, overhead: { nativeCycles: 10, ratio: 1500 } }));
    expect(doc.partial).toBe(true);
    expect(doc.overhead).toEqual({ nativeCycles: 10, ratio: 1500 });
    expect(Object.keys(canonicalReport(smallReport))).not.toContain('partial');
  });
  it('bigint values become lowercase 0x hex strings, never JSON numbers (values above 2^53)', () => {
    expect(stringify({ a: 0xFFFF_FFFF_FFFF_F000n, b: [1n] })).toBe('{\n  "a": "0xfffffffffffff000",\n  "b": [\n    "0x1"\n  ]\n}\n');
  });
  it('undefined fields are dropped, non-finite numbers become null, Maps become objects', () => {
    expect(toJsonValue({ a: undefined, b: NaN, c: new Map([[1, 2n]]) })).toEqual({ b: null, c: { '1': '0x2' } });
  });
});
