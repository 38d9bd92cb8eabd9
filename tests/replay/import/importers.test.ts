import { importLackey } from '../../../src/replay/import/lackey';
import { importPinatrace } from '../../../src/replay/import/pinatrace';
import { importDin } from '../../../src/replay/import/din';
import { importKvmTrace, GPA_WINDOW } from '../../../src/replay/import/kvmTrace';
import { importPerfKvmStat } from '../../../src/replay/import/perfKvmStat';
import type { ImportItem, Importer } from '../../../src/replay/import/common';
import { InputError } from '../../../src/arch/problem';
import { isRight } from 'fp-ts/Either';
import { DEFAULT_CONFIG } from '../../../src/replay/config';
import { replayChunk, startReplay } from '../../../src/replay/replay';

async function* linesOf(text: string) { for (const l of text.split('\n')) yield l; }
const run = async (imp: Importer, text: string, strict = false): Promise<ImportItem[]> => {
  const out: ImportItem[] = [];
  for await (const x of imp(linesOf(text), { strict, file: 'in.txt' })) out.push(x);
  return out;
};
const events = (items: ImportItem[]) => items.flatMap((i) => (i.kind === 'event' ? [i.event] : []));
const warnings = (items: ImportItem[]) => items.filter((i) => i.kind === 'warning');

describe('importers (interface §5)', () => {
  test('lackey: records to events, ==pid== skipped, malformed line is a warning with its line number', async () => {
    const items = await run(importLackey, '==1== hi\nI  0401ab70,3\n M 1fff000768,8\ngarbage');
    expect(events(items)).toEqual([
      { op: 'fetch', gva: 0x401ab70, size: 3, user: true },
      { op: 'read', gva: 0x1fff000768, size: 8, user: true }, { op: 'write', gva: 0x1fff000768, size: 8, user: true }]);
    expect(warnings(items)).toMatchObject([{ line: 4, code: 'malformed' }]);
  });

  test('--strict: the first malformed line is fatal (InputError naming file and line)', async () => {
    await expect(run(importLackey, 'I  1000,4\nbad', true)).rejects.toBeInstanceOf(InputError);
    await expect(run(importLackey, 'I  1000,4\nbad', true)).rejects.toThrow(/in.txt:line 2/);
  });

  test('pinatrace: R is a read, W a write; #eof skipped', async () => {
    const items = await run(importPinatrace, '0x7f1c2ab3: W 0x7ffd5e8c\n0x7f1c2ab7: R 0x601040\n#eof');
    expect(events(items)).toEqual([{ op: 'write', gva: 0x7ffd5e8c, size: 1, user: true }, { op: 'read', gva: 0x601040, size: 1, user: true }]);
  });

  test('din: label 0 read, 1 write, 2 fetch; 4 kept as a comment', async () => {
    const items = await run(importDin, '2 400100\n0 7fff0010\n1 7fff0018\n4 0');
    expect(events(items).map((e) => e.op)).toEqual(['fetch', 'read', 'write']);
    expect(items.filter((i) => i.kind === 'comment')).toHaveLength(1);
  });
});

const P = (ts: string, ev: string, body: string) => `qemu-system-x86-4242 [001] d..1. ${ts}: ${ev}: ${body}`;

describe('kvm-trace importer', () => {
  test('SDM "Exit Qualification for EPT Violations": G3 EPT violation with kvm_page_fault is a write at the GPA', async () => {
    // qualification 0x182: bit 1 (write), 7, 8 => write
    const text = [
      P('1.000', 'kvm_exit', 'vcpu 0 reason EPT_VIOLATION rip 0xffffffff81000000 info1 0x0000000000000182 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000'),
      P('1.001', 'kvm_page_fault', 'vcpu 0 rip 0xffffffff81000000 address 0x0000000012345000 error_code 0x182'),
      P('1.002', 'kvm_entry', 'vcpu 0, rip 0xffffffff81000000'),
    ].join('\n');
    // the window's 1 GiB guest page over GPA 0 - 1 GiB, then the access that reaches GPA 0x12345000 itself
    expect(events(await run(importKvmTrace, text))).toEqual([
      { op: 'guest_map', gva: GPA_WINDOW, gpa: 0, size: '1G', flags: 'rwxu' },
      { op: 'write', gva: GPA_WINDOW + 0x12345000, size: 1, user: false }]);
  });

  test('G1 with old kvm_page_fault format, and perf script prefix; I/O from qualification; MSR from kvm_msr', async () => {
    const text = [
      '  qemu-kvm-2001  [001]  4302.123456: kvm_exit: reason EPT_VIOLATION rip 0xffffffff81030b26 info 181 0',
      '  qemu-kvm-2001  [001]  4302.123457: kvm_page_fault: address 7f000 error_code 181',
      '  qemu-kvm-2001  [001]  4302.123460: kvm_entry: vcpu 0',
      // 0x03f80008: 1-byte IN, DX, port 0x3f8
      'qemu-system-x86  4242 [002]  5.000000: kvm:kvm_exit: vcpu 1 reason IO_INSTRUCTION rip 0x1 info1 0x0000000003f80008 info2 0x0 intr_info 0x00000000 error_code 0x00000000',
      'qemu-system-x86  4242 [002]  5.000100: kvm:kvm_entry: vcpu 1, rip 0x2',
      P('6.0', 'kvm_exit', 'vcpu 0 reason MSR_WRITE rip 0x1 info1 0x0 info2 0x0 intr_info 0x00000000 error_code 0x00000000'),
      P('6.1', 'kvm_msr', 'msr_write 6e0 = 0x12345'),
      P('6.2', 'kvm_entry', 'vcpu 0, rip 0x3'),
      P('7.0', 'kvm_exit', 'vcpu 0 reason EXIT_REASON_HLT rip 0x1 info1 0x0 info2 0x0'),
      P('8.0', 'kvm_exit', 'vcpu 0 reason 12 rip 0x1 info1 0x0 info2 0x0'),
    ].join('\n');
    expect(events(await run(importKvmTrace, text))).toEqual([
      { op: 'guest_map', gva: GPA_WINDOW, gpa: 0, size: '1G', flags: 'rwxu' },
      { op: 'read', gva: GPA_WINDOW + 0x7f000, size: 1, user: false },
      { op: 'in', port: 0x3f8, size: 1, string: false, rep: false },
      { op: 'wrmsr', msr: 0x6e0, value: 0x12345n },
      { op: 'hlt' }, { op: 'hlt' },
    ]);
  });

  test('SDM "VM-Exit Interruption-Information Field": exception with error code, NMI', async () => {
    const text = [
      // vector 14, type 3, error code valid, valid => 0x80000b0e
      P('1.0', 'kvm_exit', 'vcpu 0 reason EXCEPTION_NMI rip 0x1 info1 0x7000 info2 0x0 intr_info 0x80000b0e error_code 0x00000006'),
      // vector 2, type 2 (NMI), valid => 0x80000202
      P('2.0', 'kvm_exit', 'vcpu 0 reason EXCEPTION_NMI rip 0x1 info1 0x0 info2 0x0 intr_info 0x80000202 error_code 0x00000000'),
    ].join('\n');
    expect(events(await run(importKvmTrace, text))).toEqual([{ op: 'exception', vector: 14, errorCode: 6 }, { op: 'nmi' }]);
  });

  test('unknown reasons and exits no guest event causes are kept as comments with a warning count', async () => {
    const items = await run(importKvmTrace, [
      P('1.0', 'kvm_exit', 'vcpu 0 reason 0x63 rip 0x1 info1 0x0 info2 0x0'),
      P('2.0', 'kvm_exit', 'vcpu 0 reason PREEMPTION_TIMER rip 0x1 info1 0x0 info2 0x0'),
      P('3.0', 'kvm_exit', 'vcpu 0 reason HLT'),
    ].join('\n'));
    expect(items.filter((i) => i.kind === 'comment')).toHaveLength(2);
    expect(warnings(items).map((w) => (w.kind === 'warning' ? w.code : ''))).toEqual(['unknown-reason', 'no-guest-event', 'malformed']);
  });
});

describe('perf-kvm-stat importer', () => {
  const REPORT = `
Analyze events for all VMs, all VCPUs:

             VM-EXIT    Samples  Samples%     Time%    Min Time    Max Time         Avg time

                 HLT          6    60.00%    86.37%      0.62us  49875.43us     64.97us ( +-   2.61% )
       EPT_VIOLATION          3    30.00%    12.61%      1.24us   3391.10us      5.62us ( +-   1.43% )
    PREEMPTION_TIMER          1    10.00%     0.01%      0.80us      4.00us      1.00us ( +-   1.00% )

Total Samples:10, Total events handled time:2165227.89us.
`;
  test('same exit mix: replayed under the default config, 6 HLT and 3 EPT_VIOLATION exits; PREEMPTION_TIMER kept as a comment', async () => {
    const items = await run(importPerfKvmStat, REPORT);
    const ev = events(items);
    expect(ev.filter((e) => e.op === 'hlt')).toHaveLength(6);
    const s0 = startReplay(DEFAULT_CONFIG);
    if (!isRight(s0)) throw new Error('default config does not start');
    // the count per reason is the report's (the window's guest_map pays for part of the EPT violations)
    expect(replayChunk(s0.right, ev).state.stats.exitsByReason).toEqual({ HLT: 6, EPT_VIOLATION: 3 });
    expect(warnings(items)).toHaveLength(1);
    expect(items.filter((i) => i.kind === 'recorded')).toEqual([
      { kind: 'recorded', reason: 'HLT', count: 6, avgTimeUs: 64.97 },
      { kind: 'recorded', reason: 'EPT_VIOLATION', count: 3, avgTimeUs: 5.62 },
      { kind: 'recorded', reason: 'PREEMPTION_TIMER', count: 1, avgTimeUs: 1 }]);
    // interleaved, not 6 hlt then 3 reads
    const ops = ev.map((e) => e.op);
    expect(ops.indexOf('read')).toBeLessThan(ops.lastIndexOf('hlt'));
  });
});
