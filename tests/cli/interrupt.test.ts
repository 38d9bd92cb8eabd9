// Issue 5: "a run interrupted by Ctrl-C prints the report of what it replayed, marked partial", and writes no
// half-finished output file: the exit log, when asked for, holds exactly the exits of the partial report.
import { main } from '../../src/cli/main';
import { fakeIo } from '../helpers/fakeIo';

const trace = Array.from({ length: 10_000 }, (_, i) => JSON.stringify({ op: 'read', gva: '0x' + (0x400000 + (i % 64) * 4096).toString(16) })).join('\n');

describe('Ctrl-C during a replay', () => {
  it('prints the report of the events replayed so far, marked partial, and exits 1', async () => {
    const f = fakeIo({ 't.jsonl': trace });
    // the interrupt arrives as soon as the run has registered its handler: the first chunk completes, then it stops
    const io = { ...f.io, onInterrupt: (h: () => void) => { h(); return () => undefined; } };
    const rc = await main(['run', 't.jsonl', '--json', '--exit-log', 'x.log'], io);
    expect(rc).toBe(1);
    const doc = JSON.parse(f.out()) as { partial?: boolean; events: number; exits: { total: number } };
    expect(doc.partial).toBe(true);
    expect(doc.events).toBeGreaterThan(0);
    expect(doc.events).toBeLessThan(10_000);
    expect(f.err()).toMatch(/interrupted/);
    // the exit log covers exactly what the partial report covers: one kvm_exit line per exit counted
    const log = f.written['x.log'] ?? '';
    expect(log.split('\n').filter((l) => l.includes(': kvm_exit: ')).length).toBe(doc.exits.total);
  });

  it('without an interrupt the same trace replays every event', async () => {
    const f = fakeIo({ 't.jsonl': trace });
    expect(await main(['run', 't.jsonl', '--json'], f.io)).toBe(0);
    const doc = JSON.parse(f.out()) as { partial?: boolean; events: number };
    expect(doc.partial).toBeUndefined();
    expect(doc.events).toBe(10_000);
  });
});
