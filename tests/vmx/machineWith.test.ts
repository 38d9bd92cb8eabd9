/**
 * src/vmx/machine.ts `machineWith`: the fixed-shape copy of a Machine the exit/entry path uses instead of a spread.
 * It must give `{ ...m, ...p }` with the patch's undefined fields left out (kept from `m`), the same keys in the
 * same order, `shadow` present exactly when the spread would have it, and `savedCr2` always a key (undefined when the
 * spread would not have it).
 */
import fc from 'fast-check';
import {
  machineAfterExit, machineWith, machineWithCpu, machineWithGuest, machineWithGuestAlloc, machineWithNonRoot, machineWithRetry,
  nonRootWithRetry, type Machine, type MachinePatch, type NonRoot,
} from '../../src/vmx/machine';

const tag = (name: string) => fc.nat(3).map((i) => ({ [name]: i }));
const machineArb = fc.record({
  cpu: tag('cpu'), tsc: fc.bigInt({ min: 0n, max: 1n << 40n }), mmu: tag('mmu'),
  guest: fc.option(tag('guest'), { nil: null }), nonRoot: fc.option(tag('nonRoot'), { nil: null }),
  pendingRetry: fc.option(tag('retry'), { nil: null }), savedCr2: fc.bigInt({ min: 0n, max: 1n << 40n }),
  native: fc.boolean(), guestAlloc: tag('ga'), guestMsrs: tag('msrs'), gprs: tag('gprs'), hostAlloc: tag('ha'), shadow: tag('shadow'),
}, { requiredKeys: ['cpu', 'tsc', 'mmu', 'guest', 'nonRoot', 'pendingRetry', 'native', 'guestAlloc', 'guestMsrs', 'gprs', 'hostAlloc'] });
const patchArb = fc.record({
  cpu: tag('cpu2'), mmu: tag('mmu2'), guest: fc.option(tag('guest2'), { nil: null }), nonRoot: fc.option(tag('nonRoot2'), { nil: null }),
  pendingRetry: fc.option(tag('retry2'), { nil: null }), savedCr2: fc.bigInt({ min: 0n, max: 1n << 40n }), guestMsrs: tag('msrs2'), gprs: tag('gprs2'),
  hostAlloc: tag('ha2'),
}, { requiredKeys: [] });

describe('machineWith', () => {
  it('equals the spread { ...m, ...p } (undefined patch fields kept), keys in the same order', () => {
    fc.assert(fc.property(machineArb, patchArb, (m0, p0) => {
      // the spread of the Machine type's key order (what `{ ...m }` of a machine built in that order gives)
      const order = ['cpu', 'tsc', 'mmu', 'guest', 'nonRoot', 'pendingRetry', 'savedCr2', 'native', 'guestAlloc', 'guestMsrs', 'gprs', 'hostAlloc', 'shadow'];
      const m = m0 as unknown as Machine;
      const p = p0 as unknown as MachinePatch;
      const out = machineWith(m, p) as unknown as Record<string, unknown>;
      const expected: Record<string, unknown> = { ...m0 };
      for (const [k, v] of Object.entries(p0)) if (v !== undefined) expected[k] = v;
      expect(out).toEqual(expected);
      expect(new Set(Object.keys(out).filter((k) => k !== 'savedCr2' || out.savedCr2 !== undefined))).toEqual(new Set(Object.keys(expected)));
      // the listed fields, then savedCr2 (always a key, undefined when none is saved), then shadow: one shape with
      // and one without a shadow view, whatever the patch and whether a CR2 was saved yet
      const fixed = order.filter((k) => k !== 'savedCr2' && k !== 'shadow');
      expect(Object.keys(out)).toEqual([...fixed, 'savedCr2', ...('shadow' in expected ? ['shadow'] : [])]);
      if (!('savedCr2' in expected)) expect(out.savedCr2).toBeUndefined();
    }), { numRuns: 500 });
  });

  it('machineAfterExit(m, ...) equals machineWith(m, { ..., pendingRetry: null }), keys in the same order', () => {
    fc.assert(fc.property(machineArb, patchArb, fc.boolean(), (m0, p0, keepGprs) => {
      const m = m0 as unknown as Machine;
      const p = { ...p0, savedCr2: p0.savedCr2 ?? 5n, gprs: keepGprs ? undefined : p0.gprs } as unknown as Required<MachinePatch>;
      const out = machineAfterExit(m, p.cpu ?? m.cpu, p.mmu ?? m.mmu, p.guest ?? null, p.nonRoot ?? null, p.guestMsrs ?? m.guestMsrs, p.gprs, p.savedCr2);
      const expected = machineWith(m, {
        cpu: p.cpu ?? m.cpu, mmu: p.mmu ?? m.mmu, guest: p.guest ?? null, nonRoot: p.nonRoot ?? null, pendingRetry: null,
        guestMsrs: p.guestMsrs ?? m.guestMsrs, gprs: p.gprs, savedCr2: p.savedCr2,
      });
      expect(out).toEqual(expected);
      expect(Object.keys(out)).toEqual(Object.keys(expected));
    }), { numRuns: 300 });
  });
  it('the one-field helpers equal machineWith with that field, keys in the same order', () => {
    fc.assert(fc.property(machineArb, patchArb, tag('ga2'), (m0, p0, ga) => {
      const m = m0 as unknown as Machine;
      const p = p0 as unknown as Required<MachinePatch>;
      const same = (out: Machine, expected: Machine): void => {
        expect(out).toEqual(expected);
        expect(Object.keys(out)).toEqual(Object.keys(expected));
      };
      if (p.guest !== undefined) same(machineWithGuest(m, p.guest), machineWith(m, { guest: p.guest }));
      if (p.nonRoot !== undefined) same(machineWithNonRoot(m, p.nonRoot), machineWith(m, { nonRoot: p.nonRoot }));
      if (p.pendingRetry !== undefined) same(machineWithRetry(m, p.pendingRetry), machineWith(m, { pendingRetry: p.pendingRetry }));
      const alloc = ga as unknown as Machine['guestAlloc'];
      same(machineWithGuestAlloc(m, alloc), machineWith(m, { guestAlloc: alloc }));
      if (p.cpu !== undefined) {
        same(machineWithCpu(m, p.cpu), machineWith(m, { cpu: p.cpu }));
        if (p.hostAlloc !== undefined) same(machineWithCpu(m, p.cpu, p.hostAlloc), machineWith(m, { cpu: p.cpu, hostAlloc: p.hostAlloc }));
      }
    }), { numRuns: 300 });
  });

  it('nonRootWithRetry(nr, retry) equals { ...nr, retry }, keys in the same order', () => {
    const nr: NonRoot = { controls: { c: 1 }, walk: { w: 2 }, vpid: 3, timer: { value: 4, since: 5n }, retry: null } as unknown as NonRoot;
    for (const retry of [null, { op: 'read', gva: 0x1000, size: 8, user: false }] as NonRoot['retry'][]) {
      const out = nonRootWithRetry(nr, retry);
      expect(out).toEqual({ ...nr, retry });
      expect(Object.keys(out)).toEqual(Object.keys({ ...nr, retry }));
    }
  });
});
