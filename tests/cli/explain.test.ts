// `vtxsim explain <trace-or-scenario> [--event N | --all-exits]` through main() with a fake Io: usage errors, colour
// rules (a terminal on stdout and NO_COLOR, https://no-color.org), JSON shape, traces and scenarios, failed VM
// entries named by their failing check. Expected values come from the SDM rule each test names.
import { main } from '../../src/cli/main';
import { fakeIo } from '../helpers/fakeIo';

const ESC = '\u001b[';
const scenario = (config: unknown, steps: unknown[]): string => JSON.stringify({ config, steps });
const CPUID = scenario({}, [{ op: 'launch' }, { op: 'cpuid', leaf: '0x1' }]);

const run = async (args: string[], files: Record<string, string>, tty: { stdoutIsTTY?: boolean; env?: Record<string, string> } = {}) => {
  const f = fakeIo(files, tty);
  const rc = await main(['explain', ...args], f.io);
  return { rc, out: f.out(), err: f.err() };
};

describe('vtxsim explain: usage', () => {
  test('neither --event nor --all-exits is a usage error (exit 2)', async () => {
    const r = await run(['s.json'], { 's.json': CPUID });
    expect(r.rc).toBe(2);
    expect(r.err).toContain('--event');
  });
  test('both --event and --all-exits is a usage error (exit 2)', async () => {
    expect((await run(['s.json', '--event', '1', '--all-exits'], { 's.json': CPUID })).rc).toBe(2);
  });
  test('an --event beyond the last step is invalid input (exit 1) naming the valid range', async () => {
    const r = await run(['s.json', '--event', '9'], { 's.json': CPUID });
    expect(r.rc).toBe(1);
    expect(r.err).toContain('0 to 1');
  });
  test('a missing file is invalid input (exit 1), one line', async () => {
    const r = await run(['nope.json', '--all-exits'], {});
    expect(r.rc).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });
  test('shadow mode is refused for a trace rather than explained wrongly', async () => {
    const r = await run(['t.jsonl', '--all-exits', '--config', 'c.json'], { 't.jsonl': '{"op":"cpuid","leaf":"0x0"}\n', 'c.json': '{"mode":"shadow"}' });
    expect(r.rc).toBe(1);
    expect(r.err).toContain('shadow');
  });
});

describe('vtxsim explain: colour (NO_COLOR, terminal on stdout)', () => {
  test('plain text when stdout is not a terminal', async () => {
    const r = await run(['s.json', '--all-exits'], { 's.json': CPUID }, { stdoutIsTTY: false });
    expect(r.rc).toBe(0);
    expect(r.out).not.toContain(ESC);
  });
  test('colour (ANSI SGR) when stdout is a terminal and NO_COLOR is unset', async () => {
    expect((await run(['s.json', '--all-exits'], { 's.json': CPUID }, { stdoutIsTTY: true })).out).toContain(ESC);
  });
  test('NO_COLOR set (any non-empty value) turns colour off on a terminal', async () => {
    expect((await run(['s.json', '--all-exits'], { 's.json': CPUID }, { stdoutIsTTY: true, env: { NO_COLOR: '1' } })).out).not.toContain(ESC);
  });
  test('--color always colours a pipe; --color never keeps a terminal plain', async () => {
    expect((await run(['s.json', '--all-exits', '--color', 'always'], { 's.json': CPUID })).out).toContain(ESC);
    expect((await run(['s.json', '--all-exits', '--color', 'never'], { 's.json': CPUID }, { stdoutIsTTY: true })).out).not.toContain(ESC);
  });
  test('--json never carries colour codes', async () => {
    expect((await run(['s.json', '--all-exits', '--json'], { 's.json': CPUID }, { stdoutIsTTY: true })).out).not.toContain(ESC);
  });
});

describe('vtxsim explain: what it names', () => {
  test('SDM "Instructions That Cause VM Exits Unconditionally": CPUID exit 10, --json has schemaVersion 1 and the decisive fact', async () => {
    const r = await run(['s.json', '--event', '1', '--json'], { 's.json': CPUID });
    expect(r.rc).toBe(0);
    const doc = JSON.parse(r.out) as { schemaVersion: number; diverged: unknown; items: { index: number; outcome: { exit: { reason: number } }; facts: { text: string; decisive: boolean }[] }[] };
    expect(doc.schemaVersion).toBe(1);
    expect(doc.diverged).toBeNull();
    expect(doc.items).toHaveLength(1);
    expect(doc.items[0].index).toBe(1);
    expect(doc.items[0].outcome.exit.reason).toBe(10);
    expect(doc.items[0].facts.filter((x) => x.decisive).map((x) => x.text).join()).toContain('exits unconditionally');
  });

  test('SDM "I/O-Bitmap Addresses": OUT to port 0x3f8 in an exit port list names bitmap A, byte 0x7f, bit 0', async () => {
    // port 0x3f8 = 1016: byte 1016 >> 3 = 127 = 0x7f, bit 1016 & 7 = 0, in bitmap A (ports 0000H-7FFFH)
    const s = scenario({ ioBitmap: { exitPorts: ['0x3f8'] } }, [{ op: 'launch' }, { op: 'out', port: '0x3f8', size: 1 }]);
    const r = await run(['s.json', '--all-exits'], { 's.json': s });
    expect(r.rc).toBe(0);
    expect(r.out).toContain('exit 30 IO_INSTRUCTION');
    expect(r.out).toMatch(/I\/O bitmap A \(0x[0-9a-f]+\) bit for port 0x3f8 \(byte 0x7f bit 0, HPA 0x[0-9a-f]+\) is 1/);
  });

  test('SDM "MSR-Bitmap Address": RDMSR 0xc0000080 in readExit names the high read quarter, byte 0x410 bit 0', async () => {
    // high MSRs read bitmap at offset 1024; 0xc0000080 & 0x1fff = 0x80 = 128: byte 1024 + 16 = 0x410, bit 0
    const s = scenario({ msrBitmap: { readExit: ['0xc0000080'] } }, [{ op: 'launch' }, { op: 'rdmsr', msr: '0xc0000080' }]);
    const r = await run(['s.json', '--all-exits'], { 's.json': s });
    expect(r.out).toContain('exit 31 MSR_READ');
    expect(r.out).toContain('read bitmap for high MSRs: MSR 0xc0000080 is byte 0x410 bit 0');
  });

  test('a trace: every exit is explained (one item per exit), the replica agrees with the replay', async () => {
    const trace = ['{"op":"cpuid","leaf":"0x0"}', '{"op":"hlt"}', '{"op":"read","gva":"0x7f0000001000"}', ''].join('\n');
    const r = await run(['t.jsonl', '--all-exits', '--json'], { 't.jsonl': trace });
    expect(r.rc).toBe(0);
    const doc = JSON.parse(r.out) as { diverged: unknown; items: { index: number; outcome: { exit: { reason: number } } }[] };
    expect(doc.diverged).toBeNull();
    // CPUID (10), HLT (12, hlt-exiting in KVM's defaults), then the first touch of a page: EPT violations (48)
    expect(doc.items.slice(0, 2).map((x) => [x.index, x.outcome.exit.reason])).toEqual([[0, 10], [1, 12]]);
    expect(doc.items.slice(2).every((x) => x.index === 2 && x.outcome.exit.reason === 48)).toBe(true);
    expect(doc.items.length).toBeGreaterThan(2);
  });

  test('SDM "Checks on Guest RIP, RFLAGS, and SSP": a failed VM entry (exit 33) names the failing check, RFLAGS bit 1 = 0', async () => {
    const s = scenario({ vmcs: { GUEST_RFLAGS: '0x0' } }, [{ op: 'launch' }]);
    const r = await run(['s.json', '--all-exits'], { 's.json': s });
    expect(r.rc).toBe(0);
    expect(r.out).toContain('exit 33 INVALID_STATE');
    expect(r.out).toMatch(/\* check guest-rflags-reserved \(SDM "Checks on Guest RIP, RFLAGS, and SSP"\)/);
  });

  test('SDM "Loading MSRs": exit 34 names the MSR-load entry whose 1-based index is the qualification', async () => {
    // one entry (index 1) for MSR 0x174 whose reserved bits 63:32 are not zero
    const s = scenario({ vmcs: { VM_ENTRY_MSR_LOAD_COUNT: '1', VM_ENTRY_MSR_LOAD_ADDR: '0x5000' } }, [
      { op: 'write_phys', hpa: '0x5000', value: '0x100000174', size: 8 },
      { op: 'write_phys', hpa: '0x5008', value: '0x0', size: 8 },
      { op: 'launch' },
    ]);
    const r = await run(['s.json', '--all-exits'], { 's.json': s });
    expect(r.out).toContain('exit 34 MSR_LOAD_FAIL, qualification 0x1');
    expect(r.out).toMatch(/\* check entry-msr-load-reserved \(SDM "Loading MSRs"\).*entry 1 \(MSR 0x174\)/);
  });
});
