/**
 * src/guest/build.ts `parseGuestFlags`: the last string parsed is remembered with its result (the guest OS model maps
 * every page with the same flags). Any sequence of strings must parse as each would on its own.
 */
import fc from 'fast-check';
import { parseGuestFlags } from '../../src/guest/build';

describe('parseGuestFlags', () => {
  it('gives each string its own flags, whatever was parsed before it', () => {
    const flagString = fc.subarray(['r', 'w', 'u', 'x']).chain((cs) => fc.shuffledSubarray(cs, { minLength: cs.length })).map((cs) => cs.join(''));
    fc.assert(fc.property(fc.array(flagString, { minLength: 1, maxLength: 8 }), (strings) => {
      for (const s of strings) {
        expect(parseGuestFlags(s)).toEqual({ writable: s.includes('w'), user: s.includes('u'), executable: s.includes('x') });
      }
    }), { numRuns: 300 });
    // the two strings of the guest OS model, alternating and repeated
    for (const s of ['rwx', 'rwx', 'rwxu', 'rwxu', 'rwx']) expect(parseGuestFlags(s).user).toBe(s === 'rwxu');
  });
});
