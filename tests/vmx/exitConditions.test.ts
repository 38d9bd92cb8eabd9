import * as Phys from '../../src/arch/phys';
import { controlsWithMem, decide, NO_CONTROLS, fromVmcs, CONTROL_FIELDS, type ExecControls, type GuestContext, type Instruction } from '../../src/vmx/exitConditions';

// Bit positions written from the SDM control tables (reference §2.2, §2.3), not from the module's constants.
const P = (...bits: number[]): number => bits.reduce((a, b) => (a | (1 << b)) >>> 0, 0);
const ACTIVATE_SECONDARY = 31;
const ctl = (o: Partial<ExecControls>): ExecControls => ({ ...NO_CONTROLS, ...o });
const CPL0: GuestContext = { cpl: 0, cr4: 0n };
const CPL3: GuestContext = { cpl: 3, cr4: 0n };
const d = (c: ExecControls, i: Instruction, g: GuestContext = CPL0) => decide(c, g, i);

const IO_A = 0x10000;
const IO_B = 0x11000;
const MSRB = 0x12000;
const withBit = (mem: Phys.PhysMem, byteAddr: number, bit: number): Phys.PhysMem =>
  Phys.write8(mem, byteAddr, Phys.read8(mem, byteAddr) | (1 << bit));

describe('SDM "Instructions That Cause VM Exits Unconditionally"', () => {
  const all = ctl({ primary: 0xffffffff, secondary: 0xffffffff });
  test.each([['no controls', NO_CONTROLS], ['every control', all]])('CPUID exits (reason 10, length 2) with %s', (_n, c) => {
    expect(d(c, { op: 'cpuid' })).toEqual({ kind: 'exit', reason: 10, qualification: 0n, instructionLength: 2 });
  });
  test.each([['no controls', NO_CONTROLS], ['every control', all]])('INVD exits (reason 13, length 2) with %s', (_n, c) => {
    expect(d(c, { op: 'invd' })).toEqual({ kind: 'exit', reason: 13, qualification: 0n, instructionLength: 2 });
  });
  test.each([['no controls', NO_CONTROLS], ['every control', all]])('VMCALL exits (reason 18, length 3) with %s', (_n, c) => {
    expect(d(c, { op: 'vmcall' })).toEqual({ kind: 'exit', reason: 18, qualification: 0n, instructionLength: 3 });
  });
  test('VMCALL exits even at CPL 3 (non-root VMCALL exits before any CPL check)', () => {
    expect(d(NO_CONTROLS, { op: 'vmcall' }, CPL3)).toMatchObject({ kind: 'exit', reason: 18 });
  });
  test('XSETBV exits (reason 55) with CR4.OSXSAVE = 1; #UD with CR4.OSXSAVE = 0', () => {
    expect(d(NO_CONTROLS, { op: 'xsetbv' }, { cpl: 0, cr4: 1n << 18n })).toMatchObject({ kind: 'exit', reason: 55 });
    expect(d(NO_CONTROLS, { op: 'xsetbv' })).toEqual({ kind: 'ud' });
  });
  test('GETSEC exits (reason 11) only when CR4.SMXE = 1, else #UD', () => {
    expect(d(NO_CONTROLS, { op: 'getsec' }, { cpl: 0, cr4: 1n << 14n })).toMatchObject({ kind: 'exit', reason: 11 });
    expect(d(NO_CONTROLS, { op: 'getsec' })).toEqual({ kind: 'ud' });
  });
  test.each([
    ['vmclear', 19], ['vmlaunch', 20], ['vmptrld', 21], ['vmptrst', 22], ['vmread', 23], ['vmresume', 24],
    ['vmwrite', 25], ['vmxoff', 26], ['vmxon', 27], ['invept', 50], ['invvpid', 53],
  ] as const)('VMX instruction %s in VMX non-root exits with reason %i', (name, reason) => {
    expect(d(NO_CONTROLS, { op: 'vmx', name }, CPL3)).toMatchObject({ kind: 'exit', reason });
  });
  test('VMREAD with VMCS shadowing: exits only when the VMREAD-bitmap bit of the encoding is set', () => {
    const base = 0x20000;
    // encoding 0x6800 (GUEST_CR0): byte 0x6800 >> 3 = 0xD00, bit 0
    const mem = withBit(Phys.empty, base + 0xd00, 0);
    const c = ctl({ primary: P(ACTIVATE_SECONDARY), secondary: P(14), vmreadBitmap: base, mem });
    expect(d(c, { op: 'vmx', name: 'vmread', field: 0x6800n })).toMatchObject({ kind: 'exit', reason: 23 });
    expect(d(c, { op: 'vmx', name: 'vmread', field: 0x6802n })).toEqual({ kind: 'run' });
  });
});

describe('SDM "Instructions That Cause VM Exits Conditionally": simple controls', () => {
  test.each([
    ['hlt', 7, 12, 1], ['invlpg', 9, 14, 3], ['mwait', 10, 36, 3], ['rdpmc', 11, 15, 2], ['monitor', 29, 39, 3],
    ['pause', 30, 40, 2],
  ] as const)('%s exits iff its primary control (bit %i) is 1: reason %i, length %i', (op, b, reason, len) => {
    const i = (op === 'invlpg' ? { op, gva: 0x1000n } : { op }) as Instruction;
    expect(d(ctl({ primary: P(b) }), i)).toMatchObject({ kind: 'exit', reason, instructionLength: len });
    expect(d(NO_CONTROLS, i)).toEqual({ kind: 'run' });
  });
  test.each([['wbinvd', 6, 54], ['rdrand', 11, 57], ['rdseed', 16, 61]] as const)(
    '%s exits iff secondary bit %i is 1 and secondary controls are active (reason %i)', (op, b, reason) => {
      expect(d(ctl({ primary: P(ACTIVATE_SECONDARY), secondary: P(b) }), { op })).toMatchObject({ kind: 'exit', reason });
      // "activate secondary controls" = 0: every secondary control acts as 0
      expect(d(ctl({ primary: 0, secondary: P(b) }), { op })).toEqual({ kind: 'run' });
    });
  test('INVLPG exit: qualification is the linear-address operand; outside 64-bit mode bits 63:32 are cleared', () => {
    const c = ctl({ primary: P(9) });
    expect(d(c, { op: 'invlpg', gva: 0xffff_8000_1234_5000n })).toMatchObject({ qualification: 0xffff_8000_1234_5000n });
    expect(d(c, { op: 'invlpg', gva: 0x1_2345_6000n }, { cpl: 0, cr4: 0n, longMode: false }))
      .toMatchObject({ qualification: 0x2345_6000n });
  });
  test('INVPCID: #UD when "enable INVPCID" = 0; exits (58) when enabled and INVLPG exiting = 1; runs otherwise', () => {
    expect(d(ctl({ primary: P(9) }), { op: 'invpcid' })).toEqual({ kind: 'ud' });
    expect(d(ctl({ primary: P(9, ACTIVATE_SECONDARY), secondary: P(12) }), { op: 'invpcid' }))
      .toMatchObject({ kind: 'exit', reason: 58, instructionLength: 5 });
    expect(d(ctl({ primary: P(ACTIVATE_SECONDARY), secondary: P(12) }), { op: 'invpcid' })).toEqual({ kind: 'run' });
  });
  test('"Relative Priority of Faults and VM Exits": HLT at CPL 3 is #GP even with HLT exiting', () => {
    expect(d(ctl({ primary: P(7) }), { op: 'hlt' }, CPL3)).toEqual({ kind: 'gp' });
  });
  test('RDPMC at CPL 3 with CR4.PCE = 0 #GP before the RDPMC exit; with CR4.PCE = 1 it exits', () => {
    expect(d(ctl({ primary: P(11) }), { op: 'rdpmc' }, CPL3)).toEqual({ kind: 'gp' });
    expect(d(ctl({ primary: P(11) }), { op: 'rdpmc' }, { cpl: 3, cr4: 1n << 8n })).toMatchObject({ reason: 15 });
  });
  test('MOV DR exits iff MOV-DR exiting (bit 23): qualification DR number, direction bit 4, GPR bits 11:8', () => {
    const r = d(ctl({ primary: P(23) }), { op: 'mov_dr', dr: 7, direction: 'from', register: 3 });
    // 7 | (1 << 4) | (3 << 8) = 0x317
    expect(r).toEqual({ kind: 'exit', reason: 29, qualification: 0x317n, instructionLength: 3 });
    expect(d(NO_CONTROLS, { op: 'mov_dr', dr: 7, direction: 'to' })).toEqual({ kind: 'run' });
  });
});

describe('SDM "Changes to Instruction Behavior in VMX Non-Root Operation": RDTSC / RDTSCP / RDPID', () => {
  const TSD: GuestContext = { cpl: 3, cr4: 1n << 2n };
  test('RDTSC: exit 16 iff RDTSC exiting (bit 12)', () => {
    expect(d(ctl({ primary: P(12) }), { op: 'rdtsc' })).toEqual({ kind: 'exit', reason: 16, qualification: 0n, instructionLength: 2 });
    expect(d(NO_CONTROLS, { op: 'rdtsc' })).toEqual({ kind: 'run' });
  });
  test('RDTSC with CR4.TSD = 1 at CPL > 0 #GP before the RDTSC exit', () => {
    expect(d(ctl({ primary: P(12) }), { op: 'rdtsc' }, TSD)).toEqual({ kind: 'gp' });
    expect(d(ctl({ primary: P(12) }), { op: 'rdtsc' }, { cpl: 0, cr4: 1n << 2n })).toMatchObject({ reason: 16 });
  });
  test('RDTSCP decision table: enable RDTSCP 0 ⇒ #UD with and without RDTSC exiting', () => {
    expect(d(NO_CONTROLS, { op: 'rdtscp' })).toEqual({ kind: 'ud' });
    expect(d(ctl({ primary: P(12) }), { op: 'rdtscp' })).toEqual({ kind: 'ud' });
  });
  test('RDTSCP decision table: enable RDTSCP 1 ⇒ exit 51 (length 3) with RDTSC exiting, run without', () => {
    const on = P(ACTIVATE_SECONDARY);
    expect(d(ctl({ primary: on | P(12), secondary: P(3) }), { op: 'rdtscp' }))
      .toEqual({ kind: 'exit', reason: 51, qualification: 0n, instructionLength: 3 });
    expect(d(ctl({ primary: on, secondary: P(3) }), { op: 'rdtscp' })).toEqual({ kind: 'run' });
  });
  test('RDTSCP: "enable RDTSCP" set but "activate secondary controls" 0 ⇒ #UD', () => {
    expect(d(ctl({ primary: P(12), secondary: P(3) }), { op: 'rdtscp' })).toEqual({ kind: 'ud' });
  });
  test('RDTSCP: the #UD has priority over the CR4.TSD #GP; with RDTSCP enabled the #GP wins over the exit', () => {
    expect(d(ctl({ primary: P(12) }), { op: 'rdtscp' }, TSD)).toEqual({ kind: 'ud' });
    expect(d(ctl({ primary: P(12, ACTIVATE_SECONDARY), secondary: P(3) }), { op: 'rdtscp' }, TSD)).toEqual({ kind: 'gp' });
  });
  test('RDPID: #UD when "enable RDTSCP" = 0, never an exit otherwise', () => {
    expect(d(ctl({ primary: P(12) }), { op: 'rdpid' })).toEqual({ kind: 'ud' });
    expect(d(ctl({ primary: P(12, ACTIVATE_SECONDARY), secondary: P(3) }), { op: 'rdpid' })).toEqual({ kind: 'run' });
  });
});

describe('SDM "I/O-Bitmap Addresses" and I/O exits', () => {
  const bitmaps = (mem: Phys.PhysMem): ExecControls => ctl({ primary: P(25), ioBitmapA: IO_A, ioBitmapB: IO_B, mem });
  test('use I/O bitmaps = 0: IN exits iff unconditional I/O exiting (bit 24)', () => {
    expect(d(ctl({ primary: P(24) }), { op: 'in', port: 0x60, size: 1 })).toMatchObject({ kind: 'exit', reason: 30 });
    expect(d(NO_CONTROLS, { op: 'in', port: 0x60, size: 1 })).toEqual({ kind: 'run' });
  });
  test('use I/O bitmaps = 1: unconditional I/O exiting is ignored (empty bitmaps, no exit)', () => {
    expect(d(ctl({ primary: P(24, 25), ioBitmapA: IO_A, ioBitmapB: IO_B }), { op: 'out', port: 0x80, size: 1 }))
      .toEqual({ kind: 'run' });
  });
  test('a 4-byte IN at 0x4FFF exits when only port 0x5000\'s bit is set (every port byte touched)', () => {
    // port 0x5000 is in bitmap A at byte 0x5000 >> 3 = 0xA00, bit 0
    const c = bitmaps(withBit(Phys.empty, IO_A + 0xa00, 0));
    expect(d(c, { op: 'in', port: 0x4fff, size: 4 })).toMatchObject({ kind: 'exit', reason: 30 });
    expect(d(c, { op: 'in', port: 0x4ffc, size: 4 })).toEqual({ kind: 'run' });
    expect(d(c, { op: 'in', port: 0x5001, size: 1 })).toEqual({ kind: 'run' });
  });
  test('ports 0x8000-0xFFFF use bitmap B: port 0x8001 is byte 0 bit 1 of B', () => {
    const c = bitmaps(withBit(Phys.empty, IO_B, 1));
    expect(d(c, { op: 'out', port: 0x8001, size: 1 })).toMatchObject({ kind: 'exit' });
    expect(d(c, { op: 'out', port: 0x0001, size: 1 })).toEqual({ kind: 'run' });
  });
  test('an access that spans bitmaps A and B (2 bytes at 0x7FFF) checks port 0x8000 in bitmap B', () => {
    const c = bitmaps(withBit(Phys.empty, IO_B, 0));
    expect(d(c, { op: 'in', port: 0x7fff, size: 2 })).toMatchObject({ kind: 'exit' });
  });
  test('a 4-byte IN at 0xFFFF exits even with empty bitmaps (wrap past port FFFFH)', () => {
    expect(d(bitmaps(Phys.empty), { op: 'in', port: 0xffff, size: 4 })).toMatchObject({ kind: 'exit', reason: 30 });
    expect(d(bitmaps(Phys.empty), { op: 'in', port: 0xffff, size: 1 })).toEqual({ kind: 'run' });
  });
  test('"Exit Qualification for I/O Instructions": IN EAX, DX at 0x3F8 ⇒ size 3, direction 1, port << 16, length 1', () => {
    const r = d(ctl({ primary: P(24) }), { op: 'in', port: 0x3f8, size: 4 });
    // (4-1) | (1 << 3) | (0x3f8 << 16) = 0x03f8000b
    expect(r).toEqual({ kind: 'exit', reason: 30, qualification: 0x03f8000bn, instructionLength: 1 });
  });
  test('I/O qualification: OUT AL, imm8 sets bit 6 (operand encoding immediate), direction 0; length 2', () => {
    const r = d(ctl({ primary: P(24) }), { op: 'out', port: 0x80, size: 1, immediate: true });
    expect(r).toEqual({ kind: 'exit', reason: 30, qualification: 0x00800040n, instructionLength: 2 });
  });
  test('I/O qualification: REP OUTSW sets string (bit 4) and REP (bit 5); guest-linear address recorded; length 3', () => {
    const r = d(ctl({ primary: P(24) }), { op: 'out', port: 0x1f0, size: 2, string: true, rep: true, linear: 0x7000n });
    // (2-1) | (1<<4) | (1<<5) | (0x1f0 << 16) = 0x01f00031
    expect(r).toEqual({ kind: 'exit', reason: 30, qualification: 0x01f00031n, instructionLength: 3, guestLinear: 0x7000n });
  });
});

describe('SDM "MSR-Bitmap Address" and RDMSR/WRMSR exits', () => {
  const bm = (mem: Phys.PhysMem): ExecControls => ctl({ primary: P(28), msrBitmap: MSRB, mem });
  test('use MSR bitmaps = 0: every RDMSR and WRMSR exits (31 / 32, length 2)', () => {
    expect(d(NO_CONTROLS, { op: 'rdmsr', msr: 0x10 })).toEqual({ kind: 'exit', reason: 31, qualification: 0n, instructionLength: 2 });
    expect(d(NO_CONTROLS, { op: 'wrmsr', msr: 0x10 })).toMatchObject({ reason: 32, instructionLength: 2 });
  });
  test('RDMSR at CPL 3 #GP before any exit', () => {
    expect(d(NO_CONTROLS, { op: 'rdmsr', msr: 0x10 }, CPL3)).toEqual({ kind: 'gp' });
    expect(d(NO_CONTROLS, { op: 'wrmsr', msr: 0x10 }, CPL3)).toEqual({ kind: 'gp' });
  });
  test('an RDMSR of 0xC0000080 uses the high-MSR read quadrant (byte 0x400 + (0x80 >> 3), bit 0)', () => {
    const c = bm(withBit(Phys.empty, MSRB + 0x400 + (0x80 >> 3), 0));
    expect(d(c, { op: 'rdmsr', msr: 0xc0000080 })).toMatchObject({ kind: 'exit', reason: 31 });
    // the same bit position in the low-read quadrant means MSR 0x80, not EFER
    const low = bm(withBit(Phys.empty, MSRB + (0x80 >> 3), 0));
    expect(d(low, { op: 'rdmsr', msr: 0xc0000080 })).toEqual({ kind: 'run' });
    // the write of EFER is decided by the high-write quadrant (0xC00), empty here
    expect(d(c, { op: 'wrmsr', msr: 0xc0000080 })).toEqual({ kind: 'run' });
  });
  test('WRMSR 0x6E0 uses the low-write quadrant: byte 0x800 + 0xDC, bit 0', () => {
    const c = bm(withBit(Phys.empty, MSRB + 0x800 + 0xdc, 0));
    expect(d(c, { op: 'wrmsr', msr: 0x6e0 })).toMatchObject({ kind: 'exit', reason: 32 });
    expect(d(c, { op: 'rdmsr', msr: 0x6e0 })).toEqual({ kind: 'run' });
  });
  test('an RDMSR of 0x40000000 exits with bitmaps on (outside both ranges)', () => {
    expect(d(bm(Phys.empty), { op: 'rdmsr', msr: 0x40000000 })).toMatchObject({ kind: 'exit', reason: 31 });
    expect(d(bm(Phys.empty), { op: 'rdmsr', msr: 0x2000 })).toMatchObject({ kind: 'exit', reason: 31 });
    expect(d(bm(Phys.empty), { op: 'rdmsr', msr: 0x1fff })).toEqual({ kind: 'run' });
  });
});

describe('SDM "Instructions That Cause VM Exits Conditionally": control-register accesses', () => {
  test('MOV to CR0: no exit when source equals the shadow in every masked bit', () => {
    const c = ctl({ cr0Mask: 0x8000_0001n, cr0Shadow: 0x8000_0001n });
    expect(d(c, { op: 'mov_to_cr', cr: 0, value: 0x8000_0031n })).toEqual({ kind: 'run' });
  });
  test('MOV to CR0: exit when a masked bit differs (qualification CR 0, type 0, GPR in 11:8)', () => {
    const c = ctl({ cr0Mask: 0x8000_0001n, cr0Shadow: 0x8000_0001n });
    // clears PG: (src & mask) = 1 != 0x80000001. GPR 6 (RSI) ⇒ 6 << 8 = 0x600
    expect(d(c, { op: 'mov_to_cr', cr: 0, value: 0x31n, register: 6 }))
      .toEqual({ kind: 'exit', reason: 28, qualification: 0x600n, instructionLength: 3 });
  });
  test('MOV to CR0 with mask 0: never exits whatever the shadow', () => {
    expect(d(ctl({ cr0Shadow: 0xffffn }), { op: 'mov_to_cr', cr: 0, value: 0n })).toEqual({ kind: 'run' });
  });
  test('MOV to CR4: exit iff (src & mask) != (shadow & mask); qualification CR 4', () => {
    const c = ctl({ cr4Mask: 1n << 13n, cr4Shadow: 0n });
    expect(d(c, { op: 'mov_to_cr', cr: 4, value: 1n << 13n })).toMatchObject({ reason: 28, qualification: 4n });
    expect(d(c, { op: 'mov_to_cr', cr: 4, value: 0x20n })).toEqual({ kind: 'run' });
  });
  test('MOV to CR3: CR3-load exiting with target count 0 always exits', () => {
    const c = ctl({ primary: P(15), cr3TargetCount: 0, cr3Targets: [0x5000n] });
    expect(d(c, { op: 'mov_to_cr', cr: 3, value: 0x5000n })).toMatchObject({ reason: 28, qualification: 3n });
  });
  test('MOV to CR3: a value equal to one of the first n CR3-target values does not exit', () => {
    const c = ctl({ primary: P(15), cr3TargetCount: 2, cr3Targets: [0x5000n, 0x6000n, 0x7000n, 0n] });
    expect(d(c, { op: 'mov_to_cr', cr: 3, value: 0x6000n })).toEqual({ kind: 'run' });
    // the third target is beyond the count
    expect(d(c, { op: 'mov_to_cr', cr: 3, value: 0x7000n })).toMatchObject({ kind: 'exit', reason: 28 });
  });
  test('MOV to CR3 without CR3-load exiting never exits; MOV from CR3 exits iff CR3-store exiting (type 1)', () => {
    expect(d(NO_CONTROLS, { op: 'mov_to_cr', cr: 3, value: 0x1000n })).toEqual({ kind: 'run' });
    // CR 3 | type 1 << 4 | RBX (3) << 8 = 0x313
    expect(d(ctl({ primary: P(16) }), { op: 'mov_from_cr', cr: 3, register: 3 })).toMatchObject({ qualification: 0x313n });
    expect(d(NO_CONTROLS, { op: 'mov_from_cr', cr: 3 })).toEqual({ kind: 'run' });
  });
  test('MOV to/from CR8: CR8-load (bit 19) and CR8-store (bit 20) exiting; length 4 (REX prefix)', () => {
    expect(d(ctl({ primary: P(19) }), { op: 'mov_to_cr', cr: 8, value: 2n }))
      .toEqual({ kind: 'exit', reason: 28, qualification: 8n, instructionLength: 4 });
    expect(d(ctl({ primary: P(20) }), { op: 'mov_from_cr', cr: 8 })).toMatchObject({ qualification: 0x18n });
    expect(d(ctl({ primary: P(20) }), { op: 'mov_to_cr', cr: 8, value: 2n })).toEqual({ kind: 'run' });
  });
  test('MOV from CR0 never exits, even with every bit masked', () => {
    expect(d(ctl({ cr0Mask: (1n << 64n) - 1n }), { op: 'mov_from_cr', cr: 0 })).toEqual({ kind: 'run' });
  });
  test('MOV to CR at CPL 3 #GP before the exit', () => {
    expect(d(ctl({ primary: P(15) }), { op: 'mov_to_cr', cr: 3, value: 0n }, CPL3)).toEqual({ kind: 'gp' });
  });
  test('CLTS exits iff TS (bit 3) is 1 in both mask and shadow; qualification type 2 (0x20)', () => {
    expect(d(ctl({ cr0Mask: 8n, cr0Shadow: 8n }), { op: 'clts' })).toEqual({ kind: 'exit', reason: 28, qualification: 0x20n, instructionLength: 2 });
    expect(d(ctl({ cr0Mask: 8n, cr0Shadow: 0n }), { op: 'clts' })).toEqual({ kind: 'run' });
    expect(d(ctl({ cr0Mask: 0n, cr0Shadow: 8n }), { op: 'clts' })).toEqual({ kind: 'run' });
  });
  test('LMSW: mask.PE = 1, source.PE = 1, shadow.PE = 0 exits; qualification type 3 with source in 31:16', () => {
    const r = d(ctl({ cr0Mask: 1n, cr0Shadow: 0n }), { op: 'lmsw', value: 1n });
    // type 3 << 4 = 0x30, source 1 << 16
    expect(r).toEqual({ kind: 'exit', reason: 28, qualification: 0x10030n, instructionLength: 3 });
  });
  test('LMSW never clears PE: source.PE = 0 with shadow.PE = 1 and PE masked does not exit', () => {
    expect(d(ctl({ cr0Mask: 1n, cr0Shadow: 1n }), { op: 'lmsw', value: 0n })).toEqual({ kind: 'run' });
  });
  test('LMSW: a masked bit among 3:1 that differs from the shadow exits; an unmasked difference does not', () => {
    expect(d(ctl({ cr0Mask: 4n, cr0Shadow: 0n }), { op: 'lmsw', value: 4n })).toMatchObject({ kind: 'exit' });
    expect(d(ctl({ cr0Mask: 4n, cr0Shadow: 0n }), { op: 'lmsw', value: 2n })).toEqual({ kind: 'run' });
  });
  test('LMSW: masked bits above bit 3 (e.g. PG) are not compared', () => {
    expect(d(ctl({ cr0Mask: 0x8000_0000n, cr0Shadow: 0x8000_0000n }), { op: 'lmsw', value: 0n })).toEqual({ kind: 'run' });
  });
  test('LMSW with a memory operand: bit 6 set and the guest-linear address recorded', () => {
    const r = d(ctl({ cr0Mask: 8n, cr0Shadow: 0n }), { op: 'lmsw', value: 8n, memory: 0x4000n });
    expect(r).toEqual({ kind: 'exit', reason: 28, qualification: 0x80070n, instructionLength: 3, guestLinear: 0x4000n });
  });
});

describe('fromVmcs adapter', () => {
  test('reads controls by full field encoding (SDM Appendix B)', () => {
    const f = new Map<number, bigint>([[0x4002, BigInt(P(7))], [0x6000, 9n], [0x600a, 0x7000n], [0x2010, 5n]]);
    const c = fromVmcs(f, Phys.empty);
    expect(c.primary).toBe(0x80);
    expect(c.cr0Mask).toBe(9n);
    expect(c.cr3Targets[1]).toBe(0x7000n);
    expect(c.tscOffset).toBe(5n);
    expect(d(c, { op: 'hlt' })).toMatchObject({ reason: 12 });
  });
});

describe('controlsWithMem: the controls of the same fields over another memory', () => {
  test('every field is kept (each control field holds a distinct value), only the memory changes', () => {
    const fields = new Map<number, bigint>(CONTROL_FIELDS.map((enc, i) => [enc, BigInt(0x1000 * (i + 1) + i)]));
    const c = fromVmcs(fields, Phys.empty);
    const mem = Phys.write64Parts(Phys.empty, 0x2000, 1, 2);
    const d = controlsWithMem(c, mem);
    expect(d).toEqual({ ...c, mem });
    expect(d).toEqual(fromVmcs(fields, mem));
    expect(Object.keys(d)).toEqual(Object.keys(c));
  });
});
