/**
 * The text of `vtxsim walk`: the two-dimensional walk drawn as the textbook grid (Bhargava et al., "Accelerating
 * two-dimensional page walks for virtualized systems", ASPLOS 2008, figure 2): one row per guest level and one for
 * the final GPA, one column per EPT level and one for the guest entry read; each cell holds the reference number.
 * Then every reference with its host-physical address, and the result, with an exit's qualification bit by bit.
 *
 * Models: SDM Vol. 3C "EPT Translation Mechanism" (the order of references), "Exit Qualification for EPT
 * Violations" (table of bits, from src/ept/qualification.ts), Vol. 3A "Interrupt 14—Page-Fault Exception (#PF)"
 * (error-code bits). Plain text, no colour (so NO_COLOR holds trivially).
 */
import { hex } from '../arch/addr';
import { EPT_VIOLATION_QUALIFICATION } from '../ept/qualification';
import { exitName } from '../vmx/exitReasons';
import { R } from '../vmx/exitReasons';
import type { WalkExplanation } from '../replay/walk';

/** Paging-structure names by level (SDM Vol. 3A "4-Level Paging and 5-Level Paging"). */
const GUEST_NAMES: Readonly<Record<number, string>> = { 5: 'PML5E', 4: 'PML4E', 3: 'PDPTE', 2: 'PDE', 1: 'PTE' };
const EPT_NAMES: Readonly<Record<number, string>> = { 5: 'EPT PML5E', 4: 'EPT PML4E', 3: 'EPT PDPTE', 2: 'EPT PDE', 1: 'EPT PTE' };

const SIZE_NAMES: Readonly<Record<number, string>> = { 4096: '4 KiB', 0x200000: '2 MiB', 0x40000000: '1 GiB' };

/** SDM "Interrupt 14—Page-Fault Exception (#PF)": error-code bits 0-5. */
const PF_BITS: readonly (readonly [number, string, string])[] = [
  [0, 'P', '0: non-present page, 1: protection violation'],
  [1, 'W/R', 'the access was a write'],
  [2, 'U/S', 'a user-mode access'],
  [3, 'RSVD', 'a reserved bit set in a paging-structure entry'],
  [4, 'I/D', 'an instruction fetch'],
  [5, 'PK', 'protection-key violation'],
];

const pad = (s: string, n: number): string => s.padStart(n);

/** The grid: rows guest levels (walked ones) + GPA, columns EPT levels + the guest entry read. */
const grid = (x: WalkExplanation): string[] => {
  const refs = x.references;
  const guestRows = [...new Set(refs.filter((r) => r.guestLevel !== null).map((r) => r.guestLevel as number))].sort((a, b) => b - a);
  const hasGpaRow = x.eptLevels !== null && (refs.some((r) => r.guestLevel === null) || x.result.kind === 'translated');
  const eptCols: number[] = [];
  for (let l = x.eptLevels ?? 0; l >= 1; l--) eptCols.push(l);
  const rowLabels = [...guestRows.map((l) => `gL${l} ${GUEST_NAMES[l]}`), ...(hasGpaRow ? ['GPA (data)'] : [])];
  const labelW = Math.max(12, ...rowLabels.map((s) => s.length));
  const colW = 6;
  const header = pad('', labelW) + eptCols.map((l) => pad(`nL${l}`, colW)).join('') + pad(x.eptLevels === null ? 'read' : 'gPTE', colW);
  const cell = (guestLevel: number | null, eptLevel: number | null, dimension: 'guest' | 'nested'): string => {
    const r = refs.find((y) => y.guestLevel === guestLevel && y.eptLevel === eptLevel && y.dimension === dimension);
    return pad(r === undefined ? '.' : String(r.index), colW);
  };
  const rows = guestRows.map((l, i) => rowLabels[i].padEnd(labelW) + eptCols.map((e) => cell(l, e, 'nested')).join('') + cell(l, null, 'guest'));
  if (hasGpaRow) rows.push(rowLabels[rowLabels.length - 1].padEnd(labelW) + eptCols.map((e) => cell(null, e, 'nested')).join('') + pad('-', colW));
  return [header, ...rows];
};

const referenceList = (x: WalkExplanation): string[] => {
  const lines = ['  #  dimension  entry read                        host-physical address'];
  for (const r of x.references) {
    const what = r.dimension === 'guest'
      ? `guest ${GUEST_NAMES[r.guestLevel ?? 0] ?? '?'} (gL${r.guestLevel})`
      : `${EPT_NAMES[r.eptLevel ?? 0] ?? '?'} for ${r.guestLevel === null ? 'the final GPA' : `the gL${r.guestLevel} table`}`;
    lines.push(`${pad(String(r.index), 3)}  ${r.dimension.padEnd(9)}  ${what.padEnd(32)}  ${hex(r.address)}`);
  }
  return lines;
};

const resultLines = (x: WalkExplanation): string[] => {
  const r = x.result;
  switch (r.kind) {
    case 'translated':
      return [`result: translated: GVA ${hex(x.gva)} -> GPA ${hex(x.gpa)} -> HPA ${hex(r.hpa)} (a ${SIZE_NAMES[r.pageSize] ?? `${r.pageSize}-byte`} translation)`];
    case 'guest-fault': {
      const e = r.fault.errorCode;
      return [
        `result: guest #PF (vector ${r.fault.vector}), error code ${hex(e)}, delivered in the guest (no VM exit: #PF is not in KVM's exception bitmap with EPT)`,
        ...PF_BITS.map(([b, n, doc]) => `  bit ${pad(String(b), 2)}  ${n.padEnd(5)} ${(e >> b) & 1}  ${doc}`),
      ];
    }
    case 'exit': {
      const xr = r.exit;
      const head = [
        `result: VM exit ${xr.reason} ${exitName(xr.reason)}, qualification ${hex(xr.qualification)}`,
        ...(xr.guestPhysical !== undefined ? [`  guest-physical address ${hex(xr.guestPhysical)}${x.mmio ? ' (in a config mmio range)' : ''}`] : []),
        ...(xr.guestLinear !== undefined ? [`  guest-linear address   ${hex(xr.guestLinear)}`] : []),
      ];
      if (xr.reason === R.EPT_VIOLATION) {
        // SDM table "Exit Qualification for EPT Violations", bit by bit
        return [...head, '  qualification bits:', ...EPT_VIOLATION_QUALIFICATION.fields.map((f) =>
          `  bit ${pad(String(f.lo), 2)}  ${f.name.padEnd(24)} ${(xr.qualification >> BigInt(f.lo)) & 1n}  ${f.doc}`)];
      }
      if (xr.reason === R.EPT_MISCONFIG) {
        return [...head, '  (SDM "EPT Misconfigurations": the exit qualification is undefined and written 0; KVM installs a write+execute, not-readable entry for MMIO so later accesses land here)'];
      }
      return head;
    }
    default: {
      const never: never = r;
      throw new Error(`unhandled walk result ${JSON.stringify(never)}`);
    }
  }
};

/** The whole text report of one explained walk. */
export const renderWalkGrid = (x: WalkExplanation): string => {
  const what = x.eptLevels === null
    ? `native: ${x.guestLevels}-level guest paging, ${x.guestPageSize} pages`
    : `${x.guestLevels}-level guest paging (${x.guestPageSize} pages) over ${x.eptLevels}-level EPT (${x.eptPageSize} pages)`;
  const lines = [
    `walk of GVA ${hex(x.gva)} (${x.access}, ${x.user ? 'user' : 'supervisor'}), ${what}; cold TLBs and paging-structure caches`,
    '',
    ...grid(x),
    '',
    `references: guest ${x.counts.guest} + nested ${x.counts.nested} = ${x.counts.total}`,
    '',
    ...referenceList(x),
    '',
    ...resultLines(x),
  ];
  return lines.join('\n') + '\n';
};
