/**
 * Valgrind lackey traces read as bytes straight into packed chunks (packedChunk.ts), for the decode worker: no text
 * pieces, no string per line, no event object. The same chunks as `eventChunks(io, file, 'lackey', size)`: lines end
 * at LF, CR LF or CR; a chunk is yielded as soon as it holds `size` events; `bytes` counts each line's characters
 * plus one. A line that is not one of the common records (`I  addr,size`, ` L|S|M addr,size`), or that holds a
 * byte above 127, is decoded as text by src/guest/lackey.ts (its events, a skip, or the InputError of eventChunks).
 * Models nothing architectural.
 */
import { closeSync, openSync, readSync } from 'fs';
import { InputError } from '../arch/problem';
import type { GuestEvent, MemoryAccess } from '../guest/events';
import { hexDigit } from '../guest/hexScan';
import { lackeyInto } from '../guest/lackey';
import type { PackedChunk } from './packedChunk';

/** Each byte's hex digit value, -1 for a byte that is not one. */
const HEX = Int8Array.from({ length: 256 }, (_, c) => hexDigit(c));

/** Bytes read at a time. */
const READ_BYTES = 1 << 20;

/** One chunk being filled. */
interface Filling {
  n: number;
  codes: Uint8Array;
  gvas: Float64Array;
  sizes: Uint16Array;
}

const filling = (size: number): Filling => ({ n: 0, codes: new Uint8Array(size + 1), gvas: new Float64Array(size + 1), sizes: new Uint16Array(size + 1) });

const put = (f: Filling, code: number, gva: number, size: number): void => {
  f.codes[f.n] = code;
  f.gvas[f.n] = gva;
  f.sizes[f.n] = size;
  f.n++;
};

/**
 * A common record in `b[start, end)` put into `f` (true), or false: not one of those forms (the text path decides).
 * The byte twin of src/guest/lackey.ts `lackeyAt`; codes are packedChunk's (op * 2 + user, every record user).
 */
const recordAt = (b: Uint8Array, start: number, end: number, f: Filling): boolean => {
  if (end - start < 5) return false;
  const c0 = b[start];
  const c1 = b[start + 1];
  let code: number; // packed code; -1 for a modify (a read, then a write)
  if (c0 === 73 && c1 === 32) code = 5; // "I ": fetch, user
  else if (c0 === 32 && c1 === 76) code = 1; // " L": read, user
  else if (c0 === 32 && c1 === 83) code = 3; // " S": write, user
  else if (c0 === 32 && c1 === 77) code = -1; // " M"
  else return false;
  let i = start + 2;
  if (b[i] !== 32) return false;
  while (i < end && b[i] === 32) i++;
  const h0 = i;
  let addr = 0;
  for (; i < end; i++) {
    const d = HEX[b[i]];
    if (d < 0) break;
    addr = addr * 16 + d;
  }
  if (i === h0 || i - h0 > 13 || i >= end || b[i] !== 44) return false;
  i++;
  const s0 = i;
  let size = 0;
  for (; i < end; i++) {
    const c = b[i];
    if (c < 48 || c > 57) break;
    size = size * 10 + (c - 48);
  }
  if (i === s0 || i - s0 > 4 || i !== end || size === 0 || size > 4096) return false;
  if (code < 0) {
    put(f, 1, addr, size);
    put(f, 3, addr, size);
  } else {
    put(f, code, addr, size);
  }
  return true;
};

const CODE: Record<string, number> = { read: 0, write: 2, fetch: 4 };

/** The reading state of one file. */
interface Reader {
  readonly file: string;
  lineNo: number;
  bytes: number;
  f: Filling;
  readonly slow: GuestEvent[];
}

/** The line `b[from, to)` decoded into `r.f`. */
const decodeLine = (r: Reader, b: Buffer, from: number, to: number): void => {
  r.lineNo++;
  if (recordAt(b, from, to, r.f)) {
    r.bytes += to - from + 1;
    return;
  }
  let ascii = true;
  for (let k = from; k < to; k++) if (b[k] > 127) { ascii = false; break; }
  const text = b.toString(ascii ? 'latin1' : 'utf8', from, to);
  const slow = r.slow;
  slow.length = 0;
  const res = lackeyInto(text, slow);
  if (res !== null && res.kind === 'malformed') throw new InputError({ _tag: 'InputProblem', file: r.file, line: r.lineNo, expected: res.expected, found: res.found });
  for (const e of slow) { const a = e as MemoryAccess; put(r.f, CODE[a.op] + (a.user ? 1 : 0), a.gva, a.size); }
  r.bytes += text.length + 1;
};

const packed = (r: Reader): PackedChunk => ({ n: r.f.n, codes: r.f.codes, gvas: r.f.gvas, sizes: r.f.sizes, others: [], bytes: r.bytes });

/**
 * The packed chunks of a lackey trace file; throws InputError at a bad line, after the chunks before it. `readBytes`:
 * bytes read at a time (tests make it small to cut lines between reads).
 */
export function* packedLackeyChunks(file: string, size = 4096, readBytes = READ_BYTES): Generator<PackedChunk> {
  const fd = openSync(file, 'r');
  try {
    let buf = Buffer.allocUnsafe(readBytes * 2);
    let have = 0; // bytes in buf
    let eof = false;
    const r: Reader = { file, lineNo: 0, bytes: 0, f: filling(size), slow: [] };
    let start = 0; // first byte of the current line
    let skipLf = false; // the previous line ended with a CR: a LF right after it is that same break
    for (;;) {
      if (!eof) {
        // keep the unfinished line at the front and read after it
        if (start > 0) { buf.copy(buf, 0, start, have); have -= start; start = 0; }
        if (buf.length - have < readBytes) { const bigger = Buffer.allocUnsafe(buf.length * 2); buf.copy(bigger, 0, 0, have); buf = bigger; }
        const got = readSync(fd, buf, have, Math.min(readBytes, buf.length - have), null);
        if (got === 0) eof = true;
        have += got;
      }
      const b = buf.subarray(0, have);
      let i = start;
      if (skipLf && i < have) { if (b[i] === 10) { i++; start = i; } skipLf = false; }
      if (b.indexOf(13, i) < 0) {
        // no CR: every line ends at a LF (found by the native search)
        for (let j = b.indexOf(10, i); j >= 0; j = b.indexOf(10, i)) {
          decodeLine(r, b, i, j);
          i = j + 1;
          if (r.f.n >= size) {
            yield packed(r);
            r.f = filling(size);
          }
        }
        start = i;
        i = have;
      }
      for (; i < have; i++) {
        const c = b[i];
        if (c !== 10 && c !== 13) continue;
        decodeLine(r, b, start, i);
        if (c === 13) {
          if (i + 1 < have) { if (b[i + 1] === 10) i++; } else skipLf = true;
        }
        start = i + 1;
        if (r.f.n >= size) {
          yield packed(r);
          r.f = filling(size);
        }
      }
      if (eof) {
        if (start < have) decodeLine(r, b, start, have);
        break;
      }
    }
    if (r.f.n > 0) yield packed(r);
  } finally {
    closeSync(fd);
  }
}
