// Issue 6: each importer's output, from input in the tool's own format, replays end to end through `vtxsim run`.
// The inputs follow the tools' format strings: Intel Pin's ManualExamples/pinatrace.cpp (`%p: R %p` / `%p: W %p`,
// then `#eof`), Dinero IV's din format (`label address`: 0 read, 1 write, 2 instruction fetch; hex without 0x),
// valgrind lackey (`I  %08lx,%lu`, ` L|S|M %08lx,%lu`). Expected counts are derived by hand from the inputs.
import { main } from '../../src/cli/main';
import { fakeIo } from '../helpers/fakeIo';

const replay = async (format: string, input: string): Promise<{ events: number; exits: { byReason: Record<string, number> }; memory: { guestVirtualPages: number } }> => {
  const f = fakeIo({ 'in.txt': input });
  expect(await main(['import', format, 'in.txt', '-o', 'out.jsonl'], f.io)).toBe(0);
  const g = fakeIo({ 'out.jsonl': f.written['out.jsonl'] });
  expect(await main(['run', 'out.jsonl', '--json'], g.io)).toBe(0);
  return JSON.parse(g.out());
};

describe('imported recordings replay end to end', () => {
  it('pinatrace: 3 reads and 2 writes on 2 pages of the stack and one of the heap', async () => {
    const r = await replay('pinatrace', [
      '0x400580: R 0x7ffd5c1a0e08', '0x400584: W 0x7ffd5c1a0e10', '0x400588: R 0x7ffd5c1a1000',
      '0x40058c: W 0x602010', '0x400590: R 0x602018', '#eof',
    ].join('\n') + '\n');
    expect(r.events).toBe(5);
    // pages 0x7ffd5c1a0, 0x7ffd5c1a1 and 0x602
    expect(r.memory.guestVirtualPages).toBe(3);
    expect(Object.keys(r.exits.byReason)).toEqual(['EPT_VIOLATION']);
  });

  it('din: a fetch, a read and a write (label 2, 0, 1)', async () => {
    const r = await replay('din', '2 4000d0\n0 7ffc0010\n1 7ffc0018\n');
    expect(r.events).toBe(3);
    expect(r.memory.guestVirtualPages).toBe(2);
  });

  it('lackey: I, L, S and M records (M is a read and a write)', async () => {
    const r = await replay('lackey', '==1234== Lackey\nI  04016a0,3\n L 1ffefff8a8,8\n S 1ffefff8b0,8\n M 0060a010,4\n');
    expect(r.events).toBe(5);
    expect(r.memory.guestVirtualPages).toBe(3);
  });
});
