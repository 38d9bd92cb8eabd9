/**
 * What every importer yields, and how a malformed line is handled (a warning with its line number, or fatal with
 * `strict`). Importers are async generators over lines: constant memory, one line at a time.
 * Leaves out: reading files (src/cli does that and passes an AsyncIterable of lines).
 */
import { InputError, inputProblem } from '../../arch/problem';
import type { GuestEvent } from '../../guest/events';

export type ImportItem =
  | { readonly kind: 'event'; readonly event: GuestEvent }
  /** kept in the trace as a `# ...` comment line (e.g. an exit no guest event causes) */
  | { readonly kind: 'comment'; readonly text: string }
  | { readonly kind: 'warning'; readonly line?: number; readonly code: string; readonly message: string; readonly reason?: string }
  /** one exit the recording holds (kvm-trace: one per kvm_exit line) or a report row (perf-kvm-stat), for --fidelity */
  | { readonly kind: 'recorded'; readonly reason: string; readonly count: number; readonly avgTimeUs?: number };

export interface ImportOptions {
  readonly strict?: boolean;
  readonly file?: string;
}

export type Importer = (lines: AsyncIterable<string>, opts?: ImportOptions) => AsyncGenerator<ImportItem>;

/** A malformed line: a warning, or an InputError under `strict`. */
export const malformed = (opts: ImportOptions, line: number, expected: string, found: string): ImportItem => {
  if (opts.strict === true) throw new InputError(inputProblem({ file: opts.file, line, expected, found }));
  return { kind: 'warning', line, code: 'malformed', message: `line ${line}: expected ${expected}, found ${found}` };
};

export const event = (e: GuestEvent): ImportItem => ({ kind: 'event', event: e });
