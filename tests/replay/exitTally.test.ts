/**
 * src/replay/stats.ts `ExitTally`: the replay chunk's exit counters by reason must give exactly what the per-name maps
 * gave (a get and a set per exit): the same names, in the order of their first exit, the same counts and the same
 * cycle sums (floating-point additions in the same order), for any sequence of reasons and any cost model.
 */
import fc from 'fast-check';
import { defaultExitCost, exitCycles, ExitTally, type ExitCostModel } from '../../src/replay/stats';
import { exitName } from '../../src/vmx/exitReasons';

const reasonArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(0, 1, 10, 12, 28, 30, 31, 32, 48, 49, 52, 62) },
  { weight: 2, arbitrary: fc.nat(100) },
  { weight: 1, arbitrary: fc.oneof(fc.integer({ min: 0x1_0000, max: 0x7fff_ffff }), fc.integer({ min: -5, max: -1 })) },
);
const modelArb: fc.Arbitrary<ExitCostModel> = fc.record({
  roundTrip: fc.oneof(fc.constant(1100), fc.double({ min: 0, max: 1e4, noNaN: true })),
  defaultHandler: fc.oneof(fc.constant(500), fc.double({ min: 0, max: 1e4, noNaN: true })),
  handler: fc.oneof(fc.constant(defaultExitCost.handler), fc.dictionary(fc.constantFrom('CPUID', 'HLT', 'IO_INSTRUCTION', 'EPT_VIOLATION'), fc.double({ min: 0, max: 1e4, noNaN: true }))),
});

describe('ExitTally equals per-name Map counters', () => {
  it('names in first-exit order, counts and cycle sums', () => {
    fc.assert(fc.property(fc.array(reasonArb, { maxLength: 200 }), modelArb, (reasons, model) => {
      const counts = new Map<string, number>();
      const cycles = new Map<string, number>();
      const t = new ExitTally();
      for (const r of reasons) {
        const name = exitName(r);
        counts.set(name, (counts.get(name) ?? 0) + 1);
        cycles.set(name, (cycles.get(name) ?? 0) + exitCycles(model, name));
        t.add(r, model);
      }
      expect(t.counts()).toEqual([...counts]);
      expect(t.cycles()).toEqual([...cycles]);
    }), { numRuns: 300 });
  });
});
