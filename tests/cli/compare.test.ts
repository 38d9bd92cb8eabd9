/**
 * `vtxsim compare <trace> --modes ...` (interface §1): the modes side by side, `--json` is
 * `{ "schemaVersion": 1, "modes": { "<mode>": <report> } }`, an unknown mode is a usage error (exit 2), and `shadow`
 * is never silently skipped.
 */
import { main } from '../../src/cli/main';
import { fakeIo } from '../helpers/fakeIo';

const TRACE = [
  { op: 'read', gva: '0x400000', size: 8 },
  { op: 'read', gva: '0x401000', size: 8 },
  { op: 'cpuid', leaf: '0x1' },
  { op: 'read', gva: '0x400000', size: 8 },
].map((o) => JSON.stringify(o)).join('\n') + '\n';

interface Report { mode: string; exits: { total: number; byReason: Record<string, number> }; memory: { guestPhysicalPages: number } }

describe('vtxsim compare', () => {
  it('--json: { schemaVersion: 1, modes: { native, ept, ept-2m } }; native has no exits, EPT 4K one violation per GPA page', async () => {
    const f = fakeIo({ 't.jsonl': TRACE });
    expect(await main(['compare', 't.jsonl', '--modes', 'native,ept,ept-2m', '--json'], f.io)).toBe(0);
    const doc = JSON.parse(f.out()) as { schemaVersion: number; modes: Record<string, Report> };
    expect(doc.schemaVersion).toBe(1);
    expect(Object.keys(doc.modes)).toEqual(['native', 'ept', 'ept-2m']);
    expect(doc.modes.native.exits.total).toBe(0);
    // 0x400000 and 0x401000: PML4, PDPT, PD, PT + 2 frames = 6 guest-physical pages; at 4 KiB each is an EPT violation
    expect(doc.modes.ept.memory.guestPhysicalPages).toBe(6);
    expect(doc.modes.ept.exits.byReason).toEqual({ EPT_VIOLATION: 6, CPUID: 1 });
    // with 2 MiB EPT pages all six lie in one 2 MiB guest-physical region (16 MiB .. 16 MiB + 24K): one violation
    expect(doc.modes['ept-2m'].exits.byReason).toEqual({ EPT_VIOLATION: 1, CPUID: 1 });
  });

  it('text output shows each mode side by side', async () => {
    const f = fakeIo({ 't.jsonl': TRACE });
    expect(await main(['compare', 't.jsonl', '--modes', 'ept,ept-novpid'], f.io)).toBe(0);
    expect(f.out()).toContain('ept-novpid');
    expect(f.out()).toMatch(/EPT_VIOLATION/);
  });

  it('an unknown mode is a usage error: exit 2, naming it', async () => {
    const f = fakeIo({ 't.jsonl': TRACE });
    expect(await main(['compare', 't.jsonl', '--modes', 'ept,warp-drive'], f.io)).toBe(2);
    expect(f.err()).toContain('warp-drive');
    expect(f.out()).toBe('');
  });

  it('shadow is never a silent skip: either a shadow report or a clear error', async () => {
    const f = fakeIo({ 't.jsonl': TRACE });
    const code = await main(['compare', 't.jsonl', '--modes', 'ept,shadow', '--json'], f.io);
    if (code === 0) {
      const doc = JSON.parse(f.out()) as { modes: Record<string, Report> };
      expect(Object.keys(doc.modes)).toEqual(['ept', 'shadow']);
    } else {
      expect(f.err()).toMatch(/shadow/);
    }
  });
});
