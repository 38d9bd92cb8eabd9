import type { Io } from '../../src/cli/io';

/** A fake Io that records what a command printed and wrote. */
export const fakeIo = (files: Record<string, string> = {}, tty: { stdoutIsTTY?: boolean; env?: Record<string, string> } = {}) => {
  const out: string[] = [];
  const err: string[] = [];
  const written: Record<string, string> = {};
  const io: Io = {
    readFile: (p) => { if (!(p in files)) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' }); return files[p]; },
    exists: (p) => p in files,
    writeFileAtomic: (p, c) => { written[p] = c; },
    stdout: (s) => { out.push(s); },
    stderr: (s) => { err.push(s); },
    stderrIsTTY: false,
    stdoutIsTTY: tty.stdoutIsTTY ?? false,
    env: tty.env ?? {},
    lines: async function* (p) { for (const l of (files[p] ?? '').split('\n')) yield l; },
    fileSize: (p) => (files[p] ?? '').length,
    atomicWriter: (p) => {
      let buf = '';
      return { write: (s) => { buf += s; }, commit: () => { written[p] = buf; }, abort: () => { buf = ''; } };
    },
    onInterrupt: () => () => undefined,
  };
  return { io, out: () => out.join(''), err: () => err.join(''), written };
};

