#!/usr/bin/env node
// Bundles the CLI (src/cli/main.ts) with esbuild: used by `npm pack` (prepack, into dist/) and by the
// checkout's dev loader (into node_modules/.cache/rollout/). Packages stay external, so the bundle
// needs the production dependencies and nothing else; it is split at the CLI's dynamic imports, so a
// command loads only the packages it uses.
import { cpSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Writes the bundle into outdir (its entry is outdir/main.js). */
export async function bundle(outdir, { sourcemap = false } = {}) {
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [join(root, 'src', 'cli', 'main.ts')],
    outdir,
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    // The oldest Node in package.json's engines.
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
    ...(sourcemap ? { sourcemap: 'inline' } : {}),
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outdir = resolve(root, process.argv[2] ?? 'dist');
  rmSync(outdir, { recursive: true, force: true });
  await bundle(outdir);
  // The JSON Schemas of --json ship beside the bundle (dist/schemas/).
  cpSync(join(root, 'src', 'cli', 'schemas'), join(outdir, 'schemas'), { recursive: true });
}
