/**
 * `vtxsim walk`: one translation of a guest-linear address explained reference by reference, from cold TLBs and
 * paging-structure caches, after the guest OS and the hypervisor have mapped it as they would on a demand fault.
 *
 * Models: SDM Vol. 3C "EPT Translation Mechanism" / "Guest-Physical Address Translation" (every guest
 * paging-structure entry address is itself translated through EPT before it is read) and Vol. 3A "4-Level Paging
 * and 5-Level Paging"; the walk itself is src/mmu/walk2d.ts. The set-up follows the defaults of interface §3: the
 * guest OS maps the page to a fresh guest-physical frame at `guest.pageSize` (tables and frames upward from 16 MiB),
 * and the hypervisor's EPT-violation handler maps every guest-physical page the walk touches read/write/execute at
 * `ept.pageSize` (KVM's tdp_page_fault). A GPA in a `mmio` range gets KVM's MMIO SPTE instead: a misconfigured EPT
 * leaf (write+execute without read, KVM's VMX_EPT_MISCONFIG_WX_VALUE), so the walk ends in EPT_MISCONFIG.
 * Leaves out: shadow paging (the hardware walks KVM's shadow tables, which the model does not build here).
 */
import { left, right, isLeft, type Either } from 'fp-ts/Either';
import { gvaFromBig, gvaToBig, mod, PAGE_SIZE } from '../arch/addr';
import * as Phys from '../arch/phys';
import * as EptBuild from '../ept/build';
import { eptTranslate, type EptContext } from '../ept/walk';
import * as GuestBuild from '../guest/build';
import { walk2d, type Reference, type Walk2dConfig } from '../mmu/walk2d';
import { guestPagingOf } from '../vmx/entry';
import { R } from '../vmx/exitReasons';
import type { ExitRecord } from '../vmx/machine';
import type { Config } from './config';
import { envOf, nativeGuest, runScenario, type RunProblem } from './scenario';
import { GUEST_TABLES_BASE } from './program';

export type WalkAccess = 'read' | 'write' | 'fetch';

export interface WalkOptions {
  /** guest leaf flags ("rwux" letters; default "rwx" plus "u" for a user access) */
  readonly flags?: string;
  /**
   * The first touch: the hypervisor has backed the guest's page-table pages (the guest's own writes to them faulted
   * first) but not yet the data page, so the walk ends in the EPT violation of the demand fault.
   */
  readonly firstTouch?: boolean;
  /** guest-physical target of the guest mapping (default: a fresh frame above the guest OS's tables) */
  readonly gpa?: number;
}

export type WalkResult =
  | { readonly kind: 'translated'; readonly hpa: number; readonly gpa: number; readonly pageSize: number }
  | { readonly kind: 'guest-fault'; readonly fault: { readonly vector: number; readonly errorCode: number } }
  | { readonly kind: 'exit'; readonly exit: ExitRecord };

export interface WalkExplanation {
  readonly mode: 'native' | 'ept';
  readonly gva: bigint;
  /** guest-physical address the guest OS mapped the linear address to */
  readonly gpa: number;
  readonly guestLevels: 4 | 5;
  /** null in native mode */
  readonly eptLevels: 4 | 5 | null;
  readonly guestPageSize: Config['guest']['pageSize'];
  readonly eptPageSize: Config['ept']['pageSize'] | null;
  readonly access: WalkAccess;
  readonly user: boolean;
  /** the GPA lies in a config `mmio` range */
  readonly mmio: boolean;
  readonly references: readonly Reference[];
  readonly counts: { readonly guest: number; readonly nested: number; readonly total: number };
  readonly result: WalkResult;
}

const alignUp = (a: number, b: number): number => Math.ceil(a / b) * b;

/** KVM's MMIO SPTE under EPT: W and X set without R (VMX_EPT_MISCONFIG_WX_VALUE), an EPT misconfiguration. */
export const KVM_MMIO_SPTE = 0b110n;

const inMmio = (config: Config, gpa: number): boolean => config.mmio.some(([lo, hi]) => BigInt(gpa) >= lo && BigInt(gpa) <= hi);

interface Built { readonly mem: Phys.PhysMem; readonly hostNext: number }

/** The hypervisor's EPT-violation handler: backs the `ept.pageSize` page holding `gpa` with a fresh host frame. */
const backGpa = (b: Built, ept: EptContext, size: EptBuild.EptPageSize, gpa: number): Built => {
  const r = eptTranslate(b.mem, ept, gpa, { kind: 'read', user: false, pagingStructure: false });
  if (r._tag === 'ok') return b;
  const bytes = EptBuild.pageBytes(size);
  const frame = alignUp(b.hostNext, bytes);
  const m = EptBuild.eptMap(b.mem, { next: frame + bytes }, ept.root as number, ept.levels, gpa, frame, size, { r: true, w: true, x: true });
  return { mem: m.mem, hostNext: m.alloc.next };
};

/**
 * Builds the machine of `config`, maps `gva` as the guest OS and hypervisor would, and walks it once, cold.
 * `gva` is the 64-bit linear address (canonicality is the caller's check). Problems name the config path.
 */
export const explainWalk = (config: Config, gva: bigint, access: WalkAccess, user: boolean, opts: WalkOptions = {}): Either<RunProblem, WalkExplanation> => {
  if (config.mode === 'shadow') {
    return left({ path: 'config.mode', expected: '"ept" or "native" (walk does not model shadow paging yet: the hardware would walk KVM\'s shadow tables)', found: '"shadow"' });
  }
  const e = envOf(config);
  if (isLeft(e)) return e;
  const caps = e.right.caps;
  const levels = config.guest.levels;
  const g = gvaFromBig(gva);
  const guestSize = config.guest.pageSize;
  const guestBytes = GuestBuild.guestPageBytes(guestSize);

  // The machine: native (the guest OS on bare metal) or launched by the hypervisor.
  let mem: Phys.PhysMem;
  let hostNext: number;
  let walkCfg: Walk2dConfig;
  let guestNext: number;
  if (config.mode === 'native') {
    mem = Phys.empty;
    hostNext = 0;
    guestNext = GUEST_TABLES_BASE + PAGE_SIZE;
    walkCfg = { guest: guestPagingOf(caps, nativeGuest(config)), ept: null };
  } else {
    const r = runScenario({ config, steps: [{ kind: 'root', op: 'launch', args: {} }] });
    if (isLeft(r)) return r;
    const o = r.right.records[0].outcome;
    const m = r.right.machine;
    if (o.result !== 'entered' || m.nonRoot === null) {
      return left({ path: 'config', expected: 'a config whose VM entry succeeds (see vtxsim check)', found: `launch outcome ${o.result}${o.result === 'VMfailValid' ? `(${o.error})` : o.result === 'exit' ? ` reason ${o.exit.reason}` : ''}` });
    }
    mem = m.cpu.mem;
    hostNext = m.hostAlloc.next;
    guestNext = m.guestAlloc.next;
    walkCfg = m.nonRoot.walk;
  }
  const guestCfg = walkCfg.guest;
  if (guestCfg === null) return left({ path: 'config', expected: 'a paged guest (CR0.PG = 1)', found: 'CR0.PG = 0' });
  const ept = walkCfg.ept;
  if (config.mode !== 'native' && ept === null) return left({ path: 'config.controls.secondary', expected: 'enable-ept (mode "ept")', found: 'EPT off' });

  // The guest OS's demand fault: tables from its allocator, then a fresh frame at guest.pageSize above them.
  const dataGpa = opts.gpa !== undefined ? opts.gpa - (opts.gpa % guestBytes) : alignUp(guestNext + levels * PAGE_SIZE, guestBytes);
  const finalGpa = dataGpa + mod(g, guestBytes);
  const mmio = inMmio(config, finalGpa);
  let b: Built = { mem, hostNext };
  const io: GuestBuild.GuestPhysIo<Built> = {
    read: (s, a) => {
      if (ept === null) return { lo: Phys.read64Lo(s.mem, a), hi: Phys.read64Hi(s.mem, a) };
      const t = eptTranslate(s.mem, ept, a, { kind: 'read', user: false, pagingStructure: false });
      return t._tag === 'ok' ? { lo: Phys.read64Lo(s.mem, t.hpa as number), hi: Phys.read64Hi(s.mem, t.hpa as number) } : { lo: 0, hi: 0 };
    },
    write: (s0, a, lo, hi) => {
      if (ept === null) return { ...s0, mem: Phys.write64Parts(s0.mem, a, lo, hi) };
      // the guest's write to its own table faults first; the hypervisor backs the page at ept.pageSize
      const s = backGpa(s0, ept, config.ept.pageSize, a);
      const t = eptTranslate(s.mem, ept, a, { kind: 'read', user: false, pagingStructure: false });
      if (t._tag !== 'ok') throw new Error(`walk: guest table page 0x${a.toString(16)} not backed`);
      return { ...s, mem: Phys.write64Parts(s.mem, t.hpa as number, lo, hi) };
    },
  };
  const flags = opts.flags ?? (user ? 'rwxu' : 'rwx');
  const mapped = GuestBuild.guestMap(io, b, { next: guestNext }, guestCfg.cr3 as number, levels, g, dataGpa, guestSize, GuestBuild.parseGuestFlags(flags));
  b = mapped.state;
  if (ept !== null && opts.firstTouch !== true) {
    if (mmio) {
      // SDM "EPT Misconfigurations": KVM's MMIO SPTE at the 4 KiB level, after the first EPT violation
      const w = EptBuild.eptWriteEntry(b.mem, ept.root as number, ept.levels, finalGpa, 1, KVM_MMIO_SPTE, { next: alignUp(b.hostNext, PAGE_SIZE) });
      if (w !== undefined) b = { mem: w.mem, hostNext: w.alloc?.next ?? b.hostNext };
    } else {
      b = backGpa(b, ept, config.ept.pageSize, finalGpa);
    }
  }

  const w = walk2d(b.mem, walkCfg, g, { kind: access, user }, { record: true });
  const la57 = guestCfg.la57;
  const o = w.outcome;
  const exitOf = (reason: number, qualification: number, gpa: number, withGla: boolean): WalkResult => ({
    kind: 'exit',
    exit: {
      reason, failedEntry: false, qualification: BigInt(qualification), guestPhysical: gpa,
      ...(withGla ? { guestLinear: gvaToBig(g, la57) } : {}),
      rip: 0n, tsc: 0n,
    },
  });
  let result: WalkResult;
  switch (o._tag) {
    case 'translated': result = { kind: 'translated', hpa: o.hpa as number, gpa: o.gpa as number, pageSize: o.pageSize }; break;
    case 'guest-fault': result = { kind: 'guest-fault', fault: { vector: o.vector, errorCode: o.errorCode } }; break;
    // SDM "Exit Qualification for EPT Violations": the guest-linear-address field is valid when bit 7 is 1
    case 'ept-violation': result = exitOf(R.EPT_VIOLATION, o.qualification, o.gpa as number, (o.qualification & 0x80) !== 0); break;
    case 'ept-misconfig': result = exitOf(R.EPT_MISCONFIG, 0, o.gpa as number, false); break;
    case 'pml-full': result = exitOf(R.PML_FULL, 0, o.gpa as number, false); break;
    default: {
      const never: never = o;
      throw new Error(`unhandled walk outcome ${JSON.stringify(never)}`);
    }
  }
  return right({
    mode: config.mode === 'native' ? 'native' : 'ept',
    gva, gpa: finalGpa, guestLevels: levels,
    eptLevels: ept === null ? null : ept.levels,
    guestPageSize: guestSize,
    eptPageSize: ept === null ? null : config.ept.pageSize,
    access, user, mmio,
    references: w.references ?? [],
    counts: { guest: w.counts.guest, nested: w.counts.nested, total: w.counts.guest + w.counts.nested },
    result,
  });
};
