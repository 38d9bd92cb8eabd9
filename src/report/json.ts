/**
 * JSON rendering of reports: one document, bigint-free, keys in a stable order.
 *
 * Models: interface §1 ("--json: exactly one JSON document ... a number above 2^53 is never written as a JSON
 * number; addresses and 64-bit values as lowercase 0x hex strings") and §5 (the report keys). The same report gives
 * byte-identical output: the report's own keys keep the order `toReport` builds (the §5 order), and the count
 * records (`byReason`, `cyclesByReason`, `referencesHistogram`) are re-sorted here so a hand-built report prints the
 * same way.
 * Leaves out: pretty-printing options other than the two-space indent.
 */

import { hex } from '../arch/addr';
import type { RunReport } from './model';

/**
 * A JSON value from any plain data: bigint -> "0x.." string, non-finite numbers -> null, undefined and functions
 * dropped from objects (null in arrays), Maps -> objects with string keys; object keys keep insertion order.
 */
export const toJsonValue = (v: unknown): unknown => {
  if (v === null) return null;
  switch (typeof v) {
    case 'bigint':
      return hex(v);
    case 'number':
      return Number.isFinite(v) ? v : null;
    case 'string':
    case 'boolean':
      return v;
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'object': {
      if (Array.isArray(v)) return v.map((x) => toJsonValue(x) ?? null);
      const entries: [string, unknown][] = v instanceof Map ? [...v.entries()].map(([k, x]) => [String(k), x])
        : Object.entries(v as Record<string, unknown>);
      const out: Record<string, unknown> = {};
      for (const [k, x] of entries) {
        const j = toJsonValue(x);
        if (j !== undefined) out[k] = j;
      }
      return out;
    }
    default:
      return undefined;
  }
};

/** Any value as one JSON document (two-space indent, trailing newline). */
export const stringify = (v: unknown): string => JSON.stringify(toJsonValue(v), null, 2) + '\n';

const byName = (r: Readonly<Record<string, number>>): Record<string, number> =>
  Object.fromEntries(Object.keys(r).sort().map((k) => [k, r[k]]));
const byNumber = (r: Readonly<Record<string, number>>): Record<string, number> =>
  Object.fromEntries(Object.keys(r).sort((a, b) => Number(a) - Number(b)).map((k) => [k, r[k]]));

/** The report with its top-level keys in the §5 order and its count records sorted. */
export const canonicalReport = (r: RunReport): RunReport => ({
  schemaVersion: 1,
  events: r.events,
  ...(r.partial === true ? { partial: true } : {}),
  mode: r.mode,
  config: {
    cpu: r.config.cpu, mode: r.config.mode,
    ept: r.config.ept === null ? null : { levels: r.config.ept.levels, pageSize: r.config.ept.pageSize },
    guest: { levels: r.config.guest.levels, pageSize: r.config.guest.pageSize },
    ...(r.config.vpid !== undefined ? { vpid: r.config.vpid } : {}),
  },
  exits: { total: r.exits.total, byReason: byName(r.exits.byReason), cyclesByReason: byName(r.exits.cyclesByReason) },
  translation: {
    accesses: r.translation.accesses,
    tlb: { hits: r.translation.tlb.hits, misses: r.translation.tlb.misses, l1Hits: r.translation.tlb.l1Hits,
      stlbHits: r.translation.tlb.stlbHits },
    walks: r.translation.walks,
    memoryReferences: { guest: r.translation.memoryReferences.guest, nested: r.translation.memoryReferences.nested,
      total: r.translation.memoryReferences.total },
    maxReferencesPerWalk: r.translation.maxReferencesPerWalk,
    meanReferencesPerWalk: r.translation.meanReferencesPerWalk,
    referencesHistogram: byNumber(r.translation.referencesHistogram),
    psc: { hits: r.translation.psc.hits, lookups: r.translation.psc.lookups },
    nestedTlb: { hits: r.translation.nestedTlb.hits, lookups: r.translation.nestedTlb.lookups },
  },
  memory: { guestVirtualPages: r.memory.guestVirtualPages, guestPhysicalPages: r.memory.guestPhysicalPages },
  cycles: { total: r.cycles.total, translation: r.cycles.translation, exits: r.cycles.exits, guest: r.cycles.guest },
  ...(r.overhead !== undefined ? { overhead: { nativeCycles: r.overhead.nativeCycles, ratio: r.overhead.ratio } } : {}),
  ...(r.steps !== undefined ? { steps: r.steps } : {}),
});

/** `vtxsim run --json`: the run report as one document. */
export const renderReportJson = (r: RunReport): string => stringify(canonicalReport(r));

