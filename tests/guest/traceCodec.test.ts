import fc from 'fast-check';
import * as E from 'fp-ts/Either';
import { decodeTraceLine, decodeGuestEvent, encodeTraceLine, fastParse, fastParseAt } from '../../src/guest/traceCodec';
import { AccessInterner } from '../../src/guest/intern';
import { canonicalEvent } from '../../src/guest/events';
import type { GuestEvent } from '../../src/guest/events';
import { gva, gpa, type Gva } from '../../src/arch/addr';

const ok = (line: string): GuestEvent | null => {
  const r = decodeTraceLine(line, 1, 't.jsonl');
  if (E.isLeft(r)) throw new Error(JSON.stringify(r.left));
  return r.right;
};
const bad = (line: string) => {
  const r = decodeTraceLine(line, 7, 't.jsonl');
  if (E.isRight(r)) throw new Error('expected an error for ' + line);
  return r.left;
};

describe('trace codec (interface §2)', () => {
  test('blank lines and # comments are ignored', () => {
    expect(ok('')).toBeNull();
    expect(ok('   ')).toBeNull();
    expect(ok('# a comment {"op":"x"}')).toBeNull();
  });

  test('defaults: size 1, user true; subleaf 0; string/rep false', () => {
    expect(ok('{"op":"read","gva":"0x1000"}')).toEqual({ op: 'read', gva: 0x1000, size: 1, user: true });
    expect(ok('{"op":"cpuid","leaf":1}')).toEqual({ op: 'cpuid', leaf: 1, subleaf: 0 });
    expect(ok('{"op":"out","port":"0x3f8"}')).toEqual({ op: 'out', port: 0x3f8, size: 1, string: false, rep: false });
  });

  test('64-bit values are bigint: wrmsr value, mov_to_cr value, run cycles', () => {
    expect(ok('{"op":"wrmsr","msr":"0xc0000080","value":"0xffffffffffffffff"}'))
      .toEqual({ op: 'wrmsr', msr: 0xc0000080, value: 0xffffffffffffffffn });
    expect(ok('{"op":"mov_to_cr","cr":3,"value":"4096"}')).toEqual({ op: 'mov_to_cr', cr: 3, value: 4096n });
    expect(ok('{"op":"run","cycles":1000}')).toEqual({ op: 'run', cycles: 1000n });
  });

  test('addresses: hex string, decimal string and safe-integer JSON number all accepted', () => {
    expect(ok('{"op":"write","gva":"4096","size":8}')).toEqual({ op: 'write', gva: 4096, size: 8, user: true });
    expect(ok('{"op":"write","gva":4096,"user":false}')).toEqual({ op: 'write', gva: 4096, size: 1, user: false });
    const p = bad('{"op":"read","gva":9007199254740993}');
    expect(p.path).toBe('gva');
  });

  test('SDM "Canonical Addressing": a kernel-half address is kept as its signed value', () => {
    // 0xffff800000000000 as a signed 64-bit value is -2^47
    expect(ok('{"op":"fetch","gva":"0xffff800000000000"}')).toMatchObject({ gva: -(2 ** 47) });
  });

  test('SDM "Canonical Addressing": a non-canonical gva is an error naming the field', () => {
    const p = bad('{"op":"read","gva":"0x0100000000000000"}');
    expect(p).toMatchObject({ file: 't.jsonl', line: 7, path: 'gva', found: '"0x0100000000000000"' });
    expect(p.expected).toMatch(/canonical/);
    expect(bad('{"op":"read","gva":"0x8000000000000000"}').path).toBe('gva');
  });

  test('an upper-half address that a number cannot hold exactly is refused, not rounded', () => {
    // a 5-level upper-half address: signed value -0x00eeffffffffffff, beyond -2^53
    expect(bad('{"op":"read","gva":"0xff11000000000001"}').expected).toMatch(/2\^53/);
    // every 4-level kernel address is exact: 0xffff888012345678 - 2^64 = -0x777fedcba988
    expect(ok('{"op":"read","gva":"0xffff888012345678"}')).toMatchObject({ gva: -0x777fedcba988 });
  });

  test('a 65-bit address is an error', () => {
    const p = bad('{"op":"read","gva":"0x10000000000000000"}');
    expect(p.path).toBe('gva');
    expect(p.expected).toBe('a 64-bit address as a hex or decimal string');
  });

  test('unknown op and unknown field are errors', () => {
    const p = bad('{"op":"jump","gva":"0x1"}');
    expect(p.path).toBe('op');
    expect(p.found).toBe('"jump"');
    const q = bad('{"op":"read","gva":"0x1","color":"red"}');
    expect(q.path).toBe('color');
    expect(q.expected).toMatch(/no field "color"/);
  });

  test('missing required field and wrong type name path, expected, found', () => {
    expect(bad('{"op":"rdmsr"}')).toMatchObject({ path: 'msr', found: 'nothing' });
    expect(bad('{"op":"read","gva":"0x1","size":0}')).toMatchObject({ path: 'size', found: '0' });
    expect(bad('{"op":"in","port":"0x60","size":3}')).toMatchObject({ path: 'size', expected: 'an I/O size 1, 2 or 4' });
    expect(bad('{"op":"mov_to_cr","cr":2,"value":"0"}')).toMatchObject({ path: 'cr' });
    expect(bad('{"op":"read","gva":"0x1","user":"yes"}')).toMatchObject({ path: 'user', expected: 'true or false' });
    expect(bad('{"op":"read", gva}').found).toMatch(/invalid JSON/);
    expect(bad('[1,2]').expected).toMatch(/JSON object/);
  });

  test('decodeGuestEvent prefixes the path for scenario steps', () => {
    const r = decodeGuestEvent({ op: 'read', gva: 'zz' }, 'steps[3]');
    expect(E.isLeft(r) && r.left.path).toBe('steps[3].gva');
    expect(decodeGuestEvent({ op: 'nmi' }, 'steps[0]')).toEqual(E.right({ op: 'nmi' }));
  });

  test('guest_map: gpa 52-bit, size default 4K, flags a subset of rwux', () => {
    expect(ok('{"op":"guest_map","gva":"0x400000","gpa":"0x1000","flags":"rw"}'))
      .toEqual({ op: 'guest_map', gva: 0x400000, gpa: 0x1000, size: '4K', flags: 'rw' });
    expect(bad('{"op":"guest_map","gva":"0x400000","gpa":"0x10000000000000","flags":"rw"}').path).toBe('gpa');
    expect(bad('{"op":"guest_map","gva":"0x400000","gpa":"0x1000","flags":"rwq"}').path).toBe('flags');
  });

  test('encoder writes lowercase 0x hex and omits defaults', () => {
    expect(encodeTraceLine({ op: 'read', gva: gva(-(2 ** 47)), size: 1, user: true }))
      .toBe('{"op":"read","gva":"0xffff800000000000"}');
    expect(encodeTraceLine({ op: 'wrmsr', msr: 0x6e0, value: 255n })).toBe('{"op":"wrmsr","msr":"0x6e0","value":"0xff"}');
  });
});

// ---- properties

// user-half addresses below 2^53, and upper-half ones whose low 57 bits are exact in a number (16-byte aligned)
const canonicalGva: fc.Arbitrary<Gva> = fc.oneof(
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }).map(gva),
  fc.integer({ min: -(2 ** 47), max: -1 }).map((b) => gva(b)),
);
const small = (bits: number) => fc.integer({ min: 0, max: 2 ** bits - 1 });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

const eventArb: fc.Arbitrary<GuestEvent> = fc.oneof(
  fc.record({ op: fc.constantFrom('read' as const, 'write' as const, 'fetch' as const), gva: canonicalGva, size: fc.integer({ min: 1, max: 4096 }), user: fc.boolean() }),
  fc.record({ op: fc.constant('cpuid' as const), leaf: small(32), subleaf: small(32) }),
  fc.constantFrom<GuestEvent>({ op: 'rdtsc' }, { op: 'rdtscp' }, { op: 'hlt' }, { op: 'nmi' }, { op: 'clts' }, { op: 'xsetbv' }),
  fc.record({ op: fc.constant('wrmsr' as const), msr: small(32), value: u64 }),
  fc.record({ op: fc.constantFrom('in' as const, 'out' as const), port: small(16), size: fc.constantFrom(1 as const, 2 as const, 4 as const), string: fc.boolean(), rep: fc.boolean() }),
  fc.record({ op: fc.constant('mov_to_cr' as const), cr: fc.constantFrom(0 as const, 3 as const, 4 as const, 8 as const), value: u64 }),
  fc.record({ op: fc.constant('lmsw' as const), value: small(16) }),
  fc.record({ op: fc.constant('invlpg' as const), gva: canonicalGva }),
  fc.record({ op: fc.constant('exception' as const), vector: small(8), errorCode: small(32) }, { requiredKeys: ['op', 'vector'] }),
  fc.record({ op: fc.constant('vmcall' as const), nr: u64 }, { requiredKeys: ['op'] }),
  fc.record({ op: fc.constant('run' as const), cycles: u64 }),
  fc.record({ op: fc.constant('guest_map' as const), gva: canonicalGva, gpa: small(52).map(gpa), size: fc.constantFrom('4K' as const, '2M' as const, '1G' as const), flags: fc.subarray(['r', 'w', 'u', 'x']).map((a) => a.join('')) }),
);

describe('trace codec properties', () => {
  test('decode(encode(e)) = e for every event', () => {
    fc.assert(fc.property(eventArb, (e) => {
      expect(decodeTraceLine(encodeTraceLine(e), 1)).toEqual(E.right(e));
    }), { numRuns: 500 });
  });

  test('canonicalEvent: the same event (every value, no other key), as does a structured clone of it', () => {
    fc.assert(fc.property(eventArb, (e) => {
      const c = canonicalEvent(e);
      expect(c).toEqual(e);
      expect(Object.keys(c).sort()).toEqual(Object.keys(e).sort());
      expect(canonicalEvent(structuredClone(e))).toEqual(e);
      // what the decoder returns is canonical: its keys in the literal's order
      const d = decodeTraceLine(encodeTraceLine(e), 1);
      if (E.isRight(d) && d.right !== null) expect(Object.keys(d.right)).toEqual(Object.keys(c));
    }), { numRuns: 500 });
  });

  test('the fast path gives the same result as the codec on random lines', () => {
    const intern = new AccessInterner(1);
    const hexDigits = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: 1, maxLength: 17 });
    const line = fc.tuple(
      fc.constantFrom('read', 'write', 'fetch', 'rdtsc'), hexDigits,
      fc.option(fc.integer({ min: 0, max: 9999 })), fc.option(fc.boolean()),
    ).map(([op, h, size, user]) => `{"op":"${op}","gva":"0x${h}"${size === null ? '' : `,"size":${size}`}${user === null ? '' : `,"user":${user}`}}`);
    fc.assert(fc.property(line, (l) => {
      const viaCodec = (() => {
        const r = decodeGuestEvent(JSON.parse(l), '');
        return E.isRight(r) ? r.right : undefined;
      })();
      const fast = fastParse(l);
      if (fast !== undefined) expect(fast).toEqual(viaCodec);
      // read in place inside a longer text (the streaming decoder's path): the same answer as on the line alone
      expect(fastParseAt(`{"op":"read"}\n${l}\n{"op":"read","gva":"0x1"}`, 14, 14 + l.length)).toEqual(fast);
      // interned (a 2-slot table shared by every line): the same event
      expect(fastParseAt(l, 0, l.length, intern)).toEqual(fast);
      // and decodeTraceLine (fast path first) agrees with the codec in every case, errors included
      const full = decodeTraceLine(l, 3, 'f');
      if (viaCodec === undefined) expect(E.isLeft(full)).toBe(true);
      else expect(full).toEqual(E.right(viaCodec));
    }), { numRuns: 2000 });
  });

  test('the WRMSR fast path gives the codec\'s event (and its hidden class) or leaves the line to it', () => {
    const hexDigits = (max: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: 0, maxLength: max });
    const line = fc.tuple(hexDigits(10), hexDigits(18), fc.constantFrom('', ' ', ',"x":1'), fc.boolean()).map(([m, v, tail, valueFirst]) =>
      valueFirst ? `{"op":"wrmsr","value":"0x${v}","msr":"0x${m}"${tail}}` : `{"op":"wrmsr","msr":"0x${m}","value":"0x${v}"${tail}}`);
    let fastOnes = 0;
    fc.assert(fc.property(line, (l) => {
      const viaCodec = (() => {
        const r = decodeGuestEvent(JSON.parse(l), '');
        return E.isRight(r) ? r.right : undefined;
      })();
      const fast = fastParse(l);
      if (fast !== undefined) {
        fastOnes++;
        expect(fast).toEqual(viaCodec);
        expect(Object.keys(fast)).toEqual(Object.keys(canonicalEvent(fast)));
      }
      const full = decodeTraceLine(l, 3, 'f');
      if (viaCodec === undefined) expect(E.isLeft(full)).toBe(true);
      else expect(full).toEqual(E.right(viaCodec));
    }), { numRuns: 2000 });
    expect(fastOnes).toBeGreaterThan(100);
    // the encoder's lines take the fast path, the widest value included
    const e = { op: 'wrmsr' as const, msr: 0xc0000080, value: 0xffff_ffff_ffff_ffffn };
    expect(fastParse(encodeTraceLine(e))).toEqual(e);
  });
});
