/**
 * src/vmx/entry.ts `guestPagingOf`: the guest's paging configuration from CR0/CR3/CR4/EFER and MAXPHYADDR (SDM Vol. 3A
 * "Paging": CR0.PG (bit 31), CR0.WP (16), CR4.LA57 (12), CR4.SMEP (20), IA32_EFER.NXE (11); CR3 bits M-1:12 hold the
 * root table). The last answer is shared while its inputs stay the same (a memo of one): any sequence of inputs must
 * give what each gives on its own.
 */
import fc from 'fast-check';
import { presetByName, type Caps } from '../../src/vmx/caps';
import { guestPagingOf } from '../../src/vmx/entry';
import type { GuestCpu } from '../../src/vmx/machine';

const caps = (name: string, maxPhyAddr: number): Caps => ({ ...presetByName(name)!, maxPhyAddr });
const bitOf = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) === 1n;

const guestArb = fc.record({
  pg: fc.boolean(), wp: fc.boolean(), la57: fc.boolean(), smep: fc.boolean(), nxe: fc.boolean(),
  cr3: fc.constantFrom(0x1000n, 0x2000n, 0x7f_ffff_f000n, 0x1234_5678_9abc_d123n),
}).map((r): GuestCpu => ({
  cr0: (r.pg ? 1n << 31n : 0n) | (r.wp ? 1n << 16n : 0n) | 1n, cr2: 0n, cr3: r.cr3,
  cr4: (r.la57 ? 1n << 12n : 0n) | (r.smep ? 1n << 20n : 0n) | (1n << 5n), cr8: 0n,
  efer: (r.nxe ? 1n << 11n : 0n) | (1n << 8n), rip: 0n, rflags: 2n, activity: 0, pmlIndex: 0,
}));

describe('guestPagingOf', () => {
  it('answers each guest as on its own, whatever was asked before (registers and MAXPHYADDR)', () => {
    const capsArb = fc.constantFrom(caps('skylake-server', 46), caps('skylake-server', 39), caps('icelake-server', 52));
    fc.assert(fc.property(fc.array(fc.tuple(capsArb, guestArb), { minLength: 1, maxLength: 12 }), (asks) => {
      for (const [c, g] of asks) {
        const p = guestPagingOf(c, g);
        if (!bitOf(g.cr0, 31)) { expect(p).toBeNull(); continue; }
        const frame = ((1n << BigInt(c.maxPhyAddr)) - 1n) & ~0xfffn;
        expect(p).toEqual({
          cr3: Number(g.cr3 & frame), la57: bitOf(g.cr4, 12), nxe: bitOf(g.efer, 11), wp: bitOf(g.cr0, 16),
          smep: bitOf(g.cr4, 20), maxPhyAddr: c.maxPhyAddr,
        });
      }
    }), { numRuns: 400 });
  });
});
