/**
 * Decoded trace chunks from a decode worker (decodeWorker.ts): the same chunks, errors and order as `eventChunks`,
 * decoded on another thread while this one replays. `vtxsim run` uses it for trace files of WORKER_MIN_BYTES or more
 * (src/cli/bin.ts gives the capability; tests without it, and small files, decode on the replaying thread).
 */
import { InputError } from '../arch/problem';
import type { GuestEvent } from '../guest/events';
import { AccessInterner } from '../guest/intern';
import { unpackChunk } from './packedChunk';
import type { Chunk, TraceFormat } from './traceSource';
import type { StartWorker, WorkerMessage } from './workerProtocol';

/** Smaller files decode on the replaying thread: starting a worker costs a few tens of milliseconds. */
export const WORKER_MIN_BYTES = 4 << 20;

/** Chunks from a decode worker that is already running; `stop` ends it (also when the chunks were never read). */
export interface WorkerChunks extends AsyncIterable<Chunk> {
  readonly stop: () => Promise<void>;
}

/**
 * Starts a worker (made by `start`) decoding `file` now, so that it boots while the caller prepares, and gives its
 * chunks: the same chunks as `eventChunks`, an InputError at a bad line after the chunks before it. Iterate once;
 * leaving the loop early, or `stop`, ends the worker.
 */
export const workerChunks = (start: StartWorker, file: string, format: TraceFormat, size = 4096): WorkerChunks => {
  const taken = new SharedArrayBuffer(4);
  const counter = new Int32Array(taken);
  const queue: WorkerMessage[] = [];
  let wake: (() => void) | null = null;
  const push = (m: WorkerMessage): void => {
    queue.push(m);
    if (wake !== null) { const w = wake; wake = null; w(); }
  };
  const worker = start({ file, format, size, taken });
  let finished = false;
  worker.on('message', (m: WorkerMessage) => push(m));
  worker.on('error', (e: Error) => push({ kind: 'fatal', message: `decode worker: ${e.message}` }));
  worker.on('exit', (code) => { if (!finished) push({ kind: 'fatal', message: `decode worker exited (code ${code}) before the end of ${file}` }); });
  const stop = async (): Promise<void> => {
    if (finished) return;
    finished = true;
    // a worker waiting for the window to open is woken first, so that it can be stopped
    Atomics.store(counter, 0, 1 << 30);
    Atomics.notify(counter, 0);
    await worker.terminate();
  };
  async function* chunks(): AsyncGenerator<Chunk> {
    const intern = new AccessInterner();
    const dict: GuestEvent[] = [];
    try {
      for (;;) {
        if (queue.length === 0) await new Promise<void>((resolve) => { wake = resolve; });
        const m = queue.shift() as WorkerMessage;
        if (m.kind === 'chunk') {
          Atomics.add(counter, 0, 1);
          Atomics.notify(counter, 0);
          yield { events: unpackChunk(m.chunk, intern, dict), bytes: m.chunk.bytes };
        } else if (m.kind === 'done') {
          return;
        } else if (m.kind === 'input') {
          throw new InputError(m.problem);
        } else {
          throw new Error(m.message);
        }
      }
    } finally {
      await stop();
    }
  }
  return { stop, [Symbol.asyncIterator]: chunks };
};
