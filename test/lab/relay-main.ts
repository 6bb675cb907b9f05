/**
 * The lab's latency relay as a process of its own (bundled into `<lab>/bin/relay.mjs`): one
 * process for every host, so its CPU time is one number the bench can read and subtract.
 * Usage: node relay.mjs CONFIG.json, where the file holds `{ rttMs, routes }`. Prints `ready` once
 * every route listens; on SIGTERM it prints the CPU it used (to its log) and exits.
 */
import { readFileSync } from 'node:fs';
import { startDelayRelay, type RelayRoute } from './delay-relay.js';

interface RelayConfig {
  rttMs: number;
  routes: RelayRoute[];
}

const configPath = process.argv[2];
if (!configPath) {
  process.stderr.write('usage: relay.mjs CONFIG.json\n');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8')) as RelayConfig;
const relay = await startDelayRelay(config.routes, config.rttMs);
process.stdout.write(`ready: ${config.routes.length} route(s), ${config.rttMs} ms round trip\n`);

process.on('SIGTERM', () => {
  const cpu = process.cpuUsage();
  process.stderr.write(`relay stopping: ${relay.accepted()} connection(s), CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s\n`);
  process.exit(0);
});
