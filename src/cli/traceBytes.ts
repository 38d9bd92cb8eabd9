/**
 * Trace files read as bytes straight into packed chunks (packedChunk.ts), for the decode worker: no text pieces, no
 * string per line, no event object for the common lines. The same chunks as `eventChunks(io, file, format, size)`:
 * lines end at LF, CR LF or CR; a chunk is yielded as soon as it holds `size` events; `bytes` counts each line's
 * characters plus one. The common lines are read here byte by byte: lackey's `I  addr,size` and ` L|S|M addr,size`,
 * and the JSON-lines memory accesses that src/guest/traceCodec.ts `fastParseAt` reads. Every other line (or one
 * holding a byte above 127) is decoded as text by the same decoders as eventChunks: its events, a skip, or the
 * InputError.
 * Models nothing architectural.
 */
import { closeSync, openSync, readSync } from 'fs';
import { InputError } from '../arch/problem';
import { isLeft } from 'fp-ts/Either';
import type { GuestEvent, MemoryAccess } from '../guest/events';
import { hexDigit } from '../guest/hexScan';
import { lackeyInto } from '../guest/lackey';
import { decodeTraceLine } from '../guest/traceCodec';
import { KNOWN, type PackedChunk } from './packedChunk';
import type { TraceFormat } from './traceSource';

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
  defs: GuestEvent[];
  reset: boolean;
}

const filling = (size: number): Filling => ({
  n: 0, codes: new Uint8Array(size + 1), gvas: new Float64Array(size + 1), sizes: new Uint16Array(size + 1), defs: [], reset: false,
});

const put = (f: Filling, code: number, gva: number, size: number): void => {
  f.codes[f.n] = code;
  f.gvas[f.n] = gva;
  f.sizes[f.n] = size;
  f.n++;
};

/** The value of the digits a run below scanned (exact up to 13 hex or 15 decimal digits; callers refuse longer runs). */
const scanned = { value: 0 };

/** The hex digits from `b[i]` (before `end`): their value in `scanned`, the index after them returned. */
const hexRun = (b: Uint8Array, i: number, end: number): number => {
  let v = 0;
  for (; i < end; i++) {
    const d = HEX[b[i]];
    if (d < 0) break;
    v = v * 16 + d;
  }
  scanned.value = v;
  return i;
};

/** The decimal digits from `b[i]` (before `end`): their value in `scanned`, the index after them returned. */
const decimalRun = (b: Uint8Array, i: number, end: number): number => {
  let v = 0;
  for (; i < end; i++) {
    const c = b[i];
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
  }
  scanned.value = v;
  return i;
};

/**
 * A common record in `b[start, end)` put into `f` (true), or false: not one of those forms (the text path decides).
 * The byte twin of src/guest/lackey.ts `lackeyAt`; codes are packedChunk's (op * 2 + user, every record user).
 */
const lackeyAt = (b: Uint8Array, start: number, end: number, f: Filling): boolean => {
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
  i = hexRun(b, i, end);
  const addr = scanned.value;
  if (i === h0 || i - h0 > 13 || i >= end || b[i] !== 44) return false;
  i++;
  const s0 = i;
  i = decimalRun(b, i, end);
  const size = scanned.value;
  if (i === s0 || i - s0 > 4 || i !== end || size === 0 || size > 4096) return false;
  if (code < 0) {
    put(f, 1, addr, size);
    put(f, 3, addr, size);
  } else {
    put(f, code, addr, size);
  }
  return true;
};

/** A literal's bytes, and the same as little-endian 32-bit words (its last `length % 4` bytes aside). */
interface Literal { readonly bytes: Uint8Array; readonly words: Uint32Array }
const literal = (s: string): Literal => {
  const bytes = Uint8Array.from(s, (c) => c.charCodeAt(0));
  const words = new Uint32Array(bytes.length >>> 2);
  for (let k = 0; k < words.length; k++) words[k] = (bytes[4 * k] | (bytes[4 * k + 1] << 8) | (bytes[4 * k + 2] << 16) | (bytes[4 * k + 3] << 24)) >>> 0;
  return { bytes, words };
};
const OP_OPEN = literal('{"op":"');
const READ_Q = literal('read"');
const WRITE_Q = literal('write"');
const FETCH_Q = literal('fetch"');
const GVA_OPEN = literal(',"gva":"0x');
const SIZE_KEY = literal(',"size":');
const USER_KEY = literal(',"user":');
const TRUE = literal('true');
const FALSE = literal('false');

/** The bytes of `lit` at `b[i]` (`dv` views the same bytes), before `end`? Compared four bytes at a time. */
const at = (b: Uint8Array, dv: DataView, i: number, end: number, lit: Literal): boolean => {
  const n = lit.bytes.length;
  if (i + n > end) return false;
  const w = lit.words;
  for (let k = 0; k < w.length; k++) if (dv.getUint32(i + 4 * k, true) !== w[k]) return false;
  for (let k = w.length * 4; k < n; k++) if (b[i + k] !== lit.bytes[k]) return false;
  return true;
};

/**
 * The JSON-lines memory access `b[start, end)` put into `f` (true), or false: not exactly the form that
 * src/guest/traceCodec.ts `fastParseAt` reads (the text path decides). Its byte twin.
 */
const jsonlAt = (b: Uint8Array, dv: DataView, start: number, end: number, f: Filling): boolean => {
  let i = start;
  if (!at(b, dv, i, end, OP_OPEN)) return false;
  i += 7;
  let op: number;
  if (at(b, dv, i, end, READ_Q)) { op = 0; i += 5; } else if (at(b, dv, i, end, WRITE_Q)) { op = 1; i += 6; } else if (at(b, dv, i, end, FETCH_Q)) { op = 2; i += 6; } else return false;
  if (!at(b, dv, i, end, GVA_OPEN)) return false;
  i += 10;
  const h0 = i;
  i = hexRun(b, i, end);
  const addr = scanned.value;
  if (i === h0 || i - h0 > 13 || i >= end || b[i] !== 34) return false;
  i++;
  let size = 1;
  if (at(b, dv, i, end, SIZE_KEY)) {
    i += 8;
    const s0 = i;
    if (i >= end || b[i] === 48) return false;
    i = decimalRun(b, i, end);
    size = scanned.value;
    if (i === s0 || i - s0 > 4 || size > 4096) return false;
  }
  let user = 1;
  if (at(b, dv, i, end, USER_KEY)) {
    i += 8;
    if (at(b, dv, i, end, TRUE)) i += 4;
    else if (at(b, dv, i, end, FALSE)) { user = 0; i += 5; } else return false;
  }
  if (i !== end - 1 || b[i] !== 125) return false;
  put(f, op * 2 + user, addr, size);
  return true;
};

/** A packed code's op part (op * 2) by access op. */
const OP_CODE: Record<MemoryAccess['op'], number> = { read: 0, write: 2, fetch: 4 };

/** The reading state of one file. */
interface Reader {
  readonly file: string;
  readonly jsonl: boolean;
  /** the read buffer as a DataView (for the JSON fast path's 4-byte compares) */
  dv: DataView;
  lineNo: number;
  bytes: number;
  f: Filling;
  readonly slow: GuestEvent[];
  /** JSON lines the text decoder decoded: the line's text -> its number in the run's dictionary (packedChunk.ts) */
  readonly decoded: Map<string, number>;
  /** lines remembered before the dictionary starts again (at a chunk's start) */
  readonly decodedMax: number;
}

/** Decoded JSON lines remembered (then forgotten all at once, at the start of a chunk). */
const DECODED_MAX = 4096;

/** A new chunk to fill; the dictionary starts again with it when it is full. */
const nextFilling = (r: Reader, size: number): Filling => {
  const f = filling(size);
  if (r.decoded.size >= r.decodedMax) { r.decoded.clear(); f.reset = true; }
  return f;
};

/** The line `b[from, to)` decoded into `r.f`. */
const decodeLine = (r: Reader, b: Buffer, from: number, to: number): void => {
  r.lineNo++;
  if (r.jsonl ? jsonlAt(b, r.dv, from, to, r.f) : lackeyAt(b, from, to, r.f)) {
    r.bytes += to - from + 1;
    return;
  }
  let ascii = true;
  for (let k = from; k < to; k++) if (b[k] > 127) { ascii = false; break; }
  const text = b.toString(ascii ? 'latin1' : 'utf8', from, to);
  r.bytes += text.length + 1;
  if (r.jsonl) {
    // a line decoded before is the same (immutable) event again, sent as its number in the run's dictionary: an
    // instruction trace repeats its lines, and both decoding one and copying its event between threads cost
    let id = r.decoded.get(text);
    if (id === undefined) {
      const d = decodeTraceLine(text, r.lineNo, r.file);
      if (isLeft(d)) throw new InputError(d.left);
      if (d.right === null) return;
      id = r.decoded.size;
      r.decoded.set(text, id);
      r.f.defs.push(d.right);
    }
    r.f.codes[r.f.n] = KNOWN;
    r.f.gvas[r.f.n] = id;
    r.f.n++;
    return;
  }
  const slow = r.slow;
  slow.length = 0;
  const res = lackeyInto(text, slow);
  if (res !== null && res.kind === 'malformed') throw new InputError({ _tag: 'InputProblem', file: r.file, line: r.lineNo, expected: res.expected, found: res.found });
  // lackey's records are memory accesses of at most 4096 bytes
  for (const e of slow) { const a = e as MemoryAccess; put(r.f, OP_CODE[a.op] + (a.user ? 1 : 0), a.gva, a.size); }
};

const packed = (r: Reader): PackedChunk => ({ n: r.f.n, codes: r.f.codes, gvas: r.f.gvas, sizes: r.f.sizes, defs: r.f.defs, reset: r.f.reset, bytes: r.bytes });

/**
 * The packed chunks of a trace file; throws InputError at a bad line, after the chunks before it. `readBytes`: bytes
 * read at a time, `decodedMax`: JSON lines remembered (tests make them small: lines cut between reads, dictionaries
 * started again).
 */
export function* packedChunks(file: string, format: TraceFormat, size = 4096, readBytes = READ_BYTES, decodedMax = DECODED_MAX): Generator<PackedChunk> {
  const fd = openSync(file, 'r');
  try {
    let buf = Buffer.allocUnsafe(readBytes * 2);
    let have = 0; // bytes in buf
    let eof = false;
    const r: Reader = { file, jsonl: format === 'jsonl', dv: new DataView(buf.buffer, buf.byteOffset, buf.length), lineNo: 0, bytes: 0, f: filling(size), slow: [], decoded: new Map(), decodedMax };
    let viewed = buf; // the buffer r.dv views
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
      if (viewed !== buf) { r.dv = new DataView(buf.buffer, buf.byteOffset, buf.length); viewed = buf; }
      let i = start;
      if (skipLf && i < have) { if (b[i] === 10) { i++; start = i; } skipLf = false; }
      if (b.indexOf(13, i) < 0) {
        // no CR: every line ends at a LF (found by the native search)
        for (let j = b.indexOf(10, i); j >= 0; j = b.indexOf(10, i)) {
          decodeLine(r, b, i, j);
          i = j + 1;
          if (r.f.n >= size) {
            yield packed(r);
            r.f = nextFilling(r, size);
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
          r.f = nextFilling(r, size);
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
