/**
 * Hex numbers scanned in place by char code, for the hand-written fast paths of the trace readers (src/guest/traceCodec.ts
 * `fastParseAt`, src/guest/lackey.ts `lackeyAt`): no substring, no allocation.
 * Models nothing architectural.
 */

/** Value of each ASCII hex digit, -1 for every other char code below 128. */
const HEX = new Int8Array(128).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) { HEX[97 + c] = 10 + c; HEX[65 + c] = 10 + c; }

/** The value of a hex digit's char code, or -1. */
export const hexDigit = (c: number): number => (c < 128 ? HEX[c] : -1);

/** The index of the first char in `text[i, end)` that is not a hex digit (`end` when all are). */
export const hexEnd = (text: string, i: number, end: number): number => {
  let j = i;
  while (j < end && hexDigit(text.charCodeAt(j)) >= 0) j++;
  return j;
};

/** The value of the hex digits `text[from, to)` (at most 13 digits: exact in a number). */
export const hexValueOf = (text: string, from: number, to: number): number => {
  let v = 0;
  for (let i = from; i < to; i++) v = v * 16 + hexDigit(text.charCodeAt(i));
  return v;
};
