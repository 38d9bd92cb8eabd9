import fc from 'fast-check';
import { problems, get, encode } from '../../src/arch/layout';
import * as E from '../../src/ept/entries';
import { EPTP_LAYOUT, decodeEptp, eptpProblems, encodeEptp } from '../../src/ept/eptp';
import { EPT_VIOLATION_QUALIFICATION, encodeEptViolation, decodeEptViolation } from '../../src/ept/qualification';

describe('EPT layout tables (style guide rule 4)', () => {
  it.each([...E.EPT_LAYOUTS, EPTP_LAYOUT, EPT_VIOLATION_QUALIFICATION].map((l) => [l.name, l] as const))('%s is well-formed', (_n, l) => {
    expect(problems(l)).toEqual([]);
  });
  it('the hot-path constants are the bits the SDM tables declare', () => {
    const bit = (name: string) => 1 << E.EPT_PTE.byName[name].lo;
    expect([E.EPTE_R, E.EPTE_W, E.EPTE_X, E.EPTE_IPAT, E.EPTE_A, E.EPTE_D, E.EPTE_UX]).toEqual(['R', 'W', 'X', 'IPAT', 'A', 'D', 'UX'].map(bit));
    expect(E.EPTE_PS).toBe(1 << E.EPT_PDE_2M.byName.PS.lo);
    expect(E.EPTE_MT_SHIFT).toBe(E.EPT_PTE.byName.MT.lo);
    expect(E.EPT_PTE.byName.SVE.lo).toBe(63);
  });
  it('memory types 2, 3 and 7 are reserved (SDM "EPT and Memory Typing")', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].filter(E.isReservedEptMemType)).toEqual([2, 3, 7]);
  });
});

describe('SDM "Extended-Page-Table Pointer (EPTP)"', () => {
  // EPT_VPID_CAP with 4-level walk (6), WB (14), A/D (21)
  const caps = { eptVpidCap: (1n << 6n) | (1n << 14n) | (1n << 21n), maxPhyAddr: 46 };
  it('decodes memory type 2:0, walk length 5:3 (+1), A/D bit 6, root N-1:12', () => {
    expect(decodeEptp(0x1234_505en)).toEqual({ memType: 6, levels: 4, ad: true, supervisorShadowStack: false, root: 0x1234_5000 });
  });
  it('a WB 4-level EPTP with A/D is valid on a CPU that supports them', () => {
    expect(eptpProblems(0x1234_505en, caps)).toEqual([]);
  });
  it('memory type 1 (WC) is invalid; UC needs EPT_VPID_CAP[8]', () => {
    expect(eptpProblems(0x1234_5019n, caps).map((p) => p.kind)).toEqual(['memory-type']);
    expect(eptpProblems(0x1234_5018n, caps).map((p) => p.kind)).toEqual(['memory-type']);
    expect(eptpProblems(0x1234_5018n, { ...caps, eptVpidCap: caps.eptVpidCap | (1n << 8n) })).toEqual([]);
  });
  it('a 5-level walk needs EPT_VPID_CAP[7]', () => {
    expect(eptpProblems(0x1234_5026n, caps).map((p) => p.kind)).toEqual(['walk-length']);
    expect(eptpProblems(0x1234_5026n, { ...caps, eptVpidCap: caps.eptVpidCap | (1n << 7n) })).toEqual([]);
  });
  it('A/D needs EPT_VPID_CAP[21]', () => {
    expect(eptpProblems(0x1234_505en, { ...caps, eptVpidCap: (1n << 6n) | (1n << 14n) }).map((p) => p.kind)).toEqual(['accessed-dirty-unsupported']);
  });
  it('bits 11:7 and 63:N are reserved (bit 7 allowed with EPT_VPID_CAP[23])', () => {
    expect(eptpProblems(0x1234_511en, caps)).toEqual([{ kind: 'reserved-bits', bits: 0x100n }]);
    expect(eptpProblems(0x1234_509en, caps)).toEqual([{ kind: 'reserved-bits', bits: 0x80n }]);
    expect(eptpProblems(0x1234_509en, { ...caps, eptVpidCap: caps.eptVpidCap | (1n << 23n) })).toEqual([]);
    expect(eptpProblems((1n << 46n) | 0x1234_501en, caps)).toEqual([{ kind: 'reserved-bits', bits: 1n << 46n }]);
  });
  it('encodeEptp round-trips through decodeEptp', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 34 - 1 }), fc.constantFrom<4 | 5>(4, 5), fc.boolean(), (pfn, levels, ad) => {
      const d = decodeEptp(encodeEptp({ root: pfn * 4096, levels, ad }));
      return d.root === pfn * 4096 && d.levels === levels && d.ad === ad && d.memType === 6;
    }));
  });
});

describe('SDM "Exit Qualification for EPT Violations"', () => {
  const v = { read: true, write: false, fetch: false, readable: false, writable: false, executable: false, userExecutable: false };
  it('bit 8 is 0 when bit 7 is 0; bits 9-11 only when bits 7 and 8 are 1', () => {
    const adv = { userModeLinear: true, writableLinear: true, executeDisableLinear: true };
    expect(encodeEptViolation(v, { guestLinearAddressValid: false, finalTranslation: true, advanced: adv })).toBe(0x1);
    expect(encodeEptViolation(v, { guestLinearAddressValid: true, finalTranslation: false, advanced: adv })).toBe(0x81);
    expect(encodeEptViolation(v, { guestLinearAddressValid: true, finalTranslation: true, advanced: adv })).toBe(0xf81);
    expect(encodeEptViolation(v, { guestLinearAddressValid: true, finalTranslation: true, nmiUnblocking: true })).toBe(0x1181);
  });
  it('decodes by the interface names', () => {
    expect(decodeEptViolation(0x1184n)).toMatchObject({ fetch: true, read: false, guestLinearAddressValid: true, finalTranslation: true, nmiUnblocking: true, userModeLinear: false });
  });
  it('encode then decode gives the fields back (property)', () => {
    fc.assert(fc.property(fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }), (b) => {
      const bits = { read: b[0], write: b[1], fetch: b[2], readable: b[3], writable: b[4], executable: b[5], userExecutable: b[6] };
      const q = encodeEptViolation(bits, { guestLinearAddressValid: true, finalTranslation: true, advanced: { userModeLinear: b[7], writableLinear: b[8], executeDisableLinear: b[9] }, nmiUnblocking: b[10] });
      const d = decodeEptViolation(BigInt(q));
      expect(q).toBe(Number(encode(EPT_VIOLATION_QUALIFICATION, { ...bits, guestLinearAddressValid: true, finalTranslation: true, userModeLinear: b[7], writableLinear: b[8], executeDisableLinear: b[9], nmiUnblocking: b[10] })));
      return d.read === b[0] && d.userExecutable === b[6] && d.executeDisableLinear === b[9] && d.nmiUnblocking === b[10] && get(EPT_VIOLATION_QUALIFICATION, 'write', BigInt(q)) === (b[1] ? 1n : 0n);
    }));
  });
});
