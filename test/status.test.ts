/**
 * `rollout status` on the lab: before securing it reports plain listeners and ws:// agents and
 * exits 5; after `rollout secure` every backend serves TLS with its own certificate (CN, expiry,
 * verified against the inventory CA) and every agent is connected over wss:// with a fresh
 * keepalive, exit 0. Read-only: nothing on the hosts changes, nothing restarts.
 */
import { describe, expect, it } from 'vitest';
import { rollout } from './helpers/cli.js';
import { credentialedRequests, fileSnapshot, startCounts } from './helpers/fleet.js';
import { useLab } from './helpers/lab-fixture.js';

const getLab = useLab({ backends: 2, agents: 2, net: 47 });
const fleetArgs = (): string[] => ['-i', getLab().inventoryPath, '--known-hosts', getLab().knownHostsPath];

interface StatusJson {
  secured: boolean;
  backends: {
    host: string;
    secured: boolean;
    api: { port: number; probe: { kind: string; cn?: string; daysLeft?: number; authorized?: boolean } };
    agentPort: { port: number; probe: { kind: string; cn?: string } };
    dashboard: { probe: { kind: string } };
  }[];
  agents: { host: string; secured: boolean; schemes: string[]; healthy: boolean; keepaliveAgeSeconds?: number }[];
}

describe('rollout status', () => {
  it('before securing: plain listeners, ws:// agents, exit 5, nothing touched', async () => {
    const lab = getLab();
    const before = await fileSnapshot(lab);
    const starts = startCounts(lab);
    const r = await rollout(['status', ...fleetArgs()]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/^backend-1 +api +127\.47\.0\.1:8080 +plain/m);
    expect(r.stdout).toMatch(/^backend-2 +agent +127\.47\.0\.2:8081 +plain/m);
    expect(r.stdout).toMatch(/^agent-01 +ws:\/\/ +yes/m);
    expect(r.stdout).toContain('not secured: 2 of 2 backend(s), 2 of 2 agent(s)');
    expect(r.stdout + r.stderr).not.toContain(lab.state.admin?.password ?? '-');
    const json = await rollout(['status', ...fleetArgs(), '--json']);
    expect(json.code).toBe(5);
    const doc = JSON.parse(json.stdout) as StatusJson;
    expect(doc.secured).toBe(false);
    expect(doc.backends.map((b) => b.api.probe.kind)).toEqual(['plain', 'plain']);
    expect(doc.agents.map((a) => a.schemes)).toEqual([['ws'], ['ws']]);
    // The API is plain http: the keepalive stays unknown rather than the credentials sent in the clear.
    expect(doc.agents.every((a) => a.healthy && a.keepaliveAgeSeconds === undefined)).toBe(true);
    expect(r.stdout).toContain('unknown (API not on verified TLS: credentials not sent)');
    expect(credentialedRequests(lab)).toEqual([]);
    expect(await fileSnapshot(lab)).toEqual(before);
    expect(startCounts(lab)).toEqual(starts);
  });

  it('after rollout secure: TLS with CN and days left, verified; agents on wss:// with fresh keepalives; exit 0', async () => {
    const lab = getLab();
    const secure = await rollout(['secure', ...fleetArgs(), '--yes']);
    expect(secure.code).toBe(0);
    const r = await rollout(['status', ...fleetArgs()]);
    expect(r.code).toBe(0);
    for (const b of ['backend-1', 'backend-2']) {
      for (const listener of ['api', 'agent']) {
        expect(r.stdout).toMatch(new RegExp(`^${b} +${listener} +\\S+ +TLS +${b} +\\d{4}-\\d\\d-\\d\\d +3(6[0-5]|[0-5]\\d) +yes`, 'm'));
      }
    }
    expect(r.stdout).toMatch(/^agent-02 +wss:\/\/ +yes +\d+ s ago +secured/m);
    expect(r.stdout).toContain('secured: 2 backend(s) serve verified TLS');
    expect(r.stdout + r.stderr).not.toContain(lab.state.admin?.password ?? '-');

    const requestsBefore = credentialedRequests(lab).length;
    const json = await rollout(['status', ...fleetArgs(), '--json']);
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout) as StatusJson;
    expect(doc.secured).toBe(true);
    // Keepalive ages come from one entity listing per namespace, not a request per agent.
    const statusReads = credentialedRequests(lab)
      .slice(requestsBefore)
      .map((q) => q.path);
    expect(statusReads.filter((p) => p.includes('/events/'))).toEqual([]);
    expect(statusReads.filter((p) => p.endsWith('/entities'))).toHaveLength(1);
    for (const b of doc.backends) {
      expect(b.api.probe).toMatchObject({ kind: 'tls', cn: b.host, authorized: true });
      expect(b.api.probe.daysLeft).toBeGreaterThan(300);
      expect(b.agentPort.probe).toMatchObject({ kind: 'tls', cn: b.host });
    }
    for (const a of doc.agents) {
      expect(a).toMatchObject({ schemes: ['wss'], healthy: true, secured: true });
      expect(a.keepaliveAgeSeconds).toBeLessThan(120);
    }
    // The secure run's gates and this status read keepalives with credentials: over TLS only.
    const sent = credentialedRequests(lab);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.filter((s) => !s.tls)).toEqual([]);
  });
});
