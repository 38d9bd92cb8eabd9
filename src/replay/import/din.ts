/**
 * Importer `din`: Dinero IV input format, `label address` per line, label 0 read, 1 write, 2 instruction fetch
 * (addresses in hex without 0x); labels 3 (escape) and 4 (cache flush) have no guest event and are kept as comments.
 * Every access is size 1 and user mode (din carries neither).
 */
import { gva } from '../../arch/addr';
import { event, malformed, type ImportItem, type ImportOptions } from './common';

const LINE = /^\s*([0-4])\s+(?:0x)?([0-9a-fA-F]{1,13})(?:\s+\S+)?\s*$/;
const OPS = ['read', 'write', 'fetch'] as const;

export async function* importDin(lines: AsyncIterable<string>, opts: ImportOptions = {}): AsyncGenerator<ImportItem> {
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const m = LINE.exec(line);
    if (m === null) { yield malformed(opts, n, 'a din record "<label 0-4> <hex address>"', JSON.stringify(line.trim())); continue; }
    const label = Number(m[1]);
    if (label > 2) { yield { kind: 'comment', text: `din label ${label} (${label === 3 ? 'escape' : 'flush'}) ${m[2]}` }; continue; }
    yield event({ op: OPS[label], gva: gva(parseInt(m[2], 16)), size: 1, user: true });
  }
}
