/**
 * Running a trace from a file: stream, decode, replay in chunks, progress on stderr, Ctrl-C gives a partial report,
 * the exit log written atomically. The model work is src/replay/replay.ts; this file holds the effects.
 */
import type { StepRecord } from '../report/model';
import { exitJson } from '../replay/scenario';
import { SingleBar, Presets } from 'cli-progress';
import { isLeft } from 'fp-ts/Either';
import type { Config } from '../replay/config';
import { replayChunk, replayState, startReplay, type ReplayState } from '../replay/replay';
import type { ExitCostModel } from '../replay/stats';
import { toReport, type ConfigSummary, type RunReport } from '../report/model';
import { exitLines, type ExitRecord as LogRecord } from '../report/exitLog';
import type { ExitRecord } from '../vmx/machine';
import { R, exitName } from '../vmx/exitReasons';
import type { GuestEvent, MemoryAccess } from '../guest/events';
import { InputError } from '../arch/problem';
import type { AtomicWriter, Io } from './io';
import { eventChunks, type Chunk, type TraceFormat } from './traceSource';
import { WORKER_MIN_BYTES, workerChunks } from './workerChunks';

export interface TraceRun {
  readonly state: ReplayState;
  readonly partial: boolean;
  /** exits by event index, thinned to at most TIMELINE_KEEP points (every k-th exit, k doubling as needed) */
  readonly timeline: readonly { readonly at: number; readonly reason: string }[];
  /** the first memory access of the trace (the HTML report's walk grid explains it) */
  readonly firstAccess: MemoryAccess | null;
  /** with `steps`: each event and the exits it caused (interface §1 `--steps`) */
  readonly steps?: readonly StepRecord[];
}

/** Timeline points kept while replaying (the HTML renderer samples further, to 5,000). */
export const TIMELINE_KEEP = 20_000;

export const configSummary = (c: Config): ConfigSummary => ({
  cpu: c.cpu,
  mode: c.mode,
  ept: c.mode === 'ept' ? { levels: c.ept.levels, pageSize: c.ept.pageSize } : null,
  guest: { levels: c.guest.levels, pageSize: c.guest.pageSize },
  ...(c.mode !== 'native' ? { vpid: c.controls.secondary === undefined || c.controls.secondary.includes('enable-vpid') } : {}),
});

/**
 * What KVM's handler traces for the exit an event caused (kvm_cpuid, kvm_msr, kvm_pio, kvm_cr), so that
 * `vtxsim import kvm-trace` can rebuild the event from the log (the MSR index and value, the CR value).
 */
const detailOf = (x: ExitRecord, ev: GuestEvent | undefined): LogRecord['detail'] => {
  if (ev === undefined || x.failedEntry) return undefined;
  switch (ev.op) {
    case 'cpuid': return x.reason === R.CPUID ? { kind: 'cpuid', func: ev.leaf, idx: ev.subleaf } : undefined;
    case 'rdmsr': return x.reason === R.MSR_READ ? { kind: 'msr', write: false, index: ev.msr, value: 0n } : undefined;
    case 'wrmsr': return x.reason === R.MSR_WRITE ? { kind: 'msr', write: true, index: ev.msr, value: ev.value } : undefined;
    case 'in': case 'out':
      return x.reason === R.IO_INSTRUCTION ? { kind: 'pio', write: ev.op === 'out', port: ev.port, size: ev.size, count: ev.rep ? 2 : 1 } : undefined;
    case 'mov_to_cr': return x.reason === R.CR_ACCESS ? { kind: 'cr', write: true, cr: ev.cr, value: ev.value } : undefined;
    default: return undefined;
  }
};

/** A model exit as KVM's tracepoints report it; `ev` is the trace event that caused it, when known. */
export const logRecord = (x: ExitRecord, ev?: GuestEvent): LogRecord => {
  const detail = detailOf(x, ev);
  const access = ev !== undefined && (ev.op === 'read' || ev.op === 'write' || ev.op === 'fetch') ? ev : undefined;
  return {
    tsc: x.tsc, vcpu: 0, reason: x.reason, failedEntry: x.failedEntry, rip: x.rip, qualification: x.qualification,
    idtVectoring: 0, intrInfo: x.interruptionInfo ?? 0, errorCode: x.interruptionErrorCode ?? 0,
    ...(x.guestPhysical !== undefined ? { gpa: x.guestPhysical } : {}),
    ...(x.guestLinear !== undefined ? { gla: Number(x.guestLinear & 0x1f_ffff_ffff_ffffn) } : {}),
    ...(x.reason === R.EPT_MISCONFIG ? { mmio: { write: access?.op === 'write', len: access?.size ?? 4, value: 0n } } : {}),
    ...(detail !== undefined ? { detail } : {}),
  };
};

/** Options of a trace run. */
export interface RunOptions {
  readonly exitLog?: AtomicWriter; readonly progress?: boolean; readonly label?: string; readonly timeline?: boolean; readonly exitCost?: ExitCostModel; readonly steps?: boolean;
}

/** Replays `file` under `config`. Throws InputError for bad input (the caller prints it). */
export const runTraceFile = async (io: Io, file: string, config: Config, format: TraceFormat, opts: RunOptions = {}): Promise<TraceRun> => {
  if (!io.exists(file)) throw new InputError({ _tag: 'InputProblem', file, expected: 'a trace file', found: 'no such file' });
  const total = Math.max(1, io.fileSize(file));
  // a large file is decoded on a worker thread while this one replays (same chunks, same errors); started first, so
  // that it boots while the machine is built
  const fromWorker = io.decodeWorker !== undefined && total >= WORKER_MIN_BYTES ? workerChunks(io.decodeWorker, file, format) : undefined;
  try {
    return await replayChunks(io, config, opts, total, fromWorker ?? eventChunks(io, file, format));
  } finally {
    await fromWorker?.stop();
  }
};

/** runTraceFile's replay of the file's chunks (`total`: the file's size, for progress). */
const replayChunks = async (io: Io, config: Config, opts: RunOptions, total: number, chunks: AsyncIterable<Chunk>): Promise<TraceRun> => {
  const s0 = startReplay(config);
  if (isLeft(s0)) throw new InputError({ _tag: 'InputProblem', path: s0.left.path, expected: s0.left.expected, found: s0.left.found });
  let state = opts.exitCost !== undefined ? replayState({ ...s0.right, exitCost: opts.exitCost }) : s0.right;
  let interrupted = false;
  const off = io.onInterrupt(() => { interrupted = true; });
  const bar = opts.progress === true && io.stderrIsTTY
    ? new SingleBar({ format: `${opts.label ?? 'replay'} [{bar}] {percentage}% | {events} events | {eta_formatted} left`, stream: process.stderr, hideCursor: true }, Presets.shades_classic)
    : null;
  bar?.start(total, 0, { events: 0 });
  let timeline: { at: number; reason: string }[] = [];
  let stride = 1;
  let seen = 0;
  let firstAccess: MemoryAccess | null = null;
  const steps: StepRecord[] | null = opts.steps === true ? [] : null;
  try {
    for await (const chunk of chunks) {
      if (firstAccess === null) firstAccess = (chunk.events.find((e) => e.op === 'read' || e.op === 'write' || e.op === 'fetch') as MemoryAccess | undefined) ?? null;
      const base = state.stats.events;
      const r = replayChunk(state, chunk.events, opts.exitLog !== undefined || opts.timeline === true || steps !== null);
      state = r.state;
      if (steps !== null) {
        // --steps: each event with the VM exits it caused (a memory access that exited is retried: it can cause
        // several), or "passthrough" when it ran without one
        const byEvent = new Map<number, ExitRecord[]>();
        for (let i = 0; i < r.exits.length; i++) byEvent.set(r.exitEvents[i], [...(byEvent.get(r.exitEvents[i]) ?? []), r.exits[i]]);
        const n = state.stats.events - base;
        for (let i = 0; i < n; i++) {
          const xs = byEvent.get(base + i) ?? [];
          steps.push({
            index: base + i, op: chunk.events[i].op,
            outcome: xs.length === 0 ? { result: 'passthrough' } : { result: 'exit', exit: exitJson(xs[0]), ...(xs.length > 1 ? { exits: xs.map(exitJson) } : {}) },
          });
        }
      }
      if (opts.timeline === true) {
        for (let i = 0; i < r.exits.length; i++) {
          if (seen++ % stride === 0) timeline.push({ at: r.exitEvents[i], reason: exitName(r.exits[i].reason) });
          if (timeline.length >= TIMELINE_KEEP) { timeline = timeline.filter((_, k) => k % 2 === 0); stride *= 2; }
        }
      }
      if (opts.exitLog !== undefined) {
        for (let i = 0; i < r.exits.length; i++) opts.exitLog.write(exitLines(logRecord(r.exits[i], chunk.events[r.exitEvents[i] - base])).join('\n') + '\n');
      }
      bar?.update(Math.min(chunk.bytes, total), { events: state.stats.events });
      if (interrupted || state.stopped !== null) break;
      // let a pending Ctrl-C signal be delivered between chunks
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    bar?.stop();
    off();
  }
  return { state, partial: interrupted, timeline, firstAccess, ...(steps !== null ? { steps } : {}) };
};

export const reportOf = (run: TraceRun, nativeCycles?: number): RunReport =>
  toReport(run.state.stats, {
    mode: run.state.config.mode,
    config: configSummary(run.state.config),
    guestVirtualPages: run.state.gvaPages.size,
    guestPhysicalPages: run.state.gpaPages.size,
    ...(run.partial ? { partial: true } : {}),
    ...(nativeCycles !== undefined ? { nativeCycles } : {}),
    ...(run.steps !== undefined ? { steps: run.steps } : {}),
  });
