import * as fs from 'fs';
import * as path from 'path';
import { isRight } from 'fp-ts/Either';
import { DEFAULT_CONFIG } from '../../src/replay/config';
import { explainScenario, explainTrace, type EventWhy } from '../../src/replay/explain';
import { parseScenario } from '../../src/replay/scenario';
import { decodeGuestEvent } from '../../src/guest/traceCodec';
import type { GuestEvent } from '../../src/guest/events';

const root = path.join(__dirname, '../..');
const readTrace = (f: string, limit = Infinity): GuestEvent[] => {
  const out: GuestEvent[] = [];
  for (const line of fs.readFileSync(path.join(root, f), 'utf8').split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    if (out.length >= limit) break;
    const d = decodeGuestEvent(JSON.parse(t) as unknown, `line ${out.length + 1}`) as unknown as { _tag: string; right: GuestEvent };
    if (d._tag !== 'Right') throw new Error(`bad line in ${f}`);
    out.push(d.right);
  }
  return out;
};

/** Specific: a kebab-case control = 0/1, a bitmap bit, an exception-bitmap bit or PFEC test, an EPT entry by level
 * and value, a CR guest/host mask, or the SDM's unconditional-exit rule. */
const SPECIFIC = [
  /\b[a-z0-9]+(?:-[a-z0-9]+)+ = [01]\b/,
  /bitmap .*bit \d+ .*is [01]/,
  /byte 0x[0-9a-f]+ bit \d+ at HPA 0x[0-9a-f]+/,
  /exception bitmap 0x[0-9a-f]+ bit \d+/,
  /EPT (PML5E|PML4E|PDPTE|PDE|PTE) \(level \d, index \d+\) at HPA 0x[0-9a-f]+ = 0x[0-9a-f]+/,
  /guest\/host mask/,
  /exits unconditionally/,
];
const specific = (w: EventWhy): boolean => w.facts.some((f) => f.decisive && SPECIFIC.some((r) => r.test(f.text)));

const traces = fs.readdirSync(path.join(root, 'traces')).filter((f) => f.endsWith('.jsonl')).map((f) => `traces/${f}`);
const scenarios = [
  ...fs.readdirSync(path.join(root, 'traces')).filter((f) => f.endsWith('.json') && !f.endsWith('.expected.json')).map((f) => `traces/${f}`),
  ...fs.readdirSync(path.join(root, 'traces/scenarios')).filter((f) => f.endsWith('.json')).map((f) => `traces/scenarios/${f}`),
];

describe('explain names the control, bitmap bit or EPT entry behind every exit of the shipped traces', () => {
  for (const f of traces) {
    test(`${f}: every exit has a specific decisive fact and the replica agrees with the replay`, () => {
      const r = explainTrace(DEFAULT_CONFIG, readTrace(f), { kind: 'all-exits' });
      expect(isRight(r)).toBe(true);
      if (!isRight(r)) return;
      expect(r.right.diverged).toBeNull();
      const generic = r.right.items.filter((w) => !specific(w));
      expect(generic.map((w) => `${w.index} ${w.op}: ${w.facts.map((x) => x.text).join(' | ')}`)).toEqual([]);
    }, 300_000);
  }
  for (const f of scenarios) {
    test(`${f}: every exit step has a specific decisive fact`, () => {
      const s = parseScenario(JSON.parse(fs.readFileSync(path.join(root, f), 'utf8')) as unknown);
      if (!isRight(s)) throw new Error(`bad scenario ${f}`);
      const r = explainScenario(s.right, { kind: 'all-exits' });
      if (!isRight(r)) return; // a scenario whose steps cannot all run is the run command's concern
      const generic = r.right.items.filter((w) => w.outcome.result === 'exit' && !w.outcome.exit.failedEntry && !specific(w));
      expect(generic.map((w) => `${w.index} ${w.op}: ${w.facts.map((x) => x.text).join(' | ')}`)).toEqual([]);
    });
  }
});
