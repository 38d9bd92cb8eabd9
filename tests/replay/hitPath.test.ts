/**
 * The replay engine's path without result objects (src/vmx/step.ts memoryAccessFast, src/mmu/translate.ts
 * translateFast: L1 and STLB hits and the fast walk; the L1-hit memo in src/replay/replay.ts replayChunk) against the
 * general path (memoryAccess / translate), and the translation it hands on when it cannot finish (`carried`).
 */
import fc from 'fast-check';
import { isRight } from 'fp-ts/Either';
import { gva as mkGva } from '../../src/arch/addr';
import type { GuestEvent, MemoryAccess } from '../../src/guest/events';
import { DEFAULT_CONFIG } from '../../src/replay/config';
import { replayChunk, startReplay, type ReplayState } from '../../src/replay/replay';
import { accessOut, memoryAccess, memoryAccessFast } from '../../src/vmx/step';
import * as Phys from '../../src/arch/phys';
import { l1HitStats } from '../../src/mmu/translate';
import * as Tlb from '../../src/mmu/tlb';

const start = (pml = false): ReplayState => {
  const s = startReplay(pml ? { ...DEFAULT_CONFIG, ept: { ...DEFAULT_CONFIG.ept, pml: true } } : DEFAULT_CONFIG);
  if (!isRight(s)) throw new Error(JSON.stringify(s.left));
  return s.right;
};

const BASE = 0x40_0000;
const arbAccess: fc.Arbitrary<MemoryAccess> = fc.record({
  op: fc.constantFrom('read' as const, 'write' as const, 'fetch' as const),
  page: fc.integer({ min: 0, max: 5 }),
  offset: fc.integer({ min: 0, max: 4095 }),
  size: fc.constantFrom(1, 4, 8, 64),
  user: fc.boolean(),
}).map((a) => ({ op: a.op, gva: mkGva(BASE + a.page * 0x1000 + a.offset), size: a.size, user: a.user }));

describe('L1 TLB hit path (SDM 4.10.2.3 "Details of TLB Use": a translation from a TLB entry needs no walk)', () => {
  it('memoryAccessFast, when it answers, gives the machine, caches, memory, stats and pages memoryAccess gives; when it does not, what it carries gives the same step', () => {
    const seen = { l1: 0, other: 0, carried: 0, pml: 0 };
    const pagesOf = (mem: Phys.PhysMem): string => {
      const out: string[] = [];
      for (let pfn = 0; pfn < 0x3000; pfn++) { const p = Phys.page(mem, pfn); if (p !== undefined) out.push(`${pfn}:${p.join(',')}`); }
      return out.join(';');
    };
    // with PML on, a walk that sets an EPT dirty flag logs the page and moves the guest's PML index
    fc.assert(fc.property(fc.array(arbAccess, { minLength: 0, maxLength: 40 }), arbAccess, fc.boolean(), (warm, ev, pml) => {
      const s = replayChunk(start(pml), warm).state;
      const fast = memoryAccessFast(s.env, s.machine, ev);
      const l1 = accessOut.l1;
      const stats = accessOut.stats;
      // the pages it reports: the data page, then the pages of the guest entries the walk read
      const pages = accessOut.walked
        ? [accessOut.gpaPage, ...Array.from(accessOut.tables.subarray(0, accessOut.tableCount), (a) => Math.floor(a / 4096))]
        : [];
      const carried = accessOut.carried;
      const slow = memoryAccess(s.env, s.machine, ev);
      if (fast === undefined) {
        if (carried === undefined) return;
        seen.carried++;
        const viaCarried = memoryAccess(s.env, s.machine, ev, carried);
        expect(viaCarried.outcome).toEqual(slow.outcome);
        expect(viaCarried.translation).toEqual(slow.translation);
        expect(viaCarried.touchedGpaPages).toEqual(slow.touchedGpaPages);
        expect(Tlb.allEntries(viaCarried.machine.mmu.tlb)).toEqual(Tlb.allEntries(slow.machine.mmu.tlb));
        expect(pagesOf(viaCarried.machine.cpu.mem)).toBe(pagesOf(slow.machine.cpu.mem));
        return;
      }
      if (l1) seen.l1++; else seen.other++;
      expect(slow.outcome).toEqual({ result: 'passthrough' });
      expect(stats).toEqual(slow.translation);
      if (l1) expect(stats).toEqual(l1HitStats(s.env.cost));
      expect(pages).toEqual(slow.touchedGpaPages);
      expect(Tlb.allEntries(fast.mmu.tlb)).toEqual(Tlb.allEntries(slow.machine.mmu.tlb));
      expect(fast.mmu.psc.arrays.map(Tlb.entries)).toEqual(slow.machine.mmu.psc.arrays.map(Tlb.entries));
      expect(Tlb.entries(fast.mmu.nested)).toEqual(Tlb.entries(slow.machine.mmu.nested));
      expect(pagesOf(fast.cpu.mem)).toBe(pagesOf(slow.machine.cpu.mem));
      expect(fast.guest).toEqual(slow.machine.guest);
      if (fast.guest?.pmlIndex !== s.machine.guest?.pmlIndex) seen.pml++;
      // an MRU hit changes nothing: the very same machine
      if (slow.machine === s.machine) expect(fast).toBe(s.machine);
    }), { numRuns: 150 });
    // every kind of answer was exercised
    expect(seen.l1).toBeGreaterThan(0);
    expect(seen.other).toBeGreaterThan(0);
    expect(seen.carried).toBeGreaterThan(0);
    expect(seen.pml).toBeGreaterThan(0);
  });

  it('a page-crossing access is two lookups: never taken by the one-page path', () => {
    const s = replayChunk(start(), [{ op: 'read', gva: mkGva(BASE), size: 8, user: true }, { op: 'read', gva: mkGva(BASE + 0x1000), size: 8, user: true }]).state;
    expect(memoryAccessFast(s.env, s.machine, { op: 'read', gva: mkGva(BASE), size: 8, user: true })).toBe(s.machine);
    expect(memoryAccessFast(s.env, s.machine, { op: 'read', gva: mkGva(BASE + 0xffc), size: 8, user: true })).toBeUndefined();
    expect(accessOut.carried).toBeUndefined();
  });

  // the L1-hit memo of a chunk (replay.ts) is kept while the machine and the cache arrays are unchanged: one event
  // per chunk starts every event with an empty memo, so both ways must count the same hits, walks and cycles
  it('the L1-hit memo: the same statistics and TLB in one chunk as one event per chunk, with events that change the TLB in between', () => {
    const arbEvent: fc.Arbitrary<GuestEvent> = fc.oneof(
      { weight: 6, arbitrary: arbAccess.map((a): GuestEvent => ({ ...a, gva: mkGva((a.gva as number) & ~0xff), size: 8 })) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 5 }).map((p): GuestEvent => ({ op: 'invlpg', gva: mkGva(BASE + p * 0x1000) })) },
      { weight: 1, arbitrary: fc.constant<GuestEvent>({ op: 'cpuid', leaf: 0, subleaf: 0 }) },
    );
    fc.assert(fc.property(fc.array(arbEvent, { minLength: 1, maxLength: 60 }), (evs) => {
      const s0 = start();
      const one = replayChunk(s0, evs).state;
      const split = evs.reduce((s, e) => replayChunk(s, [e]).state, s0);
      expect(one.stats).toEqual(split.stats);
      expect(Tlb.allEntries(one.machine.mmu.tlb)).toEqual(Tlb.allEntries(split.machine.mmu.tlb));
    }), { numRuns: 60 });
    // a page noted in the memo, dropped from the TLB (INVLPG), then a hit on another page (the memo is cleared for the
    // new machine) before the page is read again: a walk, not a hit
    const read = (page: number, user = true): GuestEvent => ({ op: 'read', gva: mkGva(BASE + page * 0x1000 + 8), size: 8, user });
    const evs: GuestEvent[] = [read(0), read(1), read(0), read(1), { op: 'invlpg', gva: mkGva(BASE) }, read(1), read(1), read(0), read(0)];
    const s0 = start();
    const one = replayChunk(s0, evs).state;
    expect(one.stats).toEqual(evs.reduce((s, e) => replayChunk(s, [e]).state, s0).stats);
    expect(one.stats.translation.walks).toBeGreaterThan(replayChunk(s0, evs.slice(0, 4)).state.stats.translation.walks);
  });

  it('after the first read of a page, N more reads of it are N L1 hits and no walk, in one chunk or one event per chunk', () => {
    const first: GuestEvent = { op: 'read', gva: mkGva(BASE + 0x10), size: 8, user: true };
    const s0 = replayChunk(start(), [first]).state;
    const more: GuestEvent[] = Array.from({ length: 50 }, (_, i) => ({ op: 'read', gva: mkGva(BASE + 64 * i), size: 8, user: true }));
    const one = replayChunk(s0, more).state;
    const split = more.reduce((s, e) => replayChunk(s, [e]).state, s0);
    for (const s of [one, split]) {
      expect(s.stats.translation.l1Hits - s0.stats.translation.l1Hits).toBe(50);
      expect(s.stats.translation.accesses - s0.stats.translation.accesses).toBe(50);
      expect(s.stats.translation.walks).toBe(s0.stats.translation.walks);
      expect(s.stats.translation.cycles - s0.stats.translation.cycles).toBe(50 * l1HitStats(s0.env.cost).cycles);
    }
    expect(one.stats).toEqual(split.stats);
  });

  it('purity: the hit path leaves the input state valid (a state continued twice gives the same result)', () => {
    fc.assert(fc.property(fc.array(arbAccess, { maxLength: 30 }), fc.array(arbAccess, { maxLength: 60 }), (a, b) => {
      const s = replayChunk(start(), a).state;
      const before = Tlb.allEntries(s.machine.mmu.tlb);
      const r1 = replayChunk(s, b).state;
      expect(Tlb.allEntries(s.machine.mmu.tlb)).toEqual(before);
      const r2 = replayChunk(s, b).state;
      expect(r2.stats).toEqual(r1.stats);
      expect(Tlb.allEntries(r2.machine.mmu.tlb)).toEqual(Tlb.allEntries(r1.machine.mmu.tlb));
    }), { numRuns: 40 });
  });
});
