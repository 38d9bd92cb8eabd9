/**
 * Streaming trace input: a `.jsonl` trace or valgrind lackey output, read line by line and decoded at the boundary
 * into guest events, in chunks (memory does not grow with the trace length). A bad line stops the run with an
 * InputError naming the file, the line, the field, what was expected and what was found.
 */
import { isLeft } from 'fp-ts/Either';
import type { GuestEvent } from '../guest/events';
import { decodeTraceLine } from '../guest/traceCodec';
import { parseLackeyLine } from '../guest/lackey';
import { InputError } from '../arch/problem';
import type { Io } from './io';

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

/** Decoded events in chunks of about `size`. Throws InputError on the first malformed line. */
export async function* eventChunks(io: Io, file: string, format: TraceFormat, size = 4096): AsyncGenerator<Chunk> {
  let events: GuestEvent[] = [];
  let lineNo = 0;
  let bytes = 0;
  for await (const line of io.lines(file)) {
    lineNo++;
    bytes += line.length + 1;
    if (format === 'jsonl') {
      const r = decodeTraceLine(line, lineNo, file);
      if (isLeft(r)) throw new InputError(r.left);
      if (r.right !== null) events.push(r.right);
    } else {
      const r = parseLackeyLine(line);
      if (r.kind === 'malformed') throw new InputError({ _tag: 'InputProblem', file, line: lineNo, expected: r.expected, found: r.found });
      if (r.kind === 'events') for (const e of r.events) events.push(e);
    }
    if (events.length >= size) {
      yield { events, bytes };
      events = [];
    }
  }
  if (events.length > 0) yield { events, bytes };
}
