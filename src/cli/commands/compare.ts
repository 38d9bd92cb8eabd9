import type { Command } from '../command';
import type { Io } from '../io';
import { guarded, inputFailure } from '../output';
import { loadConfig } from '../configFile';
import { detectFormat } from '../traceSource';
import { reportOf, runTraceFile } from '../replayRun';
import { MODE_CONTROLS } from '../../replay/program';
import type { Config } from '../../replay/config';
import { renderCompareJson, renderCompareText } from '../../report/compare';
import { renderCompareCsv } from '../../report/csv';
import type { RunReport } from '../../report/model';
import { writeHtml } from '../html';

export const COMPARE_MODES = ['native', 'ept', 'ept-2m', 'ept-1g', 'ept-5level', 'shadow', 'ept-novpid'] as const;
export type CompareMode = (typeof COMPARE_MODES)[number];

/** The configuration of each compare mode, derived from the base config (interface §1). */
export const modeConfig = (base: Config, mode: CompareMode): Config => {
  const ept4k = { ...base.ept, levels: 4 as const, pageSize: '4K' as const };
  switch (mode) {
    case 'native': return { ...base, mode: 'native' };
    case 'ept': return { ...base, mode: 'ept', ept: ept4k };
    case 'ept-2m': return { ...base, mode: 'ept', ept: { ...ept4k, pageSize: '2M' } };
    case 'ept-1g': return { ...base, mode: 'ept', ept: { ...ept4k, pageSize: '1G' } };
    // 5-level EPT needs a CPU that has it (IA32_VMX_EPT_VPID_CAP[7])
    case 'ept-5level': return { ...base, mode: 'ept', cpu: base.cpu === 'skylake-server' ? 'icelake-server' : base.cpu, ept: { ...ept4k, levels: 5 } };
    case 'shadow': return { ...base, mode: 'shadow' };
    case 'ept-novpid': {
      const secondary = (base.controls.secondary ?? MODE_CONTROLS.ept.secondary).filter((c) => c !== 'enable-vpid');
      return { ...base, mode: 'ept', ept: ept4k, controls: { ...base.controls, secondary } };
    }
    default: { const never: never = mode; throw new Error(`unknown mode ${String(never)}`); }
  }
};

export const compareCommand: Command = {
  command: 'compare <trace>',
  describe: 'run one trace under several configurations and print them side by side',
  builder: (y) => y
    .positional('trace', { type: 'string' })
    .option('modes', { type: 'string', demandOption: true, describe: `comma-separated: ${COMPARE_MODES.join(', ')}` })
    .option('config', { type: 'string', describe: 'base config (.json)' })
    .option('input', { choices: ['auto', 'jsonl', 'lackey'] as const, default: 'auto', describe: 'trace format' })
    .option('format', { choices: ['text', 'json', 'csv'] as const, default: 'text' })
    .option('html', { type: 'string', describe: 'also write a self-contained HTML report' }),
  handler: async (args, io: Io) => {
    const json = args.json === true || args.format === 'json';
    const file = String(args.trace);
    const modes = String(args.modes).split(',').map((m) => m.trim()).filter((m) => m !== '');
    const bad = modes.find((m) => !(COMPARE_MODES as readonly string[]).includes(m));
    if (bad !== undefined || modes.length === 0) {
      io.stderr(`vtxsim: --modes: expected a comma-separated list of ${COMPARE_MODES.join(', ')}, found ${JSON.stringify(bad ?? args.modes)}\n`);
      return 2;
    }
    return guarded(io, json, async () => {
      const cfg = loadConfig(io, args.config as string | undefined);
      if (!cfg.ok) return inputFailure(io, json, cfg.problem);
      const format = await detectFormat(io, file, String(args.input ?? 'auto'));
      const runs: RunReport[] = [];
      let nativeCycles: number | undefined;
      // native first: every other mode's overhead is measured against it
      const order = [...new Set(['native', ...modes])] as CompareMode[];
      for (const mode of order) {
        const run = await runTraceFile(io, file, modeConfig(cfg.config, mode), format, { progress: true, label: mode });
        if (run.state.stopped !== null) {
          io.stderr(`vtxsim: ${file}: mode ${mode}: the run stopped after ${run.state.stats.events} events: ${run.state.stopped}\n`);
          return 1;
        }
        const report = { ...reportOf(run, mode === 'native' ? undefined : nativeCycles), mode };
        if (mode === 'native') nativeCycles = report.cycles.total;
        if (modes.includes(mode)) runs.push(report);
        if (run.partial) break;
      }
      const ordered = modes.map((m) => runs.find((r) => r.mode === m)).filter((r): r is RunReport => r !== undefined);
      const htmlPath = args.html as string | undefined;
      if (htmlPath !== undefined) writeHtml(io, htmlPath, { kind: 'compare', reports: Object.fromEntries(ordered.map((r) => [r.mode, r])), title: `vtxsim compare: ${file}` });
      if (json) io.stdout(renderCompareJson(ordered));
      else if (args.format === 'csv') io.stdout(renderCompareCsv(ordered));
      else io.stdout(renderCompareText(ordered));
      return 0;
    });
  },
};
