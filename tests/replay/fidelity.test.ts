import { fidelity, renderFidelity } from '../../src/replay/fidelity';
import { defaultExitCost, exitCycles, withRecordedTimes } from '../../src/replay/stats';

describe('fidelity: recorded vs replayed exits per reason', () => {
  test('equal counts agree, with no explanation', () => {
    const f = fidelity({ HLT: 3, CPUID: 1 }, { HLT: 3, CPUID: 1 });
    expect(f).toMatchObject({ agree: true, explained: true });
    expect(renderFidelity(f)).toContain('Every exit reason agrees.');
  });
  test('a reason with no guest event is explained by name from the importer notes', () => {
    const f = fidelity({ PREEMPTION_TIMER: 8, HLT: 1 }, { HLT: 1 }, { PREEMPTION_TIMER: { 'no-guest-event': 8 } });
    expect(f.agree).toBe(false);
    expect(f.explained).toBe(true);
    expect(f.rows.find((r) => r.reason === 'PREEMPTION_TIMER')?.explanation).toMatch(/reason not modelled: no guest event causes PREEMPTION_TIMER/);
  });
  test('host interrupts missing from the trace are named; an unknown difference is unexplained', () => {
    expect(fidelity({ EXTERNAL_INTERRUPT: 5 }, { EXTERNAL_INTERRUPT: 2 }).rows[0].explanation).toBe('host interrupts are not in the trace');
    const f = fidelity({ VMCALL: 2 }, { VMCALL: 1 });
    expect(f.explained).toBe(false);
    expect(renderFidelity(f)).toContain('VMCALL: unexplained difference');
  });
  test('recorded Avg time replaces the handler estimate: 1.95 us at 2.0 GHz is 3,900 cycles plus the round trip', () => {
    const m = withRecordedTimes(defaultExitCost, { MSR_WRITE: 1.95 }, 2.0);
    expect(exitCycles(m, 'MSR_WRITE')).toBe(defaultExitCost.roundTrip + 3900);
    expect(exitCycles(m, 'CPUID')).toBe(exitCycles(defaultExitCost, 'CPUID'));
    expect(exitCycles(withRecordedTimes(defaultExitCost, { HLT: 10 }, 3.0), 'HLT')).toBe(defaultExitCost.roundTrip + 30000);
  });
});
