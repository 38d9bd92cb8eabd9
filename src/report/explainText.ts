/**
 * The text of `vtxsim explain`: for each explained event, the outcome, the facts that decided it (the decisive one
 * marked), the exit qualification field by field, and for a memory access the two-dimensional walk grid with the
 * references the TLB, the paging-structure caches (PSC) and the nested TLB saved marked.
 *
 * Models: the grid of src/report/walkGrid.ts (rows guest levels and the final GPA, columns EPT levels and the guest
 * entry read; SDM "EPT Translation Mechanism" order). Colour (ANSI SGR) only when asked; the CLI decides from
 * NO_COLOR and the terminal.
 */
import { hex } from '../arch/addr';
import { exitName } from '../vmx/exitReasons';
import type { Reference } from '../mmu/walk2d';
import type { EventWhy, ExplainResult, WalkView } from '../replay/explain';

export interface TextOptions {
  readonly color: boolean;
}

const GUEST_NAMES: Readonly<Record<number, string>> = { 5: 'PML5E', 4: 'PML4E', 3: 'PDPTE', 2: 'PDE', 1: 'PTE' };

const sgr = (on: boolean, code: string, s: string): string => (on ? `\u001b[${code}m${s}\u001b[0m` : s);

const outcomeLine = (w: EventWhy): string => {
  const o = w.outcome;
  switch (o.result) {
    case 'exit': return `exit ${o.exit.reason} ${exitName(o.exit.reason)}, qualification ${hex(o.exit.qualification)}${o.exit.guestPhysical !== undefined ? `, GPA ${hex(o.exit.guestPhysical)}` : ''}${o.exit.guestLinear !== undefined ? `, GVA ${hex(o.exit.guestLinear)}` : ''}`;
    case 'passthrough': return `passthrough${o.value !== undefined ? `, value ${hex(o.value)}` : ''}${o.aux !== undefined ? `, ECX ${hex(o.aux)}` : ''}`;
    case 'fault': return `fault in the guest: vector ${o.vector}${o.errorCode !== undefined ? `, error code ${hex(o.errorCode)}` : ''}`;
    case 'entered': return 'VM entry succeeded';
    case 'VMsucceed': return 'VMsucceed';
    case 'VMfailInvalid': return 'VMfailInvalid';
    case 'VMfailValid': return `VMfailValid(${o.error})`;
    default: { const never: never = o; throw new Error(`bad outcome ${JSON.stringify(never)}`); }
  }
};

const same = (a: Reference, b: Reference): boolean => a.dimension === b.dimension && a.guestLevel === b.guestLevel && a.eptLevel === b.eptLevel;

/** The walk grid: a number is a reference this access made; `psc`/`ntlb` a reference a cache saved. */
export const renderWalkView = (w: WalkView, o: TextOptions): string[] => {
  const head = `walk of GVA ${hex(w.gva)} (${w.access}): ${w.guestLevels}-level guest paging${w.eptLevels === null ? '' : ` over ${w.eptLevels}-level EPT`}; a cold walk makes ${w.cold.length} references`;
  if (w.tlb !== null) return [head, sgr(o.color, '32', `  ${w.tlb === 'l1' ? 'L1 TLB' : 'STLB'} hit: no walk, 0 references`)];
  const rows = [...new Set(w.cold.map((r) => r.guestLevel))].sort((a, b) => (b ?? 0) - (a ?? 0));
  const cols: (number | null)[] = [];
  for (let l = w.eptLevels ?? 0; l >= 1; l--) cols.push(l);
  cols.push(null);
  const cw = 6;
  const label = (g: number | null): string => (g === null ? 'GPA (data)' : `gL${g} ${GUEST_NAMES[g]}`).padEnd(12);
  const lines = [head, '  ' + ''.padEnd(12) + cols.map((c) => (c === null ? 'gPTE' : `nL${c}`).padStart(cw)).join('')];
  for (const g of rows) {
    const cells = cols.map((c) => {
      const want: Reference = { index: 0, dimension: c === null ? 'guest' : 'nested', guestLevel: g, eptLevel: c, address: 0 };
      if (g === null && c === null) return '-'.padStart(cw);
      const cold = w.cold.find((r) => same(r, want));
      if (cold === undefined) return '.'.padStart(cw);
      const done = w.performed.find((r) => same(r, want));
      if (done !== undefined) return String(done.index).padStart(cw);
      const why = g !== null && w.pscStart !== null && g > w.pscStart ? 'psc' : g !== null && w.nestedHits.includes(g) ? 'ntlb' : 'skip';
      return sgr(o.color, '36', why.padStart(cw));
    });
    lines.push('  ' + label(g) + cells.join(''));
  }
  const saved = w.cold.length - w.performed.length;
  lines.push(`  references made: ${w.performed.length} of ${w.cold.length}${saved > 0 ? ` (${saved} saved: ${w.pscStart !== null ? `PSC hit, the guest walk starts at level ${w.pscStart}` : 'no PSC hit'}${w.nestedHits.length > 0 ? `; nested-TLB hits for the gL${w.nestedHits.join(', gL')} table pages` : ''})` : ''}`);
  return lines;
};

const fieldText = (v: unknown): string => (typeof v === 'bigint' ? hex(v) : typeof v === 'boolean' ? (v ? '1' : '0') : String(v));

export const renderEventWhy = (w: EventWhy, o: TextOptions): string => {
  const lines = [sgr(o.color, '1', `${w.op === 'vmresume' || w.op === 'vmlaunch' || w.op === 'launch' ? 'step' : 'event'} ${w.index} (${w.op}): ${outcomeLine(w)}`)];
  if (w.via !== undefined) lines.push(`  during ${w.via}`);
  lines.push('  why:');
  for (const f of w.facts) lines.push(f.decisive ? sgr(o.color, '33', `  * ${f.text}`) : `    ${f.text}`);
  const q = w.qualification;
  if (q !== undefined && Object.keys(q).length > 0) {
    lines.push('  exit qualification:');
    for (const [k, v] of Object.entries(q)) lines.push(`    ${k.padEnd(24)} ${k === 'port' && typeof v === 'number' ? `0x${v.toString(16)}` : fieldText(v)}`);
  }
  if (w.walk !== undefined) lines.push(...renderWalkView(w.walk, o).map((l) => `  ${l}`));
  return lines.join('\n') + '\n';
};

export const renderExplainText = (r: ExplainResult, o: TextOptions): string => {
  const body = r.items.length === 0 ? 'no VM exits\n' : r.items.map((w) => renderEventWhy(w, o)).join('\n');
  return body + (r.diverged !== null ? `\nwarning: explain's replica diverged from the replay at ${r.diverged}\n` : '');
};
