import * as path from 'path';
import { isLeft } from 'fp-ts/Either';
import type { Command } from '../command';
import type { Io } from '../io';
import { loadConfig, readJson } from '../configFile';
import { guarded, inputFailure, printJson } from '../output';
import { parseScenario, runScenario, outcomeJson, type StepRecord } from '../../replay/scenario';
import { renderReportText } from '../../report/text';
import { renderReportJson } from '../../report/json';
import { renderReportCsv } from '../../report/csv';
import type { RunReport } from '../../report/model';
import { detectFormat } from '../traceSource';
import { reportOf, runTraceFile } from '../replayRun';
import type { AtomicWriter } from '../io';
import { DEFAULT_RECORDED_TSC_GHZ, defaultExitCost, withRecordedTimes, type ExitCostModel } from '../../replay/stats';
import { walkOf, writeHtml } from '../html';

const describeOutcome = (r: StepRecord): string => {
  const o = outcomeJson(r.outcome);
  const rest = Object.entries(o).filter(([k]) => k !== 'result').map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return `${String(r.index).padStart(4)}  ${r.op.padEnd(16)} ${String(o.result).padEnd(14)} ${rest.join(' ')}`;
};

const runScenarioFile = (io: Io, file: string, json: boolean, value: unknown): number => {
  const s = parseScenario(value);
  if (isLeft(s)) return inputFailure(io, json, { file, path: s.left.path, expected: s.left.expected, found: s.left.found });
  const r = runScenario(s.right);
  if (isLeft(r)) return inputFailure(io, json, { file, path: r.left.path, expected: r.left.expected, found: r.left.found });
  const steps = r.right.records.map((x) => ({ index: x.index, op: x.op, outcome: outcomeJson(x.outcome) }));
  if (json) printJson(io, { file: path.basename(file), steps });
  else io.stdout(['step  op               result         details', ...r.right.records.map(describeOutcome)].join('\n') + '\n');
  return 0;
};

const printReport = (io: Io, r: RunReport, format: string): void => {
  if (format === 'json') io.stdout(renderReportJson(r));
  else if (format === 'csv') io.stdout(renderReportCsv(r));
  else io.stdout(renderReportText(r));
};

/** The recorded average handler times (us by reason) of an import summary (`recordedTimes`), or a problem. */
const recordedTimes = (io: Io, file: string): Readonly<Record<string, number>> | string => {
  const v = readJson(io, file);
  if (!v.ok) return v.message;
  const t = (v.value as { recordedTimes?: unknown } | null)?.recordedTimes;
  if (typeof t !== 'object' || t === null || Object.values(t).some((x) => typeof x !== 'number')) {
    return `${file}: expected an import summary with "recordedTimes" (exit reason -> microseconds), found none`;
  }
  return t as Record<string, number>;
};

export const runCommand: Command = {
  command: 'run <file>',
  describe: 'run a trace (.jsonl) or a scenario (.json) and report exit counts and translation costs',
  builder: (y) => y
    .positional('file', { type: 'string', describe: 'trace (.jsonl), lackey output, or scenario (.json)' })
    .option('config', { type: 'string', describe: 'config (.json), interface §3' })
    .option('format', { choices: ['text', 'json', 'csv'] as const, default: 'text', describe: 'report format' })
    .option('input', { choices: ['auto', 'jsonl', 'lackey'] as const, default: 'auto', describe: 'trace format' })
    .option('html', { type: 'string', describe: 'also write a self-contained HTML report' })
    .option('exit-log', { type: 'string', describe: 'write kvm_exit tracepoint lines (G3) for every exit' })
    .option('use-recorded-times', { type: 'string', describe: 'price exits with the recorded Avg time per reason (the summary of `import perf-kvm-stat --summary`)' })
    .option('tsc-ghz', { type: 'number', default: DEFAULT_RECORDED_TSC_GHZ, describe: 'TSC rate that turns recorded microseconds into cycles' })
    .option('steps', { type: 'boolean', default: false, describe: 'per-step outcomes in JSON (always on for scenarios)' })
    .option('native', { type: 'boolean', default: true, describe: 'also replay the trace in native mode, for the overhead vs native (--no-native: one replay instead of two)' }),
  handler: async (args, io) => {
    const json = args.json === true || args.format === 'json';
    const file = String(args.file);
    return guarded(io, json, async () => {
      if (file.endsWith('.json')) {
        const v = readJson(io, file);
        if (!v.ok) return inputFailure(io, json, v.message);
        return runScenarioFile(io, file, json, v.value);
      }
      const cfg = loadConfig(io, args.config as string | undefined);
      if (!cfg.ok) return inputFailure(io, json, cfg.problem);
      let exitCost: ExitCostModel | undefined;
      const timesFile = args['use-recorded-times'] as string | undefined;
      if (timesFile !== undefined) {
        const t = recordedTimes(io, timesFile);
        if (typeof t === 'string') return inputFailure(io, json, t);
        exitCost = withRecordedTimes(defaultExitCost, t, Number(args['tsc-ghz'] ?? DEFAULT_RECORDED_TSC_GHZ));
      }
      const format = await detectFormat(io, file, String(args.input ?? 'auto'));
      const exitLogPath = args['exit-log'] as string | undefined;
      const exitLog: AtomicWriter | undefined = exitLogPath !== undefined ? io.atomicWriter(exitLogPath) : undefined;
      try {
        const htmlPath = args.html as string | undefined;
        const run = await runTraceFile(io, file, cfg.config, format, { exitLog, progress: true, label: cfg.config.mode, timeline: htmlPath !== undefined, steps: args.steps === true, ...(exitCost !== undefined ? { exitCost } : {}) });
        // the overhead is measured against the same trace on bare metal
        let nativeCycles: number | undefined;
        if (args.native !== false && cfg.config.mode !== 'native' && !run.partial && run.state.stopped === null) {
          const native = await runTraceFile(io, file, { ...cfg.config, mode: 'native' }, format, { progress: true, label: 'native' });
          nativeCycles = reportOf(native).cycles.total;
        }
        const report = reportOf(run, nativeCycles);
        if (run.state.stopped !== null) {
          exitLog?.abort();
          io.stderr(`vtxsim: ${file}: the run stopped after ${run.state.stats.events} events: ${run.state.stopped}\n`);
          printReport(io, { ...report, partial: true }, json ? 'json' : String(args.format));
          return 1;
        }
        exitLog?.commit();
        if (htmlPath !== undefined) {
          const walk = walkOf(cfg.config, run.firstAccess);
          writeHtml(io, htmlPath, { kind: 'run', report, timeline: run.timeline, timelineAxis: 'event index', ...(walk !== undefined ? { walk } : {}), title: `vtxsim: ${path.basename(file)}` });
        }
        if (run.partial) io.stderr(`vtxsim: interrupted: the report covers the first ${report.events} events (partial)\n`);
        printReport(io, report, json ? 'json' : String(args.format));
        return run.partial ? 1 : 0;
      } catch (e) {
        exitLog?.abort();
        throw e;
      }
    });
  },
};
