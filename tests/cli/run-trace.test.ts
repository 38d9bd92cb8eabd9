/**
 * `vtxsim run <trace>` end to end through the CLI (interface §1, §2): malformed input is exit 1 with a one-line
 * message naming the line, and nothing is written to --exit-log; CSV and text formats; the exit log parses back
 * with the kvm_exit parser; a real valgrind lackey trace replays.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../src/cli/main';
import { parseKvmExitLine } from '../../src/vmx/decode';
import { fakeIo } from '../helpers/fakeIo';

const line = (o: Record<string, unknown>): string => JSON.stringify(o);
const bigTrace = (n: number, bad: string | null, at: number): string => {
  const out: string[] = [];
  for (let i = 1; i <= n; i++) out.push(i === at && bad !== null ? bad : line({ op: 'read', gva: '0x' + (0x400000 + (i % 64) * 0x1000).toString(16), size: 8 }));
  return out.join('\n') + '\n';
};

describe('vtxsim run <trace> --no-native: one replay, no overhead line', () => {
  it('the report without `overhead`, everything else as with the native replay', async () => {
    const f = fakeIo({ 't.jsonl': bigTrace(2000, null, 0) });
    expect(await main(['run', 't.jsonl', '--json'], f.io)).toBe(0);
    const withNative = JSON.parse(f.out()) as Record<string, unknown>;
    expect(withNative.overhead).toEqual({ nativeCycles: expect.any(Number), ratio: expect.any(Number) });
    const g = fakeIo({ 't.jsonl': bigTrace(2000, null, 0) });
    expect(await main(['run', 't.jsonl', '--json', '--no-native'], g.io)).toBe(0);
    const without = JSON.parse(g.out()) as Record<string, unknown>;
    expect('overhead' in without).toBe(false);
    const { overhead: _o, ...rest } = withNative;
    expect(without).toEqual(rest);
    // and in text: no overhead line
    const h = fakeIo({ 't.jsonl': bigTrace(2000, null, 0) });
    expect(await main(['run', 't.jsonl', '--no-native'], h.io)).toBe(0);
    expect(h.out()).not.toMatch(/overhead vs native/);
  });
});

describe('vtxsim run <trace>: malformed input (interface §2: the error names the line)', () => {
  const cases: [string, string][] = [
    ['an unknown op', line({ op: 'frobnicate' })],
    ['a 65-bit address', line({ op: 'read', gva: '0x1' + '0'.repeat(16) })],
    ['a line that is not JSON', '{"op":"read",'],
    ['an unknown field', line({ op: 'cpuid', leaf: '0x1', colour: 'blue' })],
  ];
  it.each(cases)('%s in the middle of a 10,000-event trace: exit 1, one line naming line 5000, no exit log', async (_what, bad) => {
    const f = fakeIo({ 't.jsonl': bigTrace(10000, bad, 5000) });
    expect(await main(['run', 't.jsonl', '--exit-log', 'log.txt'], f.io)).toBe(1);
    const err = f.err().trimEnd();
    expect(err.split('\n')).toHaveLength(1);
    expect(err).toMatch(/t\.jsonl/);
    expect(err).toMatch(/line 5000\b|:5000\b/);
    expect(f.written).toEqual({});
    expect(f.out()).toBe('');
  });

  it('a file that does not exist: exit 1, one line naming the file', async () => {
    const f = fakeIo({});
    expect(await main(['run', 'missing.jsonl'], f.io)).toBe(1);
    expect(f.err().trimEnd().split('\n')).toHaveLength(1);
    expect(f.err()).toMatch(/missing\.jsonl/);
  });

  it('--json on bad input: one JSON error document with schemaVersion 1', async () => {
    const f = fakeIo({ 't.jsonl': bigTrace(10, line({ op: 'nope' }), 3) });
    expect(await main(['run', 't.jsonl', '--json'], f.io)).toBe(1);
    const doc = JSON.parse(f.out()) as { schemaVersion: number; error: { message: string } };
    expect(doc.schemaVersion).toBe(1);
    expect(doc.error.message).toMatch(/3/);
  });
});

const SMALL = [
  line({ op: 'read', gva: '0x400000', size: 8 }),
  line({ op: 'cpuid', leaf: '0x1' }),
  line({ op: 'out', port: '0x3f8', size: 1 }),
  line({ op: 'write', gva: '0x401000', size: 4 }),
  line({ op: 'hlt' }),
].join('\n') + '\n';

describe('vtxsim run <trace>: formats and the exit log', () => {
  it('--format csv: RFC 4180 lines with a header; --format text names the exit reasons', async () => {
    const c = fakeIo({ 's.jsonl': SMALL });
    expect(await main(['run', 's.jsonl', '--format', 'csv'], c.io)).toBe(0);
    const rows = c.out().trimEnd().split(/\r?\n/);
    expect(rows.length).toBeGreaterThan(2);
    expect(c.out()).toMatch(/CPUID/);
    const t = fakeIo({ 's.jsonl': SMALL });
    expect(await main(['run', 's.jsonl', '--format', 'text'], t.io)).toBe(0);
    for (const n of ['CPUID', 'IO_INSTRUCTION', 'HLT', 'EPT_VIOLATION']) expect(t.out()).toContain(n);
  });

  it('--exit-log: one kvm_exit line per exit that parses back to the same reasons (CPUID 10, I/O 30, HLT 12, EPT violation 48)', async () => {
    const f = fakeIo({ 's.jsonl': SMALL });
    expect(await main(['run', 's.jsonl', '--exit-log', 'log.txt', '--json'], f.io)).toBe(0);
    const report = JSON.parse(f.out()) as { exits: { total: number; byReason: Record<string, number> } };
    const exitLines = f.written['log.txt'].split('\n').filter((l) => /kvm_exit/.test(l));
    expect(exitLines).toHaveLength(report.exits.total);
    const reasons = exitLines.map((l) => {
      const p = parseKvmExitLine(l);
      if (!p.ok) throw new Error(`${l}: expected ${p.expected}, found ${p.found}`);
      return p.value.reason;
    });
    // 0x400000 and 0x401000 share PML4, PDPT, PD, PT: 4 tables + 2 frames = 6 EPT violations
    expect(reasons.filter((r) => r === 48)).toHaveLength(6);
    expect(reasons.filter((r) => r === 10)).toHaveLength(1);
    expect(reasons.filter((r) => r === 30)).toHaveLength(1);
    expect(reasons.filter((r) => r === 12)).toHaveLength(1);
  });
});

const hasValgrind = spawnSync('valgrind', ['--version']).status === 0 && spawnSync('cc', ['--version']).status === 0;
const lackeyIt = hasValgrind ? it : it.skip;
const lackeyTitle = `${hasValgrind ? '' : 'SKIPPED (valgrind or cc absent): '}valgrind lackey output of a small C program replays end to end (vtxsim run --input lackey --json)`;

describe('lackey traces (interface §5 import format lackey)', () => {
  lackeyIt(lackeyTitle, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtxsim-lackey-'));
    try {
      const src = path.join(dir, 'p.c');
      fs.writeFileSync(src, 'static char buf[1 << 16];\nint main(void) { for (int i = 0; i < (1 << 16); i += 64) buf[i] = (char)i; return buf[4096]; }\n');
      execFileSync('cc', ['-O0', '-o', path.join(dir, 'p'), src]);
      const out = path.join(dir, 'lackey.txt');
      spawnSync('valgrind', ['--tool=lackey', '--trace-mem=yes', `--log-file=${out}`, path.join(dir, 'p')], { timeout: 120_000 });
      const text = fs.readFileSync(out, 'utf8');
      const records = text.split('\n').filter((l) => /^( [LSM]|I) /.test(l)).length;
      expect(records).toBeGreaterThan(1000);
      const f = fakeIo({ [out]: text });
      const t0 = Date.now();
      expect(await main(['run', out, '--input', 'lackey', '--json'], f.io)).toBe(0);
      const secs = (Date.now() - t0) / 1000;
      const r = JSON.parse(f.out()) as { events: number; exits: { byReason: Record<string, number> }; memory: { guestPhysicalPages: number } };
      expect(r.events).toBeGreaterThanOrEqual(records);
      expect(r.exits.byReason.EPT_VIOLATION).toBe(r.memory.guestPhysicalPages);
      // the run also replays the trace natively for the overhead: two replays
      process.stdout.write(`lackey: ${r.events} events, ${Math.round((2 * r.events) / secs)} events/s (ept + native)\n`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
