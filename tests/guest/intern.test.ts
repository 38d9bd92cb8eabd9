import fc from 'fast-check';
import { AccessInterner, FETCH, READ, WRITE } from '../../src/guest/intern';

const OP_NAMES = ['read', 'write', 'fetch'] as const;

describe('AccessInterner: equal accesses share one event, every access has its own values', () => {
  it('gives back the access asked for, whatever was interned before (a tiny table: every slot is shared)', () => {
    const access = fc.tuple(fc.constantFrom(READ, WRITE, FETCH), fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 2 ** 52 })),
      fc.constantFrom(1, 2, 8, 4096), fc.boolean());
    fc.assert(fc.property(fc.array(access, { minLength: 1, maxLength: 60 }), fc.integer({ min: 0, max: 3 }), (seq, bits) => {
      const t = new AccessInterner(bits);
      for (const [op, gva, size, user] of seq) expect(t.access(op, gva, size, user)).toEqual({ op: OP_NAMES[op], gva, size, user });
    }), { numRuns: 2000 });
  });

  it('the same access twice is the same object; an access differing in any one value is another', () => {
    const t = new AccessInterner();
    const a = t.access(READ, 0x401000, 8, true);
    expect(t.access(READ, 0x401000, 8, true)).toBe(a);
    for (const b of [t.access(WRITE, 0x401000, 8, true), t.access(READ, 0x401008, 8, true), t.access(READ, 0x401000, 4, true), t.access(READ, 0x401000, 8, false),
      t.access(READ, 0x401000 + 2 ** 32, 8, true)]) expect(b).not.toBe(a);
    // a loop's records: a few distinct accesses repeated are made once each
    const made = new Set();
    for (let i = 0; i < 1000; i++) made.add(t.access(FETCH, 0x400000 + (i % 16) * 4, 4, true));
    expect(made.size).toBe(16);
  });
});
