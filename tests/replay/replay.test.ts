/**
 * Invariants of the replay engine (src/replay/replay.ts) over generated traces of memory accesses and instructions,
 * purity of the replay state, and the CR3 rule of interface §2 (a `mov_to_cr` 3 value selects the address space
 * rooted at that GPA; the guest OS model never hands that page out).
 */
import fc from 'fast-check';
import { isRight } from 'fp-ts/Either';
import { gva as mkGva } from '../../src/arch/addr';
import type { GuestEvent } from '../../src/guest/events';
import { DEFAULT_CONFIG, type Config } from '../../src/replay/config';
import { replayChunk, startReplay, type ReplayState } from '../../src/replay/replay';
import { configSummary } from '../../src/cli/replayRun';
import { toReport, type RunReport } from '../../src/report/model';
import { renderReportJson } from '../../src/report/json';
import * as Tlb from '../../src/mmu/tlb';

const start = (config: Config = DEFAULT_CONFIG): ReplayState => {
  const s = startReplay(config);
  if (!isRight(s)) throw new Error(JSON.stringify(s.left));
  return s.right;
};
const reportOf = (s: ReplayState): RunReport => toReport(s.stats, {
  mode: s.config.mode, config: configSummary(s.config), guestVirtualPages: s.gvaPages.size, guestPhysicalPages: s.gpaPages.size,
});
const run = (events: readonly GuestEvent[], config: Config = DEFAULT_CONFIG): ReplayState => replayChunk(start(config), events).state;

// ---------------------------------------------------------------------------------------------------------------
// Generators: accesses in a few 2 MiB regions (so tables are shared and pages repeat), and exit-causing instructions

const BASES = [0x400000, 0x7fff_0000_0000, 0x1_0000_0000];
const arbAccess: fc.Arbitrary<GuestEvent> = fc.record({
  op: fc.constantFrom('read' as const, 'write' as const, 'fetch' as const),
  base: fc.constantFrom(...BASES),
  page: fc.integer({ min: 0, max: 40 }),
  offset: fc.integer({ min: 0, max: 4095 }),
  size: fc.constantFrom(1, 2, 4, 8),
  user: fc.boolean(),
}).map((a) => ({ op: a.op, gva: mkGva(a.base + a.page * 0x1000 + a.offset), size: a.size, user: a.user }));
const arbInstr: fc.Arbitrary<GuestEvent> = fc.oneof(
  fc.constantFrom<GuestEvent>(
    { op: 'cpuid', leaf: 1, subleaf: 0 }, { op: 'rdtsc' }, { op: 'rdtscp' }, { op: 'hlt' }, { op: 'pause' },
    { op: 'in', port: 0x71, size: 1, string: false, rep: false }, { op: 'out', port: 0x3f8, size: 1, string: false, rep: false },
    { op: 'rdmsr', msr: 0x1b }, { op: 'wrmsr', msr: 0xc0000103, value: 3n }, { op: 'run', cycles: 100n },
    { op: 'interrupt', vector: 0x20 },
  ),
);
const arbTrace = fc.array(fc.oneof({ weight: 3, arbitrary: arbAccess }, { weight: 1, arbitrary: arbInstr }), { minLength: 1, maxLength: 60 });

describe('replay invariants (interface §5 report)', () => {
  it('demand EPT backing at 4 KiB: one EPT violation per guest-physical page touched (SDM "EPT Violations": the first access to an unmapped GPA)', () => {
    fc.assert(fc.property(arbTrace, (events) => {
      const s = run(events);
      expect(s.stopped).toBeNull();
      const r = reportOf(s);
      expect(r.exits.byReason.EPT_VIOLATION ?? 0).toBe(r.memory.guestPhysicalPages);
    }), { numRuns: 40 });
  });

  it('the references histogram counts every walk once (its counts sum to translation.walks)', () => {
    fc.assert(fc.property(arbTrace, (events) => {
      const s = run(events);
      expect(Object.values(s.stats.refsHistogram).reduce((x, y) => x + y, 0)).toBe(s.stats.translation.walks);
    }), { numRuns: 40 });
  });

  it('exits.total is the sum of byReason; tlb.hits + tlb.misses = translation.accesses', () => {
    fc.assert(fc.property(arbTrace, (events) => {
      const r = reportOf(run(events));
      expect(r.exits.total).toBe(Object.values(r.exits.byReason).reduce((a, b) => a + b, 0));
      expect(r.translation.tlb.hits + r.translation.tlb.misses).toBe(r.translation.accesses);
      expect(r.events).toBe(events.length);
    }), { numRuns: 40 });
  });

  it('the same input gives byte-identical JSON, and splitting it into chunks does not change the report', () => {
    fc.assert(fc.property(arbTrace, fc.nat(), (events, k) => {
      const once = renderReportJson(reportOf(run(events)));
      expect(renderReportJson(reportOf(run(events)))).toBe(once);
      const cut = k % (events.length + 1);
      const a = replayChunk(start(), events.slice(0, cut)).state;
      expect(renderReportJson(reportOf(replayChunk(a, events.slice(cut)).state))).toBe(once);
    }), { numRuns: 25 });
  });

  it('the L1-hit memo follows caches updated in place: reads of pages sharing one L1 set give the same counts in one chunk as one event per chunk', () => {
    // Pages 16 apart share a set of the 16-set L1 DTLB; six of them overflow its 4 ways. After a first pass (which sets
    // the accessed flags: memory writes), reads change only the caches, and inside one chunk those are updated in place
    // (the machine object stays the same), so an L1 hit remembered for one page must not outlive a fill or touch.
    const page = (k: number): GuestEvent => ({ op: 'read', gva: mkGva(0x40_0000 + k * 16 * 0x1000), size: 8, user: true });
    const warm = [0, 1, 2, 3, 4, 5].map(page);
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 5, maxLength: 60 }), (ks) => {
      const events = [...warm, ...ks.map(page)];
      const whole = run(events);
      let apart = start();
      for (const ev of events) apart = replayChunk(apart, [ev]).state;
      expect(whole.stats.translation).toEqual(apart.stats.translation);
    }), { numRuns: 60 });
  });

  it('the L1-hit memo (several pages per access kind) gives the same counts and TLB state in one chunk as one event per chunk, whatever the mix of pages, sets and access kinds', () => {
    // pages 0-5 share one L1 DTLB set (16 pages apart), 6-8 sit in three other sets; reads, writes and fetches, user and
    // supervisor, in any order: a remembered hit is only valid while nothing changed since it was noted
    const at = (k: number): number => 0x40_0000 + (k < 6 ? k * 16 : k - 5) * 0x1000;
    const op = fc.oneof(
      { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: 5 }), fc.constant('read' as const), fc.constant(true)) },
      { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 8 }), fc.constantFrom('read' as const, 'write' as const, 'fetch' as const), fc.boolean()) },
    );
    const warm: GuestEvent[] = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((k) => ({ op: 'read', gva: mkGva(at(k)), size: 8, user: true }));
    fc.assert(fc.property(fc.array(op, { minLength: 5, maxLength: 80 }), (ops) => {
      const events: GuestEvent[] = [...warm, ...ops.map(([k, o, user]): GuestEvent => ({ op: o, gva: mkGva(at(k) + 64), size: 8, user }))];
      const whole = run(events);
      let apart = start();
      for (const ev of events) apart = replayChunk(apart, [ev]).state;
      expect(whole.stats).toEqual(apart.stats);
      expect(whole.machine.mmu.tlb.arrays.map(Tlb.entries)).toEqual(apart.machine.mmu.tlb.arrays.map(Tlb.entries));
    }), { numRuns: 80 });
  });

  it('purity: a state saved after chunk A can be continued twice with chunk B with identical results, and stays valid', () => {
    fc.assert(fc.property(arbTrace, arbTrace, (chunkA, chunkB) => {
      const a = replayChunk(start(), chunkA).state;
      const aJson = renderReportJson(reportOf(a));
      const b1 = replayChunk(a, chunkB, true);
      const b2 = replayChunk(a, chunkB, true);
      expect(renderReportJson(reportOf(b2.state))).toBe(renderReportJson(reportOf(b1.state)));
      expect(b2.exits).toEqual(b1.exits);
      // the original A-state is unchanged and continues the same way again
      expect(renderReportJson(reportOf(a))).toBe(aJson);
      expect(renderReportJson(reportOf(replayChunk(a, chunkB).state))).toBe(renderReportJson(reportOf(b1.state)));
    }), { numRuns: 20 });
  });
});

describe('CR3 selects an address space (interface §2 mov_to_cr 3)', () => {
  const read = (gva: number): GuestEvent => ({ op: 'read', gva: mkGva(gva), size: 8, user: true });
  const cr3 = (v: number): GuestEvent => ({ op: 'mov_to_cr', cr: 3, value: BigInt(v) });

  it('two address spaces: the guest OS model never hands out a page a CR3 value uses as a root; each space keeps its own mapping', () => {
    // the default space is rooted at 16 MiB and its first fault takes 16 MiB + 4K .. + 20K (frame, PDPT, PD, PT);
    // the second root is put just above, where the allocator would go next
    const root2 = 0x1000000 + 6 * 0x1000;
    const s1 = run([read(0x400000)]);
    expect(s1.gpaPages.size).toBe(5); // PML4 + PDPT + PD + PT + frame
    const s2 = replayChunk(s1, [cr3(root2), read(0x400000)]).state;
    expect(s2.stopped).toBeNull();
    // the new space gets its own PDPT, PD, PT and frame: 5 more guest-physical pages, each an EPT violation
    expect(s2.gpaPages.size).toBe(10);
    expect(reportOf(s2).exits.byReason.EPT_VIOLATION).toBe(10);
    expect(s2.guestFaults - s1.guestFaults).toBe(1); // one #PF: the empty root has no entry
    // back in the first space the page is still mapped: no new fault and no new page
    const s3 = replayChunk(s2, [cr3(0x1000000), read(0x400000), cr3(root2), read(0x400000)]).state;
    expect(s3.guestFaults).toBe(s2.guestFaults);
    expect(s3.gpaPages.size).toBe(10);
  });

  it('a root chosen inside the range the allocator uses next is skipped for tables and frames alike', () => {
    // space 2's root is the allocator's next page (0x1005000): its frame and tables go to 0x1006000 .. 0x1009000;
    // space 3's root (0x100b000) lies one page past the next free page, inside the frame + tables span
    const s = run([read(0x400000), cr3(0x1005000), read(0x600000), cr3(0x100b000), read(0x800000), read(0xa00000)]);
    expect(s.stopped).toBeNull();
    // spaces 2 and 3 each: root + PDPT + PD + PT + frame (5); space 3's second access: PT + frame (2)
    expect(s.gpaPages.size).toBe(5 + 5 + 5 + 2);
    expect(reportOf(s).exits.byReason.EPT_VIOLATION).toBe(17);
    expect(s.guestFaults).toBe(4);
  });
});
