/**
 * Bundles the stand-ins into two self-contained ESM files, `sensu-backend.mjs` and
 * `sensu-agent.mjs`, that lab hosts run with plain `node` (no node_modules needed).
 */
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * CommonJS dependencies (ws) call `require` for Node built-ins; an ESM bundle has none, so give
 * it one. ws' optional native helpers stay external and ws falls back to JS when they are absent.
 */
const BANNER = "import { createRequire as __standinCreateRequire } from 'node:module';\nconst require = __standinCreateRequire(import.meta.url);";

/** Builds both stand-ins into `outDir` and returns their paths. */
export async function buildStandins(outDir: string): Promise<{ backend: string; agent: string }> {
  await build({
    entryPoints: { 'sensu-backend': join(here, 'backend.ts'), 'sensu-agent': join(here, 'agent.ts') },
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner: { js: BANNER },
    external: ['bufferutil', 'utf-8-validate'],
    logLevel: 'error',
    legalComments: 'none',
  });
  return { backend: join(outDir, 'sensu-backend.mjs'), agent: join(outDir, 'sensu-agent.mjs') };
}
