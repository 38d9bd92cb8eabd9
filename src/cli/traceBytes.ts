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
  /** JSON lines the text decoder decoded, by their bytes -> their number in the run's dictionary (packedChunk.ts) */
  readonly decoded: LineMemo;
}

/** Decoded JSON lines remembered (then forgotten all at once, at the start of a chunk). */
const DECODED_MAX = 4096;

/**
 * The JSON lines the text path decoded, remembered by their bytes (no string is made for a line seen before): an
 * open-addressing table of line hashes (linear probing, at most half full) over a byte arena holding each line. Line
 * k (the k-th remembered) is number k of the run's dictionary.
 */
interface LineMemo {
  /** per slot: line number + 1, or 0 for an empty slot (a power-of-two count, more than twice the lines) */
  slots: Int32Array;
  /** per line: its hash, its bytes' start in the arena and their count, and its length in characters */
  hashes: Int32Array;
  starts: Int32Array;
  lens: Int32Array;
  chars: Int32Array;
  arena: Uint8Array;
  /** `arena` as a DataView */
  arenaView: DataView;
  used: number;
  size: number;
  /** lines remembered before the dictionary starts again (at a chunk's start; a chunk may remember more) */
  readonly max: number;
}

const lineMemo = (max: number): LineMemo => {
  const lines = Math.max(8, max);
  const arena = new Uint8Array(64 * lines);
  return {
    slots: new Int32Array(2 ** Math.ceil(Math.log2(2 * lines + 1))), hashes: new Int32Array(lines), starts: new Int32Array(lines),
    lens: new Int32Array(lines), chars: new Int32Array(lines), arena, arenaView: new DataView(arena.buffer), used: 0, size: 0, max,
  };
};

/** Room for twice the lines (the table rebuilt from the lines' hashes). */
const grow = (m: LineMemo): void => {
  const n = 2 * m.hashes.length;
  const more = (a: Int32Array): Int32Array => { const b = new Int32Array(n); b.set(a); return b; };
  m.hashes = more(m.hashes); m.starts = more(m.starts); m.lens = more(m.lens); m.chars = more(m.chars);
  m.slots = new Int32Array(2 * m.slots.length);
  const mask = m.slots.length - 1;
  for (let e = 0; e < m.size; e++) {
    let s = m.hashes[e] & mask;
    while (m.slots[s] !== 0) s = (s + 1) & mask;
    m.slots[s] = e + 1;
  }
};

/** FNV-1a over `b[from, to)` (`dv` views the same bytes), taken four bytes at a time. */
const hashOf = (b: Uint8Array, dv: DataView, from: number, to: number): number => {
  let h = 0x811c9dc5;
  let k = from;
  for (; k + 4 <= to; k += 4) h = Math.imul(h ^ dv.getInt32(k, true), 0x01000193);
  for (; k < to; k++) h = Math.imul(h ^ b[k], 0x01000193);
  return h;
};

/** The slot of the line `b[from, to)` with hash `h`: the one holding it, or the empty slot where it would go. */
const slotOf = (m: LineMemo, b: Uint8Array, dv: DataView, from: number, to: number, h: number): number => {
  const mask = m.slots.length - 1;
  const len = to - from;
  for (let s = h & mask; ; s = (s + 1) & mask) {
    const e = m.slots[s] - 1;
    if (e < 0) return s;
    if (m.hashes[e] !== h || m.lens[e] !== len) continue;
    const a = m.arena;
    const adv = m.arenaView;
    const at = m.starts[e];
    let k = 0;
    while (k + 4 <= len && adv.getInt32(at + k, true) === dv.getInt32(from + k, true)) k += 4;
    while (k < len && a[at + k] === b[from + k]) k++;
    if (k === len) return s;
  }
};

/** Remembers the line `b[from, to)` (`chars` characters, hash `h`), found absent at `slot`; returns its number. */
const remember = (m: LineMemo, slot: number, b: Uint8Array, from: number, to: number, h: number, chars: number): number => {
  const len = to - from;
  if (m.used + len > m.arena.length) {
    const bigger = new Uint8Array(Math.max(2 * m.arena.length, m.used + len));
    bigger.set(m.arena.subarray(0, m.used));
    m.arena = bigger;
    m.arenaView = new DataView(bigger.buffer);
  }
  m.arena.set(b.subarray(from, to), m.used);
  const e = m.size++;
  m.hashes[e] = h; m.starts[e] = m.used; m.lens[e] = len; m.chars[e] = chars;
  m.used += len;
  m.slots[slot] = e + 1;
  if (m.size === m.hashes.length) grow(m);
  return e;
};

const forget = (m: LineMemo): void => {
  m.slots.fill(0);
  m.size = 0;
  m.used = 0;
};

/** A new chunk to fill; the dictionary starts again with it when it is full. */
const nextFilling = (r: Reader, size: number): Filling => {
  const f = filling(size);
  if (r.decoded.size >= r.decoded.max) { forget(r.decoded); f.reset = true; }
  return f;
};

/** The text of `b[from, to)`: its bytes as UTF-8 (as Latin-1, the same characters and faster, when all are ASCII). */
const textOf = (b: Buffer, from: number, to: number): string => {
  let ascii = true;
  for (let k = from; k < to; k++) if (b[k] > 127) { ascii = false; break; }
  return b.toString(ascii ? 'latin1' : 'utf8', from, to);
};

/** The line `b[from, to)` decoded into `r.f`. */
const decodeLine = (r: Reader, b: Buffer, from: number, to: number): void => {
  r.lineNo++;
  if (r.jsonl ? jsonlAt(b, r.dv, from, to, r.f) : lackeyAt(b, from, to, r.f)) {
    r.bytes += to - from + 1;
    return;
  }
  if (r.jsonl) {
    // a line decoded before is the same (immutable) event again, sent as its number in the run's dictionary: an
    // instruction trace repeats its lines, and decoding one, making its string and copying its event between threads
    // all cost
    const m = r.decoded;
    const h = hashOf(b, r.dv, from, to);
    const slot = slotOf(m, b, r.dv, from, to, h);
    let id = m.slots[slot] - 1;
    if (id >= 0) {
      r.bytes += m.chars[id] + 1;
    } else {
      const text = textOf(b, from, to);
      r.bytes += text.length + 1;
      const d = decodeTraceLine(text, r.lineNo, r.file);
      if (isLeft(d)) throw new InputError(d.left);
      if (d.right === null) return;
      id = remember(m, slot, b, from, to, h, text.length);
      r.f.defs.push(d.right);
    }
    r.f.codes[r.f.n] = KNOWN;
    r.f.gvas[r.f.n] = id;
    r.f.n++;
    return;
  }
  const text = textOf(b, from, to);
  r.bytes += text.length + 1;
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
    const r: Reader = { file, jsonl: format === 'jsonl', dv: new DataView(buf.buffer, buf.byteOffset, buf.length), lineNo: 0, bytes: 0, f: filling(size), slow: [], decoded: lineMemo(decodedMax) };
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
