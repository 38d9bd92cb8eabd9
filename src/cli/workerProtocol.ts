/**
 * What the replaying thread and the decode worker (decodeWorker.ts) say to each other: the worker's input and its
 * messages (workerChunks.ts reads them). Types only.
 */
import type { Worker } from 'worker_threads';
import type { InputProblem } from '../arch/problem';
import type { PackedChunk } from './packedChunk';

/** What the worker is given. */
export interface WorkerInput {
  readonly file: string;
  readonly format: 'jsonl' | 'lackey';
  readonly size: number;
  /**
   * Two Int32s: [TAKEN] chunks the replaying thread has taken from the worker; [CLAIM] the chunks the replaying thread
   * decoded itself while the worker started (the first CLAIM chunks of the file), or FROZEN | k once the worker sends
   * from chunk k on (see workerChunks.ts)
   */
  readonly taken: SharedArrayBuffer;
}

export type WorkerMessage =
  | { readonly kind: 'chunk'; readonly chunk: PackedChunk }
  | { readonly kind: 'done' }
  | { readonly kind: 'input'; readonly problem: InputProblem }
  | { readonly kind: 'fatal'; readonly message: string };

/** Starts a decode worker with its input (src/cli/bin.ts: decodeWorker.js from the build). */
/** Indexes in `WorkerInput.taken`, and the bit that freezes CLAIM. */
export const TAKEN = 0;
export const CLAIM = 1;
export const FROZEN = 1 << 30;

export type StartWorker = (input: WorkerInput) => Worker;

