import { main } from '../../src/cli/main';
import { fakeIo } from '../helpers/fakeIo';

interface CheckJson { ok: boolean; failures: { id: string; message: string; sdm: string; outcome: string }[] }

const check = async (config: unknown) => {
  const f = fakeIo({ 'c.json': JSON.stringify(config) });
  const code = await main(['check', 'c.json', '--json'], f.io);
  return { code, json: JSON.parse(f.out()) as CheckJson };
};

describe('vtxsim check <config.json> (interface §1)', () => {
  it('SDM "Checks on VMX Controls and Host-State Area" / "Checking and Loading Guest State": the default config {} passes: exit 0', async () => {
    const r = await check({});
    expect(r.code).toBe(0);
    expect(r.json).toEqual({ schemaVersion: 1, ok: true, failures: [] });
  });

  it('shadow mode passes too', async () => {
    expect((await check({ mode: 'shadow' })).code).toBe(0);
  });

  it('a config breaking several checks names each failing check: bad EPTP (7), CR3-target count 5 (7), non-canonical guest RIP (33)', async () => {
    const r = await check({ vmcs: { EPT_POINTER: '0x104059', CR3_TARGET_COUNT: '5', GUEST_RIP: '0x1000000000000' } });
    expect(r.code).toBe(1);
    expect(r.json.ok).toBe(false);
    const byOutcome = (o: string) => r.json.failures.filter((f) => f.outcome.startsWith(o));
    expect(byOutcome('VMfailValid(7)').length).toBeGreaterThanOrEqual(2);
    expect(byOutcome('exit 33').length).toBeGreaterThanOrEqual(1);
    const text = JSON.stringify(r.json.failures);
    expect(text).toMatch(/cr3-target/i);
    expect(text).toMatch(/ept/i);
    expect(text).toMatch(/rip/i);
    for (const f of r.json.failures) {
      expect(f.id).toMatch(/^[a-z0-9-]+$/);
      expect(f.sdm.length).toBeGreaterThan(0);
      expect(f.message.length).toBeGreaterThan(0);
    }
  });

  it('a host-state failure reports VMfailValid(8)', async () => {
    const r = await check({ vmcs: { HOST_CS_SELECTOR: '0' } });
    expect(r.code).toBe(1);
    expect(r.json.failures.map((f) => f.outcome)).toContain('VMfailValid(8)');
  });

  it('text output lists the failing check ids', async () => {
    const f = fakeIo({ 'c.json': JSON.stringify({ vmcs: { CR3_TARGET_COUNT: '5' } }) });
    expect(await main(['check', 'c.json'], f.io)).toBe(1);
    expect(f.out()).toMatch(/cr3-target/i);
  });

  describe('bad config files: exit 1, one line with the field path, expected and found', () => {
    const bad = async (files: Record<string, string>, pattern: RegExp) => {
      const f = fakeIo(files);
      expect(await main(['check', 'c.json'], f.io)).toBe(1);
      const lines = f.err().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(pattern);
    };
    it('unknown key', () => bad({ 'c.json': '{"cpux":"skylake-server"}' }, /cpux/));
    it('bad value', () => bad({ 'c.json': '{"mode":"turbo"}' }, /mode.*expected.*found.*turbo/));
    it('unknown VMCS field name', () => bad({ 'c.json': '{"vmcs":{"NO_SUCH_FIELD":"1"}}' }, /vmcs\.NO_SUCH_FIELD.*expected/));
    it('unknown control name', () => bad({ 'c.json': '{"controls":{"primary":["frobnicate-exiting"]}}' }, /controls\.primary.*frobnicate/));
    it('missing file', () => bad({}, /c\.json.*no such file/));
    it('not JSON', () => bad({ 'c.json': '{"a":' }, /c\.json.*expected JSON/));
  });
});
