/**
 * SDM "Checks on Guest RIP, RFLAGS, and SSP": RIP bits 63:32 must be 0 unless "IA-32e mode guest" = 1 and CS.L = 1;
 * then bits 63:N must be identical (N = 48, or 57 with CR4.LA57). The check (`guest-rip`) runs on every VM entry
 * that moved RIP, so it compares with constants instead of shifting; this property compares it with the rule written
 * with shifts, on any value a field map may hold (negative and wider than 64 bits included).
 */
import fc from 'fast-check';
import * as Phys from '../../src/arch/phys';
import { presetByName } from '../../src/vmx/caps';
import { checkById } from '../../src/vmx/entryChecks';
import { F } from '../../src/vmx/fields';

const caps = presetByName('skylake-server')!;
const check = checkById('guest-rip')!;

const reference = (rip: bigint, ia32e: boolean, csL: boolean, la57: boolean): boolean => {
  if (!ia32e || !csL) return rip >> 32n === 0n;
  const top = rip >> (la57 ? 57n : 48n);
  return top === 0n || top === (1n << (la57 ? 7n : 16n)) - 1n;
};

const edges = [0n, 1n, 0xffff_ffffn, 0x1_0000_0000n, (1n << 47n) - 1n, 1n << 47n, (1n << 48n) - 1n, 1n << 48n,
  (1n << 56n) - 1n, 1n << 56n, (1n << 57n) - 1n, 1n << 57n, (1n << 64n) - (1n << 48n) - 1n, (1n << 64n) - (1n << 48n),
  (1n << 64n) - (1n << 57n) - 1n, (1n << 64n) - (1n << 57n), (1n << 64n) - 1n, 1n << 64n, (1n << 64n) + 1n, -1n, -(1n << 48n)];
const ripArb = fc.oneof(fc.constantFrom(...edges), fc.bigInt({ min: -(1n << 65n), max: 1n << 65n }),
  fc.constantFrom(...edges).chain((e) => fc.bigInt({ min: -3n, max: 3n }).map((d) => e + d)));

describe('guest-rip check', () => {
  it('passes exactly when the SDM rule (written with shifts) holds', () => {
    fc.assert(fc.property(ripArb, fc.boolean(), fc.boolean(), fc.boolean(), (rip, ia32e, csL, la57) => {
      const fields = new Map<number, bigint>([
        [F.GUEST_RIP, rip], [F.VM_ENTRY_CONTROLS, ia32e ? 1n << 9n : 0n], [F.GUEST_CS_AR_BYTES, csL ? 0xa09bn : 0xc09bn],
        [F.GUEST_CR4, la57 ? 1n << 12n : 0n],
      ]);
      const verdict = check.test({ caps, fields, mem: Phys.empty, currentVmcs: 0x10000, vmxonPtr: 0x11000 });
      expect(verdict === undefined).toBe(reference(rip, ia32e, csL, la57));
    }), { numRuns: 2000 });
  });

  // firstEntryFailureCached runs this check on the plain context after an emulated instruction (src/vmx/entryChecks.ts
  // `ripOnly`), trusting that the fields it reads, and their order, do not depend on the RIP value
  it('reads the same fields in the same order whatever the RIP value', () => {
    const readsOf = (fields: ReadonlyMap<number, bigint>): number[] => {
      const reads: number[] = [];
      const view = { get: (e: number) => { reads.push(e); return fields.get(e); } } as unknown as ReadonlyMap<number, bigint>;
      check.test({ caps, fields: view, mem: Phys.empty, currentVmcs: 0x10000, vmxonPtr: 0x11000 });
      return reads;
    };
    const valueArb = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    fc.assert(fc.property(ripArb, ripArb, valueArb, valueArb, valueArb, (a, b, entry, cs, cr4) => {
      const others: [number, bigint][] = [[F.VM_ENTRY_CONTROLS, entry], [F.GUEST_CS_AR_BYTES, cs], [F.GUEST_CR4, cr4]];
      expect(readsOf(new Map([[F.GUEST_RIP, a], ...others]))).toEqual(readsOf(new Map([[F.GUEST_RIP, b], ...others])));
    }), { numRuns: 1000 });
  });
});
