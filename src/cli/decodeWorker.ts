/**
 * The decode worker: reads and decodes a trace file on its own thread (src/cli/workerChunks.ts starts it), so that
 * decoding the next chunks overlaps the replay of this one. It reads the file as bytes (traceBytes.ts) and sends
 * each chunk packed (packedChunk.ts), at most
 * WINDOW chunks ahead of what the replaying thread has taken (a shared counter: memory stays flat however long the
 * trace). The first chunks, decoded while this thread started, may be the replaying thread's own (`takesOver`).
 * Messages, in order: `chunk`... then `done`, or `input` (a bad line: the InputError's problem) or `fatal`; nothing
 * when the replaying thread decoded the whole file, or the chunk with the bad line, itself.
 */
import { parentPort, workerData } from 'worker_threads';
import { InputError } from '../arch/problem';
import { transferList, type PackedChunk } from './packedChunk';
import { packedChunks } from './traceBytes';
import { CLAIM, FROZEN, TAKEN, type WorkerMessage, type WorkerInput } from './workerProtocol';

/** Chunks sent and not yet taken, at most. */
export const WINDOW = 4;

const run = (port: NonNullable<typeof parentPort>, input: WorkerInput): void => {
  const shared = new Int32Array(input.taken);
  const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
  let sent = 0;
  // chunk k (counted from 0) is being decoded; `mine`: the worker sends it and every chunk after it
  let k = 0;
  let mine = false;
  /**
   * Does the worker send chunk k? The replaying thread decodes the first chunks itself while this thread starts,
   * claiming each before it decodes it (CLAIM counts them). The worker, which decodes the same chunks (the same reader
   * from the start of the file: the same dictionary numbers), drops those and takes over at the first one not yet
   * claimed, by freezing CLAIM there; whichever of the two changes CLAIM from k first has chunk k.
   */
  const takesOver = (): boolean => {
    if (mine) return true;
    const c = Atomics.load(shared, CLAIM);
    if ((c & FROZEN) === 0 && c === k && Atomics.compareExchange(shared, CLAIM, k, k | FROZEN) === k) mine = true;
    return mine;
  };
  try {
    const send = (p: PackedChunk): void => {
      for (;;) {
        const t = Atomics.load(shared, TAKEN);
        if (sent - t < WINDOW) break;
        Atomics.wait(shared, TAKEN, t);
      }
      post({ kind: 'chunk', chunk: p }, transferList(p));
      sent++;
    };
    for (const p of packedChunks(input.file, input.format, input.size)) {
      if (takesOver()) send(p);
      k++;
    }
    if (takesOver()) post({ kind: 'done' });
  } catch (err) {
    // a bad line in a chunk the replaying thread claimed: it meets the same error itself
    if (!takesOver()) return;
    if (err instanceof InputError) post({ kind: 'input', problem: err.problem });
    else post({ kind: 'fatal', message: err instanceof Error ? err.message : String(err) });
  }
};

if (parentPort !== null) run(parentPort, workerData as WorkerInput);
