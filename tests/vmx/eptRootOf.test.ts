/**
 * `eptRootOf` (src/vmx/entry.ts): the EPT root and level count an EPT-violation handler maps pages under, as the EPTP
 * names them and as `eptContextOf` gives them, including after the EPTP or MAXPHYADDR changed (their one shared answer
 * is kept per EPTP and MAXPHYADDR).
 */
import fc from 'fast-check';
import { skylakeServer } from '../../src/vmx/caps';
import { emptyFields, vmcsWrite } from '../../src/vmx/cpu';
import { eptContextOf, eptRootOf } from '../../src/vmx/entry';
import { F } from '../../src/vmx/fields';

const PRIMARY_SECONDARY = 1n << 31n; // primary processor-based controls: activate secondary controls
const SECONDARY_EPT = 1n << 1n; // secondary: enable EPT

describe('eptRootOf', () => {
  test('property: equals the root and levels of eptContextOf, call after call (EPTP, MAXPHYADDR and the controls vary)', () => {
    const step = fc.record({
      // a few EPTPs with address bits above every MAXPHYADDR (so the same EPTP comes back under another MAXPHYADDR), and
      // any 64-bit value
      eptp: fc.oneof(fc.constantFrom(0xffff_ffff_ffff_f01en, 0x000f_fff0_1234_501en, 0x0000_00ff_8000_0026n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
      maxPhyAddr: fc.constantFrom(36, 39, 46, 52),
      secondary: fc.boolean(),
      ept: fc.boolean(),
    });
    fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 12 }), (steps) => {
      for (const s of steps) {
        const caps = { ...skylakeServer, maxPhyAddr: s.maxPhyAddr };
        let f = vmcsWrite(emptyFields, F.EPT_POINTER, s.eptp);
        f = vmcsWrite(f, F.CPU_BASED_VM_EXEC_CONTROL, s.secondary ? PRIMARY_SECONDARY : 0n);
        f = vmcsWrite(f, F.SECONDARY_VM_EXEC_CONTROL, s.ept ? SECONDARY_EPT : 0n);
        const full = eptContextOf(caps, f, 0);
        const r = eptRootOf(caps, f);
        if (!(s.secondary && s.ept)) {
          expect(r).toBeNull();
          expect(full).toBeNull();
          continue;
        }
        // SDM "Extended-Page-Table Pointer (EPTP)": bits N-1:12 the PML4 / PML5 table address, bits 5:3 the walk length
        // minus one (3: four levels, 4: five)
        const expected = {
          root: Number(s.eptp & ((1n << BigInt(s.maxPhyAddr)) - 1n) & ~0xfffn),
          levels: ((s.eptp >> 3n) & 7n) === 4n ? 5 : 4,
        };
        expect({ root: r?.root, levels: r?.levels }).toEqual(expected);
        expect({ root: full?.root, levels: full?.levels }).toEqual(expected);
      }
    }));
  });

  test('eptContextOf: PML and mode-based execute control as the secondary controls set them (SDM bits 17 and 22), only when they are activated', () => {
    const PML = 1n << 17n;
    const MBEC = 1n << 22n;
    fc.assert(fc.property(fc.boolean(), fc.boolean(), fc.boolean(), (activate, pml, mbec) => {
      let f = vmcsWrite(emptyFields, F.EPT_POINTER, 0x5000n | (3n << 3n));
      f = vmcsWrite(f, F.PML_ADDRESS, 0x9000n);
      f = vmcsWrite(f, F.CPU_BASED_VM_EXEC_CONTROL, activate ? PRIMARY_SECONDARY : 0n);
      f = vmcsWrite(f, F.SECONDARY_VM_EXEC_CONTROL, SECONDARY_EPT | (pml ? PML : 0n) | (mbec ? MBEC : 0n));
      const ctx = eptContextOf(skylakeServer, f, 7);
      if (!activate) {
        expect(ctx).toBeNull();
        return;
      }
      expect(ctx?.mbec).toBe(mbec);
      expect(ctx?.pml).toEqual(pml ? { address: 0x9000, index: 7 } : undefined);
    }));
  });
});
