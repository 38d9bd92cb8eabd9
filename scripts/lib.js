// Helpers shared by the trace generators (scripts/gen-traces.js, scripts/gen-multiprocess.js): the seeded PRNG and
// the hex spelling of numbers in trace events. Changing either changes the bytes of the shipped traces.
'use strict';

/** mulberry32: a small, well-known 32-bit seeded PRNG; returns integers in [0, 2^32). */
const mulberry32 = (seed) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
};

/** The same sequence as mulberry32(seed), scaled to floats in [0, 1). */
const mulberry32Float = (seed) => {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
};

const hex = (n) => '0x' + n.toString(16);

module.exports = { mulberry32, mulberry32Float, hex };
