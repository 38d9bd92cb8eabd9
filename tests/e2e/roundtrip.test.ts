/**
 * Round trip: `run --exit-log`, `import kvm-trace`, replay under the same config: the same exit count per reason.
 */
import * as fs from 'fs';
import * as path from 'path';
import { main } from '../../src/cli/main';
import { fakeIo } from '../helpers/fakeIo';

const SMALL = [
  '{"op":"read","gva":"0x400000","size":8}', '{"op":"write","gva":"0x401000","size":8}', '{"op":"fetch","gva":"0x7f0000402000","size":4}',
  '{"op":"guest_map","gva":"0x600000","gpa":"0xfee00000","size":"4K","flags":"rw"}', '{"op":"write","gva":"0x600010","size":4,"user":false}',
  '{"op":"read","gva":"0x600020","size":4,"user":false}',
  '{"op":"cpuid","leaf":1,"subleaf":0}', '{"op":"rdmsr","msr":"0x3a"}', '{"op":"wrmsr","msr":"0x6e0","value":"0x10"}',
  '{"op":"out","port":"0x80","size":1}', '{"op":"in","port":"0x3f8","size":1}', '{"op":"hlt"}', '{"op":"rdtsc"}',
  '{"op":"mov_to_cr","cr":4,"value":"0x406b0"}', '{"op":"interrupt","vector":236}', '{"op":"vmcall"}', '{"op":"nmi"}',
].join('\n') + '\n';

const byReason = async (files: Record<string, string>, trace: string, extra: string[] = []): Promise<{ counts: Record<string, number>; written: Record<string, string> }> => {
  const f = fakeIo(files);
  expect(await main(['run', trace, '--format', 'json', ...extra], f.io)).toBe(0);
  return { counts: (JSON.parse(f.out()) as { exits: { byReason: Record<string, number> } }).exits.byReason, written: f.written };
};

const roundTrip = async (trace: string, text: string): Promise<{ before: Record<string, number>; after: Record<string, number> }> => {
  const a = await byReason({ [trace]: text }, trace, ['--exit-log', 'x.log']);
  const g = fakeIo({ 'x.log': a.written['x.log'] });
  expect(await main(['import', 'kvm-trace', 'x.log', '-o', 'i.jsonl', '--strict'], g.io)).toBe(0);
  const b = await byReason({ 'i.jsonl': g.written['i.jsonl'] }, 'i.jsonl');
  return { before: a.counts, after: b.counts };
};

describe('round trip: --exit-log -> import kvm-trace -> replay (same config)', () => {
  test('a small trace with every kind of exit: EPT violations, MMIO misconfiguration, CPUID, MSR, I/O, CR, HLT, interrupt, NMI', async () => {
    const { before, after } = await roundTrip('small.jsonl', SMALL);
    // hand count of the non-memory exits: one each, two I/O (out 0x80, in 0x3f8)
    expect(before).toMatchObject({ CPUID: 1, MSR_READ: 1, MSR_WRITE: 1, IO_INSTRUCTION: 2, HLT: 1, CR_ACCESS: 1, EXTERNAL_INTERRUPT: 1, VMCALL: 1, EXCEPTION_NMI: 1 });
    // MMIO: the first access is an EPT violation then a misconfiguration (retried), the second a misconfiguration
    expect(before.EPT_MISCONFIG).toBe(2);
    expect(after).toEqual(before);
  }, 60_000);

  const dir = path.join(__dirname, '../../traces');
  const shipped = fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.jsonl') && fs.statSync(path.join(dir, n)).size < 400_000) : [];
  test.each(shipped)('shipped trace %s', async (name) => {
    const { before, after } = await roundTrip(name, fs.readFileSync(path.join(dir, name), 'utf8'));
    expect(after).toEqual(before);
  }, 120_000);
});
