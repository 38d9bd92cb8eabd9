/**
 * Worker threads running TypeScript sources under Jest: a worker cannot use Jest's transform, so the bootstrap
 * compiles each required .ts file with @swc/core (the compiler @swc/jest uses) before running it.
 */
import { Worker } from 'worker_threads';
import { join } from 'path';
import type { StartWorker } from '../../src/cli/workerProtocol';

const BOOTSTRAP = `
const { workerData } = require('worker_threads');
const fs = require('fs');
const { transformSync } = require('@swc/core');
require.extensions['.ts'] = (m, filename) => m._compile(transformSync(fs.readFileSync(filename, 'utf8'),
  { filename, jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }).code, filename);
require(workerData.script);
`;

/** Starts src/cli/decodeWorker.ts (or `script`) as a worker thread; `seen` counts the messages it posts. */
export const tsDecodeWorker = (seen?: { messages: number }, script = join(__dirname, '..', '..', 'src', 'cli', 'decodeWorker.ts')): StartWorker => (input) => {
  const w = new Worker(BOOTSTRAP, { eval: true, workerData: { ...input, script } });
  if (seen !== undefined) w.on('message', () => { seen.messages++; });
  return w;
};
