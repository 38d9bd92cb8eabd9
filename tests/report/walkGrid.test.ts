import { isLeft } from 'fp-ts/Either';
import { decodeConfig } from '../../src/replay/config';
import { explainWalk, type WalkExplanation, type WalkOptions } from '../../src/replay/walk';
import { renderWalkGrid } from '../../src/report/walkGrid';

const explain = (u: unknown, access: 'read' | 'write' | 'fetch' = 'read', user = false, opts: WalkOptions = {}): WalkExplanation => {
  const c = decodeConfig(u);
  if (isLeft(c)) throw new Error('bad config');
  const r = explainWalk(c.right, 0x7fff_1234_5678n, access, user, opts);
  if (isLeft(r)) throw new Error(JSON.stringify(r.left));
  return r.right;
};
const cells = (text: string, label: string): string[] => {
  const line = text.split('\n').find((l) => l.startsWith(label));
  if (line === undefined) throw new Error(`no row ${label}`);
  return line.slice(label.length).trim().split(/\s+/).slice(1);
};

describe('walk grid (Bhargava et al. 2008 figure: rows guest levels + GPA, columns EPT levels + entry read)', () => {
  test('SDM "EPT Translation Mechanism": 4/4 grid numbers row by row, the guest read after its EPT walk', () => {
    const t = renderWalkGrid(explain({}));
    expect(t).toMatch(/nL4\s+nL3\s+nL2\s+nL1\s+gPTE/);
    // row gL(5-k) holds references 5k-4 .. 5k, the last being the guest entry read
    for (let k = 1; k <= 4; k++) expect(cells(t, `gL${5 - k}`)).toEqual([1, 2, 3, 4, 5].map((i) => String(5 * (k - 1) + i)));
    expect(cells(t, 'GPA')).toEqual(['21', '22', '23', '24', '-']);
    expect(t).toMatch(/guest 4 \+ nested 20 = 24/);
  });

  test('2 MiB EPT pages: the nL1 column is empty and the PDE row is the last guest row', () => {
    const t = renderWalkGrid(explain({ ept: { pageSize: '2M' } }));
    expect(cells(t, 'gL4')).toEqual(['1', '2', '3', '.', '4']);
    expect(cells(t, 'GPA')).toEqual(['17', '18', '19', '.', '-']);
  });

  test('every reference is listed with its host-physical address in lowercase 0x hex', () => {
    const x = explain({});
    const t = renderWalkGrid(x);
    for (const r of x.references) expect(t).toContain(`0x${r.address.toString(16)}`);
    expect(t).toMatch(/result: translated: GVA 0x7fff12345678 -> GPA 0x[0-9a-f]+ -> HPA 0x[0-9a-f]+/);
  });

  test('SDM "Exit Qualification for EPT Violations": an exit is decoded bit by bit (write = 1, finalTranslation = 1)', () => {
    const t = renderWalkGrid(explain({}, 'write', false, { firstTouch: true }));
    expect(t).toMatch(/VM exit 48 EPT_VIOLATION/);
    expect(t).toMatch(/bit {2}1 {2}write\s+1/);
    expect(t).toMatch(/bit {2}0 {2}read\s+0/);
    expect(t).toMatch(/bit {2}8 {2}finalTranslation\s+1/);
  });

  test('SDM "Interrupt 14—Page-Fault Exception": a guest #PF shows its error-code bits', () => {
    const t = renderWalkGrid(explain({}, 'write', false, { flags: 'r' }));
    expect(t).toMatch(/guest #PF \(vector 14\), error code 0x3/);
    expect(t).toMatch(/W\/R\s+1/);
    expect(t).not.toMatch(/^GPA/m);
  });

  test('plain text: no ANSI escape sequences (NO_COLOR holds)', () => {
    expect(renderWalkGrid(explain({})).includes('\u001b[')).toBe(false);
  });
});
