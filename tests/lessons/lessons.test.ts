// The lessons under traces/lessons/: every run listed in a lesson's lesson.json goes through main() with a fake Io and
// must print its expected file exactly (JSON: the same document). The key numbers of each lesson are then checked
// again against values worked out by hand from the SDM in this file, so an expected file regenerated from a wrong
// model cannot pass unnoticed.
import * as fs from 'fs';
import * as path from 'path';
import { main } from '../../src/cli/main';
import { fakeIo } from '../helpers/fakeIo';

const root = path.join(__dirname, '../..');
const LESSONS = path.join(root, 'traces/lessons');

interface Run { readonly args: readonly string[]; readonly expected: string }
const lessonDirs = fs.readdirSync(LESSONS).filter((d) => fs.statSync(path.join(LESSONS, d)).isDirectory()).sort();
const runsOf = (d: string): Run[] => (JSON.parse(fs.readFileSync(path.join(LESSONS, d, 'lesson.json'), 'utf8')) as { runs: Run[] }).runs;

/** Every repository file a run names, loaded into the fake file system. */
const filesFor = (args: readonly string[]): Record<string, string> => {
  const files: Record<string, string> = {};
  for (const a of args) if (a.includes('/') && fs.existsSync(path.join(root, a))) files[a] = fs.readFileSync(path.join(root, a), 'utf8');
  return files;
};

const cache = new Map<string, { code: number; out: string }>();
const runCli = async (args: readonly string[]): Promise<{ code: number; out: string }> => {
  const key = args.join('\u0000');
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const f = fakeIo(filesFor(args));
  const code = await main([...args], f.io);
  const r = { code, out: f.out() };
  cache.set(key, r);
  return r;
};
const lessonRun = async (dir: string, expected: string): Promise<{ code: number; out: string }> => {
  const r = runsOf(dir).find((x) => x.expected === expected);
  if (r === undefined) throw new Error(`${dir}: no run with expected ${expected}`);
  return runCli(r.args);
};
interface Step { index: number; op: string; outcome: { result: string; value?: string; aux?: string; exit?: { reason: number; qualification: string; guestPhysical?: string; guestLinear?: string } } }
const stepsOf = async (dir: string, expected: string): Promise<Step[]> => (JSON.parse((await lessonRun(dir, expected)).out) as { steps: Step[] }).steps;

jest.setTimeout(120_000);

describe('traces/lessons: each lesson has a README, a lesson.json and checked expected output', () => {
  test('there are seven lessons and an index README that links each one', () => {
    expect(lessonDirs).toHaveLength(7);
    const index = fs.readFileSync(path.join(LESSONS, 'README.md'), 'utf8');
    for (const d of lessonDirs) expect(index).toContain(`(${d}/)`);
  });
  for (const d of lessonDirs) {
    test(`${d}: README names the command, what to look at and the SDM section`, () => {
      const readme = fs.readFileSync(path.join(LESSONS, d, 'README.md'), 'utf8');
      expect(readme).toMatch(/vtxsim (explain|run|walk|compare)/);
      expect(readme).toMatch(/SDM/);
      expect(readme).toMatch(/## What to look at/);
    });
    for (const r of runsOf(d)) {
      test(`${d}: vtxsim ${r.args.join(' ')} prints ${r.expected}`, async () => {
        const got = await runCli(r.args);
        expect(got.code).toBe(0);
        const want = fs.readFileSync(path.join(LESSONS, d, r.expected), 'utf8');
        if (r.expected.endsWith('.json')) expect(JSON.parse(got.out)).toEqual(JSON.parse(want));
        else expect(got.out).toBe(want);
      });
    }
  }
});

describe('lesson key numbers, derived by hand', () => {
  test('01 CPUID: SDM "Instructions That Cause VM Exits Unconditionally": every CPUID exits with reason 10, length 2 (0F A2)', async () => {
    const steps = await stepsOf('01-cpuid-trap-and-emulate', 'expected.json');
    const cpuids = steps.filter((s) => s.op === 'cpuid');
    expect(cpuids).toHaveLength(2);
    for (const s of cpuids) expect(s.outcome.exit).toMatchObject({ reason: 10, qualification: '0x0', instructionLength: 2 });
    expect((await lessonRun('01-cpuid-trap-and-emulate', 'expected.txt')).out).toMatch(/exits unconditionally/);
  });

  test('02 CR shadowing: SDM "Guest/Host Masks and Read Shadows for CR0 and CR4": reads return the shadow, host-owned writes exit 28', async () => {
    const steps = await stepsOf('02-cr0-cr4-shadowing', 'expected.json');
    // the guest's CR0 is PG|WP|NE|ET|PE = 2^31 + 2^16 + 2^5 + 2^4 + 2^0, and KVM's shadow holds the same value
    const cr0 = 2 ** 31 + 2 ** 16 + 2 ** 5 + 2 ** 4 + 1;
    expect(steps[1].outcome.value).toBe('0x' + cr0.toString(16));
    // WP (bit 16) is guest-owned with EPT: clearing it stays in the guest, and the next read shows the real bit
    expect(steps[2].outcome.result).toBe('passthrough');
    expect(steps[3].outcome.value).toBe('0x' + (cr0 - 2 ** 16).toString(16));
    // CD (bit 30) is host-owned and differs from the shadow: exit 28, qualification CR number 0, MOV to CR (0), RAX (0)
    expect(steps[4].outcome.exit).toMatchObject({ reason: 28, qualification: '0x0' });
    // CR4 read: PAE|PGE|OSFXSR|OSXMMEXCPT|OSXSAVE = 2^5 + 2^7 + 2^9 + 2^10 + 2^18; VMXE (bit 13) hidden by the shadow
    expect(steps[6].outcome.value).toBe('0x' + (2 ** 5 + 2 ** 7 + 2 ** 9 + 2 ** 10 + 2 ** 18).toString(16));
    // setting SMEP (bit 20, host-owned): exit 28, qualification bits 3:0 = 4 (CR4)
    expect(steps[7].outcome.exit).toMatchObject({ reason: 28, qualification: '0x4' });
    const text = (await lessonRun('02-cr0-cr4-shadowing', 'expected.txt')).out;
    expect(text).toContain(`0x${(2 ** 30).toString(16)} (bit 30)`);
    expect(text).toContain(`0x${(2 ** 20).toString(16)} (bit 20)`);
  });

  test('03 walk: SDM "EPT Translation Mechanism": 4 x (4 + 1) + 4 = 24 references with 4 KiB pages, 3 x (3 + 1) + 3 = 15 with 2 MiB', async () => {
    const k4 = (await lessonRun('03-two-dimensional-walk', 'expected-4k.txt')).out;
    const m2 = (await lessonRun('03-two-dimensional-walk', 'expected-2m.txt')).out;
    expect(k4).toContain(`guest 4 + nested ${4 * 4 + 4} = ${4 * (4 + 1) + 4}`);
    expect(m2).toContain(`guest 3 + nested ${3 * 3 + 3} = ${3 * (3 + 1) + 3}`);
    // GVA 0x7f0000201000: PML4 index = bits 47:39 = 254 (entry offset 254 x 8 = 0x7f0), PDPT 0, PD 1, PT 1
    const gva = 0x7f0000201000;
    expect(Math.floor(gva / 2 ** 39) % 512).toBe(254);
    expect(k4).toMatch(/guest PML4E \(gL4\)\s+0x[0-9a-f]*7f0\n/);
    expect(k4).toMatch(/guest PDE \(gL2\)\s+0x[0-9a-f]*008\n/);
    expect(k4).toMatch(/guest PTE \(gL1\)\s+0x[0-9a-f]*008\n/);
    expect(m2).toContain('(a 2 MiB translation)');
    // the 2 MiB result keeps the GVA's low 21 bits: 0x7f0000201000 mod 2 MiB = 0x1000
    const hpa = /-> HPA (0x[0-9a-f]+) \(a 2 MiB translation\)/.exec(m2);
    expect(hpa).not.toBeNull();
    expect(Number(hpa![1]) % 0x200000).toBe(gva % 0x200000);
    expect(gva % 0x200000).toBe(0x1000);
  });

  test('04 EPT violation: SDM "Exit Qualification for EPT Violations": 0xf82 not present, 0xf8a once the entry is read-only', async () => {
    const steps = await stepsOf('04-ept-violation-qualification', 'expected.json');
    // write (bit 1), GLA valid (7), final translation (8), user-mode (9), writable (10), execute-disable (11):
    // the guest mapping is "rwu" (no x, so XD is set); the EPT entry is not present so bits 5:3 are 0
    const notPresent = 2 ** 1 + 2 ** 7 + 2 ** 8 + 2 ** 9 + 2 ** 10 + 2 ** 11;
    expect(steps[4].outcome.exit).toMatchObject({ reason: 48, qualification: '0x' + notPresent.toString(16), guestPhysical: '0x300010', guestLinear: '0x400010' });
    // after ept_map with perm "r", the retried write at VM entry: readable (bit 3) joins
    expect(steps[6].outcome.exit).toMatchObject({ reason: 48, qualification: '0x' + (notPresent + 2 ** 3).toString(16) });
    const text = (await lessonRun('04-ept-violation-qualification', 'expected.txt')).out;
    // GPA 0x300010: PDE index = bits 29:21 = 1 (entry offset 8), PTE index = bits 20:12 = 0x100 = 256
    expect(text).toMatch(/EPT PDE \(level 2, index 1\) at HPA 0x[0-9a-f]*008 = 0x0: not present/);
    expect(text).toMatch(/EPT PTE \(level 1, index 256\) at HPA 0x[0-9a-f]*800 = 0x80031: R--/);
  });

  test('05 forgotten INVEPT: SDM "Invalidating Cached Mappings": the write still hits the TLB until INVEPT, then exits', async () => {
    const steps = await stepsOf('05-forgotten-invept', 'expected.json');
    // ept_write_entry value: HPA 0x80000 | memory type WB (6 << 3 = 0x30) | R (bit 0) = 0x80031, no W
    expect(0x80000 + (6 << 3) + 1).toBe(0x80031);
    expect(steps[9]).toMatchObject({ op: 'write', outcome: { result: 'passthrough' } });
    expect(steps[13].outcome.exit).toMatchObject({ reason: 48, qualification: '0x' + (2 ** 1 + 2 ** 3 + 2 ** 7 + 2 ** 8 + 2 ** 9 + 2 ** 10).toString(16) });
    expect((await lessonRun('05-forgotten-invept', 'expected-stale.txt')).out).toContain('TLB hit');
  });

  test('06 TSC: SDM "Timestamp-Counter Offsetting and Scaling": ((T x 1.5) >> 0) + 0x1000; RDTSC exiting gives 16 and 51', async () => {
    const steps = await stepsOf('06-rdtscp-offset-scaling', 'expected-passthrough.json');
    // T = 10000: 10000 x 1.5 + 4096 = 19096; T = 12000: 18000 + 4096 = 22096; IA32_TSC_AUX = 0
    expect(steps[2].outcome).toMatchObject({ result: 'passthrough', value: '0x' + (19096).toString(16), aux: '0x0' });
    expect(steps[4].outcome).toMatchObject({ result: 'passthrough', value: '0x' + (22096).toString(16) });
    const ex = (await lessonRun('06-rdtscp-offset-scaling', 'expected-exiting.txt')).out;
    expect(ex).toContain('exit 51 RDTSCP');
    expect(ex).toContain('exit 16 RDTSC');
    expect(ex).toContain('rdtsc-exiting = 1');
  });

  test('07 shadow vs EPT on mp-idle: shadow paging takes at least 10x the exits, CR_ACCESS and #PF dominate, EPT walks are longer', async () => {
    const j = JSON.parse((await lessonRun('07-shadow-vs-ept', 'expected.json')).out) as {
      modes: Record<string, { exits: { total: number; byReason: Record<string, number> }; translation: { memoryReferences: { total: number; nested: number } } }>;
    };
    const { ept, shadow } = j.modes;
    expect(shadow.exits.total).toBeGreaterThanOrEqual(10 * ept.exits.total);
    expect(shadow.exits.byReason.CR_ACCESS).toBeGreaterThan(shadow.exits.total / 2);
    expect(shadow.exits.byReason.EXCEPTION_NMI ?? 0).toBeGreaterThan(0);
    expect(ept.exits.byReason.CR_ACCESS ?? 0).toBe(0);
    // shadow paging walks only the guest dimension: no nested references
    expect(shadow.translation.memoryReferences.nested).toBe(0);
    expect(ept.translation.memoryReferences.total).toBeGreaterThan(shadow.translation.memoryReferences.total);
  });
});
