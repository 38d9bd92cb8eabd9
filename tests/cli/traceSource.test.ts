/**
 * Streaming trace input (src/cli/traceSource.ts): lines split from text pieces (`io.textChunks`) decode to the same
 * events as readline-style lines (`io.lines`), wherever the pieces are cut (CR LF split across pieces included).
 */
import fc from 'fast-check';
import type { Io } from '../../src/cli/io';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { eventChunks, fileTextPieces, type TextChunksIo } from '../../src/cli/traceSource';
import type { GuestEvent } from '../../src/guest/events';

const ioOf = (lines: readonly string[], pieces?: readonly string[]): Io & TextChunksIo => ({
  readFile: () => '', exists: () => true, writeFileAtomic: () => undefined, stdout: () => undefined, stderr: () => undefined,
  stderrIsTTY: false, env: {}, fileSize: () => 1, atomicWriter: () => { throw new Error('no'); }, onInterrupt: () => () => undefined,
  lines: async function* () { yield* lines; },
  ...(pieces !== undefined ? { textChunks: async function* () { yield* pieces; } } : {}),
});

const all = async (io: Io & TextChunksIo, format: 'jsonl' | 'lackey'): Promise<GuestEvent[]> => {
  const out: GuestEvent[] = [];
  for await (const c of eventChunks(io, 'f', format, 7)) out.push(...c.events);
  return out;
};

const cut = (text: string, at: number[]): string[] => {
  const cuts = [...new Set(at.map((a) => a % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let i = 0;
  for (const c of cuts) { out.push(text.slice(i, c)); i = c; }
  out.push(text.slice(i));
  return out;
};

describe('eventChunks over text pieces', () => {
  it('same events as line by line, for any cut of the text and any line ends (LF, CR LF, CR)', async () => {
    const lackey = fc.constantFrom('I  0400a0,3', ' L 1ffefff8a8,8', ' S 1fff000768,8', ' M 0401000,4', '==12== x', '');
    const jsonl = fc.constantFrom('{"op":"read","gva":"0x1000"}', '{"op":"write","gva":"0x2000","size":8,"user":false}', ' {"op":"fetch","gva":"0x3"} ', '# c', '', '{"op":"rdtsc"}');
    for (const [format, arbLine] of [['lackey', lackey], ['jsonl', jsonl]] as const) {
      await fc.assert(fc.asyncProperty(fc.array(arbLine, { maxLength: 30 }), fc.array(fc.constantFrom('\n', '\r\n', '\r'), { minLength: 30, maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), async (lines, ends, at, lastEnd) => {
          const text = lines.map((l, i) => l + (i < lines.length - 1 || lastEnd ? ends[i] : '')).join('');
          const expected = await all(ioOf(text === '' ? [] : text.split(/\r\n|\n|\r/).filter((_, i, a) => i < a.length - 1 || a[i] !== '')), format);
          expect(await all(ioOf([], cut(text, at)), format)).toEqual(expected);
        }), { numRuns: 150 });
    }
  });
});

describe('fileTextPieces (the real textChunks: one reused read buffer)', () => {
  it('the pieces join to the file decoded as UTF-8, for any piece size, a multi-byte character cut between reads included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vtxsim-pieces-'));
    try {
      // é is 2 bytes, € 3, 😀 4 in UTF-8: pieces of 1 to 5 bytes cut every one of them somewhere
      const text = '{"op":"read"}\n# é € 😀\r\nlast line without newline é€😀';
      const file = join(dir, 't.jsonl');
      writeFileSync(file, text, 'utf8');
      for (const n of [1, 2, 3, 4, 5, 1 << 18]) {
        const pieces: string[] = [];
        for await (const p of fileTextPieces(file, n)) pieces.push(p);
        expect(pieces.join('')).toBe(text);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
