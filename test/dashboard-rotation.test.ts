/**
 * Dashboard TLS and certificate rotation end to end on the lab (real TLS, real etcd):
 * - the web UI on 3000 serves the inventory's dashboard certificate, the API its own;
 * - a rotation to a new CA puts a CA bundle (new + old) on every host first, then restarts the
 *   backends one at a time onto the new certificates: no agent ever distrusts what a backend serves;
 *   an agent failing after every backend switched rolls everything back byte-identical;
 * - `--drop-old-ca` then leaves only the new CA trusted; each run's rerun changes nothing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rollout } from './helpers/cli.js';
import { agentHealthz, eventually, fileSnapshot, labCa, servedCertificate, startCounts } from './helpers/fleet.js';
import { useLab } from './helpers/lab-fixture.js';
import { newLabPki } from './helpers/new-pki.js';
import type { Lab } from './lab/lab.js';

const getLab = useLab({ backends: 2, agents: 3, net: 51, certs: { dashboardCerts: true } });
const args = (inventory?: string): string[] => [
  'secure',
  '-i',
  inventory ?? getLab().inventoryPath,
  '--known-hosts',
  getLab().knownHostsPath,
  '--gate-timeout',
  '40',
];
const backends = (lab: Lab): Lab['state']['hosts'] => lab.state.hosts.filter((h) => h.role === 'backend');
const agents = (lab: Lab): Lab['state']['hosts'] => lab.state.hosts.filter((h) => h.role === 'agent');

/** Lines agents logged since `marks` (byte offsets) that show they distrusted a backend. */
function distrust(lab: Lab, marks: Record<string, number>): string[] {
  return agents(lab).flatMap((a) =>
    lab
      .readFile(a.name, '/var/log/sensu/sensu-agent.log')
      .slice(marks[a.name] ?? 0)
      .split('\n')
      .filter((l) => /unknown authority|failed to verify/.test(l)),
  );
}
const logMarks = (lab: Lab): Record<string, number> =>
  Object.fromEntries(agents(lab).map((a) => [a.name, lab.readFile(a.name, '/var/log/sensu/sensu-agent.log').length]));

describe('dashboard TLS', () => {
  it("a web UI serving another certificate than the inventory's fails the gate; the wave rolls back byte-identical", async () => {
    const lab = getLab();
    const before = await fileSnapshot(lab);
    lab.setFault('backend-1', 'dashboard-ignores-cert', true);
    try {
      const r = await rollout([...args(), '--yes', '--gate-timeout', '15'], { timeoutMs: 300_000 });
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(
        /backend-1: Backend healthy over TLS: health gate failed: web UI https:\/\/127\.51\.0\.1:3000: serves CN=backend-1 \(sha256 [0-9a-f]{16}…\), not the certificate of .*backend-1-dashboard\.pem/,
      );
    } finally {
      lab.setFault('backend-1', 'dashboard-ignores-cert', false);
    }
    expect(await fileSnapshot(lab)).toEqual(before);
    for (const a of agents(lab)) await eventually(`${a.name} healthy`, 30_000, async () => (await agentHealthz(lab, a.name)) === 200);
  }, 300_000);

  it('the plan sets dashboard-cert-file/-key-file and uploads the pair; the run serves it on 3000, gated', async () => {
    const lab = getLab();
    const check = await rollout([...args(), '--check', '--diff']);
    expect(check.code).toBe(5);
    expect(check.stdout).toContain('+dashboard-cert-file: "/etc/sensu/tls/backend-1-dashboard.pem"');
    expect(check.stdout).toContain('+dashboard-key-file: "/etc/sensu/tls/backend-1-dashboard.key"');
    expect(check.stdout).toMatch(
      /\/etc\/sensu\/tls\/backend-2-dashboard\.key {2}sha256 [0-9a-f]{8}… {2}private key \(content never shown\) {2}0440 root:sensu/,
    );
    expect(check.stdout).not.toContain('PRIVATE KEY');

    const r = await rollout([...args(), '--yes']);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const ca = labCa(lab);
    for (const b of backends(lab)) {
      expect((await servedCertificate(b.address, 3000, ca)).subject.CN).toBe(`${b.name} web UI`);
      expect((await servedCertificate(b.address, 8080, ca)).subject.CN).toBe(b.name);
    }
    const again = await rollout([...args(), '--check']);
    expect(again.code).toBe(0);
    const status = await rollout(['status', '-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^backend-2 +dashboard +127\.51\.0\.2:3000 +TLS \(own cert\) +backend-2 web UI +\d{4}-\d\d-\d\d +\d+ +yes/m);
  });
});

describe('certificate rotation to a new CA', () => {
  it('an agent failing after every backend switched rolls the whole rotation back: files byte-identical, old certificates served', async () => {
    const lab = getLab();
    const before = await fileSnapshot(lab);
    const { inventory } = await newLabPki(lab, 'bad');
    const starts = startCounts(lab)['agent-03'] ?? 0;
    lab.setFault('agent-03', 'hang-on-start', true);
    try {
      const run = rollout([...args(inventory), '--yes', '--gate-timeout', '15'], { timeoutMs: 300_000 });
      // Only the run's restart hangs (agents restart onto the CA bundle after the backends switched).
      await eventually('agent-03 restarted by the run', 200_000, () => (startCounts(lab)['agent-03'] ?? 0) > starts);
      // The fault is read as the service starts; give it that moment before switching it off.
      await new Promise((r) => setTimeout(r, 5000));
      lab.setFault('agent-03', 'hang-on-start', false);
      const r = await run;
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/agent-03: Agent connected over wss:\/\/: health gate failed/);
      expect(r.stdout).toMatch(/backend-2\s+backend\s+rolled back/);
    } finally {
      lab.setFault('agent-03', 'hang-on-start', false);
    }
    expect(await fileSnapshot(lab)).toEqual(before);
    const ca = labCa(lab);
    for (const b of backends(lab))
      await eventually(`${b.name} serves its old certificate`, 30_000, async () => (await servedCertificate(b.address, 8080, ca)).subject.CN === b.name);
    for (const a of agents(lab)) await eventually(`${a.name} healthy`, 30_000, async () => (await agentHealthz(lab, a.name)) === 200);
  }, 300_000);

  it('trusts both CAs everywhere first, then restarts backends one at a time onto the new certificates; no agent distrusts a backend', async () => {
    const lab = getLab();
    const { inventory, ca: newCa } = await newLabPki(lab, 'two');
    const oldCa = labCa(lab);
    const marks = logMarks(lab);
    const starts = startCounts(lab);
    const t0 = Math.floor(Date.now() / 1000);
    const check = await rollout([...args(inventory), '--check', '--diff']);
    expect(check.code).toBe(5);
    expect(check.stdout).toMatch(/~ \/etc\/sensu\/tls\/ca\.pem .*\(CA bundle: the new CA, still trusting 1 certificate\(s\) of the old file\)/);
    expect(check.stdout).not.toContain('PRIVATE KEY');

    const r = await rollout([...args(inventory), '--yes'], { timeoutMs: 300_000 });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    for (const b of backends(lab)) {
      for (const port of [8080, 8081]) expect((await servedCertificate(b.address, port, newCa)).subject.CN).toBe(b.name);
      expect((await servedCertificate(b.address, 3000, newCa)).subject.CN).toBe(`${b.name} web UI`);
      await expect(servedCertificate(b.address, 8080, oldCa)).rejects.toThrow();
      expect(startCounts(lab)[b.name]).toBe((starts[b.name] ?? 0) + 1);
    }
    for (const h of lab.state.hosts) {
      const bundle = lab.readFile(h.name, '/etc/sensu/tls/ca.pem');
      expect(bundle.startsWith(newCa)).toBe(true);
      expect(bundle).toContain(oldCa.trim());
    }
    for (const a of agents(lab)) expect(await agentHealthz(lab, a.name)).toBe(200);
    expect(distrust(lab, marks)).toEqual([]);
    // status verifies every listener against the new CA and reads each agent's keepalive.
    const status = await rollout(['status', '-i', inventory, '--known-hosts', lab.knownHostsPath, '--json']);
    expect(status.code).toBe(0);
    const doc = JSON.parse(status.stdout) as { agents: { keepaliveAgeSeconds?: number }[]; backends: { dashboardCertFile: string }[] };
    for (const a of doc.agents) expect(a.keepaliveAgeSeconds).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) - t0 + 1);
    expect(doc.backends.map((b) => b.dashboardCertFile)).toEqual(['/etc/sensu/tls/backend-1-dashboard.pem', '/etc/sensu/tls/backend-2-dashboard.pem']);

    const before = await fileSnapshot(lab);
    const again = await rollout([...args(inventory), '--yes']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('no changes');
    expect(await fileSnapshot(lab)).toEqual(before);
  }, 300_000);

  it('--drop-old-ca leaves only the new CA trusted, backends one at a time; a rerun changes nothing', async () => {
    const lab = getLab();
    const inventory = join(lab.dir, 'inventory-two.yml');
    const newCa = readFileSync(join(lab.dir, 'pki-two', 'ca.pem'), 'utf8');
    const marks = logMarks(lab);
    const r = await rollout([...args(inventory), '--yes', '--drop-old-ca'], { timeoutMs: 300_000 });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    for (const h of lab.state.hosts) expect(lab.readFile(h.name, '/etc/sensu/tls/ca.pem')).toBe(newCa);
    for (const a of agents(lab)) await eventually(`${a.name} healthy`, 30_000, async () => (await agentHealthz(lab, a.name)) === 200);
    expect(distrust(lab, marks)).toEqual([]);
    const before = await fileSnapshot(lab);
    const again = await rollout([...args(inventory), '--yes', '--drop-old-ca']);
    expect(again.code).toBe(0);
    expect(await fileSnapshot(lab)).toEqual(before);
  }, 300_000);
});
