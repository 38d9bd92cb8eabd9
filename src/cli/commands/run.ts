import type { Command } from '../command';
import { notImplemented } from '../output';

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
  handler: async (args, io) => notImplemented(io, args.json === true, 'run'),
};
