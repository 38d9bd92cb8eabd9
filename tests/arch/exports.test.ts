// A module that re-exports an imported binding (`export { x } from './y'`, `export * from`, or `export { x }` of an
// import) compiles (CommonJS) to a getter on its exports object, which puts that object in V8's slow (dictionary)
// mode: then every `module.name` read in another module, every call of its functions included, is a generic
// property load (~100 instructions). src/vmx/step.ts re-exported three names and cost the replay loop ~700
// instructions per TLB miss this way (docs/BENCH.md, stop 15). Only the report model, read once per report, still
// re-exports (its tests import the statistics through it).
import * as fs from 'fs';
import * as path from 'path';

const SRC = path.join(__dirname, '..', '..', 'src');
const ALLOWED = new Set([path.join('report', 'model.ts')]);

const files = (dir: string): string[] =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));

/** The re-exports of `text`: `export ... from` and `export *` statements, and `export { ... }` naming an import. */
const reExports = (text: string): string[] => {
  const out: string[] = [];
  for (const m of text.matchAll(/^export\s+(?:\*|\{[^}]*\})\s+from\s+'[^']+'/gm)) out.push(m[0]);
  const imported = new Set<string>();
  for (const m of text.matchAll(/^import\s+(?:type\s+)?\{([^}]*)\}\s+from/gm)) {
    for (const part of m[1].split(',')) {
      const name = part.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop()?.trim();
      if (name !== undefined && name !== '') imported.add(name);
    }
  }
  for (const m of text.matchAll(/^export\s+\{([^}]*)\}\s*;/gm)) {
    for (const part of m[1].split(',')) {
      const name = part.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0].trim();
      if (imported.has(name)) out.push(`export { ${name} }`);
    }
  }
  return out;
};

describe('module exports', () => {
  it('the re-export finder sees the three forms (and not an export of a local name)', () => {
    expect(reExports("import { a, b as c } from './x';\nexport { c };\n")).toEqual(['export { c }']);
    expect(reExports("export { a } from './x';\nexport * from './y';\n")).toHaveLength(2);
    expect(reExports("import { a } from './x';\nconst b = a;\nexport { b };\n")).toEqual([]);
  });

  it('no module of src re-exports an import (its exports object would be slow for every importer)', () => {
    const found = files(SRC)
      .filter((f) => !ALLOWED.has(path.relative(SRC, f)))
      .flatMap((f) => reExports(fs.readFileSync(f, 'utf8')).map((r) => `${path.relative(SRC, f)}: ${r}`));
    expect(found).toEqual([]);
  });
});
