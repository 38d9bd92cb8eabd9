import { execFileSync } from 'child_process';
import fc from 'fast-check';
import { lackeyAt, lackeyInto, parseLackeyLine } from '../../src/guest/lackey';
import type { GuestEvent } from '../../src/guest/events';
import { AccessInterner } from '../../src/guest/intern';

const hasValgrind = (() => {
  try { execFileSync('valgrind', ['--version'], { stdio: 'pipe' }); return true; } catch { return false; }
})();

describe('lackey (--tool=lackey --trace-mem=yes)', () => {
  test('I is a fetch, L a read, S a write, sizes kept, user mode', () => {
    expect(parseLackeyLine('I  04016a0,3')).toEqual({ kind: 'events', events: [{ op: 'fetch', gva: 0x4016a0, size: 3, user: true }] });
    expect(parseLackeyLine(' L 1ffefff8a8,8')).toEqual({ kind: 'events', events: [{ op: 'read', gva: 0x1ffefff8a8, size: 8, user: true }] });
    expect(parseLackeyLine(' S 1fff000768,8')).toEqual({ kind: 'events', events: [{ op: 'write', gva: 0x1fff000768, size: 8, user: true }] });
  });

  test('M (modify) is a read then a write of the same bytes', () => {
    expect(parseLackeyLine(' M 0403e1c8,4')).toEqual({ kind: 'events', events: [
      { op: 'read', gva: 0x403e1c8, size: 4, user: true }, { op: 'write', gva: 0x403e1c8, size: 4, user: true }] });
  });

  test('==pid== lines and blank lines are skipped; other text is malformed', () => {
    expect(parseLackeyLine('==7286== Lackey, an example Valgrind tool')).toEqual({ kind: 'skip' });
    expect(parseLackeyLine('')).toEqual({ kind: 'skip' });
    expect(parseLackeyLine('X 1234,4').kind).toBe('malformed');
    expect(parseLackeyLine(' L zz,4').kind).toBe('malformed');
    expect(parseLackeyLine(' L 1000,0').kind).toBe('malformed');
  });

  (hasValgrind ? test : test.skip)(hasValgrind ? 'real valgrind lackey output of /bin/true parses with no malformed line'
    : 'SKIPPED (valgrind is not installed): real valgrind lackey output parses', () => {
    const out = execFileSync('sh', ['-c', 'valgrind --tool=lackey --trace-mem=yes /bin/true 2>&1 | head -2000'], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const lines = out.split('\n');
    const parsed = lines.map(parseLackeyLine);
    expect(parsed.filter((p) => p.kind === 'malformed')).toEqual([]);
    const events = parsed.flatMap((p) => (p.kind === 'events' ? p.events : []));
    expect(events.length).toBeGreaterThan(1000);
    expect(events.some((e) => e.op === 'fetch')).toBe(true);
    expect(events.some((e) => e.op === 'write')).toBe(true);
  });
});

describe('lackeyInto / lackeyAt (the char-code fast path) agree with parseLackeyLine', () => {
  it('every line gives the same events, skip or error as parseLackeyLine, also read in place inside a longer text', () => {
    const intern = new AccessInterner(1);
    const hex = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEFg'), minLength: 0, maxLength: 17 });
    const line = fc.tuple(fc.constantFrom('I ', ' L', ' S', ' M', 'I', ' X', '\tL', '=='), fc.constantFrom(' ', '  ', '', '\t'), hex,
      fc.constantFrom(',', ';', ''), fc.constantFrom('0', '1', '8', '4096', '4097', '12345', ''), fc.constantFrom('', ' ', '\r', 'x'))
      .map((p) => p.join(''));
    fc.assert(fc.property(line, (l) => {
      const ref = parseLackeyLine(l);
      const out: GuestEvent[] = [];
      const r = lackeyInto(l, out);
      if (ref.kind === 'events') { expect(r).toBeNull(); expect(out).toEqual(ref.events); } else { expect(r).toEqual(ref); expect(out).toEqual([]); }
      const inPlace: GuestEvent[] = [];
      if (lackeyAt(`xx${l}\nI  ffff,4`, 2, 2 + l.length, inPlace)) expect(inPlace).toEqual(ref.kind === 'events' ? ref.events : null);
      // interned (a 2-slot table, shared with every other line): the same events
      const interned: GuestEvent[] = [];
      if (lackeyAt(l, 0, l.length, interned, intern)) expect(interned).toEqual(ref.kind === 'events' ? ref.events : null);
    }), { numRuns: 3000 });
  });
});
