/* global require, __dirname, console */
/**
 * Writes the conformance scenarios (tests/conformance/scenarios/<name>.json, interface §4) and their expectations
 * (<name>.expect.json: name, rule, expect [{ step, outcome }], optional memory [{ hpa, value }]).
 * Every expected outcome below is written by hand from the SDM (Vol. 3C, section titles in `rule`) and
 * kvm-unit-tests x86/vmx_tests.c; none is copied from the simulator's output. Run: node tests/conformance/build-scenarios.cjs
 *
 * Facts used throughout (derived by hand, not from the code):
 * - `launch` programs KVM's defaults (interface §3): primary = HLT, TSC offsetting, MWAIT, RDPMC, CR8 load/store,
 *   MOV-DR, unconditional I/O, MSR bitmaps, MONITOR, secondary; secondary = EPT, VPID, RDTSCP, unrestricted guest,
 *   WBINVD; exception bitmap = #UD, #MC, #AC; guest CR0 = PE|ET|NE|WP|PG = 0x80010031; CR0 guest/host mask = all but
 *   TS and WP; CR0 read shadow = guest CR0; guest CR4 = PAE|PGE|OSFXSR|OSXMMEXCPT|VMXE|OSXSAVE = 0x426a0 with
 *   read shadow 0x406a0 (VMXE hidden) and mask = all but VME, TSD, DE, PGE, PCE, OSFXSR, OSXMMEXCPT, LA57, FSGSBASE.
 * - Instruction lengths are those of the usual encodings (SDM Vol. 2): CPUID 0F A2 = 2, HLT F4 = 1, RDTSCP 0F 01 F9 = 3,
 *   MOV CR 0F 22 /r = 3 (4 with REX for CR8), IN EAX,DX ED = 1, OUT DX,AX 66 EF = 2, REP OUTSB F3 6E = 2 ...
 * - Host TSC starts at 0 and moves only by `run` cycles (interface §4).
 */
const fs = require('fs');
const path = require('path');

const OUT = path.join(__dirname, 'scenarios');
fs.rmSync(OUT, { recursive: true, force: true });
fs.mkdirSync(OUT, { recursive: true });

const PRI = ['hlt-exiting', 'use-tsc-offsetting', 'mwait-exiting', 'rdpmc-exiting', 'cr8-load-exiting', 'cr8-store-exiting',
  'mov-dr-exiting', 'unconditional-io-exiting', 'use-msr-bitmaps', 'monitor-exiting', 'activate-secondary-controls'];
const SEC = ['enable-ept', 'enable-vpid', 'enable-rdtscp', 'unrestricted-guest', 'wbinvd-exiting'];
const EXIT = ['host-address-space-size', 'acknowledge-interrupt-on-exit', 'save-ia32-pat', 'load-ia32-pat', 'save-ia32-efer', 'load-ia32-efer'];
const PIN = ['external-interrupt-exiting', 'nmi-exiting', 'virtual-nmis'];
const without = (list, ...names) => list.filter((n) => !names.includes(n));
const withAlso = (list, ...names) => [...list, ...names];

// outcomes
const S = { result: 'VMsucceed' };
const Sv = (value) => ({ result: 'VMsucceed', value });
const E = { result: 'entered' };
const FI = { result: 'VMfailInvalid' };
const FV = (error) => ({ result: 'VMfailValid', error });
const P = (value, aux) => ({ result: 'passthrough', ...(value !== undefined ? { value } : {}), ...(aux !== undefined ? { aux } : {}) });
const F = (vector, errorCode) => ({ result: 'fault', vector, ...(errorCode !== undefined ? { errorCode } : {}) });
const X = (reason, name, qualification, extra = {}) => ({ result: 'exit', exit: { reason, name, qualification, ...extra } });
const FAILED = (reason, name, qualification) => X(reason, name, qualification, { failedEntry: true });

const names = new Set();
let count = 0;
/** steps: [step, expectedOutcome] pairs; every step has its hand-written outcome. */
const scenario = (name, rule, config, pairs, memory) => {
  if (names.has(name)) throw new Error(`duplicate ${name}`);
  names.add(name);
  const steps = pairs.map(([s]) => s);
  const expect = pairs.map(([, outcome], step) => ({ step, outcome })).filter((x) => x.outcome !== undefined);
  fs.writeFileSync(path.join(OUT, `${name}.json`), JSON.stringify({ config, steps }, null, 2) + '\n');
  fs.writeFileSync(path.join(OUT, `${name}.expect.json`), JSON.stringify({ name, rule, expect, ...(memory ? { memory } : {}) }, null, 2) + '\n');
  count++;
};

const LAUNCH = [{ op: 'launch' }, E];
const RESUME = [{ op: 'vmresume' }, E];
const CPUID_EXIT = [{ op: 'cpuid', leaf: '0x0' }, X(10, 'CPUID', '0x0', { instructionLength: 2 })];
const COND = 'SDM Vol. 3C 26.1.3 "Instructions That Cause VM Exits Conditionally"';
const UNCOND = 'SDM Vol. 3C 26.1.2 "Instructions That Cause VM Exits Unconditionally"';

// ---------------------------------------------------------------- unconditional instruction exits
scenario('uncond-cpuid', `${UNCOND} / vmx_tests.c: insn_intercept "CPUID"`, {}, [LAUNCH, CPUID_EXIT]);
scenario('uncond-invd', `${UNCOND} / vmx_tests.c: insn_intercept "INVD"`, {}, [LAUNCH, [{ op: 'invd' }, X(13, 'INVD', '0x0', { instructionLength: 2 })]]);
scenario('uncond-vmcall', `${UNCOND} / vmx_tests.c: vmenter "VMCALL"`, {}, [LAUNCH, [{ op: 'vmcall' }, X(18, 'VMCALL', '0x0', { instructionLength: 3 })]]);
scenario('uncond-xsetbv', `${UNCOND} (XSETBV) / vmx_tests.c: insn_intercept "XSETBV"`, {}, [LAUNCH, [{ op: 'xsetbv' }, X(55, 'XSETBV', '0x0', { instructionLength: 3 })]]);
scenario('uncond-cpuid-even-with-no-exiting-controls', `${UNCOND}: CPUID exits whatever the controls`,
  { controls: { primary: ['activate-secondary-controls'], secondary: ['enable-ept', 'unrestricted-guest'] } },
  [LAUNCH, CPUID_EXIT, RESUME, [{ op: 'vmcall' }, X(18, 'VMCALL', '0x0', { instructionLength: 3 })]]);

// ---------------------------------------------------------------- conditional instruction exits, control on and off
const onOff = (slug, kind, control, ev, exitOutcome, offOutcome, base = kind === 'primary' ? PRI : SEC) => {
  const on = base.includes(control) ? base : withAlso(base, control);
  const off = without(base, control);
  scenario(`insn-${slug}-on`, `${COND} (${control} = 1) / vmx_tests.c: insn_intercept`, { controls: { [kind]: on } }, [LAUNCH, [ev, exitOutcome]]);
  scenario(`insn-${slug}-off`, `${COND} (${control} = 0): the instruction runs in the guest`, { controls: { [kind]: off } }, [LAUNCH, [ev, offOutcome]]);
};
onOff('hlt', 'primary', 'hlt-exiting', { op: 'hlt' }, X(12, 'HLT', '0x0', { instructionLength: 1 }), P());
onOff('invlpg', 'primary', 'invlpg-exiting', { op: 'invlpg', gva: '0x7f001000' }, X(14, 'INVLPG', '0x7f001000', { instructionLength: 3 }), P());
onOff('mwait', 'primary', 'mwait-exiting', { op: 'mwait' }, X(36, 'MWAIT_INSTRUCTION', '0x0', { instructionLength: 3 }), P());
onOff('monitor', 'primary', 'monitor-exiting', { op: 'monitor' }, X(39, 'MONITOR_INSTRUCTION', '0x0', { instructionLength: 3 }), P());
onOff('pause', 'primary', 'pause-exiting', { op: 'pause' }, X(40, 'PAUSE_INSTRUCTION', '0x0', { instructionLength: 2 }), P());
onOff('rdpmc', 'primary', 'rdpmc-exiting', { op: 'rdpmc' }, X(15, 'RDPMC', '0x0', { instructionLength: 2 }), P());
onOff('rdtsc', 'primary', 'rdtsc-exiting', { op: 'rdtsc' }, X(16, 'RDTSC', '0x0', { instructionLength: 2 }), P('0x0'));
onOff('rdrand', 'secondary', 'rdrand-exiting', { op: 'rdrand' }, X(57, 'RDRAND', '0x0', { instructionLength: 3 }), P());
onOff('rdseed', 'secondary', 'rdseed-exiting', { op: 'rdseed' }, X(61, 'RDSEED', '0x0', { instructionLength: 3 }), P());
onOff('wbinvd', 'secondary', 'wbinvd-exiting', { op: 'wbinvd' }, X(54, 'WBINVD', '0x0', { instructionLength: 2 }), P());
// CR8: qualification = CR number 8 | access type (0 to, 1 from) << 4 | GPR 0 (RAX) << 8; MOV CR8 needs REX (4 bytes)
onOff('cr8-load', 'primary', 'cr8-load-exiting', { op: 'mov_to_cr', cr: 8, value: '0x5' }, X(28, 'CR_ACCESS', '0x8', { instructionLength: 4 }), P());
onOff('cr8-store', 'primary', 'cr8-store-exiting', { op: 'mov_from_cr', cr: 8 }, X(28, 'CR_ACCESS', '0x18', { instructionLength: 4 }), P('0x0'));
onOff('cr3-store', 'primary', 'cr3-store-exiting', { op: 'mov_from_cr', cr: 3 }, X(28, 'CR_ACCESS', '0x13', { instructionLength: 3 }), P('0x1000000'));
scenario('insn-cr8-roundtrip-passthrough', `${COND}: without CR8 exiting MOV to CR8 then MOV from CR8 returns TPR[3:0]`,
  { controls: { primary: without(PRI, 'cr8-load-exiting', 'cr8-store-exiting') } },
  [LAUNCH, [{ op: 'mov_to_cr', cr: 8, value: '0x9' }, P()], [{ op: 'mov_from_cr', cr: 8 }, P('0x9')]]);
scenario('insn-rdtscp-with-rdtsc-exiting', `${COND} (RDTSCP: enable RDTSCP = 1 and RDTSC exiting = 1 => exit 51)`,
  { controls: { primary: withAlso(PRI, 'rdtsc-exiting') } }, [LAUNCH, [{ op: 'rdtscp' }, X(51, 'RDTSCP', '0x0', { instructionLength: 3 })]]);
scenario('insn-io-unconditional-out', `${COND} (unconditional I/O exiting): OUT DX,AL port 0x3f8 => qualification size 0, OUT, port << 16`,
  {}, [LAUNCH, [{ op: 'out', port: '0x3f8', size: 1 }, X(30, 'IO_INSTRUCTION', '0x3f80000', { instructionLength: 1 })]]);
scenario('insn-io-unconditional-in', `${COND} (unconditional I/O exiting): IN AL,DX port 0x60 => direction bit 3`,
  {}, [LAUNCH, [{ op: 'in', port: '0x60', size: 1 }, X(30, 'IO_INSTRUCTION', '0x600008', { instructionLength: 1 })]]);
scenario('insn-io-off', `${COND}: use I/O bitmaps = 0 and unconditional I/O exiting = 0 => IN runs (absent device reads all ones)`,
  { controls: { primary: without(PRI, 'unconditional-io-exiting') } }, [LAUNCH, [{ op: 'in', port: '0x60', size: 2 }, P('0xffff')]]);

// ---------------------------------------------------------------- CR0 / CR4 shadowing (SDM 25.6.6, 26.1.3 MOV to CR0/CR4, CLTS, LMSW)
const CRS = 'SDM Vol. 3C 25.6.6 "Guest/Host Masks and Read Shadows for CR0 and CR4"';
scenario('cr0-mov-equal-shadow-no-exit', `${CRS}: MOV to CR0 with host-owned bits equal to the shadow does not exit`, {},
  [LAUNCH, [{ op: 'mov_to_cr', cr: 0, value: '0x80010031' }, P()]]);
scenario('cr0-mov-cd-differs-exits', `${CRS}: MOV to CR0 setting CD (host-owned, shadow 0) exits, qualification CR0 / MOV to CR / RAX`, {},
  [LAUNCH, [{ op: 'mov_to_cr', cr: 0, value: '0xc0010031' }, X(28, 'CR_ACCESS', '0x0', { instructionLength: 3 })]]);
scenario('cr0-mov-guest-owned-ts', `${CRS}: TS is guest-owned: MOV to CR0 setting TS runs and MOV from CR0 shows it`, {},
  [LAUNCH, [{ op: 'mov_to_cr', cr: 0, value: '0x80010039' }, P()], [{ op: 'mov_from_cr', cr: 0 }, P('0x80010039')]]);
scenario('cr0-mov-from-returns-shadow', `${CRS}: MOV from CR0 returns the read shadow for host-owned bits (MP = 1 in the shadow only)`,
  { vmcs: { CR0_READ_SHADOW: '0x80010033' } }, [LAUNCH, [{ op: 'mov_from_cr', cr: 0 }, P('0x80010033')]]);
scenario('cr0-mov-matching-custom-shadow', `${CRS}: the comparison is with the shadow, not the real CR0 (shadow MP = 1, MOV with MP = 1 runs)`,
  { vmcs: { CR0_READ_SHADOW: '0x80010033' } }, [LAUNCH, [{ op: 'mov_to_cr', cr: 0, value: '0x80010033' }, P()], [{ op: 'mov_to_cr', cr: 0, value: '0x80010031' }, X(28, 'CR_ACCESS', '0x0', { instructionLength: 3 })]]);
scenario('cr0-mask-zero-never-exits', `${CRS}: CR0 guest/host mask 0 => MOV to CR0 never exits and MOV from CR0 returns the real value`,
  { vmcs: { CR0_GUEST_HOST_MASK: '0x0' } }, [LAUNCH, [{ op: 'mov_to_cr', cr: 0, value: '0x80010033' }, P()], [{ op: 'mov_from_cr', cr: 0 }, P('0x80010033')]]);
scenario('cr4-mov-from-hides-vmxe', `${CRS}: MOV from CR4 returns the shadow (VMXE = 0) for host-owned bits`, {},
  [LAUNCH, [{ op: 'mov_from_cr', cr: 4 }, P('0x406a0')]]);
scenario('cr4-mov-equal-shadow-no-exit', `${CRS}: MOV to CR4 equal to the shadow on host-owned bits does not exit`, {},
  [LAUNCH, [{ op: 'mov_to_cr', cr: 4, value: '0x406a0' }, P()]]);
scenario('cr4-mov-vmxe-exits', `${CRS}: MOV to CR4 setting VMXE (host-owned, shadow 0) exits, qualification CR4`, {},
  [LAUNCH, [{ op: 'mov_to_cr', cr: 4, value: '0x426a0' }, X(28, 'CR_ACCESS', '0x4', { instructionLength: 3 })]]);
scenario('cr4-mov-smep-exits', `${CRS}: MOV to CR4 setting SMEP (bit 20, host-owned) exits`, {},
  [LAUNCH, [{ op: 'mov_to_cr', cr: 4, value: '0x1406a0' }, X(28, 'CR_ACCESS', '0x4', { instructionLength: 3 })]]);
scenario('cr4-mov-guest-owned-pge', `${CRS}: PGE is guest-owned: clearing it runs, MOV from CR4 shows it clear`, {},
  [LAUNCH, [{ op: 'mov_to_cr', cr: 4, value: '0x40620' }, P()], [{ op: 'mov_from_cr', cr: 4 }, P('0x40620')]]);
const MASK_ALL = '0xffffffffffffffff';
scenario('clts-guest-owned-ts', `${COND} (CLTS): TS not in the CR0 mask => CLTS runs`, {}, [LAUNCH, [{ op: 'clts' }, P()]]);
scenario('clts-mask-and-shadow-ts-exits', `${COND} (CLTS): TS set in both mask and shadow => exit, access type 2`,
  { vmcs: { CR0_GUEST_HOST_MASK: MASK_ALL, CR0_READ_SHADOW: '0x80010039' } }, [LAUNCH, [{ op: 'clts' }, X(28, 'CR_ACCESS', '0x20', { instructionLength: 2 })]]);
scenario('clts-mask-ts-shadow-clear-no-exit', `${COND} (CLTS): TS in the mask, shadow TS = 0 => no exit, CR0.TS unchanged`,
  { vmcs: { CR0_GUEST_HOST_MASK: MASK_ALL, GUEST_CR0: '0x80010039' } }, [LAUNCH, [{ op: 'clts' }, P()]]);
scenario('lmsw-equal-shadow-no-exit', `${COND} (LMSW): source bits 3:0 equal to the shadow on masked bits => no exit`, {},
  [LAUNCH, [{ op: 'lmsw', value: '0x1' }, P()]]);
scenario('lmsw-mp-differs-exits', `${COND} (LMSW): MP masked and source MP differs from the shadow => exit, type 3, source data in 31:16`, {},
  [LAUNCH, [{ op: 'lmsw', value: '0x3' }, X(28, 'CR_ACCESS', '0x30030', { instructionLength: 3 })]]);
scenario('lmsw-set-pe-shadow-clear-exits', `${COND} (LMSW): mask.PE = 1, source PE = 1, shadow PE = 0 => exit`,
  { vmcs: { CR0_READ_SHADOW: '0x80010030' } }, [LAUNCH, [{ op: 'lmsw', value: '0x1' }, X(28, 'CR_ACCESS', '0x10030', { instructionLength: 3 })]]);
scenario('lmsw-clear-pe-no-exit', `${COND} (LMSW): source PE = 0 with shadow PE = 1 does not exit (LMSW cannot clear PE)`, {},
  [LAUNCH, [{ op: 'lmsw', value: '0x0' }, P()]]);
scenario('lmsw-never-clears-pe', `SDM Vol. 2 "LMSW" / ${CRS}: PE guest-owned; LMSW 0 leaves CR0.PE = 1`,
  { vmcs: { CR0_GUEST_HOST_MASK: '0xfffffffffffefff6' } }, [LAUNCH, [{ op: 'lmsw', value: '0x0' }, P()], [{ op: 'mov_from_cr', cr: 0 }, P('0x80010031')]]);

// ---------------------------------------------------------------- CR3-target values (SDM 25.6.7)
const CR3T = 'SDM Vol. 3C 25.6.7 "CR3-Target Controls" / vmx_tests.c: insn_intercept "MOV to CR3"';
const cr3cfg = (count) => ({
  controls: { primary: withAlso(PRI, 'cr3-load-exiting') },
  vmcs: { CR3_TARGET_COUNT: `${count}`, CR3_TARGET_VALUE0: '0x3000000', CR3_TARGET_VALUE1: '0x3001000', CR3_TARGET_VALUE2: '0x3002000', CR3_TARGET_VALUE3: '0x3003000' },
});
const CR3X = X(28, 'CR_ACCESS', '0x3', { instructionLength: 3 });
scenario('cr3-target-count-0-exits', `${CR3T}: count 0 => every MOV to CR3 exits`, cr3cfg(0), [LAUNCH, [{ op: 'mov_to_cr', cr: 3, value: '0x3000000' }, CR3X]]);
scenario('cr3-target-count-1-match', `${CR3T}: count 1, value = target 0 => no exit`, cr3cfg(1), [LAUNCH, [{ op: 'mov_to_cr', cr: 3, value: '0x3000000' }, P()]]);
scenario('cr3-target-count-1-beyond', `${CR3T}: count 1, value = target 1 (not among the first 1) => exit`, cr3cfg(1), [LAUNCH, [{ op: 'mov_to_cr', cr: 3, value: '0x3001000' }, CR3X]]);
scenario('cr3-target-count-2-match', `${CR3T}: count 2, value = target 1 => no exit`, cr3cfg(2), [LAUNCH, [{ op: 'mov_to_cr', cr: 3, value: '0x3001000' }, P()]]);
scenario('cr3-target-count-3-beyond', `${CR3T}: count 3, value = target 3 => exit`, cr3cfg(3), [LAUNCH, [{ op: 'mov_to_cr', cr: 3, value: '0x3003000' }, CR3X]]);
scenario('cr3-target-count-4-match', `${CR3T}: count 4, value = target 3 => no exit, other value exits`, cr3cfg(4),
  [LAUNCH, [{ op: 'mov_to_cr', cr: 3, value: '0x3003000' }, P()], [{ op: 'mov_to_cr', cr: 3, value: '0x3004000' }, CR3X]]);
scenario('cr3-target-count-5-vmfail', 'SDM Vol. 3C 27.2.1.1 "VM-Execution Control Fields": CR3-target count > 4 => VMfailValid(7)', cr3cfg(5), [[{ op: 'launch' }, FV(7)]]);
scenario('cr3-load-exiting-off', `${COND}: CR3-load exiting = 0 => MOV to CR3 runs, MOV from CR3 returns it`, {},
  [LAUNCH, [{ op: 'mov_to_cr', cr: 3, value: '0x3000000' }, P()], [{ op: 'mov_from_cr', cr: 3 }, P('0x3000000')]]);

// ---------------------------------------------------------------- I/O bitmaps (SDM 25.6.4, 26.1.3)
const IOB = 'SDM Vol. 3C 25.6.4 "I/O-Bitmap Addresses" / vmx_tests.c: test_io_bitmaps';
scenario('io-4byte-in-at-4fff-hits-5000', `${IOB}: a 4-byte IN at 0x4fff touches 0x5000 whose bit is set => exit (size 3, IN, port 0x4fff)`,
  { ioBitmap: { exitPorts: ['0x5000'] } }, [LAUNCH, [{ op: 'in', port: '0x4fff', size: 4 }, X(30, 'IO_INSTRUCTION', '0x4fff000b', { instructionLength: 1 })]]);
scenario('io-4byte-in-below-5000-no-exit', `${IOB}: a 4-byte IN at 0x4ffb touches 0x4ffb..0x4ffe only => no exit`,
  { ioBitmap: { exitPorts: ['0x5000'] } }, [LAUNCH, [{ op: 'in', port: '0x4ffb', size: 4 }, P('0xffffffff')]]);
scenario('io-wrap-ffff-exits-empty-bitmaps', `${IOB}: a 4-byte IN at 0xffff wraps past 0xffff => exit even with empty bitmaps`,
  { ioBitmap: { exitPorts: [] } }, [LAUNCH, [{ op: 'in', port: '0xffff', size: 4 }, X(30, 'IO_INSTRUCTION', '0xffff000b', { instructionLength: 1 })]]);
scenario('io-1byte-ffff-no-wrap', `${IOB}: a 1-byte IN at 0xffff does not wrap => no exit with empty bitmaps`,
  { ioBitmap: { exitPorts: [] } }, [LAUNCH, [{ op: 'in', port: '0xffff', size: 1 }, P('0xff')]]);
scenario('io-bitmap-b-port-8000', `${IOB}: bitmap B covers 0x8000-0xffff`, { ioBitmap: { exitPorts: ['0x8000'] } },
  [LAUNCH, [{ op: 'in', port: '0x8000', size: 1 }, X(30, 'IO_INSTRUCTION', '0x80000008', { instructionLength: 1 })]]);
scenario('io-straddles-a-and-b', `${IOB}: a 2-byte IN at 0x7fff touches 0x8000 in bitmap B => exit (size 1)`,
  { ioBitmap: { exitPorts: ['0x8000'] } }, [LAUNCH, [{ op: 'in', port: '0x7fff', size: 2 }, X(30, 'IO_INSTRUCTION', '0x7fff0009', { instructionLength: 2 })]]);
scenario('io-out-word-qualification', `SDM Vol. 3C Table 28-5 "Exit Qualification for I/O Instructions": OUT DX,AX to 0x3f8 => size 1, OUT`,
  { ioBitmap: { exitPorts: ['0x3f8-0x3ff'] } }, [LAUNCH, [{ op: 'out', port: '0x3f8', size: 2 }, X(30, 'IO_INSTRUCTION', '0x3f80001', { instructionLength: 2 })],
    RESUME, [{ op: 'out', port: '0x3f0', size: 1 }, P()]]);
scenario('io-rep-outs-qualification', 'SDM Vol. 3C Table 28-5: REP OUTSB => string bit 4 and REP bit 5',
  { ioBitmap: { exitPorts: ['0x3f8'] } }, [LAUNCH, [{ op: 'out', port: '0x3f8', size: 1, string: true, rep: true }, X(30, 'IO_INSTRUCTION', '0x3f80030', { instructionLength: 2 })]]);
scenario('io-ins-dword-qualification', 'SDM Vol. 3C Table 28-5: INSD (no REP) => size 3, IN, string',
  { ioBitmap: { exitPorts: ['0x1f0'] } }, [LAUNCH, [{ op: 'in', port: '0x1f0', size: 4, string: true }, X(30, 'IO_INSTRUCTION', '0x1f0001b', { instructionLength: 1 })]]);
scenario('io-bitmaps-ignore-unconditional', `${COND} (IN/OUT): with "use I/O bitmaps" = 1 "unconditional I/O exiting" is ignored`,
  { controls: { primary: withAlso(PRI, 'use-io-bitmaps') }, ioBitmap: { exitPorts: ['0x70'] } },
  [LAUNCH, [{ op: 'out', port: '0x80', size: 1 }, P()], [{ op: 'out', port: '0x70', size: 1 }, X(30, 'IO_INSTRUCTION', '0x700000', { instructionLength: 1 })]]);

// ---------------------------------------------------------------- MSR bitmaps (SDM 25.6.9)
const MSRB = 'SDM Vol. 3C 25.6.9 "MSR-Bitmap Address" / vmx_tests.c: msr_switch / insn_intercept "RDMSR"';
scenario('msr-read-high-quadrant', `${MSRB}: RDMSR 0xc0000080 uses read bitmap for high MSRs (byte 0x410 bit 0)`,
  { msrBitmap: { readExit: ['0xc0000080'], writeExit: [] } },
  [LAUNCH, [{ op: 'rdmsr', msr: '0xc0000080' }, X(31, 'MSR_READ', '0x0', { instructionLength: 2 })]]);
scenario('msr-read-low-same-offset-no-exit', `${MSRB}: only the high-quadrant bit is set => RDMSR 0x80 (low quadrant, same bit) runs`,
  { msrBitmap: { readExit: ['0xc0000080'], writeExit: [] } }, [LAUNCH, [{ op: 'rdmsr', msr: '0x80' }, P('0x0')]]);
scenario('msr-out-of-range-exits', `${COND} (RDMSR): ECX outside 0-0x1fff and 0xc0000000-0xc0001fff => exit even with empty bitmaps`,
  { msrBitmap: { readExit: [], writeExit: [] } }, [LAUNCH, [{ op: 'rdmsr', msr: '0x40000000' }, X(31, 'MSR_READ', '0x0', { instructionLength: 2 })]]);
scenario('msr-write-out-of-range-exits', `${COND} (WRMSR): out-of-range ECX always exits`,
  { msrBitmap: { readExit: [], writeExit: [] } }, [LAUNCH, [{ op: 'wrmsr', msr: '0x40000001', value: '0x1' }, X(32, 'MSR_WRITE', '0x0', { instructionLength: 2 })]]);
scenario('msr-write-bitmap-not-read', `${MSRB}: writeExit 0x6e0 => WRMSR exits, RDMSR of it runs`,
  { msrBitmap: { readExit: [], writeExit: ['0x6e0'] } },
  [LAUNCH, [{ op: 'rdmsr', msr: '0x6e0' }, P('0x0')], [{ op: 'wrmsr', msr: '0x6e0', value: '0x10' }, X(32, 'MSR_WRITE', '0x0', { instructionLength: 2 })]]);
scenario('msr-bitmaps-off-all-exit', `${COND} (RDMSR/WRMSR): use MSR bitmaps = 0 => every RDMSR and WRMSR exits`,
  { controls: { primary: without(PRI, 'use-msr-bitmaps') } },
  [LAUNCH, [{ op: 'rdmsr', msr: '0x10' }, X(31, 'MSR_READ', '0x0', { instructionLength: 2 })], RESUME,
    [{ op: 'wrmsr', msr: '0x48', value: '0x0' }, X(32, 'MSR_WRITE', '0x0', { instructionLength: 2 })]]);
scenario('msr-passthrough-write-then-read', `${MSRB}: with no bits set a WRMSR then RDMSR of the same MSR run in the guest`,
  { msrBitmap: { readExit: [], writeExit: [] } },
  [LAUNCH, [{ op: 'wrmsr', msr: '0x174', value: '0x10' }, P()], [{ op: 'rdmsr', msr: '0x174' }, P('0x10')]]);
scenario('msr-kvm-default-apic-base-exits', `${MSRB}: KVM's default bitmap intercepts IA32_APIC_BASE (0x1b) reads`, {},
  [LAUNCH, [{ op: 'rdmsr', msr: '0x1b' }, X(31, 'MSR_READ', '0x0', { instructionLength: 2 })]]);
scenario('msr-kvm-default-sysenter-passthrough', `${MSRB}: KVM passes IA32_SYSENTER_CS (0x174) reads through`, {},
  [LAUNCH, [{ op: 'rdmsr', msr: '0x174' }, P('0x0')]]);

// ---------------------------------------------------------------- exception bitmap and #PF filtering (SDM 25.6.3)
const EXB = 'SDM Vol. 3C 25.6.3 "Exception Bitmap" (#PF error-code mask/match) / vmx_tests.c: test_pf_exception_bitmap';
// steps: launch, exit via CPUID, map gva 0x400000 -> gpa 0x200000 user read-only (no W, XD), EPT map it, resume, access
const pfSteps = (access, outcome) => [LAUNCH, CPUID_EXIT,
  [{ op: 'guest_map', gva: '0x400000', gpa: '0x200000', size: '4K', flags: 'ru' }, S],
  [{ op: 'ept_map', gpa: '0x200000', hpa: '0x80000', size: '4K', perm: 'rwx' }, S],
  RESUME, [access, outcome]];
const READ_NP = { op: 'read', gva: '0x401000', user: true }; // PTE 0 => P = 0, user read => PFEC = U = 0x4
const WRITE_P = { op: 'write', gva: '0x400000', user: true }; // present read-only => PFEC = P|W|U = 0x7
const PFX = (gva, ec) => X(0, 'EXCEPTION_NMI', gva, { interruptionInfo: '0x80000b0e', interruptionErrorCode: ec });
const pf = (slug, bitmap, mask, match, np, p, why) => {
  const cfg = { vmcs: { EXCEPTION_BITMAP: bitmap, PAGE_FAULT_ERROR_CODE_MASK: mask, PAGE_FAULT_ERROR_CODE_MATCH: match } };
  scenario(`pf-${slug}-not-present`, `${EXB}: ${why} (P = 0 fault, PFEC 0x4)`, cfg, pfSteps(READ_NP, np));
  scenario(`pf-${slug}-present`, `${EXB}: ${why} (P = 1 fault, PFEC 0x7)`, cfg, pfSteps(WRITE_P, p));
};
pf('bit14-mask0-match0', '0x4000', '0x0', '0x0', PFX('0x401000', '0x4'), PFX('0x400000', '0x7'), 'bit 14 = 1, mask = match = 0 => every #PF exits');
pf('bit14-mask1-match1', '0x4000', '0x1', '0x1', F(14, 4), PFX('0x400000', '0x7'), 'bit 14 = 1, mask = match = 1 => only P = 1 faults exit');
pf('nobit14-mask1-match0', '0x0', '0x1', '0x0', F(14, 4), PFX('0x400000', '0x7'), 'bit 14 = 0, mask = 1, match = 0 => only P = 1 faults exit (mismatch)');
pf('nobit14-mask0-match0', '0x0', '0x0', '0x0', F(14, 4), F(14, 7), 'bit 14 = 0, mask = match = 0 => no #PF exits');
pf('bit14-maskW-matchW', '0x4000', '0x2', '0x2', F(14, 4), PFX('0x400000', '0x7'), 'bit 14 = 1, mask = match = W => only write faults exit');
scenario('pf-present-read-succeeds', `${EXB}: a user read of the present read-only page translates (no fault)`,
  { vmcs: { EXCEPTION_BITMAP: '0x4000' } }, pfSteps({ op: 'read', gva: '0x400000', user: true }, P()));
scenario('exc-ud-intercepted-by-default', `${EXB}: KVM's bitmap has #UD (bit 6): a guest #UD exits, type 3, no error code`, {},
  [LAUNCH, [{ op: 'exception', vector: 6 }, X(0, 'EXCEPTION_NMI', '0x0', { interruptionInfo: '0x80000306' })]]);
scenario('exc-gp-intercepted', `${EXB}: bit 13 set => #GP(0) exits with error-code valid (bit 11)`, { vmcs: { EXCEPTION_BITMAP: '0x2000' } },
  [LAUNCH, [{ op: 'exception', vector: 13, errorCode: 0 }, X(0, 'EXCEPTION_NMI', '0x0', { interruptionInfo: '0x80000b0d', interruptionErrorCode: '0x0' })]]);
scenario('exc-gp-delivered', `${EXB}: bit 13 clear => #GP is delivered in the guest`, {},
  [LAUNCH, [{ op: 'exception', vector: 13, errorCode: 0 }, F(13, 0)]]);
scenario('exc-de-delivered', `${EXB}: bit 0 clear => #DE is delivered in the guest`, {}, [LAUNCH, [{ op: 'exception', vector: 0 }, F(0)]]);
scenario('exc-de-intercepted', `${EXB}: bit 0 set => #DE exits (vector 0, hardware exception)`, { vmcs: { EXCEPTION_BITMAP: '0x1' } },
  [LAUNCH, [{ op: 'exception', vector: 0 }, X(0, 'EXCEPTION_NMI', '0x0', { interruptionInfo: '0x80000300' })]]);

// ---------------------------------------------------------------- RDTSCP / RDPID #UD (SDM 26.3 "Changes to Instruction Behavior")
const UDR = 'SDM Vol. 3C 26.3 "Changes to Instruction Behavior in VMX Non-Root Operation" (RDTSCP, RDPID) / reference §10.3';
scenario('rdtscp-ud-when-disabled', `${UDR}: enable RDTSCP = 0 => #UD (delivered: exception bitmap 0)`,
  { controls: { secondary: without(SEC, 'enable-rdtscp') }, vmcs: { EXCEPTION_BITMAP: '0x0' } }, [LAUNCH, [{ op: 'rdtscp' }, F(6)]]);
scenario('rdtscp-ud-when-secondary-off', `${UDR}: activate secondary controls = 0 behaves as enable RDTSCP = 0 => #UD`,
  { controls: { primary: without(PRI, 'activate-secondary-controls') }, mode: 'shadow', vmcs: { EXCEPTION_BITMAP: '0x0' } }, [LAUNCH, [{ op: 'rdtscp' }, F(6)]]);
scenario('rdtscp-ud-beats-rdtsc-exiting', `${UDR}: #UD has priority over the RDTSC-exiting VM exit`,
  { controls: { primary: withAlso(PRI, 'rdtsc-exiting'), secondary: without(SEC, 'enable-rdtscp') }, vmcs: { EXCEPTION_BITMAP: '0x0' } }, [LAUNCH, [{ op: 'rdtscp' }, F(6)]]);
scenario('rdtscp-ud-intercepted', `${UDR} with ${EXB}: the #UD of RDTSCP exits when #UD is in the bitmap (KVM default)`,
  { controls: { secondary: without(SEC, 'enable-rdtscp') } }, [LAUNCH, [{ op: 'rdtscp' }, X(0, 'EXCEPTION_NMI', '0x0', { interruptionInfo: '0x80000306' })]]);
scenario('rdpid-ud-when-disabled', `${UDR}: RDPID #UD when enable RDTSCP = 0`,
  { controls: { secondary: without(SEC, 'enable-rdtscp') }, vmcs: { EXCEPTION_BITMAP: '0x0' } }, [LAUNCH, [{ op: 'rdpid' }, F(6)]]);
scenario('rdpid-ud-when-secondary-off', `${UDR}: RDPID #UD when activate secondary controls = 0`,
  { controls: { primary: without(PRI, 'activate-secondary-controls') }, mode: 'shadow', vmcs: { EXCEPTION_BITMAP: '0x0' } }, [LAUNCH, [{ op: 'rdpid' }, F(6)]]);

// ---------------------------------------------------------------- TSC: reference §10.2/10.3, SDM 25.6.5 "Time-Stamp Counter Offset and Multiplier"
const TSC = 'SDM Vol. 3C 25.6.5 "Time-Stamp Counter Offset and Multiplier" / 26.3 RDTSC, RDTSCP';
const NEAR = '0xfffffffffffff000'; // -4096: T = 10000 (0x2710) => guest 0x2710 - 0x1000 = 0x1710
const RUN10K = [{ op: 'run', cycles: '10000' }, P()];
const tscNoExitBitmap = { EXCEPTION_BITMAP: '0x0', TSC_OFFSET: NEAR };
scenario('tsc-table-rdtscp0-exit0', `${TSC} / reference §10.3 row (0, 0): RDTSC = T + offset (wraps mod 2^64), RDTSCP #UD`,
  { controls: { secondary: without(SEC, 'enable-rdtscp') }, vmcs: tscNoExitBitmap },
  [LAUNCH, RUN10K, [{ op: 'rdtsc' }, P('0x1710')], [{ op: 'rdtscp' }, F(6)]]);
scenario('tsc-table-rdtscp0-exit1', `${TSC} / reference §10.3 row (0, 1): RDTSC exits 16, RDTSCP #UD`,
  { controls: { primary: withAlso(PRI, 'rdtsc-exiting'), secondary: without(SEC, 'enable-rdtscp') }, vmcs: tscNoExitBitmap },
  [LAUNCH, RUN10K, [{ op: 'rdtsc' }, X(16, 'RDTSC', '0x0', { instructionLength: 2 })], RESUME, [{ op: 'rdtscp' }, F(6)]]);
scenario('tsc-table-rdtscp1-exit0', `${TSC} / reference §10.3 row (1, 0): RDTSC and RDTSCP return T + offset, RDTSCP ECX = IA32_TSC_AUX`,
  { msrBitmap: { readExit: [], writeExit: [] }, vmcs: tscNoExitBitmap },
  [LAUNCH, [{ op: 'wrmsr', msr: '0xc0000103', value: '0x2a' }, P()], RUN10K, [{ op: 'rdtsc' }, P('0x1710')], [{ op: 'rdtscp' }, P('0x1710', '0x2a')],
    [{ op: 'rdpid' }, P('0x2a')]]);
scenario('tsc-table-rdtscp1-exit1', `${TSC} / reference §10.3 row (1, 1): RDTSC exits 16, RDTSCP exits 51`,
  { controls: { primary: withAlso(PRI, 'rdtsc-exiting') }, vmcs: tscNoExitBitmap },
  [LAUNCH, RUN10K, [{ op: 'rdtsc' }, X(16, 'RDTSC', '0x0', { instructionLength: 2 })], RESUME, [{ op: 'rdtscp' }, X(51, 'RDTSCP', '0x0', { instructionLength: 3 })]]);
// T = 2^48 + 10000; mul = 3 + 2^-48 (0x3000000000001, not a power of two); (T * mul) >> 48 = 3T + floor(T / 2^48)
//   = 0x3000000000000 + 0x7530 + 1 = 0x3000000007531; + offset 0xffff000000000000 = 0x10002000000007531 mod 2^64
//   = 0x2000000007531
scenario('tsc-scaling-and-offset-wrap', `${TSC}: guest TSC = ((T * multiplier) >> 48) + offset with a 128-bit product, mod 2^64`,
  { controls: { secondary: withAlso(SEC, 'use-tsc-scaling') }, msrBitmap: { readExit: [], writeExit: [] },
    vmcs: { TSC_OFFSET: '0xffff000000000000', TSC_MULTIPLIER: '0x3000000000001' } },
  [LAUNCH, [{ op: 'run', cycles: '0x1000000002710' }, P()], [{ op: 'rdtsc' }, P('0x2000000007531')], [{ op: 'rdtscp' }, P('0x2000000007531', '0x0')],
    [{ op: 'rdmsr', msr: '0x10' }, P('0x2000000007531')]]);
// T = 10000, mul = 1.5 (0x1800000000000) => 15000 = 0x3a98; offset -65536 => 0x3a98 - 0x10000 = 0xffffffffffff3a98
scenario('tsc-scaling-one-and-a-half', `${TSC}: multiplier 1.5 and negative offset wrap below zero`,
  { controls: { secondary: withAlso(SEC, 'use-tsc-scaling') }, vmcs: { TSC_OFFSET: '0xffffffffffff0000', TSC_MULTIPLIER: '0x1800000000000' } },
  [LAUNCH, RUN10K, [{ op: 'rdtsc' }, P('0xffffffffffff3a98')]]);
scenario('tsc-scaling-ignored-without-offsetting', `${TSC}: use TSC offsetting = 0 => the guest reads T (offset and multiplier ignored)`,
  { controls: { primary: without(PRI, 'use-tsc-offsetting'), secondary: withAlso(SEC, 'use-tsc-scaling') }, vmcs: { TSC_OFFSET: '0x1000', TSC_MULTIPLIER: '0x3000000000000' } },
  [LAUNCH, RUN10K, [{ op: 'rdtsc' }, P('0x2710')]]);
scenario('tsc-offset-only-rdmsr', `${TSC}: RDMSR IA32_TIME_STAMP_COUNTER (passed through) returns T + offset`,
  { vmcs: { TSC_OFFSET: '0x100000000' } }, [LAUNCH, RUN10K, [{ op: 'rdmsr', msr: '0x10' }, P('0x100002710')]]);
// VM-exit MSR-store list at 0x5000: entry 0 = IA32_TSC (0x10); stored value is the host TSC without offset (SDM 28.4 "Saving MSRs")
scenario('tsc-msr-store-without-offset', 'SDM Vol. 3C 28.4 "Saving MSRs": IA32_TSC is stored as the host value, not offset',
  { vmcs: { TSC_OFFSET: NEAR, VM_EXIT_MSR_STORE_COUNT: '1', VM_EXIT_MSR_STORE_ADDR: '0x5000' } },
  [[{ op: 'write_phys', hpa: '0x5000', value: '0x10', size: 4 }, S], LAUNCH, RUN10K, [{ op: 'rdtsc' }, P('0x1710')], CPUID_EXIT],
  [{ hpa: '0x5008', value: '0x2710' }]);

// ---------------------------------------------------------------- preemption timer (SDM 26.5.1; reference §10.4: rate 2^5 on skylake-server)
const PT = 'SDM Vol. 3C 26.5.1 "VMX-Preemption Timer" / vmx_tests.c: preemption_timer';
const ptCfg = (value, save) => ({
  controls: { pin: withAlso(PIN, 'activate-vmx-preemption-timer'), ...(save ? { exit: withAlso(EXIT, 'save-vmx-preemption-timer-value') } : {}) },
  vmcs: { VMX_PREEMPTION_TIMER_VALUE: `${value}` },
});
const TIMER = X(52, 'PREEMPTION_TIMER', '0x0');
scenario('timer-zero-exits-at-entry', `${PT}: a value of 0 at VM entry exits (reason 52) before any guest instruction`, ptCfg(0, false), [[{ op: 'launch' }, TIMER]]);
scenario('timer-zero-at-vmresume', `${PT}: a value of 0 written before VMRESUME exits at once`, ptCfg(1000, false),
  [LAUNCH, CPUID_EXIT, [{ op: 'vmwrite', field: 'VMX_PREEMPTION_TIMER_VALUE', value: '0' }, S], [{ op: 'vmresume' }, TIMER]]);
// value 10, one tick per 32 TSC cycles: 100 cycles = 3 ticks (bit 5 changes at 32, 64, 96) => 7 left; 300 more reach 0
scenario('timer-expires-during-run', `${PT}: the timer counts down every 2^X TSC cycles (IA32_VMX_MISC[4:0] = 5) and exits at 0`, ptCfg(10, false),
  [LAUNCH, [{ op: 'run', cycles: '100' }, P()], [{ op: 'run', cycles: '300' }, TIMER]]);
scenario('timer-save-value', `${PT} with "save VMX-preemption timer value" = 1: the remaining count is written back at exit`, ptCfg(10, true),
  [LAUNCH, [{ op: 'run', cycles: '100' }, P()], CPUID_EXIT, [{ op: 'vmread', field: 'VMX_PREEMPTION_TIMER_VALUE' }, Sv('0x7')]]);
scenario('timer-no-save-keeps-programmed', `${PT}: without "save" the field keeps the programmed value`, ptCfg(10, false),
  [LAUNCH, [{ op: 'run', cycles: '100' }, P()], CPUID_EXIT, [{ op: 'vmread', field: 'VMX_PREEMPTION_TIMER_VALUE' }, Sv('0xa')]]);
scenario('timer-not-affected-by-offset', `${PT} and reference §10.2: the timer runs on the host TSC, not the offset guest TSC`,
  { ...ptCfg(10, false), vmcs: { VMX_PREEMPTION_TIMER_VALUE: '10', TSC_OFFSET: '0x100000' } },
  [LAUNCH, [{ op: 'run', cycles: '319' }, P()], [{ op: 'run', cycles: '1' }, TIMER]]);
scenario('timer-save-without-activate-vmfail', 'SDM Vol. 3C 27.2.1.2 "VM-Exit Control Fields": save timer value without activate => VMfailValid(7)',
  { controls: { exit: withAlso(EXIT, 'save-vmx-preemption-timer-value') } }, [[{ op: 'launch' }, FV(7)]]);

// ---------------------------------------------------------------- EPT (SDM 29.3.3 "EPT-Induced VM Exits", Table 28-7)
const EPTV = 'SDM Vol. 3C 29.3.3.2 "EPT Violations" / Table 28-7 "Exit Qualification for EPT Violations"';
const mapSteps = (perm, flags = 'rwux') => [LAUNCH, CPUID_EXIT,
  [{ op: 'guest_map', gva: '0x400000', gpa: '0x200000', size: '4K', flags }, S],
  ...(perm === null ? [] : [[{ op: 'ept_map', gpa: '0x200000', hpa: '0x80000', size: '4K', perm }, S]]), RESUME];
// qualification: read 0x1, write 0x2, fetch 0x4; readable 0x8, writable 0x10, executable 0x20; GLA valid 0x80; final 0x100;
// skylake-server has IA32_VMX_EPT_VPID_CAP[22] (advanced VM-exit information), so a final-translation violation also
// reports bit 9 (user-mode linear address), bit 10 (guest paging read/write) and bit 11 (guest paging execute-disable).
// A page mapped "rwux" => bits 9 and 10 (0x600); a supervisor page "rw" (XD) => bits 10 and 11 (0xc00).
scenario('ept-violation-read-not-present', `${EPTV}: read of an unmapped GPA => read | GLA valid | final | user | writable (0x781)`, {},
  [...mapSteps(null), [{ op: 'read', gva: '0x400010', user: true }, X(48, 'EPT_VIOLATION', '0x781', { guestPhysical: '0x200010', guestLinear: '0x400010' })]]);
scenario('ept-violation-write-readonly', `${EPTV}: write to a read-only EPT page => write | readable | GLA | final (0x18a)`, {},
  [...mapSteps('r'), [{ op: 'write', gva: '0x400008', user: true }, X(48, 'EPT_VIOLATION', '0x78a', { guestPhysical: '0x200008', guestLinear: '0x400008' })]]);
scenario('ept-violation-fetch-noexec', `${EPTV}: fetch from a non-executable EPT page => fetch | readable | writable | GLA | final (0x19c)`, {},
  [...mapSteps('rw'), [{ op: 'fetch', gva: '0x400000', user: false }, X(48, 'EPT_VIOLATION', '0x79c', { guestPhysical: '0x200000', guestLinear: '0x400000' })]]);
scenario('ept-read-readonly-ok', `${EPTV}: a read of a read-only EPT page translates`, {}, [...mapSteps('r'), [{ op: 'read', gva: '0x400000', user: true }, P()]]);
scenario('ept-violation-paging-structure', `${EPTV}: the guest's root table is unmapped: bit 8 = 0; with EPT A/D on a paging-structure access reports read and write (0x83)`, {},
  [LAUNCH, [{ op: 'read', gva: '0x400000', user: true }, X(48, 'EPT_VIOLATION', '0x83', { guestPhysical: '0x1000000', guestLinear: '0x400000' })]]);
scenario('ept-violation-paging-structure-no-ad', `${EPTV}: without EPT A/D a paging-structure read reports read only (0x81)`, { ept: { accessedDirty: false } },
  [LAUNCH, [{ op: 'read', gva: '0x400000', user: true }, X(48, 'EPT_VIOLATION', '0x81', { guestPhysical: '0x1000000', guestLinear: '0x400000' })]]);
scenario('ept-violation-retry-after-map', `${EPTV} / interface §4: the access that exited is retried at VMRESUME after ept_map`, {},
  [...mapSteps(null), [{ op: 'read', gva: '0x400000', user: true }, X(48, 'EPT_VIOLATION', '0x781', { guestPhysical: '0x200000', guestLinear: '0x400000' })],
    [{ op: 'ept_map', gpa: '0x200000', hpa: '0x80000', size: '4K', perm: 'rwx' }, S], [{ op: 'vmresume' }, { result: 'entered' }],
    [{ op: 'read', gva: '0x400000', user: true }, P()]]);
scenario('ept-violation-retry-still-unmapped', `${EPTV}: VMRESUME without fixing the mapping sees the same EPT violation again`, {},
  [...mapSteps(null), [{ op: 'read', gva: '0x400000', user: true }, X(48, 'EPT_VIOLATION', '0x781', { guestPhysical: '0x200000', guestLinear: '0x400000' })],
    [{ op: 'vmresume' }, X(48, 'EPT_VIOLATION', '0x781', { guestPhysical: '0x200000', guestLinear: '0x400000' })]]);
scenario('ept-misconfig-write-only', 'SDM Vol. 3C 29.3.3.1 "EPT Misconfigurations": a present entry with W = 1 and R = 0 => exit 49, GPA recorded', {},
  [...mapSteps('w'), [{ op: 'read', gva: '0x400020', user: true }, X(49, 'EPT_MISCONFIG', '0x0', { guestPhysical: '0x200020' })]]);
scenario('ept-misconfig-bad-memtype', 'SDM Vol. 3C 29.3.3.1 "EPT Misconfigurations": leaf memory type 2 (reserved) => exit 49', {},
  [LAUNCH, CPUID_EXIT, [{ op: 'guest_map', gva: '0x400000', gpa: '0x200000', size: '4K', flags: 'rwux' }, S],
    [{ op: 'ept_map', gpa: '0x200000', hpa: '0x80000', size: '4K', perm: 'rwx', memtype: 2 }, S], RESUME,
    [{ op: 'read', gva: '0x400000', user: true }, X(49, 'EPT_MISCONFIG', '0x0', { guestPhysical: '0x200000' })]]);
scenario('ept-mmio-first-touch-violation', `${EPTV}: a guest access to the local APIC page (config mmio) first gives an EPT violation`, {},
  [LAUNCH, CPUID_EXIT, [{ op: 'guest_map', gva: '0x400000', gpa: '0xfee00000', size: '4K', flags: 'rw' }, S], RESUME,
    [{ op: 'read', gva: '0x400030', user: false }, X(48, 'EPT_VIOLATION', '0xd81', { guestPhysical: '0xfee00030', guestLinear: '0x400030' })]]);

// ---------------------------------------------------------------- INVEPT / INVVPID (SDM 29.4 "Caching Translation Information")
const INV = 'SDM Vol. 3C 29.4.3 "Invalidating Cached Mappings" (INVEPT, INVVPID) / vmx_tests.c: ept_access_test / invvpid_test';
// EPTP of `launch`: root = 1 MiB + 4 pages (MSR bitmap, I/O A, I/O B, PML first) = 0x104000 | WB 6 | walk length 3 << 3 | A/D 0x40
const EPTP = '0x10405e';
const staleSteps = (inv, after) => [...mapSteps('rwx'), [{ op: 'read', gva: '0x400000', user: true }, P()], CPUID_EXIT,
  [{ op: 'ept_write_entry', gpa: '0x200000', level: 1, value: '0x0' }, S], RESUME,
  [{ op: 'read', gva: '0x400000', user: true }, P()], CPUID_EXIT, inv, RESUME, [{ op: 'read', gva: '0x400000', user: true }, after]];
scenario('invept-single-context-rewalks', `${INV}: a cleared EPT leaf is not seen until INVEPT type 1 (single-context)`, {},
  staleSteps([{ op: 'invept', type: 1, eptp: EPTP }, S], X(48, 'EPT_VIOLATION', '0x781', { guestPhysical: '0x200000', guestLinear: '0x400000' })));
scenario('invept-all-context-rewalks', `${INV}: INVEPT type 2 (all-context) invalidates the stale combined mapping`, {},
  staleSteps([{ op: 'invept', type: 2, eptp: '0x0' }, S], X(48, 'EPT_VIOLATION', '0x781', { guestPhysical: '0x200000', guestLinear: '0x400000' })));
scenario('invept-eptp-readback', 'interface §3 (launch) / SDM 25.6.11 "Extended-Page-Table Pointer": the programmed EPTP', {},
  [LAUNCH, CPUID_EXIT, [{ op: 'vmread', field: 'EPT_POINTER' }, Sv(EPTP)]]);
scenario('ept-write-entry-stale-until-invept', `${INV}: after ept_write_entry moving the leaf to another HPA, the old translation keeps working`, {},
  [...mapSteps('rwx'), [{ op: 'read', gva: '0x400000', user: true }, P()], CPUID_EXIT,
    [{ op: 'ept_write_entry', gpa: '0x200000', level: 1, value: '0x90077' }, S], RESUME, [{ op: 'write', gva: '0x400000', user: true }, P()],
    CPUID_EXIT, [{ op: 'invept', type: 1, eptp: EPTP }, S], RESUME,
    [{ op: 'write', gva: '0x400000', user: true }, P()]]);
scenario('invept-bad-type', `${INV}: INVEPT type 3 (not supported) => VMfailValid(28)`, {}, [LAUNCH, CPUID_EXIT, [{ op: 'invept', type: 3, eptp: EPTP }, FV(28)]]);
scenario('invept-single-bad-eptp', `${INV}: INVEPT type 1 with an invalid EPTP (memory type 1) => VMfailValid(28)`, {},
  [LAUNCH, CPUID_EXIT, [{ op: 'invept', type: 1, eptp: '0x104059' }, FV(28)]]);
const vpidSteps = (inv, after) => [...mapSteps('rwx'), [{ op: 'read', gva: '0x400000', user: true }, P()],
  [{ op: 'guest_unmap', gva: '0x400000' }, P()], [{ op: 'read', gva: '0x400000', user: true }, P()], CPUID_EXIT, inv, RESUME,
  [{ op: 'read', gva: '0x400000', user: true }, after]];
scenario('invvpid-single-context', `${INV}: after guest_unmap without INVLPG the TLB entry is used until INVVPID type 1`, {},
  vpidSteps([{ op: 'invvpid', type: 1, vpid: '1' }, S], F(14, 4)));
scenario('invvpid-individual-address', `${INV}: INVVPID type 0 for the address invalidates it`, {},
  vpidSteps([{ op: 'invvpid', type: 0, vpid: '1', gva: '0x400000' }, S], F(14, 4)));
scenario('invvpid-other-vpid-keeps-stale', `${INV}: INVVPID for VPID 2 leaves VPID 1's translation`, {},
  vpidSteps([{ op: 'invvpid', type: 1, vpid: '2' }, S], P()));
scenario('invlpg-in-guest-invalidates', 'SDM Vol. 3A 4.10.4.1 "Operations that Invalidate TLBs and Paging-Structure Caches": INVLPG after unmap => #PF', {},
  [...mapSteps('rwx'), [{ op: 'read', gva: '0x400000', user: true }, P()], [{ op: 'guest_unmap', gva: '0x400000' }, P()],
    [{ op: 'invlpg', gva: '0x400000' }, P()], [{ op: 'read', gva: '0x400000', user: true }, F(14, 4)]]);
scenario('invvpid-vpid0-fails', `${INV}: INVVPID single-context with VPID 0 => VMfailValid(28)`, {}, [LAUNCH, CPUID_EXIT, [{ op: 'invvpid', type: 1, vpid: '0' }, FV(28)]]);
scenario('invvpid-bad-type', `${INV}: INVVPID type 4 => VMfailValid(28)`, {}, [LAUNCH, CPUID_EXIT, [{ op: 'invvpid', type: 4, vpid: '1' }, FV(28)]]);

// ---------------------------------------------------------------- VMX instructions and their errors (SDM 31.3, 31.4)
const VI = 'SDM Vol. 3C 31.4 "VM Instruction Error Numbers"';
const ON = [{ op: 'vmxon', addr: '0x1000' }, S];
const CLR = [{ op: 'vmclear', addr: '0x2000' }, S];
const LD = [{ op: 'vmptrld', addr: '0x2000' }, S];
scenario('vmxon-bad-revision', `SDM "VMXON" / vmx_tests.c: test_vmxon "VMXON with bad revision": VMfailInvalid`, {}, [[{ op: 'vmxon', addr: '0x1000', revision: '0x5' }, FI]]);
scenario('vmxon-unaligned', `SDM "VMXON" / vmx_tests.c: test_vmxon "VMXON with unaligned address": VMfailInvalid`, {}, [[{ op: 'vmxon', addr: '0x1001' }, FI]]);
scenario('vmxon-beyond-maxphyaddr', `SDM "VMXON" / vmx_tests.c: test_vmxon "VMXON with bits set beyond PA width": VMfailInvalid`, {}, [[{ op: 'vmxon', addr: '0x400000000000' }, FI]]);
scenario('vmxon-twice-no-vmcs', `${VI} 15: VMXON in VMX root with no current VMCS => VMfailInvalid`, {}, [ON, [{ op: 'vmxon', addr: '0x1000' }, FI]]);
scenario('vmxon-twice-with-vmcs', `${VI} 15: VMXON in VMX root with a current VMCS => VMfailValid(15)`, {}, [ON, CLR, LD, [{ op: 'vmxon', addr: '0x1000' }, FV(15)]]);
scenario('vmclear-unaligned', `${VI} 2: VMCLEAR with an invalid address => VMfailValid(2) with a current VMCS`, {}, [ON, CLR, LD, [{ op: 'vmclear', addr: '0x3001' }, FV(2)]]);
scenario('vmclear-unaligned-no-vmcs', `${VI} 2 / SDM "Conventions" VMfail: no current VMCS => VMfailInvalid`, {}, [ON, [{ op: 'vmclear', addr: '0x3001' }, FI]]);
scenario('vmclear-vmxon-pointer', `${VI} 3: VMCLEAR with the VMXON pointer`, {}, [ON, CLR, LD, [{ op: 'vmclear', addr: '0x1000' }, FV(3)]]);
scenario('vmptrld-vmxon-pointer', `${VI} 10: VMPTRLD with the VMXON pointer`, {}, [ON, CLR, LD, [{ op: 'vmptrld', addr: '0x1000' }, FV(10)]]);
scenario('vmptrld-unaligned', `${VI} 9: VMPTRLD with an invalid address`, {}, [ON, CLR, LD, [{ op: 'vmptrld', addr: '0x3008' }, FV(9)]]);
scenario('vmptrld-bad-revision', `${VI} 11 / vmx_tests.c: test_vmptrld "VMPTRLD with incorrect revision"`, {}, [ON, CLR, LD, [{ op: 'vmptrld', addr: '0x3000', revision: '0x5' }, FV(11)]]);
scenario('vmptrst-current', 'SDM "VMPTRST": stores the current-VMCS pointer', {}, [ON, CLR, LD, [{ op: 'vmptrst' }, Sv('0x2000')]]);
scenario('vmptrst-none', 'SDM "VMPTRST": with no current VMCS it stores FFFFFFFF_FFFFFFFFH', {}, [ON, [{ op: 'vmptrst' }, Sv('0xffffffffffffffff')]]);
scenario('vmclear-current-invalidates-pointer', 'SDM "VMCLEAR": clearing the current VMCS makes the current-VMCS pointer invalid', {},
  [ON, CLR, LD, CLR, [{ op: 'vmptrst' }, Sv('0xffffffffffffffff')], [{ op: 'vmlaunch' }, FI]]);
scenario('vmlaunch-no-current-vmcs', 'SDM "VMLAUNCH/VMRESUME": no current VMCS => VMfailInvalid', {}, [ON, [{ op: 'vmlaunch' }, FI]]);
scenario('vmlaunch-twice', `${VI} 4 / vmx_tests.c: "VMLAUNCH with non-clear VMCS": a second VMLAUNCH of a launched VMCS => VMfailValid(4)`, {},
  [LAUNCH, CPUID_EXIT, [{ op: 'vmlaunch' }, FV(4)], [{ op: 'vmread', field: 'VM_INSTRUCTION_ERROR' }, Sv('0x4')]]);
scenario('vmresume-not-launched', `${VI} 5: VMRESUME of a clear VMCS => VMfailValid(5)`, {}, [ON, CLR, LD, [{ op: 'vmresume' }, FV(5)]]);
scenario('vmresume-after-vmclear', `${VI} 5: VMCLEAR makes a launched VMCS clear; VMRESUME then fails with 5 and VMLAUNCH works`, {},
  [LAUNCH, CPUID_EXIT, CLR, LD, [{ op: 'vmresume' }, FV(5)], [{ op: 'vmlaunch' }, E]]);
scenario('vmlaunch-mov-ss-blocking', `${VI} 26: VM entry with events blocked by MOV SS`, {},
  [LAUNCH, CPUID_EXIT, [{ op: 'vmresume', blockedByMovSs: true }, FV(26)]]);
scenario('vmcall-in-root', `${VI} 1: VMCALL executed in VMX root operation`, {}, [ON, CLR, LD, [{ op: 'vmcall' }, FV(1)]]);
scenario('vmread-unsupported-field', `${VI} 12: VMREAD of an unsupported VMCS component`, {}, [ON, CLR, LD, [{ op: 'vmread', field: '0x7ffe' }, FV(12)]]);
scenario('vmwrite-unsupported-field', `${VI} 12: VMWRITE of an unsupported VMCS component`, {}, [ON, CLR, LD, [{ op: 'vmwrite', field: '0x7ffe', value: '0x1' }, FV(12)]]);
scenario('vmwrite-vmread-roundtrip', 'SDM "VMWRITE"/"VMREAD": a written field reads back', {},
  [ON, CLR, LD, [{ op: 'vmwrite', field: 'TSC_OFFSET', value: '0x123456789' }, S], [{ op: 'vmread', field: 'TSC_OFFSET' }, Sv('0x123456789')]]);
scenario('vmwrite-16bit-truncates', 'SDM 25.11.2 "VMREAD, VMWRITE, and Encodings of VMCS Fields": a 16-bit field keeps bits 15:0', {},
  [ON, CLR, LD, [{ op: 'vmwrite', field: 'VIRTUAL_PROCESSOR_ID', value: '0x12345' }, S], [{ op: 'vmread', field: 'VIRTUAL_PROCESSOR_ID' }, Sv('0x2345')]]);
scenario('vmwrite-readonly-allowed-misc29', `${VI} 13 does not apply: IA32_VMX_MISC[29] = 1 on skylake-server lets VMWRITE write exit-information fields`, {},
  [ON, CLR, LD, [{ op: 'vmwrite', field: 'VM_EXIT_REASON', value: '0xc' }, S], [{ op: 'vmread', field: 'VM_EXIT_REASON' }, Sv('0xc')]]);
scenario('vmread-no-current-vmcs', 'SDM "VMREAD": no current VMCS => VMfailInvalid', {}, [ON, [{ op: 'vmread', field: 'TSC_OFFSET' }, FI]]);
scenario('vmresume-after-vmxoff', `${VI} 6: VMRESUME after VMXOFF (VMXOFF and VMXON between VMLAUNCH and VMRESUME)`, {},
  [LAUNCH, CPUID_EXIT, [{ op: 'vmxoff' }, S], ON, [{ op: 'vmptrld', addr: '0x2000' }, S], [{ op: 'vmresume' }, FV(6)]]);
scenario('exit-reason-readback', 'SDM 28.2.1 "Basic VM-Exit Information": exit reason and qualification are readable after the exit', {},
  [LAUNCH, [{ op: 'mov_to_cr', cr: 4, value: '0x426a0' }, X(28, 'CR_ACCESS', '0x4', { instructionLength: 3 })],
    [{ op: 'vmread', field: 'VM_EXIT_REASON' }, Sv('0x1c')], [{ op: 'vmread', field: 'EXIT_QUALIFICATION' }, Sv('0x4')],
    [{ op: 'vmread', field: 'VM_EXIT_INSTRUCTION_LEN' }, Sv('0x3')]]);

// ---------------------------------------------------------------- VM-entry checks (SDM 27.2 / 27.3)
const CTL = 'SDM Vol. 3C 27.2.1.1 "VM-Execution Control Fields" => VMfailValid(7)';
const HOST = 'SDM Vol. 3C 27.2.2 "Checks on Host Control Registers, MSRs, and SSP" / 27.2.3 => VMfailValid(8)';
const GUEST = 'SDM Vol. 3C 27.3.1 "Checks on the Guest State Area" => exit 33 (failed entry)';
const launchFails = (name, rule, config, outcome) => scenario(name, rule, config, [[{ op: 'launch' }, outcome]]);
launchFails('entry-bad-eptp-memtype', `${CTL}: EPTP memory type 1 (not UC or WB)`, { vmcs: { EPT_POINTER: '0x104059' } }, FV(7));
launchFails('entry-bad-eptp-walk-length', `${CTL}: EPTP walk length 2 (bits 5:3 = 1)`, { vmcs: { EPT_POINTER: '0x10404e' } }, FV(7));
launchFails('entry-virtual-nmis-without-nmi-exiting', `${CTL}: virtual NMIs = 1 requires NMI exiting = 1`, { controls: { pin: ['external-interrupt-exiting', 'virtual-nmis'] } }, FV(7));
launchFails('entry-vpid-zero', `${CTL}: enable VPID = 1 requires VPID != 0`, { vmcs: { VIRTUAL_PROCESSOR_ID: '0' } }, FV(7));
launchFails('entry-unrestricted-without-ept', `${CTL}: unrestricted guest = 1 requires enable EPT = 1`, { controls: { secondary: ['enable-vpid', 'unrestricted-guest'] } }, FV(7));
launchFails('entry-msr-bitmap-unaligned', `${CTL}: MSR-bitmap address 4 KiB aligned`, { vmcs: { MSR_BITMAP: '0x100800' } }, FV(7));
launchFails('entry-io-bitmap-unaligned', `${CTL}: I/O bitmap A address 4 KiB aligned`, { ioBitmap: { exitPorts: [] }, vmcs: { IO_BITMAP_A: '0x101010' } }, FV(7));
launchFails('entry-reserved-pin-bit', `${CTL}: pin-based default1 bit 1 cleared => allowed-0 violated`, { vmcs: { PIN_BASED_VM_EXEC_CONTROL: '0x29' } }, FV(7));
launchFails('entry-host-rip-noncanonical', `${HOST}: host RIP canonical (host address-space size = 1)`, { vmcs: { HOST_RIP: '0x800000000000' } }, FV(8));
launchFails('entry-host-cs-zero', `${HOST}: host CS selector != 0`, { vmcs: { HOST_CS_SELECTOR: '0' } }, FV(8));
launchFails('entry-host-tr-zero', `${HOST}: host TR selector != 0`, { vmcs: { HOST_TR_SELECTOR: '0' } }, FV(8));
launchFails('entry-host-cr4-no-vmxe', `${HOST}: host CR4 obeys IA32_VMX_CR4_FIXED0 (VMXE)`, { vmcs: { HOST_CR4: '0x20' } }, FV(8));
// SDM 27.3.1.4: with IA-32e mode guest and CS.L = 1, bits 63:N (N = 48 linear-address bits) must be identical
launchFails('entry-guest-rip-noncanonical', `${GUEST} "Checks on Guest RIP, RFLAGS, and SSP": RIP bits 63:48 identical in 64-bit mode (bit 48 set)`, { vmcs: { GUEST_RIP: '0x1000000000000' } }, FAILED(33, 'INVALID_STATE', '0x0'));
launchFails('entry-guest-rip-bit47-passes', `${GUEST} "Checks on Guest RIP, RFLAGS, and SSP": only bits 63:N are checked, so RIP 0x800000000000 (bits 63:48 zero) enters`, { vmcs: { GUEST_RIP: '0x800000000000' } }, E);
launchFails('entry-guest-rip-high32-compat', `${GUEST} "Checks on Guest RIP, RFLAGS, and SSP": CS.L = 0 => RIP[63:32] must be 0`, { vmcs: { GUEST_CS_AR_BYTES: '0xc09b', GUEST_RIP: '0x100000000' } }, FAILED(33, 'INVALID_STATE', '0x0'));
launchFails('entry-guest-rflags-bit1', `${GUEST}: RFLAGS bit 1 must be 1`, { vmcs: { GUEST_RFLAGS: '0x0' } }, FAILED(33, 'INVALID_STATE', '0x0'));
launchFails('entry-guest-activity-invalid', `${GUEST} "Checks on Guest Non-Register State": activity state 4 is reserved`, { vmcs: { GUEST_ACTIVITY_STATE: '4' } }, FAILED(33, 'INVALID_STATE', '0x0'));
launchFails('entry-guest-link-pointer', `${GUEST} "Checks on Guest Non-Register State": VMCS link pointer not a VMCS => qualification 4`, { vmcs: { VMCS_LINK_POINTER: '0x3000' } }, FAILED(33, 'INVALID_STATE', '0x4'));
launchFails('entry-guest-efer-lma', `${GUEST} "Checks on Guest Control Registers": EFER.LMA must equal "IA-32e mode guest"`, { vmcs: { GUEST_IA32_EFER: '0x100' } }, FAILED(33, 'INVALID_STATE', '0x0'));
scenario('entry-msr-load-reserved-bits', 'SDM Vol. 3C 27.4 "Loading MSRs": an entry with bits 63:32 of its first quadword set => exit 34, qualification = entry 1',
  { vmcs: { VM_ENTRY_MSR_LOAD_COUNT: '1', VM_ENTRY_MSR_LOAD_ADDR: '0x5000' } },
  [[{ op: 'write_phys', hpa: '0x5000', value: '0x100000000000174', size: 8 }, S], [{ op: 'launch' }, FAILED(34, 'MSR_LOAD_FAIL', '0x1')]]);
scenario('entry-failed-then-launch-state-clear', 'SDM Vol. 3C 27.8 "VM-Entry Failures During or After Loading Guest State": launch state unchanged => VMRESUME gives 5',
  { vmcs: { GUEST_RFLAGS: '0x0' } }, [[{ op: 'launch' }, FAILED(33, 'INVALID_STATE', '0x0')], [{ op: 'vmresume' }, FV(5)]]);
scenario('entry-msr-load-tsc-aux', 'SDM Vol. 3C 27.4 "Loading MSRs": the VM-entry MSR-load list sets IA32_TSC_AUX, which RDTSCP returns in ECX',
  { vmcs: { VM_ENTRY_MSR_LOAD_COUNT: '1', VM_ENTRY_MSR_LOAD_ADDR: '0x5000' } },
  [[{ op: 'write_phys', hpa: '0x5000', value: '0xc0000103', size: 8 }, S], [{ op: 'write_phys', hpa: '0x5008', value: '0x7', size: 8 }, S], LAUNCH,
    [{ op: 'rdtscp' }, P('0x0', '0x7')]]);

// ---------------------------------------------------------------- interrupts, NMIs, HLT (SDM 26.2 "Other Causes of VM Exits", 25.6.1)
const EV = 'SDM Vol. 3C 26.2 "Other Causes of VM Exits" / 25.6.1 "Pin-Based VM-Execution Controls"';
scenario('intr-external-exits', `${EV}: external-interrupt exiting = 1 => exit 1; with "acknowledge interrupt on exit" the vector is in the interruption info`, {},
  [LAUNCH, [{ op: 'interrupt', vector: '0x20' }, X(1, 'EXTERNAL_INTERRUPT', '0x0', { interruptionInfo: '0x80000020' })]]);
scenario('intr-external-no-ack-info-invalid', `${EV} / SDM 28.2.2 "Information for VM Exits Due to Vectored Events": without acknowledge-on-exit the interruption information is invalid`,
  { controls: { exit: without(EXIT, 'acknowledge-interrupt-on-exit') } },
  [LAUNCH, [{ op: 'interrupt', vector: '0x20' }, X(1, 'EXTERNAL_INTERRUPT', '0x0')], [{ op: 'vmread', field: 'VM_EXIT_INTR_INFO' }, Sv('0x0')]]);
scenario('intr-external-passthrough', `${EV}: external-interrupt exiting = 0 => delivered in the guest`, { controls: { pin: [] } },
  [LAUNCH, [{ op: 'interrupt', vector: '0x30' }, P('0x30')]]);
scenario('nmi-exits', `${EV}: NMI exiting = 1 => exit 0 with vector 2, type 2 (NMI)`, {},
  [LAUNCH, [{ op: 'nmi' }, X(0, 'EXCEPTION_NMI', '0x0', { interruptionInfo: '0x80000202' })]]);
scenario('nmi-passthrough', `${EV}: NMI exiting = 0 => delivered in the guest`, { controls: { pin: ['external-interrupt-exiting'] } },
  [LAUNCH, [{ op: 'nmi' }, P('0x2')]]);
scenario('hlt-then-interrupt-activity-saved', 'SDM Vol. 3C 28.3.4 "Saving Non-Register State": an interrupt exit from HLT saves activity state 1 (HLT)',
  { controls: { primary: without(PRI, 'hlt-exiting') } },
  [LAUNCH, [{ op: 'hlt' }, P()], [{ op: 'interrupt', vector: '0x20' }, X(1, 'EXTERNAL_INTERRUPT', '0x0', { interruptionInfo: '0x80000020' })],
    [{ op: 'vmread', field: 'GUEST_ACTIVITY_STATE' }, Sv('0x1')]]);
scenario('hlt-exit-activity-active', 'SDM Vol. 3C 28.3.4: a HLT exit is fault-like: the saved activity state stays active (0)', {},
  [LAUNCH, [{ op: 'hlt' }, X(12, 'HLT', '0x0', { instructionLength: 1 })], [{ op: 'vmread', field: 'GUEST_ACTIVITY_STATE' }, Sv('0x0')]]);
scenario('root-guest-map-then-shadow-mode', 'interface §3 mode "shadow": CR3-load exiting and INVLPG exiting are on (KVM shadow paging)', { mode: 'shadow' },
  [LAUNCH, [{ op: 'invlpg', gva: '0x1000' }, X(14, 'INVLPG', '0x1000', { instructionLength: 3 })], RESUME,
    [{ op: 'mov_to_cr', cr: 3, value: '0x1000000' }, CR3X]]);

console.log(`${count} scenarios written to ${OUT}`);
