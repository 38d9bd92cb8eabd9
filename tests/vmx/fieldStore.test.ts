/**
 * The VMCS field store (src/vmx/cpu.ts): a persistent map from encoding to value. Stores made by writes carry a stamp
 * per watched group of fields; caches on the exit/entry path (VM entry's decoded controls, the exit's control
 * decisions, the entry-check memo) take equal stamps to mean equal values in every field of the group. These
 * properties check that claim on random trees of versions (writes from any earlier version, as forked replay states
 * make them), and that the store reads back what was written (truncated to the field width).
 */
import fc from 'fast-check';
import { changedFields, emptyFields, groupStamp, vmcsRead, vmcsWrite, vmcsWriteFlat, watchedGroups, writtenBetween, type VmcsFields } from '../../src/vmx/cpu';
import { F, FIELDS, widthMask } from '../../src/vmx/fields';
import { transient } from '../../src/arch/transient';
// the modules that declare the groups the exit/entry path uses
import '../../src/vmx/entry';
import '../../src/vmx/exit';
import '../../src/vmx/entryChecks';

const GROUPS = watchedGroups();
const HOT = [F.GUEST_RIP, F.VM_ENTRY_INTR_INFO_FIELD, F.CPU_BASED_VM_EXEC_CONTROL, F.EXCEPTION_BITMAP, F.VM_EXIT_CONTROLS, F.GUEST_CR0];
const encArb = fc.oneof(fc.constantFrom(...HOT), fc.constantFrom(...FIELDS.map((f) => f.encoding)));
const valueArb = fc.oneof(fc.constantFrom(0n, 1n, 0x8000_00ecn), fc.bigInt({ min: -(1n << 64n), max: 1n << 65n }));
/** a write to a random field of version `from` (an index into the versions made so far) */
const stepArb = fc.record({ from: fc.nat(), writes: fc.array(fc.tuple(encArb, valueArb), { minLength: 1, maxLength: 4 }) });

const sameInGroup = (a: VmcsFields, b: VmcsFields, encs: readonly number[]): boolean => encs.every((e) => vmcsRead(a, e) === vmcsRead(b, e));

describe('field store stamps', () => {
  it('declares the groups of the exit/entry caches', () => {
    expect(GROUPS.length).toBeGreaterThanOrEqual(4);
    for (const g of GROUPS) expect(g.length).toBeGreaterThan(0);
  });

  it('equal stamps of a group mean equal values of every field of the group (any two versions of a tree)', () => {
    fc.assert(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 25 }), (steps) => {
      const versions: VmcsFields[] = [vmcsWrite(emptyFields, F.GUEST_RIP, 0x1000n)];
      for (const s of steps) {
        const base = versions[s.from % versions.length];
        versions.push(vmcsWriteFlat(base, s.writes.map(([e]) => e), s.writes.map(([, v]) => v)));
      }
      for (const a of versions) {
        for (const b of versions) {
          GROUPS.forEach((encs, g) => {
            const sa = groupStamp(a, g), sb = groupStamp(b, g);
            expect(sa).toBeDefined();
            if (sa === sb) expect(sameInGroup(a, b, encs)).toBe(true);
          });
        }
      }
    }), { numRuns: 60 });
  });

  it('a write that changes a field of a group changes its stamp; a write that changes nothing returns the same store', () => {
    fc.assert(fc.property(encArb, valueArb, (enc, v) => {
      const a = vmcsWrite(emptyFields, F.GUEST_RIP, 0x1000n);
      const b = vmcsWrite(a, enc, v);
      GROUPS.forEach((encs, g) => {
        if (encs.includes(enc) && vmcsRead(a, enc) !== vmcsRead(b, enc)) expect(groupStamp(b, g)).not.toBe(groupStamp(a, g));
        if (!encs.includes(enc)) expect(groupStamp(b, g)).toBe(groupStamp(a, g));
      });
      expect(vmcsWrite(b, enc, v)).toBe(b);
    }), { numRuns: 300 });
  });

  it('a map that is not a store has no stamps (the caches then compare values)', () => {
    expect(groupStamp(new Map([[F.GUEST_RIP, 1n]]), 0)).toBeUndefined();
  });
});

describe('field store writes', () => {
  it('reads back each value truncated to the field width (two\'s complement for negative values), later writes winning', () => {
    fc.assert(fc.property(fc.array(fc.tuple(encArb, valueArb), { minLength: 1, maxLength: 12 }), (writes) => {
      const f = vmcsWriteFlat(emptyFields, writes.map(([e]) => e), writes.map(([, v]) => v));
      const expected = new Map<number, bigint>();
      for (const [e, v] of writes) expected.set(e, v & widthMask(FIELDS.find((x) => x.encoding === e)!));
      for (const [e, v] of expected) expect(vmcsRead(f, e)).toBe(v);
      expect(f.size).toBe(expected.size);
      const nonZero = [...expected].filter(([, v]) => v !== 0n).map(([e]) => e).sort();
      // from a map that is not a store, the values are compared: exactly the fields that differ
      expect(changedFields(new Map(), f).sort()).toEqual(nonZero);
      // from the empty store `f` descends from: the fields written (a superset, each once per write)
      expect(new Set(changedFields(emptyFields, f))).toEqual(new Set(writes.map(([e]) => e)));
    }), { numRuns: 200 });
  });

  it('the fields of a VMCS never written are a field store, which no write changes', () => {
    // one kind of object for every VMCS (a Map here made the field accessors' optimized code deoptimize at the start
    // of each run): a store has stamps; a Map has none
    expect(groupStamp(emptyFields, 0)).toBeDefined();
    const f = vmcsWrite(emptyFields, F.GUEST_RIP, 5n);
    expect(vmcsRead(f, F.GUEST_RIP)).toBe(5n);
    expect([...emptyFields]).toEqual([]);
    expect(vmcsRead(emptyFields, F.GUEST_RIP)).toBe(0n);
  });

  it('applies only the first n writes when given a count', () => {
    const f = vmcsWriteFlat(emptyFields, [F.GUEST_RIP, F.GUEST_CR0], [5n, 7n], 1);
    expect([...f]).toEqual([[F.GUEST_RIP, 5n]]);
  });
});

describe('field store writes in a transient scope (written in place)', () => {
  const snapshot = (f: VmcsFields): [number, bigint][] => [...f].sort((a, b) => a[0] - b[0]);
  const writesArb = fc.array(fc.array(fc.tuple(encArb, valueArb), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 12 });

  it('the newest version equals the one made by copying writes; versions made before the scope keep their values', () => {
    fc.assert(fc.property(writesArb, writesArb, (before, inside) => {
      let outside: VmcsFields = vmcsWrite(emptyFields, F.GUEST_RIP, 0x1000n);
      const pre: { f: VmcsFields; vals: [number, bigint][] }[] = [];
      for (const w of before) {
        outside = vmcsWriteFlat(outside, w.map(([e]) => e), w.map(([, v]) => v));
        pre.push({ f: outside, vals: snapshot(outside) });
      }
      let plain = outside;
      for (const w of inside) plain = vmcsWriteFlat(plain, w.map(([e]) => e), w.map(([, v]) => v));
      const versions: VmcsFields[] = [];
      const head = transient(() => {
        let f = outside;
        for (const w of inside) { f = vmcsWriteFlat(f, w.map(([e]) => e), w.map(([, v]) => v)); versions.push(f); }
        return f;
      });
      expect(snapshot(head)).toEqual(snapshot(plain));
      expect(head.size).toBe(plain.size);
      for (const p of pre) expect(snapshot(p.f)).toEqual(p.vals);
      // every write made a new version (identity checks keep working) unless it changed nothing
      for (let i = 1; i < versions.length; i++) if (versions[i] !== versions[i - 1]) expect(groupStamp(versions[i], 0)).toBeDefined();
      // the state after the scope is an ordinary immutable value: writes to it copy
      const next = vmcsWrite(head, F.GUEST_RIP, 0x2000n);
      expect(vmcsRead(head, F.GUEST_RIP)).toBe(vmcsRead(plain, F.GUEST_RIP));
      expect(vmcsRead(next, F.GUEST_RIP)).toBe(0x2000n);
    }), { numRuns: 150 });
  });

  it('an older version of the scope cannot be read back (it throws) and changedFields from it answers a superset', () => {
    fc.assert(fc.property(writesArb, fc.tuple(encArb, valueArb), (inside, [e, v]) => {
      const start = vmcsWrite(emptyFields, F.GUEST_RIP, 0x1000n);
      transient(() => {
        const first = vmcsWriteFlat(start, [F.GUEST_CR0], [0x31n]); // the scope's copy
        const firstVals = new Map(snapshot(first));
        let f = first;
        for (const w of inside) f = vmcsWriteFlat(f, w.map(([x]) => x), w.map(([, y]) => y));
        const head = vmcsWrite(f, e, v);
        if (head === first) return;
        expect(() => vmcsRead(first, F.GUEST_RIP)).toThrow(/in place/);
        expect(() => vmcsWrite(first, F.GUEST_RIP, 5n)).toThrow(/in place/);
        const changed = new Set(changedFields(first, head));
        for (const x of FIELDS) if ((firstVals.get(x.encoding) ?? 0n) !== vmcsRead(head, x.encoding)) expect(changed.has(x.encoding)).toBe(true);
      });
    }), { numRuns: 150 });
  });

  it('changedFields between two versions that are not ancestor and descendant, after in-place writes, still lists every difference', () => {
    fc.assert(fc.property(writesArb, writesArb, (a, b) => {
      const start = vmcsWrite(emptyFields, F.GUEST_RIP, 0x1000n);
      let x = start;
      for (const w of a) x = vmcsWriteFlat(x, w.map(([e]) => e), w.map(([, v]) => v));
      const y = transient(() => {
        let f = start;
        for (const w of b) f = vmcsWriteFlat(f, w.map(([e]) => e), w.map(([, v]) => v));
        return f;
      });
      const changed = new Set(changedFields(x, y));
      for (const f of FIELDS) if (vmcsRead(x, f.encoding) !== vmcsRead(y, f.encoding)) expect(changed.has(f.encoding)).toBe(true);
    }), { numRuns: 150 });
  });
});

describe('writtenBetween (the entry-check memo\'s list of what may have changed)', () => {
  it('lists every field whose value differs from an ancestor (a few generations up), and answers -1 otherwise', () => {
    fc.assert(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 25 }), fc.boolean(), (steps, inScope) => {
      const run = (): void => {
        const versions: VmcsFields[] = [vmcsWrite(emptyFields, F.GUEST_RIP, 0x1000n)];
        const snaps: Map<number, bigint>[] = [new Map([...versions[0]])];
        let base = versions[0];
        for (const s of steps) {
          // inside a scope only the newest version may be written (older ones are superseded)
          base = inScope ? versions[versions.length - 1] : versions[s.from % versions.length];
          versions.push(vmcsWriteFlat(base, s.writes.map(([e]) => e), s.writes.map(([, v]) => v)));
          snaps.push(new Map([...versions[versions.length - 1]]));
        }
        const out: number[] = [];
        const last = versions.length - 1;
        versions.forEach((a, i) => {
          const n = writtenBetween(a, versions[last], out);
          if (n < 0) return;
          const listed = new Set(out.slice(0, n).map((d) => FIELDS[d].encoding));
          for (const f of FIELDS) if ((snaps[i].get(f.encoding) ?? 0n) !== vmcsRead(versions[last], f.encoding)) expect(listed.has(f.encoding)).toBe(true);
        });
        // the version written last descends from its base
        expect(writtenBetween(base, versions[last], out)).toBeGreaterThanOrEqual(0);
        expect(writtenBetween(new Map(), versions[last], out)).toBe(-1);
      };
      if (inScope) transient(run); else run();
    }), { numRuns: 150 });
  });

  // the entry-check memo asks what was written since the version of the last entry, usually the parent of the
  // current one: a new store remembers its parent, and a bounded history (older versions are not kept alive)
  it('a new version knows its parent along a long chain of writes, and forgets older versions at times', () => {
    for (const inScope of [false, true]) {
      const run = (): void => {
        const versions: VmcsFields[] = [vmcsWrite(emptyFields, F.GUEST_RIP, 0x1000n)];
        const out: number[] = [];
        let forgotten = 0;
        for (let k = 1; k <= 60; k++) {
          versions.push(vmcsWrite(versions[k - 1], F.GUEST_RIP, 0x1000n + BigInt(k)));
          expect(writtenBetween(versions[k - 1], versions[k], out)).toBe(1);
          if (k >= 2 && writtenBetween(versions[k - 2], versions[k], out) < 0) forgotten++;
        }
        expect(forgotten).toBeGreaterThan(0);
      };
      if (inScope) transient(run); else run();
    }
  });
});
