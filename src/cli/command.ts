/** What a CLI command is: its yargs declaration and a handler that returns the exit code. */
import type { Argv } from 'yargs';
import type { Io } from './io';

export interface Command {
  readonly command: string;
  readonly describe: string;
  readonly builder: (y: Argv) => Argv;
  readonly handler: (args: Record<string, unknown>, io: Io) => Promise<number>;
}
