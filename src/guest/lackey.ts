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
import { gva } from '../arch/addr';
import type { GuestEvent } from './events';

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
