/**
 * Scenario files (interface §4): `{ "config": {...}, "steps": [...] }`. A step is a root-mode operation (below) or a
 * guest event (the trace codec of src/guest decodes those). Decoded at the boundary; a failure names the step's path
 * (`steps[3].addr`), what was expected and what was found.
 */
import * as t from 'io-ts';
import { isLeft, left, right, type Either } from 'fp-ts/Either';
import { PhysAddr, U64, intIn, oneOf, strict, uintCodec } from '../arch/codecs';
import { firstFailure, type DecodeFailure } from '../arch/codecReport';
import { showFound } from '../arch/problem';
import { decodeConfig, type Config } from './config';

/** A VMCS field named by encoding ("0x2010", 8208) or by Linux vmcs_field name ("TSC_OFFSET"). */
export const FieldRef = new t.Type<string | number, string, unknown>(
  'a VMCS field encoding ("0x2010") or Linux vmcs_field name ("TSC_OFFSET")',
  (u): u is string | number => typeof u === 'string' || typeof u === 'number',
  (u, c) => {
    if (typeof u === 'number' && Number.isInteger(u) && u >= 0 && u <= 0xffffffff) return t.success(u);
    if (typeof u === 'string' && /^(0[xX][0-9a-fA-F]{1,8}|[0-9]+)$/.test(u)) return t.success(Number(BigInt(u)));
    if (typeof u === 'string' && /^[A-Z][A-Z0-9_]*$/.test(u)) return t.success(u);
    return t.failure(u, c, 'a VMCS field encoding ("0x2010") or Linux vmcs_field name ("TSC_OFFSET")');
  },
  (x) => String(x),
);

const PageSizeC = oneOf(['4K', '2M', '1G'] as const);
const Perm = new t.Type<string, string, unknown>(
  'permissions like "rwx", "r", "x" or "rwxu" (u = user-execute under mode-based execute control)',
  (u): u is string => typeof u === 'string',
  (u, c) => (typeof u === 'string' && /^[rwxu-]*$/.test(u) ? t.success(u) : t.failure(u, c, 'permissions like "rwx"')),
  (x) => x,
);

const root = {
  vmxon: { addr: PhysAddr, revision: uintCodec(32) },
  vmxoff: {},
  vmclear: { addr: PhysAddr },
  vmptrld: { addr: PhysAddr, revision: uintCodec(32) },
  vmptrst: {},
  vmread: { field: FieldRef },
  vmwrite: { field: FieldRef, value: U64 },
  vmlaunch: { blockedByMovSs: t.boolean },
  vmresume: { blockedByMovSs: t.boolean },
  invept: { type: intIn(0, 0xffffffff), eptp: U64 },
  invvpid: { type: intIn(0, 0xffffffff), vpid: U64, gva: U64 },
  ept_map: { gpa: PhysAddr, hpa: PhysAddr, size: PageSizeC, perm: Perm, memtype: intIn(0, 7) },
  ept_write_entry: { gpa: PhysAddr, level: intIn(1, 5), value: U64 },
  write_phys: { hpa: PhysAddr, value: U64, size: intIn(1, 8) },
  launch: { vmxon: PhysAddr, vmcs: PhysAddr },
} as const;

const required: Readonly<Record<keyof typeof root, readonly string[]>> = {
  vmxon: ['addr'], vmxoff: [], vmclear: ['addr'], vmptrld: ['addr'], vmptrst: [], vmread: ['field'],
  vmwrite: ['field', 'value'], vmlaunch: [], vmresume: [], invept: ['type', 'eptp'], invvpid: ['type', 'vpid'],
  ept_map: ['gpa', 'hpa'], ept_write_entry: ['gpa', 'level', 'value'], write_phys: ['hpa', 'value'], launch: [],
};

export type RootOpName = keyof typeof root;
export const ROOT_OPS = Object.keys(root) as RootOpName[];

/** A root-mode step: the op name and its decoded fields (defaults applied by the runner). */
export interface RootStep {
  readonly kind: 'root';
  readonly op: RootOpName;
  readonly args: Readonly<Record<string, unknown>>;
}

export interface GuestStep<E> {
  readonly kind: 'guest';
  readonly op: string;
  readonly event: E;
}

export type Step<E> = RootStep | GuestStep<E>;

export interface Scenario<E> {
  readonly config: Config;
  readonly steps: readonly Step<E>[];
}

/** How the caller decodes a guest-event step (src/guest's trace codec). */
export type GuestEventDecoder<E> = (u: unknown, path: string) => Either<DecodeFailure, E>;

const decodeRootStep = (op: RootOpName, u: Record<string, unknown>, path: string): Either<DecodeFailure, RootStep> => {
  const props: t.Props = { op: t.string, ...root[op] };
  const r = strict(props, op).decode(u);
  if (isLeft(r)) return left(firstFailure(r.left, path));
  for (const k of required[op]) {
    if (u[k] === undefined) return left({ path: `${path}.${k}`, expected: `the field "${k}" of ${op}`, found: 'nothing' });
  }
  const { op: _op, ...args } = r.right as Record<string, unknown>;
  return right({ kind: 'root', op, args });
};

export const decodeScenario = <E>(u: unknown, guest: GuestEventDecoder<E>): Either<DecodeFailure, Scenario<E>> => {
  if (typeof u !== 'object' || u === null || Array.isArray(u)) return left({ path: '', expected: 'a scenario object { "config", "steps" }', found: showFound(u) });
  const o = u as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== 'config' && k !== 'steps') return left({ path: k, expected: 'only the keys "config" and "steps"', found: JSON.stringify(k) });
  }
  const cfg = decodeConfig(o.config ?? {}, 'config');
  if (isLeft(cfg)) return cfg;
  if (!Array.isArray(o.steps)) return left({ path: 'steps', expected: 'an array of steps', found: showFound(o.steps) });
  const steps: Step<E>[] = [];
  for (let i = 0; i < o.steps.length; i++) {
    const s: unknown = o.steps[i];
    const path = `steps[${i}]`;
    if (typeof s !== 'object' || s === null || Array.isArray(s)) return left({ path, expected: 'a step object with "op"', found: showFound(s) });
    const so = s as Record<string, unknown>;
    if (typeof so.op !== 'string') return left({ path: `${path}.op`, expected: 'an op name (string)', found: showFound(so.op) });
    if ((ROOT_OPS as string[]).includes(so.op)) {
      const r = decodeRootStep(so.op as RootOpName, so, path);
      if (isLeft(r)) return r;
      steps.push(r.right);
    } else {
      const r = guest(so, path);
      if (isLeft(r)) return r;
      steps.push({ kind: 'guest', op: so.op, event: r.right });
    }
  }
  return right({ config: cfg.right, steps });
};
