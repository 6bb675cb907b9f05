#!/usr/bin/env node
// The `rollout` executable. Installed from npm it runs the bundle in dist/ (made by `npm pack`),
// which needs only Node and the production dependencies. In a checkout (src/ is there) the dev
// loader decides: it rebuilds from the sources when they changed. Only this entry sets the exit code.
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

// `rollout status | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const devLoader = new URL('./dev-load.mjs', import.meta.url);
let main;
try {
  ({ main } = existsSync(devLoader) ? await (await import(devLoader.href)).loadMain() : await import('../../dist/main.js'));
} catch (err) {
  // Nothing of rollout's own error handling is loaded yet: one plain line, not a stack.
  process.stderr.write(`rollout: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
process.exitCode = await main(process.argv.slice(2));
