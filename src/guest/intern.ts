/**
 * Interned memory-access events for the trace readers: equal accesses decoded from one trace share one event object.
 * Events are immutable values, so sharing is invisible to the model; it only saves the allocation. A recorded
 * program repeats the same few accesses (a loop's instruction fetches, its stack slots): on the bench's lackey
 * recording a 16,384-slot table finds ~96% of the records already made, which removes most of the decoder's garbage.
 * Models nothing architectural.
 */
import type { AccessOp, MemoryAccess } from './events';
import type { Gva } from '../arch/addr';

const OPS: readonly AccessOp[] = ['read', 'write', 'fetch'];
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

  constructor(bits = 14) {
    const n = 1 << bits;
    this.gvas = new Float64Array(n);
    this.keys = new Int32Array(n).fill(-1);
    this.events = new Array<MemoryAccess | undefined>(n).fill(undefined);
    this.shift = 32 - bits;
  }

  /** The access `op` (READ, WRITE, FETCH) of `size` bytes at `gva` (a number below 2^53), made once per slot. */
  access(op: number, gva: number, size: number, user: boolean): MemoryAccess {
    const key = size * 8 + op * 2 + (user ? 1 : 0);
    const lo = gva >>> 0;
    const hi = (gva / 4294967296) >>> 0;
    const slot = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b) ^ Math.imul(key, 0xc2b2ae35), 0x9e3779b1) >>> this.shift;
    if (this.gvas[slot] === gva && this.keys[slot] === key) return this.events[slot] as MemoryAccess;
    const ev: MemoryAccess = { op: OPS[op], gva: gva as Gva, size, user };
    this.gvas[slot] = gva;
    this.keys[slot] = key;
    this.events[slot] = ev;
    return ev;
  }
}
