/**
 * Rollback end to end on the lab: a backend that crashes when TLS is turned on, an agent given the
 * wrong CA, and a controller killed mid-wave followed by `rollout rollback`. Each must leave every
 * file byte-identical (same owner and mode) and every service healthy on ws:// again.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRootCa } from '../src/certs/generate.js';
import { rollout } from './helpers/cli.js';
import { agentHealthz, eventually, fileSnapshot } from './helpers/fleet.js';
import { useLab } from './helpers/lab-fixture.js';
import type { Lab } from './lab/lab.js';

const getLab = useLab({ backends: 3, agents: 4, net: 44 });
const stateDir = mkdtempSync(join(tmpdir(), 'rollout-state-'));
const env = { ROLLOUT_STATE_DIR: stateDir };
const args = (inventory?: string): string[] => ['secure', '-i', inventory ?? getLab().inventoryPath, '--known-hosts', getLab().knownHostsPath, '--gate-timeout', '20'];

async function healthyOnPlainWs(lab: Lab): Promise<void> {
  for (const b of lab.state.hosts.filter((h) => h.role === 'backend')) {
    const res = await fetch(`http://${b.address}:8080/health`);
    const health = (await res.json()) as { ClusterHealth: { Healthy: boolean }[] };
    expect(health.ClusterHealth.every((m) => m.Healthy)).toBe(true);
    expect(health.ClusterHealth).toHaveLength(3);
  }
  for (const a of lab.state.hosts.filter((h) => h.role === 'agent')) {
    expect(lab.readFile(a.name, '/etc/sensu/agent.yml')).not.toContain('wss://');
    await eventually(`${a.name} healthy`, 30_000, async () => (await agentHealthz(lab, a.name)) === 200);
  }
}

describe('rollback', () => {
  it('a backend that crashes on TLS rolls the whole wave back: exit 3, files byte-identical, fleet healthy on ws://', async () => {
    const lab = getLab();
    const before = await fileSnapshot(lab);
    lab.setFault('backend-2', 'crash-on-tls', true);
    try {
      const r = await rollout([...args(), '--yes'], { env });
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/backend-2: Backend healthy over TLS: health gate failed: sensu-backend (keeps crashing|is crash-looping)/);
      expect(r.stderr).toContain('rolled back and verified healthy');
      expect(r.stdout).toMatch(/backend-2\s+backend\s+failed/);
      expect(r.stdout).toMatch(/backend-1\s+backend\s+rolled back/);
    } finally {
      lab.setFault('backend-2', 'crash-on-tls', false);
    }
    expect(await fileSnapshot(lab)).toEqual(before);
    await healthyOnPlainWs(lab);
  });

  it('an agent given the wrong CA rolls everything back too, with exit 3', async () => {
    const lab = getLab();
    const before = await fileSnapshot(lab);
    const other = await createRootCa({ commonName: 'someone else' });
    writeFileSync(join(lab.dir, 'pki', 'other-ca.pem'), other.certPem);
    const inventory = readFileSync(lab.inventoryPath, 'utf8').replace(/(agent-03:\n\s+ansible_host: [\d.]+\n)/, '$1          sensu_ca_file: pki/other-ca.pem\n');
    expect(inventory).toContain('sensu_ca_file: pki/other-ca.pem');
    const file = join(lab.dir, 'wrong-ca.yml');
    writeFileSync(file, inventory);
    const r = await rollout([...args(file), '--yes'], { env });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/agent-03\s+agent\s+failed/);
    expect(await fileSnapshot(lab)).toEqual(before);
    await healthyOnPlainWs(lab);
  });

  it('Ctrl-C mid-wave finishes the step in flight, rolls the run back and exits 130', async () => {
    const lab = getLab();
    const before = await fileSnapshot(lab);
    let pid = 0;
    const journals = (): string[] => readdirSync(stateDir, { recursive: true }).map(String).filter((f) => f.endsWith('.jsonl'));
    const earlier = new Set(journals());
    lab.setFault('agent-04', 'hang-on-start', true);
    try {
      const run = rollout([...args(), '--yes'], { env, onSpawn: (p) => (pid = p) });
      await eventually('the agent wave to start', 60_000, () =>
        journals().filter((f) => !earlier.has(f)).some((f) => readFileSync(join(stateDir, f), 'utf8').includes('"path":"/etc/sensu/agent.yml"')),
      );
      // The hung agent keeps hanging; its next start (by the rollback) is a normal one.
      lab.setFault('agent-04', 'hang-on-start', false);
      process.kill(pid, 'SIGINT');
      const r = await run;
      expect(r.code).toBe(130);
      expect(r.stderr).toContain('interrupted');
    } finally {
      lab.setFault('agent-04', 'hang-on-start', false);
    }
    // The hung agent was restarted by the rollback without the fault: everything back and healthy.
    expect(await fileSnapshot(lab)).toEqual(before);
    await healthyOnPlainWs(lab);
  });

  it('`rollout rollback` restores the fleet after the controller was killed mid-wave', async () => {
    const lab = getLab();
    const before = await fileSnapshot(lab);
    let pid = 0;
    const journals = (): string[] => readdirSync(stateDir, { recursive: true }).map(String).filter((f) => f.endsWith('.jsonl'));
    const earlier = new Set(journals());
    // Hang one agent so the run sits in the agent wave, then kill the controller there.
    lab.setFault('agent-04', 'hang-on-start', true);
    try {
      const run = rollout([...args(), '--yes'], { env, onSpawn: (p) => (pid = p) });
      await eventually('the agent wave to start', 60_000, () => {
        return journals().filter((f) => !earlier.has(f)).some((f) => readFileSync(join(stateDir, f), 'utf8').includes('"path":"/etc/sensu/agent.yml"'));
      });
      process.kill(pid, 'SIGKILL');
      const killed = await run;
      expect(killed.code).toBeNull();
    } finally {
      lab.setFault('agent-04', 'hang-on-start', false);
    }
    // The fleet is now half-switched: backends on TLS, some agents on wss://.
    expect(lab.readFile('backend-1', '/etc/sensu/backend.yml')).toContain('cert-file');
    const r = await rollout(['rollback', '-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath], { env });
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(`${r.code} ${r.stdout}`).toBe(`0 ${r.stdout}`);
    expect(r.stdout).toMatch(/rolled back; every host verified healthy/);
    expect(await fileSnapshot(lab)).toEqual(before);
    await healthyOnPlainWs(lab);
    // A second rollback has nothing left to do; the fleet still plans the same secure run.
    const again = await rollout(['rollback', '-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath], { env });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already rolled back');
    const check = await rollout([...args(), '--check'], { env });
    expect(check.code).toBe(5);
  }, 300_000);
});
