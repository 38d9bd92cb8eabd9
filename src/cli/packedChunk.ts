/**
 * A chunk of decoded trace events in a form that crosses a thread boundary cheaply: memory accesses (nearly every
 * event of a recording) as three typed arrays that are transferred, not copied; every other event as itself, in a
 * list the structured clone copies. The decode worker packs (traceBytes.ts), the replaying thread unpacks.
 * Models nothing architectural.
 */
import type { GuestEvent } from '../guest/events';
import type { AccessInterner } from '../guest/intern';

/** `codes[i]` of an event kept in `others` (in order). */
export const OTHER = 255;

export interface PackedChunk {
  readonly n: number;
  /** op * 2 + user (op: 0 read, 1 write, 2 fetch), or OTHER */
  readonly codes: Uint8Array;
  readonly gvas: Float64Array;
  readonly sizes: Uint16Array;
  /** the events coded OTHER, in order */
  readonly others: readonly GuestEvent[];
  /** bytes of input consumed up to the end of this chunk */
  readonly bytes: number;
}

/** The buffers to transfer with a packed chunk. */
export const transferList = (p: PackedChunk): ArrayBuffer[] => [p.codes.buffer as ArrayBuffer, p.gvas.buffer as ArrayBuffer, p.sizes.buffer as ArrayBuffer];

/** The events of a packed chunk, equal to those packed; equal accesses share one object through `intern`. */
export const unpackChunk = (p: PackedChunk, intern: AccessInterner): GuestEvent[] => {
  const out = new Array<GuestEvent>(p.n);
  let k = 0;
  for (let i = 0; i < p.n; i++) {
    const c = p.codes[i];
    out[i] = c === OTHER ? p.others[k++] : intern.access(c >>> 1, p.gvas[i], p.sizes[i], (c & 1) === 1);
  }
  return out;
};
