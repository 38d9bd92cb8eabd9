// Style guide rule 4: every bit layout of the model (one declaration per SDM table) is well-formed: fields inside
// the width, no two fields overlapping, listed low to high, names unique. This test finds the layouts by loading
// every module that declares one and checking every exported Layout value, so a new table cannot skip the check.
import fc from 'fast-check';
import * as L from '../../src/arch/layout';
import * as EptEntries from '../../src/ept/entries';
import * as Eptp from '../../src/ept/eptp';
import * as EptQual from '../../src/ept/qualification';
import * as GuestPaging from '../../src/guest/paging';
import * as Controls from '../../src/vmx/controls';
import * as Qualifications from '../../src/vmx/qualifications';

const isLayout = (v: unknown): v is L.Layout =>
  typeof v === 'object' && v !== null && 'fields' in v && 'byName' in v && 'width' in v && 'source' in v;

const modules: Record<string, Record<string, unknown>> = {
  'ept/entries': EptEntries, 'ept/eptp': Eptp, 'ept/qualification': EptQual, 'guest/paging': GuestPaging,
  'vmx/controls': Controls, 'vmx/qualifications': Qualifications,
};
const layouts: [string, L.Layout][] = [];
for (const [mod, exports] of Object.entries(modules)) {
  for (const [name, v] of Object.entries(exports)) if (isLayout(v)) layouts.push([`${mod}.${name}`, v]);
}

describe('every SDM layout table of the model', () => {
  it('there are layouts in every declaring module', () => {
    for (const mod of Object.keys(modules)) expect(layouts.some(([n]) => n.startsWith(mod + '.'))).toBe(true);
  });

  it.each(layouts)('%s is well-formed (fields in range, no overlap, ascending, unique)', (_name, layout) => {
    expect(L.problems(layout)).toEqual([]);
    expect([16, 32, 64]).toContain(layout.width);
    expect(layout.source).not.toBe('');
  });

  it.each(layouts)('%s: encode then decode gives every field back (property)', (_name, layout) => {
    const fieldVals = fc.record(Object.fromEntries(layout.fields.map((f) => [f.name, fc.bigInt({ min: 0n, max: (1n << BigInt(f.width)) - 1n })])));
    fc.assert(fc.property(fieldVals, (vals) => {
      const v = L.encode(layout, vals);
      expect(L.decode(layout, v)).toEqual(vals);
      expect(L.undeclaredBits(layout, v)).toBe(0n);
    }), { numRuns: 50 });
  });
});
