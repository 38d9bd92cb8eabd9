/** Importer `lackey`: valgrind lackey memory records (src/guest/lackey.ts) to trace events. */
import { parseLackeyLine } from '../../guest/lackey';
import { event, malformed, type ImportItem, type ImportOptions } from './common';

export async function* importLackey(lines: AsyncIterable<string>, opts: ImportOptions = {}): AsyncGenerator<ImportItem> {
  let n = 0;
  for await (const line of lines) {
    n++;
    const p = parseLackeyLine(line);
    switch (p.kind) {
      case 'skip': break;
      case 'events': for (const e of p.events) yield event(e); break;
      case 'malformed': yield malformed(opts, n, p.expected, p.found); break;
      default: { const x: never = p; throw new Error(String(x)); }
    }
  }
}
