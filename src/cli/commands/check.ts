import { isLeft } from 'fp-ts/Either';
import type { Command } from '../command';
import { inputFailure, printJson } from '../output';
import { readJson } from '../configFile';
import { decodeConfig } from '../../replay/config';
import { buildProgram } from '../../replay/program';
import { allEntryFailures } from '../../vmx/entryChecks';
import * as Phys from '../../arch/phys';

const outcomeText = (o: { kind: 'VMfailValid'; error: number } | { kind: 'exit'; reason: number; qualification: bigint }): string =>
  o.kind === 'VMfailValid' ? `VMfailValid(${o.error})` : `exit ${o.reason}${o.qualification !== 0n ? ` (qualification ${o.qualification})` : ''}`;

export const checkCommand: Command = {
  command: 'check <config>',
  describe: 'run the VM-entry checks on the VMCS a config describes and list every failed check',
  builder: (y) => y.positional('config', { type: 'string' }),
  handler: async (args, io) => {
    const json = args.json === true;
    const file = String(args.config);
    const v = readJson(io, file);
    if (!v.ok) return inputFailure(io, json, v.message);
    const c = decodeConfig(v.value, 'config');
    if (isLeft(c)) return inputFailure(io, json, { file, path: c.left.path, expected: c.left.expected, found: c.left.found });
    if (c.right.mode === 'native') return inputFailure(io, json, { file, path: 'config.mode', expected: '"ept" or "shadow" (a native config has no VMCS to check)', found: '"native"' });
    const p = buildProgram(c.right, Phys.empty);
    if (isLeft(p)) return inputFailure(io, json, { file, path: p.left.path, expected: p.left.expected, found: p.left.found });
    // the VMCS of the config as `launch` would write it (region at 0x2000, VMXON region at 0x1000)
    const fields = new Map<number, bigint>();
    for (const [enc, value] of p.right.writes) fields.set(enc & ~1, (enc & 1) === 1 ? ((fields.get(enc & ~1) ?? 0n) & 0xffff_ffffn) | (value << 32n) : value);
    const failures = allEntryFailures({ caps: p.right.caps, fields, mem: p.right.mem, currentVmcs: 0x2000, vmxonPtr: 0x1000 });
    const out = failures.map((f) => ({ id: f.id, message: f.message, sdm: f.sdm, outcome: outcomeText(f.outcome) }));
    if (json) printJson(io, { ok: failures.length === 0, failures: out });
    else if (failures.length === 0) io.stdout(`${file}: VM entry would succeed (${p.right.caps.name}: every control, host-state and guest-state check passes)\n`);
    else io.stdout([`${file}: VM entry would fail; ${failures.length} check(s) fail:`, ...out.map((f) => `  ${f.id}  [${f.outcome}]\n      ${f.message}\n      SDM: ${f.sdm}`)].join('\n') + '\n');
    return failures.length === 0 ? 0 : 1;
  },
};
