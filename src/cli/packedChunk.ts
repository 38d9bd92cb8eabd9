/**
 * A chunk of decoded trace events in a form that crosses a thread boundary cheaply: memory accesses (nearly every
 * event of a recording) as three typed arrays that are transferred, not copied; every other event as a number in a
 * per-run dictionary whose entries (each distinct line's event, once) the structured clone copies. The decode worker
 * packs (traceBytes.ts), the replaying thread unpacks.
 * Models nothing architectural.
 */
import { canonicalEvent, type GuestEvent } from '../guest/events';
import type { AccessInterner } from '../guest/intern';

/** `codes[i]` of an event of the run's dictionary: `gvas[i]` is its number there (see `defs`). */
export const KNOWN = 254;

export interface PackedChunk {
  readonly n: number;
  /** op * 2 + user (op: 0 read, 1 write, 2 fetch), or KNOWN */
  readonly codes: Uint8Array;
  readonly gvas: Float64Array;
  readonly sizes: Uint16Array;
  /**
   * Events added to the run's dictionary by this chunk, numbered on from its length (after `reset`: from 0). A
   * repeated line crosses as its number alone: only its first occurrence is copied between the threads.
   */
  readonly defs: readonly GuestEvent[];
  /** the dictionary starts again empty at this chunk */
  readonly reset: boolean;
  /** bytes of input consumed up to the end of this chunk */
  readonly bytes: number;
}

/** The buffers to transfer with a packed chunk. */
export const transferList = (p: PackedChunk): ArrayBuffer[] => [p.codes.buffer as ArrayBuffer, p.gvas.buffer as ArrayBuffer, p.sizes.buffer as ArrayBuffer];

/**
 * The events of a packed chunk, equal to those packed; equal accesses share one object through `intern`. `dict` is
 * the run's dictionary (an empty array before the first chunk), updated here.
 */
export const unpackChunk = (p: PackedChunk, intern: AccessInterner, dict: GuestEvent[]): GuestEvent[] => {
  if (p.reset) dict.length = 0;
  // a structured clone builds objects field by field: rebuilt as literals (one hidden class per op, as in this thread)
  for (const e of p.defs) dict.push(canonicalEvent(e));
  const out = new Array<GuestEvent>(p.n);
  for (let i = 0; i < p.n; i++) {
    const c = p.codes[i];
    out[i] = c === KNOWN ? dict[p.gvas[i]] : intern.access(c >>> 1, p.gvas[i], p.sizes[i], (c & 1) === 1);
  }
  return out;
};
