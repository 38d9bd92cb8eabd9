/**
 * Why one guest event exited (or did not): the facts the SDM decision read, in words.
 *
 * Models: SDM Vol. 3C "Instructions That Cause VM Exits Unconditionally/Conditionally", "I/O-Bitmap Addresses",
 * "MSR-Bitmap Address", "Guest/Host Masks and Read Shadows for CR0 and CR4", "CR3-Target Controls", "Exception
 * Bitmap", "Timestamp-Counter Offsetting and Scaling", "EPT Translation Mechanism", "EPT Misconfigurations" and
 * "EPT Violations", and for a failed VM entry "Checks on Guest-State Area" / "Loading MSRs" (the failing checks of
 * src/vmx/entryChecks.ts by name). The decision itself always comes from the model's own functions (`decide`, `ioExits`,
 * `msrExits`, `cr3LoadExits`, `Cr.movToCrExits`, `exceptionExits`, `guestTsc`, `eptTranslate`); this module only
 * reads the same inputs again and names them, so an explanation cannot disagree with the outcome it explains.
 * Leaves out: VMREAD/VMWRITE bitmap bits under VMCS shadowing (named by control only), #UD/#GP priority facts beyond
 * CR4.TSD/PCE and CPL.
 */
import { hex } from '../arch/addr';
import * as Phys from '../arch/phys';
import { eptIndex, eptTranslate, type EptContext, type EptAccess } from '../ept/walk';
import {
  decide, ioExits, msrExits, cr3LoadExits, primaryOn, secondaryOn, CPU_BASED, SECONDARY_EXEC, CR4_TSD, CR4_PCE,
  type Decision, type ExecControls, type GuestContext, type Instruction,
} from './exitConditions';
import * as Cr from './crShadow';
import { exceptionExits, PF_VECTOR, type ExceptionFilter } from './exceptionBitmap';
import { guestTsc, tscControls, TSC_MULTIPLIER_FRAC_BITS } from './tsc';
import { exitName } from './exitReasons';
import { allEntryFailures, type EntryContext } from './entryChecks';

/** One fact line; `decisive` marks the fact that decided the outcome. */
export interface Fact {
  readonly text: string;
  readonly decisive: boolean;
}

export interface InstructionWhy {
  readonly decision: Decision;
  readonly facts: readonly Fact[];
}

/** Values the passthrough of RDTSC/RDTSCP/RDPID reports (host TSC T and IA32_TSC_AUX). */
export interface TimeInputs {
  readonly hostTsc: bigint;
  readonly tscAux: bigint;
}

const f = (text: string, decisive = false): Fact => ({ text, decisive });
const b = (on: boolean): string => (on ? '1' : '0');
const outcomeText = (d: Decision): string => {
  switch (d.kind) {
    case 'exit': return `exit ${d.reason} (${exitName(d.reason)})`;
    case 'ud': return '#UD in the guest (no exit)';
    case 'gp': return '#GP(0) in the guest (no exit)';
    case 'run': return 'passthrough (no exit)';
    default: { const never: never = d; throw new Error(`bad decision ${JSON.stringify(never)}`); }
  }
};

/** Kebab-case SDM names of the primary/secondary bits `decide` reads (src/vmx/controls.ts spelling). */
const PRIMARY_NAME: Readonly<Record<number, string>> = {
  [CPU_BASED.USE_TSC_OFFSETTING]: 'use-tsc-offsetting', [CPU_BASED.HLT_EXITING]: 'hlt-exiting',
  [CPU_BASED.INVLPG_EXITING]: 'invlpg-exiting', [CPU_BASED.MWAIT_EXITING]: 'mwait-exiting',
  [CPU_BASED.RDPMC_EXITING]: 'rdpmc-exiting', [CPU_BASED.RDTSC_EXITING]: 'rdtsc-exiting',
  [CPU_BASED.CR3_LOAD_EXITING]: 'cr3-load-exiting', [CPU_BASED.CR3_STORE_EXITING]: 'cr3-store-exiting',
  [CPU_BASED.CR8_LOAD_EXITING]: 'cr8-load-exiting', [CPU_BASED.CR8_STORE_EXITING]: 'cr8-store-exiting',
  [CPU_BASED.MOV_DR_EXITING]: 'mov-dr-exiting', [CPU_BASED.UNCOND_IO_EXITING]: 'unconditional-io-exiting',
  [CPU_BASED.USE_IO_BITMAPS]: 'use-io-bitmaps', [CPU_BASED.USE_MSR_BITMAPS]: 'use-msr-bitmaps',
  [CPU_BASED.MONITOR_EXITING]: 'monitor-exiting', [CPU_BASED.PAUSE_EXITING]: 'pause-exiting',
};
const SECONDARY_NAME: Readonly<Record<number, string>> = {
  [SECONDARY_EXEC.ENABLE_RDTSCP]: 'enable-rdtscp', [SECONDARY_EXEC.WBINVD_EXITING]: 'wbinvd-exiting',
  [SECONDARY_EXEC.RDRAND_EXITING]: 'rdrand-exiting', [SECONDARY_EXEC.RDSEED_EXITING]: 'rdseed-exiting',
  [SECONDARY_EXEC.ENABLE_INVPCID]: 'enable-invpcid', [SECONDARY_EXEC.TSC_SCALING]: 'use-tsc-scaling',
};
const pri = (c: ExecControls, bit: number): string => `${PRIMARY_NAME[bit]} = ${b(primaryOn(c, bit))}`;
const sec = (c: ExecControls, bit: number): string =>
  `${SECONDARY_NAME[bit]} = ${b(secondaryOn(c, bit))}${primaryOn(c, CPU_BASED.ACTIVATE_SECONDARY_CONTROLS) ? '' : ' (activate-secondary-controls = 0)'}`;

/** SDM "I/O-Bitmap Addresses": bitmap A covers ports 0000H-7FFFH, B 8000H-FFFFH, one bit per port. */
export const ioBitmapBit = (c: ExecControls, port: number): { bitmap: 'A' | 'B'; address: number; byte: number; bit: number; value: number } => {
  const bitmap = port < 0x8000 ? 'A' : 'B';
  const base = bitmap === 'A' ? c.ioBitmapA : c.ioBitmapB;
  const off = port & 0x7fff;
  const address = base + (off >>> 3);
  return { bitmap, address, byte: off >>> 3, bit: off & 7, value: (Phys.read8(c.mem, address) >>> (off & 7)) & 1 };
};

/** SDM "MSR-Bitmap Address": the four 1-KiB quarters and the bit of `msr`, or null outside both MSR ranges. */
export const msrBitmapBit = (c: ExecControls, msr: number, write: boolean): { quarter: string; offset: number; address: number; bit: number; value: number } | null => {
  const m = msr >>> 0;
  let base: number;
  let quarter: string;
  if (m <= 0x1fff) { base = write ? 0x800 : 0x000; quarter = write ? 'write bitmap for low MSRs' : 'read bitmap for low MSRs'; }
  else if (m >= 0xc0000000 && m <= 0xc0001fff) { base = write ? 0xc00 : 0x400; quarter = write ? 'write bitmap for high MSRs' : 'read bitmap for high MSRs'; }
  else return null;
  const low = m & 0x1fff;
  const offset = base + (low >>> 3);
  const address = c.msrBitmap + offset;
  return { quarter, offset, address, bit: low & 7, value: (Phys.read8(c.mem, address) >>> (low & 7)) & 1 };
};

const bitsOf = (v: bigint): string => {
  const out: number[] = [];
  for (let i = 0; i < 64; i++) if (((v >> BigInt(i)) & 1n) === 1n) out.push(i);
  return out.length === 0 ? 'none' : out.join(', ');
};

const crFacts = (cr: 0 | 4, src: bigint, mask: bigint, shadow: bigint, exits: boolean, reason: string): Fact[] => {
  const differ = (src ^ shadow) & mask;
  return [
    f(`CR${cr} guest/host mask = ${hex(mask)}, CR${cr} read shadow = ${hex(shadow)}, source value = ${hex(src)}`),
    exits
      ? f(`bits set in the CR${cr} guest/host mask where the source differs from the read shadow: ${hex(differ)} (${differ === 0n || (differ & (differ - 1n)) !== 0n ? 'bits' : 'bit'} ${bitsOf(differ)}) -> ${reason}`, true)
      : f(`every host-owned bit (mask ${hex(mask)}) of the source equals the read shadow -> the write stays in the guest (only guest-owned bits change)`, true),
  ];
};

/** The TSC passthrough value with every input named (SDM "Timestamp-Counter Offsetting and Scaling"). */
export const tscFacts = (c: ExecControls, t: TimeInputs): Fact[] => {
  const tc = tscControls(c);
  const v = guestTsc(t.hostTsc, tc);
  const T = hex(t.hostTsc);
  if (!tc.useOffsetting) return [f(`use-tsc-offsetting = 0 -> guest TSC = T = ${T}`, true)];
  if (!tc.useScaling) return [f(`use-tsc-offsetting = 1, use-tsc-scaling = 0 -> guest TSC = T + offset = ${T} + ${hex(tc.offset)} = ${hex(v)} (mod 2^64)`, true)];
  return [f(`use-tsc-offsetting = 1, use-tsc-scaling = 1 -> guest TSC = ((T x multiplier) >> ${TSC_MULTIPLIER_FRAC_BITS}) + offset = ((${T} x ${hex(tc.multiplier)}) >> 48) + ${hex(tc.offset)} = ${hex(v)}`, true)];
};

/**
 * The decision for one instruction (the real `decide`) and the facts it read. `time` adds the TSC arithmetic of a
 * passthrough RDTSC/RDTSCP and the ECX/IA32_TSC_AUX value.
 */
export const explainInstruction = (c: ExecControls, g: GuestContext, i: Instruction, time?: TimeInputs): InstructionWhy => {
  const d = decide(c, g, i);
  const out = outcomeText(d);
  const exits = d.kind === 'exit';
  const facts: Fact[] = [];
  const uncond = (name: string): void => { facts.push(f(`${name} exits unconditionally in VMX non-root operation (SDM "Instructions That Cause VM Exits Unconditionally") -> ${out}`, true)); };
  const simple = (text: string): void => { facts.push(f(`${text} -> ${out}`, true)); };
  const cpl = `CPL = ${g.cpl}`;
  switch (i.op) {
    case 'cpuid': uncond('CPUID'); break;
    case 'invd': uncond('INVD'); break;
    case 'xsetbv': facts.push(f(`CR4.OSXSAVE = ${b((g.cr4 & (1n << 18n)) !== 0n)}, ${cpl}`)); uncond('XSETBV'); break;
    case 'getsec': uncond('GETSEC'); break;
    case 'vmcall': uncond('VMCALL'); break;
    case 'vmx': uncond(i.name.toUpperCase()); break;
    case 'rdtsc':
    case 'rdtscp': {
      if (i.op === 'rdtscp') facts.push(f(`${sec(c, SECONDARY_EXEC.ENABLE_RDTSCP)}${d.kind === 'ud' ? ' -> #UD (SDM "Changes to Instruction Behavior": RDTSCP)' : ''}`, d.kind === 'ud'));
      if (d.kind !== 'ud') {
        facts.push(f(`CR4.TSD = ${b((g.cr4 & CR4_TSD) !== 0n)}, ${cpl}`, d.kind === 'gp'));
        if (d.kind !== 'gp') {
          const ctl = pri(c, CPU_BASED.RDTSC_EXITING);
          if (exits) simple(ctl);
          else {
            facts.push(f(`${i.op === 'rdtscp' ? 'enable-rdtscp = 1 and ' : ''}${ctl} -> passthrough`, true));
            if (time !== undefined) {
              facts.push(...tscFacts(c, time).map((x) => f(x.text)));
              if (i.op === 'rdtscp') facts.push(f(`ECX = IA32_TSC_AUX[31:0] = ${hex(time.tscAux & 0xffff_ffffn)}`));
            }
          }
        }
      }
      break;
    }
    case 'rdpid':
      facts.push(f(`${sec(c, SECONDARY_EXEC.ENABLE_RDTSCP)}: RDPID never exits; it reads IA32_TSC_AUX${time !== undefined ? ` = ${hex(time.tscAux)}` : ''} (no offset or scaling) -> ${out}`, true));
      break;
    case 'rdpmc':
      facts.push(f(`CR4.PCE = ${b((g.cr4 & CR4_PCE) !== 0n)}, ${cpl}`, d.kind === 'gp'));
      if (d.kind !== 'gp') simple(pri(c, CPU_BASED.RDPMC_EXITING));
      break;
    case 'rdmsr':
    case 'wrmsr': {
      const write = i.op === 'wrmsr';
      if (g.cpl !== 0) { facts.push(f(`${cpl}: RDMSR/WRMSR #GP before the MSR bitmap is read -> ${out}`, true)); break; }
      const using = primaryOn(c, CPU_BASED.USE_MSR_BITMAPS);
      facts.push(f(pri(c, CPU_BASED.USE_MSR_BITMAPS), !using));
      if (!using) { simple(`every ${write ? 'WRMSR' : 'RDMSR'} exits without MSR bitmaps (MSR ${hex(i.msr)})`); break; }
      const x = msrBitmapBit(c, i.msr, write);
      if (x === null) { simple(`MSR ${hex(i.msr)} lies outside 0-1FFFH and C0000000H-C0001FFFH: always exits`); break; }
      if (msrExits(c, i.msr, write) !== (x.value === 1)) throw new Error('explain: MSR bitmap bit disagrees with msrExits');
      simple(`MSR bitmap (${hex(c.msrBitmap)}) ${x.quarter}: MSR ${hex(i.msr)} is byte ${hex(x.offset)} bit ${x.bit} at HPA ${hex(x.address)}, which is ${x.value}`);
      break;
    }
    case 'in':
    case 'out': {
      const io = primaryOn(c, CPU_BASED.USE_IO_BITMAPS);
      facts.push(f(pri(c, CPU_BASED.USE_IO_BITMAPS), !io));
      if (!io) { simple(pri(c, CPU_BASED.UNCOND_IO_EXITING)); break; }
      if (i.port + i.size > 0x10000) { simple(`port ${hex(i.port)} size ${i.size} wraps past FFFFH`); break; }
      const any = ioExits(c, i.port, i.size);
      for (let p = i.port; p < i.port + i.size; p++) {
        const x = ioBitmapBit(c, p);
        facts.push(f(`I/O bitmap ${x.bitmap} (${hex(x.bitmap === 'A' ? c.ioBitmapA : c.ioBitmapB)}) bit for port ${hex(p)} (byte ${hex(x.byte)} bit ${x.bit}, HPA ${hex(x.address)}) is ${x.value}${x.value === 1 || (!any && p === i.port + i.size - 1) ? ` -> ${out}` : ''}`, x.value === 1 || !any));
        if (x.value === 1) break;
      }
      break;
    }
    case 'mov_to_cr': {
      if (g.cpl !== 0) { simple(cpl); break; }
      switch (i.cr) {
        case 0: facts.push(...crFacts(0, i.value, c.cr0Mask, c.cr0Shadow, exits, out)); break;
        case 4: facts.push(...crFacts(4, i.value, c.cr4Mask, c.cr4Shadow, exits, out)); break;
        case 3: {
          const on = primaryOn(c, CPU_BASED.CR3_LOAD_EXITING);
          if (!on) { simple(pri(c, CPU_BASED.CR3_LOAD_EXITING)); break; }
          const n = Math.min(c.cr3TargetCount, c.cr3Targets.length);
          const targets = c.cr3Targets.slice(0, n).map(hex).join(', ');
          if (cr3LoadExits(c, i.value) !== exits) throw new Error('explain: CR3-target check disagrees with decide');
          simple(`cr3-load-exiting = 1, CR3-target count = ${c.cr3TargetCount}${n > 0 ? ` (targets ${targets})` : ''}; new CR3 ${hex(i.value)} ${exits ? 'matches no target' : 'matches a target'}`);
          break;
        }
        case 8: simple(pri(c, CPU_BASED.CR8_LOAD_EXITING)); break;
        default: { const never: never = i.cr; throw new Error(`bad CR ${String(never)}`); }
      }
      break;
    }
    case 'mov_from_cr':
      if (i.cr === 3) simple(pri(c, CPU_BASED.CR3_STORE_EXITING));
      else if (i.cr === 8) simple(pri(c, CPU_BASED.CR8_STORE_EXITING));
      else {
        const [mask, shadow] = i.cr === 0 ? [c.cr0Mask, c.cr0Shadow] : [c.cr4Mask, c.cr4Shadow];
        simple(`MOV from CR${i.cr} never exits: host-owned bits (CR${i.cr} guest/host mask ${hex(mask)}) read from the read shadow ${hex(shadow)}`);
      }
      break;
    case 'clts':
      simple(`CLTS exits iff CR0.TS is 1 in both the CR0 guest/host mask (${hex(c.cr0Mask)}) and the CR0 read shadow (${hex(c.cr0Shadow)}): mask.TS = ${b((c.cr0Mask & Cr.CR0_TS) !== 0n)}, shadow.TS = ${b((c.cr0Shadow & Cr.CR0_TS) !== 0n)}`);
      break;
    case 'lmsw':
      simple(`LMSW source ${hex(i.value & 0xffffn)} against CR0 guest/host mask ${hex(c.cr0Mask)} and read shadow ${hex(c.cr0Shadow)} (bits 3:0)`);
      break;
    case 'invlpg': simple(pri(c, CPU_BASED.INVLPG_EXITING)); break;
    case 'invpcid': simple(`${sec(c, SECONDARY_EXEC.ENABLE_INVPCID)}, ${pri(c, CPU_BASED.INVLPG_EXITING)}`); break;
    case 'hlt': simple(pri(c, CPU_BASED.HLT_EXITING)); break;
    case 'pause': simple(pri(c, CPU_BASED.PAUSE_EXITING)); break;
    case 'mwait': simple(pri(c, CPU_BASED.MWAIT_EXITING)); break;
    case 'monitor': simple(pri(c, CPU_BASED.MONITOR_EXITING)); break;
    case 'wbinvd': simple(sec(c, SECONDARY_EXEC.WBINVD_EXITING)); break;
    case 'rdrand': simple(sec(c, SECONDARY_EXEC.RDRAND_EXITING)); break;
    case 'rdseed': simple(sec(c, SECONDARY_EXEC.RDSEED_EXITING)); break;
    case 'mov_dr': simple(pri(c, CPU_BASED.MOV_DR_EXITING)); break;
    default: { const never: never = i; throw new Error(`unexpected instruction ${JSON.stringify(never)}`); }
  }
  return { decision: d, facts };
};

const VECTOR_NAMES: Readonly<Record<number, string>> = {
  0: '#DE', 1: '#DB', 3: '#BP', 4: '#OF', 5: '#BR', 6: '#UD', 7: '#NM', 8: '#DF', 10: '#TS', 11: '#NP', 12: '#SS',
  13: '#GP', 14: '#PF', 16: '#MF', 17: '#AC', 18: '#MC', 19: '#XM', 20: '#VE', 21: '#CP',
};

/** SDM "Exception Bitmap": the bit (and for #PF the error-code mask/match test) that decided. */
export const explainException = (x: ExceptionFilter, vector: number, errorCode: number | undefined): { exits: boolean; facts: Fact[] } => {
  const exits = exceptionExits(x, vector, errorCode ?? 0);
  const name = VECTOR_NAMES[vector] ?? `vector ${vector}`;
  const res = exits ? 'exit 0 (EXCEPTION_NMI)' : 'delivered in the guest (no exit)';
  if (vector !== PF_VECTOR) {
    return { exits, facts: [f(`exception bitmap ${hex(x.exceptionBitmap)} bit ${vector} (${name}) is ${(x.exceptionBitmap >>> vector) & 1} -> ${res}`, true)] };
  }
  const ec = errorCode ?? 0;
  const masked = (ec & x.pfecMask) >>> 0;
  const eq = masked === (x.pfecMatch >>> 0);
  const b14 = (x.exceptionBitmap >>> 14) & 1;
  return {
    exits,
    facts: [
      f(`#PF error code (PFEC) = ${hex(ec)}; PFEC & page-fault error-code mask ${hex(x.pfecMask)} = ${hex(masked)} ${eq ? '==' : '!='} match ${hex(x.pfecMatch)}`),
      f(`exception bitmap ${hex(x.exceptionBitmap)} bit 14 (#PF) is ${b14}: a #PF exits iff the match test ${eq ? 'holds' : 'fails'} ${b14 === 1 ? 'and bit 14 is 1' : 'equals bit 14 = 0'} -> ${res}`, true),
    ],
  };
};

const EPT_LEVEL_NAMES: Readonly<Record<number, string>> = { 5: 'EPT PML5E', 4: 'EPT PML4E', 3: 'EPT PDPTE', 2: 'EPT PDE', 1: 'EPT PTE' };

const eptEntryText = (lo: number): string => {
  const p = `${lo & 1 ? 'R' : '-'}${lo & 2 ? 'W' : '-'}${lo & 4 ? 'X' : '-'}`;
  return (lo & 7) === 0 ? 'not present (bits 2:0 = 000b)' : `${p}${lo & 0x80 ? ', page (bit 7)' : ''}`;
};

/**
 * The EPT walk of `gpa` entry by entry (SDM "EPT Translation Mechanism"), ending at the entry that caused the EPT
 * violation or misconfiguration: level, HPA of the entry and its value. The verdict is `eptTranslate`'s.
 */
export const explainEptWalk = (mem: Phys.PhysMem, ctx: EptContext, gpa: number, access: EptAccess): Fact[] => {
  const r = eptTranslate(mem, ctx, gpa, access);
  const facts: Fact[] = [f(`EPT walk of GPA ${hex(gpa)} (${access.kind}${access.pagingStructure ? ', a guest paging-structure access' : ''}) from EPTP root ${hex(ctx.root)}, ${ctx.levels} levels:`)];
  let table = ctx.root as number;
  const stopLevel = r._tag === 'violation' || r._tag === 'misconfig' ? r.level : r._tag === 'ok' ? r.leafLevel : 1;
  for (let level = ctx.levels as number; level >= stopLevel; level--) {
    const addr = table + 8 * eptIndex(gpa, level);
    const v = Phys.read64(mem, addr);
    const lo = Number(v & 0xffff_ffffn);
    const last = level === stopLevel;
    let why = '';
    if (last && r._tag === 'violation') {
      why = (lo & 7) === 0 ? ' -> EPT violation (exit 48): the entry is not present'
        : ` -> EPT violation (exit 48): the ${access.kind} needs ${access.kind === 'read' ? 'R' : access.kind === 'write' ? 'W' : 'X'}, which the entries do not all grant (R=${b(r.readable)} W=${b(r.writable)} X=${b(r.executable)})`;
    } else if (last && r._tag === 'misconfig') {
      why = ` -> EPT misconfiguration (exit 49): ${r.reason}`;
    }
    facts.push(f(`  ${EPT_LEVEL_NAMES[level]} (level ${level}, index ${eptIndex(gpa, level)}) at HPA ${hex(addr)} = ${hex(v)}: ${eptEntryText(lo)}${why}`, why !== ''));
    table = Number(v & 0x000f_ffff_ffff_f000n);
  }
  if (r._tag === 'ok') facts.push(f(`  -> translated to HPA ${hex(r.hpa)} (${r.pageSize === 4096 ? '4 KiB' : r.pageSize === 0x200000 ? '2 MiB' : '1 GiB'} EPT page)`));
  return facts;
};

/**
 * A failed VM entry (exit 33 or 34, SDM "VM-Entry Failures During or After Loading Guest State"): every check of that
 * class that fails on the VMCS, by id and SDM section. The decisive one is the check the processor reports: the first
 * failing guest-state check in table order for exit 33, the MSR-load entry whose 1-based index is the qualification
 * for exit 34. The VMCS may be read after the failure: a failed entry writes only the exit-information fields, which
 * no check reads.
 */
export const explainEntryFailure = (ctx: EntryContext, reason: number, qualification: bigint): Fact[] => {
  const failing = allEntryFailures(ctx).filter((x) => x.outcome.kind === 'exit' && x.outcome.reason === reason);
  if (failing.length === 0) return [f(`VM entry failed: exit ${reason} (${exitName(reason)}), qualification ${hex(qualification)}; no entry check of the model fails on this VMCS now`, true)];
  const decisive = reason === 34
    ? failing.find((x) => x.outcome.kind === 'exit' && x.outcome.qualification === qualification) ?? failing[0]
    : failing[0];
  return [
    f(`VM entry failed: exit ${reason} (${exitName(reason)}), qualification ${hex(qualification)}; ${failing.length} ${reason === 34 ? 'MSR-load' : 'guest-state'} check${failing.length === 1 ? '' : 's'} fail${failing.length === 1 ? 's' : ''}:`),
    ...failing.map((x) => f(`check ${x.id} (SDM "${x.sdm}"): ${x.message}`, x === decisive)),
  ];
};
