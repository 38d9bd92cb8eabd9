/** Reading the JSON inputs of the CLI: a config or a scenario file, with one-line errors naming the file. */
import { isLeft } from 'fp-ts/Either';
import { decodeConfig, DEFAULT_CONFIG, type Config } from '../replay/config';
import type { Io } from './io';

/** Reads and parses a JSON file; failures name the file. */
export const readJson = (io: Io, file: string): { ok: true; value: unknown } | { ok: false; message: string } => {
  let text: string;
  try {
    text = io.readFile(file);
  } catch (e) {
    const code = (e as { code?: string }).code;
    return { ok: false, message: `${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : 'cannot be read'}` };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, message: `${file}: expected JSON, found a syntax error (${(e as Error).message})` };
  }
};

/** The config of --config, or the defaults. */
export const loadConfig = (io: Io, file: string | undefined): { ok: true; config: Config } | { ok: false; problem: string | { file: string; path: string; expected: string; found: string } } => {
  if (file === undefined) return { ok: true, config: DEFAULT_CONFIG };
  const v = readJson(io, file);
  if (!v.ok) return { ok: false, problem: v.message };
  const c = decodeConfig(v.value, 'config');
  if (isLeft(c)) return { ok: false, problem: { file, path: c.left.path, expected: c.left.expected, found: c.left.found } };
  return { ok: true, config: c.right };
};

