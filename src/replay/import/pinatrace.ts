/**
 * Importer `pinatrace`: Intel Pin's pinatrace tool (`ip: R|W addr`, e.g. `0x7f1c2ab3: W 0x7ffd5e8c`), one data
 * access per line. Pin records user-mode accesses without a size, so each event has size 1 and user true.
 * `#` lines (`#eof`) and blank lines are skipped.
 */
import { gva } from '../../arch/addr';
import { event, malformed, type ImportItem, type ImportOptions } from './common';

const LINE = /^\s*0x[0-9a-fA-F]+:\s+([RW])\s+0x([0-9a-fA-F]{1,13})\s*$/;

export async function* importPinatrace(lines: AsyncIterable<string>, opts: ImportOptions = {}): AsyncGenerator<ImportItem> {
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const m = LINE.exec(line);
    if (m === null) { yield malformed(opts, n, 'a pinatrace record "0x<ip>: R|W 0x<addr>" (user address < 2^52)', JSON.stringify(line.trim())); continue; }
    yield event({ op: m[1] === 'R' ? 'read' : 'write', gva: gva(parseInt(m[2], 16)), size: 1, user: true });
  }
}
