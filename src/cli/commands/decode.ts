/**
 * `vtxsim decode`: a recorded kvm_exit line, or `--reason` with `--qualification`, explained field by field
 * (interface §1, §5). Text: a field table on stdout; `--json`: the exit object of §4 plus `fields`.
 */
import type { Command } from '../command';
import { inputFailure, printJson } from '../output';
import { decodeExit, decodeKvmExit, exitToJson, parseKvmExitLine, type DecodedExit } from '../../vmx/decode';
import { reasonByName } from '../../vmx/exitReasons';
import { hex } from '../../arch/addr';

const usage = (io: Parameters<Command['handler']>[1], msg: string): number => {
  io.stderr(`vtxsim: ${msg}\nRun "vtxsim decode --help" for usage.\n`);
  return 2;
};

const show = (v: unknown): string => (typeof v === 'bigint' ? hex(v) : String(v));

/** The readable table: one `name  value` row per field. */
export const renderExitText = (d: DecodedExit): string => {
  const rows: [string, string][] = [
    ['reason', `${d.reason} ${d.name} (${d.sdmName})${d.failedEntry === true ? ' FAILED_VMENTRY' : ''}`],
    ['qualification', hex(d.qualification)],
  ];
  if (d.vcpu !== undefined) rows.push(['vcpu', String(d.vcpu)]);
  if (d.rip !== undefined) rows.push(['rip', hex(d.rip)]);
  if (d.timestamp !== undefined) rows.push(['timestamp', String(d.timestamp)]);
  if (d.interruptionInfo !== undefined) rows.push(['interruptionInfo', hex(d.interruptionInfo)]);
  if (d.idtVectoringInfo !== undefined) rows.push(['idtVectoringInfo', hex(d.idtVectoringInfo)]);
  if (d.errorCode !== undefined) rows.push(['errorCode', hex(d.errorCode)]);
  for (const [k, v] of Object.entries(d.fields)) rows.push(['  ' + k, show(v)]);
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n';
};

export const decodeCommand: Command = {
  command: 'decode [line]',
  describe: 'decode a recorded kvm_exit line, or --reason with --qualification, field by field',
  builder: (y) => y
    .positional('line', { type: 'string' })
    .option('reason', { type: 'string', describe: 'exit reason name or number' })
    .option('qualification', { type: 'string', describe: 'exit qualification (hex)' }),
  handler: async (args, io) => {
    const json = args.json === true;
    const line = typeof args.line === 'string' ? args.line : undefined;
    const reasonArg = args.reason === undefined ? undefined : String(args.reason);
    let decoded: DecodedExit;
    if (line !== undefined && reasonArg === undefined) {
      const p = parseKvmExitLine(line);
      if (!p.ok) return inputFailure(io, json, { _tag: 'InputProblem', path: 'line', expected: p.expected, found: p.found });
      const d = decodeKvmExit(p.value);
      if (d === undefined) return inputFailure(io, json, { _tag: 'InputProblem', path: 'reason', expected: 'a known VMX exit reason', found: JSON.stringify(p.value.reasonText) });
      decoded = d;
    } else if (reasonArg !== undefined && line === undefined) {
      const r = reasonByName(reasonArg);
      if (r === undefined) return inputFailure(io, json, { _tag: 'InputProblem', path: 'reason', expected: 'an exit reason name (EPT_VIOLATION, EXIT_REASON_HLT ...) or number', found: JSON.stringify(reasonArg) });
      const qs = args.qualification === undefined ? '0' : String(args.qualification);
      if (!/^(0x[0-9a-fA-F]{1,16}|[0-9a-fA-F]{1,16})$/.test(qs)) {
        return inputFailure(io, json, { _tag: 'InputProblem', path: 'qualification', expected: 'a 64-bit hex value', found: JSON.stringify(qs) });
      }
      decoded = decodeExit(r.number, BigInt(qs.startsWith('0x') ? qs : '0x' + qs));
    } else {
      return usage(io, 'give either a kvm_exit line or --reason (with --qualification), not both or neither');
    }
    if (json) printJson(io, exitToJson(decoded));
    else io.stdout(renderExitText(decoded));
    return 0;
  },
};
