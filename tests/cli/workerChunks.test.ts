/**
 * Decoding on a worker thread (src/cli/workerChunks.ts, decodeWorker.ts, packedChunk.ts): the same chunks, events and
 * errors as decoding on the replaying thread (`eventChunks`), a bounded number of chunks ahead, and a worker that
 * stops when the reader leaves early.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { eventChunks, fileTextPieces, type Chunk } from '../../src/cli/traceSource';
import { WORKER_MIN_BYTES, workerChunks } from '../../src/cli/workerChunks';
import { runTraceFile } from '../../src/cli/replayRun';
import { DEFAULT_CONFIG } from '../../src/replay/config';
import { WINDOW } from '../../src/cli/decodeWorker';
import { KNOWN, unpackChunk, type PackedChunk } from '../../src/cli/packedChunk';
import { packedChunks } from '../../src/cli/traceBytes';
import { AccessInterner } from '../../src/guest/intern';
import { InputError } from '../../src/arch/problem';
import type { GuestEvent } from '../../src/guest/events';
import { gva } from '../../src/arch/addr';
import { tsDecodeWorker } from '../helpers/tsWorker';

const localIo = { textChunks: (p: string) => fileTextPieces(p, 4096), lines: (): never => { throw new Error('pieces only'); } };

const collect = async (it: AsyncIterable<Chunk>): Promise<{ chunks: { events: GuestEvent[]; bytes: number }[]; error?: unknown }> => {
  const chunks: { events: GuestEvent[]; bytes: number }[] = [];
  try {
    for await (const c of it) chunks.push({ events: [...c.events], bytes: c.bytes });
  } catch (error) {
    return { chunks, error };
  }
  return { chunks };
};

/**
 * A reference packer: memory accesses of sizes up to 0xffff as codes; every other event in the dictionary `dict`
 * (numbered on from its length; an equal event already there is referred to).
 */
const packChunk = (events: readonly GuestEvent[], bytes: number, dict: Map<string, number>): PackedChunk => {
  const codes = new Uint8Array(events.length);
  const gvas = new Float64Array(events.length);
  const sizes = new Uint16Array(events.length);
  const defs: GuestEvent[] = [];
  events.forEach((e, i) => {
    const op = ['read', 'write', 'fetch'].indexOf(e.op);
    if (op >= 0 && 'user' in e && e.size <= 0xffff) { codes[i] = op * 2 + (e.user ? 1 : 0); gvas[i] = e.gva; sizes[i] = e.size; return; }
    const key = JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
    let id = dict.get(key);
    if (id === undefined) { id = dict.size; dict.set(key, id); defs.push(e); }
    codes[i] = KNOWN; gvas[i] = id;
  });
  return { n: events.length, codes, gvas, sizes, defs, reset: false, bytes };
};

describe('unpackChunk', () => {
  it('unpacking gives the events packed, in order, whatever their kinds', () => {
    const access = fc.record({ op: fc.constantFrom('read' as const, 'write' as const, 'fetch' as const),
      gva: fc.oneof(fc.integer({ min: 0, max: 2 ** 52 }), fc.integer({ min: -(2 ** 47), max: -1 })).map(gva),
      size: fc.oneof(fc.integer({ min: 1, max: 4096 }), fc.integer({ min: 65535, max: 70000 })), user: fc.boolean() });
    const other = fc.oneof(fc.record({ op: fc.constant('cpuid' as const), leaf: fc.nat(), subleaf: fc.nat() }),
      fc.record({ op: fc.constant('wrmsr' as const), msr: fc.nat(), value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
      fc.record({ op: fc.constantFrom('in' as const, 'out' as const), port: fc.nat(0xffff), size: fc.constantFrom(1 as const, 2 as const, 4 as const), string: fc.boolean(), rep: fc.boolean() }));
    const chunk = fc.array(fc.oneof(access, other), { maxLength: 40 });
    fc.assert(fc.property(chunk, chunk, (first: GuestEvent[], second: GuestEvent[]) => {
      // two chunks of one run: the second refers to what the first defined
      const ids = new Map<string, number>();
      const dict: GuestEvent[] = [];
      const intern = new AccessInterner(2);
      const p = packChunk(first, 123, ids);
      expect(p.bytes).toBe(123);
      expect(unpackChunk(p, intern, dict)).toEqual(first);
      expect(unpackChunk(packChunk(second, 124, ids), intern, dict)).toEqual(second);
    }), { numRuns: 1000 });
  });
});

describe('workerChunks (decoding on a worker thread)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vtxsim-worker-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const lackeyLine = (i: number): string => [`I  04${(i % 4096).toString(16).padStart(4, '0')},3`, ` L 1ffefff8${(i % 256).toString(16)},8`, ` S 1fff0007${(i % 97).toString(16)},4`, ` M 0403e1c8,4`, '==1== note'][i % 5];
  const jsonlLine = (i: number): string => [`{"op":"read","gva":"0x${(0x400000 + i * 8).toString(16)}","size":8}`, '{"op":"cpuid","leaf":1}',
    `{"op":"wrmsr","msr":"0x6e0","value":"0x${(i * 1000).toString(16)}"}`, '# comment', `{"op":"write","gva":"0x${(i * 4096).toString(16)}","user":false}`][i % 5];

  it('gives the same chunks (events and byte counts) as eventChunks, lackey and JSON lines, whichever thread decodes the first ones', async () => {
    for (const [format, line] of [['lackey', lackeyLine], ['jsonl', jsonlLine]] as const) {
      const file = join(dir, `t.${format}`);
      writeFileSync(file, Array.from({ length: 3000 }, (_, i) => line(i)).join('\n') + '\n');
      const expected = await collect(eventChunks(localIo, file, format, 100));
      // ownMax: the chunks this thread may decode itself while the worker starts (then the worker has the rest: the
      // JSON lines it sends refer to dictionary entries this thread's chunks defined)
      for (const ownMax of [0, 3, Infinity]) {
        const seen = { messages: 0 };
        const got = await collect(workerChunks(tsDecodeWorker(seen), file, format, 100, ownMax));
        expect(expected.error).toBeUndefined();
        expect(got.error).toBeUndefined();
        expect(got.chunks.length).toBeGreaterThan(20);
        expect(got.chunks).toEqual(expected.chunks);
        // every chunk after the first ownMax came from the worker, and then its `done`
        if (ownMax !== Infinity) expect(seen.messages).toBe(expected.chunks.length - ownMax + 1);
      }
    }
  });

  it('a bad line: the chunks before it, then the same InputError (file, line, expected, found)', async () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, [...Array.from({ length: 450 }, (_, i) => jsonlLine(i)), '{"op":"read","gva":"0x1000","size":0}', jsonlLine(1)].join('\n'));
    const expected = await collect(eventChunks(localIo, file, 'jsonl', 100));
    expect(expected.error).toBeInstanceOf(InputError);
    // the bad line is in chunk 4: met by the worker (ownMax 0 and 2) or by this thread (it may decode all 5 itself)
    for (const ownMax of [0, 2, 10]) {
      const got = await collect(workerChunks(tsDecodeWorker(), file, 'jsonl', 100, ownMax));
      expect(got.error).toBeInstanceOf(InputError);
      expect((got.error as InputError).problem).toEqual((expected.error as InputError).problem);
      expect((got.error as InputError).message).toContain('line 451');
      expect(got.chunks).toEqual(expected.chunks);
    }
  });

  it('stays at most WINDOW chunks ahead of the reader, and stops when the reader leaves early', async () => {
    const file = join(dir, 'long.lackey');
    writeFileSync(file, Array.from({ length: 20000 }, (_, i) => lackeyLine(i)).join('\n'));
    const seen = { messages: 0 };
    const reader = workerChunks(tsDecodeWorker(seen), file, 'lackey', 50, 0);
    const it = reader[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);
    // the worker runs on while this thread waits; it must stop at the window (300+ chunks are in the file)
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(seen.messages).toBeGreaterThanOrEqual(1);
    expect(seen.messages).toBeLessThanOrEqual(WINDOW + 1);
    // leaving early ends the worker (the generator's return resolves: the worker was terminated)
    await expect(it.return?.(undefined)).resolves.toEqual({ done: true, value: undefined });
  }, 20000);

  it('a worker started and never read is ended by stop (the process is not kept alive)', async () => {
    const file = join(dir, 'unread.lackey');
    writeFileSync(file, Array.from({ length: 20000 }, (_, i) => lackeyLine(i)).join('\n'));
    let exited = false;
    const start = tsDecodeWorker();
    const reader = workerChunks((input) => { const w = start(input); w.on('exit', () => { exited = true; }); return w; }, file, 'lackey', 50);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await reader.stop();
    expect(exited).toBe(true);
  });
});

describe('runTraceFile with a decode worker', () => {
  it('a trace of WORKER_MIN_BYTES or more replays to the same statistics and exit log with the worker as without', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vtxsim-worker-run-'));
    try {
      const file = join(dir, 'big.lackey');
      // a loop over 64 pages with a store every few records, some I/O-free program: ~4.5 MB of lackey text
      const lines: string[] = [];
      for (let i = 0; i < 360_000; i++) lines.push(i % 7 === 3 ? ` S 1fff${(i % 64).toString(16).padStart(2, '0')}0${(i % 16).toString(16)}8,8` : `I  04${(i % 8192).toString(16).padStart(4, '0')},4`);
      const text = lines.join('\n') + '\n';
      expect(text.length).toBeGreaterThanOrEqual(WORKER_MIN_BYTES);
      writeFileSync(file, text);
      const base = {
        readFile: () => '', exists: () => true, writeFileAtomic: () => undefined, stdout: () => undefined, stderr: () => undefined, stderrIsTTY: false, env: {},
        fileSize: () => text.length, onInterrupt: () => () => undefined, lines: (): never => { throw new Error('pieces only'); },
        textChunks: (p: string) => fileTextPieces(p),
      };
      const logs: string[][] = [[], []];
      const writer = (k: number) => ({ write: (s: string) => { logs[k].push(s); }, commit: () => undefined, abort: () => undefined });
      const seen = { messages: 0 };
      const plain = await runTraceFile({ ...base, atomicWriter: () => writer(0) }, file, DEFAULT_CONFIG, 'lackey', { exitLog: writer(0) });
      const viaWorker = await runTraceFile({ ...base, atomicWriter: () => writer(1), decodeWorker: tsDecodeWorker(seen) }, file, DEFAULT_CONFIG, 'lackey', { exitLog: writer(1) });
      expect(seen.messages).toBeGreaterThan(10);
      expect(viaWorker.state.stats).toEqual(plain.state.stats);
      expect(plain.state.stats.events).toBe(360_000);
      expect(logs[1].join('')).toEqual(logs[0].join(''));
      expect(logs[0].length).toBeGreaterThan(0);
      expect(viaWorker.firstAccess).toEqual(plain.firstAccess);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60000);

  it('a config the replay refuses: the InputError, and the worker started for the file is ended', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vtxsim-worker-bad-config-'));
    try {
      const file = join(dir, 'big.lackey');
      writeFileSync(file, 'I  0400a0,3\n'.repeat(WORKER_MIN_BYTES / 12 + 1));
      let exited = false;
      const start = tsDecodeWorker();
      const io = {
        readFile: () => '', exists: () => true, writeFileAtomic: () => undefined, stdout: () => undefined, stderr: () => undefined, stderrIsTTY: false, env: {},
        fileSize: () => WORKER_MIN_BYTES + 12, onInterrupt: () => () => undefined, lines: (): never => { throw new Error('pieces only'); },
        atomicWriter: (): never => { throw new Error('no writer'); }, textChunks: (p: string) => fileTextPieces(p),
        decodeWorker: (input: Parameters<typeof start>[0]) => { const w = start(input); w.on('exit', () => { exited = true; }); return w; },
      };
      await expect(runTraceFile(io, file, { ...DEFAULT_CONFIG, cpu: 'pentium' as never }, 'lackey')).rejects.toThrow(/config.cpu/);
      expect(exited).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('packedChunks (trace bytes straight into packed chunks, in the worker)', () => {
  const lackey = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('I  0400a0,3', ' L 1ffefff8a8,8', ' S 1fff000768,8', ' M 0401000,4', '==12== x', '', ' L  ffff,4096', 'I  1,1') },
    { weight: 1, arbitrary: fc.constantFrom(' L 12,0', 'X 1,4', ' L é,4', '# €', ' S 1fff,8 ', 'I\t1000,4', ' L 12345678901234,8', '\uFEFFI  10,4', '==7== é€😀', '\u00a0\u3000') },
  );
  const jsonl = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('{"op":"read","gva":"0x1000"}', '{"op":"write","gva":"0x2000","size":8,"user":false}', '{"op":"fetch","gva":"0xFfFf","user":true}',
      '{"op":"read","gva":"0x1fffffffffffff","size":4096}', '{"op":"write","gva":"0x10","size":2,"user":true}', '# comment é', '', '   ', '{"op":"cpuid","leaf":1}', '{"op":"rdtsc"}') },
    { weight: 1, arbitrary: fc.constantFrom(' {"op":"fetch","gva":"0x3"} ', '{"op":"read","gva":"0x1000","size":0}', '{"op":"read","gva":"0x1000","size":4097}', '{"op":"read","gva":"0x1000","size":01}',
      '{"op":"read","gva":"0x12345678901234"}', '{"op":"cpuid","leaf":1}', '{"op":"wrmsr","msr":"0x6e0","value":"0xffffffffffffffff"}', '{"op":"rdtsc"}',
      '{"op":"read","gva":"0x1000",}', '{"op":"read","gva":"0xé"}', '{"gva":"0x1000","op":"read"}', '{"op":"read","gva":"0x1000","user":1}', 'not json', '{"op":"read","gva":"0x1000"}}') },
  );

  it('the same chunks, byte counts and errors as eventChunks, for any lines, line ends, chunk size and read size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vtxsim-trace-bytes-'));
    try {
      for (const [format, line] of [['lackey', lackey], ['jsonl', jsonl]] as const) {
        const file = join(dir, `t.${format}`);
        await fc.assert(fc.asyncProperty(fc.array(line, { maxLength: 40 }), fc.array(fc.constantFrom('\n', '\r\n', '\r'), { minLength: 40, maxLength: 40 }),
          fc.boolean(), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 6 }), async (lines, ends, lastEnd, size, readBytes, decodedMax) => {
            writeFileSync(file, lines.map((l, i) => l + (i < lines.length - 1 || lastEnd ? ends[i] : '')).join(''));
            const expected = await collect(eventChunks(localIo, file, format, size));
            const got: { events: GuestEvent[]; bytes: number }[] = [];
            let error: unknown;
            try {
              const dict: GuestEvent[] = [];
              for (const p of packedChunks(file, format, size, readBytes, decodedMax)) got.push({ events: unpackChunk(p, new AccessInterner(3), dict), bytes: p.bytes });
            } catch (e) {
              error = e;
            }
            expect(got).toEqual(expected.chunks);
            if (expected.error === undefined) expect(error).toBeUndefined();
            else expect((error as InputError).problem).toEqual((expected.error as InputError).problem);
          }), { numRuns: 400 });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('two lines whose hashes and lengths are equal stay two lines (the remembered lines are told apart by their bytes)', () => {
    // FNV-1a (four bytes at a time) gives these two lines one hash: found by a search over leaf numbers
    const a = '{"op":"cpuid","leaf":170059}';
    const b = '{"op":"cpuid","leaf":670006}';
    const dir = mkdtempSync(join(tmpdir(), 'vtxsim-trace-bytes-'));
    try {
      const file = join(dir, 't.jsonl');
      writeFileSync(file, [a, b, a, b, b].join('\n') + '\n');
      const dict: GuestEvent[] = [];
      const events = [...packedChunks(file, 'jsonl', 16)].flatMap((p) => unpackChunk(p, new AccessInterner(3), dict));
      expect(events.map((e) => (e.op === 'cpuid' ? e.leaf : -1))).toEqual([170059, 670006, 170059, 670006, 670006]);
      expect(dict).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
