import fc from 'fast-check';
import { AccessInterner, BYPASS_WINDOWS, FETCH, READ, WINDOW, WRITE } from '../../src/guest/intern';

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

  it('keeps finding a loop\'s accesses window after window', () => {
    const t = new AccessInterner();
    const made = new Set();
    for (let i = 0; i < 3 * WINDOW; i++) made.add(t.access(FETCH, 0x400000 + (i % 16) * 4, 4, true));
    expect(made.size).toBe(16);
  });

  it('sets the table aside after a window that found almost nothing, and asks it again after BYPASS_WINDOWS windows', () => {
    const t = new AccessInterner();
    // one window of accesses that never repeat (random addresses, as the bench's (b)): none found
    for (let i = 0; i < WINDOW; i++) t.access(READ, 0x1000_0000 + 8 * i, 8, false);
    // now set aside: a repeated access is made again (equal values, another object)
    const a = t.access(WRITE, 0x2000, 8, false);
    const b = t.access(WRITE, 0x2000, 8, false);
    expect(b).toEqual(a);
    expect(b).not.toBe(a);
    let wrong = 0;
    for (let i = 2; i < BYPASS_WINDOWS * WINDOW; i++) {
      const e = t.access(READ, 0x3000_0000 + 8 * i, 8, true);
      if (e.op !== 'read' || e.gva !== 0x3000_0000 + 8 * i || e.size !== 8 || e.user !== true) wrong++;
    }
    expect(wrong).toBe(0);
    // asked again: equal accesses share one object
    const c = t.access(WRITE, 0x2000, 8, false);
    expect(t.access(WRITE, 0x2000, 8, false)).toBe(c);
  });

  it('a window that finds one in eight or more keeps the table in use', () => {
    const t = new AccessInterner();
    // every eighth access repeats the one before it: 1 in 8 found
    for (let i = 0; i < WINDOW; i++) t.access(READ, i % 8 === 7 ? 0x1000_0000 + 8 * (i - 1) : 0x1000_0000 + 8 * i, 8, false);
    const a = t.access(WRITE, 0x2000, 8, false);
    expect(t.access(WRITE, 0x2000, 8, false)).toBe(a);
  });
});
