import { readCr, movToCr0, movToCr4, clts, lmsw, movToCrExits } from '../../src/vmx/crShadow';

// Skylake-like IA32_VMX_CR0_FIXED0 = 0x80000021 (PE, NE, PG), FIXED1 = 0xFFFFFFFF
const CR0_FIXED = { fixed0: 0x8000_0021n, fixed1: 0xffff_ffffn };
// IA32_VMX_CR4_FIXED0 = 0x2000 (VMXE), FIXED1 = 0x3767FF
const CR4_FIXED = { fixed0: 0x2000n, fixed1: 0x3767ffn };

describe('SDM "Guest/Host Masks and Read Shadows for CR0 and CR4"', () => {
  test('MOV from CR0 returns (real & ~mask) | (shadow & mask)', () => {
    // real 0x80050033, mask 0x8 (TS host-owned), shadow 0 ⇒ TS hidden: 0x8005003B & ~8 = 0x80050033
    expect(readCr(0x8005_003bn, 0x8n, 0n)).toBe(0x8005_0033n);
    expect(readCr(0x8005_0033n, 0x8n, 0x8n)).toBe(0x8005_003bn);
  });
  test('MOV from CR4 with every bit masked returns the read shadow; with mask 0 the real value', () => {
    expect(readCr(0x2020n, (1n << 64n) - 1n, 0x20n)).toBe(0x20n);
    expect(readCr(0x2020n, 0n, 0x20n)).toBe(0x2020n);
  });
  test('MOV to CR0 with no exit changes only guest-owned bits', () => {
    // old has TS (host-owned) set; the guest writes 0x80000031 with TS clear: TS stays 1
    expect(movToCr0(0x8000_0039n, 0x8000_0031n, 0x8n, CR0_FIXED, false)).toEqual({ kind: 'ok', value: 0x8000_0039n });
    // a guest-owned MP bit (1) is written
    expect(movToCr0(0x8000_0031n, 0x8000_0033n, 0x8n, CR0_FIXED, false)).toEqual({ kind: 'ok', value: 0x8000_0033n });
  });
  test('"VMX-Fixed Bits in CR0": clearing guest-owned NE #GPs', () => {
    expect(movToCr0(0x8000_0031n, 0x8000_0011n, 0n, CR0_FIXED, false)).toEqual({ kind: 'gp' });
  });
  test('"Unrestricted Guests": PE and PG may be 0 with unrestricted guest, not without', () => {
    expect(movToCr0(0x8000_0031n, 0x20n, 0n, CR0_FIXED, true)).toEqual({ kind: 'ok', value: 0x20n });
    expect(movToCr0(0x8000_0031n, 0x20n, 0n, CR0_FIXED, false)).toEqual({ kind: 'gp' });
  });
  test('MOV to CR0 setting PG with PE = 0 #GPs even with unrestricted guest', () => {
    expect(movToCr0(0x21n, 0x8000_0020n, 0n, CR0_FIXED, true)).toEqual({ kind: 'gp' });
  });
  test('MOV to CR4 with no exit: host-owned VMXE stays set though the guest writes 0 (mask 0x2000)', () => {
    expect(movToCr4(0x2020n, 0x20n, 0x2000n, CR4_FIXED)).toEqual({ kind: 'ok', value: 0x2020n });
    // without the mask, clearing VMXE violates FIXED0
    expect(movToCr4(0x2020n, 0x20n, 0n, CR4_FIXED)).toEqual({ kind: 'gp' });
  });
  test('MOV to CR4 setting a bit outside FIXED1 (bit 23) #GPs', () => {
    expect(movToCr4(0x2020n, 0x2020n | (1n << 23n), 0n, CR4_FIXED)).toEqual({ kind: 'gp' });
  });
  test('MOV to CR0 exit rule and no-exit effect agree: no exit ⇒ the guest reads back what it wrote', () => {
    const mask = 0x8000_0008n;
    const shadow = 0x8000_0000n;
    const src = 0x8000_0033n;
    expect(movToCrExits(src, mask, shadow)).toBe(false);
    const w = movToCr0(0x8000_0039n, src, mask, CR0_FIXED, false);
    expect(w.kind === 'ok' ? readCr(w.value, mask, shadow) : null).toBe(src);
  });
  test('CLTS with TS guest-owned clears CR0.TS; with TS host-owned (shadow 0) it leaves CR0.TS alone', () => {
    expect(clts(0x8000_0039n, 0n)).toBe(0x8000_0031n);
    expect(clts(0x8000_0039n, 0x8n)).toBe(0x8000_0039n);
  });
  test('LMSW changes only guest-owned bits among CR0[3:0]', () => {
    // mask MP (bit 1): writing 0xE sets EM and TS, MP unchanged
    expect(lmsw(0x8000_0031n, 0xen, 0x2n)).toBe(0x8000_003dn);
  });
  test('LMSW can set PE but never clear it', () => {
    expect(lmsw(0x30n, 0x1n, 0n)).toBe(0x31n);
    expect(lmsw(0x31n, 0x0n, 0n)).toBe(0x31n);
  });
  test('LMSW ignores source bits above 3', () => {
    expect(lmsw(0x0n, 0xfff0n, 0n)).toBe(0n);
  });
});
