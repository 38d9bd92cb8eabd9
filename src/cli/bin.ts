#!/usr/bin/env -S node --max-semi-space-size=4
/**
 * The edge: the only file that touches process.argv and the exit code.
 * The shebang caps V8's young generation at 4 MiB semi-spaces: the replay makes many short-lived objects, and with
 * Node's default (16 MiB) peak RSS of a long run was 190-225 MB, with 4 MiB 130-140 MB at the same speed
 * (docs/BENCH.md "End-to-end peak RSS").
 */
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import { main } from './main';
import type { Io } from './io';
import { Worker } from 'worker_threads';
import { fileTextPieces } from './traceSource';

const nodeIo: Io = {
  readFile: (p) => fs.readFileSync(p, 'utf8'),
  exists: (p) => fs.existsSync(p) && fs.statSync(p).isFile(),
  writeFileAtomic: (p, content) => {
    const tmp = path.join(path.dirname(p), `.${path.basename(p)}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, content);
    fs.renameSync(tmp, p);
  },
  stdout: (s) => { process.stdout.write(s); },
  stderr: (s) => { process.stderr.write(s); },
  stderrIsTTY: process.stderr.isTTY === true,
  stdoutIsTTY: process.stdout.isTTY === true,
  env: process.env,
  textChunks: (p) => fileTextPieces(p),
  decodeWorker: (input) => new Worker(path.join(__dirname, 'decodeWorker.js'), { workerData: input }),
  lines: (p) => readline.createInterface({ input: fs.createReadStream(p, { encoding: 'utf8', highWaterMark: 1 << 20 }), crlfDelay: Infinity }),
  fileSize: (p) => fs.statSync(p).size,
  atomicWriter: (p) => {
    const tmp = path.join(path.dirname(p), `.${path.basename(p)}.${process.pid}.tmp`);
    const fd = fs.openSync(tmp, 'w');
    let open = true;
    return {
      write: (s) => { fs.writeSync(fd, s); },
      commit: () => { if (open) { fs.closeSync(fd); open = false; fs.renameSync(tmp, p); } },
      abort: () => { if (open) { fs.closeSync(fd); open = false; fs.rmSync(tmp, { force: true }); } },
    };
  },
  onInterrupt: (handler) => {
    process.on('SIGINT', handler);
    return () => { process.off('SIGINT', handler); };
  },
};

main(process.argv.slice(2), nodeIo).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    // A broken invariant inside the model: say so in one line; never a stack trace unless asked.
    process.stderr.write(`vtxsim: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.VTXSIM_DEBUG) process.stderr.write(`${err instanceof Error ? err.stack : ''}\n`);
    process.exitCode = 1;
  },
);
