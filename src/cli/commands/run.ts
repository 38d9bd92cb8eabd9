import * as path from 'path';
import { isLeft } from 'fp-ts/Either';
import type { Command } from '../command';
import type { Io } from '../io';
import { guarded, inputFailure, notImplemented, printJson } from '../output';
import { parseScenario, runScenario, outcomeJson, type StepRecord } from '../../replay/scenario';

/** Reads and parses a JSON file; failures name the file. */
export const readJson = (io: Io, file: string): { ok: true; value: unknown } | { ok: false; message: string } => {
  let text: string;
  try {
    text = io.readFile(file);
  } catch (e) {
    const code = (e as { code?: string }).code;
    return { ok: false, message: `${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : 'cannot be read'}` };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, message: `${file}: expected JSON, found a syntax error (${(e as Error).message})` };
  }
};

const describeOutcome = (r: StepRecord): string => {
  const o = outcomeJson(r.outcome);
  const rest = Object.entries(o).filter(([k]) => k !== 'result').map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return `${String(r.index).padStart(4)}  ${r.op.padEnd(16)} ${String(o.result).padEnd(14)} ${rest.join(' ')}`;
};

const runScenarioFile = (io: Io, file: string, json: boolean, value: unknown): number => {
  const s = parseScenario(value);
  if (isLeft(s)) return inputFailure(io, json, { file, path: s.left.path, expected: s.left.expected, found: s.left.found });
  const r = runScenario(s.right);
  if (isLeft(r)) return inputFailure(io, json, { file, path: r.left.path, expected: r.left.expected, found: r.left.found });
  const steps = r.right.records.map((x) => ({ index: x.index, op: x.op, outcome: outcomeJson(x.outcome) }));
  if (json) printJson(io, { file: path.basename(file), steps });
  else io.stdout(['step  op               result         details', ...r.right.records.map(describeOutcome)].join('\n') + '\n');
  return 0;
};

export const runCommand: Command = {
  command: 'run <file>',
  describe: 'run a trace (.jsonl) or a scenario (.json) and report exit counts and translation costs',
  builder: (y) => y
    .positional('file', { type: 'string', describe: 'trace (.jsonl), lackey output, or scenario (.json)' })
    .option('config', { type: 'string', describe: 'config (.json), interface §3' })
    .option('format', { choices: ['text', 'json', 'csv'] as const, default: 'text', describe: 'report format' })
    .option('input', { choices: ['auto', 'jsonl', 'lackey'] as const, default: 'auto', describe: 'trace format' })
    .option('html', { type: 'string', describe: 'also write a self-contained HTML report' })
    .option('exit-log', { type: 'string', describe: 'write kvm_exit tracepoint lines (G3) for every exit' })
    .option('steps', { type: 'boolean', default: false, describe: 'per-step outcomes in JSON (always on for scenarios)' }),
  handler: async (args, io) => {
    const json = args.json === true || args.format === 'json';
    const file = String(args.file);
    return guarded(io, json, async () => {
      if (file.endsWith('.json')) {
        const v = readJson(io, file);
        if (!v.ok) return inputFailure(io, json, v.message);
        return runScenarioFile(io, file, json, v.value);
      }
      return notImplemented(io, json, 'run of a trace (.jsonl / lackey): the replay engine');
    });
  },
};
