import fc from 'fast-check';
import * as Phys from '../../src/arch/phys';
import { transient } from '../../src/arch/transient';

describe('physical memory (persistent radix trie of 4 KiB pages)', () => {
  it('reads zero where nothing was written', () => {
    expect(Phys.read64(Phys.empty, 0x1234_5000)).toBe(0n);
    expect(Phys.read8(Phys.empty, 0xfffff_ffff_f000)).toBe(0);
  });

  it('a write is visible in the new memory and not in the old one (old states stay valid)', () => {
    const m1 = Phys.write64(Phys.empty, 0x2000, 0x8000_0000_dead_beefn);
    const m2 = Phys.write64(m1, 0x2000, 1n);
    expect(Phys.read64(m1, 0x2000)).toBe(0x8000_0000_dead_beefn);
    expect(Phys.read64Lo(m1, 0x2000)).toBe(0xdead_beef);
    expect(Phys.read64Hi(m1, 0x2000)).toBe(0x8000_0000);
    expect(Phys.read64(m2, 0x2000)).toBe(1n);
    expect(Phys.read64(Phys.empty, 0x2000)).toBe(0n);
    expect(m2.pages).toBe(1);
  });

  it('property: the last write of each byte wins, at any 52-bit address', () => {
    const addr = fc.integer({ min: 0, max: 2 ** 52 - 8 });
    fc.assert(fc.property(fc.array(fc.tuple(addr, fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), { maxLength: 20 }), (writes) => {
      let m = Phys.empty;
      const model = new Map<number, number>();
      for (const [a, v] of writes) {
        m = Phys.write64(m, a, v);
        for (let i = 0; i < 8; i++) model.set(a + i, Number((v >> BigInt(8 * i)) & 0xffn));
      }
      for (const [a, b] of model) expect(Phys.read8(m, a)).toBe(b);
    }));
  });

  it('little-endian byte order, as x86 stores a 64-bit entry', () => {
    const m = Phys.write64(Phys.empty, 0x10, 0x0807060504030201n);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((i) => Phys.read8(m, 0x10 + i))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Phys.read32(m, 0x12)).toBe(0x06050403);
  });

  it('property: the page cache is invisible: every version reads its own contents, read in any order, in and out of a transient scope', () => {
    // frames that share cache slots (4096 apart) and frames far apart; versions kept and read again later
    const pfns = [1, 2, 4097, 8193, 0x12_3456, 2 ** 39 + 1];
    const op = fc.oneof(
      fc.record({ k: fc.constant('write' as const), pfn: fc.constantFrom(...pfns), word: fc.integer({ min: 0, max: 1023 }), v: fc.integer({ min: 0, max: 0xffff_ffff }) }),
      fc.record({ k: fc.constant('read' as const), version: fc.nat(), pfn: fc.constantFrom(...pfns), word: fc.integer({ min: 0, max: 1023 }) }),
      fc.record({ k: fc.constant('back' as const), version: fc.nat() }),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 80 }), fc.boolean(), (ops, scoped) => {
      const body = (): void => {
        // every version with its model (word address -> value); outside a scope any version may be read or continued
        const versions: { m: Phys.PhysMem; model: Map<number, number> }[] = [{ m: Phys.empty, model: new Map() }];
        let cur = 0;
        for (const o of ops) {
          const v = versions[cur];
          if (o.k === 'write') {
            const addr = o.pfn * 4096 + o.word * 4;
            const model = new Map(v.model).set(addr, o.v);
            versions.push({ m: Phys.write32(v.m, addr, o.v), model });
            cur = versions.length - 1;
          } else {
            // inside a scope only the newest version may be used (src/arch/transient.ts)
            const i = scoped ? versions.length - 1 : o.version % versions.length;
            if (o.k === 'back') { cur = i; continue; }
            const addr = o.pfn * 4096 + o.word * 4;
            expect(Phys.read32(versions[i].m, addr)).toBe(versions[i].model.get(addr) ?? 0);
          }
        }
        if (!scoped) for (const { m, model } of versions) for (const [a, x] of model) expect(Phys.read32(m, a)).toBe(x);
      };
      if (scoped) transient(body); else body();
    }), { numRuns: 300 });
  });

  it('property: writeBytes writes every byte as write8 would, the last write of an address winning, and leaves the old memory as it was', () => {
    // a few addresses around a page boundary (written more than once), a wider range, anywhere
    const addr = fc.oneof(fc.integer({ min: 0x4ffc, max: 0x5004 }), fc.integer({ min: 0x3ff0, max: 0x5010 }), fc.integer({ min: 0, max: 2 ** 40 }));
    fc.assert(fc.property(fc.array(fc.tuple(addr, fc.integer({ min: 0, max: 0x1ff })), { maxLength: 40 }), (ws) => {
      const m0 = Phys.write64Parts(Phys.empty, 0x4000, 0xdead_beef, 0x0bad_f00d);
      const m = Phys.writeBytes(m0, ws);
      const model = new Map<number, number>();
      for (let i = 0; i < 8; i++) model.set(0x4000 + i, [0xef, 0xbe, 0xad, 0xde, 0x0d, 0xf0, 0xad, 0x0b][i]);
      for (const [a, v] of ws) model.set(a, v & 0xff);
      for (const [a, v] of model) expect(Phys.read8(m, a)).toBe(v);
      for (const [a] of ws) expect(Phys.read8(m, a + 1)).toBe(model.get(a + 1) ?? 0);
      expect(Phys.read64Lo(m0, 0x4000)).toBe(0xdead_beef);
      expect(Phys.read64Hi(m0, 0x4000)).toBe(0x0bad_f00d);
      for (const [a] of ws) if (a >= 0x4008 || a < 0x4000) expect(Phys.read8(m0, a)).toBe(0);
    }));
  });

  it('a write to a watched frame advances the epoch, a write to any other frame does not (frames that share its filter slot too)', () => {
    Phys.unwatchAll();
    const watchedPfn = 0x1_0000_0123; // above 2^32: the filter keys by the PFN's low bits
    Phys.watchPage(watchedPfn);
    Phys.watchPage(0x77);
    const e0 = Phys.watchEpoch();
    let m = Phys.write64Parts(Phys.empty, (watchedPfn + 4096) * 4096, 1, 1); // same filter slot, not watched
    m = Phys.write64Parts(m, 0x123 * 4096, 1, 1); // same low 32 bits of the PFN, not watched
    m = Phys.write64Parts(m, 0x78 * 4096, 1, 1);
    expect(Phys.watchEpoch()).toBe(e0);
    m = Phys.write64Parts(m, watchedPfn * 4096 + 8, 1, 1);
    expect(Phys.watchEpoch()).toBe(e0 + 1);
    m = Phys.write8(m, 0x77 * 4096 + 3, 9);
    expect(Phys.watchEpoch()).toBe(e0 + 2);
    Phys.unwatchAll();
    Phys.write64Parts(m, watchedPfn * 4096, 2, 2);
    expect(Phys.watchEpoch()).toBe(e0 + 2);
  });

  it('a write to a memory other than the last one read does not hand it the cached pages of that one', () => {
    const a = Phys.write32(Phys.empty, 0x5000, 1);
    const b = Phys.write32(Phys.empty, 0x5000, 2);
    expect(Phys.read32(a, 0x5000)).toBe(1); // the cache now answers for a
    const b2 = Phys.write32(b, 0x9000, 3); // a write to b, not to a
    expect(Phys.read32(b2, 0x5000)).toBe(2);
    expect(Phys.read32(b2, 0x9000)).toBe(3);
    expect(Phys.read32(a, 0x9000)).toBe(0);
  });
});
