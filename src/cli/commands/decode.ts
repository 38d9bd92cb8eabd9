import type { Command } from '../command';
import { notImplemented } from '../output';

export const decodeCommand: Command = {
  command: 'decode [line]',
  describe: 'decode a recorded kvm_exit line, or --reason with --qualification, field by field',
  builder: (y) => y
    .positional('line', { type: 'string' })
    .option('reason', { type: 'string', describe: 'exit reason name or number' })
    .option('qualification', { type: 'string', describe: 'exit qualification (hex)' }),
  handler: async (args, io) => notImplemented(io, args.json === true, 'decode'),
};
