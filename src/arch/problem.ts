/**
 * Model errors: bad input or an unsupported feature (style guide rule 3: apart from guest faults and VM exits).
 * Every one names where (file, line, field path), what was expected and what was found, and prints on one line.
 */

export interface InputProblem {
  readonly _tag: 'InputProblem';
  readonly file?: string;
  readonly line?: number;
  /** field path, e.g. "steps[3].value" or "gva" */
  readonly path?: string;
  readonly expected: string;
  readonly found: string;
}

export const inputProblem = (p: Omit<InputProblem, '_tag'>): InputProblem => ({ _tag: 'InputProblem', ...p });

export const formatProblem = (p: InputProblem): string => {
  const where = [p.file, p.line !== undefined ? `line ${p.line}` : undefined].filter((x) => x !== undefined).join(':');
  const field = p.path !== undefined && p.path !== '' ? `field ${p.path}: ` : '';
  return `${where !== '' ? where + ': ' : ''}${field}expected ${p.expected}, found ${p.found}`;
};

/** Thrown only across the boundary of a streaming reader, caught by the CLI and printed with formatProblem. */
export class InputError extends Error {
  constructor(readonly problem: InputProblem) {
    super(formatProblem(problem));
  }
}

/** Short rendering of an arbitrary JSON value for "found ..." messages. */
export const showFound = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  const s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
};
