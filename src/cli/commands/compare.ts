import type { Command } from '../command';
import { notImplemented } from '../output';

export const compareCommand: Command = {
  command: 'compare <trace>',
  describe: 'run one trace under several configurations and print them side by side',
  builder: (y) => y
    .positional('trace', { type: 'string' })
    .option('modes', { type: 'string', demandOption: true, describe: 'comma-separated: native, ept, ept-2m, ept-1g, ept-5level, shadow, ept-novpid' })
    .option('config', { type: 'string', describe: 'base config (.json)' })
    .option('format', { choices: ['text', 'json', 'csv'] as const, default: 'text' })
    .option('html', { type: 'string', describe: 'also write a self-contained HTML report' }),
  handler: async (args, io) => notImplemented(io, args.json === true, 'compare'),
};
