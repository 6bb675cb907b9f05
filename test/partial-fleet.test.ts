/**
 * Issue 19: fleets where some agents are always down. On 3 backends and 20 agents: agents left out
 * at preflight within --max-unreachable (named, a retry file, exit 7) and finished later with
 * --limit @retry (agents alone: no backend restarts); an agent failing its gate within
 * --max-fail-percentage put back alone, byte for byte, while the others are secured; the same
 * failure in the canary batch of --serial rolls back the whole run; with the bounds at 0, the old
 * refusal. Every host's files are compared byte for byte (content, owner, mode) with what they
 * should be.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRootCa } from '../src/certs/generate.js';
import { snapshotFleet, resetFleet, type FleetSnapshot } from './bench/fleet-reset.js';
import { rollout, type CliResult } from './helpers/cli.js';
import { baseline, expectCleanOutput, expectRestored } from './helpers/failure-checks.js';
import { agentHealthz, credentialedRequests, eventually, fileSnapshot, startCounts } from './helpers/fleet.js';
import { useLab } from './helpers/lab-fixture.js';
import { scratchDir } from './helpers/scratch.js';
import { killSshd, startSshd } from './lab/host-faults.js';
import type { Lab } from './lab/lab.js';

const getLab = useLab({ backends: 3, agents: 20, net: 56 });
const stateDir = scratchDir('rollout-state-56-');
const env = { ROLLOUT_STATE_DIR: stateDir };
const LONG = 400_000;
const DOWN = ['agent-07', 'agent-13'];

let pristine: FleetSnapshot;
beforeAll(() => {
  pristine = snapshotFleet(getLab());
});
afterAll(async () => {
  const lab = getLab();
  for (const h of DOWN) await startSshd(lab, h).catch(() => undefined);
});

function secure(extra: string[], inventory?: string): Promise<CliResult> {
  const lab = getLab();
  return rollout(['secure', '-i', inventory ?? lab.inventoryPath, '--known-hosts', lab.knownHostsPath, '--gate-timeout', '20', '--yes', ...extra], {
    env,
    timeoutMs: LONG,
  });
}

const agents = (lab: Lab): string[] => lab.state.hosts.filter((h) => h.role === 'agent').map((h) => h.name);
const backends = (lab: Lab): string[] => lab.state.hosts.filter((h) => h.role === 'backend').map((h) => h.name);

function retryFileOf(r: CliResult): string {
  const m = /--limit @(\S+\.retry)/.exec(r.stderr);
  expect(m, r.stderr).not.toBeNull();
  return m?.[1] ?? '';
}

async function expectSecured(lab: Lab, names: readonly string[]): Promise<void> {
  for (const name of names) {
    expect(lab.readFile(name, '/etc/sensu/agent.yml'), name).toContain('wss://');
    await eventually(`${name} /healthz 200`, 60_000, async () => (await agentHealthz(lab, name)) === 200);
  }
}

/** An inventory in which `host` trusts a CA that did not sign the backends' certificates. */
async function wrongCaInventory(lab: Lab, host: string): Promise<string> {
  const other = await createRootCa({ commonName: 'someone else' });
  writeFileSync(join(lab.dir, 'pki', 'other-ca.pem'), other.certPem);
  const text = readFileSync(lab.inventoryPath, 'utf8').replace(
    new RegExp(`(${host}:\\n\\s+ansible_host: [\\d.]+\\n)`),
    '$1          sensu_ca_file: pki/other-ca.pem\n',
  );
  expect(text).toContain('sensu_ca_file: pki/other-ca.pem');
  const file = join(lab.dir, `wrong-ca-${host}.yml`);
  writeFileSync(file, text);
  return file;
}

describe('agents left out at preflight (--max-unreachable)', () => {
  it(
    'with the bounds at 0 the run is refused as before; past the bound too, counting an agent that is not running',
    async () => {
      const lab = getLab();
      for (const h of DOWN) await killSshd(lab, h);
      await lab.exec('agent-10', 'systemctl', ['stop', 'sensu-agent']);
      const before = await baseline(lab);
      try {
        const r0 = await secure([]);
        expect(r0.code, r0.stdout + r0.stderr).toBe(2);
        for (const h of DOWN) expect(r0.stderr).toMatch(new RegExp(`✗ ${h}: .*connection refused`));
        expect(r0.stderr).toContain('--max-unreachable (3 now, 0 allowed)');
        const r1 = await secure(['--max-unreachable', '2']);
        expect(r1.code, r1.stdout + r1.stderr).toBe(2);
        expect(r1.stderr).toMatch(/✗ agent-10: is not healthy before the run/);
        expect(r1.stderr).toContain('(3 now, 2 allowed)');
        expectCleanOutput(lab, r1);
        // Within the bound, a dry run's --json names each agent left out, with why.
        const r2 = await secure(['--check', '--json', '--max-unreachable', '15%']);
        expect(r2.code, r2.stderr).toBe(5);
        const doc = JSON.parse(r2.stdout) as { plan: { leftBehind: { host: string; reason: string; stage: string }[] } };
        expect(doc.plan.leftBehind.map((l) => [l.host, l.stage])).toEqual([
          ['agent-07', 'preflight'],
          ['agent-10', 'preflight'],
          ['agent-13', 'preflight'],
        ]);
        expect(doc.plan.leftBehind.find((l) => l.host === 'agent-10')?.reason).toMatch(/^sensu-agent is not running/);
        expect(doc.plan.leftBehind.find((l) => l.host === 'agent-07')?.reason).toMatch(/^unreachable at [\d.]+:22: connection refused/);
        expect(await fileSnapshot(lab)).toEqual(before.files);
      } finally {
        await lab.exec('agent-10', 'systemctl', ['start', 'sensu-agent']);
        for (const h of DOWN) await startSshd(lab, h);
      }
      await eventually('agent-10 /healthz 200', 60_000, async () => (await agentHealthz(lab, 'agent-10')) === 200);
    },
    LONG,
  );

  let retryFile = '';
  let afterFirst: Record<string, string> = {};
  it(
    '--max-unreachable 2 with two sshds stopped: 18 agents secured, the two named and untouched, a retry file, exit 7; one entity listing per keepalive poll',
    async () => {
      const lab = getLab();
      for (const h of DOWN) await killSshd(lab, h);
      const before = await fileSnapshot(lab);
      const requestsBefore = credentialedRequests(lab).length;
      const r = await secure(['--max-unreachable', '2', '--stats']);
      expect(r.code, r.stdout + r.stderr).toBe(7);
      for (const h of DOWN) {
        expect(r.stdout).toMatch(new RegExp(`  ${h}: unreachable at [\\d.]+:22: connection refused`));
        expect(r.stdout).toMatch(new RegExp(`${h}\\s+agent\\s+left behind\\s+0`));
        expect(r.stderr).toMatch(new RegExp(`  ${h}: unreachable at `));
      }
      expect(r.stdout).toContain('left behind: 2 agent(s), not touched by this run');
      expect(r.stderr).toContain('stay cut off (Sensu has no mixed ws/wss mode) until a later run switches them');
      // 18 agents wait for their keepalives at once, each listening for Ctrl-C: no warning may tear the display.
      expect(r.stderr).not.toContain('MaxListenersExceededWarning');
      retryFile = retryFileOf(r);
      expect(readFileSync(retryFile, 'utf8')).toBe(`${DOWN.join('\n')}\n`);
      const after = await fileSnapshot(lab);
      for (const h of DOWN) expect(after[h], h).toBe(before[h]);
      await expectSecured(
        lab,
        agents(lab).filter((a) => !DOWN.includes(a)),
      );
      for (const b of backends(lab)) expect(lab.readFile(b, '/etc/sensu/backend.yml')).toContain('cert-file');
      expectCleanOutput(lab, r);

      // The agents' keepalives: one entity listing per poll, never a request per agent.
      const requests = credentialedRequests(lab).slice(requestsBefore);
      expect(requests.filter((q) => q.path.includes('/events/'))).toEqual([]);
      const listings = requests.filter((q) => q.path.endsWith('/entities')).length;
      const batches = [
        ...r.stderr.matchAll(
          /stats: agents-wss batch (\d+): (\d+) Sensu API request\(s\) \([\d.]+ [kM]?B\) for the keepalives of (\d+) host\(s\), batch ([\d.]+) s/g,
        ),
      ];
      expect(batches.length, r.stderr).toBeGreaterThan(0);
      const reported = batches.reduce((n, m) => n + Number(m[2]), 0);
      // Logins are counted too (one per backend asked), and listings the backends logged are the rest.
      expect(listings).toBeGreaterThan(0);
      expect(listings).toBeLessThanOrEqual(reported);
      for (const m of batches) expect(Number(m[2]), m[0]).toBeLessThanOrEqual(Math.ceil(Number(m[4])) + 3);
      afterFirst = after;
    },
    LONG,
  );

  it(
    'once they are back, --limit @retry secures exactly those two, with no backend restart',
    async () => {
      const lab = getLab();
      for (const h of DOWN) await startSshd(lab, h);
      // Cut off: their agents run on ws:// while the backends serve TLS.
      for (const h of DOWN) expect(await agentHealthz(lab, h)).toBe(503);
      const starts = startCounts(lab);
      const r = await secure(['--limit', `@${retryFile}`]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('no backend is in this run: none restarts and there is no lockstep');
      for (const h of DOWN) expect(r.stdout).toContain(`${h}: not connected now (it dials ws:// and the backends serve TLS)`);
      await expectSecured(lab, DOWN);
      const after = await fileSnapshot(lab);
      for (const h of lab.state.hosts.map((x) => x.name).filter((n) => !DOWN.includes(n))) expect(after[h], h).toBe(afterFirst[h]);
      const startsAfter = startCounts(lab);
      for (const b of backends(lab)) expect(startsAfter[b], b).toBe(starts[b]);
      expectCleanOutput(lab, r);
    },
    LONG,
  );
});

describe('agents failing in the wave (--max-fail-percentage, --serial)', () => {
  it(
    'an agent whose CA is wrong, under --max-fail-percentage 10: it alone is back on its old files, the rest secured, exit 7',
    async () => {
      const lab = getLab();
      await resetFleet(lab, pristine);
      const before = await baseline(lab);
      const inventory = await wrongCaInventory(lab, 'agent-04');
      const r = await secure(['--max-fail-percentage', '10'], inventory);
      expect(r.code, r.stdout + r.stderr).toBe(7);
      expect(r.stdout).toMatch(/agent-04\s+agent\s+left behind/);
      expect(r.stderr).toMatch(
        /agent-04: Agent connected over wss:\/\/: health gate failed: \/healthz 503 sensu backend unavailable \(after 20 s\); put back on its old files/,
      );
      expect(readFileSync(retryFileOf(r), 'utf8')).toBe('agent-04\n');
      const after = await fileSnapshot(lab);
      expect(after['agent-04']).toBe(before.files['agent-04']);
      // Back on its old settings and running (cut off from the TLS backends, as the operator was told).
      await eventually('agent-04 answers /healthz', 30_000, async () => (await agentHealthz(lab, 'agent-04')) === 503);
      await expectSecured(
        lab,
        agents(lab).filter((a) => a !== 'agent-04'),
      );
      expectCleanOutput(lab, r);
    },
    LONG,
  );

  it(
    'the same failure in the canary batch of --serial 1,50%,100%: the whole run rolls back, exit 3',
    async () => {
      const lab = getLab();
      await resetFleet(lab, pristine);
      const before = await baseline(lab);
      const inventory = await wrongCaInventory(lab, 'agent-01');
      const r = await secure(['--max-fail-percentage', '10', '--serial', '1,50%,100%'], inventory);
      expect(r.code, r.stdout + r.stderr).toBe(3);
      expect(r.stdout).toContain('the first, of 1 host(s), is the canary');
      expect(r.stderr).toContain('rolled back and verified healthy on its old settings');
      expect(r.stdout).toMatch(/agent-01\s+agent\s+failed/);
      expectCleanOutput(lab, r);
      await expectRestored(lab, before);
    },
    LONG,
  );
});
