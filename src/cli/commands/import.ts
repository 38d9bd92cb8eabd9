/**
 * `vtxsim import <format> <input> [-o out.jsonl] [--strict]`: a recorded workload to a trace (interface §1, §5).
 * Streams line by line; warnings are counted by kind and summarized on stderr (`--strict`: the first malformed line
 * is fatal, exit 1). `--json`: a summary document (events, comments, warnings by kind, recorded exits by reason,
 * recorded average handler times); `--summary <file>` writes the same document to a file (for `run
 * --use-recorded-times`). `--fidelity` (needs -o): replays the imported trace under `--config` (default: the
 * default config) and prints, per exit reason, recorded count versus replayed count with the named reason for each
 * difference (src/replay/fidelity.ts); exit 1 when a difference is unexplained.
 */
import type { Command } from '../command';
import { guarded, inputFailure, printJson } from '../output';
import { encodeTraceLine } from '../../guest/traceCodec';
import type { Importer, ImportItem } from '../../replay/import/common';
import { importLackey } from '../../replay/import/lackey';
import { importPinatrace } from '../../replay/import/pinatrace';
import { importDin } from '../../replay/import/din';
import { importKvmTrace } from '../../replay/import/kvmTrace';
import { importPerfKvmStat } from '../../replay/import/perfKvmStat';
import { fidelity, renderFidelity, type ImportNotes } from '../../replay/fidelity';
import { reportOf, runTraceFile } from '../replayRun';
import { loadConfig } from '../configFile';

export const IMPORTERS: Readonly<Record<string, Importer>> = {
  lackey: importLackey, 'kvm-trace': importKvmTrace, 'perf-kvm-stat': importPerfKvmStat, pinatrace: importPinatrace, din: importDin,
};

/** How many recorded exits a warning stands for (a perf kvm stat row stands for its samples; its message says so). */
const recordedOf = (w: Extract<ImportItem, { kind: 'warning' }>): number => {
  const m = /(\d+) samples/.exec(w.message);
  return m === null ? 1 : Number(m[1]);
};

export const importCommand: Command = {
  command: 'import <format> <input>',
  describe: 'convert a recorded workload to a trace (.jsonl)',
  builder: (y) => y
    .positional('format', { choices: ['lackey', 'kvm-trace', 'perf-kvm-stat', 'pinatrace', 'din'] as const })
    .positional('input', { type: 'string' })
    .option('o', { alias: 'output', type: 'string', describe: 'output trace (.jsonl); stdout when absent' })
    .option('strict', { type: 'boolean', default: false, describe: 'a malformed line is fatal (default: reported and skipped)' })
    .option('summary', { type: 'string', describe: 'write the import summary (JSON, with recordedTimes) to this file' })
    .option('fidelity', { type: 'boolean', default: false, describe: 'replay the output and compare exit counts with the recording (needs -o)' })
    .option('config', { type: 'string', describe: 'config (.json) for --fidelity: the one the recording was made under' }),
  handler: async (args, io) => {
    const json = args.json === true;
    const format = String(args.format);
    const input = String(args.input);
    const out = typeof args.o === 'string' ? args.o : undefined;
    const imp = IMPORTERS[format];
    const wantFidelity = args.fidelity === true;
    if (wantFidelity && out === undefined) return inputFailure(io, json, '--fidelity needs -o <out.jsonl> (the trace to replay)');
    const cfg = loadConfig(io, args.config as string | undefined);
    if (!cfg.ok) return inputFailure(io, json, cfg.problem);
    if (!io.exists(input)) return inputFailure(io, json, { _tag: 'InputProblem', file: input, expected: 'an existing input file', found: 'no such file' });
    return guarded(io, json, async () => {
      const chunks: string[] = [];
      const warnings = new Map<string, number>();
      const firstWarnings: string[] = [];
      let events = 0;
      let comments = 0;
      const recorded: Record<string, number> = {};
      const times: Record<string, number> = {};
      const notes: Record<string, Record<string, number>> = {};
      // with --json and no -o the trace cannot share stdout with the summary: it is not written
      const emit = (s: string): void => { if (out !== undefined) chunks.push(s); else if (!json) io.stdout(s); };
      emit(`# vtxsim import ${format} ${input}\n`);
      for await (const item of imp(io.lines(input), { strict: args.strict === true, file: input }) as AsyncIterable<ImportItem>) {
        switch (item.kind) {
          case 'event': events++; emit(encodeTraceLine(item.event) + '\n'); break;
          case 'comment': comments++; emit(`# ${item.text}\n`); break;
          case 'recorded':
            recorded[item.reason] = (recorded[item.reason] ?? 0) + item.count;
            if (item.avgTimeUs !== undefined) times[item.reason] = item.avgTimeUs;
            break;
          case 'warning':
            if (item.reason !== undefined) {
              const byCode = (notes[item.reason] ??= {});
              byCode[item.code] = (byCode[item.code] ?? 0) + (item.code === 'no-guest-event' || item.code === 'unknown-reason' ? recordedOf(item) : 1);
            }
            warnings.set(item.code, (warnings.get(item.code) ?? 0) + 1);
            if (firstWarnings.length < 5) firstWarnings.push(item.message);
            break;
          default: { const x: never = item; throw new Error(String(x)); }
        }
      }
      if (out !== undefined) io.writeFileAtomic(out, chunks.join(''));
      const total = [...warnings.values()].reduce((a, b) => a + b, 0);
      if (total > 0) {
        io.stderr(`vtxsim import: ${total} warning(s): ${[...warnings].map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
        for (const w of firstWarnings) io.stderr(`  ${w}\n`);
      }
      const summary = {
        format, input, ...(out !== undefined ? { output: out } : {}), events, comments, warnings: Object.fromEntries(warnings),
        recorded, ...(Object.keys(times).length > 0 ? { recordedTimes: times } : {}),
      };
      if (typeof args.summary === 'string') io.writeFileAtomic(args.summary, JSON.stringify({ schemaVersion: 1, ...summary }, null, 2) + '\n');
      let status = 0;
      let fid: ReturnType<typeof fidelity> | undefined;
      if (wantFidelity && out !== undefined) {
        const run = await runTraceFile(io, out, cfg.config, 'jsonl', { progress: true, label: 'fidelity' });
        fid = fidelity(recorded, reportOf(run).exits.byReason, notes as ImportNotes);
        if (!fid.explained) status = 1;
        if (!json) io.stdout(renderFidelity(fid));
      }
      if (json) printJson(io, { ...summary, ...(fid !== undefined ? { fidelity: fid } : {}) });
      else if (out !== undefined) io.stderr(`vtxsim import: ${events} events written to ${out}\n`);
      return status;
    });
  },
};
