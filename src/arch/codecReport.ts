/**
 * Our short io-ts reporter (style guide rule 8): the first decode error as {path, expected, found}.
 * Not io-ts-reporters (it drops union paths and pulls in telemetry). Union branches are tried by io-ts; we report the
 * branch that got deepest, since that is the one the author of the input most likely meant.
 */
import type * as t from 'io-ts';
import { showFound } from './problem';

export interface DecodeFailure {
  /** e.g. "config.ept.levels" or "steps[3].value" */
  readonly path: string;
  readonly expected: string;
  readonly found: string;
}

const isIndex = (k: string): boolean => /^\d+$/.test(k);

const pathOf = (ctx: t.Context, root: string): string => {
  let p = root;
  for (let i = 1; i < ctx.length; i++) {
    const entry = ctx[i];
    const parent = ctx[i - 1].type as t.Mixed & { _tag?: string };
    // union and intersection members are keyed by their position: not part of the user's path
    if (parent._tag === 'UnionType' || parent._tag === 'IntersectionType') continue;
    if (entry.key === '') continue;
    p = isIndex(entry.key) && parent._tag !== 'InterfaceType' && parent._tag !== 'PartialType' && parent._tag !== 'ExactType'
      ? `${p}[${entry.key}]`
      : p === '' ? entry.key : `${p}.${entry.key}`;
  }
  return p;
};

/** The most specific failure among io-ts errors. */
export const firstFailure = (errors: t.Errors, root = ''): DecodeFailure => {
  let best = errors[0];
  for (const e of errors) if (e.context.length > best.context.length) best = e;
  const last = best.context[best.context.length - 1];
  return {
    path: pathOf(best.context, root),
    expected: best.message ?? last.type.name,
    found: showFound(best.value),
  };
};
