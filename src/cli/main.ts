/**
 * The command line (interface §1): every command registered with yargs 17; `--json`, `--help`, `--version`;
 * exit 0 on success, 1 when the input is invalid or the run fails, 2 on a usage error.
 * `main` takes the argument list and an Io record and returns the exit code; only bin.ts touches process.
 */
import yargs from 'yargs';
import type { Argv } from 'yargs';
import type { Io } from './io';
import { commands } from './commands';

const VERSION: string = (require('../../package.json') as { version: string }).version;

export const main = async (argv: readonly string[], io: Io): Promise<number> => {
  let code = 0;
  let usageError: string | undefined;
  let y: Argv = yargs([...argv])
    .scriptName('vtxsim')
    .usage('vtxsim <command> [options]\n\nA simulator of Intel VT-x with EPT: VM exits and address-translation costs of guest traces.')
    .option('json', { type: 'boolean', default: false, describe: 'print exactly one JSON document on stdout' })
    .exitProcess(false)
    .strict()
    .demandCommand(1, 'a command is required')
    .recommendCommands()
    .version(VERSION)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      if (err) throw err;
      usageError = msg ?? 'invalid usage';
    });
  for (const c of commands) {
    y = y.command(c.command, c.describe, c.builder, async (args) => {
      code = await c.handler(args as unknown as Record<string, unknown>, io);
    });
  }
  let output = '';
  await y.parseAsync([...argv], {}, (_err, _args, out) => { output = out; });
  if (usageError !== undefined) {
    io.stderr(`vtxsim: ${usageError}\nRun "vtxsim --help" for usage.\n`);
    return 2;
  }
  if (output !== '') io.stdout(output.endsWith('\n') ? output : output + '\n');
  return code;
};
