/**
 * Valgrind lackey memory traces (`valgrind --tool=lackey --trace-mem=yes`) as guest events.
 *
 * Models: each lackey record is one user-mode access at a linear address: `I  addr,size` an instruction fetch,
 * ` L addr,size` a load, ` S addr,size` a store, ` M addr,size` a modify (a load then a store to the same bytes,
 * as an x86 read-modify-write instruction performs). Addresses are hex without `0x`; sizes are kept.
 * Valgrind's own `==pid==` lines and blank lines are skipped.
 * Leaves out: which instruction made the access; lackey runs the program in user mode, so every access is
 * `user: true` (CPL 3) and the guest OS model maps the pages on first touch.
 */
import { hexDigit } from './hexScan';
import { gva } from '../arch/addr';
import type { GuestEvent } from './events';
import { FETCH, READ, WRITE, type AccessInterner } from './intern';

export type LackeyLine =
  | { readonly kind: 'events'; readonly events: readonly GuestEvent[] }
  | { readonly kind: 'skip' }
  | { readonly kind: 'malformed'; readonly expected: string; readonly found: string };

const RECORD = /^(I |\sL|\sS|\sM) +([0-9a-fA-F]{1,16}),(\d{1,4})\s*$/;
const SKIP: LackeyLine = { kind: 'skip' };
const EXPECTED = 'a lackey record "I  <hex>,<size>" or " L|S|M <hex>,<size>"';

/** One line of lackey output: its events, a skip, or what was wrong with it. */
export const parseLackeyLine = (line: string): LackeyLine => {
  if (line.trim() === '' || line.startsWith('==')) return SKIP;
  const m = RECORD.exec(line);
  if (m === null) return { kind: 'malformed', expected: EXPECTED, found: JSON.stringify(line.length > 60 ? line.slice(0, 57) + '...' : line) };
  const h = m[2];
  const size = Number(m[3]);
  // user-space addresses fit 47 bits; refuse what a number cannot hold exactly or what is not canonical at 57 bits
  if (h.length > 13 || size === 0 || size > 4096) return { kind: 'malformed', expected: 'a user-mode address (< 2^52) and a size 1-4096', found: JSON.stringify(line.trim()) };
  const a = gva(parseInt(h, 16));
  switch (m[1].trim()) {
    case 'I': return { kind: 'events', events: [{ op: 'fetch', gva: a, size, user: true }] };
    case 'L': return { kind: 'events', events: [{ op: 'read', gva: a, size, user: true }] };
    case 'S': return { kind: 'events', events: [{ op: 'write', gva: a, size, user: true }] };
    default: return { kind: 'events', events: [{ op: 'read', gva: a, size, user: true }, { op: 'write', gva: a, size, user: true }] };
  }
};

/**
 * The commonest lackey records (`I  addr,size`, ` L|S|M addr,size`, spaces only, no trailing blanks) in
 * `text[start, end)`, scanned by char code: the events are pushed onto `out` and true is returned. False means "not
 * one of those forms": ask `parseLackeyLine` (which then gives the same events, a skip, or the error). With `intern`,
 * equal accesses share one event object (the same values either way).
 */
export const lackeyAt = (text: string, start: number, end: number, out: GuestEvent[], intern?: AccessInterner): boolean => {
  if (end - start < 5) return false;
  const c0 = text.charCodeAt(start);
  const c1 = text.charCodeAt(start + 1);
  // 0 fetch, 1 load, 2 store, 3 modify
  let kind: number;
  if (c0 === 73 && c1 === 32) kind = 0; // "I "
  else if (c0 === 32 && c1 === 76) kind = 1; // " L"
  else if (c0 === 32 && c1 === 83) kind = 2; // " S"
  else if (c0 === 32 && c1 === 77) kind = 3; // " M"
  else return false;
  let i = start + 2;
  if (text.charCodeAt(i) !== 32) return false;
  while (i < end && text.charCodeAt(i) === 32) i++;
  const h0 = i;
  // the address in one pass (exact up to 13 digits; a longer one is refused below)
  let addr = 0;
  for (; i < end; i++) {
    const d = hexDigit(text.charCodeAt(i));
    if (d < 0) break;
    addr = addr * 16 + d;
  }
  // more than 13 hex digits (beyond 2^52) is parseLackeyLine's error
  if (i === h0 || i - h0 > 13 || i >= end || text.charCodeAt(i) !== 44) return false;
  i++;
  const s0 = i;
  let size = 0;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) break;
    size = size * 10 + (c - 48);
  }
  if (i === s0 || i - s0 > 4 || i !== end || size === 0 || size > 4096) return false;
  if (intern !== undefined) {
    if (kind === 3) out.push(intern.access(READ, addr, size, true), intern.access(WRITE, addr, size, true));
    else out.push(intern.access(kind === 0 ? FETCH : kind === 1 ? READ : WRITE, addr, size, true));
    return true;
  }
  const a = gva(addr);
  switch (kind) {
    case 0: out.push({ op: 'fetch', gva: a, size, user: true }); break;
    case 1: out.push({ op: 'read', gva: a, size, user: true }); break;
    case 2: out.push({ op: 'write', gva: a, size, user: true }); break;
    default: out.push({ op: 'read', gva: a, size, user: true }, { op: 'write', gva: a, size, user: true });
  }
  return true;
};

/**
 * `parseLackeyLine` for a stream: the line's events are pushed onto `out` and null is returned; a skip or a malformed
 * line comes back as `parseLackeyLine` reports it. Same results as `parseLackeyLine`, faster on the common records.
 */
export const lackeyInto = (line: string, out: GuestEvent[]): LackeyLine | null =>
  lackeyAt(line, 0, line.length, out) ? null : slowInto(line, out);

const slowInto = (line: string, out: GuestEvent[]): LackeyLine | null => {
  const r = parseLackeyLine(line);
  if (r.kind !== 'events') return r;
  for (const e of r.events) out.push(e);
  return null;
};
