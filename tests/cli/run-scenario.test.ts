import { main } from '../../src/cli/main';
import { fakeIo } from '../helpers/fakeIo';

const scenario = (steps: unknown[], config: unknown = {}): string => JSON.stringify({ config, steps });

const runJson = async (files: Record<string, string>, file: string) => {
  const f = fakeIo(files);
  const code = await main(['run', file, '--json'], f.io);
  return { code, f, json: code === 0 ? JSON.parse(f.out()) as { schemaVersion: number; steps: { index: number; op: string; outcome: Record<string, unknown> }[] } : undefined };
};

describe('vtxsim run <scenario>.json --json (interface §4)', () => {
  it('SDM "Instructions That Cause VM Exits Unconditionally": CPUID exits 10, the steps carry index, op and outcome', async () => {
    const r = await runJson({ 's.json': scenario([{ op: 'launch' }, { op: 'cpuid', leaf: '0x1' }, { op: 'vmresume' }, { op: 'hlt' }]) }, 's.json');
    expect(r.code).toBe(0);
    expect(r.json!.schemaVersion).toBe(1);
    expect(r.json!.steps).toEqual([
      { index: 0, op: 'launch', outcome: { result: 'entered' } },
      { index: 1, op: 'cpuid', outcome: { result: 'exit', exit: { reason: 10, name: 'CPUID', qualification: '0x0', instructionLength: 2 } } },
      { index: 2, op: 'vmresume', outcome: { result: 'entered' } },
      { index: 3, op: 'hlt', outcome: { result: 'exit', exit: { reason: 12, name: 'HLT', qualification: '0x0', instructionLength: 1 } } },
    ]);
  });

  it('SDM "VMLAUNCH": a second VMLAUNCH of a launched VMCS gives VMfailValid(4)', async () => {
    const r = await runJson({ 's.json': scenario([{ op: 'launch' }, { op: 'cpuid', leaf: '0' }, { op: 'vmlaunch' }]) }, 's.json');
    expect(r.json!.steps[2].outcome).toEqual({ result: 'VMfailValid', error: 4 });
  });

  it('SDM "VMXON": a bad revision identifier gives VMfailInvalid; VMPTRST returns the pointer as hex', async () => {
    const r = await runJson({ 's.json': scenario([{ op: 'vmxon', addr: '0x1000', revision: '0x5' }, { op: 'vmxon', addr: '0x1000' },
      { op: 'vmclear', addr: '0x2000' }, { op: 'vmptrld', addr: '0x2000' }, { op: 'vmptrst' }]) }, 's.json');
    expect(r.json!.steps.map((s) => s.outcome)).toEqual([
      { result: 'VMfailInvalid' }, { result: 'VMsucceed' }, { result: 'VMsucceed' }, { result: 'VMsucceed' }, { result: 'VMsucceed', value: '0x2000' }]);
  });

  it('SDM "Time-Stamp Counter Offset": RDTSC after 10000 cycles with offset -4096 returns 0x1710 (a hex string)', async () => {
    const r = await runJson({ 's.json': scenario([{ op: 'launch' }, { op: 'run', cycles: '10000' }, { op: 'rdtsc' }], { vmcs: { TSC_OFFSET: '0xfffffffffffff000' } }) }, 's.json');
    expect(r.json!.steps[2].outcome).toEqual({ result: 'passthrough', value: '0x1710' });
  });

  it('text output (no --json) prints one line per step to stdout', async () => {
    const f = fakeIo({ 's.json': scenario([{ op: 'launch' }, { op: 'cpuid', leaf: '0' }]) });
    expect(await main(['run', 's.json'], f.io)).toBe(0);
    expect(f.out()).toMatch(/launch\s+entered/);
    expect(f.out()).toMatch(/cpuid\s+exit/);
  });

  it('the example scenarios of traces/scenarios run', async () => {
    const fs = require('fs') as typeof import('fs');
    const dir = `${__dirname}/../../traces/scenarios`;
    for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.json'))) {
      const r = await runJson({ [name]: fs.readFileSync(`${dir}/${name}`, 'utf8') }, name);
      expect({ name, code: r.code }).toEqual({ name, code: 0 });
      expect(r.json!.steps.length).toBeGreaterThan(2);
    }
  });

  describe('bad scenario files: exit 1 and a one-line message with the field path, expected and found', () => {
    const bad = async (files: Record<string, string>, file: string, pattern: RegExp) => {
      const f = fakeIo(files);
      expect(await main(['run', file], f.io)).toBe(1);
      const lines = f.err().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(pattern);
    };
    it('unknown top-level key', () => bad({ 's.json': JSON.stringify({ config: {}, steps: [], extra: 1 }) }, 's.json', /extra.*expected.*found/));
    it('unknown config key', () => bad({ 's.json': scenario([], { cpux: 'a' }) }, 's.json', /config.*cpux/));
    it('bad value in a step', () => bad({ 's.json': scenario([{ op: 'vmxon', addr: 'zz' }]) }, 's.json', /steps\[0\]\.addr.*expected.*found/));
    it('unknown op', () => bad({ 's.json': scenario([{ op: 'frob' }]) }, 's.json', /steps\[0\].*frob/));
    it('guest event in root mode', () => bad({ 's.json': scenario([{ op: 'cpuid', leaf: '0' }]) }, 's.json', /steps\[0\]\.op.*expected.*found "cpuid"/));
    it('missing file', () => bad({}, 'nope.json', /nope\.json.*no such file/));
    it('not JSON', () => bad({ 's.json': '{ not json' }, 's.json', /s\.json.*expected JSON/));
    it('--json still writes one JSON document with the error', async () => {
      const f = fakeIo({ 's.json': '{' });
      expect(await main(['run', 's.json', '--json'], f.io)).toBe(1);
      expect((JSON.parse(f.out()) as { error: { kind: string } }).error.kind).toBe('input');
    });
  });
});
