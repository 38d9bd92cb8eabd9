/**
 * `vtxsim explain <trace-or-scenario> [--event N | --all-exits]`: why an event exited (or did not), with the control,
 * bitmap bit, exception-bitmap bit or EPT entry that decided, the qualification field by field and, for a memory
 * access, the 2-D walk grid with cache hits marked. Colour on a terminal unless NO_COLOR is set (or --color).
 */
import { isLeft } from 'fp-ts/Either';
import type { Command } from '../command';
import type { Io } from '../io';
import { guarded, inputFailure, printJson } from '../output';
import { loadConfig, readJson } from '../configFile';
import { detectFormat, eventChunks } from '../traceSource';
import { hex } from '../../arch/addr';
import type { GuestEvent } from '../../guest/events';
import { parseScenario, outcomeJson } from '../../replay/scenario';
import { explainScenario, explainTrace, type ExplainResult, type Selection } from '../../replay/explain';
import { renderExplainText } from '../../report/explainText';

const jsonValue = (v: unknown): unknown => (typeof v === 'bigint' ? hex(v) : v);

export const explainJson = (r: ExplainResult): Record<string, unknown> => ({
  events: r.events,
  diverged: r.diverged,
  items: r.items.map((w) => ({
    index: w.index, op: w.op, ...(w.via !== undefined ? { via: w.via } : {}),
    outcome: outcomeJson(w.outcome),
    facts: w.facts.map((f) => ({ text: f.text, decisive: f.decisive })),
    ...(w.qualification !== undefined ? { fields: Object.fromEntries(Object.entries(w.qualification).map(([k, v]) => [k, jsonValue(v)])) } : {}),
    ...(w.walk !== undefined ? {
      walk: {
        gva: hex(w.walk.gva), access: w.walk.access, tlb: w.walk.tlb, pscStart: w.walk.pscStart, nestedHits: w.walk.nestedHits,
        coldReferences: w.walk.cold.length,
        references: w.walk.performed.map((y) => ({ index: y.index, dimension: y.dimension, guestLevel: y.guestLevel, eptLevel: y.eptLevel, address: hex(y.address) })),
      },
    } : {}),
  })),
});

/**
 * Colour: --color always|never wins; otherwise only when stdout (where the explanation goes) is a terminal and
 * NO_COLOR is unset or empty (https://no-color.org).
 */
export const useColor = (io: Io, flag: string): boolean =>
  flag === 'always' ? true : flag === 'never' ? false : io.stdoutIsTTY === true && (io.env.NO_COLOR === undefined || io.env.NO_COLOR === '');

export const explainCommand: Command = {
  command: 'explain <file>',
  describe: 'why an event exited: the control, bitmap bit or EPT entry that decided, the qualification, the walk grid',
  builder: (y) => y
    .positional('file', { type: 'string', describe: 'trace (.jsonl) or scenario (.json)' })
    .option('config', { type: 'string', describe: 'config (.json) for a trace, interface §3' })
    .option('event', { type: 'number', describe: '0-based trace event (or scenario step) to explain' })
    .option('all-exits', { type: 'boolean', default: false, describe: 'explain every VM exit' })
    .option('color', { choices: ['auto', 'always', 'never'] as const, default: 'auto' }),
  handler: async (args, io) => {
    const json = args.json === true;
    const file = String(args.file);
    return guarded(io, json, async () => {
      const ev = args.event as number | undefined;
      const all = args['all-exits'] === true || args.allExits === true;
      if ((ev === undefined) === !all) {
        io.stderr('vtxsim explain: give exactly one of --event N and --all-exits\n');
        return 2;
      }
      if (ev !== undefined && (!Number.isInteger(ev) || ev < 0)) return inputFailure(io, json, { path: '--event', expected: 'a non-negative integer', found: String(ev) });
      const sel: Selection = ev !== undefined ? { kind: 'event', index: ev } : { kind: 'all-exits' };
      let r;
      if (file.endsWith('.json')) {
        const v = readJson(io, file);
        if (!v.ok) return inputFailure(io, json, v.message);
        const s = parseScenario(v.value);
        if (isLeft(s)) return inputFailure(io, json, { file, path: s.left.path, expected: s.left.expected, found: s.left.found });
        r = explainScenario(s.right, sel);
      } else {
        const cfg = loadConfig(io, args.config as string | undefined);
        if (!cfg.ok) return inputFailure(io, json, cfg.problem);
        const format = await detectFormat(io, file, 'auto');
        const events: GuestEvent[] = [];
        for await (const c of eventChunks(io, file, format)) events.push(...c.events);
        r = explainTrace(cfg.config, events, sel);
      }
      if (isLeft(r)) return inputFailure(io, json, { file, path: r.left.path, expected: r.left.expected, found: r.left.found });
      if (json) printJson(io, explainJson(r.right));
      else io.stdout(renderExplainText(r.right, { color: useColor(io, String(args.color ?? 'auto')) }));
      return r.right.diverged === null ? 0 : 1;
    });
  },
};
