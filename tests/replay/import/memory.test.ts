/** Importers stream: heap growth over a 1,000,000-line input stays small (constant memory, one line at a time). */
import { importDin } from '../../../src/replay/import/din';
import { importKvmTrace } from '../../../src/replay/import/kvmTrace';

const gc = (): void => { (global as { gc?: () => void }).gc?.(); };

async function* generated(n: number, line: (i: number) => string): AsyncGenerator<string> { for (let i = 0; i < n; i++) yield line(i); }

const heapGrowth = async (items: AsyncIterable<unknown>): Promise<{ mb: number; count: number }> => {
  gc();
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  let count = 0;
  for await (const _ of items) {
    if (++count % 50_000 === 0) { gc(); peak = Math.max(peak, process.memoryUsage().heapUsed); }
  }
  return { mb: (peak - before) / 2 ** 20, count };
};

describe('importers stream in constant memory', () => {
  test('din: 1,000,000 lines, heap growth < 50 MB', async () => {
    const r = await heapGrowth(importDin(generated(1_000_000, (i) => `${i % 3} ${(0x400000 + 64 * i).toString(16)}`)));
    expect(r.count).toBe(1_000_000);
    expect(r.mb).toBeLessThan(50);
  }, 120_000);

  test('kvm-trace: 1,000,000 lines (exit/entry pairs on fresh GPAs), heap growth < 50 MB', async () => {
    const lines = (i: number): string => {
      const k = i >> 1;
      return i % 2 === 0
        ? `qemu-system-x86-4242 [001] d..1. ${k}.000001: kvm_exit: vcpu 0 reason HLT rip 0x1 info1 0x0 info2 0x0 intr_info 0x00000000 error_code 0x00000000`
        : `qemu-system-x86-4242 [001] d..1. ${k}.000002: kvm_entry: vcpu 0, rip 0x2`;
    };
    const r = await heapGrowth(importKvmTrace(generated(1_000_000, lines)));
    expect(r.count).toBe(1_000_000); // one recorded item and one event per exit
    expect(r.mb).toBeLessThan(50);
  }, 120_000);
});
