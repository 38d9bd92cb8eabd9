/**
 * SDM "Checks on VMX Controls and Host-State Area", "Checking and Loading Guest State", "Loading MSRs": VM entry
 * reports one outcome, the first failing check in SDM order. `firstEntryFailureCached` re-runs only the checks whose
 * inputs changed since the last entry; these properties compare it with running every check (`firstEntryFailure`)
 * on random sequences of VMCS and memory mutations, as a VMM would apply them between entries.
 */
import fc from 'fast-check';
import * as Phys from '../../src/arch/phys';
import { Caps, presetByName } from '../../src/vmx/caps';
import { vmcsWrite, vmcsWriteAll, type VmcsFields } from '../../src/vmx/cpu';
import { validVmcs } from '../../src/vmx/defaultState';
import { EntryContext, entryRunBounds, firstEntryFailure, firstEntryFailureCached, newRunBounds } from '../../src/vmx/entryChecks';
import { F, FIELDS } from '../../src/vmx/fields';
import { transient } from '../../src/arch/transient';

const preset = (name: string): Caps => {
  const c = presetByName(name);
  if (c === undefined) throw new Error(name);
  return c;
};
const SKL = preset('skylake-server');
const ICL = preset('icelake-server');
// EPTP: WB (6), 4-level (bits 5:3 = 3), PML4 at 2 MiB (SDM "Extended-Page-Table Pointer")
const EPTP = 0x200000n | (3n << 3n) | 6n;

/**
 * Entries checked both ways: `entry(f)` runs the memoized and the full entry checks on Skylake fields `f` (no memory),
 * expects the same result, and records the failing check's id (undefined: the entry passes) in `ids`.
 */
const entryRecorder = (): { ids: (string | undefined)[]; entry: (f: VmcsFields) => void } => {
  const ids: (string | undefined)[] = [];
  const ctxOf = (f: VmcsFields): EntryContext => ({ caps: SKL, fields: f, mem: Phys.empty, currentVmcs: 0x10000, vmxonPtr: 0x11000 });
  return {
    ids,
    entry: (f) => {
      const r = firstEntryFailureCached(ctxOf(f));
      expect(r).toEqual(firstEntryFailure(ctxOf(f)));
      ids.push(r?.id);
    },
  };
};

/** fields a mutation picks from: every field of the table, weighted towards the ones the checks read most */
const HOT = [
  F.PIN_BASED_VM_EXEC_CONTROL, F.CPU_BASED_VM_EXEC_CONTROL, F.SECONDARY_VM_EXEC_CONTROL, F.VM_EXIT_CONTROLS,
  F.VM_ENTRY_CONTROLS, F.VM_ENTRY_INTR_INFO_FIELD, F.GUEST_INTERRUPTIBILITY_INFO, F.GUEST_ACTIVITY_STATE,
  F.GUEST_RFLAGS, F.GUEST_RIP, F.GUEST_CR0, F.GUEST_CR4, F.GUEST_CS_AR_BYTES, F.GUEST_SS_AR_BYTES, F.GUEST_TR_AR_BYTES,
  F.VMCS_LINK_POINTER, F.VM_ENTRY_MSR_LOAD_COUNT, F.VM_ENTRY_MSR_LOAD_ADDR, F.EPT_POINTER, F.VIRTUAL_APIC_PAGE_ADDR,
  F.TPR_THRESHOLD, F.GUEST_PENDING_DBG_EXCEPTIONS,
];

type Mutation =
  | { readonly kind: 'flip'; readonly enc: number; readonly bit: number }
  | { readonly kind: 'set'; readonly enc: number; readonly value: bigint }
  | { readonly kind: 'restore'; readonly enc: number }
  | { readonly kind: 'copy' }
  | { readonly kind: 'mem'; readonly addr: number; readonly value: bigint };

const encArb = fc.oneof(fc.constantFrom(...HOT), fc.constantFrom(...FIELDS.map((f) => f.encoding)));
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), enc: encArb, bit: fc.nat(63) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('set' as const), enc: encArb, value: fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('restore' as const), enc: encArb }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'copy' as const }) },
  // the MSR-load list at 0xF000, the VMCS link region, a virtual-APIC page
  {
    weight: 2, arbitrary: fc.record({
      kind: fc.constant('mem' as const), addr: fc.constantFrom(0xf000, 0xf008, 0xf010, 0xf018, 0x3000, 0x4080),
      value: fc.oneof(fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }), fc.constantFrom(0xc0000080n, 0x808n, 0x277n, 0n)),
    }),
  },
);

const apply = (valid: VmcsFields, f: VmcsFields, mem: Phys.PhysMem, x: Mutation): { f: VmcsFields; mem: Phys.PhysMem } => {
  switch (x.kind) {
    case 'flip': return { f: vmcsWrite(f, x.enc, (f.get(x.enc) ?? 0n) ^ (1n << BigInt(x.bit))), mem };
    case 'set': return { f: vmcsWrite(f, x.enc, x.value), mem };
    case 'restore': return { f: vmcsWrite(f, x.enc, valid.get(x.enc) ?? 0n), mem };
    // a field map not made by vmcsWrite (no record of what changed): the cached path must compare values
    case 'copy': return { f: new Map(f), mem };
    case 'mem': return { f, mem: Phys.write64(mem, x.addr, x.value) };
    default: { const never: never = x; throw new Error(String(never)); }
  }
};

const sequenceAgrees = (caps: Caps, muts: readonly Mutation[], hostLma: boolean | undefined): void => {
  const valid = validVmcs(caps, { cr3: 0x1000n }, { eptp: EPTP, vpid: 1 });
  let f: VmcsFields = valid;
  let mem = Phys.empty;
  const states: Array<{ f: VmcsFields; mem: Phys.PhysMem }> = [{ f, mem }];
  const ctxOf = (s: { f: VmcsFields; mem: Phys.PhysMem }): EntryContext => ({
    caps, fields: s.f, mem: s.mem, currentVmcs: 0x10000, vmxonPtr: 0x11000, ...(hostLma === undefined ? {} : { hostLma }),
  });
  expect(firstEntryFailureCached(ctxOf(states[0]))).toEqual(firstEntryFailure(ctxOf(states[0])));
  for (const x of muts) {
    ({ f, mem } = apply(valid, f, mem, x));
    states.push({ f, mem });
    expect(firstEntryFailureCached(ctxOf({ f, mem }))).toEqual(firstEntryFailure(ctxOf({ f, mem })));
  }
  // going back to an older VMCS (a forked replay state) gives that VMCS's outcome, not the last one's
  for (const s of [...states].reverse()) expect(firstEntryFailureCached(ctxOf(s))).toEqual(firstEntryFailure(ctxOf(s)));
};

describe('firstEntryFailureCached gives the outcome of running every check (SDM: one error reported, in check order)', () => {
  it('on random VMCS and memory mutations of a valid VMCS (skylake-server)', () => {
    fc.assert(fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 30 }), (muts) => {
      sequenceAgrees(SKL, muts, undefined);
    }), { numRuns: 80 });
  });

  it('on random mutations with another capability set and a 32-bit host (icelake-server, IA32_EFER.LMA = 0)', () => {
    fc.assert(fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 20 }), (muts) => {
      sequenceAgrees(ICL, muts, false);
    }), { numRuns: 60 });
  });

  it('inside a transient scope, where each VMCS version is written over in place by the next (a replay chunk)', () => {
    fc.assert(fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 30 }), (muts) => {
      const valid = validVmcs(SKL, { cr3: 0x1000n }, { eptp: EPTP, vpid: 1 });
      const ctxOf = (f: VmcsFields, mem: Phys.PhysMem): EntryContext => ({ caps: SKL, fields: f, mem, currentVmcs: 0x10000, vmxonPtr: 0x11000 });
      // the memo may still describe a version from before: start it on `valid` outside the scope
      expect(firstEntryFailureCached(ctxOf(valid, Phys.empty))).toEqual(firstEntryFailure(ctxOf(valid, Phys.empty)));
      transient(() => {
        let f: VmcsFields = valid;
        let mem = Phys.empty;
        for (const x of muts) {
          ({ f, mem } = apply(valid, f, mem, x));
          expect(firstEntryFailureCached(ctxOf(f, mem))).toEqual(firstEntryFailure(ctxOf(f, mem)));
        }
      });
    }), { numRuns: 80 });
  });

  // the entry after an emulated instruction: the exit writes its information fields (no check reads them), the VMM
  // advances RIP; only the guest-rip check runs again (src/vmx/entryChecks.ts `ripOnly`), the others keep their verdicts
  it('after exits that write the exit-information fields, advance RIP and inject or clear an interrupt, across the ends of the linear-address range', () => {
    const ripArb = fc.oneof(
      fc.constantFrom(0n, 0xffff_fff0n, 0xffff_fff8n, 0x1_0000_0000n, (1n << 47n) - 8n, (1n << 48n) - 8n, (1n << 57n) - 8n, (1n << 64n) - (1n << 48n) - 2n, (1n << 64n) - 8n),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    );
    const stepArb = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('emulate' as const), len: fc.integer({ min: 0, max: 15 }), reason: fc.constantFrom(10n, 12n, 30n, 31n, 32n), qual: fc.bigInt({ min: 0n, max: 0xffffn }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('jump' as const), rip: ripArb }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('mutate' as const), m: mutationArb }) },
      // CS.L (64-bit code or compatibility mode: which RIP values pass); more generations of writes than a store
      // remembers (the memo then compares its copies of the hot values), then again, then RIP back to its first value
      { weight: 1, arbitrary: fc.constantFrom({ kind: 'cs-l' as const }, { kind: 'burst' as const }, { kind: 'back' as const }) },
      // an external interrupt injected (the VMM after an interrupt exit; RIP stays), the exit after it clearing the
      // valid bit, RFLAGS.IF flipped (an injected external interrupt needs IF = 1)
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('inject' as const), vector: fc.constantFrom(0x20, 0x30, 0xec) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('exit' as const), len: fc.integer({ min: 0, max: 3 }) }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'if' as const }) },
    );
    fc.assert(fc.property(ripArb, fc.boolean(), fc.boolean(), fc.array(stepArb, { minLength: 1, maxLength: 40 }), (rip0, la57, inScope, steps) => {
      const valid = validVmcs(SKL, { cr3: 0x1000n }, { eptp: EPTP, vpid: 1 });
      const ctxOf = (f: VmcsFields, mem: Phys.PhysMem): EntryContext => ({ caps: SKL, fields: f, mem, currentVmcs: 0x10000, vmxonPtr: 0x11000 });
      const body = (): void => {
        let f = vmcsWrite(vmcsWrite(valid, F.GUEST_RIP, rip0), F.GUEST_CR4, (valid.get(F.GUEST_CR4) ?? 0n) | (la57 ? 1n << 12n : 0n));
        let mem = Phys.empty;
        expect(firstEntryFailureCached(ctxOf(f, mem))).toEqual(firstEntryFailure(ctxOf(f, mem)));
        for (const st of steps) {
          if (st.kind === 'emulate') {
            const rip = ((f.get(F.GUEST_RIP) ?? 0n) + BigInt(st.len)) & 0xffff_ffff_ffff_ffffn;
            f = vmcsWriteAll(f, [[F.VM_EXIT_REASON, st.reason], [F.EXIT_QUALIFICATION, st.qual], [F.VM_EXIT_INSTRUCTION_LEN, BigInt(st.len)], [F.GUEST_RIP, rip]]);
          } else if (st.kind === 'jump') {
            f = vmcsWrite(f, F.GUEST_RIP, st.rip);
          } else if (st.kind === 'cs-l') {
            f = vmcsWrite(f, F.GUEST_CS_AR_BYTES, (f.get(F.GUEST_CS_AR_BYTES) ?? 0n) ^ (1n << 13n));
          } else if (st.kind === 'burst') {
            for (let k = 1n; k <= 20n; k++) f = vmcsWrite(f, F.EXIT_QUALIFICATION, k);
          } else if (st.kind === 'inject') {
            f = vmcsWriteAll(f, [[F.VM_EXIT_REASON, 1n], [F.VM_ENTRY_INTR_INFO_FIELD, 0x8000_0000n | BigInt(st.vector)]]);
          } else if (st.kind === 'exit') {
            const info = f.get(F.VM_ENTRY_INTR_INFO_FIELD) ?? 0n;
            const rip = ((f.get(F.GUEST_RIP) ?? 0n) + BigInt(st.len)) & 0xffff_ffff_ffff_ffffn;
            f = vmcsWriteAll(f, [[F.VM_EXIT_REASON, 12n], [F.VM_ENTRY_INTR_INFO_FIELD, info & ~0x8000_0000n], [F.GUEST_RIP, rip]]);
          } else if (st.kind === 'if') {
            f = vmcsWrite(f, F.GUEST_RFLAGS, (f.get(F.GUEST_RFLAGS) ?? 0n) ^ (1n << 9n));
          } else if (st.kind === 'back') {
            for (let k = 1n; k <= 20n; k++) f = vmcsWrite(f, F.EXIT_QUALIFICATION, k);
            f = vmcsWrite(f, F.GUEST_RIP, rip0);
          } else {
            ({ f, mem } = apply(valid, f, mem, st.m));
          }
          expect(firstEntryFailureCached(ctxOf(f, mem))).toEqual(firstEntryFailure(ctxOf(f, mem)));
        }
      };
      if (inScope) transient(body); else body();
    }), { numRuns: 150 });
  });

  it('RIP advanced past 2^32 in 64-bit mode, CS.L cleared (compatibility mode: fails), then RIP back below 2^32 after a long history (passes)', () => {
    const valid = validVmcs(SKL, { cr3: 0x1000n }, { eptp: EPTP, vpid: 1 });
    let f = vmcsWrite(valid, F.GUEST_RIP, 0xffff_fff8n);
    const { ids, entry } = entryRecorder();
    entry(f);
    f = vmcsWriteAll(f, [[F.VM_EXIT_REASON, 10n], [F.VM_EXIT_INSTRUCTION_LEN, 12n], [F.GUEST_RIP, 0x1_0000_0004n]]);
    entry(f);
    f = vmcsWrite(f, F.GUEST_CS_AR_BYTES, (f.get(F.GUEST_CS_AR_BYTES) ?? 0n) ^ (1n << 13n));
    entry(f);
    for (let k = 1n; k <= 20n; k++) f = vmcsWrite(f, F.EXIT_QUALIFICATION, k);
    f = vmcsWrite(f, F.GUEST_RIP, 0xffff_fff8n);
    entry(f);
    expect(ids).toEqual([undefined, undefined, 'guest-rip', undefined]);
  });

  // ripOnly keeps the guest-rip rule (32-bit RIP, or bits 63:48 identical) of the memo's fields while only RIP changes;
  // an entry that changed CS.L through the general update (a store's history, or beyond it) must drop it
  it('RIP past 2^32 in 64-bit mode, then CS.L cleared with RIP below 2^32 (passes), then RIP past 2^32 again: guest-rip fails', () => {
    const valid = validVmcs(SKL, { cr3: 0x1000n }, { eptp: EPTP, vpid: 1 });
    for (const longHistory of [false, true]) {
      let f = vmcsWrite(valid, F.GUEST_RIP, 0x1000n);
      const { ids, entry } = entryRecorder();
      entry(f);
      f = vmcsWriteAll(f, [[F.VM_EXIT_REASON, 10n], [F.VM_EXIT_INSTRUCTION_LEN, 2n], [F.GUEST_RIP, 0x1_0000_0000n]]);
      entry(f);
      f = vmcsWriteAll(f, [[F.GUEST_CS_AR_BYTES, (f.get(F.GUEST_CS_AR_BYTES) ?? 0n) ^ (1n << 13n)], [F.GUEST_RIP, 0x2000n]]);
      if (longHistory) for (let k = 1n; k <= 20n; k++) f = vmcsWrite(f, F.EXIT_QUALIFICATION, k);
      entry(f);
      f = vmcsWriteAll(f, [[F.VM_EXIT_REASON, 10n], [F.GUEST_RIP, 0x1_0000_0008n]]);
      entry(f);
      expect(ids).toEqual([undefined, undefined, undefined, 'guest-rip']);
    }
  });

  // src/vmx/entry.ts runExit: the entries of a run of fused round trips are answered from the bounds entryRunBounds
  // takes from the memo of the last entry checked (the fields then differ in RIP, the injection field and
  // exit-information fields only)
  it('entryRunBounds: every entry its bounds pass passes all checks (firstEntryFailure), after exits, injections, RIP jumps and IF flips', () => {
    const EXIT_INFO = [F.VM_EXIT_REASON, F.IDT_VECTORING_INFO_FIELD, F.EXIT_QUALIFICATION, F.VM_EXIT_INTR_INFO, F.VM_EXIT_INSTRUCTION_LEN];
    const ripArb = fc.oneof(
      fc.constantFrom(0x1000n, 0xffff_fff8n, 0x1_0000_0000n, (1n << 47n) - 8n, (1n << 48n) - 8n, (1n << 57n) - 8n, (1n << 64n) - (1n << 48n) - 2n, (1n << 64n) - 8n),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    );
    const stepArb = fc.oneof(
      fc.record({ kind: fc.constant('emulate' as const), len: fc.integer({ min: 1, max: 15 }) }),
      fc.record({ kind: fc.constant('jump' as const), rip: ripArb }),
      fc.record({ kind: fc.constant('inject' as const), vector: fc.constantFrom(0x20, 0xec) }),
      fc.constantFrom({ kind: 'exit' as const }, { kind: 'if' as const }, { kind: 'cs-l' as const }),
    );
    let passed = 0;
    let edges = 0;
    // the largest offset the bounds answer for (src/vmx/entryChecks.ts RIP_SPAN_MAX)
    const SPAN_CAP = 2 ** 30 - 1;
    const b = newRunBounds();
    fc.assert(fc.property(ripArb, fc.boolean(), fc.array(stepArb, { minLength: 1, maxLength: 30 }), fc.array(ripArb, { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 2 ** 52 }), (rip0, la57, steps, probes, offArb) => {
      const valid = validVmcs(SKL, { cr3: 0x1000n }, { eptp: EPTP, vpid: 1 });
      const ctxOf = (f: VmcsFields): EntryContext => ({ caps: SKL, fields: f, mem: Phys.empty, currentVmcs: 0x10000, vmxonPtr: 0x11000 });
      let f = vmcsWrite(vmcsWrite(valid, F.GUEST_RIP, rip0), F.GUEST_CR4, (valid.get(F.GUEST_CR4) ?? 0n) | (la57 ? 1n << 12n : 0n));
      for (const st of steps) {
        const rip = f.get(F.GUEST_RIP) ?? 0n;
        const inj = f.get(F.VM_ENTRY_INTR_INFO_FIELD) ?? 0n;
        if (st.kind === 'emulate') f = vmcsWriteAll(f, [[F.VM_EXIT_REASON, 10n], [F.GUEST_RIP, (rip + BigInt(st.len)) & 0xffff_ffff_ffff_ffffn]]);
        else if (st.kind === 'jump') f = vmcsWrite(f, F.GUEST_RIP, st.rip);
        else if (st.kind === 'inject') f = vmcsWriteAll(f, [[F.VM_EXIT_REASON, 1n], [F.VM_ENTRY_INTR_INFO_FIELD, 0x8000_0000n | BigInt(st.vector)]]);
        else if (st.kind === 'exit') f = vmcsWriteAll(f, [[F.VM_EXIT_REASON, 12n], [F.VM_ENTRY_INTR_INFO_FIELD, inj & ~0x8000_0000n]]);
        else if (st.kind === 'if') f = vmcsWrite(f, F.GUEST_RFLAGS, (f.get(F.GUEST_RFLAGS) ?? 0n) ^ (1n << 9n));
        else f = vmcsWrite(f, F.GUEST_CS_AR_BYTES, (f.get(F.GUEST_CS_AR_BYTES) ?? 0n) ^ (1n << 13n));
        // the memo now describes f; ask about f with RIPs from other bases and other injection values (the memo is
        // left as it is)
        if (firstEntryFailureCached(ctxOf(f)) !== undefined) continue;
        const injNow = f.get(F.VM_ENTRY_INTR_INFO_FIELD) ?? 0n;
        for (const base of [...probes, (f.get(F.GUEST_RIP) ?? 0n)]) {
          if (!entryRunBounds(ctxOf(f), EXIT_INFO, base, b)) continue;
          // the offsets at the edges of the bounds (and one past), one within, the memo's RIP
          const offs = [0, 1, 15, b.ripMax, b.ripMax + 1, Math.min(offArb, b.ripMax), b.ripHot].filter((o) => o >= 0 && o <= 2 ** 52);
          for (const off of offs) {
            const r = base + BigInt(off);
            for (const i of [injNow, injNow & ~0x8000_0000n, 0x8000_00ecn, 0xecn, 0n]) {
              if (!(off <= b.ripMax || off === b.ripHot) || !b.inj.slice(0, b.injN).includes(Number(i))) continue;
              passed++;
              if (off === b.ripMax && off < SPAN_CAP) edges++;
              expect(r < 1n << 64n).toBe(true);
              const g = vmcsWriteAll(f, [[F.VM_EXIT_REASON, 30n], [F.EXIT_QUALIFICATION, 0x3f80001n], [F.VM_EXIT_INSTRUCTION_LEN, 2n], [F.GUEST_RIP, r], [F.VM_ENTRY_INTR_INFO_FIELD, i]]);
              expect(firstEntryFailure(ctxOf(g))).toBeUndefined();
            }
          }
          // one past the last RIP the bounds pass (when that is not their cap, nor the memo's RIP): the entry fails, or
          // RIP wraps
          if (b.ripMax >= 0 && b.ripMax < SPAN_CAP && b.ripMax + 1 !== b.ripHot && b.injN > 0) {
            const r = base + BigInt(b.ripMax + 1);
            if (r < 1n << 64n) {
              const g = vmcsWriteAll(f, [[F.GUEST_RIP, r], [F.VM_ENTRY_INTR_INFO_FIELD, BigInt(b.inj[0])]]);
              expect(firstEntryFailure(ctxOf(g))?.id).toBe('guest-rip');
            }
          }
        }
      }
    }), { numRuns: 120 });
    expect(passed).toBeGreaterThan(100);
    expect(edges).toBeGreaterThan(10);
  });

  it('an interrupt injected after each HLT, then RFLAGS.IF cleared: the next injection fails (guest-rflags-if-injection)', () => {
    const valid = validVmcs(SKL, { cr3: 0x1000n }, { eptp: EPTP, vpid: 1 });
    let f = vmcsWrite(valid, F.GUEST_RFLAGS, (valid.get(F.GUEST_RFLAGS) ?? 0n) | (1n << 9n));
    const { ids, entry } = entryRecorder();
    const inject = (): void => { f = vmcsWriteAll(f, [[F.VM_EXIT_REASON, 1n], [F.VM_ENTRY_INTR_INFO_FIELD, 0x8000_00ecn]]); };
    const hlt = (): void => {
      f = vmcsWriteAll(f, [[F.VM_EXIT_REASON, 12n], [F.VM_ENTRY_INTR_INFO_FIELD, 0xecn], [F.GUEST_RIP, (f.get(F.GUEST_RIP) ?? 0n) + 1n]]);
    };
    entry(f);
    for (let k = 0; k < 3; k++) { hlt(); entry(f); inject(); entry(f); }
    hlt();
    f = vmcsWrite(f, F.GUEST_RFLAGS, (f.get(F.GUEST_RFLAGS) ?? 0n) & ~(1n << 9n));
    entry(f);
    inject();
    entry(f);
    // IF set again, the toggling again; then IF cleared after a history longer than a store remembers
    hlt();
    f = vmcsWrite(f, F.GUEST_RFLAGS, (f.get(F.GUEST_RFLAGS) ?? 0n) | (1n << 9n));
    entry(f);
    for (let k = 0; k < 3; k++) { inject(); entry(f); hlt(); entry(f); }
    for (let k = 1n; k <= 20n; k++) f = vmcsWrite(f, F.EXIT_QUALIFICATION, k);
    f = vmcsWrite(f, F.GUEST_RFLAGS, (f.get(F.GUEST_RFLAGS) ?? 0n) & ~(1n << 9n));
    entry(f);
    inject();
    entry(f);
    const pass = (n: number): undefined[] => Array<undefined>(n).fill(undefined);
    expect(ids).toEqual([...pass(8), 'guest-rflags-if-injection', ...pass(8), 'guest-rflags-if-injection']);
  });

  it('SDM "Loading MSRs": an MSR-load entry written in memory after a passing entry fails the next entry (exit 34)', () => {
    const valid = validVmcs(SKL, { cr3: 0x1000n }, { eptp: EPTP, vpid: 1 });
    const f = vmcsWrite(vmcsWrite(valid, F.VM_ENTRY_MSR_LOAD_ADDR, 0xf000n), F.VM_ENTRY_MSR_LOAD_COUNT, 1n);
    const ctx = (mem: Phys.PhysMem): EntryContext => ({ caps: SKL, fields: f, mem, currentVmcs: 0x10000, vmxonPtr: 0x11000 });
    // entry 1: IA32_PAT (277H) with a valid value passes; then IA32_FS_BASE (C0000100H) may not be loaded
    const ok = Phys.write64(Phys.write32(Phys.empty, 0xf000, 0x277), 0xf008, 0x0007_0406_0007_0406n);
    expect(firstEntryFailureCached(ctx(ok))).toBeUndefined();
    const bad = Phys.write32(ok, 0xf000, 0xc0000100);
    expect(firstEntryFailureCached(ctx(bad))?.outcome).toEqual({ kind: 'exit', reason: 34, qualification: 1n });
  });
});
