/**
 * The caches of the VM-exit round trip give what the uncached code would: a VM exit leaves out the guest-state saves
 * when the guest is the very state the last entry loaded from the very same fields (SDM "Saving Guest State" would
 * write back the values the fields hold), and VM entry reuses the controls, walk configuration, VPID and timer mode
 * of the last entry while the stamps of the fields they read are unchanged (SDM "VM Entries"; the same values as
 * decoding the VMCS afresh).
 */
import fc from 'fast-check';
import { DEFAULT_CONFIG } from '../../src/replay/config';
import { startReplay } from '../../src/replay/replay';
import { currentFields, vmcsRead, vmcsWriteAll, withCurrentFields } from '../../src/vmx/cpu';
import { vmEntry, walkConfigOf } from '../../src/vmx/entry';
import { vmExit } from '../../src/vmx/exit';
import { fromVmcs } from '../../src/vmx/exitConditions';
import { F } from '../../src/vmx/fields';
import { R } from '../../src/vmx/exitReasons';
import { transient } from '../../src/arch/transient';
import type { Machine } from '../../src/vmx/machine';

const running = (): Machine => {
  const s = startReplay({ ...DEFAULT_CONFIG, mode: 'ept' });
  if (s._tag !== 'Right') throw new Error('replay did not start');
  const m = s.right.machine;
  if (m.guest === null || m.nonRoot === null) throw new Error('guest not running');
  return m;
};

const CPUID = { reason: R.CPUID, qualification: 0n, instructionLength: 2 };

describe('VM exit: guest-state saves left out only when they would write what the fields hold', () => {
  it('an exit of the guest the entry loaded gives the same VMCS as an exit of an equal copy of it', () => {
    const m = running();
    const a = vmExit(m, CPUID);
    const b = vmExit({ ...m, guest: { ...m.guest! } }, CPUID);
    expect([...currentFields(a.machine.cpu)]).toEqual([...currentFields(b.machine.cpu)]);
    expect(a.exit).toEqual(b.exit);
  });

  it('a guest changed after entry (RIP, CR0, HLT, PML index) is saved', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 511 }), (rip, activity, pml) => {
      const m = running();
      const g = { ...m.guest!, rip, activity, pmlIndex: pml };
      const x = vmExit({ ...m, guest: g }, CPUID);
      const f = currentFields(x.machine.cpu);
      expect(vmcsRead(f, F.GUEST_RIP)).toBe(rip);
      expect(vmcsRead(f, F.GUEST_ACTIVITY_STATE)).toBe(BigInt(activity));
      expect(vmcsRead(f, F.GUEST_PML_INDEX)).toBe(BigInt(pml));
    }), { numRuns: 30 });
  });
});

describe('VM exit: a copy of the loaded guest that differs only in CR2 saves nothing; any saved register that differs is saved', () => {
  const SAVED = [
    ['cr0', F.GUEST_CR0, 0x8005_0033n], ['cr3', F.GUEST_CR3, 0x7_3000n], ['cr4', F.GUEST_CR4, 0x3_26e0n],
    ['rip', F.GUEST_RIP, 0x40_1234n], ['rflags', F.GUEST_RFLAGS, 0x246n], ['efer', F.GUEST_IA32_EFER, 0xd01n],
    ['activity', F.GUEST_ACTIVITY_STATE, 1], ['pmlIndex', F.GUEST_PML_INDEX, 17],
  ] as const;
  // after one round trip: the launch's fields lack some that the first exit's saves create, so only from then on does
  // the entry note the guest it loaded (src/vmx/exit.ts noteGuestLoaded)
  const resumed = (): Machine => {
    const e = vmEntry(vmExit(running(), CPUID).machine, 'vmresume');
    expect(e.outcome.result).toBe('entered');
    return e.machine;
  };

  it('CR2 alone: the same VMCS as an exit of the loaded guest itself', () => {
    const m = resumed();
    const a = vmExit(m, CPUID);
    const b = vmExit({ ...m, guest: { ...m.guest!, cr2: 0xdead_b000n } }, CPUID);
    expect([...currentFields(b.machine.cpu)]).toEqual([...currentFields(a.machine.cpu)]);
  });

  it('each saved register changed (with CR2) is written to its field', () => {
    for (const [key, enc, value] of SAVED) {
      const m = resumed();
      // the exit saves IA32_EFER only with "save IA32_EFER" (SDM "Saving Guest State"): the field then changes or not
      const saveEfer = (vmcsRead(currentFields(m.cpu), F.VM_EXIT_CONTROLS) & (1n << 20n)) !== 0n;
      const x = vmExit({ ...m, guest: { ...m.guest!, cr2: 0x1000n, [key]: value } }, CPUID);
      const f = currentFields(x.machine.cpu);
      const expected = key === 'efer' && !saveEfer ? vmcsRead(currentFields(m.cpu), enc) : BigInt(value);
      expect([key, vmcsRead(f, enc)]).toEqual([key, expected]);
    }
  });
});

describe('VM exit: the interruption-information field (a memo of the last value as a bigint)', () => {
  it('holds each exit\'s own interruption information, whatever the exits before', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 0xff }), { minLength: 1, maxLength: 8 }), (vectors) => {
      for (const v of vectors) {
        const info = 0x8000_0000 + v;
        const x = vmExit(running(), { reason: R.EXTERNAL_INTERRUPT, qualification: 0n, interruptionInfo: info });
        expect(vmcsRead(currentFields(x.machine.cpu), F.VM_EXIT_INTR_INFO)).toBe(BigInt(info));
        expect(x.exit.interruptionInfo).toBe(info);
      }
    }), { numRuns: 30 });
  });
});

describe('VM exit: exit-information writes left out when the store of the last exit already holds the values', () => {
  it('an exit after a failed VM entry (its reason with bit 31 set) records its own reason, the same as the exit before', () => {
    const a = vmExit(running(), CPUID).machine;
    const e1 = vmEntry(a, 'vmresume');
    expect(e1.outcome.result).toBe('entered');
    // what vmEntry records when a check on guest state or the MSR-load list fails (SDM "VM-Entry Failures During or
    // After Loading Guest State"); nothing in the VMCS needs fixing, so the next VMRESUME starts from the same store
    const failed = vmExit(e1.machine, { reason: R.MSR_LOAD_FAIL, qualification: 1n }, true).machine;
    expect(vmcsRead(currentFields(failed.cpu), F.VM_EXIT_REASON)).toBe(0x8000_0000n | BigInt(R.MSR_LOAD_FAIL));
    const e2 = vmEntry(failed, 'vmresume');
    expect(e2.outcome.result).toBe('entered');
    const x = vmExit(e2.machine, CPUID).machine;
    expect(vmcsRead(currentFields(x.cpu), F.VM_EXIT_REASON)).toBe(BigInt(R.CPUID));
    expect(vmcsRead(currentFields(x.cpu), F.EXIT_QUALIFICATION)).toBe(0n);
  });
});

describe('VM entry: decoded controls reused only while their fields are unchanged', () => {
  // control fields a VMM may change between entries, with values that keep the VMCS valid
  const writeArb = fc.oneof(
    fc.tuple(fc.constant(F.EXCEPTION_BITMAP), fc.bigInt({ min: 0n, max: 0xffff_ffffn })),
    fc.tuple(fc.constant(F.TSC_OFFSET), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
    fc.tuple(fc.constant(F.CR0_READ_SHADOW), fc.bigInt({ min: 0n, max: 0xffffn })),
    fc.tuple(fc.constant(F.VIRTUAL_PROCESSOR_ID), fc.bigInt({ min: 1n, max: 0xffffn })),
    fc.tuple(fc.constant(F.GUEST_RIP), fc.bigInt({ min: 0n, max: (1n << 47n) - 1n })),
    fc.tuple(fc.constant(F.GUEST_PML_INDEX), fc.bigInt({ min: 0n, max: 511n })),
  );

  it('after random VMWRITEs between exits and entries, the loaded controls, walk and VPID equal a fresh decode', () => {
    fc.assert(fc.property(fc.array(fc.array(writeArb, { maxLength: 3 }), { minLength: 1, maxLength: 8 }), (rounds) => {
      let m = running();
      for (const writes of rounds) {
        const x = vmExit(m, CPUID).machine;
        const f = vmcsWriteAll(currentFields(x.cpu), writes);
        const e = vmEntry({ ...x, cpu: withCurrentFields(x.cpu, f) }, 'vmresume');
        expect(e.outcome).toEqual({ result: 'entered' });
        m = e.machine;
        const nr = m.nonRoot!;
        expect(nr.controls).toEqual(fromVmcs(f, m.cpu.mem));
        expect(nr.walk).toEqual(walkConfigOf(m.cpu.caps, f, m.guest!));
        expect(nr.vpid).toBe(Number(vmcsRead(f, F.VIRTUAL_PROCESSOR_ID)));
      }
    }), { numRuns: 40 });
  });

  it('the same inside a transient scope (fields written in place), with and without an access to retry: the whole non-root state equals a fresh one', () => {
    const retryArb = fc.option(fc.record({ op: fc.constantFrom('read' as const, 'write' as const), gva: fc.nat(0xffff_ffff), size: fc.constant(8), user: fc.boolean() }), { nil: null });
    fc.assert(fc.property(fc.array(fc.tuple(fc.array(writeArb, { maxLength: 3 }), retryArb), { minLength: 1, maxLength: 8 }), (rounds) => {
      transient(() => {
        let m = running();
        for (const [writes, retry] of rounds) {
          const x = vmExit(m, CPUID).machine;
          const f = vmcsWriteAll(currentFields(x.cpu), writes);
          const before = { ...x, cpu: withCurrentFields(x.cpu, f), pendingRetry: retry as Machine['pendingRetry'] };
          const e = vmEntry(before, 'vmresume');
          expect(e.outcome).toEqual({ result: 'entered' });
          m = e.machine;
          const g = currentFields(m.cpu);
          expect(m.nonRoot).toEqual({
            controls: fromVmcs(g, m.cpu.mem), walk: walkConfigOf(m.cpu.caps, g, m.guest!),
            vpid: Number(vmcsRead(g, F.VIRTUAL_PROCESSOR_ID)), timer: null, retry,
          });
        }
      });
    }), { numRuns: 40 });
  });
});

describe('SDM "Updating VM-Entry Control Fields": a VM exit clears the valid bit of the VM-entry interruption-information field', () => {
  it('written 0 when the field is absent, its valid bit cleared when set, left as it is when clear', () => {
    const m = running();
    const withInfo = (v: bigint | undefined): Machine => {
      const fields = new Map([...currentFields(m.cpu)].filter(([k]) => k !== F.VM_ENTRY_INTR_INFO_FIELD));
      if (v !== undefined) fields.set(F.VM_ENTRY_INTR_INFO_FIELD, v);
      return { ...m, cpu: withCurrentFields(m.cpu, fields) };
    };
    for (const [before, after] of [[undefined, 0n], [0x8000_00ecn, 0xecn], [0xecn, 0xecn], [0n, 0n]] as const) {
      const f = currentFields(vmExit(withInfo(before), CPUID).machine.cpu);
      expect(f.has(F.VM_ENTRY_INTR_INFO_FIELD)).toBe(true);
      expect(f.get(F.VM_ENTRY_INTR_INFO_FIELD)).toBe(after);
    }
  });
});
