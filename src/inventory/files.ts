/**
 * Local files the inventory names (certificates, keys, the SSH key): where they are, and whether
 * they are there. Relative paths are relative to the inventory file, so an inventory and its
 * `pki/` directory can move together.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { isAbsolute, normalize, resolve } from 'node:path';
import type { ProblemList } from './problems.js';
import type { Path } from './source.js';

/** A resolved path, or why it could not be resolved. */
export type LocalPath = { ok: true; path: string } | { ok: false; message: string };

/**
 * Resolves a controller-side path: `~` and `~/x` against `home`, relative paths against the
 * inventory directory `dir`, absolute paths as they are.
 */
export function resolveLocalPath(written: string, dir: string, home: string): LocalPath {
  if (written === '~') return { ok: true, path: normalize(home) };
  if (written.startsWith('~/')) return { ok: true, path: resolve(home, written.slice(2)) };
  if (written.startsWith('~')) {
    return { ok: false, message: '~user paths are not supported: write the path out, or use ~/ for your own home' };
  }
  return { ok: true, path: isAbsolute(written) ? normalize(written) : resolve(dir, written) };
}

/** A file to look for, and where the inventory names it. */
export interface FileCheck {
  file: string;
  path: Path;
}

/** Reports every file that is missing, not a regular file, or unreadable. */
export async function checkFiles(checks: readonly FileCheck[], problems: ProblemList): Promise<void> {
  const unique = [...new Set(checks.map((c) => c.file))];
  const verdicts = new Map<string, string | undefined>();
  await Promise.all(
    unique.map(async (file) => {
      verdicts.set(file, await fileProblem(file));
    }),
  );
  for (const check of checks) {
    const problem = verdicts.get(check.file);
    if (problem) problems.add(check.path, problem);
  }
}

async function fileProblem(file: string): Promise<string | undefined> {
  try {
    const info = await stat(file);
    if (!info.isFile()) return `not a regular file: ${file}`;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return `file not found: ${file}`;
    return `cannot read ${file} (${code ?? 'error'})`;
  }
  try {
    await access(file, constants.R_OK);
  } catch {
    return `file not readable: ${file}`;
  }
  return undefined;
}
