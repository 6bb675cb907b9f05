/**
 * The sensu-agent stand-in against real stand-in backends on 127.77.1.x: the ws:// → wss:// switch
 * a rollout performs, the errors a failing agent logs (Go's texts), /healthz, keepalives visible
 * through the backend API, agent mTLS, and the agent's own startup failures and faults.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { buildStandins } from './lab/sensu/build.js';
import { issue, makeCa } from './lab/sensu/test-pki.js';
import type { CertFiles } from './lab/sensu/test-pki.js';
import { request, startStandin, waitFor } from './lab/sensu/test-process.js';
import type { LogLine, StandinProcess } from './lab/sensu/test-process.js';

const NET = '127.77.1';
const TLS_BACKEND = `${NET}.1`;
const PLAIN_BACKEND = `${NET}.2`;
const MTLS_BACKEND = `${NET}.3`;
const NO_IP_SAN_SERVER = `${NET}.4`;
const ADMIN = { username: 'admin', password: 'agent-test-admin' };

let dir = '';
let bins = { backend: '', agent: '' };
let ca: CertFiles;
let caPem = '';
const procs: StandinProcess[] = [];
const servers: tls.Server[] = [];
let agentSeq = 10;

function yaml(values: Record<string, unknown>): string {
  return `${Object.entries(values)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join('\n')}\n`;
}

function startBackend(name: string, addr: string, extra: Record<string, unknown> = {}): StandinProcess {
  const path = join(dir, `${name}.yml`);
  writeFileSync(
    path,
    yaml({
      'state-dir': join(dir, 'state', name),
      'log-level': 'info',
      'api-listen-address': `${addr}:8080`,
      'agent-host': addr,
      'agent-port': 8081,
      'dashboard-host': addr,
      'dashboard-port': 3000,
      'etcd-name': name,
      'etcd-listen-client-urls': `http://${addr}:2379`,
      'etcd-advertise-client-urls': `http://${addr}:2379`,
      'etcd-listen-peer-urls': `http://${addr}:2380`,
      'etcd-initial-advertise-peer-urls': `http://${addr}:2380`,
      'etcd-initial-cluster': `${name}=http://${addr}:2380`,
      ...extra,
    }),
  );
  const p = startStandin(bins.backend, ['start', '-c', path], {
    SENSU_BACKEND_CLUSTER_ADMIN_USERNAME: ADMIN.username,
    SENSU_BACKEND_CLUSTER_ADMIN_PASSWORD: ADMIN.password,
  });
  procs.push(p);
  return p;
}

interface Agent {
  proc: StandinProcess;
  api: string;
  configPath: string;
}

/** Starts an agent with its API on its own address; `env` overrides like an EnvironmentFile. */
function startAgent(name: string, config: Record<string, unknown>, env: Record<string, string> = {}, reuse?: Agent): Agent {
  const api = reuse ? new URL(reuse.api).hostname : `${NET}.${agentSeq++}`;
  const configPath = reuse?.configPath ?? join(dir, `${name}.yml`);
  writeFileSync(configPath, yaml({ name, 'api-host': api, 'api-port': 3031, 'keepalive-interval': 2, 'retry-min': '200ms', 'retry-max': '1s', ...config }));
  const proc = startStandin(bins.agent, ['start', '-c', configPath], env);
  procs.push(proc);
  return { proc, api: `http://${api}:3031`, configPath };
}

const failures = (p: StandinProcess): LogLine[] => p.lines().filter((l) => l.msg === 'reconnection attempt failed');

async function firstFailure(a: Agent): Promise<string> {
  const line = await a.proc.waitForLine((l) => l.msg === 'reconnection attempt failed', 15_000);
  return String(line.error);
}

async function healthz(a: Agent): Promise<{ status: number; body: string }> {
  const r = await request(`${a.api}/healthz`);
  return { status: r.status, body: r.body };
}

async function token(addr: string): Promise<string> {
  const basic = `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`;
  const res = await request(`https://${addr}:8080/auth`, { ca: caPem, headers: { Authorization: basic } });
  return (JSON.parse(res.body) as { access_token: string }).access_token;
}

const isRunning = (l: LogLine): boolean => l.msg === 'backend is running and ready to accept events';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'standin-agent-'));
  bins = await buildStandins(join(dir, 'bin'));
  const pki = join(dir, 'pki');
  mkdirSync(pki);
  ca = makeCa(pki, 'lab-ca');
  caPem = readFileSync(ca.cert, 'utf8');
  const b1 = issue(ca, pki, 'backend-1', { cn: 'backend-1', dns: ['localhost', 'backend-1'], ips: [TLS_BACKEND] });
  const b3 = issue(ca, pki, 'backend-3', { cn: 'backend-3', dns: ['localhost', 'backend-3'], ips: [MTLS_BACKEND] });
  const noIp = issue(ca, pki, 'no-ip-san', { cn: NO_IP_SAN_SERVER, dns: ['localhost', 'backend-4'] });
  issue(ca, pki, 'agent-mtls', { cn: 'agent-mtls', usage: 'client' });

  const backends = [
    startBackend('backend-1', TLS_BACKEND, { 'cert-file': b1.cert, 'key-file': b1.key, 'trusted-ca-file': ca.cert }),
    startBackend('backend-2', PLAIN_BACKEND),
    startBackend('backend-3', MTLS_BACKEND, { 'cert-file': b3.cert, 'key-file': b3.key, 'agent-auth-trusted-ca-file': ca.cert }),
  ];
  // A TLS server whose certificate has no IP SAN, for the IP-URL verification error.
  const server = tls.createServer({ cert: readFileSync(noIp.cert), key: readFileSync(noIp.key) }, (s) => s.end());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(8081, NO_IP_SAN_SERVER, resolve));
  await Promise.all(backends.map((b) => b.waitForLine(isRunning, 60_000)));
}, 90_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  for (const s of servers) s.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('switching an agent from ws:// to wss://', () => {
  let agent: Agent;

  it('ws:// against a TLS backend fails with the 400 text and /healthz says unavailable', async () => {
    agent = startAgent('agent-1', { 'backend-url': [`ws://${TLS_BACKEND}:8081`] });
    expect(await firstFailure(agent)).toBe('handshake failed with status 400: Client sent an HTTP request to an HTTPS server.\n');
    expect(await healthz(agent)).toEqual({ status: 503, body: 'sensu backend unavailable' });
    const line = failures(agent.proc)[0];
    expect(Object.keys(line ?? {})).toEqual(['component', 'error', 'level', 'msg', 'time']);
    expect(line).toMatchObject({ component: 'agent', level: 'error' });
  });

  it('wss:// with the CA connects, and its keepalive is readable through the API', async () => {
    await agent.proc.stop();
    const started = Math.floor(Date.now() / 1000);
    agent = startAgent('agent-1', { 'backend-url': `wss://${TLS_BACKEND}`, 'trusted-ca-file': ca.cert }, {}, agent);
    await waitFor(
      async () => (await healthz(agent)).status === 200,
      15_000,
      () => agent.proc.output,
    );
    expect(await healthz(agent)).toEqual({ status: 200, body: 'ok' });
    expect(agent.proc.lines().find((l) => l.msg === 'successfully connected')).toMatchObject({
      'backend-url': `wss://${TLS_BACKEND}:8081`,
      'backend-id': 'backend-1',
    });

    const auth = { Authorization: `Bearer ${await token(TLS_BACKEND)}` };
    let event: { timestamp: number; check: { status: number; output: string; executed: number }; entity: { metadata: { name: string } } } | undefined;
    await waitFor(async () => {
      const res = await request(`https://${TLS_BACKEND}:8080/api/core/v2/namespaces/default/events/agent-1/keepalive`, { ca: caPem, headers: auth });
      if (res.status !== 200) return false;
      event = JSON.parse(res.body) as typeof event;
      return (event?.timestamp ?? 0) >= started;
    }, 10_000);
    expect(event?.check.status).toBe(0);
    expect(event?.check.output).toMatch(/^Keepalive last sent from agent-1 at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \S+$/);
    expect(event?.entity.metadata.name).toBe('agent-1');
    const entity = JSON.parse(
      (await request(`https://${TLS_BACKEND}:8080/api/core/v2/namespaces/default/entities/agent-1`, { ca: caPem, headers: auth })).body,
    ) as { last_seen: number };
    expect(entity.last_seen).toBeGreaterThanOrEqual(started);
  });

  it('goes unhealthy when the backend stops and reconnects when it is back', async () => {
    const backend = procs.find((p) => p.output.includes('"etcd_name":"backend-1"'));
    await backend?.stop();
    await waitFor(async () => (await healthz(agent)).status === 503, 10_000);
    const again = startBackend('backend-1', TLS_BACKEND, {
      'cert-file': join(dir, 'pki', 'backend-1.pem'),
      'key-file': join(dir, 'pki', 'backend-1-key.pem'),
      'trusted-ca-file': ca.cert,
    });
    await again.waitForLine(isRunning, 30_000);
    await waitFor(
      async () => (await healthz(agent)).status === 200,
      15_000,
      () => agent.proc.output,
    );
    agent.proc.signal('SIGTERM');
    expect((await agent.proc.exited).code).toBe(0);
  });
});

describe('what a failing agent logs', () => {
  it('wss:// without the CA: unknown authority', async () => {
    const a = startAgent('agent-2', { 'backend-url': [`wss://${TLS_BACKEND}:8081`] });
    expect(await firstFailure(a)).toBe('tls: failed to verify certificate: x509: certificate signed by unknown authority');
    await a.proc.stop();
  });

  it('wss:// to a plain backend: first record is not TLS', async () => {
    const a = startAgent('agent-3', { 'backend-url': [`wss://${PLAIN_BACKEND}:8081`], 'trusted-ca-file': ca.cert });
    expect(await firstFailure(a)).toBe('tls: first record does not look like a TLS handshake');
    await a.proc.stop();
  });

  it('an IP URL and a certificate without IP SANs', async () => {
    const a = startAgent('agent-4', { 'backend-url': [`wss://${NO_IP_SAN_SERVER}:8081`], 'trusted-ca-file': ca.cert });
    expect(await firstFailure(a)).toBe(
      `tls: failed to verify certificate: x509: cannot validate certificate for ${NO_IP_SAN_SERVER} because it doesn't contain any IP SANs`,
    );
    await a.proc.stop();
  });

  it('an unreadable trusted-ca-file breaks ws:// too', async () => {
    const missing = join(dir, 'pki', 'missing-ca.pem');
    const a = startAgent('agent-5', { 'backend-url': [`ws://${PLAIN_BACKEND}:8081`] }, { SENSU_TRUSTED_CA_FILE: missing });
    expect(await firstFailure(a)).toBe(`Error reading CA file: open ${missing}: no such file or directory`);
    expect((await healthz(a)).status).toBe(503);
    await a.proc.stop();
  });

  it('connection refused', async () => {
    const a = startAgent('agent-8', { 'backend-url': [`ws://${NET}.99:8081`] });
    expect(await firstFailure(a)).toBe(`dial tcp ${NET}.99:8081: connect: connection refused`);
    await a.proc.stop();
  });

  it('a space-separated SENSU_BACKEND_URL list with one dead backend still connects', async () => {
    const refused = `ws://${NET}.99:8081`;
    const a = startAgent('agent-6', {}, { SENSU_BACKEND_URL: `${refused} ws://${PLAIN_BACKEND}` });
    await waitFor(
      async () => (await healthz(a)).status === 200,
      15_000,
      () => a.proc.output,
    );
    const errors = failures(a.proc).map((l) => l.error);
    for (const e of errors) expect(e).toBe(`dial tcp ${NET}.99:8081: connect: connection refused`);
    await a.proc.stop();
  });

  it('a wrong password: 401 with the body', async () => {
    const a = startAgent('agent-7', { 'backend-url': [`ws://${PLAIN_BACKEND}:8081`], password: 'not-it' });
    expect(await firstFailure(a)).toBe('handshake failed with status 401: bad credentials\n');
    await a.proc.stop();
  });
});

describe('agent mTLS', () => {
  it('authenticates with a client certificate and no password', async () => {
    const pki = join(dir, 'pki');
    const a = startAgent('agent-mtls', {
      'backend-url': [`wss://${MTLS_BACKEND}:8081`],
      'trusted-ca-file': ca.cert,
      'cert-file': join(pki, 'agent-mtls.pem'),
      'key-file': join(pki, 'agent-mtls-key.pem'),
      password: 'wrong-on-purpose',
      // The certificate's CN names the entity, whatever the config says.
      name: 'configured-name',
    });
    await waitFor(
      async () => (await healthz(a)).status === 200,
      15_000,
      () => a.proc.output,
    );
    const auth = { Authorization: `Bearer ${await token(MTLS_BACKEND)}` };
    await waitFor(
      async () =>
        (await request(`https://${MTLS_BACKEND}:8080/api/core/v2/namespaces/default/entities/agent-mtls`, { ca: caPem, headers: auth })).status === 200,
      10_000,
    );
    await a.proc.stop();
  });

  it('is refused without a client certificate', async () => {
    const a = startAgent('agent-no-cert', { 'backend-url': [`wss://${MTLS_BACKEND}:8081`], 'trusted-ca-file': ca.cert });
    expect(await firstFailure(a)).toBe('handshake failed with status 401: missing credentials\n');
    await a.proc.stop();
  });
});

describe('agent startup', () => {
  it('refuses a backend URL that is not ws:// or wss://', async () => {
    const a = startAgent('agent-bad-url', { 'backend-url': `https://${TLS_BACKEND}` });
    expect((await a.proc.exited).code).toBe(1);
    const fatals = a.proc.lines().filter((l) => l.level === 'fatal');
    expect(fatals).toHaveLength(1);
    expect(fatals[0]).toMatchObject({
      component: 'agent',
      msg: 'error executing sensu-agent',
      error: `backend URL (https://${TLS_BACKEND}:8081) must have ws:// or wss:// scheme`,
    });
  });

  it('lab faults crash-on-start and hang-on-start', async () => {
    const lab = join(dir, 'lab-agent');
    mkdirSync(join(lab, 'faults'), { recursive: true });
    writeFileSync(join(lab, 'faults', 'crash-on-start'), '');
    const crash = startAgent('agent-crash', { 'backend-url': [`ws://${PLAIN_BACKEND}:8081`] }, { SENSU_LAB_DIR: lab });
    expect((await crash.proc.exited).code).toBe(1);
    rmSync(join(lab, 'faults', 'crash-on-start'));
    writeFileSync(join(lab, 'faults', 'hang-on-start'), '');
    const hang = startAgent('agent-hang', { 'backend-url': [`ws://${PLAIN_BACKEND}:8081`] }, { SENSU_LAB_DIR: lab });
    await new Promise((r) => setTimeout(r, 1000));
    expect(hang.proc.running).toBe(true);
    await expect(request(`${hang.api}/healthz`, { timeoutMs: 2000 })).rejects.toThrow(/ECONNREFUSED/);
    await hang.proc.stop();
  });
});
