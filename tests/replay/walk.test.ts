import { isLeft, isRight } from 'fp-ts/Either';
import { decodeConfig, type Config } from '../../src/replay/config';
import { explainWalk, type WalkExplanation, type WalkOptions } from '../../src/replay/walk';

const cfg = (u: unknown): Config => {
  const d = decodeConfig(u);
  if (isLeft(d)) throw new Error(JSON.stringify(d.left));
  return d.right;
};
const GVA = 0x7fff_1234_5678n;
const walk = (u: unknown, access: 'read' | 'write' | 'fetch' = 'read', user = false, opts: WalkOptions = {}, gva = GVA): WalkExplanation => {
  const r = explainWalk(cfg(u), gva, access, user, opts);
  if (isLeft(r)) throw new Error(JSON.stringify(r.left));
  return r.right;
};
/** levels walked: a 2 MiB leaf ends one level early, a 1 GiB leaf two (SDM "4-Level Paging and 5-Level Paging") */
const walked = (levels: number, size: string): number => levels - (size === '2M' ? 1 : size === '1G' ? 2 : 0);
/** SDM-derived count of a cold 2-D walk: each of n guest entries costs an m-level EPT walk plus the read, then the final GPA's m */
const cold = (n: number, m: number): number => n * (m + 1) + m;

const CASES: readonly [string, Record<string, unknown>, number, number][] = [
  ['4-level guest over 4-level EPT', {}, walked(4, '4K'), walked(4, '4K')],
  ['5-level guest over 5-level EPT', { cpu: 'icelake-server', guest: { levels: 5 }, ept: { levels: 5 } }, walked(5, '4K'), walked(5, '4K')],
  ['4-level guest over 5-level EPT', { cpu: 'icelake-server', ept: { levels: 5 } }, walked(4, '4K'), walked(5, '4K')],
  ['5-level guest over 4-level EPT', { cpu: 'icelake-server', guest: { levels: 5 } }, walked(5, '4K'), walked(4, '4K')],
  ['2 MiB guest pages', { guest: { pageSize: '2M' } }, walked(4, '2M'), walked(4, '4K')],
  ['2 MiB EPT pages', { ept: { pageSize: '2M' } }, walked(4, '4K'), walked(4, '2M')],
  ['2 MiB pages on both sides', { guest: { pageSize: '2M' }, ept: { pageSize: '2M' } }, walked(4, '2M'), walked(4, '2M')],
  ['1 GiB pages on both sides', { guest: { pageSize: '1G' }, ept: { pageSize: '1G' } }, walked(4, '1G'), walked(4, '1G')],
];

describe('explainWalk: cold two-dimensional walk (SDM "EPT Translation Mechanism")', () => {
  test.each(CASES)('SDM "Guest-Physical Address Translation": %s costs n(m+1)+m references', (_name, c, n, m) => {
    const x = walk(c);
    expect(x.result.kind).toBe('translated');
    expect(x.counts).toEqual({ guest: n, nested: n * m + m, total: cold(n, m) });
    expect(x.references).toHaveLength(cold(n, m));
  });

  test('the expected counts are 24, 35, 29, 29, 19, 19, 15, 8 (checked against the formula, not the engine)', () => {
    expect(CASES.map(([, , n, m]) => cold(n, m))).toEqual([24, 35, 29, 29, 19, 19, 15, 8]);
  });

  test('SDM "EPT Translation Mechanism": each guest entry read is preceded by a full EPT walk of its GPA, root level first', () => {
    const x = walk({});
    for (let l = 4; l >= 1; l--) {
      const base = (4 - l) * 5;
      expect(x.references.slice(base, base + 5).map((r) => [r.dimension, r.guestLevel, r.eptLevel]))
        .toEqual([['nested', l, 4], ['nested', l, 3], ['nested', l, 2], ['nested', l, 1], ['guest', l, null]]);
    }
    expect(x.references.slice(20).map((r) => [r.dimension, r.guestLevel, r.eptLevel])).toEqual([['nested', null, 4], ['nested', null, 3], ['nested', null, 2], ['nested', null, 1]]);
    expect(x.references.map((r) => r.index)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
  });

  test('SDM "Linear-Address Translation to a 4-KByte Page": guest entry i of a table is at offset 8 * (linear-address bits of that level)', () => {
    const x = walk({});
    const idx = (l: number): number => Number((GVA >> BigInt(12 + 9 * (l - 1))) & 511n);
    for (const r of x.references.filter((y) => y.dimension === 'guest')) expect(r.address % 4096).toBe(8 * idx(r.guestLevel!));
  });

  test('SDM "EPT Translation Mechanism": the EPT entry for a GPA at level l is at offset 8 * (GPA bits of that level)', () => {
    const x = walk({});
    const idx = (gpa: number, l: number): number => Math.floor(gpa / 2 ** (12 + 9 * (l - 1))) % 512;
    for (const r of x.references.filter((y) => y.dimension === 'nested' && y.guestLevel === null)) expect(r.address % 4096).toBe(8 * idx(x.gpa, r.eptLevel!));
  });

  test('the translation keeps the page offset: 12 bits for 4 KiB, 21 bits with 2 MiB pages on both sides', () => {
    const a = walk({});
    if (a.result.kind !== 'translated') throw new Error('not translated');
    expect(a.result.hpa % 4096).toBe(Number(GVA % 4096n));
    const b = walk({ guest: { pageSize: '2M' }, ept: { pageSize: '2M' } });
    if (b.result.kind !== 'translated') throw new Error('not translated');
    expect(b.result.hpa % 0x200000).toBe(Number(GVA % 0x200000n));
    expect(b.result.pageSize).toBe(0x200000);
  });

  test('native mode: a one-dimensional walk of 4 guest references, no EPT', () => {
    const x = walk({ mode: 'native' });
    expect(x.counts).toEqual({ guest: 4, nested: 0, total: 4 });
    expect(x.references.every((r) => r.dimension === 'guest' && r.eptLevel === null)).toBe(true);
    expect(x.eptLevels).toBeNull();
  });

  test('SDM "Exit Qualification for EPT Violations": the first touch of a user write ends in an EPT violation of the final GPA', () => {
    const x = walk({}, 'write', true, { firstTouch: true });
    expect(x.counts.total).toBe(cold(4, 4));
    if (x.result.kind !== 'exit') throw new Error('expected an exit');
    const q = x.result.exit.qualification;
    // bit 1 write, bit 7 linear address valid, bit 8 final translation; bits 3-5 0 (EPT PTE not present)
    expect(q & 0x1ffn).toBe((1n << 1n) | (1n << 7n) | (1n << 8n));
    expect(x.result.exit.reason).toBe(48);
    expect(x.result.exit.guestLinear).toBe(GVA);
    expect(x.result.exit.guestPhysical).toBe(x.gpa);
  });

  test('SDM "EPT Misconfigurations": a GPA in an mmio range gets KVM\'s write+execute-without-read SPTE, so the walk ends in EPT_MISCONFIG', () => {
    const x = walk({}, 'read', false, { gpa: 0xfee0_0000 }, 0x1000n);
    expect(x.mmio).toBe(true);
    if (x.result.kind !== 'exit') throw new Error('expected an exit');
    expect(x.result.exit.reason).toBe(49);
    expect(x.result.exit.guestPhysical).toBe(0xfee0_0000);
    expect(x.counts.total).toBe(cold(4, 4));
  });

  test('SDM "Interrupt 14—Page-Fault Exception": a write to a read-only supervisor page faults with P|W/R (0x3) after the guest walk only', () => {
    const x = walk({}, 'write', false, { flags: 'r' });
    expect(x.result).toEqual({ kind: 'guest-fault', fault: { vector: 14, errorCode: 0x3 } });
    expect(x.counts).toEqual({ guest: 4, nested: 16, total: 20 });
  });

  test('SDM "Access Rights": a user read of a supervisor page faults with P|U/S (0x5)', () => {
    const x = walk({}, 'read', true, { flags: 'rwx' });
    expect(x.result).toEqual({ kind: 'guest-fault', fault: { vector: 14, errorCode: 0x5 } });
  });

  test('--user maps the page user-accessible, so a user fetch translates', () => {
    expect(walk({}, 'fetch', true).result.kind).toBe('translated');
  });

  test('shadow mode is refused with a clear config path; a bad CPU names config.cpu', () => {
    const s = explainWalk(cfg({ mode: 'shadow' }), GVA, 'read', false);
    expect(isLeft(s) && s.left.path).toBe('config.mode');
    const c = explainWalk({ ...cfg({}), cpu: 'nope' }, GVA, 'read', false);
    expect(isLeft(c) && c.left.path).toBe('config.cpu');
  });

  test('pure: the same input gives the same explanation', () => {
    const a = explainWalk(cfg({}), GVA, 'read', false);
    const b = explainWalk(cfg({}), GVA, 'read', false);
    expect(isRight(a) && isRight(b)).toBe(true);
    expect(JSON.stringify(a, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).toBe(JSON.stringify(b, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  });
});
