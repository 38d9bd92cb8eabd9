/**
 * V8's inlining budget, raised for the whole process when the engine loads (a compiler heuristic: no result depends
 * on it).
 *
 * TurboFan inlines at most 920 bytes of bytecode into one optimized function (`--max-inlined-bytecode-size-cumulative`).
 * The TLB-miss path (src/mmu/direct.ts `translateDirect`) is one large function whose cache fills (`putTail`, four
 * calls a walk) and entry searches then stayed calls, each passing eight tagged arguments; with 3000 they are inlined:
 * b-warm 5,762 -> 5,278 instructions per event, (d) 2,028 -> 1,897, (a) 330 -> 328 (callgrind, the flag given on the
 * command line; docs/BENCH.md "Stop 19"). Set here rather than on node's command line so that every program using the
 * engine gets it, not only `vtxsim` (src/cli/bin.ts). A flag set after V8 started applies to functions compiled
 * after it: this module is loaded before the engine's first replay.
 */
import { setFlagsFromString } from 'v8';

export const INLINE_BUDGET = 3000;

setFlagsFromString(`--max-inlined-bytecode-size-cumulative=${INLINE_BUDGET}`);
