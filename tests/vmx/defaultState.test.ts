import { presetByName, Caps } from '../../src/vmx/caps';
import { validControls, validGuestState64, validHostState, validVmcs } from '../../src/vmx/defaultState';
import { allEntryFailures, EntryContext } from '../../src/vmx/entryChecks';
import { F } from '../../src/vmx/fields';
import * as Phys from '../../src/arch/phys';

const preset = (name: string): Caps => {
  const c = presetByName(name);
  if (c === undefined) throw new Error(name);
  return c;
};
const ctx = (caps: Caps, fields: ReadonlyMap<number, bigint>): EntryContext =>
  ({ caps, fields, mem: Phys.empty, currentVmcs: 0x10000, vmxonPtr: 0x11000 });
// EPTP: WB (6) | 4-level (3 << 3) | PML4 at 0x200000 (SDM "Extended-Page-Table Pointer (EPTP)")
const EPTP = 0x200000n | (3n << 3n) | 6n;

describe.each(['skylake-server', 'icelake-server'])('default VMCS on %s', (name) => {
  const caps = preset(name);
  it('SDM "VM Entries": host + 64-bit guest + minimal controls pass every VM-entry check', () => {
    expect(allEntryFailures(ctx(caps, validVmcs(caps, { cr3: 0x1000n })))).toEqual([]);
  });
  it('SDM "VM Entries": the same with EPT, VPID and unrestricted guest', () => {
    const v = validVmcs(caps, { cr3: 0x1000n, unrestricted: true }, { eptp: EPTP, vpid: 1, unrestricted: true });
    expect(allEntryFailures(ctx(caps, v))).toEqual([]);
  });
  it('SDM "Checks Related to Address-Space Size": host address-space size (exit bit 9) and IA-32e mode guest (entry bit 9) set', () => {
    const c = new Map(validControls(caps));
    expect((c.get(F.VM_EXIT_CONTROLS)! >> 9n) & 1n).toBe(1n);
    expect((c.get(F.VM_ENTRY_CONTROLS)! >> 9n) & 1n).toBe(1n);
  });
  it('SDM "Checks on Host Control Registers": host CR0 has PE, NE, PG; CR4 has PAE and VMXE; EFER LMA and LME', () => {
    const h = new Map(validHostState(caps));
    expect(h.get(F.HOST_CR0)! & 0x80000021n).toBe(0x80000021n);
    expect(h.get(F.HOST_CR4)! & 0x2020n).toBe(0x2020n);
    expect(h.get(F.HOST_IA32_EFER)! & 0x500n).toBe(0x500n);
    expect(h.get(F.HOST_CS_SELECTOR)).toBe(0x10n);
    expect(h.get(F.HOST_TR_SELECTOR)).toBe(0x40n);
  });
  it('SDM "Checks on Guest Segment Registers": 64-bit CS (L = 1, D = 0, type 0xB, S, P, DPL 0) and a busy TSS', () => {
    const g = new Map(validGuestState64(caps, { cr3: 0x5000n, rip: 0x1234n }));
    expect(g.get(F.GUEST_CS_AR_BYTES)).toBe(0xa09bn);
    expect(g.get(F.GUEST_TR_AR_BYTES)! & 0xfn).toBe(11n);
    expect(g.get(F.GUEST_LDTR_AR_BYTES)! & 0x10000n).toBe(0x10000n);
    expect(g.get(F.GUEST_CR3)).toBe(0x5000n);
    expect(g.get(F.GUEST_RIP)).toBe(0x1234n);
    expect(g.get(F.VMCS_LINK_POINTER)).toBe(0xffffffffffffffffn);
    expect(g.get(F.GUEST_RFLAGS)).toBe(2n);
  });
});
