import { isRight } from 'fp-ts/Either';
import { decodeConfig } from '../../src/replay/config';
import { replayChunk, startReplay, type ReplayState } from '../../src/replay/replay';
import { decodeGuestEvent } from '../../src/guest/traceCodec';
import type { GuestEvent } from '../../src/guest/events';
import type { Config } from '../../src/replay/config';

const cfg = (mode: 'ept' | 'shadow'): Config => {
  const c = decodeConfig({ mode });
  if (!isRight(c)) throw new Error('config');
  return c.right;
};
const start = (mode: 'ept' | 'shadow'): ReplayState => {
  const s = startReplay(cfg(mode));
  if (!isRight(s)) throw new Error(JSON.stringify(s.left));
  return s.right;
};
const ev = (o: Record<string, unknown>): GuestEvent => {
  const d = decodeGuestEvent(o, 'event');
  if (!isRight(d)) throw new Error(JSON.stringify(o));
  return d.right;
};
/** Replays event by event; per event the exits by reason and the guest-visible faults (count, CR2). */
const trace = (mode: 'ept' | 'shadow', events: GuestEvent[]) => {
  let s = start(mode);
  const steps: { exits: Record<string, number>; faults: number }[] = [];
  for (const e of events) {
    const before = s.stats.exitsByReason;
    const faults = s.guestFaults;
    s = replayChunk(s, [e]).state;
    if (s.stopped !== null) throw new Error(s.stopped);
    const exits: Record<string, number> = {};
    for (const [k, v] of Object.entries(s.stats.exitsByReason)) if (v - (before[k] ?? 0) > 0) exits[k] = v - (before[k] ?? 0);
    steps.push({ exits, faults: s.guestFaults - faults });
  }
  return { s, steps };
};

const H = (n: number): string => `0x${n.toString(16)}`;
const A = 0x1000_0000;
const B = 0x1000_1000;
const C = 0x2000_0000;
/** Two address spaces (the launch root at 16 MiB and one at 4 MiB), demand faults, munmap, an explicit mapping. */
const EVENTS = [
  { op: 'write', gva: H(A), size: 8 }, // 0: not present: #PF to the guest, which maps it
  { op: 'read', gva: H(A + 8), size: 8 }, // 1
  { op: 'read', gva: H(B), size: 8 }, // 2: not present
  { op: 'mov_to_cr', cr: 3, value: '0x400000' }, // 3: a new address space
  { op: 'read', gva: H(A), size: 8 }, // 4: not present in this one
  { op: 'mov_to_cr', cr: 3, value: '0x1000000' }, // 5: back to the first
  { op: 'read', gva: H(A), size: 8 }, // 6: mapped
  { op: 'guest_unmap', gva: H(A) }, // 7
  { op: 'invlpg', gva: H(A) }, // 8
  { op: 'read', gva: H(A), size: 8 }, // 9: not present again
  { op: 'guest_map', gva: H(C), gpa: '0x800000', size: '4K', flags: 'rwu' }, // 10
  { op: 'read', gva: H(C), size: 8 }, // 11: mapped by the guest, not yet by the shadow
  { op: 'write', gva: H(B), size: 8 }, // 12
].map(ev);

describe('shadow paging: guest-visible page faults (SDM "Exception Bitmap": #PF exits; the VMM injects only true faults)', () => {
  const ept = trace('ept', EVENTS);
  const shadow = trace('shadow', EVENTS);

  test('a #PF on an unmapped page reaches the guest exactly once, at the same events in both modes', () => {
    const expected = [1, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0];
    expect(ept.steps.map((x) => x.faults)).toEqual(expected);
    expect(shadow.steps.map((x) => x.faults)).toEqual(expected);
    expect(shadow.s.guestFaults).toBe(ept.s.guestFaults);
  });

  test('a true fault exits once as #PF (injected) and once more as the hidden fault after the guest mapped the page', () => {
    // first touch: no guest table is shadowed yet, so the guest OS's table writes do not fault: true fault + hidden fault
    expect(shadow.steps[0].exits).toEqual({ EXCEPTION_NMI: 2 });
    expect(ept.steps[0].exits.EXCEPTION_NMI ?? 0).toBe(0);
  });

  test('a hidden fault (guest maps it, shadow does not yet) exits once and is never seen by the guest', () => {
    expect(shadow.steps[11].exits).toEqual({ EXCEPTION_NMI: 1 });
    expect(shadow.steps[11].faults).toBe(0);
    expect(ept.steps[11].exits).toEqual({ EPT_VIOLATION: 1 });
  });

  test('CR3-load exiting: MOV to CR3 exits; a cached shadow root serves the old address space without a #PF', () => {
    expect(shadow.steps[3].exits).toEqual({ CR_ACCESS: 1 });
    expect(shadow.steps[5].exits).toEqual({ CR_ACCESS: 1 });
    expect(shadow.steps[6].exits).toEqual({});
    expect(ept.steps[3].exits).toEqual({});
  });

  test('a write to a write-protected guest page table exits as #PF (write, present) and is emulated; INVLPG exits', () => {
    expect(shadow.steps[7].exits).toEqual({ EXCEPTION_NMI: 1 });
    expect(shadow.steps[8].exits).toEqual({ INVLPG: 1 });
    expect(ept.steps[7].exits).toEqual({});
    expect(ept.steps[8].exits).toEqual({});
    const h = shadow.s.hv.shadow!;
    expect(h.counters.emulatedWrites).toBeGreaterThanOrEqual(1);
    expect(h.counters.zaps).toBeGreaterThanOrEqual(1);
  });
});

describe('references per cold walk (reference §9.2: n(m+1)+m)', () => {
  test('shadow paging walks the shadow tables natively: 4 references; 4-level EPT under 4-level guest paging: 24', () => {
    const one = [ev({ op: 'write', gva: H(A), size: 8 })];
    expect(trace('shadow', one).s.stats.translation.maxRefsPerWalk).toBe(4);
    expect(trace('ept', one).s.stats.translation.maxRefsPerWalk).toBe(4 * (4 + 1) + 4);
    expect(trace('shadow', one).s.stats.translation.nestedRefs).toBe(0);
  });
});
