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
import { packedChunks } from './traceBytes';
import { CLAIM, TAKEN, type StartWorker, type WorkerMessage } from './workerProtocol';

/** Smaller files decode on the replaying thread: starting a worker costs a few tens of milliseconds. */
export const WORKER_MIN_BYTES = 4 << 20;

/** Chunks from a decode worker that is already running; `stop` ends it (also when the chunks were never read). */
export interface WorkerChunks extends AsyncIterable<Chunk> {
  readonly stop: () => Promise<void>;
}

/**
 * Starts a worker (made by `start`) decoding `file` now, so that it boots while the caller prepares, and gives its
 * chunks: the same chunks as `eventChunks`, an InputError at a bad line after the chunks before it. Iterate once;
 * leaving the loop early, or `stop`, ends the worker. The chunks asked for before the worker has one ready are
 * decoded on this thread, at most `ownMax` of them (tests set it: 0 for every chunk from the worker).
 */
export const workerChunks = (start: StartWorker, file: string, format: TraceFormat, size = 4096, ownMax = Infinity): WorkerChunks => {
  const taken = new SharedArrayBuffer(8);
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
    Atomics.store(counter, TAKEN, 1 << 30);
    Atomics.notify(counter, TAKEN);
    await worker.terminate();
  };
  async function* chunks(): AsyncGenerator<Chunk> {
    const intern = new AccessInterner();
    const dict: GuestEvent[] = [];
    try {
      // while the worker starts (a new thread loads its modules: a hundred milliseconds or more), the first chunks are
      // decoded here, by the worker's reader, each claimed before it is decoded; the worker drops those and sends
      // from the first chunk not claimed (decodeWorker.ts `takesOver`). The same reader from the same start numbers
      // the dictionary alike, so the worker's chunks unpack with this dictionary.
      const own = packedChunks(file, format, size);
      try {
        for (let i = 0; i < ownMax && Atomics.compareExchange(counter, CLAIM, i, i + 1) === i; i++) {
          const r = own.next();
          if (r.done === true) return;
          yield { events: unpackChunk(r.value, intern, dict), bytes: r.value.bytes };
        }
      } finally {
        own.return(undefined);
      }
      for (;;) {
        if (queue.length === 0) await new Promise<void>((resolve) => { wake = resolve; });
        const m = queue.shift() as WorkerMessage;
        if (m.kind === 'chunk') {
          Atomics.add(counter, TAKEN, 1);
          Atomics.notify(counter, TAKEN);
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
