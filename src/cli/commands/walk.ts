/**
 * `vtxsim walk` (interface §1, §5): one translation of a guest-linear address explained from cold TLBs: every memory
 * reference of the two-dimensional walk in order, then the result. Text: the grid of src/report/walkGrid.ts;
 * `--json`: `references`, `counts`, `result` (interface §5) plus what was walked.
 */
import { isLeft } from 'fp-ts/Either';
import type { Command } from '../command';
import { inputFailure, printJson } from '../output';
import { readJson } from '../configFile';
import { gvaRepresentable, hex, isCanonical } from '../../arch/addr';
import { decodeConfig, type Config } from '../../replay/config';
import { exitJson } from '../../replay/scenario';
import { explainWalk, type WalkAccess, type WalkExplanation } from '../../replay/walk';
import { qualificationFields } from '../../vmx/decode';
import { renderWalkGrid } from '../../report/walkGrid';

const U64_MAX = (1n << 64n) - 1n;

/** A 64-bit value from a hex ("0x..") or decimal string, or a reason why not. */
export const parseU64 = (s: string): { ok: true; value: bigint } | { ok: false; why: string } => {
  const t = s.trim();
  if (!/^(0[xX][0-9a-fA-F]+|[0-9]+)$/.test(t)) return { ok: false, why: 'not a hex ("0x...") or decimal number' };
  const v = BigInt(t);
  return v > U64_MAX ? { ok: false, why: 'wider than 64 bits' } : { ok: true, value: v };
};

/** The JSON document of interface §5 (plus the walk's parameters). */
export const walkJson = (x: WalkExplanation): Record<string, unknown> => {
  const r = x.result;
  let result: Record<string, unknown>;
  switch (r.kind) {
    case 'translated': result = { kind: r.kind, hpa: hex(r.hpa), gpa: hex(r.gpa), pageSize: r.pageSize }; break;
    case 'guest-fault': result = { kind: r.kind, fault: { vector: r.fault.vector, errorCode: r.fault.errorCode } }; break;
    case 'exit': result = { kind: r.kind, exit: { ...exitJson(r.exit), fields: qualificationFields(r.exit.reason, r.exit.qualification) } }; break;
    default: {
      const never: never = r;
      throw new Error(`unhandled walk result ${JSON.stringify(never)}`);
    }
  }
  return {
    gva: hex(x.gva), gpa: hex(x.gpa), access: x.access, user: x.user, mode: x.mode,
    guestLevels: x.guestLevels, eptLevels: x.eptLevels, guestPageSize: x.guestPageSize, eptPageSize: x.eptPageSize,
    references: x.references.map((y) => ({ index: y.index, dimension: y.dimension, guestLevel: y.guestLevel, eptLevel: y.eptLevel, address: hex(y.address) })),
    counts: x.counts,
    result,
  };
};

export const walkCommand: Command = {
  command: 'walk',
  describe: 'explain one translation of a guest-linear address from cold TLBs: every reference of the 2-D walk',
  builder: (y) => y
    .option('gva', { type: 'string', demandOption: true, describe: 'guest-linear address (hex or decimal)' })
    .option('config', { type: 'string', describe: 'config (.json), interface §3' })
    .option('access', { choices: ['read', 'write', 'fetch'] as const, default: 'read' })
    .option('user', { type: 'boolean', default: false, describe: 'a user-mode (CPL 3) access' })
    .option('flags', { type: 'string', describe: 'guest leaf flags the guest OS maps with ("rwux" letters; default rwx, plus u with --user)' })
    .option('gpa', { type: 'string', describe: 'guest-physical frame the guest OS maps the page to (default: a fresh frame above its tables)' })
    .option('first-touch', { type: 'boolean', default: false, describe: 'walk before the hypervisor backs the data page (the demand EPT violation)' }),
  handler: async (args, io) => {
    const json = args.json === true;
    let config: Config;
    const file = args.config === undefined ? undefined : String(args.config);
    {
      let raw: unknown = {};
      if (file !== undefined) {
        const v = readJson(io, file);
        if (!v.ok) return inputFailure(io, json, v.message);
        raw = v.value;
      }
      const c = decodeConfig(raw, 'config');
      if (isLeft(c)) return inputFailure(io, json, { file, path: c.left.path, expected: c.left.expected, found: c.left.found });
      config = c.right;
    }
    const g = parseU64(String(args.gva));
    if (!g.ok) return inputFailure(io, json, { path: '--gva', expected: 'a 64-bit guest-linear address, hex ("0x7fff0000") or decimal', found: `${JSON.stringify(String(args.gva))} (${g.why})` });
    const la57 = config.guest.levels === 5;
    // SDM Vol. 3A "Canonical Addressing": bits 63:47 (63:56 with 5-level paging) all equal, else #GP before any walk
    if (!isCanonical(g.value, la57)) {
      return inputFailure(io, json, { path: '--gva', expected: `a canonical address for ${la57 ? '57' : '48'}-bit linear addresses (bits 63:${la57 ? 56 : 47} all equal)`, found: hex(g.value) });
    }
    if (!gvaRepresentable(g.value)) {
      return inputFailure(io, json, { path: '--gva', expected: 'an address within 2^53 of zero as a signed 64-bit value (5-level upper-half addresses below -2^53 are not supported)', found: hex(g.value) });
    }
    let gpa: number | undefined;
    if (args.gpa !== undefined) {
      const p = parseU64(String(args.gpa));
      if (!p.ok || p.value >= 1n << 52n) return inputFailure(io, json, { path: '--gpa', expected: 'a guest-physical address below 2^52, hex or decimal', found: JSON.stringify(String(args.gpa)) });
      gpa = Number(p.value);
    }
    if (args.flags !== undefined && !/^[rwux]*$/.test(String(args.flags))) {
      return inputFailure(io, json, { path: '--flags', expected: 'letters of "rwux"', found: JSON.stringify(String(args.flags)) });
    }
    const r = explainWalk(config, g.value, String(args.access) as WalkAccess, args.user === true, {
      ...(args.flags !== undefined ? { flags: String(args.flags) } : {}),
      ...(gpa !== undefined ? { gpa } : {}),
      firstTouch: args['first-touch'] === true || args.firstTouch === true,
    });
    if (isLeft(r)) return inputFailure(io, json, { file, path: r.left.path, expected: r.left.expected, found: r.left.found });
    if (json) printJson(io, walkJson(r.right));
    else io.stdout(renderWalkGrid(r.right));
    return 0;
  },
};
