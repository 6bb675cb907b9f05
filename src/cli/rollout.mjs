#!/usr/bin/env node
// The `rollout` executable. A checkout works right after `npm ci` with no build step: the
// TypeScript sources are bundled by esbuild into node_modules/.cache/rollout/ whenever they are
// newer than the bundle (≈0.2 s, once), because loading them through a TypeScript loader on every
// start costs over a second. Without esbuild it falls back to tsx. Only this entry sets the exit code.
import { mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const bundle = join(root, 'node_modules', '.cache', 'rollout', 'cli.mjs');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

async function load() {
  let fresh;
  try {
    fresh = statSync(bundle).mtimeMs >= Math.max(newestSource(join(root, 'src')), statSync(join(root, 'package-lock.json')).mtimeMs);
  } catch {
    fresh = false;
  }
  if (!fresh) {
    try {
      const { build } = await import('esbuild');
      mkdirSync(dirname(bundle), { recursive: true });
      const tmp = `${bundle}.${process.pid}.tmp`;
      await build({ entryPoints: [join(here, 'main.ts')], outfile: tmp, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'error', sourcemap: 'inline' });
      renameSync(tmp, bundle);
      fresh = true;
    } catch {
      fresh = false;
    }
  }
  if (fresh) return import(pathToFileURL(bundle).href);
  const { register } = await import('tsx/esm/api');
  register();
  return import('./main.ts');
}

// `rollout status | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const { main } = await load();
process.exitCode = await main(process.argv.slice(2));
