import * as Phys from '../../src/arch/phys';
import { gvaFromBig } from '../../src/arch/addr';
import { Caps, presetByName } from '../../src/vmx/caps';
import { Cpu, currentFields, initialCpu, vmcsRead } from '../../src/vmx/cpu';
import { F } from '../../src/vmx/fields';
import {
  invept, invvpid, markLaunched, Step, vmcall, vmclear, vmentryPreconditions, vmptrld, vmptrst, vmread, vmwrite,
  vmxoff, vmxon, withMovSsBlocking,
} from '../../src/vmx/instructions';

const sky = presetByName('skylake-server')!;
const icx = presetByName('icelake-server')!;
const VMXON_REGION = 0x1000;
const VMCS_A = 0x2000;
const VMCS_B = 0x3000;
/** Skylake VMCS revision identifier (IA32_VMX_BASIC[30:0] = 4 in the dump) */
const REV = 4;

const memWith = (...regions: Array<[number, number]>): Phys.PhysMem =>
  regions.reduce((m, [a, w]) => Phys.write32(m, a, w), Phys.empty);
const stdMem = (): Phys.PhysMem => memWith([VMXON_REGION, REV], [VMCS_A, REV], [VMCS_B, REV]);

const ok = (s: Step): Cpu => {
  expect(s.outcome.result).toBe('VMsucceed');
  return s.cpu;
};
/** VMXON, then VMCLEAR + VMPTRLD of VMCS_A. */
const rootWithCurrent = (caps: Caps = sky): Cpu => {
  let c = ok(vmxon(initialCpu(caps, stdMem()), VMXON_REGION));
  c = ok(vmclear(c, VMCS_A));
  return ok(vmptrld(c, VMCS_A));
};
const root = (caps: Caps = sky): Cpu => ok(vmxon(initialCpu(caps, stdMem()), VMXON_REGION));
const errorField = (c: Cpu): bigint => vmcsRead(currentFields(c), F.VM_INSTRUCTION_ERROR);
/** Expects VMfailValid(n) and that n is in the VM-instruction error field. */
const expectFailValid = (s: Step, n: number): void => {
  expect(s.outcome).toEqual({ result: 'VMfailValid', error: n });
  expect(errorField(s.cpu)).toBe(BigInt(n));
};

describe('VMX instructions in root operation (SDM "VMX Instruction Reference")', () => {
  test('lifecycle VMXON -> VMCLEAR -> VMPTRLD -> VMWRITE -> VMREAD -> VMPTRST -> VMCLEAR -> VMXOFF', () => {
    let c = initialCpu(sky, stdMem());
    c = ok(vmxon(c, VMXON_REGION));
    expect(c.vmx).toBe('root');
    expect(c.currentVmcs).toBeNull();
    c = ok(vmclear(c, VMCS_A));
    c = ok(vmptrld(c, VMCS_A));
    c = ok(vmwrite(c, F.GUEST_RIP, 0xffff_8000_0000_1000n));
    expect(vmread(c, F.GUEST_RIP).outcome).toEqual({ result: 'VMsucceed', value: 0xffff_8000_0000_1000n });
    expect(vmptrst(c).outcome).toEqual({ result: 'VMsucceed', value: BigInt(VMCS_A) });
    c = ok(vmclear(c, VMCS_A));
    expect(c.currentVmcs).toBeNull();
    expect(c.vmcs.get(VMCS_A)?.launch).toBe('clear');
    c = ok(vmxoff(c));
    expect(c.vmx).toBe('off');
  });

  test('purity: an instruction never changes the CPU state it was given', () => {
    const c = rootWithCurrent();
    const before = vmcsRead(currentFields(c), F.GUEST_RSP);
    vmwrite(c, F.GUEST_RSP, 0x1234n);
    expect(vmcsRead(currentFields(c), F.GUEST_RSP)).toBe(before);
  });

  test('SDM "VMPTRST": FFFFFFFF_FFFFFFFFH when there is no current VMCS', () => {
    expect(vmptrst(root()).outcome).toEqual({ result: 'VMsucceed', value: 0xffff_ffff_ffff_ffffn });
  });

  test('SDM "VMREAD": a 16-bit field is zero-extended', () => {
    let c = rootWithCurrent();
    c = ok(vmwrite(c, F.GUEST_CS_SELECTOR, 0xffff_ffff_ffff_8010n));
    expect(vmread(c, F.GUEST_CS_SELECTOR).outcome).toEqual({ result: 'VMsucceed', value: 0x8010n });
  });

  test('SDM "VMWRITE": a 32-bit field keeps only the low 32 bits of the source', () => {
    const c = ok(vmwrite(rootWithCurrent(), F.EXCEPTION_BITMAP, 0x1_0000_4000n));
    expect(vmread(c, F.EXCEPTION_BITMAP).outcome).toEqual({ result: 'VMsucceed', value: 0x4000n });
  });

  test('SDM "VMWRITE"/"VMREAD": high access (encoding | 1) to a 64-bit field touches bits 63:32 only', () => {
    let c = ok(vmwrite(rootWithCurrent(), F.TSC_OFFSET, 0x1111_2222_3333_4444n));
    c = ok(vmwrite(c, F.TSC_OFFSET | 1, 0xaaaa_bbbbn));
    expect(vmread(c, F.TSC_OFFSET).outcome).toEqual({ result: 'VMsucceed', value: 0xaaaa_bbbb_3333_4444n });
    expect(vmread(c, F.TSC_OFFSET | 1).outcome).toEqual({ result: 'VMsucceed', value: 0xaaaa_bbbbn });
  });

  test('SDM "VMREAD": a field never written reads 0', () => {
    expect(vmread(rootWithCurrent(), F.GUEST_CR3).outcome).toEqual({ result: 'VMsucceed', value: 0n });
  });

  test('SDM "VMCALL": in VMX root operation VMfail(1) (VM-instruction error 1)', () => {
    expectFailValid(vmcall(rootWithCurrent()), 1);
  });

  test('SDM "VMCALL": VMfail(1) without a current VMCS is VMfailInvalid', () => {
    expect(vmcall(root()).outcome).toEqual({ result: 'VMfailInvalid' });
  });

  test('SDM "VMCLEAR": an address that is not 4-KiB aligned is VMfail(2)', () => {
    expectFailValid(vmclear(rootWithCurrent(), VMCS_B + 8), 2);
  });

  test('SDM "VMCLEAR": an address with bits beyond MAXPHYADDR set is VMfail(2)', () => {
    expectFailValid(vmclear(rootWithCurrent(), 1n << 46n), 2);
  });

  test('SDM "VMCLEAR": the VMXON pointer is VMfail(3)', () => {
    expectFailValid(vmclear(rootWithCurrent(), VMXON_REGION), 3);
  });

  test('SDM "VMLAUNCH": a VMCS that is not clear is VMfailValid(4)', () => {
    const c = markLaunched(rootWithCurrent());
    expectFailValid(vmentryPreconditions(c, 'vmlaunch')!, 4);
  });

  test('SDM "VMRESUME": a VMCS that is not launched is VMfailValid(5)', () => {
    expectFailValid(vmentryPreconditions(rootWithCurrent(), 'vmresume')!, 5);
  });

  test('SDM "VM Instruction Error Numbers" 6: VMRESUME after VMXOFF (VMXOFF and VMXON between VMLAUNCH and VMRESUME)', () => {
    let c = markLaunched(rootWithCurrent());
    c = ok(vmxoff(c));
    c = ok(vmxon(c, VMXON_REGION));
    c = ok(vmptrld(c, VMCS_A));
    expect(c.vmcs.get(VMCS_A)?.launch).toBe('launched');
    expectFailValid(vmentryPreconditions(c, 'vmresume')!, 6);
  });

  test('VMCLEAR after VMXOFF repairs the VMCS: VMLAUNCH preconditions pass again', () => {
    let c = markLaunched(rootWithCurrent());
    c = ok(vmxon(ok(vmxoff(c)), VMXON_REGION));
    c = ok(vmptrld(ok(vmclear(c, VMCS_A)), VMCS_A));
    expect(vmentryPreconditions(c, 'vmlaunch')).toBeUndefined();
  });

  test('VMLAUNCH of a clear VMCS and VMRESUME of a launched one pass the preconditions', () => {
    const c = rootWithCurrent();
    expect(vmentryPreconditions(c, 'vmlaunch')).toBeUndefined();
    expect(vmentryPreconditions(markLaunched(c), 'vmresume')).toBeUndefined();
  });

  test('SDM "VMLAUNCH/VMRESUME": no current VMCS is VMfailInvalid', () => {
    expect(vmentryPreconditions(root(), 'vmlaunch')!.outcome).toEqual({ result: 'VMfailInvalid' });
  });

  test('SDM "VMPTRLD": an address that is not 4-KiB aligned is VMfail(9)', () => {
    expectFailValid(vmptrld(rootWithCurrent(), VMCS_B + 0x10), 9);
  });

  test('SDM "VMPTRLD": an invalid address with no current VMCS is VMfailInvalid', () => {
    expect(vmptrld(root(), 0x123).outcome).toEqual({ result: 'VMfailInvalid' });
  });

  test('SDM "VMPTRLD": the VMXON pointer is VMfail(10)', () => {
    expectFailValid(vmptrld(rootWithCurrent(), VMXON_REGION), 10);
  });

  test('SDM "VMPTRLD": a revision identifier other than IA32_VMX_BASIC[30:0] is VMfail(11)', () => {
    const c0 = rootWithCurrent();
    const c = { ...c0, mem: Phys.write32(c0.mem, VMCS_B, REV + 1) };
    expectFailValid(vmptrld(c, VMCS_B), 11);
  });

  test('SDM "VMPTRLD": shadow-VMCS indicator (bit 31) without VMCS-shadowing support is VMfail(11)', () => {
    const noShadow: Caps = { ...sky, procbased2: sky.procbased2 & ~(1n << (32n + 14n)) };
    const c0 = rootWithCurrent(noShadow);
    const c = { ...c0, mem: Phys.write32(c0.mem, VMCS_B, (REV | 0x8000_0000) >>> 0) };
    expectFailValid(vmptrld(c, VMCS_B), 11);
    // with shadowing supported (server preset), the same region loads
    expect(vmptrld({ ...rootWithCurrent(), mem: c.mem }, VMCS_B).outcome.result).toBe('VMsucceed');
  });

  test('SDM "VMREAD": an unsupported component is VMfailValid(12)', () => {
    expectFailValid(vmread(rootWithCurrent(), 0x0006), 12);
  });

  test('SDM "VMWRITE": reserved encoding bits (bit 12) set is VMfailValid(12)', () => {
    expectFailValid(vmwrite(rootWithCurrent(), F.GUEST_RIP | 0x1000, 1n), 12);
  });

  test('SDM "VMREAD": high access to a natural-width field is VMfailValid(12)', () => {
    expectFailValid(vmread(rootWithCurrent(), F.GUEST_CR0 | 1), 12);
  });

  test('SDM "VMREAD"/"VMWRITE": no current VMCS is VMfailInvalid', () => {
    expect(vmread(root(), F.GUEST_RIP).outcome).toEqual({ result: 'VMfailInvalid' });
    expect(vmwrite(root(), F.GUEST_RIP, 1n).outcome).toEqual({ result: 'VMfailInvalid' });
  });

  test('SDM "VMWRITE": a VM-exit information field is read-only (VMfailValid(13)) when IA32_VMX_MISC[29] = 0', () => {
    const noVmwriteAll: Caps = { ...sky, misc: sky.misc & ~(1n << 29n) };
    expectFailValid(vmwrite(rootWithCurrent(noVmwriteAll), F.EXIT_QUALIFICATION, 1n), 13);
  });

  test('SDM "VMWRITE": with IA32_VMX_MISC[29] = 1 (Skylake) exit-information fields are writable', () => {
    const c = ok(vmwrite(rootWithCurrent(), F.VM_EXIT_REASON, 48n));
    expect(vmread(c, F.VM_EXIT_REASON).outcome).toEqual({ result: 'VMsucceed', value: 48n });
  });

  test('SDM "VMXON": in VMX root operation VMfail(15)', () => {
    expectFailValid(vmxon(rootWithCurrent(), VMXON_REGION), 15);
    expect(vmxon(root(), VMXON_REGION).outcome).toEqual({ result: 'VMfailInvalid' });
  });

  test('SDM "VMXON": bad address or revision outside VMX operation is VMfailInvalid', () => {
    const off = initialCpu(sky, stdMem());
    expect(vmxon(off, VMXON_REGION + 4).outcome).toEqual({ result: 'VMfailInvalid' });
    expect(vmxon(off, 1n << 46n).outcome).toEqual({ result: 'VMfailInvalid' });
    expect(vmxon(off, 0x5000).outcome).toEqual({ result: 'VMfailInvalid' }); // region holds revision 0
    const bit31 = initialCpu(sky, memWith([VMXON_REGION, (REV | 0x8000_0000) >>> 0]));
    expect(vmxon(bit31, VMXON_REGION).outcome).toEqual({ result: 'VMfailInvalid' });
  });

  test('SDM "VMXON": #GP unless IA32_FEATURE_CONTROL is locked with VMX outside SMX enabled', () => {
    const c = initialCpu({ ...sky, featureControl: 0x1n }, stdMem());
    expect(vmxon(c, VMXON_REGION).outcome).toEqual({ result: 'fault', vector: 13, errorCode: 0 });
  });

  test('SDM VMX instructions: #UD outside VMX operation', () => {
    const off = initialCpu(sky, stdMem());
    for (const s of [vmxoff(off), vmclear(off, VMCS_A), vmptrld(off, VMCS_A), vmptrst(off), vmread(off, F.GUEST_RIP),
      vmwrite(off, F.GUEST_RIP, 0n), vmcall(off), invept(off, 2, 0n), invvpid(off, 2, 0n, 0n)]) {
      expect(s.outcome).toEqual({ result: 'fault', vector: 6 });
    }
  });

  test('SDM "VM Instruction Error Numbers" 26: VM entry with events blocked by MOV SS', () => {
    expectFailValid(vmentryPreconditions(withMovSsBlocking(rootWithCurrent(), true), 'vmlaunch')!, 26);
  });

  test('SDM "INVEPT": all-context (type 2) invalidates every EP4TA', () => {
    const s = invept(rootWithCurrent(), 2, 0n);
    expect(s.outcome.result).toBe('VMsucceed');
    expect(s.invalidate).toEqual({ kind: 'ept-all' });
  });

  test('SDM "INVEPT": single-context with a valid EPTP invalidates that EP4TA (EPTP bits N-1:12)', () => {
    // WB (6) | walk length 4 (3 << 3) | A/D (bit 6) | PML4 at 0x7000
    const s = invept(rootWithCurrent(), 1, 0x7000n | 0x5en);
    expect(s.outcome.result).toBe('VMsucceed');
    // the caches tag guest-physical and combined mappings by EP4TA as a page number (0x7000 >> 12)
    expect(s.invalidate).toEqual({ kind: 'ept-single', ep4ta: 0x7000 / 4096 });
  });

  test('SDM "INVEPT": an unsupported type is VMfail(28)', () => {
    expectFailValid(invept(rootWithCurrent(), 0, 0n), 28);
    expectFailValid(invept(rootWithCurrent(), 3, 0n), 28);
    const noSingle: Caps = { ...sky, eptVpidCap: sky.eptVpidCap & ~(1n << 25n) };
    expectFailValid(invept(rootWithCurrent(noSingle), 1, 0x701en), 28);
  });

  test('SDM "INVEPT": single-context with an EPTP failing the VM-entry EPTP checks is VMfail(28)', () => {
    const c = rootWithCurrent();
    expectFailValid(invept(c, 1, 0x7000n | (3n << 3n) | 1n), 28); // memory type 1 (WC)
    expectFailValid(invept(c, 1, 0x7000n | (4n << 3n) | 6n), 28); // 5-level walk on Skylake
    expectFailValid(invept(c, 1, 0x7000n | 0x100n | 0x1en), 28); // reserved bit 8
    expectFailValid(invept(c, 1, (1n << 46n) | 0x1en), 28); // beyond MAXPHYADDR 46
  });

  test('SDM "INVEPT": a 5-level EPTP is valid on Ice Lake (EPT_VPID_CAP bit 7)', () => {
    expect(invept(rootWithCurrent(icx), 1, 0x7000n | (4n << 3n) | 6n).outcome.result).toBe('VMsucceed');
  });

  test('SDM "INVVPID": individual-address invalidates that VPID and linear address', () => {
    const s = invvpid(rootWithCurrent(), 0, 5n, 0xffff_8000_0000_1000n);
    expect(s.outcome.result).toBe('VMsucceed');
    expect(s.invalidate).toEqual({ kind: 'vpid-address', vpid: 5, gva: gvaFromBig(0xffff_8000_0000_1000n) });
  });

  test('SDM "INVVPID": single-context, all-context and single-context-retaining-globals', () => {
    const c = rootWithCurrent();
    expect(invvpid(c, 1, 7n, 0n).invalidate).toEqual({ kind: 'vpid-single', vpid: 7 });
    expect(invvpid(c, 2, 0n, 0n).invalidate).toEqual({ kind: 'vpid-all' });
    expect(invvpid(c, 3, 7n, 0n).invalidate).toEqual({ kind: 'vpid-single-retaining-globals', vpid: 7 });
  });

  test('SDM "INVVPID": descriptor bits 63:16 not zero is VMfail(28)', () => {
    expectFailValid(invvpid(rootWithCurrent(), 2, 1n << 16n, 0n), 28);
  });

  test('SDM "INVVPID": VPID 0 with types 0, 1 and 3 is VMfail(28); type 2 accepts it', () => {
    const c = rootWithCurrent();
    for (const t of [0, 1, 3]) expectFailValid(invvpid(c, t, 0n, 0x1000n), 28);
    expect(invvpid(c, 2, 0n, 0n).outcome.result).toBe('VMsucceed');
  });

  test('SDM "INVVPID": individual-address with a non-canonical linear address is VMfail(28)', () => {
    // 0x0000_8000_0000_0000 is not canonical with 48-bit linear addresses (Skylake) ...
    expectFailValid(invvpid(rootWithCurrent(), 0, 1n, 0x0000_8000_0000_0000n), 28);
    // ... but is canonical with 57-bit linear addresses (Ice Lake, CR4.LA57 supported)
    expect(invvpid(rootWithCurrent(icx), 0, 1n, 0x0000_8000_0000_0000n).outcome.result).toBe('VMsucceed');
  });

  test('SDM "INVVPID": an unsupported type is VMfail(28)', () => {
    expectFailValid(invvpid(rootWithCurrent(), 4, 1n, 0n), 28);
    const noType3: Caps = { ...sky, eptVpidCap: sky.eptVpidCap & ~(1n << 43n) };
    expectFailValid(invvpid(rootWithCurrent(noType3), 3, 1n, 0n), 28);
  });

  test('VMCLEAR of the current VMCS makes the current-VMCS pointer invalid; later failures are VMfailInvalid', () => {
    const c = ok(vmclear(rootWithCurrent(), VMCS_A));
    expect(vmptrst(c).outcome).toEqual({ result: 'VMsucceed', value: 0xffff_ffff_ffff_ffffn });
    expect(vmclear(c, VMCS_A + 1).outcome).toEqual({ result: 'VMfailInvalid' });
  });

  test('VMPTRLD keeps each VMCS\'s fields: switching VMCSs and back reads the first one\'s values', () => {
    let c = ok(vmwrite(rootWithCurrent(), F.GUEST_RIP, 0xaaan));
    c = ok(vmptrld(ok(vmclear(c, VMCS_B)), VMCS_B));
    expect(vmread(c, F.GUEST_RIP).outcome).toEqual({ result: 'VMsucceed', value: 0n });
    c = ok(vmptrld(c, VMCS_A));
    expect(vmread(c, F.GUEST_RIP).outcome).toEqual({ result: 'VMsucceed', value: 0xaaan });
  });
});
