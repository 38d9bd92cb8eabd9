/**
 * The built CLI (dist/cli/bin.js, as `npx vtxsim` runs it) on a trace large enough for the decode worker
 * (src/cli/workerChunks.ts): the worker script is found next to bin.js, the report equals the one decoded on the
 * replaying thread (main() in this process with an Io that has no worker), and a bad line is the same one-line error.
 * Needs a build newer than every source file (`npm ci` makes one; locally `npm run build`); otherwise skipped, saying so.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../src/cli/main';
import { fileTextPieces } from '../../src/cli/traceSource';
import { WORKER_MIN_BYTES } from '../../src/cli/workerChunks';
import { fakeIo } from '../helpers/fakeIo';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'dist', 'cli', 'bin.js');
const newest = (dir: string): number => fs.readdirSync(dir, { withFileTypes: true })
  .reduce((m, e) => Math.max(m, e.isDirectory() ? newest(path.join(dir, e.name)) : fs.statSync(path.join(dir, e.name)).mtimeMs), 0);
const fresh = fs.existsSync(BIN) && fs.statSync(BIN).mtimeMs >= newest(path.join(ROOT, 'src'));

const run = (args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, ['--max-semi-space-size=4', BIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });

/** main() in this process, decoding on this thread: the real file read through text pieces, no decode worker. */
const inProcess = async (file: string, args: string[]): Promise<{ code: number; out: string; err: string }> => {
  const f = fakeIo({ [file]: '' });
  const io = { ...f.io, fileSize: (p: string) => fs.statSync(p).size, textChunks: (p: string) => fileTextPieces(p) };
  const code = await main(['run', file, ...args], io);
  return { code, out: f.out(), err: f.err() };
};

(fresh ? describe : describe.skip)(fresh ? 'the built CLI decodes a large trace on a worker thread' : 'SKIPPED (no build newer than src/: npm run build): the built CLI decodes a large trace on a worker thread', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtxsim-worker-e2e-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  for (let i = 0; lines.length < 130_000; i++) {
    lines.push(JSON.stringify({ op: i % 5 === 0 ? 'write' : 'read', gva: '0x' + (0x400000 + (i % 96) * 0x1000 + (i % 7) * 8).toString(16), size: 8 }));
    if (i % 50 === 0) lines.push('{"op":"cpuid","leaf":1}', '{"op":"out","port":1016}', `{"op":"wrmsr","msr":"0x6e0","value":"0x${i.toString(16)}"}`);
  }
  const good = path.join(dir, 'big.jsonl');
  fs.writeFileSync(good, lines.join('\n') + '\n');

  it('the same JSON report as decoding on the replaying thread', async () => {
    expect(fs.statSync(good).size).toBeGreaterThanOrEqual(WORKER_MIN_BYTES);
    const r = run(['run', good, '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const ref = await inProcess(good, ['--format', 'json']);
    expect(ref.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(ref.out));
    expect(JSON.parse(r.stdout).exits.total).toBeGreaterThan(2000);
  }, 120000);

  it('a bad line near the end: exit 1, the same one-line message, no report', async () => {
    const bad = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(bad, [...lines.slice(0, 120_000), '{"op":"read","gva":"0x1000","size":0}', ...lines.slice(120_000)].join('\n') + '\n');
    const r = run(['run', bad]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const ref = await inProcess(bad, []);
    expect(ref.code).toBe(1);
    expect(r.stderr).toBe(ref.err);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('line 120001');
  }, 120000);
});
