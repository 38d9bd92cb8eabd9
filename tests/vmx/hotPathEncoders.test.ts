/**
 * The exit path builds interruption information (SDM "Format of the VM-Exit Interruption-Information Field") and I/O
 * qualifications (SDM "Exit Qualification for I/O Instructions") by arithmetic on numbers, and tests bits of 64-bit
 * values with precomputed masks. These properties compare each with the generic layout codec / the plain bigint
 * formula it stands for.
 */
import fc from 'fast-check';
import { defineLayout, encode, numberField, set, type Layout } from '../../src/arch/layout';
import { bigOf, isBitSet } from '../../src/arch/addr';
import {
  ALL_LAYOUTS, encodeInterruptionInfo, encodeIo, interruptionInfoNumber, INTR_INFO, IO_QUAL, type InterruptionType,
} from '../../src/vmx/qualifications';

const TYPES: readonly InterruptionType[] = [
  'external-interrupt', 'nmi', 'hardware-exception', 'software-interrupt', 'privileged-software-exception',
  'software-exception', 'other-event',
];
const TYPE_NUMBER: Readonly<Record<InterruptionType, number>> = {
  'external-interrupt': 0, nmi: 2, 'hardware-exception': 3, 'software-interrupt': 4, 'privileged-software-exception': 5,
  'software-exception': 6, 'other-event': 7,
};

describe('interruption information by arithmetic', () => {
  it('equals the generic INTR_INFO encoding', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 0x3ff }), fc.constantFrom(...TYPES), fc.boolean(), fc.option(fc.boolean(), { nil: undefined }),
      fc.option(fc.boolean(), { nil: undefined }),
      (vector, type, errorCodeValid, nmiUnblocking, valid) => {
        const i = { vector, type, errorCodeValid, ...(nmiUnblocking !== undefined ? { nmiUnblocking } : {}), ...(valid !== undefined ? { valid } : {}) };
        const generic = encode(INTR_INFO, {
          vector, type: TYPE_NUMBER[type], errorCodeValid, nmiUnblocking: nmiUnblocking === true, valid: valid !== false,
        });
        expect(BigInt(interruptionInfoNumber(i))).toBe(generic);
        expect(encodeInterruptionInfo(i)).toBe(generic);
      }), { numRuns: 500 });
  });
});

describe('I/O qualification by arithmetic', () => {
  it('equals the generic IO_QUAL encoding', () => {
    fc.assert(fc.property(
      fc.constantFrom(1 as const, 2 as const, 4 as const), fc.constantFrom('in' as const, 'out' as const), fc.boolean(), fc.boolean(),
      fc.boolean(), fc.integer({ min: 0, max: 0x1ffff }),
      (size, direction, string, rep, immediate, port) => {
        const generic = encode(IO_QUAL, {
          size: size - 1, direction: direction === 'in', string, rep, operandEncoding: immediate, port: port & 0xffff,
        });
        expect(encodeIo({ size, direction, string, rep, immediate, port })).toBe(generic);
      }), { numRuns: 500 });
  });
});

describe('numberField', () => {
  const low: Array<{ layout: Layout; name: string }> = ALL_LAYOUTS.flatMap((l) => l.fields.filter((f) => f.hi <= 31).map((f) => ({ layout: l, name: f.name })));

  it('places a field as set() does, for every field within bits 31:0 of the exit-information layouts', () => {
    fc.assert(fc.property(fc.constantFrom(...low), fc.integer({ min: 0, max: 0xffff_ffff }), ({ layout, name }, v) => {
      expect(BigInt(numberField(layout, name)(v))).toBe(set(layout, name, 0n, BigInt(v)));
    }), { numRuns: 500 });
  });

  it('refuses a field above bit 31', () => {
    const l = defineLayout('test', 'a 64-bit value', 64, [{ name: 'low', lo: 0, hi: 31 }, { name: 'high', lo: 32, hi: 40 }]);
    expect(numberField(l, 'low')(0xffff_ffff)).toBe(0xffff_ffff);
    expect(() => numberField(l, 'high')).toThrow();
  });
});

describe('bigint helpers', () => {
  it('isBitSet agrees with ((v >> n) & 1) === 1 for 64-bit values and any bit', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.integer({ min: 0, max: 70 }), (v, n) => {
      expect(isBitSet(v, n)).toBe(((v >> BigInt(n)) & 1n) === 1n);
    }), { numRuns: 500 });
  });

  it('bigOf is BigInt for integers, small and large', () => {
    fc.assert(fc.property(fc.oneof(fc.integer({ min: -5, max: 2000 }), fc.integer()), (n) => {
      expect(bigOf(n)).toBe(BigInt(n));
    }), { numRuns: 500 });
    expect(() => bigOf(1.5)).toThrow();
  });
});
