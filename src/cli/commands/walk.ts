import type { Command } from '../command';
import { notImplemented } from '../output';

export const walkCommand: Command = {
  command: 'walk',
  describe: 'explain one translation of a guest-linear address from cold TLBs: every reference of the 2-D walk',
  builder: (y) => y
    .option('gva', { type: 'string', demandOption: true, describe: 'guest-linear address (hex or decimal)' })
    .option('config', { type: 'string' })
    .option('access', { choices: ['read', 'write', 'fetch'] as const, default: 'read' })
    .option('user', { type: 'boolean', default: false, describe: 'a user-mode (CPL 3) access' }),
  handler: async (args, io) => notImplemented(io, args.json === true, 'walk'),
};
