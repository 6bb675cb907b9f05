/**
 * The npm package as `npm pack` makes it: what the tarball holds (the CLI's bundle, playbooks,
 * examples, README and LICENSE; no tests, lab, CI or sources), and that its `rollout` runs from the
 * bundle alone, with no src/ beside it. Installing it from the registry on each Node is
 * test/smoke/installed.sh's job (CI).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDir } from './helpers/scratch.js';

const ROOT = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const out = scratchDir('rollout-pack-');
// Beside the checkout's node_modules, so the bundle's imports resolve as in an installed package.
const unpacked = join(ROOT, 'node_modules', '.cache', `pack-test-${process.pid}`);
let files: string[] = [];

beforeAll(() => {
  const report = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
  ) as { filename: string; files: { path: string }[] }[];
  const first = report[0];
  if (!first) throw new Error('npm pack reported no tarball');
  files = first.files.map((f) => f.path);
  mkdirSync(unpacked, { recursive: true });
  execFileSync('tar', ['-xzf', join(out, first.filename), '-C', unpacked]);
}, 120_000);
afterAll(() => rmSync(unpacked, { recursive: true, force: true }));

function installed(args: string[]): string {
  return execFileSync(process.execPath, [join(unpacked, 'package', 'src', 'cli', 'rollout.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
}

describe('npm pack', () => {
  it('ships the bundle, JSON Schemas, playbooks, examples, README and LICENSE', () => {
    for (const f of [
      'src/cli/rollout.mjs',
      'dist/main.js',
      'dist/schemas/secure.schema.json',
      'playbooks/secure.yml',
      'inventory/example.yml',
      'README.md',
      'LICENSE',
      'package.json',
    ])
      expect(files).toContain(f);
  });

  it('ships no tests, lab, CI, sources or build scripts: of src/, only the launcher (and its README, which npm always packs)', () => {
    // npm packs every README whatever `files` says; src/README.md is the source's guide, no code.
    const shipped = ['src/cli/rollout.mjs', 'src/README.md'];
    const stray = files.filter(
      (f) => (/^(test|src|scripts|\.ci|node_modules|coverage|\.lab)\//.test(f) && !shipped.includes(f)) || f.endsWith('.ts') || f.endsWith('.tgz'),
    );
    expect(stray).toEqual([]);
    expect(files.filter((f) => f.startsWith('src/')).sort()).toEqual([...shipped].sort());
  });

  it("runs from dist/ alone: --version is package.json's, commands load their chunks", () => {
    expect(installed(['--version']).trim()).toBe(pkg.version);
    expect(installed(['--help'])).toMatch(/^ {2}secure /m);
    const pki = join(out, 'pki');
    const inventory = join(unpacked, 'package', 'inventory', 'example.yml');
    const text = installed(['certs', '-i', inventory, '--out', pki, '--json']);
    expect(JSON.parse(text)).toBeTypeOf('object');
    expect(readFileSync(join(pki, 'ca.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
  });
});
