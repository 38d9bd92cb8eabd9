/**
 * Benchmark workloads: deterministic generators of guest events (a seeded PRNG, no clock, no randomness from the
 * environment), so every run of `npm run bench` replays the same traces.
 *
 *   loop    (a) a TLB-friendly loop: 8 pages read and written in 64-byte steps (over 99% L1 TLB hits)
 *   random  (b) random 8-byte accesses over a 256 MiB footprint (65536 pages, far beyond the 1536-entry STLB): walk-heavy
 *   exits   (d) an exit-heavy mix: CPUID, port I/O, RDMSR/WRMSR, RDTSCP, HLT woken by an external interrupt, with
 *               some memory accesses in between
 * (c) is a lackey recording of a real program (bench/main.ts records it with valgrind); (e) is `random` under other
 * modes.
 */
import { gva } from '../src/arch/addr';
import type { GuestEvent } from '../src/guest/events';
import { mulberry32 } from '../scripts/lib';

export type WorkloadName = 'loop' | 'random' | 'exits';

/** mulberry32 (scripts/lib.js, shared with the trace generators): deterministic 32-bit integers from its seed. */
export const prng = (seed: number): (() => number) => mulberry32(seed);

export const BASE = 0x4000_0000; // user-space data at 1 GiB
export const RANDOM_PAGES = 65536; // 256 MiB

/**
 * One write to every page of the random footprint, in order (the untimed warm-up of `b-warm`): afterwards every
 * guest and EPT entry has its accessed and dirty flags set, as in the steady state of a long (b) run.
 */
export const warmUp = (): GuestEvent[] =>
  Array.from({ length: RANDOM_PAGES }, (_, page): GuestEvent => ({ op: 'write', gva: gva(BASE + page * 4096), size: 8, user: true }));

/** An endless deterministic event stream for `name`; `next()` gives the next event. */
export const generator = (name: WorkloadName, seed = 1): (() => GuestEvent) => {
  const r = prng(seed);
  switch (name) {
    case 'loop': {
      let i = 0;
      return () => {
        const off = (i * 64) % (8 * 4096);
        const op = (i & 3) === 3 ? 'write' : 'read';
        i++;
        return { op, gva: gva(BASE + off), size: 8, user: true };
      };
    }
    case 'random':
      return () => {
        const x = r();
        const page = x % RANDOM_PAGES;
        const off = ((x >>> 16) & 0x1ff) * 8;
        return { op: (x & 0x7) === 0 ? 'write' : 'read', gva: gva(BASE + page * 4096 + off), size: 8, user: true };
      };
    case 'exits': {
      let i = 0;
      return () => {
        const k = i++ % 16;
        switch (k) {
          case 0: return { op: 'cpuid', leaf: 1, subleaf: 0 };
          case 1: return { op: 'out', port: 0x3f8, size: 1, string: false, rep: false };
          case 2: return { op: 'in', port: 0x3fd, size: 1, string: false, rep: false };
          case 3: return { op: 'rdmsr', msr: 0x1b };
          case 4: return { op: 'wrmsr', msr: 0x6e0, value: BigInt(i) * 1000n };
          case 5: return { op: 'rdtscp' };
          case 6: return { op: 'hlt' };
          case 7: return { op: 'interrupt', vector: 0xec };
          case 8: return { op: 'cpuid', leaf: 0xb, subleaf: 1 };
          case 9: return { op: 'rdtscp' };
          default: {
            const x = r();
            return { op: (x & 1) === 0 ? 'read' : 'write', gva: gva(BASE + (x % 64) * 4096 + ((x >>> 8) & 0x1f8)), size: 8, user: true };
          }
        }
      };
    }
    default: {
      const never: never = name;
      throw new Error(`unknown workload ${String(never)}`);
    }
  }
};
