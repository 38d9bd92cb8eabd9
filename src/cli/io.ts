/**
 * The effects the CLI may use, as a record of capabilities (fp-ts style): the commands receive it, tests pass a fake.
 * Only src/cli/bin.ts builds the real one from `fs` and `process`.
 */
import type { StartWorker } from './workerProtocol';

export interface Io {
  readonly readFile: (path: string) => string;
  /** true when the path exists and is a file */
  readonly exists: (path: string) => boolean;
  /** writes the whole file at once (to a temporary name, then renamed), so no half-written output is ever left */
  readonly writeFileAtomic: (path: string, content: string) => void;
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  /** stderr is a terminal (progress bars and colour only then) */
  readonly stderrIsTTY: boolean;
  /** stdout is a terminal (colour of what a command prints there, e.g. `vtxsim explain`); absent means no */
  readonly stdoutIsTTY?: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** opens a file as a stream of text pieces (about 1 MiB each); the trace reader splits lines itself, which is
   * several times faster than readline. Optional: without it, `lines` is used */
  readonly textChunks?: (path: string) => AsyncIterable<string>;
  /** starts a trace-decoding worker thread (src/cli/workerChunks.ts); without it, traces decode on the replaying
   * thread. Optional */
  readonly decodeWorker?: StartWorker;
  /** opens a file for line-by-line streaming */
  readonly lines: (path: string) => AsyncIterable<string>;
  /** size of a file in bytes (for progress) */
  readonly fileSize: (path: string) => number;
  /** a file written piece by piece under a temporary name and renamed on commit, so a failed run leaves nothing */
  readonly atomicWriter: (path: string) => AtomicWriter;
  /** registers a handler for Ctrl-C; returns a function that removes it */
  readonly onInterrupt: (handler: () => void) => () => void;
}

export interface AtomicWriter {
  readonly write: (s: string) => void;
  readonly commit: () => void;
  readonly abort: () => void;
}
