/**
 * Agent mTLS end to end on the lab (real TLS, real etcd, client certificates checked by agentd):
 * preflight refuses a client certificate whose CN is not the agent's entity name; the switch keeps
 * every agent connected (the first backend requires certificates while the others take passwords,
 * agents switch, then the other backends); a backend crashing in the mTLS wave rolls it all back
 * byte-identical, agents back on passwords; a rerun changes nothing.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { rollout } from './helpers/cli.js';
import { agentHealthz, eventually, fileSnapshot, keepaliveSeconds, labCa, startCounts } from './helpers/fleet.js';
import { useLab } from './helpers/lab-fixture.js';
import { newLabPki } from './helpers/new-pki.js';
import type { Lab } from './lab/lab.js';
import { writeLabExtraCerts, writeLabPki } from './lab/pki.js';

const getLab = useLab({ backends: 2, agents: 3, net: 50, certs: { clientCerts: true } });
const args = (inventory?: string): string[] => [
  'secure',
  '-i',
  inventory ?? getLab().inventoryPath,
  '--known-hosts',
  getLab().knownHostsPath,
  '--gate-timeout',
  '60',
];
const agents = (lab: Lab): Lab['state']['hosts'] => lab.state.hosts.filter((h) => h.role === 'agent');
const backends = (lab: Lab): Lab['state']['hosts'] => lab.state.hosts.filter((h) => h.role === 'backend');

/** What agentd answers a WebSocket upgrade with: `open`, or the HTTP status it refused with. */
function upgrade(lab: Lab, backend: string, auth: { password: true } | { cert: string }, ca = labCa(lab)): Promise<string> {
  const pem = (f: string): string => readFileSync(join(lab.dir, 'pki', f), 'utf8');
  const headers = {
    'Sensu-AgentName': 'probe',
    'Sensu-Namespace': 'default',
    ...('password' in auth ? { Authorization: `Basic ${Buffer.from('agent:P@ssw0rd!').toString('base64')}` } : {}),
  };
  const tls = 'cert' in auth ? { cert: pem(`${auth.cert}-client.pem`), key: pem(`${auth.cert}-client.key`) } : {};
  return new Promise((resolve) => {
    const ws = new WebSocket(`wss://${lab.host(backend).address}:8081/`, { ca, headers, ...tls, handshakeTimeout: 5000 });
    ws.on('open', () => {
      ws.close();
      resolve('open');
    });
    ws.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
    ws.on('error', (err) => resolve(err.message));
  });
}

/** Samples every agent's /healthz until stopped; the longest time each was not connected. */
function watchAgents(lab: Lab): { stop: () => Promise<Record<string, number>> } {
  const longest: Record<string, number> = {};
  const downSince: Record<string, number | undefined> = {};
  let running = true;
  const loop = (async () => {
    while (running) {
      await Promise.all(
        agents(lab).map(async (a) => {
          const now = Date.now();
          if ((await agentHealthz(lab, a.name)) === 200) downSince[a.name] = undefined;
          else downSince[a.name] ??= now;
          const since = downSince[a.name];
          if (since !== undefined) longest[a.name] = Math.max(longest[a.name] ?? 0, Date.now() - since);
        }),
      );
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return longest;
    },
  };
}

describe('agent mTLS', () => {
  it('preflight refuses a client certificate whose CN is not the entity name, and one missing: exit 2, nothing changed', async () => {
    const lab = getLab();
    const before = await fileSnapshot(lab);
    const inventory = join(lab.dir, 'inventory-wrong-cn.yml');
    const text = readFileSync(lab.inventoryPath, 'utf8')
      .replace(/pki\/agent-03-client\./g, 'pki-other/agent-03-client.')
      .replace('pki/agent-02-client.pem', 'pki/agent-03-client.pem')
      .replace('pki/agent-02-client.key', 'pki/agent-03-client.key')
      .replace(/ +sensu_client_cert_file: pki\/agent-01-client\.pem\n +sensu_client_key_file: pki\/agent-01-client\.key\n/, '')
      // agent-01 reads a config that dials only backend-2: it could not reach backend-1, the first to take certificates.
      .replace(/(agent-01:\n\s+ansible_host: [\d.]+\n)/, '$1          sensu_agent_config: /etc/sensu/agent-alt.yml\n');
    expect(text).toContain('sensu_agent_config: /etc/sensu/agent-alt.yml');
    await lab.exec('agent-01', '/bin/sh', ['-c', `sed 's#ws://backend-1:8081#ws://backend-2:8081#' /etc/sensu/agent.yml > /etc/sensu/agent-alt.yml`]);
    const other = await writeLabPki(join(lab.dir, 'pki-other'), [], 'some other CA');
    await writeLabExtraCerts(join(lab.dir, 'pki-other'), other.ca, [{ name: 'agent-03', address: lab.host('agent-03').address, role: 'agent' }], {
      clientCerts: true,
    });
    writeFileSync(inventory, text);
    const r = await rollout([...args(inventory), '--agent-mtls', '--check']);
    expect(r.code).toBe(2);
    const all = r.stdout + r.stderr;
    expect(all).toContain("agent-02: pki/agent-03-client.pem has CN agent-03, but the agent's entity name is agent-02");
    // A client certificate the backends would not trust: from another CA than theirs.
    expect(all).toMatch(/agent-03: pki-other\/agent-03-client\.pem is not signed by a CA in pki\/ca\.pem/);
    expect(all).toMatch(/agent-01: --agent-mtls needs sensu_client_cert_file and sensu_client_key_file/);
    expect(all).toMatch(
      /agent-01: its backend-url \(ws:\/\/backend-2:8081, ws:\/\/backend-2:8081\) does not list backend-1, the backend that takes client certificates first/,
    );
    await lab.exec('agent-01', 'rm', ['-f', '/etc/sensu/agent-alt.yml']);
    expect(all).not.toContain('PRIVATE KEY');
    expect(await fileSnapshot(lab)).toEqual(before);
  });

  it('the dry run orders it: TLS wave, first backend, agents, the other backends', async () => {
    const r = await rollout([...args(), '--agent-mtls', '--check', '--diff']);
    expect(r.code).toBe(5);
    const order = ['backends-tls', 'agents-wss', 'mtls-first-backend', 'mtls-agents', 'mtls-other-backends'].map((p) => r.stdout.indexOf(`${p} [wave`));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(r.stdout).toContain('+agent-auth-trusted-ca-file: "/etc/sensu/tls/ca.pem"');
    expect(r.stdout).toContain('+cert-file: "/etc/sensu/tls/agent-01.pem"');
    expect(r.stdout).toContain('note: no sensu_dashboard_cert_file: the web UI on 3000 serves cert-file');
    expect(r.stdout).not.toContain('PRIVATE KEY');
  });

  it('an agent that never comes back on its certificate rolls the mTLS wave back byte-identical; agents back on passwords', async () => {
    const lab = getLab();
    expect((await rollout([...args(), '--yes'])).code).toBe(0);
    const before = await fileSnapshot(lab);
    const starts = startCounts(lab)['agent-03'] ?? 0;
    lab.setFault('agent-03', 'hang-on-start', true);
    try {
      const run = rollout([...args(), '--yes', '--agent-mtls', '--gate-timeout', '20'], { timeoutMs: 400_000 });
      // Only the run's restart hangs: the rollback's restart must start it normally.
      await eventually('agent-03 restarted onto its certificate', 200_000, () => (startCounts(lab)['agent-03'] ?? 0) > starts);
      // The fault is read as the service starts; give it that moment before switching it off.
      await new Promise((r) => setTimeout(r, 5000));
      lab.setFault('agent-03', 'hang-on-start', false);
      const r = await run;
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/agent-03: Agent connected with its certificate: health gate failed/);
      // By then the first backend required certificates and the other agents presented theirs.
      expect(r.stdout).toMatch(/backend-1\s+backend\s+rolled back/);
      expect(r.stdout).toMatch(/agent-01\s+agent\s+rolled back/);
    } finally {
      lab.setFault('agent-03', 'hang-on-start', false);
    }
    expect(await fileSnapshot(lab)).toEqual(before);
    for (const a of agents(lab)) await eventually(`${a.name} healthy`, 60_000, async () => (await agentHealthz(lab, a.name)) === 200);
    for (const b of backends(lab)) expect(await upgrade(lab, b.name, { password: true })).toBe('open');
  }, 400_000);

  it('switches every agent to its client certificate without locking any out; backends then refuse passwords', async () => {
    const lab = getLab();
    const t0 = Math.floor(Date.now() / 1000);
    const watch = watchAgents(lab);
    const r = await rollout([...args(), '--yes', '--agent-mtls'], { timeoutMs: 400_000 });
    const outage = await watch.stop();
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    for (const b of backends(lab)) {
      const cfg = lab.readFile(b.name, '/etc/sensu/backend.yml');
      expect(cfg).toContain(`agent-auth-cert-file: "/etc/sensu/tls/${b.name}.pem"`);
      expect(cfg).toContain('agent-auth-trusted-ca-file: "/etc/sensu/tls/ca.pem"');
      expect(await upgrade(lab, b.name, { password: true })).toBe('401');
      expect(await upgrade(lab, b.name, { cert: 'agent-01' })).toBe('open');
    }
    for (const a of agents(lab)) {
      expect(lab.readFile(a.name, '/etc/sensu/agent.yml')).toContain(`cert-file: "/etc/sensu/tls/${a.name}.pem"`);
      expect((await lab.exec(a.name, 'stat', ['-c', '%a %U', `/etc/sensu/tls/${a.name}.key`])).stdout.trim()).toBe('440 root');
      expect(await agentHealthz(lab, a.name)).toBe(200);
      expect(await keepaliveSeconds(lab, 'backend-1', a.name, 'https')).toBeGreaterThanOrEqual(t0 - 1);
      // Down only for its own restart and failover, never for a whole backend switch.
      expect(outage[a.name] ?? 0).toBeLessThan(15_000);
    }
    console.log(`longest time each agent was disconnected during the mTLS switch (ms): ${JSON.stringify(outage)}`);
    const status = await rollout(['status', '-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^backend-1 +agent +\S+ +TLS \+ client certs +backend-1 /m);
    expect(status.stdout).toMatch(/^agent-02 +wss:\/\/ +yes +\d+ s ago +secured +client cert$/m);
  }, 400_000);

  it('a second run changes nothing and restarts nothing', async () => {
    const lab = getLab();
    const before = await fileSnapshot(lab);
    const starts = startCounts(lab);
    const r = await rollout([...args(), '--yes', '--agent-mtls']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no changes');
    expect(await fileSnapshot(lab)).toEqual(before);
    expect(startCounts(lab)).toEqual(starts);
  });

  it('a CA rotation with --agent-mtls: backends trust both CAs before agents present client certificates of the new one', async () => {
    const lab = getLab();
    const { inventory, ca: newCa } = await newLabPki(lab, 'two');
    const rotate = [...args(inventory), '--yes', '--agent-mtls'];
    const r = await rollout(rotate, { timeoutMs: 400_000 });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    for (const h of lab.state.hosts) expect(lab.readFile(h.name, '/etc/sensu/tls/ca.pem').startsWith(newCa)).toBe(true);
    for (const a of agents(lab)) expect(await agentHealthz(lab, a.name)).toBe(200);
    const before = await fileSnapshot(lab);
    const again = await rollout(rotate);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('no changes');
    expect(await fileSnapshot(lab)).toEqual(before);
    // Dropping the old CA: backends then refuse a client certificate of the old one.
    const drop = await rollout([...rotate, '--drop-old-ca'], { timeoutMs: 400_000 });
    expect(drop.code).toBe(0);
    for (const a of agents(lab)) await eventually(`${a.name} healthy`, 60_000, async () => (await agentHealthz(lab, a.name)) === 200);
    expect(await upgrade(lab, 'backend-2', { cert: 'agent-01' }, newCa)).toBe('401');
  }, 400_000);
});
