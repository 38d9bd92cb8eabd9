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
  /** one Int32: chunks the replaying thread has taken */
  readonly taken: SharedArrayBuffer;
}

export type WorkerMessage =
  | { readonly kind: 'chunk'; readonly chunk: PackedChunk }
  | { readonly kind: 'done' }
  | { readonly kind: 'input'; readonly problem: InputProblem }
  | { readonly kind: 'fatal'; readonly message: string };

/** Starts a decode worker with its input (src/cli/bin.ts: decodeWorker.js from the build). */
export type StartWorker = (input: WorkerInput) => Worker;

