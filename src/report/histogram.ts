/**
 * A small text histogram (the references-per-walk distribution of a run).
 *
 * Models: nothing architectural; a renderer for `RunReport.translation.referencesHistogram` (SDM Vol. 3C
 * "EPT and the guest paging structures": a two-dimensional walk makes up to (n+1)(m+1)-1 references, so the
 * distribution shows how often paging-structure caches and the nested TLB shortened the walk).
 * Leaves out: log scales and bucketing (keys are exact reference counts, at most 35 distinct values).
 */

/**
 * Lines `<key> | <bar> <count>`, keys in ascending numeric order, the key column right-aligned to the widest key.
 * A bar is `round(count / max * width)` '#' characters, at least one for a nonzero count; zero counts are omitted.
 */
export const renderHistogram = (h: Readonly<Record<string, number>>, width = 40): string[] => {
  const keys = Object.keys(h).filter((k) => h[k] > 0).sort((a, b) => Number(a) - Number(b));
  if (keys.length === 0) return [];
  let max = 0;
  let keyWidth = 0;
  for (const k of keys) {
    max = Math.max(max, h[k]);
    keyWidth = Math.max(keyWidth, k.length);
  }
  return keys.map((k) => {
    const bar = '#'.repeat(Math.max(1, Math.round((h[k] / max) * width)));
    return `${k.padStart(keyWidth)} | ${bar} ${h[k]}`;
  });
};
