// The checkout's way to load the CLI: no build step after `npm ci`. The TypeScript sources are
// bundled into node_modules/.cache/rollout/ whenever they are newer than the bundle (≈0.3 s, once),
// because loading them through a TypeScript loader on every start costs over a second. A dist/ left
// by `npm pack` is never used here: the next `npm pack` empties and rewrites it, under any rollout
// started from the checkout meanwhile (the tests do). Without esbuild it falls back to tsx. An
// installed package has no src/ and never loads this file (src/cli/rollout.mjs).
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

/** Imports the CLI's main module, building it first when the sources changed. */
export async function loadMain() {
  let stamp;
  try {
    stamp = Math.max(newestSource(join(root, 'src')), statSync(join(root, 'package-lock.json')).mtimeMs);
  } catch {
    stamp = undefined;
  }
  // A build is named after the sources it was made from: a new name whenever one of them changes.
  const build = stamp === undefined ? undefined : join(cache, `build-${Math.floor(stamp)}`);
  if (build && !existsSync(join(build, 'main.js'))) {
    const tmp = `${build}.${process.pid}.tmp`;
    try {
      const { bundle } = await import('./bundle.mjs');
      mkdirSync(cache, { recursive: true });
      await bundle(tmp, { sourcemap: true });
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
  let tsx;
  try {
    tsx = await import('tsx/esm/api');
  } catch (err) {
    if (err.code !== 'ERR_MODULE_NOT_FOUND') throw err;
    // `npm ci --omit=dev` in a checkout: no build tools. A dist/ made earlier still runs.
    const dist = join(root, 'dist', 'main.js');
    if (existsSync(dist)) return import(pathToFileURL(dist).href);
    throw new Error(
      'this checkout has neither its build tools (esbuild and tsx are dev dependencies) nor a dist/: run `npm ci` with dev dependencies, or install the package `npm pack` makes',
      { cause: err },
    );
  }
  tsx.register();
  return import('./main.ts');
}
