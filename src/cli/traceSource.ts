/**
 * Streaming trace input: a `.jsonl` trace or valgrind lackey output, read line by line and decoded at the boundary
 * into guest events, in chunks (memory does not grow with the trace length). A bad line stops the run with an
 * InputError naming the file, the line, the field, what was expected and what was found.
 */
import { isLeft } from 'fp-ts/Either';
import type { GuestEvent } from '../guest/events';
import { decodeTraceLine, fastParseAt } from '../guest/traceCodec';
import { lackeyAt, lackeyInto } from '../guest/lackey';
import { AccessInterner } from '../guest/intern';
import { InputError } from '../arch/problem';
import type { Io } from './io';
import { open } from 'fs/promises';
import { StringDecoder } from 'string_decoder';

export type TraceFormat = 'jsonl' | 'lackey';

/** `auto`: .jsonl is JSON lines; otherwise the first meaningful line decides ({ → JSON lines, else lackey). */
export const detectFormat = async (io: Io, file: string, requested: string): Promise<TraceFormat> => {
  if (requested === 'jsonl' || requested === 'lackey') return requested;
  if (file.endsWith('.jsonl')) return 'jsonl';
  for await (const line of io.lines(file)) {
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t.startsWith('==')) continue;
    return t.startsWith('{') ? 'jsonl' : 'lackey';
  }
  return 'jsonl';
};

export interface Chunk {
  readonly events: GuestEvent[];
  /** bytes of input consumed so far (for progress) */
  readonly bytes: number;
}

/**
 * An optional capability of an `Io`: the file as text pieces of any length (e.g. a 1 MiB read stream), with no line
 * structure. Splitting lines here costs a fraction of readline's per-line async iteration; without it, `io.lines`.
 */
export interface TextChunksIo {
  readonly textChunks?: (path: string) => AsyncIterable<string>;
}

/** Bytes read per piece by `fileTextPieces`. */
export const PIECE_BYTES = 1 << 18;

/**
 * A file as UTF-8 text pieces, read into one reused buffer (a `textChunks` for the real Io). A read stream allocates a
 * fresh Buffer per read; those outlive the young generation while the piece is replayed and pile up (30+ MB of
 * ArrayBuffers at 1 MiB pieces) until a full GC. A multi-byte character split between reads is kept for the next.
 */
export async function* fileTextPieces(file: string, pieceBytes = PIECE_BYTES): AsyncGenerator<string> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafeSlow(pieceBytes);
    const utf8 = new StringDecoder('utf8');
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, pieceBytes, null);
      if (bytesRead === 0) break;
      const s = utf8.write(buf.subarray(0, bytesRead));
      if (s !== '') yield s;
    }
    const tail = utf8.end();
    if (tail !== '') yield tail;
  } finally {
    await fh.close();
  }
}

const LINE_BREAK = /\r\n|\n|\r/;

/** The state of one decoding pass (local to eventChunks). */
interface Decoder {
  readonly file: string;
  readonly format: TraceFormat;
  events: GuestEvent[];
  lineNo: number;
  bytes: number;
  /** equal memory accesses share one event object (most of a recorded program's records repeat) */
  readonly intern: AccessInterner;
}

/** Decodes the line `text[start, end)`; the fast paths read it in place, the rest gets the line as a string. */
const decodeAt = (d: Decoder, text: string, start: number, end: number): void => {
  d.lineNo++;
  d.bytes += end - start + 1;
  if (d.format === 'jsonl') {
    const fast = fastParseAt(text, start, end, d.intern);
    if (fast !== undefined) { d.events.push(fast); return; }
    const r = decodeTraceLine(text.slice(start, end), d.lineNo, d.file);
    if (isLeft(r)) throw new InputError(r.left);
    if (r.right !== null) d.events.push(r.right);
    return;
  }
  if (lackeyAt(text, start, end, d.events, d.intern)) return;
  const r = lackeyInto(text.slice(start, end), d.events);
  if (r !== null && r.kind === 'malformed') throw new InputError({ _tag: 'InputProblem', file: d.file, line: d.lineNo, expected: r.expected, found: r.found });
};

/**
 * Decoded events in chunks of about `size`. Throws InputError on the first malformed line. With `io.textChunks`, lines
 * are split here as readline splits them (CR LF, LF or CR ends a line; a last line without a newline counts).
 */
export async function* eventChunks(io: Pick<Io, 'lines'> & TextChunksIo, file: string, format: TraceFormat, size = 4096): AsyncGenerator<Chunk> {
  const d: Decoder = { file, format, events: [], lineNo: 0, bytes: 0, intern: new AccessInterner() };
  const pieces = io.textChunks;
  if (pieces === undefined) {
    for await (const line of io.lines(file)) {
      decodeAt(d, line, 0, line.length);
      if (d.events.length >= size) { yield { events: d.events, bytes: d.bytes }; d.events = []; }
    }
  } else {
    let rest = '';
    let pendingCr = false;
    for await (const piece of pieces(file)) {
      // a CR at the end of the previous piece already ended its line: a LF right after it is that same break
      const from = pendingCr && piece.charCodeAt(0) === 10 ? 1 : 0;
      pendingCr = false;
      if (piece.indexOf('\r', from) < 0) {
        // the piece is read in place: only the line cut by the previous piece's end is joined (`rest + piece`
        // would flatten a copy of the whole piece)
        let i = from;
        let j = piece.indexOf('\n', i);
        if (rest !== '') {
          if (j < 0) { rest += piece.slice(i); continue; }
          const first = rest + piece.slice(i, j);
          rest = '';
          decodeAt(d, first, 0, first.length);
          i = j + 1;
          if (d.events.length >= size) { yield { events: d.events, bytes: d.bytes }; d.events = []; }
          j = piece.indexOf('\n', i);
        }
        for (; j >= 0; j = piece.indexOf('\n', i)) {
          decodeAt(d, piece, i, j);
          i = j + 1;
          if (d.events.length >= size) { yield { events: d.events, bytes: d.bytes }; d.events = []; }
        }
        rest = piece.slice(i);
      } else {
        const text = rest + (from === 1 ? piece.slice(1) : piece);
        const parts = text.split(LINE_BREAK);
        rest = parts.pop() ?? '';
        if (rest === '' && text.endsWith('\r')) pendingCr = true;
        for (const l of parts) {
          decodeAt(d, l, 0, l.length);
          if (d.events.length >= size) { yield { events: d.events, bytes: d.bytes }; d.events = []; }
        }
      }
    }
    if (rest !== '') decodeAt(d, rest, 0, rest.length);
  }
  if (d.events.length > 0) yield { events: d.events, bytes: d.bytes };
}
