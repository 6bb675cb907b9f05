/**
 * What the agent wave costs the backends' API, and how long it takes: `rollout secure --yes` on a
 * lab fleet at each --forks, counting the API requests the backends logged during the run (the
 * stand-in logs every request that carried credentials, with its path) and timing the agents-wss
 * phase from the moment its start and end lines reach stdout. Any rollout can be measured (an
 * older checkout's launcher with --rollout), so a change to the gates is measured before and after
 * on the same machine state. The fleet is reset between runs.
 *
 *   npx tsx test/bench/agent-wave.ts --agents 200 --forks 100,500 [--rollout PATH/src/cli/rollout.mjs]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { credentialedRequests } from '../helpers/fleet.js';
import { startLab, stopLab, type Lab } from '../lab/lab.js';
import { resetFleet, snapshotFleet } from './fleet-reset.js';

const { values: opts } = parseArgs({
  options: {
    agents: { type: 'string', default: '200' },
    backends: { type: 'string', default: '3' },
    forks: { type: 'string', default: '100,500' },
    rollout: { type: 'string', default: resolve('src/cli/rollout.mjs') },
    net: { type: 'string', default: '66' },
    label: { type: 'string', default: '' },
  },
});

interface WaveRun {
  forks: number;
  code: number | null;
  waveMs: number;
  totalMs: number;
  requests: { auth: number; entities: number; keepaliveEvents: number; other: number };
  statsLines: string[];
}

/** Runs rollout, timestamping the agents-wss start and end lines as they arrive. */
function timedRun(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; waveMs: number; totalMs: number; stderr: string }> {
  return new Promise((done) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let start = 0;
    let end = 0;
    let pending = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) {
        if (l.startsWith('❯ agents-wss')) start = Date.now();
        if (l.startsWith('✔ agents-wss') || l.startsWith('✖ agents-wss')) end = Date.now();
      }
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('close', (code) => done({ code, waveMs: end > start && start > 0 ? end - start : NaN, totalMs: Date.now() - t0, stderr }));
  });
}

function classify(paths: readonly string[]): WaveRun['requests'] {
  const r = { auth: 0, entities: 0, keepaliveEvents: 0, other: 0 };
  for (const p of paths) {
    if (p === '/auth') r.auth += 1;
    else if (p.endsWith('/entities')) r.entities += 1;
    else if (p.endsWith('/keepalive')) r.keepaliveEvents += 1;
    else r.other += 1;
  }
  return r;
}

const agents = Number(opts.agents);
const forksList = opts.forks.split(',').map(Number);
const dir = mkdtempSync(join(tmpdir(), 'rollout-agent-wave-'));
const state = mkdtempSync(join(tmpdir(), 'rollout-agent-wave-state-'));
let lab: Lab | undefined;
const runs: WaveRun[] = [];
try {
  process.stderr.write(`lab: ${opts.backends}+${agents}…\n`);
  lab = await startLab({ dir, backends: Number(opts.backends), agents, net: Number(opts.net) });
  const pristine = snapshotFleet(lab);
  for (const [i, forks] of forksList.entries()) {
    if (i > 0) await resetFleet(lab, pristine);
    const before = credentialedRequests(lab).length;
    const args = [opts.rollout, 'secure', '-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath, '--yes', '--stats', '--forks', String(forks)];
    const r = await timedRun(args, { ...process.env, ROLLOUT_STATE_DIR: state, CI: 'true' });
    const paths = credentialedRequests(lab)
      .slice(before)
      .map((q) => q.path);
    const run: WaveRun = {
      forks,
      code: r.code,
      waveMs: r.waveMs,
      totalMs: r.totalMs,
      requests: classify(paths),
      statsLines: r.stderr.split('\n').filter((l) => l.startsWith('stats:')),
    };
    runs.push(run);
    process.stderr.write(
      `forks ${forks}: exit ${String(r.code)}, agent wave ${(r.waveMs / 1000).toFixed(1)} s, API requests ${JSON.stringify(run.requests)}\n${run.statsLines.join('\n')}\n`,
    );
  }
} finally {
  if (lab) await stopLab(lab.dir);
  rmSync(state, { recursive: true, force: true });
}
const label = opts.label || opts.rollout;
process.stdout.write(
  '| rollout | fleet | forks | exit | agent wave s | API requests | of them: logins / entity listings / keepalive reads | requests per agent |\n|---|---|---|---|---|---|---|---|\n',
);
for (const r of runs) {
  const total = r.requests.auth + r.requests.entities + r.requests.keepaliveEvents + r.requests.other;
  process.stdout.write(
    `| ${label} | ${opts.backends}+${agents} | ${r.forks} | ${String(r.code)} | ${(r.waveMs / 1000).toFixed(1)} | ${total} | ${r.requests.auth} / ${r.requests.entities} / ${r.requests.keepaliveEvents} | ${(total / agents).toFixed(2)} |\n`,
  );
}
