/**
 * `npm run bench`: replay speed (events per second, median of several runs) and peak RSS of the replay engine, per
 * workload, engine only (events already decoded: decoding is outside the timed part) and end to end (from the trace
 * file: read, decode, replay, as `vtxsim run` does). Each measurement runs in its own child process, so its peak RSS
 * (getrusage maxrss) is its own. Workloads are generated deterministically (bench/workloads.ts); trace files are
 * written once to bench/out/ and reused.
 *
 *   node bench/out/build/bench/main.js [--json] [--quick] [--runs N] [--only a,b,...] [--events N] [--profile <job id>]
 *
 * --quick: one run each and the scaling series up to 4M; --only: job ids or prefixes (see the table); --events N:
 * N events per generated workload instead of the defaults (for quick looks; the scaling series then means nothing);
 * --profile: profile one job (an engine job: its timed part only, with the inspector; an end-to-end job: the whole
 *   child under `node --cpu-prof`) and print its top functions by self time and by total time.
 */
import * as fs from 'fs';
import * as inspector from 'inspector';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import { Worker } from 'worker_threads';
import { execFileSync, spawnSync } from 'child_process';
import { isLeft } from 'fp-ts/Either';
import type { Config, Mode } from '../src/replay/config';
import { DEFAULT_CONFIG } from '../src/replay/config';
import { replayChunk, startReplay, type ReplayState } from '../src/replay/replay';
import { runTraceFile } from '../src/cli/replayRun';
import type { Io } from '../src/cli/io';
import { fileTextPieces } from '../src/cli/traceSource';
import type { GuestEvent } from '../src/guest/events';
import { encodeTraceLine } from '../src/guest/traceCodec';
import { AccessInterner } from '../src/guest/intern';
import { packedChunks } from '../src/cli/traceBytes';
import { unpackChunk } from '../src/cli/packedChunk';
import { generator, warmUp, type WorkloadName } from './workloads';

// compiled to bench/out/build/bench/main.js; the outputs live in bench/out
const OUT = path.resolve(__dirname, '..', '..');
const TRACES = path.join(OUT, 'traces');
const CHUNK = 4096;

type Source = WorkloadName | 'lackey';
type Variant = 'engine' | 'e2e';

interface Job {
  readonly id: string;
  readonly label: string;
  readonly source: Source;
  readonly mode: Mode;
  /** events for generated workloads; ignored for lackey (the whole recording) */
  readonly events: number;
  readonly variant: Variant;
  readonly runs: number;
  /** the issue's target, in events (lines for lackey end to end) per second */
  readonly target?: number;
  /** EPT backing `prefault` and one untimed write to every page of the footprint before timing (engine only) */
  readonly warm?: boolean;
}

interface Measured {
  readonly id: string;
  readonly events: number;
  readonly lines: number;
  readonly seconds: number[];
  readonly medianSeconds: number;
  readonly eventsPerSec: number;
  readonly linesPerSec: number;
  readonly peakRssMB: number;
  readonly exits: number;
  readonly walks: number;
  readonly l1Hits: number;
  readonly accesses: number;
  /**
   * Engine jobs of 4M events or more: the seconds of each quarter of the events, in the median run (the time per event
   * as the run goes on, in one process: no drift of the VM between jobs)
   */
  readonly quarterSeconds?: number[];
  readonly note?: string;
}

// ---- the jobs ------------------------------------------------------------------------------------------------------

const M = 1_000_000;

const jobsOf = (runs: number, quick: boolean): Job[] => {
  const both = (id: string, label: string, source: Source, mode: Mode, events: number, engineTarget?: number, e2eTarget?: number, r = runs): Job[] => [
    { id: `${id}/engine`, label, source, mode, events, variant: 'engine', runs: r, ...(engineTarget !== undefined ? { target: engineTarget } : {}) },
    { id: `${id}/e2e`, label, source, mode, events, variant: 'e2e', runs: r, ...(e2eTarget !== undefined ? { target: e2eTarget } : {}) },
  ];
  const scalingSeries = [
    both('s-1M', 'scaling: (b) at 1M', 'random', 'ept', 1 * M),
    both('s-4M', 'scaling: (b) at 4M', 'random', 'ept', 4 * M),
    ...(quick ? [] : [both('s-16M', 'scaling: (b) at 16M', 'random', 'ept', 16 * M, undefined, undefined, Math.min(runs, 2))]),
  ];
  return [
    ...both('a-loop', '(a) TLB-friendly loop', 'loop', 'ept', 4 * M, 10 * M, 1 * M),
    ...both('b-random', '(b) random, 4-level EPT, 4 KiB', 'random', 'ept', 1 * M, 1 * M, 1 * M),
    { id: 'b-warm/engine', label: '(b) random, all pages mapped and dirty (prefault + warm-up)', source: 'random', mode: 'ept', events: 1 * M, variant: 'engine', runs, target: 1 * M, warm: true },
    ...both('c-lackey', '(c) lackey: sort -n (valgrind)', 'lackey', 'ept', 0, undefined, 3 * M),
    // (d) at 1M events like (b): at 250k the JIT warm-up of the exit path weighed on every run (a first run of 250k
    // events took 0.42 s, later ones in the same process 0.19-0.20 s)
    ...both('d-exits', '(d) exit-heavy mix', 'exits', 'ept', 1 * M, 2 * M, 1 * M),
    ...both('e-native', '(e) (b) in native mode', 'random', 'native', 1 * M),
    ...both('e-shadow', '(e) (b) in shadow mode', 'random', 'shadow', M / 4),
    // the scaling series: its engine jobs one after the other, then its end-to-end jobs (the 4M and 16M jobs of a
    // variant are not separated by another job, so less of the VM's drift falls between them)
    ...scalingSeries.map(([engine]) => engine),
    ...scalingSeries.map(([, e2e]) => e2e),
  ];
};

const configFor = (mode: Mode, warm = false): Config =>
  warm ? { ...DEFAULT_CONFIG, mode, ept: { ...DEFAULT_CONFIG.ept, backing: 'prefault' } } : { ...DEFAULT_CONFIG, mode };

// ---- trace files ---------------------------------------------------------------------------------------------------

const traceFile = (job: Job): string =>
  job.source === 'lackey' ? path.join(TRACES, 'lackey-sort.txt') : path.join(TRACES, `${job.source}-${job.events}.jsonl`);

const ensureTrace = (job: Job): void => {
  const file = traceFile(job);
  if (fs.existsSync(file)) return;
  fs.mkdirSync(TRACES, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  if (job.source === 'lackey') {
    // a real program: sort -n over 1000 numbers, recorded by valgrind's lackey (about 3.4 M lines)
    const input = path.join(TRACES, 'sort-input.txt');
    fs.writeFileSync(input, Array.from({ length: 1000 }, (_, i) => String(((i + 1) * 7919) % 1000)).join('\n') + '\n');
    execFileSync('valgrind', ['--tool=lackey', '--trace-mem=yes', `--log-file=${tmp}`, 'sort', '-n', input, '-o', path.join(TRACES, 'sort-output.txt')], { stdio: 'ignore' });
  } else {
    const next = generator(job.source);
    const fd = fs.openSync(tmp, 'w');
    let buf: string[] = [];
    for (let i = 0; i < job.events; i++) {
      buf.push(encodeTraceLine(next()));
      if (buf.length === 65536) { fs.writeSync(fd, buf.join('\n') + '\n'); buf = []; }
    }
    if (buf.length > 0) fs.writeSync(fd, buf.join('\n') + '\n');
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
};

const nodeIo: Io = {
  readFile: (p) => fs.readFileSync(p, 'utf8'),
  exists: (p) => fs.existsSync(p) && fs.statSync(p).isFile(),
  writeFileAtomic: (p, c) => fs.writeFileSync(p, c),
  stdout: (s) => { process.stdout.write(s); },
  stderr: (s) => { process.stderr.write(s); },
  stderrIsTTY: false,
  env: process.env,
  textChunks: (p) => fileTextPieces(p),
  // as src/cli/bin.ts: large traces decode on a worker thread (the compiled worker sits in this build's src/cli)
  decodeWorker: (input) => new Worker(path.join(__dirname, '..', 'src', 'cli', 'decodeWorker.js'), { workerData: input }),
  lines: (p) => readline.createInterface({ input: fs.createReadStream(p, { encoding: 'utf8', highWaterMark: 1 << 20 }), crlfDelay: Infinity }),
  fileSize: (p) => fs.statSync(p).size,
  atomicWriter: () => { throw new Error('no writer in the bench'); },
  onInterrupt: () => () => undefined,
};

// ---- one measurement (in the child) --------------------------------------------------------------------------------

/** Decoded chunks of a job's events, produced outside the timed part. */
async function* decodedChunks(job: Job): AsyncGenerator<GuestEvent[]> {
  if (job.source === 'lackey') {
    // the decode worker's reader (the same events and chunks as eventChunks), on this thread: readline's per-line
    // strings were most of this child's peak RSS
    const intern = new AccessInterner();
    const dict: GuestEvent[] = [];
    for (const p of packedChunks(traceFile(job), 'lackey', CHUNK)) yield unpackChunk(p, intern, dict);
    return;
  }
  const next = generator(job.source);
  for (let done = 0; done < job.events; done += CHUNK) {
    const n = Math.min(CHUNK, job.events - done);
    const chunk = new Array<GuestEvent>(n);
    for (let i = 0; i < n; i++) chunk[i] = next();
    yield chunk;
  }
}

const start = (mode: Mode, warm = false): ReplayState => {
  const s = startReplay(configFor(mode, warm));
  if (isLeft(s)) throw new Error(`startReplay: ${JSON.stringify(s.left)}`);
  return s.right;
};

/**
 * Lines of a lackey file that are records (neither blank nor valgrind's `==pid==` lines), counted over the bytes (an
 * end-to-end job's CPU profile covers the whole child, so this is kept cheap; the files are ASCII, LF-ended).
 */
const countLines = async (file: string): Promise<number> => {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  let n = 0;
  let atStart = true; // at the first byte of a line
  let skip = false; // the line starts with '=' (valgrind's own lines; a record never does)
  let blank = true;
  try {
    for (let got = fs.readSync(fd, buf, 0, buf.length, null); got > 0; got = fs.readSync(fd, buf, 0, buf.length, null)) {
      for (let i = 0; i < got; i++) {
        const c = buf[i];
        if (c === 10) { if (!skip && !blank) n++; atStart = true; skip = false; blank = true; continue; }
        if (atStart) { skip = c === 61; atStart = false; }
        if (c !== 32 && c !== 9 && c !== 13) blank = false;
      }
    }
    if (!atStart && !skip && !blank) n++;
  } finally {
    fs.closeSync(fd);
  }
  return n;
};

const exitsOf = (s: ReplayState): number => Object.values(s.stats.exitsByReason).reduce((a, b) => a + b, 0);

const measureOnce = async (job: Job): Promise<{ seconds: number; state: ReplayState; before?: ReplayState; quarters?: number[] }> => {
  if (job.variant === 'engine') {
    let state = start(job.mode, job.warm === true);
    if (job.warm === true) {
      // untimed: map every page of the footprint (guest page tables, EPT entries), so only the walks are timed
      const w = warmUp();
      for (let i = 0; i < w.length; i += CHUNK) state = replayChunk(state, w.slice(i, i + CHUNK)).state;
    }
    const before = state;
    let ns = 0n;
    const profileDir = process.env.VTXSIM_BENCH_PROFILE;
    if (profileDir !== undefined) {
      // profile the timed part only: decode every chunk first, then replay under the inspector's CPU profiler
      const chunks: GuestEvent[][] = [];
      for await (const chunk of decodedChunks(job)) chunks.push(chunk);
      const stop = await startProfiler();
      const t0 = process.hrtime.bigint();
      for (const chunk of chunks) state = replayChunk(state, chunk).state;
      ns = process.hrtime.bigint() - t0;
      fs.writeFileSync(path.join(profileDir, 'engine.cpuprofile'), JSON.stringify(await stop()));
      return { seconds: Number(ns) / 1e9, state, before };
    }
    // the time at the end of each quarter of the events (4M events or more)
    const quarterAt = job.events >= 4 * M ? job.events / 4 : Infinity;
    const quarters: number[] = [];
    let replayed = 0;
    let lastNs = 0n;
    for await (const chunk of decodedChunks(job)) {
      const t0 = process.hrtime.bigint();
      state = replayChunk(state, chunk).state;
      ns += process.hrtime.bigint() - t0;
      if (state.stopped !== null) throw new Error(`replay stopped: ${state.stopped}`);
      replayed += chunk.length;
      if (replayed >= quarterAt * (quarters.length + 1)) { quarters.push(Number(ns - lastNs) / 1e9); lastNs = ns; }
    }
    return { seconds: Number(ns) / 1e9, state, before, ...(quarters.length > 0 ? { quarters } : {}) };
  }
  const t0 = process.hrtime.bigint();
  const r = await runTraceFile(nodeIo, traceFile(job), configFor(job.mode), job.source === 'lackey' ? 'lackey' : 'jsonl');
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.state.stopped !== null) throw new Error(`replay stopped: ${r.state.stopped}`);
  return { seconds, state: r.state };
};

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const child = async (job: Job): Promise<Measured> => {
  const seconds: number[] = [];
  const quarters: (number[] | undefined)[] = [];
  let last: ReplayState | undefined;
  let before: ReplayState | undefined;
  for (let i = 0; i < job.runs; i++) {
    const r = await measureOnce(job);
    seconds.push(r.seconds);
    quarters.push(r.quarters);
    last = r.state;
    before = r.before;
    if (i + 1 < job.runs) global.gc?.();
  }
  const st = last!.stats;
  // a warm-up (b-warm) is not part of the measurement: count only what came after it
  const b = job.warm === true && before !== undefined ? before : undefined;
  const events = st.events - (b?.stats.events ?? 0);
  const lines = job.source === 'lackey' ? await countLines(traceFile(job)) : events;
  const med = median(seconds);
  // the quarters of the run closest to the median (of two runs: the first)
  const near = seconds.reduce((best, x, i) => (Math.abs(x - med) < Math.abs(seconds[best] - med) ? i : best), 0);
  const q = quarters[near];
  return {
    ...(q !== undefined ? { quarterSeconds: q } : {}),
    id: job.id, events, lines, seconds, medianSeconds: med, eventsPerSec: events / med, linesPerSec: lines / med,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    exits: exitsOf(last!) - (b === undefined ? 0 : exitsOf(b)),
    walks: st.translation.walks - (b?.stats.translation.walks ?? 0), l1Hits: st.translation.l1Hits - (b?.stats.translation.l1Hits ?? 0),
    accesses: st.translation.accesses - (b?.stats.translation.accesses ?? 0),
  };
};

// ---- the parent ----------------------------------------------------------------------------------------------------

/**
 * The V8 flags `vtxsim` runs with: those of src/cli/bin.ts's shebang (`#!/usr/bin/env -S node --flag ...`, which tsc
 * keeps in dist/cli/bin.js), read from that line so that an end-to-end job always runs as the CLI does.
 */
const cliV8Flags = (): string[] => {
  const first = fs.readFileSync(path.join(OUT, '..', '..', 'src', 'cli', 'bin.ts'), 'utf8').split('\n', 1)[0];
  const m = /^#!\S*env -S node((?:\s+--\S+)*)\s*$/.exec(first);
  if (m === null) throw new Error(`bench: no node flags in the first line of src/cli/bin.ts: ${first}`);
  return m[1].trim().split(/\s+/);
};

const runChild = (job: Job, profileDir?: string): Measured => {
  // e2e children run as `vtxsim run` does (src/cli/bin.ts's shebang: 4 MiB young-generation semi-spaces); engine
  // children in a plain node, as a program using the engine would
  const v8Flags = job.variant === 'e2e' ? cliV8Flags() : [];
  // an engine job profiles its timed part itself (VTXSIM_BENCH_PROFILE); an end-to-end job is profiled whole
  const whole = profileDir !== undefined && job.variant === 'e2e';
  if (profileDir !== undefined) fs.mkdirSync(profileDir, { recursive: true });
  const args = [...(whole ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), ...v8Flags, '--expose-gc', __filename, '--child', JSON.stringify(job)];
  const env = profileDir !== undefined && !whole ? { ...process.env, VTXSIM_BENCH_PROFILE: profileDir } : process.env;
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24, env });
  const out = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !out.startsWith('{')) {
    const why = (r.stderr.trim().split('\n').find((l) => l.includes('Error')) ?? r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`).trim();
    return { id: job.id, events: 0, lines: 0, seconds: [], medianSeconds: NaN, eventsPerSec: NaN, linesPerSec: NaN, peakRssMB: NaN, exits: 0, walks: 0, l1Hits: 0, accesses: 0, note: `not available: ${why}` };
  }
  return JSON.parse(out) as Measured;
};

const fmtRate = (x: number): string => (Number.isNaN(x) ? '-' : x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(0)} k`);

const table = (jobs: readonly Job[], results: readonly Measured[]): string => {
  const rows: string[][] = [['job', 'workload', 'events', 'median s', 'events/s', 'lines/s', 'peak RSS MB', 'L1 hit %', 'exits', 'target', 'ok']];
  jobs.forEach((j, i) => {
    const m = results[i];
    if (m.note !== undefined) { rows.push([j.id, j.label, '-', '-', '-', '-', '-', '-', '-', '-', m.note]); return; }
    const rate = j.source === 'lackey' && j.variant === 'e2e' ? m.linesPerSec : m.eventsPerSec;
    rows.push([
      j.id, j.label, String(m.events), m.medianSeconds.toFixed(3), fmtRate(m.eventsPerSec), j.source === 'lackey' ? fmtRate(m.linesPerSec) : '',
      m.peakRssMB.toFixed(0), m.accesses > 0 ? (100 * m.l1Hits / m.accesses).toFixed(2) : '-', String(m.exits),
      j.target === undefined ? '' : `>= ${fmtRate(j.target)}${j.source === 'lackey' && j.variant === 'e2e' ? ' lines' : ''}`,
      j.target === undefined ? '' : rate >= j.target ? 'yes' : 'NO',
    ]);
  });
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((x, c) => x.padEnd(w[c])).join('  ').trimEnd()).join('\n');
};

/**
 * ratio16to4: the 16M job's median time over the 4M job's (two jobs, minutes apart); inRun16: in the 16M engine job's
 * median run, its whole time over the time of its first 4M events (one process, one stretch of time: the VM's drift
 * between jobs left out), NaN for e2e
 */
interface Scaling { readonly variant: Variant; readonly ratio16to4: number; readonly inRun16: number; readonly rssMB: readonly number[] }

const scaling = (jobs: readonly Job[], results: readonly Measured[]): Scaling[] =>
  (['engine', 'e2e'] as const).map((variant) => {
    const get = (n: string) => results[jobs.findIndex((j) => j.id === `s-${n}/${variant}`)];
    const m4 = get('4M');
    const m16 = get('16M');
    return {
      variant,
      ratio16to4: m4 !== undefined && m16 !== undefined ? m16.medianSeconds / m4.medianSeconds : NaN,
      inRun16: m16?.quarterSeconds !== undefined && m16.quarterSeconds.length === 4
        ? m16.quarterSeconds.reduce((a, x) => a + x, 0) / m16.quarterSeconds[0] : NaN,
      rssMB: ['1M', '4M', '16M'].map((n) => get(n)?.peakRssMB ?? NaN),
    };
  });

/** Starts the inspector's CPU profiler in this process; the returned function stops it and gives the profile. */
const startProfiler = async (): Promise<() => Promise<object>> => {
  const session = new inspector.Session();
  session.connect();
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
  await post('Profiler.enable');
  await post('Profiler.start');
  return async () => {
    const r = (await post('Profiler.stop')) as { profile: object };
    session.disconnect();
    return r.profile;
  };
};

const machine = () => ({
  cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version, platform: `${os.platform()} ${os.release()}`,
});

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }

/**
 * A V8 .cpuprofile summarized: the top `n` functions by self time, then by total time (self plus callees, each
 * function counted once per stack: recursion does not count twice). Self times are spread thin by inlining; the totals
 * show which parts of the model the time goes to.
 */
const profileTop = (file: string, n: number): string[] => {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[] };
  const keyOf = (node: ProfileNode): string => `${node.callFrame.functionName || '(anonymous)'} ${path.basename(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
  const hits = new Map<number, number>();
  for (const id of p.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const self = new Map<string, number>();
  for (const node of p.nodes) self.set(keyOf(node), (self.get(keyOf(node)) ?? 0) + (hits.get(node.id) ?? node.hitCount ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const subtree = new Map<number, number>();
  const sizeOf = (id: number): number => {
    const known = subtree.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id)!;
    let t = hits.get(id) ?? node.hitCount ?? 0;
    for (const c of node.children ?? []) t += sizeOf(c);
    subtree.set(id, t);
    return t;
  };
  const inclusive = new Map<string, number>();
  const visit = (id: number, onStack: ReadonlySet<string>): void => {
    const node = byId.get(id)!;
    const k = keyOf(node);
    if (!onStack.has(k)) inclusive.set(k, (inclusive.get(k) ?? 0) + sizeOf(id));
    const next = new Set(onStack).add(k);
    for (const c of node.children ?? []) visit(c, next);
  };
  if (p.nodes.length > 0) visit(p.nodes[0].id, new Set());
  const fmt = (m: Map<string, number>) => [...m.entries()].filter(([k]) => !k.startsWith('(root)') && !k.startsWith('(anonymous) :'))
    .sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`);
  return ['by self time:', ...fmt(self), '', 'by total time (self + callees):', ...fmt(inclusive)];
};

const main = async (argv: readonly string[]): Promise<void> => {
  const ci = argv.indexOf('--child');
  if (ci >= 0) {
    const r = await child(JSON.parse(argv[ci + 1]) as Job);
    process.stdout.write(JSON.stringify(r) + '\n');
    return;
  }
  const json = argv.includes('--json');
  const quick = argv.includes('--quick');
  const ri = argv.indexOf('--runs');
  const runs = ri >= 0 ? Number(argv[ri + 1]) : quick ? 1 : 3;
  const oi = argv.indexOf('--only');
  const only = oi >= 0 ? argv[oi + 1].split(',') : null;
  const pi = argv.indexOf('--profile');
  const ei = argv.indexOf('--events');
  let jobs = jobsOf(runs, quick).map((j) => (ei >= 0 && j.source !== 'lackey' ? { ...j, events: Number(argv[ei + 1]) } : j));
  if (pi >= 0) {
    const job = jobs.find((j) => j.id === argv[pi + 1]);
    if (job === undefined) throw new Error(`no job ${argv[pi + 1]} (jobs: ${jobs.map((j) => j.id).join(', ')})`);
    ensureTrace(job);
    const dir = path.join(OUT, 'prof', job.id.replace('/', '-'));
    fs.rmSync(dir, { recursive: true, force: true });
    const m = runChild({ ...job, runs: 1 }, dir);
    // node --cpu-prof writes one profile per thread (CPU.<date>.<pid>.<thread>.<n>): the main thread's sorts first; an
    // end-to-end job of a large trace also has the decode worker's
    const [prof, ...others] = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort().map((f) => path.join(dir, f));
    const also = others.length > 0 ? `other threads (the decode worker): ${others.join(', ')}\n` : '';
    process.stdout.write(`${job.id}: ${fmtRate(m.eventsPerSec)} events/s, peak RSS ${m.peakRssMB.toFixed(0)} MB\nprofile ${prof}\n${also}${profileTop(prof, 40).join('\n')}\n`);
    return;
  }
  if (only !== null) jobs = jobs.filter((j) => only.some((o) => j.id === o || j.id.startsWith(o)));
  const results: Measured[] = [];
  for (const job of jobs) {
    if (job.variant === 'e2e' || job.source === 'lackey') ensureTrace(job);
    if (!json) process.stderr.write(`${job.id} ...`);
    const m = runChild(job);
    results.push(m);
    if (!json) process.stderr.write(` ${m.note ?? `${fmtRate(m.eventsPerSec)} events/s, ${m.peakRssMB.toFixed(0)} MB`}\n`);
  }
  const sc = scaling(jobs, results);
  if (json) {
    process.stdout.write(JSON.stringify({ machine: machine(), runs, jobs: jobs.map((j, i) => ({ ...j, ...results[i] })), scaling: sc }, null, 2) + '\n');
    return;
  }
  const mc = machine();
  process.stdout.write(`\nvtxsim bench: ${mc.cpu}, ${mc.cores} cores, ${mc.memoryGiB} GiB, Node ${mc.node}; median of ${runs} run(s)\n\n`);
  process.stdout.write(table(jobs, results) + '\n\n');
  for (const s of sc) {
    if (Number.isNaN(s.rssMB[0])) continue;
    const inRun = Number.isNaN(s.inRun16) ? '' : `; in one 16M run, time(16M) / time(its first 4M) = ${s.inRun16.toFixed(2)}`;
    process.stdout.write(`scaling ${s.variant}: time(16M) / time(4M) = ${Number.isNaN(s.ratio16to4) ? '-' : s.ratio16to4.toFixed(2)} (target <= 4.2)${inRun}; peak RSS 1M/4M/16M = ${s.rssMB.map((x) => (Number.isNaN(x) ? '-' : x.toFixed(0))).join(' / ')} MB (target <= 200)\n`);
  }
};

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exitCode = 1;
});

