import type { Command } from '../command';
import { notImplemented } from '../output';

export const checkCommand: Command = {
  command: 'check <config>',
  describe: 'run the VM-entry checks on the VMCS a config describes and list every failed check',
  builder: (y) => y.positional('config', { type: 'string' }),
  handler: async (args, io) => notImplemented(io, args.json === true, 'check'),
};
