/**
 * Where rollout's own files are: the directory holding its package.json and playbooks/, found by
 * walking up from this module. It runs from src/ in a checkout, from a bundle under
 * node_modules/.cache/ in dev, and from dist/ when installed, so no fixed relative path fits all.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'playbooks', 'secure.yml')) && existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return join(start, '..', '..');
  }
}

/** The package's root directory (package.json, playbooks/). */
export const PACKAGE_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

/** The version in package.json, so `--version` cannot drift from what npm installed. */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
