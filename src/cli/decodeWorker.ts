/**
 * The decode worker: reads and decodes a trace file on its own thread (src/cli/workerChunks.ts starts it), so that
 * decoding the next chunks overlaps the replay of this one. It reads the file as bytes (traceBytes.ts) and sends
 * each chunk packed (packedChunk.ts), at most
 * WINDOW chunks ahead of what the replaying thread has taken (a shared counter: memory stays flat however long the
 * trace). Messages, in order: `chunk`... then `done`, or `input` (a bad line: the InputError's problem) or `fatal`.
 */
import { parentPort, workerData } from 'worker_threads';
import { InputError } from '../arch/problem';
import { transferList, type PackedChunk } from './packedChunk';
import { packedChunks } from './traceBytes';
import type { WorkerMessage, WorkerInput } from './workerProtocol';

/** Chunks sent and not yet taken, at most. */
export const WINDOW = 4;

const run = (port: NonNullable<typeof parentPort>, input: WorkerInput): void => {
  const taken = new Int32Array(input.taken);
  const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
  let sent = 0;
  try {
    const send = (p: PackedChunk): void => {
      for (;;) {
        const t = Atomics.load(taken, 0);
        if (sent - t < WINDOW) break;
        Atomics.wait(taken, 0, t);
      }
      post({ kind: 'chunk', chunk: p }, transferList(p));
      sent++;
    };
    for (const p of packedChunks(input.file, input.format, input.size)) send(p);
    post({ kind: 'done' });
  } catch (err) {
    if (err instanceof InputError) post({ kind: 'input', problem: err.problem });
    else post({ kind: 'fatal', message: err instanceof Error ? err.message : String(err) });
  }
};

if (parentPort !== null) run(parentPort, workerData as WorkerInput);
