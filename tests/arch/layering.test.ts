// Style guide "Layout": dependencies point one way, arch <- ept, guest <- mmu <- vmx <- replay <- report <- cli,
// ept and guest never import each other, and there are no import cycles. eslint.config.js states the same rule
// per folder; this test checks the whole graph, cycles included.
import * as fs from 'fs';
import * as path from 'path';

const SRC = path.join(__dirname, '..', '..', 'src');
const RANK: Record<string, number> = { arch: 0, ept: 1, guest: 1, mmu: 2, vmx: 3, replay: 4, report: 5, cli: 6 };

const files = (dir: string): string[] =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));

const importsOf = (file: string): string[] => {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'/gm)) {
    const base = path.resolve(path.dirname(file), m[1]);
    const cand = [base + '.ts', path.join(base, 'index.ts')].find((c) => fs.existsSync(c));
    if (cand !== undefined) out.push(cand);
  }
  return out;
};

const layerOf = (file: string): string => path.relative(SRC, file).split(path.sep)[0];

describe('module layering', () => {
  const all = files(SRC);
  const graph = new Map(all.map((f) => [f, importsOf(f)]));

  it('every folder of src is a known layer', () => {
    for (const f of all) expect(Object.keys(RANK)).toContain(layerOf(f));
  });

  it('imports point one way and ept/guest do not import each other', () => {
    const bad: string[] = [];
    for (const [f, deps] of graph) {
      for (const d of deps) {
        const a = layerOf(f);
        const b = layerOf(d);
        if (a !== b && RANK[b] >= RANK[a]) bad.push(`${path.relative(SRC, f)} -> ${path.relative(SRC, d)}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('there are no import cycles', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, stack: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') { cycles.push([...stack.slice(stack.indexOf(f)), f].map((x) => path.relative(SRC, x)).join(' -> ')); return; }
      state.set(f, 'open');
      for (const d of graph.get(f) ?? []) visit(d, [...stack, f]);
      state.set(f, 'done');
    };
    for (const f of all) visit(f, []);
    expect(cycles).toEqual([]);
  });
});
