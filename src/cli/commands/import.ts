/**
 * `vtxsim import <format> <input> [-o out.jsonl] [--strict]`: a recorded workload to a trace (interface §1, §5).
 * Streams line by line; warnings are counted by kind and summarized on stderr (`--strict`: the first malformed line
 * is fatal, exit 1). `--json`: a summary document (events, comments, warnings by kind).
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

export const IMPORTERS: Readonly<Record<string, Importer>> = {
  lackey: importLackey, 'kvm-trace': importKvmTrace, 'perf-kvm-stat': importPerfKvmStat, pinatrace: importPinatrace, din: importDin,
};

export const importCommand: Command = {
  command: 'import <format> <input>',
  describe: 'convert a recorded workload to a trace (.jsonl)',
  builder: (y) => y
    .positional('format', { choices: ['lackey', 'kvm-trace', 'perf-kvm-stat', 'pinatrace', 'din'] as const })
    .positional('input', { type: 'string' })
    .option('o', { alias: 'output', type: 'string', describe: 'output trace (.jsonl); stdout when absent' })
    .option('strict', { type: 'boolean', default: false, describe: 'a malformed line is fatal (default: reported and skipped)' }),
  handler: async (args, io) => {
    const json = args.json === true;
    const format = String(args.format);
    const input = String(args.input);
    const out = typeof args.o === 'string' ? args.o : undefined;
    const imp = IMPORTERS[format];
    if (!io.exists(input)) return inputFailure(io, json, { _tag: 'InputProblem', file: input, expected: 'an existing input file', found: 'no such file' });
    return guarded(io, json, async () => {
      const chunks: string[] = [];
      const warnings = new Map<string, number>();
      const firstWarnings: string[] = [];
      let events = 0;
      let comments = 0;
      // with --json and no -o the trace cannot share stdout with the summary: it is not written
      const emit = (s: string): void => { if (out !== undefined) chunks.push(s); else if (!json) io.stdout(s); };
      emit(`# vtxsim import ${format} ${input}\n`);
      for await (const item of imp(io.lines(input), { strict: args.strict === true, file: input }) as AsyncIterable<ImportItem>) {
        switch (item.kind) {
          case 'event': events++; emit(encodeTraceLine(item.event) + '\n'); break;
          case 'comment': comments++; emit(`# ${item.text}\n`); break;
          case 'warning':
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
      if (json) printJson(io, { format, input, ...(out !== undefined ? { output: out } : {}), events, comments, warnings: Object.fromEntries(warnings) });
      else if (out !== undefined) io.stderr(`vtxsim import: ${events} events written to ${out}\n`);
      return 0;
    });
  },
};
