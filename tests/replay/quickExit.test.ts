/**
 * The fused exit round trip of the replay engine (src/replay/replay.ts `quickRoundTrip`: src/vmx/entry.ts
 * `exitAndResume` with src/replay/hypervisor.ts `quickHandling`) against the general path (guestStep's exit,
 * handleExit, prepareEntry, vmEntry): the same statistics, exit log, machine and hypervisor, over random exit-heavy
 * traces and configurations (VPID on and off, the preemption timer and its save at exit, "acknowledge interrupt on exit" off, MSR and I/O
 * bitmaps, PML, an RIP close to the end of the 48-bit linear range, RFLAGS.IF = 0 so that an injected interrupt fails the
 * entry checks).
 */
import fc from 'fast-check';
import { isRight } from 'fp-ts/Either';
import { gva as mkGva } from '../../src/arch/addr';
import type { GuestEvent } from '../../src/guest/events';
import { DEFAULT_CONFIG, type Config } from '../../src/replay/config';
import { replayChunk, replayState, setQuickExits, startReplay, type ChunkResult, type ReplayState } from '../../src/replay/replay';
import * as Phys from '../../src/arch/phys';
import * as Tlb from '../../src/mmu/tlb';
import { currentFields } from '../../src/vmx/cpu';
import { F } from '../../src/vmx/fields';
import { R } from '../../src/vmx/exitReasons';
import { withMem, type Machine } from '../../src/vmx/machine';

const BASE = 0x40_0000;

const eventArb: fc.Arbitrary<GuestEvent> = fc.oneof(
  fc.record({ op: fc.constant('cpuid' as const), leaf: fc.integer({ min: 0, max: 0x20 }), subleaf: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ op: fc.constantFrom('in' as const, 'out' as const), port: fc.constantFrom(0x3f8, 0x3fd, 0x60, 0x80, 0xcf8), size: fc.constantFrom(1 as const, 2 as const, 4 as const), string: fc.boolean(), rep: fc.boolean() }),
  fc.record({ op: fc.constant('rdmsr' as const), msr: fc.constantFrom(0x1b, 0x10, 0x6e0, 0xc000_0103, 0x174) }),
  fc.record({ op: fc.constant('wrmsr' as const), msr: fc.constantFrom(0x6e0, 0xc000_0103, 0x174, 0x1b), value: fc.bigInt({ min: 0n, max: 0xffff_ffffn }) }),
  fc.constantFrom<GuestEvent>({ op: 'rdtscp' }, { op: 'rdtsc' }, { op: 'hlt' }, { op: 'pause' }, { op: 'wbinvd' }, { op: 'vmcall' }, { op: 'nmi' }, { op: 'rdpid' }),
  fc.record({ op: fc.constant('interrupt' as const), vector: fc.integer({ min: 0x20, max: 0xff }) }),
  fc.record({ op: fc.constant('run' as const), cycles: fc.bigInt({ min: 1n, max: 5000n }) }),
  fc.record({ op: fc.constant('mov_to_cr' as const), cr: fc.constant(8 as const), value: fc.bigInt({ min: 0n, max: 15n }) }),
  fc.record({ op: fc.constant('mov_from_cr' as const), cr: fc.constantFrom(0 as const, 3 as const, 4 as const, 8 as const) }),
  fc.record({ op: fc.constant('invlpg' as const), page: fc.integer({ min: 0, max: 3 }) }).map((e): GuestEvent => ({ op: 'invlpg', gva: mkGva(BASE + e.page * 0x1000) })),
  fc.record({ op: fc.constantFrom('read' as const, 'write' as const), page: fc.integer({ min: 0, max: 3 }), offset: fc.integer({ min: 0, max: 4088 }), user: fc.boolean() })
    .map((a): GuestEvent => ({ op: a.op, gva: mkGva(BASE + a.page * 0x1000 + a.offset), size: 8, user: a.user })),
);

const U = 0x1_0000_0000_0000n;
/** configurations the fused path meets: each changes one thing it must decline or reproduce */
const configArb: fc.Arbitrary<Config> = fc.record({
  vpid: fc.boolean(),
  ack: fc.boolean(),
  timer: fc.option(fc.bigInt({ min: 0n, max: 20_000n }), { nil: undefined }),
  saveTimer: fc.boolean(),
  rip: fc.option(fc.constantFrom(U - 9n, U - 4n, 0x7fff_ffff_fff0n, 0x1000n), { nil: undefined }),
  ifOff: fc.boolean(),
  bitmaps: fc.boolean(),
  pml: fc.boolean(),
}).map((o): Config => {
  const secondary = ['enable-ept', 'enable-rdtscp', 'unrestricted-guest', 'wbinvd-exiting', ...(o.vpid ? ['enable-vpid'] : [])];
  const pin = ['external-interrupt-exiting', 'nmi-exiting', 'virtual-nmis', ...(o.timer !== undefined ? ['activate-vmx-preemption-timer'] : [])];
  const exit = ['host-address-space-size', 'save-ia32-pat', 'load-ia32-pat', 'save-ia32-efer', 'load-ia32-efer', ...(o.ack ? ['acknowledge-interrupt-on-exit'] : []),
    ...(o.saveTimer ? ['save-vmx-preemption-timer-value'] : [])];
  const vmcs: [string, bigint][] = [];
  if (o.timer !== undefined) vmcs.push(['VMX_PREEMPTION_TIMER_VALUE', o.timer]);
  if (o.rip !== undefined) vmcs.push(['GUEST_RIP', o.rip]);
  if (o.ifOff) vmcs.push(['GUEST_RFLAGS', 0x2n]);
  return {
    ...DEFAULT_CONFIG,
    controls: { secondary, pin, exit },
    vmcs,
    ept: { ...DEFAULT_CONFIG.ept, pml: o.pml },
    ...(o.bitmaps ? { msrBitmap: { readExit: [0x1bn, 0x10n], writeExit: [0x6e0n] }, ioBitmap: { exitPorts: [[0x3f8n, 0x3ffn]] as [bigint, bigint][] } } : {}),
  };
});

const start = (config: Config): ReplayState | undefined => {
  const s = startReplay(config);
  return isRight(s) ? s.right : undefined;
};

/** The machine as values: field stores and caches by their contents, not by their internal versions. */
const view = (m: Machine): unknown => ({
  fields: [...currentFields(m.cpu)].sort((a, b) => a[0] - b[0]),
  vmx: m.cpu.vmx, vmxonPtr: m.cpu.vmxonPtr, currentVmcs: m.cpu.currentVmcs, blockingByMovSs: m.cpu.blockingByMovSs,
  launch: [...m.cpu.vmcs].map(([a, st]) => [a, st.launch, st.corrupted]),
  mem: m.cpu.mem,
  tsc: m.tsc, tlb: Tlb.allEntries(m.mmu.tlb), guest: m.guest, nonRoot: m.nonRoot, pendingRetry: m.pendingRetry,
  savedCr2: m.savedCr2, native: m.native, guestAlloc: m.guestAlloc, guestMsrs: [...m.guestMsrs], gprs: m.gprs,
  hostAlloc: m.hostAlloc,
});

/** The chunks replayed with the fused paths on or off; with the exit log (`log`, default) or without it (then the
 * consecutive fused exits are taken as runs: src/vmx/entry.ts `runExit`). */
const run = (quick: boolean, s0: ReplayState, chunks: readonly (readonly GuestEvent[])[], log = true): ChunkResult[] => {
  const was = setQuickExits(quick);
  try {
    const out: ChunkResult[] = [];
    let s = s0;
    for (const c of chunks) {
      const r = replayChunk(s, c, log);
      out.push(r);
      s = r.state;
    }
    return out;
  } finally {
    setQuickExits(was);
  }
};

const expectSame = (a: ChunkResult[], b: ChunkResult[]): void => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = b[i];
    expect(x.exits).toEqual(y.exits);
    expect(x.exitEvents).toEqual(y.exitEvents);
    expect(x.state.stats).toEqual(y.state.stats);
    expect(x.state.stopped).toEqual(y.state.stopped);
    expect(x.state.guestFaults).toBe(y.state.guestFaults);
    expect(x.state.hv).toEqual(y.state.hv);
    expect(view(x.state.machine)).toEqual(view(y.state.machine));
  }
};

/** Random traces in random chunks under random configurations: the fused path and the general one agree (`log`: keep
 * the exit log; without it, runs of fused round trips are made). */
const sameOverRandomTraces = (log: boolean): void => {
  let started = 0;
  fc.assert(fc.property(configArb, fc.array(eventArb, { minLength: 1, maxLength: 80 }), fc.integer({ min: 1, max: 40 }), (config, events, chunk) => {
    const s0 = start(config);
    if (s0 === undefined) return;
    started++;
    const chunks: GuestEvent[][] = [];
    for (let i = 0; i < events.length; i += chunk) chunks.push(events.slice(i, i + chunk));
    expectSame(run(true, s0, chunks, log), run(false, s0, chunks, log));
  }), { numRuns: 150 });
  expect(started).toBeGreaterThan(100);
};

describe('fused exit round trip (exit, KVM-like handler, VMRESUME in one step) = the general path', () => {
  it('gives the same exits, statistics, machine and hypervisor over random traces and configurations', () => {
    sameOverRandomTraces(true);
  });

  // without an exit log, consecutive fused exits are kept as a run and applied to the machine once (runExit, endRun)
  it('runs of fused round trips (no exit log) give the same statistics, machine and hypervisor as the general path', () => {
    sameOverRandomTraces(false);
  });

  it('a run of fused round trips over the exit-heavy mix of the benchmark (HLT, an interrupt injected, CPUID, I/O, MSRs) = the general path', () => {
    const cycle: GuestEvent[] = [
      { op: 'cpuid', leaf: 1, subleaf: 0 }, { op: 'out', port: 0x3f8, size: 1, string: false, rep: false },
      { op: 'in', port: 0x3fd, size: 1, string: false, rep: false }, { op: 'rdmsr', msr: 0x1b }, { op: 'wrmsr', msr: 0x6e0, value: 7n },
      { op: 'rdtscp' }, { op: 'hlt' }, { op: 'interrupt', vector: 0xec }, { op: 'cpuid', leaf: 0xb, subleaf: 1 }, { op: 'rdtscp' },
      { op: 'read', gva: mkGva(BASE + 0x18), size: 8, user: true },
    ];
    const evs: GuestEvent[] = Array.from({ length: 6 }, (_, k) => cycle.map((e) => (e.op === 'wrmsr' ? { ...e, value: BigInt(k) } : e))).flat();
    for (const config of [DEFAULT_CONFIG, { ...DEFAULT_CONFIG, controls: { secondary: ['enable-ept', 'enable-rdtscp', 'unrestricted-guest', 'enable-vpid'] } }]) {
      const s0 = start(config)!;
      // one chunk, chunks that end inside a run, and the run's machine continued by the next chunk
      for (const size of [evs.length, 7]) {
        const chunks: GuestEvent[][] = [];
        for (let i = 0; i < evs.length; i += size) chunks.push(evs.slice(i, i + size));
        const fused = run(true, s0, chunks, false);
        expect(fused[fused.length - 1].state.stopped).toBeNull();
        expectSame(fused, run(false, s0, chunks, false));
        expectSame(fused, run(true, s0, chunks, true).map((r) => ({ ...r, exits: [], exitEvents: [] })));
      }
    }
  });

  // immediateExit keeps the decisions of IN/OUT and RDMSR/WRMSR per controls object, by operands: each operand that
  // changes the decision (direction, size, string, REP, port; MSR index, read or write) must tell them apart
  it('the decisions kept for I/O and MSR instructions tell their operands apart', () => {
    const io = (op: 'in' | 'out', port: number, size: 1 | 2 | 4, string = false, rep = false): GuestEvent => ({ op, port, size, string, rep });
    const evs: GuestEvent[] = [
      io('in', 0x3f8, 1), io('out', 0x3f8, 1), io('in', 0x3f8, 2), io('in', 0x3f8, 1, true), io('in', 0x3f8, 1, true, true),
      io('in', 0x3f9, 1), io('out', 0x3f8, 1), io('in', 0x3f8, 1), io('out', 0x60, 4), io('out', 0x60, 4, true, true),
      { op: 'rdmsr', msr: 0x1b }, { op: 'wrmsr', msr: 0x1b, value: 1n }, { op: 'rdmsr', msr: 0x10 }, { op: 'wrmsr', msr: 0x6e0, value: 2n },
      { op: 'rdmsr', msr: 0x6e0 }, { op: 'rdmsr', msr: 0x1b }, { op: 'wrmsr', msr: 0x1b, value: 3n },
    ];
    const config: Config = { ...DEFAULT_CONFIG, msrBitmap: { readExit: [0x1bn], writeExit: [0x6e0n] }, ioBitmap: { exitPorts: [[0x3f8n, 0x3f8n]] as [bigint, bigint][] } };
    const s0 = start(config)!;
    const fused = run(true, s0, [evs]);
    expect(fused[0].exits.length).toBeGreaterThan(8);
    expectSame(fused, run(false, s0, [evs]));
  });

  // immediateExit's operands keep the bigint of the last MSR index above 1023 (src/vmx/step.ts msrBig): WRMSR and
  // RDMSR exits to several such MSRs, in runs and one by one, leave each value under its own index and RCX holding the
  // index of the last (both paths build the operands alike, so this checks the values themselves)
  it('WRMSR/RDMSR exits to MSRs above 1023 in turn: each value kept under its own index, RCX the last index', () => {
    const evs: GuestEvent[] = [
      { op: 'wrmsr', msr: 0x6e0, value: 5n }, { op: 'wrmsr', msr: 0xc000_0103, value: 6n }, { op: 'rdmsr', msr: 0x6e0 },
      { op: 'wrmsr', msr: 0x6e0, value: 7n }, { op: 'cpuid', leaf: 0, subleaf: 0 }, { op: 'wrmsr', msr: 0xc000_0103, value: 8n },
      { op: 'wrmsr', msr: 0x4b56_4d02, value: 9n }, { op: 'rdmsr', msr: 0xc000_0103 },
    ];
    for (const quick of [true, false]) {
      for (const log of [false, true]) {
        const [r] = run(quick, start(DEFAULT_CONFIG)!, [evs], log);
        const m = r.state.machine;
        expect(r.state.stats.exitsByReason).toEqual({ MSR_WRITE: 5, MSR_READ: 2, CPUID: 1 });
        expect([m.guestMsrs.get(0x6e0), m.guestMsrs.get(0xc000_0103), m.guestMsrs.get(0x4b56_4d02)]).toEqual([7n, 8n, 9n]);
        expect(m.gprs.rcx).toBe(0xc000_0103n);
      }
    }
  });

  // an interrupt's exit is kept for the next interrupt of the same vector and acknowledgement
  it('an interrupt exit after one of the same vector under the other "acknowledge interrupt on exit" setting', () => {
    const withAck = (ack: boolean): Config => ({
      ...DEFAULT_CONFIG,
      controls: { exit: ['host-address-space-size', 'save-ia32-pat', 'load-ia32-pat', 'save-ia32-efer', 'load-ia32-efer', ...(ack ? ['acknowledge-interrupt-on-exit'] : [])] },
    });
    const evs: GuestEvent[] = [{ op: 'interrupt', vector: 0x41 }, { op: 'cpuid', leaf: 0, subleaf: 0 }];
    for (const ack of [true, false, true]) {
      const s0 = start(withAck(ack))!;
      const fused = run(true, s0, [evs]);
      expect(fused[0].exits[0].interruptionInfo !== undefined).toBe(ack);
      expectSame(fused, run(false, s0, [evs]));
    }
  });

  // immediateExit keeps the decisions of instructions without operands per controls and CR4 value (XSETBV exits with
  // CR4.OSXSAVE set and #UDs without it): a MOV to CR4 that does not exit (the mask leaves OSXSAVE to the guest)
  // changes CR4 and keeps the controls
  it('an instruction decided again after a MOV to CR4 changes what it does (XSETBV: an exit, #UD, an exit, #UD)', () => {
    const OSXSAVE = 1n << 18n;
    const s0 = start({ ...DEFAULT_CONFIG, vmcs: [['CR4_GUEST_HOST_MASK', 0xffff_ffff_fffe_e871n & ~OSXSAVE]] })!;
    const cr4 = s0.machine.guest!.cr4;
    expect(cr4 & OSXSAVE).toBe(OSXSAVE);
    // (the first MOV exits: the read shadow differs from CR4 in a host-owned bit; the handler writes the shadow. The
    // CPUID after each MOV exits through the general path, which saves CR4; the XSETBV after it takes the fused one)
    const cpuid: GuestEvent = { op: 'cpuid', leaf: 0, subleaf: 0 };
    const evs: GuestEvent[] = [
      { op: 'mov_to_cr', cr: 4, value: cr4 }, cpuid, { op: 'xsetbv' },
      { op: 'mov_to_cr', cr: 4, value: cr4 & ~OSXSAVE }, cpuid, { op: 'xsetbv' }, { op: 'mov_to_cr', cr: 4, value: cr4 }, cpuid, { op: 'xsetbv' },
      { op: 'mov_to_cr', cr: 4, value: cr4 & ~OSXSAVE }, cpuid, { op: 'xsetbv' },
    ];
    for (const log of [true, false]) {
      const fused = run(true, s0, [evs], log);
      expect(fused[0].state.stats.exitsByReason).toEqual({ CR_ACCESS: 1, CPUID: 4, XSETBV: 2, EXCEPTION_NMI: 2 });
      expectSame(fused, run(false, s0, [evs], log));
    }
  });

  it('covers an entry that fails after the fused exit: an interrupt injected with RFLAGS.IF = 0 (VM-entry failure, exit 33)', () => {
    const s0 = start({ ...DEFAULT_CONFIG, vmcs: [['GUEST_RFLAGS', 0x2n]] })!;
    const evs: GuestEvent[] = [{ op: 'cpuid', leaf: 0, subleaf: 0 }, { op: 'interrupt', vector: 0x30 }, { op: 'cpuid', leaf: 1, subleaf: 0 }];
    const fused = run(true, s0, [evs]);
    expect(fused[0].state.stopped).toMatch(/VM entry failed/);
    expect(fused[0].exits.map((x) => x.reason)).toEqual([10, 1, 33]);
    expectSame(fused, run(false, s0, [evs]));
  });

  it('covers RIP advanced past the 48-bit linear range (the guest-rip entry check fails)', () => {
    const s0 = start({ ...DEFAULT_CONFIG, vmcs: [['GUEST_RIP', U - 5n]] })!;
    const evs: GuestEvent[] = Array.from({ length: 4 }, () => ({ op: 'cpuid', leaf: 0, subleaf: 0 }));
    // with an exit log (one fused round trip per exit) and without (a run, whose RIP bounds end at the last RIP below
    // 2^48: src/vmx/entryChecks.ts entryRunBounds)
    for (const log of [true, false]) {
      const fused = run(true, s0, [evs], log);
      expect(fused[0].state.stopped).toMatch(/VM entry failed/);
      expectSame(fused, run(false, s0, [evs], log));
    }
  });

  // quickRoundTrip also takes an instruction that runs without an exit and changes nothing (RDTSCP, ...): not one that
  // raises an exception instead (SDM: RDTSCP and RDPID are #UD with "enable RDTSCP" = 0)
  it('an instruction that raises #UD instead of running (RDTSCP, RDPID with "enable RDTSCP" off) still raises it (KVM intercepts #UD: an exception exit)', () => {
    const s0 = start({ ...DEFAULT_CONFIG, controls: { secondary: ['enable-ept', 'enable-vpid', 'unrestricted-guest'] } })!;
    const evs: GuestEvent[] = [{ op: 'rdtscp' }, { op: 'cpuid', leaf: 0, subleaf: 0 }, { op: 'rdpid' }, { op: 'rdtsc' }];
    const fused = run(true, s0, [evs]);
    expect(fused[0].exits.map((x) => x.reason)).toEqual([R.EXCEPTION_NMI, R.CPUID, R.EXCEPTION_NMI]);
    expectSame(fused, run(false, s0, [evs]));
  });

  it('memory written while the guest runs (a device model, DMA) reaches the controls loaded at the next entry', () => {
    // the guest the last VM entry loaded (the fused path needs it: the exit then saves nothing)
    const s0 = replayChunk(start(DEFAULT_CONFIG)!, [{ op: 'cpuid', leaf: 0, subleaf: 0 }]).state;
    const m = s0.machine;
    const s1 = replayState({ ...s0, machine: withMem(m, Phys.write64(m.cpu.mem, 0x9000, 0x1234n)) });
    expect(s1.machine.nonRoot!.controls.mem).not.toBe(s1.machine.cpu.mem);
    const evs: GuestEvent[] = [{ op: 'cpuid', leaf: 1, subleaf: 0 }];
    const fused = run(true, s1, [evs]);
    expect(fused[0].state.machine.nonRoot!.controls.mem).toBe(fused[0].state.machine.cpu.mem);
    expectSame(fused, run(false, s1, [evs]));
  });

  it('SDM "Loading MSRs": the VM-entry MSR-load list is loaded again at the fused entry', () => {
    // a one-entry list at host-physical 0x9000, filled in after the launch: IA32_TSC_AUX (C0000103H) <- 0x77
    const list = 0x9000;
    const s0 = replayChunk(start({ ...DEFAULT_CONFIG, vmcs: [['VM_ENTRY_MSR_LOAD_ADDR', BigInt(list)], ['VM_ENTRY_MSR_LOAD_COUNT', 1n]] })!, [{ op: 'cpuid', leaf: 0, subleaf: 0 }]).state;
    const m = s0.machine;
    const s1 = replayState({ ...s0, machine: withMem(m, Phys.write64(Phys.write32(m.cpu.mem, list, 0xc000_0103), list + 8, 0x77n)) });
    // the guest's WRMSR of the same MSR is overwritten by the list at the entry after it
    const evs: GuestEvent[] = [{ op: 'cpuid', leaf: 1, subleaf: 0 }, { op: 'wrmsr', msr: 0xc000_0103, value: 5n }];
    const fused = run(true, s1, [evs]);
    expect(fused[0].state.machine.guestMsrs.get(0xc000_0103)).toBe(0x77n);
    expectSame(fused, run(false, s1, [evs]));
  });

  // a VM exit leaves out the writes of exit-information values the fields already hold when it starts from the store
  // the last exit's writes made (src/vmx/exit.ts `record`): a state continued after another one was (a fork) must
  // hold its own exits' values, as the same events replayed in one run from the start (the VMCS fields are compared:
  // see docs/BENCH.md for a difference in guest-memory A/D bits this comparison of whole machines once met)
  it('a state continued after other states were (forks) holds the VMCS fields of its own history', () => {
    fc.assert(fc.property(configArb, fc.array(fc.record({ back: fc.nat(4), events: fc.array(eventArb, { minLength: 1, maxLength: 4 }) }), { minLength: 2, maxLength: 10 }), (config, steps) => {
      const s0 = start(config);
      if (s0 === undefined) return;
      const states: { s: ReplayState; history: GuestEvent[] }[] = [{ s: s0, history: [] }];
      for (const st of steps) {
        const from = states[Math.max(0, states.length - 1 - st.back)];
        if (from.s.stopped !== null) continue;
        states.push({ s: replayChunk(from.s, st.events).state, history: [...from.history, ...st.events] });
      }
      const fieldsOf = (m: Machine): [number, bigint][] => [...currentFields(m.cpu)].sort((a, b) => a[0] - b[0]);
      for (const { s, history } of states.slice(1)) {
        const linear = replayChunk(start(config)!, history).state;
        expect(fieldsOf(s.machine)).toEqual(fieldsOf(linear.machine));
      }
    }), { numRuns: 70 });
  });

  it('leaves the input state valid (a state continued twice gives the same result)', () => {
    const s0 = start(DEFAULT_CONFIG)!;
    const evs: GuestEvent[] = [
      { op: 'cpuid', leaf: 1, subleaf: 0 }, { op: 'wrmsr', msr: 0x6e0, value: 5n }, { op: 'hlt' }, { op: 'interrupt', vector: 0xec },
      { op: 'out', port: 0x3f8, size: 1, string: false, rep: false },
    ];
    const s1 = replayChunk(s0, evs).state;
    const before = view(s1.machine);
    // the MSR values a chunk sets in place are its own copy: a WRMSR of another value leaves s1's untouched
    const evs2 = evs.map((e) => (e.op === 'wrmsr' ? { ...e, value: 9n } : e));
    const a = replayChunk(s1, evs2).state;
    expect(a.machine.guestMsrs.get(0x6e0)).toBe(9n);
    expect(view(s1.machine)).toEqual(before);
    expect(s1.machine.guestMsrs.get(0x6e0)).toBe(5n);
    const b = replayChunk(s1, evs2).state;
    expect(view(a.machine)).toEqual(view(b.machine));
    expect(currentFields(a.machine.cpu).get(F.GUEST_RIP)! > currentFields(s1.machine.cpu).get(F.GUEST_RIP)!).toBe(true);
  });
});
