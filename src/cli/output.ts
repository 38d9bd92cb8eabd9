/** Shared printing rules: one JSON document with schemaVersion 1 on stdout; messages on stderr. */
import type { Io } from './io';
import { InputError, formatProblem, type InputProblem } from '../arch/problem';

export const SCHEMA_VERSION = 1;

/** JSON text with bigints as lowercase 0x hex strings (interface §1: never a number above 2^53). */
export const toJson = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? '0x' + (x < 0n ? (x & ((1n << 64n) - 1n)) : x).toString(16) : x), 2);

export const printJson = (io: Io, doc: Record<string, unknown>): void => {
  io.stdout(toJson({ schemaVersion: SCHEMA_VERSION, ...doc }) + '\n');
};

/** A command whose engine lands in a later issue: exit 2 and say so plainly, never a fake result. */
export const notImplemented = (io: Io, json: boolean, what: string): number => {
  io.stderr(`vtxsim: not implemented yet: ${what}\n`);
  if (json) printJson(io, { error: { kind: 'not-implemented', message: `not implemented yet: ${what}` } });
  return 2;
};

/** Bad input: one line on stderr (and a JSON error document with --json), exit 1. */
export const inputFailure = (io: Io, json: boolean, p: (Omit<InputProblem, '_tag'> & { readonly _tag?: 'InputProblem' }) | string): number => {
  const msg = typeof p === 'string' ? p : formatProblem({ _tag: 'InputProblem', ...p });
  io.stderr(`vtxsim: ${msg}\n`);
  if (json) printJson(io, { error: { kind: 'input', message: msg, ...(typeof p === 'string' ? {} : { problem: p }) } });
  return 1;
};

/** Runs a command body; an InputError thrown from a streaming reader becomes a clean exit 1. */
export const guarded = async (io: Io, json: boolean, body: () => Promise<number>): Promise<number> => {
  try {
    return await body();
  } catch (e) {
    if (e instanceof InputError) return inputFailure(io, json, e.problem);
    throw e;
  }
};
