/**
 * Interned memory-access events for the trace readers: equal accesses decoded from one trace share one event object.
 * Events are immutable values, so sharing is invisible to the model; it only saves the allocation. A recorded
 * program repeats the same few accesses (a loop's instruction fetches, its stack slots): on the bench's lackey
 * recording a 16,384-slot table finds ~96% of the records already made, which removes most of the decoder's garbage.
 * A trace whose accesses do not repeat (random addresses: the bench's (b), where the table found almost none) only
 * pays for the table: a lookup, the table's writes, and events kept alive by it that a young-generation collection
 * then copies. So the table watches how often it finds an access: after a window of WINDOW lookups that found fewer
 * than one in eight, it is set aside for the next 15 windows (the accesses are made without a lookup), then asked
 * again for one window, and so on; a window that finds more keeps it in use.
 * Models nothing architectural.
 */
import type { AccessOp, MemoryAccess } from './events';
import type { Gva } from '../arch/addr';

const OPS: readonly AccessOp[] = ['read', 'write', 'fetch'];
/** Lookups per window of the hit count (see the module header). */
export const WINDOW = 4096;
/** Windows made without the table after one that found too few (the table is asked again in the next). */
export const BYPASS_WINDOWS = 15;
/** The op's index in a key (read 0, write 1, fetch 2). */
export const READ = 0;
export const WRITE = 1;
export const FETCH = 2;

/**
 * A direct-mapped table of the accesses made last at each slot (a new access replaces the one in its slot). One per
 * decoding pass (its owner's, never shared between passes).
 */
export class AccessInterner {
  private readonly gvas: Float64Array;
  /** size * 8 + op * 2 + user; -1 for an empty slot */
  private readonly keys: Int32Array;
  private readonly events: (MemoryAccess | undefined)[];
  private readonly shift: number;
  /** lookups and hits in the current window */
  private lookups = 0;
  private hits = 0;
  /** accesses still to be made without the table */
  private bypass = 0;

  constructor(bits = 14) {
    const n = 1 << bits;
    this.gvas = new Float64Array(n);
    this.keys = new Int32Array(n).fill(-1);
    this.events = new Array<MemoryAccess | undefined>(n).fill(undefined);
    this.shift = 32 - bits;
  }

  /** The access `op` (READ, WRITE, FETCH) of `size` bytes at `gva` (a number below 2^53), made once per slot. */
  access(op: number, gva: number, size: number, user: boolean): MemoryAccess {
    if (this.bypass > 0) {
      this.bypass--;
      return { op: OPS[op], gva: gva as Gva, size, user };
    }
    const key = size * 8 + op * 2 + (user ? 1 : 0);
    const lo = gva >>> 0;
    const hi = (gva / 4294967296) >>> 0;
    const slot = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b) ^ Math.imul(key, 0xc2b2ae35), 0x9e3779b1) >>> this.shift;
    const found = this.gvas[slot] === gva && this.keys[slot] === key;
    if (found) this.hits++;
    if (++this.lookups === WINDOW) {
      // the window's end: fewer than one in eight found sets the table aside for the next BYPASS_WINDOWS windows
      if (this.hits * 8 < WINDOW) this.bypass = BYPASS_WINDOWS * WINDOW;
      this.lookups = 0;
      this.hits = 0;
    }
    if (found) return this.events[slot] as MemoryAccess;
    const ev: MemoryAccess = { op: OPS[op], gva: gva as Gva, size, user };
    this.gvas[slot] = gva;
    this.keys[slot] = key;
    this.events[slot] = ev;
    return ev;
  }
}
