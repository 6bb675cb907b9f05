#!/usr/bin/env node
// The `rollout` executable: runs the TypeScript sources through tsx, so a checkout works right
// after `npm ci` with no build step. Only this entry sets the exit code.
import process from 'node:process';
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
