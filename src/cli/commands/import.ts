import type { Command } from '../command';
import { notImplemented } from '../output';

export const importCommand: Command = {
  command: 'import <format> <input>',
  describe: 'convert a recorded workload to a trace (.jsonl)',
  builder: (y) => y
    .positional('format', { choices: ['lackey', 'kvm-trace', 'perf-kvm-stat', 'pinatrace', 'din'] as const })
    .positional('input', { type: 'string' })
    .option('o', { alias: 'output', type: 'string', describe: 'output trace (.jsonl); stdout when absent' })
    .option('strict', { type: 'boolean', default: false, describe: 'a malformed line is fatal (default: reported and skipped)' }),
  handler: async (args, io) => notImplemented(io, args.json === true, `import ${String(args.format)}`),
};
