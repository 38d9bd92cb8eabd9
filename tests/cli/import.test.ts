import { main } from '../../src/cli/main';
import { fakeIo } from '../helpers/fakeIo';
import { decodeTraceLine } from '../../src/guest/traceCodec';
import * as E from 'fp-ts/Either';

describe('vtxsim import (interface §1)', () => {
  test('lackey to a .jsonl whose every line decodes with the trace codec', async () => {
    const f = fakeIo({ 'l.txt': '==1== x\nI  0401ab70,3\n S 1fff000768,8\n' });
    expect(await main(['import', 'lackey', 'l.txt', '-o', 'out.jsonl'], f.io)).toBe(0);
    const lines = f.written['out.jsonl'].split('\n');
    const evs = lines.map((l, i) => decodeTraceLine(l, i + 1)).filter((r) => E.isRight(r) && r.right !== null);
    expect(evs).toHaveLength(2);
    expect(f.written['out.jsonl']).toContain('{"op":"fetch","gva":"0x401ab70","size":3}');
  });

  test('--json prints a summary with warnings by kind; --strict makes a malformed line exit 1', async () => {
    const f = fakeIo({ 'p.txt': '0x1: R 0x1000\nnonsense\n' });
    expect(await main(['import', 'pinatrace', 'p.txt', '--json'], f.io)).toBe(0);
    expect(JSON.parse(f.out())).toMatchObject({ schemaVersion: 1, events: 1, warnings: { malformed: 1 } });
    const g = fakeIo({ 'p.txt': '0x1: R 0x1000\nnonsense\n' });
    expect(await main(['import', 'pinatrace', 'p.txt', '--strict'], g.io)).toBe(1);
    expect(g.err()).toMatch(/p.txt:line 2/);
  });

  test('a missing input file exits 1', async () => {
    expect(await main(['import', 'din', 'nope.din'], fakeIo().io)).toBe(1);
  });
});
