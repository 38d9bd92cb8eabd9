/**
 * The memo of the upper EPT levels (src/ept/walk.ts) is invisible: every walk gives what a walk without it gives
 * (`onRef` present bypasses the memo), across writes to any EPT level, forks (an older memory asked again), transient
 * scopes (pages written in place) and context changes; so does `eptLeafHpa`'s memo of level-1 answers.
 */
import fc from 'fast-check';
import * as Phys from '../../src/arch/phys';
import { hpa } from '../../src/arch/addr';
import { transient } from '../../src/arch/transient';
import * as B from '../../src/ept/build';
import { eptLeafHpa, eptOut, eptWalk, type EptContext } from '../../src/ept/walk';

const ROOT = 0x10_0000;
/** guest-physical addresses in a few 2 MiB regions, two 1 GiB regions and two 512 GiB regions */
const GPAS = [0x0, 0x1000, 0x20_0000, 0x20_5000, 0x4000_0000, 0x4020_1000, 0x80_0000_0000, 0x80_0020_3000];

const ctxOf = (levels: 4 | 5, mbec: boolean, maxPhyAddr: number): EptContext =>
  ({ root: hpa(ROOT), levels, ad: true, mbec, executeOnly: true, pages1G: true, maxPhyAddr });

const walkOnce = (mem: Phys.PhysMem, ctx: EptContext, gpa: number, kind: number, memo: boolean): unknown[] => {
  const st = eptWalk(mem, ctx, gpa, kind === 0, kind === 1, kind === 2, true, memo ? undefined : () => undefined);
  const o = eptOut;
  return st === 0 || st === 3
    ? [st, o.level, o.lo, o.hi, o.refs, o.r, o.w, o.x, o.ux, o.missingA, o.hpa, o.pageSize]
    : [st, o.level, o.lo, o.hi, o.refs, st === 2 ? o.reason : null];
};

type Op =
  | { op: 'walk'; gpa: number; kind: number }
  | { op: 'edit'; gpa: number; level: number; bits: number; clear: boolean }
  | { op: 'remap'; gpa: number; size: B.EptPageSize }
  | { op: 'fork' }
  | { op: 'back' }
  | { op: 'ctx'; mbec: boolean; maxPhyAddr: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('walk' as const), gpa: fc.constantFrom(...GPAS), kind: fc.integer({ min: 0, max: 2 }) }) },
  {
    weight: 3, arbitrary: fc.record({
      op: fc.constant('edit' as const), gpa: fc.constantFrom(...GPAS), level: fc.integer({ min: 1, max: 5 }),
      // permissions, A, D, PS, UX, memory type bits
      bits: fc.constantFrom(0x1, 0x2, 0x4, 0x7, 0x80, 0x100, 0x200, 0x400, 0x38), clear: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('remap' as const), gpa: fc.constantFrom(...GPAS), size: fc.constantFrom<B.EptPageSize>('4K', '2M') }) },
  { weight: 1, arbitrary: fc.constant({ op: 'fork' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'back' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('ctx' as const), mbec: fc.boolean(), maxPhyAddr: fc.constantFrom(39, 46) }) },
);

const build = (levels: 4 | 5): { mem: Phys.PhysMem; next: number } => {
  let mem = Phys.empty;
  let alloc = { next: ROOT + 0x1000 };
  GPAS.forEach((g, i) => {
    const r = B.eptMap(mem, alloc, ROOT, levels, g, 0x4000_0000 + i * 0x20_0000, '4K', B.parsePerm('rwx'), 6);
    mem = r.mem;
    alloc = r.alloc;
  });
  return { mem, next: alloc.next };
};

/** Runs `ops`, checking every walk against a walk without the memo; `scoped` runs them in one transient scope. */
const run = (levels: 4 | 5, ops: readonly Op[]): void => {
  const built = build(levels);
  let mem = built.mem;
  let alloc = { next: built.next };
  let saved: Phys.PhysMem | null = null;
  let ctx = ctxOf(levels, false, 46);
  for (const o of ops) {
    switch (o.op) {
      case 'walk': {
        const want = walkOnce(mem, ctx, o.gpa, o.kind, false);
        expect(walkOnce(mem, ctx, o.gpa, o.kind, true)).toEqual(want);
        // eptLeafHpa (the upper memo, then its memo of level-1 answers): the walk's address and rights when it allows
        // the access and sets no A/D flag, else -1; asked twice (the second from the memo of level-1 answers)
        const [st, , lo, , refs, r, w, x, ux, missingA, hpaWalk] = want as number[];
        const leafWant = st === 0 && !(missingA || (o.kind === 1 && (lo & 0x200) === 0)) ? [hpaWalk, r, w, x, ux, refs] : -1;
        for (let i = 0; i < 2; i++) {
          const h = eptLeafHpa(mem, ctx, o.gpa, o.kind === 0, o.kind === 1, o.kind === 2, true);
          expect(h < 0 ? -1 : [h, eptOut.r, eptOut.w, eptOut.x, eptOut.ux, eptOut.refs]).toEqual(leafWant);
        }
        break;
      }
      case 'edit': {
        const a = B.eptEntryAddress(mem, ROOT, levels, o.gpa, o.level);
        if (a === undefined) break;
        const lo = Phys.read64Lo(mem, a);
        mem = Phys.write64Parts(mem, a, o.clear ? (lo & ~o.bits) >>> 0 : (lo | o.bits) >>> 0, Phys.read64Hi(mem, a));
        break;
      }
      case 'remap': {
        const r = B.eptMap(mem, alloc, ROOT, levels, o.gpa - (o.gpa % B.pageBytes(o.size)), 0x7000_0000, o.size, B.parsePerm('rw'), 6);
        mem = r.mem;
        alloc = r.alloc;
        break;
      }
      case 'fork':
        saved = mem;
        break;
      case 'back':
        if (saved !== null) mem = saved;
        break;
      case 'ctx':
        ctx = ctxOf(levels, o.mbec, o.maxPhyAddr);
        break;
    }
  }
};

describe('EPT walk memo (upper levels)', () => {
  test('property: every walk equals the walk without the memo, across edits at every level, forks and context changes', () => {
    fc.assert(fc.property(fc.constantFrom<4 | 5>(4, 5), fc.array(opArb, { maxLength: 60 }), (levels, ops) => { run(levels, ops); }), { numRuns: 300 });
  });

  test('property: the same inside a transient scope (pages written in place; forks are not taken inside a scope)', () => {
    const noFork = opArb.filter((o) => o.op !== 'fork' && o.op !== 'back');
    fc.assert(fc.property(fc.constantFrom<4 | 5>(4, 5), fc.array(noFork, { maxLength: 60 }), (levels, ops) => {
      transient(() => run(levels, ops));
    }), { numRuns: 200 });
  });

  test('walks answered from the memo report the accessed flags and rights of the entries above the page table', () => {
    const { mem: m0 } = build(4);
    const ctx = ctxOf(4, false, 46);
    const gpa = 0x20_5000;
    // every entry of the walk accessed, then the PDE without its accessed flag and without write permission
    let mem = m0;
    for (let level = 1; level <= 4; level++) {
      const a = B.eptEntryAddress(mem, ROOT, 4, gpa, level)!;
      mem = Phys.write64Parts(mem, a, (Phys.read64Lo(mem, a) | 0x100) >>> 0, Phys.read64Hi(mem, a));
    }
    const pde = B.eptEntryAddress(mem, ROOT, 4, gpa, 2)!;
    mem = Phys.write64Parts(mem, pde, (Phys.read64Lo(mem, pde) & ~0x102) >>> 0, Phys.read64Hi(mem, pde));
    // the first walk fills the memo, the second is answered from it: both as a walk without the memo
    for (let i = 0; i < 2; i++) {
      const got = walkOnce(mem, ctx, gpa, 0, true);
      expect(got).toEqual(walkOnce(mem, ctx, gpa, 0, false));
      expect(got[9]).toBe(true); // missingA: the PDE's accessed flag is 0, the leaf's is 1
      expect(got[6]).toBe(0); // w: the PDE does not allow writes
    }
    // eptLeafHpa from the same memo (then from its memo of level-1 answers): no write, and with EPT A/D no answer at
    // all (an accessed flag to set); without A/D a read, with the PDE's rights
    const noAd = { ...ctx, ad: false };
    for (let i = 0; i < 2; i++) {
      expect(eptLeafHpa(mem, ctx, gpa, true, false, false, true)).toBe(-1);
      expect(eptLeafHpa(mem, noAd, gpa, false, true, false, true)).toBe(-1);
      expect(eptLeafHpa(mem, noAd, gpa, true, false, false, true)).toBeGreaterThanOrEqual(0);
      expect([eptOut.r, eptOut.w, eptOut.x]).toEqual([1, 0, 1]);
    }
  });

  test('eptLeafHpa under mode-based execute: a fetch needs the execute bit of its mode in every entry, the PDE\'s too', () => {
    const gpa = 0x20_5000;
    const ctx = { ...ctxOf(4, true, 46), ad: false };
    // every entry user-executable, then the PDE without one of its execute bits
    let m0 = build(4).mem;
    for (let level = 1; level <= 4; level++) {
      const a = B.eptEntryAddress(m0, ROOT, 4, gpa, level)!;
      m0 = Phys.write64Parts(m0, a, (Phys.read64Lo(m0, a) | 0x400) >>> 0, Phys.read64Hi(m0, a));
    }
    const pde = B.eptEntryAddress(m0, ROOT, 4, gpa, 2)!;
    for (const [clear, user] of [[0x400, true], [0x4, false]] as const) {
      const mem = Phys.write64Parts(m0, pde, (Phys.read64Lo(m0, pde) & ~clear) >>> 0, Phys.read64Hi(m0, pde));
      eptWalk(mem, ctx, gpa, true, false, false, true); // (the upper memo holds the region)
      for (let i = 0; i < 2; i++) {
        expect(eptLeafHpa(mem, ctx, gpa, false, false, true, user)).toBe(-1);
        expect(eptLeafHpa(mem, ctx, gpa, false, false, true, !user)).toBeGreaterThanOrEqual(0);
        expect(eptLeafHpa(mem, ctx, gpa, true, false, false, user)).toBeGreaterThanOrEqual(0);
        expect([eptOut.x, eptOut.ux]).toEqual(user ? [1, 0] : [0, 1]);
      }
    }
  });

  test('an upper entry made not present after a walk is seen by the next walk (the page is watched)', () => {
    const { mem } = build(4);
    const ctx = ctxOf(4, false, 46);
    expect(walkOnce(mem, ctx, 0x20_5000, 0, true)[0]).toBe(0);
    const pde = B.eptEntryAddress(mem, ROOT, 4, 0x20_5000, 2)!;
    const m2 = Phys.write64Parts(mem, pde, 0, 0);
    expect(walkOnce(m2, ctx, 0x20_5000, 0, true)).toEqual([1, 2, 0, 0, 3, null]);
    // and the older memory still walks as before
    expect(walkOnce(mem, ctx, 0x20_5000, 0, true)[0]).toBe(0);
  });

  test('an older memory asked again after a newer one filled the memo walks its own upper entries', () => {
    const { mem: m0 } = build(4);
    const ctx = ctxOf(4, false, 46);
    const pde = B.eptEntryAddress(m0, ROOT, 4, 0x20_5000, 2)!;
    // the newer memory: the PDE without write permission (the walk ANDs it: w = 0)
    const m1 = Phys.write64Parts(m0, pde, (Phys.read64Lo(m0, pde) & ~2) >>> 0, Phys.read64Hi(m0, pde));
    expect(walkOnce(m1, ctx, 0x20_5000, 1, true)).toEqual(walkOnce(m1, ctx, 0x20_5000, 1, false));
    expect(walkOnce(m0, ctx, 0x20_5000, 1, true)).toEqual(walkOnce(m0, ctx, 0x20_5000, 1, false));
    expect(walkOnce(m0, ctx, 0x20_5000, 1, true)[0]).toBe(0);
    expect(walkOnce(m1, ctx, 0x20_5000, 1, true)[0]).toBe(3);
  });

  describe('eptLeafHpa and its memo of level-1 answers', () => {
    const gpa = 0x20_5000;
    const ctx = { ...ctxOf(4, false, 46), ad: false };
    const leafAt = (m: Phys.PhysMem): number => B.eptEntryAddress(m, ROOT, 4, gpa, 1)!;
    const withLeaf = (m: Phys.PhysMem, edit: (lo: number) => number): Phys.PhysMem =>
      Phys.write64Parts(m, leafAt(m), edit(Phys.read64Lo(m, leafAt(m))) >>> 0, Phys.read64Hi(m, leafAt(m)));
    const write = (m: Phys.PhysMem): number => eptLeafHpa(m, ctx, gpa, false, true, false, true);

    test('a level-1 entry written after it answered is read again (its page table is watched), in a scope too', () => {
      for (const scoped of [false, true]) {
        const check = (): void => {
          let m = build(4).mem;
          eptWalk(m, ctx, gpa, false, true, false, true); // (the upper memo holds the region)
          const h = write(m);
          expect(h).toBeGreaterThanOrEqual(0);
          expect(write(m)).toBe(h);
          m = withLeaf(m, (lo) => lo & ~2); // no write permission
          expect(write(m)).toBe(-1);
          m = withLeaf(m, (lo) => lo | 2);
          expect(write(m)).toBe(h);
        };
        if (scoped) transient(check); else check();
      }
    });

    test('a write to one EPT page table is seen in the answers read from it, not only in the first table\'s', () => {
      // 0x20_5000 and 0x4000_0000: two page tables (build maps every address of GPAS)
      let m = build(4).mem;
      const other = 0x4000_0000;
      for (const g of [gpa, other]) eptWalk(m, ctx, g, false, true, false, true);
      const h = write(m);
      const h2 = eptLeafHpa(m, ctx, other, false, true, false, true);
      expect(h).toBeGreaterThanOrEqual(0);
      expect(h2).toBeGreaterThanOrEqual(0);
      const a2 = B.eptEntryAddress(m, ROOT, 4, other, 1)!;
      m = Phys.write64Parts(m, a2, (Phys.read64Lo(m, a2) & ~2) >>> 0, Phys.read64Hi(m, a2));
      expect(eptLeafHpa(m, ctx, other, false, true, false, true)).toBe(-1);
      expect(write(m)).toBe(h);
    });

    test('an older memory asked again after a newer one answers from its own level-1 entry', () => {
      const m0 = build(4).mem;
      const m1 = withLeaf(m0, (lo) => lo & ~2);
      eptWalk(m1, ctx, gpa, false, true, false, true);
      expect(write(m1)).toBe(-1);
      expect(write(m0)).toBeGreaterThanOrEqual(0);
      expect(write(m1)).toBe(-1);
    });

    test('with EPT A/D, a write is answered only when the entry\'s accessed and dirty flags are set', () => {
      const adCtx = ctxOf(4, false, 46);
      let m = build(4).mem;
      // every entry of the walk accessed, the leaf not dirty
      for (let level = 1; level <= 4; level++) {
        const a = B.eptEntryAddress(m, ROOT, 4, gpa, level)!;
        m = Phys.write64Parts(m, a, (Phys.read64Lo(m, a) | 0x100) >>> 0, Phys.read64Hi(m, a));
      }
      eptWalk(m, adCtx, gpa, true, false, false, true);
      for (let i = 0; i < 2; i++) {
        expect(eptLeafHpa(m, adCtx, gpa, true, false, false, true)).toBeGreaterThanOrEqual(0);
        expect(eptLeafHpa(m, adCtx, gpa, false, true, false, true)).toBe(-1);
      }
      m = withLeaf(m, (lo) => lo | 0x200);
      expect(eptLeafHpa(m, adCtx, gpa, false, true, false, true)).toBeGreaterThanOrEqual(0);
      m = withLeaf(m, (lo) => lo & ~0x100);
      expect(eptLeafHpa(m, adCtx, gpa, true, false, false, true)).toBe(-1);
    });
  });

  test('a context change (mode-based execute) is not answered from the memo of another context', () => {
    const { mem: m0 } = build(4);
    const pde = B.eptEntryAddress(m0, ROOT, 4, 0x20_5000, 2)!;
    // a PDE with only the user-execute bit: present under MBEC, not present without it
    const m1 = Phys.write64Parts(m0, pde, ((Phys.read64Lo(m0, pde) & ~7) | 0x400) >>> 0, Phys.read64Hi(m0, pde));
    const on = ctxOf(4, true, 46);
    const off = ctxOf(4, false, 46);
    expect(walkOnce(m1, on, 0x20_5000, 2, true)).toEqual(walkOnce(m1, on, 0x20_5000, 2, false));
    expect(walkOnce(m1, off, 0x20_5000, 2, true)).toEqual(walkOnce(m1, off, 0x20_5000, 2, false));
    expect(walkOnce(m1, off, 0x20_5000, 2, true)[0]).toBe(1);
  });
});
