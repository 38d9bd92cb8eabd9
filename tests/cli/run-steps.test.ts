// interface §1: `run --steps` gives per-step outcomes in the JSON report of a trace too (scenarios always have them).
import { main } from '../../src/cli/main';
import { fakeIo } from '../helpers/fakeIo';

describe('vtxsim run <trace> --steps', () => {
  it('lists every event with the VM exits it caused, or passthrough', async () => {
    const trace = [
      '{"op":"cpuid","leaf":"0x1"}',
      '{"op":"rdtscp"}',
      '{"op":"read","gva":"0x400000"}',
    ].join('\n');
    const f = fakeIo({ 't.jsonl': trace });
    expect(await main(['run', 't.jsonl', '--json', '--steps'], f.io)).toBe(0);
    const doc = JSON.parse(f.out()) as { steps: { index: number; op: string; outcome: { result: string; exit?: { name: string }; exits?: { name: string }[] } }[] };
    expect(doc.steps.map((s) => [s.index, s.op, s.outcome.result])).toEqual([[0, 'cpuid', 'exit'], [1, 'rdtscp', 'passthrough'], [2, 'read', 'exit']]);
    // CPUID exits unconditionally (reason 10); RDTSCP passes through with enable-RDTSCP = 1 and RDTSC exiting = 0
    expect(doc.steps[0].outcome.exit?.name).toBe('CPUID');
    // the first read of a fresh guest: the guest OS maps the page (its table writes and the walk fault on EPT
    // pages one by one), so the read causes several EPT violations, all listed
    expect(doc.steps[2].outcome.exits?.every((x) => x.name === 'EPT_VIOLATION')).toBe(true);
    expect((doc.steps[2].outcome.exits ?? []).length).toBeGreaterThan(1);
  });

  it('without --steps a trace report has no steps', async () => {
    const f = fakeIo({ 't.jsonl': '{"op":"cpuid","leaf":"0x1"}' });
    expect(await main(['run', 't.jsonl', '--json'], f.io)).toBe(0);
    expect(JSON.parse(f.out()).steps).toBeUndefined();
  });
});
