/**
 * The first touch of a page under EPT (interface §3, guest OS model "demand"): the access walks and faults (#PF in the
 * guest), the guest OS maps a fresh frame, the access walks again and exits (EPT violation: the frame is not mapped in
 * EPT yet), the hypervisor maps it, and after VMRESUME the access walks a third time and translates. runEvent retries
 * the access through memoryAccessFast (the replay loop's path without result objects): the retry that translates must
 * be counted as a walk and leave its TLB fill in the machine, so that the next access to the page hits the L1 TLB.
 */
import { isRight } from 'fp-ts/Either';
import { gva as mkGva } from '../../src/arch/addr';
import type { GuestEvent } from '../../src/guest/events';
import { DEFAULT_CONFIG } from '../../src/replay/config';
import { replayChunk, startReplay, type ReplayState } from '../../src/replay/replay';

const reads = (pages: number): GuestEvent[] =>
  Array.from({ length: pages }, (_, p) => ({ op: 'read' as const, gva: mkGva(0x40_0000 + 0x1000 * p + 8 * p), size: 8, user: false }));

describe('first touches under EPT', () => {
  it('three translations per first touch (each a walk), then L1 hits', () => {
    const s0 = startReplay({ ...DEFAULT_CONFIG, mode: 'ept' });
    if (!isRight(s0)) throw new Error(JSON.stringify(s0.left));
    // one first touch in the region first: its page tables are then present and mapped in EPT
    let s: ReplayState = replayChunk(s0.right, [{ op: 'read', gva: mkGva(0x40_0000 + 0x1000 * 100), size: 8, user: false }]).state;
    const n = 20;
    const t0 = s.stats.translation;
    const faults0 = s.guestFaults;
    const exits0 = s.stats.exitsByReason.EPT_VIOLATION ?? 0;
    s = replayChunk(s, reads(n)).state;
    const t1 = s.stats.translation;
    expect(s.guestFaults - faults0).toBe(n);
    expect((s.stats.exitsByReason.EPT_VIOLATION ?? 0) - exits0).toBe(n);
    expect(t1.accesses - t0.accesses).toBe(3 * n);
    expect(t1.walks - t0.walks).toBe(3 * n);
    // the same pages again: every one is in the L1 TLB (filled by the walk that translated)
    const again = replayChunk(s, reads(n)).state.stats.translation;
    expect(again.accesses - t1.accesses).toBe(n);
    expect(again.l1Hits - t1.l1Hits).toBe(n);
    expect(again.walks - t1.walks).toBe(0);
  });
});
