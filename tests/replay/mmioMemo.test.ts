/**
 * src/replay/hypervisor.ts `inMmio`: the EPT-violation handler answers "not MMIO" for a guest-physical address below
 * the lowest start of the config's MMIO ranges without comparing bigints (a memo of that lowest start, keyed by the
 * range list). The answer must stay the one of the full comparison: ranges in any order, and a different list in the
 * next replay of the same process.
 */
import { isRight } from 'fp-ts/Either';
import { gva as mkGva, gpa as mkGpa } from '../../src/arch/addr';
import type { GuestEvent } from '../../src/guest/events';
import { DEFAULT_CONFIG, type Config } from '../../src/replay/config';
import { replayChunk, startReplay } from '../../src/replay/replay';

/** Misconfiguration exits of a replay that maps a page at `gpa` and reads it twice (KVM's MMIO entry: the first read
 * exits EPT_VIOLATION and gets the misconfigured entry, then each read exits EPT_MISCONFIG and is emulated). */
const misconfigsAt = (gpa: number, mmio: Config['mmio']): number => {
  const s = startReplay({ ...DEFAULT_CONFIG, mmio });
  if (!isRight(s)) throw new Error(JSON.stringify(s.left));
  const events: GuestEvent[] = [
    { op: 'guest_map', gva: mkGva(0x40_0000), gpa: mkGpa(gpa), size: '4K', flags: 'rwx' },
    { op: 'read', gva: mkGva(0x40_0010), size: 8, user: false },
    { op: 'read', gva: mkGva(0x40_0020), size: 8, user: false },
  ];
  return replayChunk(s.right, events).state.stats.exitsByReason.EPT_MISCONFIG ?? 0;
};

const HIGH: readonly [bigint, bigint] = [0xfee0_0000n, 0xfee0_0fffn];
const LOW: readonly [bigint, bigint] = [0x0800_0000n, 0x0800_0fffn];

describe('inMmio', () => {
  it('answers for the config of each replay: another range list, then the first one again', () => {
    // (first in this file: the list of the process's first replay has a higher start than the next one's)
    expect(misconfigsAt(0x0800_0000, [HIGH])).toBe(0);
    expect(misconfigsAt(0x0800_0000, [LOW])).toBe(2);
    expect(misconfigsAt(0x0800_0000, [])).toBe(0);
    expect(misconfigsAt(0x0800_0000, [HIGH])).toBe(0);
    expect(misconfigsAt(0x0800_0000, [LOW])).toBe(2);
    // the first read's own address decides (0x0800_0010): a range of just that byte, and one starting just above it
    expect(misconfigsAt(0x0800_0000, [HIGH, [0x0800_0010n, 0x0800_0010n]])).toBe(2);
    expect(misconfigsAt(0x0800_0000, [HIGH, [0x0800_0011n, 0x0800_0fffn]])).toBe(0);
  });

  it('finds a page in a range that is not the first one listed (the lowest start is over all ranges)', () => {
    expect(misconfigsAt(0x0800_0000, [HIGH, LOW])).toBe(2);
    expect(misconfigsAt(0xfee0_0000, [HIGH, LOW])).toBe(2);
    expect(misconfigsAt(0x07ff_f000, [HIGH, LOW])).toBe(0);
    expect(misconfigsAt(0x0800_1000, [HIGH, LOW])).toBe(0);
  });
});
