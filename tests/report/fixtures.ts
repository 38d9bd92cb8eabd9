// A small report written by hand (not produced by toReport), shared by the renderer tests.
import type { RunReport } from '../../src/report/model';

export const smallReport: RunReport = {
  schemaVersion: 1,
  events: 12,
  mode: 'ept',
  config: { cpu: 'skylake-server', mode: 'ept', ept: { levels: 4, pageSize: '4K' }, guest: { levels: 4, pageSize: '4K' } },
  exits: {
    total: 4,
    byReason: { CPUID: 1, EPT_VIOLATION: 3 },
    cyclesByReason: { CPUID: 1250, EPT_VIOLATION: 12300 },
  },
  translation: {
    accesses: 10,
    tlb: { hits: 6, misses: 4, l1Hits: 5, stlbHits: 1 },
    walks: 4,
    memoryReferences: { guest: 10, nested: 50, total: 60 },
    maxReferencesPerWalk: 24,
    meanReferencesPerWalk: 15,
    referencesHistogram: { '24': 2, '6': 2 },
    psc: { hits: 2, lookups: 4 },
    nestedTlb: { hits: 1, lookups: 8 },
  },
  memory: { guestVirtualPages: 3, guestPhysicalPages: 7 },
  cycles: { total: 15000, translation: 450, exits: 13550, guest: 1000 },
};
