/**
 * The allocation-free L1-TLB-hit path of the replay engine (src/vmx/step.ts memoryAccessL1Hit, src/mmu/translate.ts
 * l1Hit, the hit memo in src/replay/replay.ts replayChunk) against the general path (memoryAccess / translate).
 */
import fc from 'fast-check';
import { isRight } from 'fp-ts/Either';
import { gva as mkGva } from '../../src/arch/addr';
import type { GuestEvent, MemoryAccess } from '../../src/guest/events';
import { DEFAULT_CONFIG } from '../../src/replay/config';
import { replayChunk, startReplay, type ReplayState } from '../../src/replay/replay';
import { memoryAccess, memoryAccessL1Hit } from '../../src/vmx/step';
import { l1HitStats } from '../../src/mmu/translate';
import * as Tlb from '../../src/mmu/tlb';

const start = (): ReplayState => {
  const s = startReplay(DEFAULT_CONFIG);
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
  it('memoryAccessL1Hit, when it answers, gives the machine, TLB, stats and outcome memoryAccess gives', () => {
    let answered = 0;
    fc.assert(fc.property(fc.array(arbAccess, { minLength: 1, maxLength: 40 }), arbAccess, (warm, ev) => {
      const s = replayChunk(start(), warm).state;
      const fast = memoryAccessL1Hit(s.env, s.machine, ev);
      const slow = memoryAccess(s.env, s.machine, ev);
      if (fast === undefined) return;
      answered++;
      expect(slow.outcome).toEqual({ result: 'passthrough' });
      expect(slow.translation).toEqual(l1HitStats(s.env.cost));
      expect(slow.touchedGpaPages).toEqual([]);
      expect(Tlb.allEntries(fast.mmu.tlb)).toEqual(Tlb.allEntries(slow.machine.mmu.tlb));
      expect(fast.mmu.psc).toBe(slow.machine.mmu.psc);
      expect(fast.mmu.nested).toBe(slow.machine.mmu.nested);
      expect(fast.cpu).toBe(slow.machine.cpu);
      expect(fast.guest).toBe(slow.machine.guest);
      // an MRU hit changes nothing: the very same machine
      if (slow.machine === s.machine) expect(fast).toBe(s.machine);
    }), { numRuns: 60 });
    expect(answered).toBeGreaterThan(0);
  });

  it('a page-crossing access is two lookups: never taken by the one-page hit path', () => {
    const s = replayChunk(start(), [{ op: 'read', gva: mkGva(BASE), size: 8, user: true }, { op: 'read', gva: mkGva(BASE + 0x1000), size: 8, user: true }]).state;
    expect(memoryAccessL1Hit(s.env, s.machine, { op: 'read', gva: mkGva(BASE), size: 8, user: true })).toBe(s.machine);
    expect(memoryAccessL1Hit(s.env, s.machine, { op: 'read', gva: mkGva(BASE + 0xffc), size: 8, user: true })).toBeUndefined();
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
