/**
 * `rollout secure` end to end on the lab: the dry run changes nothing and shows every change; the
 * real run leaves every backend serving TLS with its own certificate and every agent on wss://
 * with a fresh keepalive, comments kept; a second run changes and restarts nothing.
 */
import { describe, expect, it } from 'vitest';
import { rollout } from './helpers/cli.js';
import { agentHealthz, eventually, fileSnapshot, keepaliveSeconds, labCa, servedCertificate, startCounts } from './helpers/fleet.js';
import { useLab } from './helpers/lab-fixture.js';

const getLab = useLab({ backends: 3, agents: 5, net: 43 });
const args = (): string[] => ['secure', '-i', getLab().inventoryPath, '--known-hosts', getLab().knownHostsPath];

describe('rollout secure', () => {
  it('--check --diff lists every intended change, touches nothing, restarts nothing, exits 5', async () => {
    const lab = getLab();
    const before = await fileSnapshot(lab);
    const starts = startCounts(lab);
    const r = await rollout([...args(), '--check', '--diff']);
    expect(r.code).toBe(5);
    expect(r.stdout).toContain('-api-url: "http://127.43.0.1:8080"');
    expect(r.stdout).toContain('+api-url: "https://127.43.0.1:8080"');
    expect(r.stdout).toContain('+cert-file: "/etc/sensu/tls/backend-1.pem"');
    expect(r.stdout).toContain('+  - "wss://backend-3:8081"');
    // Hosts whose change differs only by their own name and address share one diff.
    expect(r.stdout).toContain(
      '  ── backend-1 and 2 more, the same change with their own name and address:\n     backend-2, backend-3\n    --- backend-1:/etc/sensu/backend.yml',
    );
    expect(r.stdout).toContain(
      '  ── agent-01 and 4 more, the same change with their own name and address:\n     agent-02, agent-03, agent-04, agent-05\n    --- agent-01:/etc/sensu/agent.yml',
    );
    expect(r.stdout.match(/^ {4}--- agent-\d+:\/etc\/sensu\/agent\.yml$/gm)).toHaveLength(1);
    // Each backend's own certificate differs: its upload is shown on its own.
    for (const b of ['backend-1', 'backend-2', 'backend-3']) expect(r.stdout).toContain(`  ── ${b}\n    + /etc/sensu/tls/  0750 root:sensu`);
    expect(r.stdout).toMatch(/\+ \/etc\/sensu\/tls\/backend-1\.key {2}sha256 [0-9a-f]{8}… {2}private key \(content never shown\) {2}0440 root:sensu/);
    expect(r.stdout).toMatch(/\+ \/etc\/sensu\/tls\/backend-1\.pem .*CN=backend-1 .*expires \d{4}-\d\d-\d\d {2}0640 root:sensu/);
    expect(r.stdout).toContain('8 host(s), 8 to change');
    expect(r.stdout).not.toContain('PRIVATE KEY');
    expect(r.stdout + r.stderr).not.toContain(lab.state.admin?.password ?? '-');
    expect(await fileSnapshot(lab)).toEqual(before);
    expect(startCounts(lab)).toEqual(starts);
  });

  it('--json prints the plan as one document without secrets', async () => {
    const lab = getLab();
    const r = await rollout([...args(), '--check', '--json']);
    expect(r.code).toBe(5);
    const doc = JSON.parse(r.stdout) as { plan: { changes: number; changedHosts: string[] } };
    expect(doc.plan.changedHosts).toHaveLength(8);
    expect(r.stdout).not.toContain('PRIVATE KEY');
    expect(r.stdout).not.toContain(lab.state.admin?.password ?? '-');
  });

  it('refuses to change anything without a terminal or --yes', async () => {
    const lab = getLab();
    const before = await fileSnapshot(lab);
    const r = await rollout(args());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--yes/);
    expect(await fileSnapshot(lab)).toEqual(before);
  });

  it("secures the fleet: TLS on 8080 and 8081 with each backend's own certificate, agents on wss:// with a fresh keepalive", async () => {
    const lab = getLab();
    const t0 = Math.floor(Date.now() / 1000);
    const r = await rollout([...args(), '--yes']);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('changed=8');
    const ca = labCa(lab);
    for (const b of lab.state.hosts.filter((h) => h.role === 'backend')) {
      for (const port of [8080, 8081]) {
        const cert = await servedCertificate(b.address, port, ca);
        expect(cert.subject.CN).toBe(b.name);
      }
      const cfg = lab.readFile(b.name, '/etc/sensu/backend.yml');
      expect(cfg).toContain(`cert-file: "/etc/sensu/tls/${b.name}.pem"`);
      expect(cfg).toContain('# backend api configuration');
      expect(cfg).toContain('labels: {environment: lab, team: ops}');
      const key = await lab.exec(b.name, 'stat', ['-c', '%a %U', `/etc/sensu/tls/${b.name}.key`]);
      expect(key.stdout.trim()).toBe('440 root');
    }
    for (const a of lab.state.hosts.filter((h) => h.role === 'agent')) {
      const cfg = lab.readFile(a.name, '/etc/sensu/agent.yml');
      expect(cfg).toContain('"wss://backend-1:8081"');
      expect(cfg).not.toContain('ws://');
      expect(cfg).toContain('# the backends this agent connects to');
      expect(cfg).toContain('subscriptions: [linux, lab]');
      expect(await agentHealthz(lab, a.name)).toBe(200);
      const seen = await keepaliveSeconds(lab, 'backend-1', a.name, 'https');
      expect(seen).toBeGreaterThanOrEqual(t0 - 1);
      // The agent's log shows it connected over TLS, not the cut-off error.
      await eventually(
        `${a.name} logged no new 400`,
        5000,
        () => !lab.readFile(a.name, '/var/log/sensu/sensu-agent.log').split('\n').slice(-3).join('').includes('status 400'),
      );
    }
  });

  it('a second run plans nothing, changes nothing, restarts nothing, exits 0', async () => {
    const lab = getLab();
    const before = await fileSnapshot(lab);
    const starts = startCounts(lab);
    const check = await rollout([...args(), '--check']);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('no changes: the fleet is already secured');
    const r = await rollout([...args(), '--yes']);
    expect(r.code).toBe(0);
    expect(await fileSnapshot(lab)).toEqual(before);
    expect(startCounts(lab)).toEqual(starts);
  });
});
