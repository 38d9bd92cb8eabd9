#!/usr/bin/env node
// Multi-process guest trace generator (interface §2 JSON lines) for shadow paging vs EPT experiments. Deterministic:
// the same preset and options give the same bytes (PRNG mulberry32(seed)).
//
//   node scripts/gen-multiprocess.js <preset> [--out file] [--seed n] [--procs n] [--slices n] [--new-page-every n]
//        [--accesses n] [--fork-every n] [--munmap-every n] [--cpuid-every n] [--io-every n] [--msr-every n]
//        [--pages n] [--random n]
//
// Presets (the shipped traces/mp-*.jsonl; each file's '#' header records the exact parameters):
//   idle    traces/mp-idle.jsonl: a switch-heavy guest like an idle or booting one. `procs` processes (more than the
//           4 CR3-target values), each with its own CR3 (root tables at guest-physical 0x400000 + i * 4 KiB, below the
//           guest OS model's 16 MiB allocator). `slices` time slices; each one is a MOV to CR3 to the next process
//           (round robin), `accesses` reads/writes to pages the process already touched, and 1000 cycles of work.
//           One slice in `new-page-every` touches a new heap page (demand paging: a not-present #PF the guest OS
//           model serves); one in `munmap-every` unmaps a page (guest_unmap + INVLPG, as munmap does); one in
//           `fork-every` forks: the child gets a fresh CR3, the parent's shared pages are made read-only in both
//           (copy-on-write: guest_map rewrites of present entries), and both break the COW of one page (guest_map of
//           a private copy + INVLPG, then a write). One slice in `cpuid-every` runs CPUID, one in `io-every` an OUT to
//           port 0x80, one in `msr-every` an RDMSR of IA32_APIC_BASE: the same instruction exits in every mode.
//   fork    traces/mp-fork.jsonl: the idle preset with few slices and a fork every 20 slices (COW-heavy).
//   random  traces/mp-random.jsonl: one process, no context switches; touches `pages` 4 KiB heap pages in order
//           (demand paging), then `random` reads/writes at uniformly random pages of that footprint (one in 8 a
//           write): no page-table changes in that phase, a TLB-miss-heavy large footprint.
//
// Guest-physical frames named by guest_map events come from a pool from 8 MiB up (below 16 MiB, interface §3).
'use strict';
const fs = require('fs');
const { mulberry32Float, hex } = require('./lib');

const PRESETS = {
  idle: { seed: 0x1d1e, procs: 12, slices: 5000, accesses: 3, newPageEvery: 50, munmapEvery: 97, forkEvery: 500, cpuidEvery: 100, ioEvery: 200, msrEvery: 200 },
  fork: { seed: 0xf0f0, procs: 6, slices: 400, accesses: 3, newPageEvery: 10, munmapEvery: 40, forkEvery: 20, cpuidEvery: 50, ioEvery: 50, msrEvery: 50 },
  random: { seed: 0x7a7d, pages: 4096, random: 30000 },
};

const PAGE = 4096;
const ROOT_BASE = 0x400000;
const POOL_BASE = 0x800000;
const POOL_END = 0x1000000;
const HEAP_BASE = 0x10000000;
const SHARED_BASE = 0x7f0000000000;
const SHARED_PAGES = 4;

const parseArgs = (argv) => {
  const preset = argv[0];
  if (!(preset in PRESETS)) throw new Error(`usage: gen-multiprocess.js <${Object.keys(PRESETS).join('|')}> [--option n ...]`);
  const p = { ...PRESETS[preset] };
  let out = `traces/mp-${preset}.jsonl`;
  for (let i = 1; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (k === 'out') { out = argv[i + 1]; continue; }
    if (!(k in p) && k !== 'seed') throw new Error(`unknown option ${argv[i]} for preset ${preset}`);
    p[k] = Number(argv[i + 1]);
  }
  return { preset, p, out };
};

const generateMultiprocess = (p) => {
  const rnd = mulberry32Float(p.seed);
  const lines = [];
  const ev = (o) => lines.push(JSON.stringify(o));
  let pool = POOL_BASE;
  const frame = () => { if (pool >= POOL_END) throw new Error('guest_map frame pool exhausted'); const f = pool; pool += PAGE; return f; };
  // a process: CR3, touched heap pages, next heap page, its shared (COW-able) pages gva -> gpa
  const procs = [];
  let nextRoot = 0;
  const newProc = () => ({ cr3: ROOT_BASE + PAGE * nextRoot++, pages: [], nextHeap: 0, shared: new Map() });
  let cur = null;
  const switchTo = (q) => { ev({ op: 'mov_to_cr', cr: 3, value: hex(q.cr3) }); cur = q; };
  for (let i = 0; i < p.procs; i++) {
    const q = newProc();
    procs.push(q);
    switchTo(q);
    // every process starts with SHARED_PAGES pages mapped by its loader (explicit frames) and one heap page
    for (let k = 0; k < SHARED_PAGES; k++) {
      const gva = SHARED_BASE + k * PAGE;
      const gpa = frame();
      ev({ op: 'guest_map', gva: hex(gva), gpa: hex(gpa), size: '4K', flags: 'rwu' });
      q.shared.set(gva, gpa);
      ev({ op: 'write', gva: hex(gva), size: 8 });
    }
    ev({ op: 'write', gva: hex(HEAP_BASE), size: 8 });
    q.pages.push(HEAP_BASE);
    q.nextHeap = 1;
  }
  const pick = (arr) => arr[Math.floor(rnd() * arr.length)];
  for (let s = 0; s < p.slices; s++) {
    const q = procs[s % procs.length];
    switchTo(q);
    for (let a = 0; a < p.accesses; a++) {
      const useShared = rnd() < 0.25;
      const gva = useShared ? pick([...q.shared.keys()]) : pick(q.pages);
      ev({ op: 'read', gva: hex(gva + 8 * Math.floor(rnd() * 512)), size: 8 });
    }
    if (s % p.newPageEvery === p.newPageEvery - 1) {
      const gva = HEAP_BASE + PAGE * q.nextHeap++;
      ev({ op: 'write', gva: hex(gva), size: 8 });
      q.pages.push(gva);
    }
    if (s % p.munmapEvery === p.munmapEvery - 1 && q.pages.length > 1) {
      const gva = q.pages.pop();
      ev({ op: 'guest_unmap', gva: hex(gva) });
      ev({ op: 'invlpg', gva: hex(gva) });
    }
    if (s % p.forkEvery === p.forkEvery - 1) {
      // fork: the child replaces the oldest process (which exits) so the process count stays `procs`
      const child = newProc();
      // parent: its shared pages become read-only (COW), INVLPG each
      for (const [gva, gpa] of q.shared) {
        ev({ op: 'guest_map', gva: hex(gva), gpa: hex(gpa), size: '4K', flags: 'u' });
        ev({ op: 'invlpg', gva: hex(gva) });
      }
      switchTo(child);
      for (const [gva, gpa] of q.shared) {
        ev({ op: 'guest_map', gva: hex(gva), gpa: hex(gpa), size: '4K', flags: 'u' });
        child.shared.set(gva, gpa);
      }
      ev({ op: 'write', gva: hex(HEAP_BASE), size: 8 });
      child.pages.push(HEAP_BASE);
      child.nextHeap = 1;
      // COW break in the child, then in the parent: a private copy, mapped writable, INVLPG, the write
      for (const who of [child, q]) {
        if (cur !== who) switchTo(who);
        const gva = SHARED_BASE;
        const copy = frame();
        ev({ op: 'guest_map', gva: hex(gva), gpa: hex(copy), size: '4K', flags: 'rwu' });
        ev({ op: 'invlpg', gva: hex(gva) });
        ev({ op: 'write', gva: hex(gva), size: 8 });
        who.shared.set(gva, copy);
      }
      procs[procs.indexOf(q) === 0 ? 1 : 0] = child;
    }
    if (s % p.cpuidEvery === p.cpuidEvery - 1) ev({ op: 'cpuid', leaf: '0x1' });
    if (s % p.ioEvery === p.ioEvery - 1) ev({ op: 'out', port: '0x80', size: 1 });
    if (s % p.msrEvery === p.msrEvery - 1) ev({ op: 'rdmsr', msr: '0x1b' });
    ev({ op: 'run', cycles: '1000' });
  }
  return lines;
};

const generateRandom = (p) => {
  const rnd = mulberry32Float(p.seed);
  const lines = [];
  const ev = (o) => lines.push(JSON.stringify(o));
  for (let i = 0; i < p.pages; i++) ev({ op: 'write', gva: hex(HEAP_BASE + i * PAGE), size: 8 });
  for (let i = 0; i < p.random; i++) {
    const page = Math.floor(rnd() * p.pages);
    ev({ op: i % 8 === 7 ? 'write' : 'read', gva: hex(HEAP_BASE + page * PAGE + 8 * Math.floor(rnd() * 512)), size: 8 });
  }
  return lines;
};

const main = () => {
  const { preset, p, out } = parseArgs(process.argv.slice(2));
  const body = preset === 'random' ? generateRandom(p) : generateMultiprocess(p);
  const header = [`# mp-${preset}: generated by scripts/gen-multiprocess.js ${preset} (do not edit by hand)`, `# ${JSON.stringify(p)}`];
  fs.writeFileSync(out, header.concat(body).join('\n') + '\n');
  process.stderr.write(`${out}: ${body.length} events\n`);
};

if (require.main === module) main();
module.exports = { generateMultiprocess, generateRandom, PRESETS };
