import * as fs from 'fs';
import { main } from '../../src/cli/main';
import { fakeIo } from '../helpers/fakeIo';

/* eslint-disable @typescript-eslint/no-explicit-any */
const compare = async (trace: string, modes: string): Promise<Record<string, any>> => {
  const text = fs.readFileSync(`traces/${trace}.jsonl`, 'utf8');
  const f = fakeIo({ 't.jsonl': text });
  const rc = await main(['compare', 't.jsonl', '--modes', modes, '--json'], f.io);
  if (rc !== 0) throw new Error(f.err());
  return JSON.parse(f.out()).modes;
};
const lines = (trace: string, pred: (e: any) => boolean): number =>
  fs.readFileSync(`traces/${trace}.jsonl`, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter(pred).length;

describe('compare --modes ept,shadow on the switch-heavy multi-process trace (traces/mp-idle.jsonl)', () => {
  let modes: Record<string, any>;
  beforeAll(async () => { modes = await compare('mp-idle', 'ept,shadow'); }, 300000);

  test('CR3-load exiting with CR3-target count 0: every MOV to CR3 exits (CR_ACCESS) under shadow paging, none with EPT', () => {
    const movCr3 = lines('mp-idle', (e) => e.op === 'mov_to_cr' && e.cr === 3);
    expect(movCr3).toBeGreaterThan(1000);
    expect(modes.shadow.exits.byReason.CR_ACCESS).toBe(movCr3);
    expect(modes.ept.exits.byReason.CR_ACCESS ?? 0).toBe(0);
  });

  test('INVLPG exiting: each INVLPG exits under shadow paging (and not with EPT)', () => {
    const invlpg = lines('mp-idle', (e) => e.op === 'invlpg');
    expect(invlpg).toBeGreaterThan(0);
    expect(modes.shadow.exits.byReason.INVLPG).toBe(invlpg);
    expect(modes.ept.exits.byReason.INVLPG ?? 0).toBe(0);
  });

  test('shadow paging exits at least 10 times as often as EPT, dominated by CR_ACCESS and EXCEPTION_NMI (#PF in the exception bitmap)', () => {
    const s = modes.shadow.exits;
    const e = modes.ept.exits;
    expect(s.total).toBeGreaterThanOrEqual(10 * e.total);
    const ranked = Object.entries(s.byReason as Record<string, number>).sort((a, b) => b[1] - a[1]).map(([k]) => k);
    expect(ranked.slice(0, 2).sort()).toEqual(['CR_ACCESS', 'EXCEPTION_NMI']);
    expect(e.byReason.EXCEPTION_NMI ?? 0).toBe(0);
  });

  test('CPUID, I/O and MSR exits do not depend on the paging mode (unconditional exits, same bitmaps)', () => {
    for (const [reason, op] of [['CPUID', 'cpuid'], ['IO_INSTRUCTION', 'out'], ['MSR_READ', 'rdmsr']]) {
      const n = lines('mp-idle', (x) => x.op === op);
      expect(n).toBeGreaterThan(0);
      expect(modes.shadow.exits.byReason[reason]).toBe(n);
      expect(modes.ept.exits.byReason[reason]).toBe(n);
    }
  });
});

describe('translation cost on a large-footprint random-access trace (traces/mp-random.jsonl)', () => {
  let modes: Record<string, any>;
  beforeAll(async () => { modes = await compare('mp-random', 'ept,ept-2m,shadow'); }, 300000);

  test('a cold walk is 4 references under shadow paging (native walk of the shadow tables) and 24 with 4-level EPT: n(m+1)+m', () => {
    expect(modes.shadow.translation.maxReferencesPerWalk).toBe(4);
    expect(modes.ept.translation.maxReferencesPerWalk).toBe(4 * (4 + 1) + 4);
    expect(modes.shadow.translation.memoryReferences.nested).toBe(0);
  });

  test('EPT translation cycles exceed shadow paging\'s; 2 MiB EPT pages (3-reference EPT walks) shrink the gap', () => {
    const s = modes.shadow.cycles.translation;
    const e = modes.ept.cycles.translation;
    const e2 = modes['ept-2m'].cycles.translation;
    expect(e).toBeGreaterThan(s);
    expect(e2 - s).toBeLessThan(e - s);
  });
});
