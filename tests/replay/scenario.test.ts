import { isLeft, isRight } from 'fp-ts/Either';
import { envOf, outcomeJson, parseScenario, runScenario } from '../../src/replay/scenario';
import { DEFAULT_CONFIG } from '../../src/replay/config';

const run = (u: unknown) => {
  const s = parseScenario(u);
  if (isLeft(s)) throw new Error(JSON.stringify(s.left));
  return runScenario(s.right);
};

describe('scenario runner (interface §4)', () => {
  it('parseScenario rejects unknown keys and names the path', () => {
    const r = parseScenario({ config: {}, steps: [{ op: 'vmxon', addr: '0x1000', bogus: 1 }] });
    expect(isLeft(r) && r.left.path).toMatch(/steps\[0\]/);
    expect(isLeft(parseScenario({ config: {}, steps: [], name: 'x' }))).toBe(true);
  });

  it('a required field missing names it', () => {
    const r = parseScenario({ steps: [{ op: 'vmclear' }] });
    expect(isLeft(r) && r.left.path).toBe('steps[0].addr');
  });

  it('SDM "VMX Non-Root Operation": a guest event in root mode is a run problem, not an outcome', () => {
    const r = run({ steps: [{ op: 'rdtsc' }] });
    expect(isLeft(r) && r.left.path).toBe('steps[0].op');
  });

  it('SDM "VMCLEAR": VMCLEAR of the VMXON pointer is VMfailValid(3) with a current VMCS', () => {
    const r = run({ steps: [{ op: 'vmxon', addr: '0x1000' }, { op: 'vmclear', addr: '0x2000' }, { op: 'vmptrld', addr: '0x2000' }, { op: 'vmclear', addr: '0x1000' }] });
    expect(isRight(r) && r.right.records.map((x) => outcomeJson(x.outcome))).toEqual([
      { result: 'VMsucceed' }, { result: 'VMsucceed' }, { result: 'VMsucceed' }, { result: 'VMfailValid', error: 3 }]);
  });

  it('outcomeJson writes 64-bit values as lowercase hex strings and never as numbers above 2^53', () => {
    expect(outcomeJson({ result: 'passthrough', value: 0xffff_ffff_ffff_ff00n, aux: 5n })).toEqual({ result: 'passthrough', value: '0xffffffffffffff00', aux: '0x5' });
    expect(outcomeJson({ result: 'VMsucceed', value: 0x2000n })).toEqual({ result: 'VMsucceed', value: '0x2000' });
    expect(outcomeJson({ result: 'fault', vector: 14, errorCode: 4 })).toEqual({ result: 'fault', vector: 14, errorCode: 4 });
  });

  it('SDM "Failed VM Entries": a failed entry is an exit with failedEntry true; host TSC starts at 0 in a scenario', () => {
    const r = run({ config: { vmcs: { GUEST_RFLAGS: '0x0' } }, steps: [{ op: 'launch' }] });
    expect(isRight(r) && outcomeJson(r.right.records[0].outcome)).toEqual({ result: 'exit', exit: { reason: 33, name: 'INVALID_STATE', qualification: '0x0', failedEntry: true } });
    expect(isRight(r) && r.right.machine.tsc).toBe(0n);
  });

  it('the runner is pure: running the same scenario twice gives the same outcomes', () => {
    const s = { steps: [{ op: 'launch' }, { op: 'run', cycles: '77' }, { op: 'rdtsc' }] };
    const a = run(s); const b = run(s);
    expect(isRight(a) && a.right.records.map((x) => outcomeJson(x.outcome))).toEqual(isRight(b) && b.right.records.map((x) => outcomeJson(x.outcome)));
    expect(isRight(a) && outcomeJson(a.right.records[2].outcome)).toEqual({ result: 'passthrough', value: '0x4d' });
  });
});

describe('envOf: equal inputs share one environment', () => {
  it('the same Env object for equal CPU, TLB and cost inputs (new config objects included); another one when any differs; a problem stays a problem', () => {
    const a = envOf({ ...DEFAULT_CONFIG, tlb: { stlb: { entries: 1536, ways: 12 } } });
    const b = envOf({ ...DEFAULT_CONFIG, tlb: { stlb: { entries: 1536, ways: 12 } } });
    expect(isRight(a) && isRight(b)).toBe(true);
    if (!isRight(a) || !isRight(b)) return;
    expect(b.right).toBe(a.right);
    const c = envOf({ ...DEFAULT_CONFIG, tlb: { stlb: { entries: 2048, ways: 16 } } });
    expect(isRight(c) && c.right !== a.right && c.right.tlb.stlb.entries === 2048).toBe(true);
    const d = envOf({ ...DEFAULT_CONFIG, cpu: 'icelake-server' as const, tlb: { stlb: { entries: 1536, ways: 12 } } });
    expect(isRight(d) && d.right !== a.right && d.right.caps !== a.right.caps).toBe(true);
    const bad = { ...DEFAULT_CONFIG, cpu: 'pentium' as never };
    expect(isLeft(envOf(bad)) && isLeft(envOf(bad))).toBe(true);
  });
});
