#!/usr/bin/env node
// The `rollout` executable. A checkout works right after `npm ci` with no build step: the
// TypeScript sources are bundled by esbuild into node_modules/.cache/rollout/ whenever they are
// newer than the bundle (≈0.3 s, once), because loading them through a TypeScript loader on every
// start costs over a second. The bundle is split at the CLI's dynamic imports, so a command loads
// only the packages it uses. Without esbuild it falls back to tsx. Only this entry sets the exit code.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const cache = join(root, 'node_modules', '.cache', 'rollout');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Drops builds of older sources, unless one may still be in use (a run started before an edit). */
function dropOldBuilds(keep) {
  const hourAgo = Date.now() - 3_600_000;
  for (const entry of readdirSync(cache, { withFileTypes: true })) {
    const path = join(cache, entry.name);
    if (entry.name === keep) continue;
    try {
      if (statSync(path).mtimeMs < hourAgo) rmSync(path, { recursive: true, force: true });
    } catch {
      // Another rollout removed it first.
    }
  }
}

async function load() {
  let build;
  try {
    // A build is named after the sources it was made from: a new name whenever one of them changes.
    const stamp = Math.max(newestSource(join(root, 'src')), statSync(join(root, 'package-lock.json')).mtimeMs);
    build = join(cache, `build-${Math.floor(stamp)}`);
  } catch {
    build = undefined;
  }
  if (build && !existsSync(join(build, 'main.js'))) {
    const tmp = `${build}.${process.pid}.tmp`;
    try {
      const esbuild = await import('esbuild');
      mkdirSync(cache, { recursive: true });
      await esbuild.build({ entryPoints: [join(here, 'main.ts')], outdir: tmp, bundle: true, splitting: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'error', sourcemap: 'inline' });
      try {
        // Whole or not at all: rollouts started at the same moment each build, the first rename wins.
        renameSync(tmp, build);
      } catch {
        rmSync(tmp, { recursive: true, force: true });
      }
      dropOldBuilds(basename(build));
    } catch {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  if (build && existsSync(join(build, 'main.js'))) return import(pathToFileURL(join(build, 'main.js')).href);
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
