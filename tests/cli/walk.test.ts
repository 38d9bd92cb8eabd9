import { main } from '../../src/cli/main';
import { fakeIo } from '../helpers/fakeIo';

const cold = (n: number, m: number): number => n * (m + 1) + m;
const runJson = async (args: string[], files: Record<string, string> = {}) => {
  const f = fakeIo(files);
  const rc = await main(['walk', ...args, '--json'], f.io);
  return { rc, doc: rc === 0 ? JSON.parse(f.out()) : undefined, err: f.err(), out: f.out() };
};

describe('vtxsim walk (interface §1, §5)', () => {
  test('--json: exactly the §5 keys, schemaVersion 1, 24 references for 4-level guest over 4-level EPT', async () => {
    const r = await runJson(['--gva', '0x7fff12345678']);
    expect(r.rc).toBe(0);
    expect(r.doc.schemaVersion).toBe(1);
    expect(r.doc.counts).toEqual({ guest: 4, nested: 20, total: cold(4, 4) });
    expect(r.doc.references).toHaveLength(cold(4, 4));
    expect(r.doc.references[0]).toEqual({ index: 1, dimension: 'nested', guestLevel: 4, eptLevel: 4, address: expect.stringMatching(/^0x[0-9a-f]+$/) });
    expect(r.doc.references[4]).toEqual({ index: 5, dimension: 'guest', guestLevel: 4, eptLevel: null, address: expect.stringMatching(/^0x[0-9a-f]+$/) });
    expect(r.doc.references[23]).toMatchObject({ dimension: 'nested', guestLevel: null, eptLevel: 1 });
    expect(r.doc.result).toMatchObject({ kind: 'translated', hpa: expect.stringMatching(/^0x[0-9a-f]*678$/) });
  });

  test.each([
    ['5/5 (icelake-server)', { cpu: 'icelake-server', guest: { levels: 5 }, ept: { levels: 5 } }, 5, 5],
    ['4/5', { cpu: 'icelake-server', ept: { levels: 5 } }, 4, 5],
    ['5/4', { cpu: 'icelake-server', guest: { levels: 5 } }, 5, 4],
    ['2 MiB guest pages', { guest: { pageSize: '2M' } }, 3, 4],
    ['2 MiB EPT pages', { ept: { pageSize: '2M' } }, 4, 3],
    ['2 MiB both', { guest: { pageSize: '2M' }, ept: { pageSize: '2M' } }, 3, 3],
    ['1 GiB both', { guest: { pageSize: '1G' }, ept: { pageSize: '1G' } }, 2, 2],
  ])('SDM "EPT Translation Mechanism": %s costs n(m+1)+m references from cold', async (_n, config, n, m) => {
    const r = await runJson(['--gva', '0x7fff12345678', '--config', 'c.json'], { 'c.json': JSON.stringify(config) });
    expect(r.rc).toBe(0);
    expect(r.doc.counts.total).toBe(cold(n, m));
    expect(r.doc.counts.guest).toBe(n);
  });

  test('native mode: 4 references, all guest', async () => {
    const r = await runJson(['--gva', '4096', '--config', 'n.json'], { 'n.json': '{"mode":"native"}' });
    expect(r.doc.counts).toEqual({ guest: 4, nested: 0, total: 4 });
  });

  test('SDM "Exit Qualification for EPT Violations": --first-touch --access fetch gives the exit object with decoded fields', async () => {
    const r = await runJson(['--gva', '0x7fff12345678', '--first-touch', '--access', 'fetch', '--user']);
    expect(r.doc.result.kind).toBe('exit');
    expect(r.doc.result.exit).toMatchObject({ reason: 48, name: 'EPT_VIOLATION', guestLinear: '0x7fff12345678' });
    expect(r.doc.result.exit.fields).toMatchObject({ fetch: true, read: false, write: false, guestLinearAddressValid: true, finalTranslation: true });
  });

  test('SDM "EPT Misconfigurations": a page in an mmio range (--gpa at the local APIC) exits EPT_MISCONFIG', async () => {
    const r = await runJson(['--gva', '0x1000', '--gpa', '0xfee00000']);
    expect(r.doc.result.exit).toMatchObject({ reason: 49, name: 'EPT_MISCONFIG', guestPhysical: '0xfee00000' });
  });

  test('guest #PF: --flags r with a write', async () => {
    const r = await runJson(['--gva', '0x7fff12345678', '--flags', 'r', '--access', 'write']);
    expect(r.doc.result).toEqual({ kind: 'guest-fault', fault: { vector: 14, errorCode: 3 } });
  });

  test('text output draws the grid', async () => {
    const f = fakeIo();
    expect(await main(['walk', '--gva', '0x7fff12345678'], f.io)).toBe(0);
    expect(f.out()).toMatch(/gL4 PML4E\s+1\s+2\s+3\s+4\s+5/);
  });

  test.each([
    ['not a number', 'xyz', /hex .* or decimal/],
    ['65 bits', '0x1ffffffffffffffff', /wider than 64 bits/],
    ['non-canonical for 48-bit addresses (SDM "Canonical Addressing")', '0x800000000000', /canonical/],
    ['negative', '-5', /hex .* or decimal/],
  ])('bad --gva (%s) exits 1 with a message', async (_n, gva, msg) => {
    const f = fakeIo();
    expect(await main(['walk', '--gva', gva], f.io)).toBe(1);
    expect(f.err()).toMatch(msg);
  });

  test('an address canonical only for 57-bit linear addresses is accepted with a 5-level guest', async () => {
    expect((await runJson(['--gva', '0x10000000000000'])).rc).toBe(1);
    const r = await runJson(['--gva', '0x10000000000000', '--config', 'c.json'], { 'c.json': '{"cpu":"icelake-server","guest":{"levels":5}}' });
    expect(r.rc).toBe(0);
    expect(r.doc.counts.total).toBe(cold(5, 4));
  });

  test('bad config exits 1 naming the field path, expected and found', async () => {
    const f = fakeIo({ 'c.json': '{"ept":{"levels":7}}' });
    expect(await main(['walk', '--gva', '0x1000', '--config', 'c.json'], f.io)).toBe(1);
    expect(f.err()).toMatch(/c\.json.*config\.ept\.levels.*expected.*found 7/);
    const g = fakeIo();
    expect(await main(['walk', '--gva', '0x1000', '--config', 'missing.json'], g.io)).toBe(1);
    expect(g.err()).toMatch(/missing\.json: no such file/);
  });

  test('missing --gva is a usage error (exit 2)', async () => {
    expect(await main(['walk'], fakeIo().io)).toBe(2);
  });
});
