import { main } from '../../src/cli/main';
import { fakeIo } from '../helpers/fakeIo';

// `perf kvm stat report` rows in tools/perf/builtin-kvm.c's format: "%20s %8d %7.2f%% %7.2f%% %9.2fus %9.2fus %9.2fus ( +-%7.2f%% )"
const REPORT = `
Analyze events for all VMs, all VCPUs:

             VM-EXIT    Samples  Samples%     Time%    Min Time    Max Time         Avg time

           MSR_WRITE         12    30.00%     1.09%      0.50us   1052.69us      1.95us ( +-   7.12% )
                 HLT          8    20.00%    90.48%      1.98us 169389.79us    394.27us ( +-   2.18% )
       EPT_VIOLATION          9    22.50%     0.10%      1.24us   3391.10us      5.62us ( +-   1.43% )
       EPT_MISCONFIG          4    10.00%     0.20%      1.10us     80.00us      3.10us ( +-   2.00% )
           CR_ACCESS          3     7.50%     0.01%      0.50us      2.00us      0.80us ( +-   1.00% )
       EXCEPTION_NMI          2     5.00%     0.01%      0.50us      2.00us      0.80us ( +-   1.00% )
    PREEMPTION_TIMER          2     5.00%     0.01%      0.80us      4.00us      1.00us ( +-   1.00% )

Total Samples:40, Total events handled time:3117409.85us.
`;

describe('vtxsim import perf-kvm-stat --fidelity / run --use-recorded-times', () => {
  test('the synthetic trace replays under the default config to the report\'s count of every reason it can cause', async () => {
    const f = fakeIo({ 'r.txt': REPORT });
    // the fake file system keeps written files apart: --fidelity reads back the trace it wrote
    const w = f.written;
    const io = {
      ...f.io,
      exists: (p: string) => p in w || f.io.exists(p),
      fileSize: (p: string) => (p in w ? w[p].length : f.io.fileSize(p)),
      lines: (p: string) => (p in w ? (async function* () { for (const l of w[p].split('\n')) yield l; })() : f.io.lines(p)),
    };
    const rc0 = await main(['import', 'perf-kvm-stat', 'r.txt', '-o', 't.jsonl', '--summary', 's.json', '--fidelity', '--json'], io);
    expect(rc0).toBe(0);
    const j = JSON.parse(f.out()) as { fidelity: { rows: { reason: string; recorded: number; replayed: number; explanation?: string }[]; explained: boolean } };
    for (const r of j.fidelity.rows) {
      if (r.reason === 'PREEMPTION_TIMER') expect(r).toMatchObject({ recorded: 2, replayed: 0, explanation: expect.stringMatching(/no guest event causes PREEMPTION_TIMER/) });
      else expect(r.replayed).toBe(r.recorded);
    }
    expect(j.fidelity.explained).toBe(true);
    expect(JSON.parse(f.written['s.json'])).toMatchObject({ recordedTimes: { MSR_WRITE: 1.95, HLT: 394.27 } });

    // MSR_WRITE at 1.95 us and 2.5 GHz: 4,875 handler cycles + the 1,100-cycle round trip, 12 exits
    const g = fakeIo({ 't.jsonl': f.written['t.jsonl'], 's.json': f.written['s.json'] });
    const rc = await main(['run', 't.jsonl', '--format', 'json', '--use-recorded-times', 's.json', '--tsc-ghz', '2.5'], g.io);
    expect(g.err()).toBe('');
    expect(rc).toBe(0);
    expect((JSON.parse(g.out()) as { exits: { cyclesByReason: Record<string, number> } }).exits.cyclesByReason.MSR_WRITE).toBe(12 * (4875 + 1100));
  }, 60_000);

  test('--fidelity without -o and a summary without recordedTimes are input errors', async () => {
    expect(await main(['import', 'perf-kvm-stat', 'r.txt', '--fidelity'], fakeIo({ 'r.txt': REPORT }).io)).toBe(1);
    const g = fakeIo({ 't.jsonl': '{"op":"hlt"}\n', 's.json': '{}' });
    expect(await main(['run', 't.jsonl', '--use-recorded-times', 's.json'], g.io)).toBe(1);
  });
});
