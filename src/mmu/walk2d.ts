/**
 * The two-dimensional (nested) walk: guest IA-32e paging composed with EPT (hot path: numbers only).
 *
 * Models: SDM Vol. 3C "Guest-Physical Address Translation" / "EPT Translation Mechanism" as used for linear
 * addresses, "Prioritization of EPT Misconfigurations and EPT Violations", "Exit Qualification for EPT Violations".
 * Every guest paging-structure entry's GPA is translated through EPT before the entry is read (an EPT exit there
 * comes before any guest #PF from later levels); after the guest walk, guest access rights are checked (guest #PF)
 * and only then is the final GPA translated through EPT. Guest A/D updates are guest-physical writes made when the
 * access succeeds (with EPT A/D off they need EPT write permission on the guest table's page).
 * With `ept` null the walk is native (or shadow paging's view): guest entries are read at GPA = HPA.
 * Leaves out: PAE/32-bit guest paging, #VE conversion, the data access itself (not counted as a reference).
 */

import { Gpa, Gva, Hpa, hpa as mkHpa, PAGE_SIZE } from '../arch/addr';
import * as Phys from '../arch/phys';
import * as Ept from '../ept/walk';
import { encodeEptViolation } from '../ept/qualification';
import * as Guest from '../guest/paging';

export interface Walk2dConfig {
  /** guest paging, or null when CR0.PG = 0 (linear = guest-physical) */
  readonly guest: Guest.GuestPagingConfig | null;
  /** EPT, or null when EPT is off (native, or shadow paging) */
  readonly ept: Ept.EptContext | null;
  /** IA32_VMX_EPT_VPID_CAP[22]: report qualification bits 9-11 */
  readonly advancedInfo?: boolean;
}

export interface Walk2dAccess {
  readonly kind: 'read' | 'write' | 'fetch';
  /** CPL = 3 */
  readonly user: boolean;
}

export interface Walk2dOptions {
  /** paging-structure-cache hit: start the guest walk at a lower level with accumulated rights */
  readonly start?: Guest.GuestWalkStart;
  /**
   * Nested-TLB lookup: host page of a guest-physical page, or undefined. Called for each guest entry's page
   * (guestLevel = that entry's level) and for the final GPA (guestLevel = null); a hit skips that EPT walk.
   */
  readonly nestedLookup?: (gpaPage: number, guestLevel: number | null) => number | undefined;
  /** collect the ordered reference list */
  readonly record?: boolean;
}

export interface Reference {
  /** 1-based */
  readonly index: number;
  readonly dimension: 'guest' | 'nested';
  /** guest level whose entry is read (guest) or whose entry address is translated (nested); null = final GPA */
  readonly guestLevel: number | null;
  readonly eptLevel: number | null;
  /** host-physical address of the entry read */
  readonly address: number;
}

export type Walk2dOutcome =
  | {
      readonly _tag: 'translated';
      readonly hpa: Hpa;
      readonly gpa: Gpa;
      /** size of the combined mapping (the smaller of the guest page and the EPT page) */
      readonly pageSize: number;
      readonly guestPageSize: number;
      readonly eptPageSize: number | null;
      /** effective rights for a TLB entry: guest (U/S, R/W AND, XD OR) and EPT (AND of R/W/X/UX) */
      readonly user: boolean;
      readonly writable: boolean;
      readonly xd: boolean;
      readonly ept: { readonly r: boolean; readonly w: boolean; readonly x: boolean; readonly ux: boolean; readonly memType: number } | null;
      /** guest entries used (for paging-structure caches) */
      readonly guestEntries: readonly Guest.GuestEntryUsed[];
    }
  | { readonly _tag: 'guest-fault'; readonly vector: 14; readonly errorCode: number; readonly cr2: Gva }
  | { readonly _tag: 'ept-violation'; readonly qualification: number; readonly gpa: Gpa; readonly gla: Gva; readonly guestLevel: number | null; readonly suppressVe: boolean }
  | { readonly _tag: 'ept-misconfig'; readonly gpa: Gpa; readonly gla: Gva; readonly guestLevel: number | null; readonly eptLevel: number }
  | { readonly _tag: 'pml-full'; readonly gpa: Gpa; readonly gla: Gva; readonly guestLevel: number | null };

export interface Walk2dResult {
  readonly outcome: Walk2dOutcome;
  /** memory after A/D updates and PML writes (unchanged on a fault or exit, except EPT A/D set by earlier steps) */
  readonly mem: Phys.PhysMem;
  readonly counts: { readonly guest: number; readonly nested: number };
  readonly references?: readonly Reference[];
  /** host-physical address of each guest paging entry read, in walk order (same order as the guest entries) */
  readonly guestEntryHpa: readonly number[];
  /** PML index after the walk (when PML is on) */
  readonly pmlIndex?: number;
}

const ZERO_ENTRY = { _tag: 'entry', lo: 0, hi: 0 } as const;

type Stop =
  | { readonly _tag: 'violation'; readonly v: Extract<Ept.EptResult, { _tag: 'violation' }>; readonly level: number }
  | { readonly _tag: 'misconfig'; readonly gpa: number; readonly eptLevel: number; readonly level: number }
  | { readonly _tag: 'pml-full'; readonly gpa: number; readonly level: number };

/**
 * One translation of `gla` for `access`. Pure: returns the new memory. Reference counts for a cold walk are
 * n(m+1)+m for n guest levels and m EPT levels (SDM-derived, see reference §9.2).
 */
export const walk2d = (mem: Phys.PhysMem, cfg: Walk2dConfig, gla: Gva, access: Walk2dAccess, opts?: Walk2dOptions): Walk2dResult => {
  let m = mem;
  let guestRefs = 0;
  let nestedRefs = 0;
  const refs: Reference[] | undefined = opts?.record === true ? [] : undefined;
  const ept = cfg.ept;
  let ctx = ept;
  let curGuestLevel: number | null = null;
  const onRef: Ept.OnEptRef | undefined =
    refs === undefined
      ? undefined
      : (address, level) => { refs.push({ index: refs.length + 1, dimension: 'nested', guestLevel: curGuestLevel, eptLevel: level, address }); };
  // Host address and EPT writability of each guest entry read (for the guest A/D writes).
  const entryHpa: number[] = [];
  const entryEptWritable: boolean[] = [];
  const lookup = opts?.nestedLookup;

  const advancePml = (idx: number | undefined): void => {
    if (ctx !== null && ctx.pml !== undefined && idx !== undefined && idx !== ctx.pml.index) {
      ctx = { ...ctx, pml: { address: ctx.pml.address, index: idx } };
    }
  };

  const readEntry: Guest.ReadEntry<Stop> = (entryGpa, level) => {
    let h: number = entryGpa;
    let wOk = true;
    if (ctx !== null) {
      const off = entryGpa & 0xfff;
      const hit = lookup === undefined ? undefined : lookup(entryGpa - off, level);
      if (hit !== undefined) {
        h = hit + off;
      } else {
        curGuestLevel = level;
        const r = Ept.eptTranslate(m, ctx, entryGpa, { kind: 'read', user: false, pagingStructure: true }, onRef);
        nestedRefs += r.refs;
        switch (r._tag) {
          case 'ok':
            m = r.mem;
            advancePml(r.pmlIndex);
            h = r.hpa;
            wOk = r.w;
            break;
          case 'violation':
            return { _tag: 'stop', stop: { _tag: 'violation', v: r, level } };
          case 'misconfig':
            return { _tag: 'stop', stop: { _tag: 'misconfig', gpa: r.gpa, eptLevel: r.level, level } };
          case 'pml-full':
            return { _tag: 'stop', stop: { _tag: 'pml-full', gpa: r.gpa, level } };
          default: {
            const never: never = r;
            throw new Error(`unhandled ${String(never)}`);
          }
        }
      }
    }
    guestRefs++;
    if (refs !== undefined) refs.push({ index: refs.length + 1, dimension: 'guest', guestLevel: level, eptLevel: null, address: h });
    entryHpa.push(h);
    entryEptWritable.push(wOk);
    const pg = Phys.page(m, Math.floor(h / PAGE_SIZE));
    const wi = (h & 0xfff) >>> 2;
    return pg === undefined ? ZERO_ENTRY : { _tag: 'entry', lo: pg[wi], hi: pg[wi + 1] };
  };

  const done = (outcome: Walk2dOutcome): Walk2dResult => ({
    outcome,
    mem: m,
    counts: { guest: guestRefs, nested: nestedRefs },
    references: refs,
    guestEntryHpa: entryHpa,
    pmlIndex: ctx?.pml?.index,
  });

  // Qualification for a violation: SDM "Exit Qualification for EPT Violations".
  const violation = (v: Extract<Ept.EptResult, { _tag: 'violation' }>, guestLevel: number | null, adv: { user: boolean; writable: boolean; xd: boolean } | null): Walk2dResult =>
    done({
      _tag: 'ept-violation',
      qualification: encodeEptViolation(v, {
        guestLinearAddressValid: true,
        finalTranslation: guestLevel === null,
        advanced: cfg.advancedInfo === true && adv !== null ? { userModeLinear: adv.user, writableLinear: adv.writable, executeDisableLinear: adv.xd } : undefined,
      }),
      gpa: v.gpa as Gpa,
      gla,
      guestLevel,
      suppressVe: v.suppressVe,
    });

  // 1. The guest dimension.
  let finalGpa: number;
  let guestSize: number;
  let user: boolean;
  let writable: boolean;
  let xd: boolean;
  let entries: readonly Guest.GuestEntryUsed[] = [];
  if (cfg.guest === null) {
    // CR0.PG = 0: the linear address is the guest-physical address; treated as supervisor, writable, executable
    // for the advanced information (unverified against the SDM).
    finalGpa = gla;
    guestSize = PAGE_SIZE;
    user = false;
    writable = true;
    xd = false;
  } else {
    const g = Guest.guestWalk(cfg.guest, gla, access, readEntry, opts?.start);
    switch (g._tag) {
      case 'stop': {
        const s = g.stop;
        switch (s._tag) {
          case 'violation':
            return violation(s.v, s.level, null);
          case 'misconfig':
            return done({ _tag: 'ept-misconfig', gpa: s.gpa as Gpa, gla, guestLevel: s.level, eptLevel: s.eptLevel });
          case 'pml-full':
            return done({ _tag: 'pml-full', gpa: s.gpa as Gpa, gla, guestLevel: s.level });
          default: {
            const never: never = s;
            throw new Error(`unhandled ${String(never)}`);
          }
        }
      }
      case 'fault':
        return done({ _tag: 'guest-fault', vector: 14, errorCode: g.errorCode, cr2: gla });
      case 'ok':
        finalGpa = g.gpa;
        guestSize = g.pageSize;
        user = g.user;
        writable = g.writable;
        xd = g.xd;
        entries = g.entries;
        break;
      default: {
        const never: never = g;
        throw new Error(`unhandled ${String(never)}`);
      }
    }
  }

  // 2. Guest A/D writes need EPT write permission on the guest table's page (EPT A/D off; with it on, the
  // paging-structure read was already checked as a write).
  const updates = Guest.guestAdUpdates(entries, access.kind === 'write');
  if (ept !== null && !ept.ad && updates.length > 0) {
    for (const u of updates) {
      const i = u.index;
      if (!entryEptWritable[i]) {
        const re = Ept.eptTranslate(m, ept, u.gpa, { kind: 'write', user: false, pagingStructure: true });
        if (re._tag === 'violation') return violation(re, u.level, null);
      }
    }
  }

  // 3. The final GPA through EPT.
  let out: number = finalGpa;
  let eptSize: number | null = null;
  let eptPerms: { r: boolean; w: boolean; x: boolean; ux: boolean; memType: number } | null = null;
  if (ctx !== null) {
    const off = finalGpa & 0xfff;
    const hit = lookup === undefined ? undefined : lookup(finalGpa - off, null);
    if (hit !== undefined) {
      out = hit + off;
      eptSize = PAGE_SIZE;
    } else {
      curGuestLevel = null;
      const r = Ept.eptTranslate(m, ctx, finalGpa, { kind: access.kind, user, pagingStructure: false }, onRef);
      nestedRefs += r.refs;
      switch (r._tag) {
        case 'ok':
          m = r.mem;
          advancePml(r.pmlIndex);
          out = r.hpa;
          eptSize = r.pageSize;
          eptPerms = { r: r.r, w: r.w, x: r.x, ux: r.ux, memType: r.memType };
          break;
        case 'violation':
          return violation(r, null, { user, writable, xd });
        case 'misconfig':
          return done({ _tag: 'ept-misconfig', gpa: r.gpa as Gpa, gla, guestLevel: null, eptLevel: r.level });
        case 'pml-full':
          return done({ _tag: 'pml-full', gpa: r.gpa as Gpa, gla, guestLevel: null });
        default: {
          const never: never = r;
          throw new Error(`unhandled ${String(never)}`);
        }
      }
    }
  }

  // 4. The access succeeds: write the guest A/D flags (guest-physical writes at the entries' host addresses).
  for (const u of updates) m = Phys.write64Parts(m, entryHpa[u.index], u.lo, u.hi);

  const pageSize = eptSize === null ? guestSize : Math.min(guestSize, eptSize);
  return done({
    _tag: 'translated', hpa: mkHpa(out), gpa: finalGpa as Gpa, pageSize, guestPageSize: guestSize, eptPageSize: eptSize,
    user, writable, xd, ept: eptPerms, guestEntries: entries,
  });
};

/** The bound on references for a cold walk with n guest levels and m EPT levels: (n+1)(m+1)-1. */
export const maxReferences = (n: number, m: number): number => (n + 1) * (m + 1) - 1;
