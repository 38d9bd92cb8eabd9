import { isLeft, isRight } from 'fp-ts/Either';
import { decodeConfig, DEFAULT_CONFIG } from '../../src/replay/config';

const fail = (u: unknown) => {
  const r = decodeConfig(u, 'config');
  if (!isLeft(r)) throw new Error('expected a failure');
  return r.left;
};

describe('config (interface §3)', () => {
  it('an empty object gives the documented defaults', () => {
    const r = decodeConfig({});
    expect(isRight(r) && r.right).toEqual(DEFAULT_CONFIG);
  });

  it('the example of interface §3 decodes', () => {
    const r = decodeConfig({
      cpu: 'skylake-server', mode: 'ept',
      controls: { primary: ['hlt-exiting', 'use-tsc-offsetting', 'use-msr-bitmaps', 'activate-secondary-controls'], secondary: ['enable-ept', 'enable-vpid', 'enable-rdtscp', 'unrestricted-guest'] },
      vmcs: { '0x2010': '0xfffffffffff00000', TSC_MULTIPLIER: '0x1000000000000' },
      msrBitmap: { readExit: ['0xc0000080'], writeExit: ['0x6e0'] },
      ioBitmap: { exitPorts: ['0x3f8-0x3ff', '0x70'] },
      mmio: ['0xfee00000-0xfee00fff'],
      ept: { levels: 4, pageSize: '4K', accessedDirty: true, backing: 'demand' },
      guest: { levels: 4, pageSize: '4K', policy: 'demand', memoryMiB: 1024 },
      tlb: {}, cost: {},
    });
    if (!isRight(r)) throw new Error(JSON.stringify(r.left));
    expect(r.right.vmcs).toEqual([['0x2010', 0xfffffffffff00000n], ['TSC_MULTIPLIER', 0x1000000000000n]]);
    expect(r.right.ioBitmap.exitPorts).toEqual([[0x3f8n, 0x3ffn], [0x70n, 0x70n]]);
  });

  it('a bad value names the field path, what was expected and what was found', () => {
    const f = fail({ ept: { levels: 6 } });
    expect(f.path).toBe('config.ept.levels');
    expect(f.expected).toBe('4 or 5');
    expect(f.found).toBe('6');
  });

  it('an unknown key is an error, not silently dropped', () => {
    const f = fail({ ept: { level: 4 } });
    expect(f.path).toBe('config.ept.level');
    expect(f.expected).toMatch(/unknown key/);
  });

  it('a 65-bit VMCS value is rejected', () => {
    const f = fail({ vmcs: { TSC_OFFSET: '0x1' + '0'.repeat(16) } });
    expect(f.path).toBe('config.vmcs.TSC_OFFSET');
    expect(f.expected).toMatch(/64-bit/);
  });

  it('a control list must hold strings', () => {
    const f = fail({ controls: { primary: ['hlt-exiting', 7] } });
    expect(f.path).toBe('config.controls.primary[1]');
  });
});
