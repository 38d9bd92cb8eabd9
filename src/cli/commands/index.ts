/** The command table: one module per command of interface §1. */
import type { Command } from '../command';
import { runCommand } from './run';
import { compareCommand } from './compare';
import { walkCommand } from './walk';
import { checkCommand } from './check';
import { decodeCommand } from './decode';
import { importCommand } from './import';
import { explainCommand } from './explain';

export const commands: readonly Command[] = [runCommand, compareCommand, walkCommand, checkCommand, decodeCommand, importCommand, explainCommand];
