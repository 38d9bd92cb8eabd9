import { execFileSync } from 'child_process';
import { parseLackeyLine } from '../../src/guest/lackey';

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
