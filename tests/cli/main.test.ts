import { main } from '../../src/cli/main';
import { fakeIo } from '../helpers/fakeIo';

describe('CLI skeleton (interface §1)', () => {
  it('--version prints the package version and exits 0', async () => {
    const f = fakeIo();
    expect(await main(['--version'], f.io)).toBe(0);
    expect(f.out().trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('--help lists every command of the interface', async () => {
    const f = fakeIo();
    expect(await main(['--help'], f.io)).toBe(0);
    for (const c of ['run', 'compare', 'walk', 'check', 'decode', 'import']) expect(f.out()).toContain(`vtxsim ${c}`);
  });

  it('an unknown command or option is a usage error: exit 2', async () => {
    const f = fakeIo();
    expect(await main(['frobnicate'], f.io)).toBe(2);
    expect(f.err()).toMatch(/Unknown argument/);
    expect(await main([], fakeIo().io)).toBe(2);
    expect(await main(['walk'], fakeIo().io)).toBe(2); // --gva is required
  });
});
