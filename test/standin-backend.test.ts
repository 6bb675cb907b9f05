/**
 * The sensu-backend stand-in, run for real: three backends with a real 3-member etcd cluster on
 * 127.77.0.1–3, TLS on the API and agent ports with openssl-made certificates, and single
 * backends on 127.77.0.2x for startup failures and lab faults.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { WebSocket } from 'ws';
import { buildStandins } from './lab/sensu/build.js';
import { issue, makeCa } from './lab/sensu/test-pki.js';
import type { CertFiles } from './lab/sensu/test-pki.js';
import { request, startStandin, waitFor } from './lab/sensu/test-process.js';
import type { LogLine, StandinProcess } from './lab/sensu/test-process.js';
import { PLAIN_ON_TLS_REPLY } from './lab/sensu/tls-port.js';

const NET = '127.77.0';
const ADMIN = { username: 'admin', password: 'lab-admin-pw', apiKey: '4fd1a7a2-61c6-4be5-9a54-2f4a3f1b9c10' };

let dir = '';
let backendBin = '';
let ca: CertFiles;
let caPem = '';
const certs = new Map<string, CertFiles>();
const procs: StandinProcess[] = [];
const cluster = new Map<number, StandinProcess>();

function backendYaml(addr: string, name: string, extra: Record<string, string | number | boolean> = {}, initialCluster?: string): string {
  const base: Record<string, string | number | boolean> = {
    'state-dir': join(dir, 'state', name),
    'log-level': 'info',
    'api-listen-address': `${addr}:8080`,
    'api-url': `https://${addr}:8080`,
    'agent-host': addr,
    'agent-port': 8081,
    'dashboard-host': addr,
    'dashboard-port': 3000,
    'etcd-name': name,
    'etcd-listen-client-urls': `http://${addr}:2379`,
    'etcd-advertise-client-urls': `http://${addr}:2379`,
    'etcd-listen-peer-urls': `http://${addr}:2380`,
    'etcd-initial-advertise-peer-urls': `http://${addr}:2380`,
    'etcd-initial-cluster': initialCluster ?? `${name}=http://${addr}:2380`,
    'etcd-initial-cluster-state': 'new',
    'etcd-initial-cluster-token': 'standin-test',
    ...extra,
  };
  return `${Object.entries(base)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join('\n')}\n`;
}

function startBackend(name: string, yaml: string, env: Record<string, string> = {}): StandinProcess {
  const path = join(dir, `${name}.yml`);
  writeFileSync(path, yaml);
  const p = startStandin(backendBin, ['start', '-c', path], {
    SENSU_BACKEND_CLUSTER_ADMIN_USERNAME: ADMIN.username,
    SENSU_BACKEND_CLUSTER_ADMIN_PASSWORD: ADMIN.password,
    SENSU_BACKEND_CLUSTER_ADMIN_API_KEY: ADMIN.apiKey,
    ...env,
  });
  procs.push(p);
  return p;
}

const isRunningLine = (l: LogLine): boolean => l.msg === 'backend is running and ready to accept events';

function tlsFiles(n: number): Record<string, string> {
  const c = certs.get(`backend-${n}`) as CertFiles;
  return { 'cert-file': c.cert, 'key-file': c.key, 'trusted-ca-file': ca.cert };
}

const clusterSpec = [1, 2, 3].map((n) => `backend-${n}=http://${NET}.${n}:2380`).join(',');

function startClusterMember(n: number): StandinProcess {
  const p = startBackend(`backend-${n}`, backendYaml(`${NET}.${n}`, `backend-${n}`, tlsFiles(n), clusterSpec));
  cluster.set(n, p);
  return p;
}

/** Raw bytes a server sends back to `payload` until it closes the connection. */
function rawExchange(host: string, port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port }, () => s.write(payload));
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
  });
}

/** The uint64 fields of a /health body, read from the raw text (JSON.parse would round them). */
function rawIds(body: string): { id: bigint; hex: string }[] {
  return [...body.matchAll(/"MemberID":(\d+),"MemberIDHex":"([0-9a-f]+)"/g)].map((m) => ({ id: BigInt(m[1] ?? '0'), hex: m[2] ?? '' }));
}

interface Health {
  Alarms: unknown;
  ClusterHealth: { MemberID: number; MemberIDHex: string; Name: string; Err: string; Healthy: boolean }[];
  Header: Record<string, number> | null;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'standin-backend-'));
  ({ backend: backendBin } = await buildStandins(join(dir, 'bin')));
  const pki = join(dir, 'pki');
  mkdirSync(pki);
  ca = makeCa(pki, 'lab-ca');
  caPem = readFileSync(ca.cert, 'utf8');
  for (const n of [1, 2, 3, 21]) {
    certs.set(`backend-${n}`, issue(ca, pki, `backend-${n}`, { cn: `backend-${n}`, dns: ['localhost', `backend-${n}`], ips: [`${NET}.${n}`, '127.0.0.1'] }));
  }
  for (const n of [1, 2, 3]) startClusterMember(n);
  await Promise.all([...cluster.values()].map((p) => p.waitForLine(isRunningLine, 60_000)));
}, 90_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the command line', () => {
  it('`start --help` prints help and starts nothing (it used to start on every default address)', () => {
    const r = spawnSync(process.execPath, [backendBin, 'start', '--help'], { timeout: 10_000, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage:');
    expect(r.stdout + r.stderr).not.toContain('starting apid');
  });
});

describe('three backends with TLS', () => {
  it('form an etcd cluster that /health reports healthy on 8080 and 8081', async () => {
    for (const n of [1, 2, 3]) {
      for (const port of [8080, 8081]) {
        const res = await request(`https://${NET}.${n}:${port}/health`, { ca: caPem });
        expect(res.status).toBe(200);
        const health = JSON.parse(res.body) as Health;
        expect(health.ClusterHealth.map((m) => m.Name)).toEqual(['backend-1', 'backend-2', 'backend-3']);
        expect(health.ClusterHealth.every((m) => m.Healthy && m.Err === '')).toBe(true);
        expect(health.Alarms).toBeNull();
        expect(Object.keys(health.Header ?? {})).toEqual(expect.arrayContaining(['cluster_id', 'member_id', 'raft_term']));
        for (const { id, hex } of rawIds(res.body)) expect(hex).toBe(id.toString(16));
      }
    }
  });

  it('serves the backend certificate on 8080, 8081 and 3000, TLS 1.2 at least', async () => {
    for (const port of [8080, 8081, 3000]) {
      const peer = await new Promise<tls.PeerCertificate>((resolve, reject) => {
        const s = tls.connect({ host: `${NET}.2`, port, ca: caPem }, () => {
          resolve(s.getPeerCertificate());
          s.end();
        });
        s.on('error', reject);
      });
      expect(peer.subject.CN).toBe('backend-2');
      expect(peer.subjectaltname).toContain(`IP Address:${NET}.2`);
    }
    const old = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: `${NET}.2`, port: 8080, ca: caPem, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }, () => resolve('connected'));
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    expect(old).not.toBe('connected');
  });

  it("answers plain HTTP on a TLS port with Go's 400", async () => {
    for (const port of [8080, 8081, 3000]) {
      const reply = await rawExchange(`${NET}.1`, port, `GET /health HTTP/1.1\r\nHost: ${NET}.1:${port}\r\n\r\n`);
      expect(reply).toBe(PLAIN_ON_TLS_REPLY);
    }
    const viaHttp = await request(`http://${NET}.1:8080/health`);
    expect(viaHttp.status).toBe(400);
    expect(viaHttp.body).toBe('Client sent an HTTP request to an HTTPS server.\n');
  });

  it('answers /ready, /version and rejects a bad /health timeout', async () => {
    const ready = await request(`https://${NET}.3:8081/ready`, { ca: caPem });
    expect([ready.status, ready.body]).toEqual([200, 'ready\n']);
    const version = JSON.parse((await request(`https://${NET}.3:8080/version`, { ca: caPem })).body) as { sensu_backend: string; etcd: { etcdserver: string } };
    expect(version.sensu_backend).toBe('6.12.0');
    expect(version.etcd.etcdserver).toMatch(/^3\./);
    const bad = await request(`https://${NET}.3:8080/health?timeout=soon`, { ca: caPem });
    expect([bad.status, bad.body]).toEqual([400, 'strconv.Atoi: parsing "soon": invalid syntax\n']);
  });

  it('issues tokens on one backend that work on the others, and accepts the API key', async () => {
    const basic = `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`;
    const auth = await request(`https://${NET}.1:8080/auth`, { ca: caPem, headers: { Authorization: basic } });
    expect(auth.status).toBe(200);
    const tokens = JSON.parse(auth.body) as { access_token: string; expires_at: number; refresh_token: string };
    expect(tokens.expires_at).toBeGreaterThan(Date.now() / 1000);
    const list = await request(`https://${NET}.2:8080/api/core/v2/namespaces/default/entities`, {
      ca: caPem,
      headers: { Authorization: `Bearer ${tokens.access_token}` },
    });
    expect([list.status, list.body]).toEqual([200, '[]']);
    const byKey = await request(`https://${NET}.3:8080/api/core/v2/namespaces/default/entities/nobody`, {
      ca: caPem,
      headers: { Authorization: `Key ${ADMIN.apiKey}` },
    });
    expect(byKey.status).toBe(404);
    const anonymous = await request(`https://${NET}.3:8080/api/core/v2/namespaces/default/entities`, { ca: caPem });
    expect(anonymous.status).toBe(401);
    const wrong = await request(`https://${NET}.1:8080/auth`, {
      ca: caPem,
      headers: { Authorization: `Basic ${Buffer.from('admin:nope').toString('base64')}` },
    });
    expect(wrong.status).toBe(401);
  });

  it('reports a stopped member unhealthy, and healthy again after it restarts', async () => {
    await cluster.get(3)?.stop();
    const res = await request(`https://${NET}.1:8080/health?timeout=2`, { ca: caPem });
    const health = JSON.parse(res.body) as Health;
    const third = health.ClusterHealth.find((m) => m.Name === 'backend-3');
    expect(third?.Healthy).toBe(false);
    expect(third?.Err).not.toBe('');
    expect(health.ClusterHealth.filter((m) => m.Healthy).map((m) => m.Name)).toEqual(['backend-1', 'backend-2']);

    const again = startClusterMember(3);
    await again.waitForLine(isRunningLine, 60_000);
    await waitFor(async () => {
      const h = JSON.parse((await request(`https://${NET}.1:8080/health`, { ca: caPem })).body) as Health;
      return h.ClusterHealth.length === 3 && h.ClusterHealth.every((m) => m.Healthy);
    }, 20_000);
  });
});

describe('startup failures', () => {
  const addr = `${NET}.21`;

  async function expectFatal(name: string, extra: Record<string, string | number | boolean>, error: string, configPath?: string): Promise<void> {
    const p = configPath
      ? (() => {
          const proc = startStandin(backendBin, ['start', '-c', configPath]);
          procs.push(proc);
          return proc;
        })()
      : startBackend(name, backendYaml(addr, name, extra));
    const exit = await p.exited;
    expect(exit.code).toBe(1);
    const fatals = p.lines().filter((l) => l.level === 'fatal');
    expect(fatals).toHaveLength(1);
    expect(fatals[0]).toMatchObject({ component: 'backend', level: 'fatal', msg: 'error executing sensu-backend', error });
    expect(typeof fatals[0]?.time).toBe('string');
  }

  it('needs both cert-file and key-file', async () => {
    const c = certs.get('backend-21') as CertFiles;
    await expectFatal('only-cert', { 'cert-file': c.cert }, 'tls configuration error, both flags --cert-file & --key-file are required');
  });

  it('needs both dashboard files', async () => {
    const c = certs.get('backend-21') as CertFiles;
    await expectFatal(
      'only-dash-key',
      { 'dashboard-key-file': c.key },
      'dashboard tls configuration error, both flags --dashboard-cert-file and --dashboard-key-file are required',
    );
  });

  it('rejects a key that does not match the certificate', async () => {
    const c = certs.get('backend-21') as CertFiles;
    const other = certs.get('backend-1') as CertFiles;
    await expectFatal(
      'mismatch',
      { 'cert-file': c.cert, 'key-file': other.key },
      'Error loading tls server certificate: tls: private key does not match public key',
    );
  });

  it('names a missing certificate file', async () => {
    const c = certs.get('backend-21') as CertFiles;
    const missing = join(dir, 'pki', 'absent.pem');
    await expectFatal(
      'missing-cert',
      { 'cert-file': missing, 'key-file': c.key },
      `Error loading tls server certificate: open ${missing}: no such file or directory`,
    );
  });

  it('rejects an unreadable or empty CA file', async () => {
    const c = certs.get('backend-21') as CertFiles;
    const missing = join(dir, 'pki', 'no-ca.pem');
    await expectFatal(
      'missing-ca',
      { 'cert-file': c.cert, 'key-file': c.key, 'trusted-ca-file': missing },
      `Error reading CA file: open ${missing}: no such file or directory`,
    );
    await expectFatal('keyfile-as-ca', { 'cert-file': c.cert, 'key-file': c.key, 'trusted-ca-file': c.key }, `No certificates could be parsed out of ${c.key}`);
  });

  it('fails on a config file named with -c that does not exist', async () => {
    const missing = join(dir, 'nowhere', 'backend.yml');
    await expectFatal('', {}, `open ${missing}: no such file or directory`, missing);
  });

  it('fails when etcd cannot start', async () => {
    // backend-1's etcd already listens on 127.77.0.1:2379.
    await expectFatal(
      'etcd-conflict',
      { 'etcd-listen-client-urls': `http://${NET}.1:2379`, 'etcd-advertise-client-urls': `http://${NET}.1:2379` },
      `error starting etcd: listen tcp ${NET}.1:2379: bind: address already in use`,
    );
  });

  it('opens no port when a check fails', async () => {
    const c = certs.get('backend-21') as CertFiles;
    await expectFatal('no-ports', { 'cert-file': c.cert }, 'tls configuration error, both flags --cert-file & --key-file are required');
    await expect(request(`http://${addr}:8080/health`, { timeoutMs: 2000 })).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('etcd TLS', () => {
  it('runs etcd with client and peer TLS, client-cert-auth on, and stays healthy', async () => {
    const addr = `${NET}.27`;
    const c = issue(ca, join(dir, 'pki'), 'backend-27', { cn: 'backend-27', dns: ['localhost'], ips: [addr] });
    const etcdTls = {
      'etcd-listen-client-urls': `https://${addr}:2379`,
      'etcd-advertise-client-urls': `https://${addr}:2379`,
      'etcd-listen-peer-urls': `https://${addr}:2380`,
      'etcd-initial-advertise-peer-urls': `https://${addr}:2380`,
      'etcd-initial-cluster': `etcd-tls=https://${addr}:2380`,
      'etcd-cert-file': c.cert,
      'etcd-key-file': c.key,
      'etcd-trusted-ca-file': ca.cert,
      'etcd-client-cert-auth': true,
      'etcd-peer-cert-file': c.cert,
      'etcd-peer-key-file': c.key,
      'etcd-peer-trusted-ca-file': ca.cert,
      'etcd-peer-client-cert-auth': true,
    };
    const p = startBackend('etcd-tls', backendYaml(addr, 'etcd-tls', etcdTls));
    await p.waitForLine(isRunningLine, 30_000);
    const health = JSON.parse((await request(`http://${addr}:8080/health`)).body) as Health;
    expect(health.ClusterHealth).toEqual([expect.objectContaining({ Name: 'etcd-tls', Healthy: true, Err: '' })]);
    // etcd itself wants a client certificate now.
    await expect(request(`https://${addr}:2379/version`, { ca: caPem })).rejects.toThrow();
    await p.stop();
  });

  it('cannot reach its store when the advertised client URL is still http', async () => {
    const addr = `${NET}.28`;
    const c = issue(ca, join(dir, 'pki'), 'backend-28', { cn: 'backend-28', dns: ['localhost'], ips: [addr] });
    const p = startBackend(
      'etcd-half-tls',
      backendYaml(addr, 'etcd-half-tls', {
        'etcd-listen-client-urls': `https://${addr}:2379`,
        'etcd-advertise-client-urls': `http://${addr}:2379`,
        'etcd-cert-file': c.cert,
        'etcd-key-file': c.key,
        'etcd-trusted-ca-file': ca.cert,
      }),
      { SENSU_LAB_ETCD_TIMEOUT: '3' },
    );
    expect((await p.exited).code).toBe(1);
    expect(p.lines().find((l) => l.level === 'fatal')).toMatchObject({ error: 'error starting etcd: Etcd failed to start in 3 seconds' });
  });
});

describe('lab faults', () => {
  function labDir(name: string, faults: string[]): string {
    const d = join(dir, 'lab', name);
    mkdirSync(join(d, 'faults'), { recursive: true });
    for (const f of faults) writeFileSync(join(d, 'faults', f), '');
    return d;
  }

  it('crash-on-start exits 1 with a fatal line', async () => {
    const p = startBackend('crash', backendYaml(`${NET}.22`, 'crash'), { SENSU_LAB_DIR: labDir('crash', ['crash-on-start']) });
    expect((await p.exited).code).toBe(1);
    expect(p.lines().filter((l) => l.level === 'fatal')).toHaveLength(1);
  });

  it('crash-on-tls only bites when cert-file is set', async () => {
    const lab = labDir('crash-tls', ['crash-on-tls']);
    const c = certs.get('backend-21') as CertFiles;
    const withTls = startBackend('crash-tls', backendYaml(`${NET}.23`, 'crash-tls', { 'cert-file': c.cert, 'key-file': c.key }), { SENSU_LAB_DIR: lab });
    expect((await withTls.exited).code).toBe(1);
    const plain = startBackend('crash-tls-plain', backendYaml(`${NET}.23`, 'crash-tls-plain'), { SENSU_LAB_DIR: lab });
    await plain.waitForLine(isRunningLine, 30_000);
    const health = JSON.parse((await request(`http://${NET}.23:8080/health`)).body) as Health;
    expect(health.ClusterHealth[0]).toMatchObject({ Name: 'crash-tls-plain', Healthy: true });
    await plain.stop();
  });

  it('hang-on-start keeps running without opening ports', async () => {
    const p = startBackend('hang', backendYaml(`${NET}.24`, 'hang'), { SENSU_LAB_DIR: labDir('hang', ['hang-on-start']) });
    await new Promise((r) => setTimeout(r, 1500));
    expect(p.running).toBe(true);
    await expect(request(`http://${NET}.24:8080/health`, { timeoutMs: 2000 })).rejects.toThrow(/ECONNREFUSED/);
    p.signal('SIGTERM');
    expect((await p.exited).code).toBe(0);
  });

  it('wrong-cert serves a look-alike certificate that the CA does not vouch for', async () => {
    const c = issue(ca, join(dir, 'pki'), 'backend-25', { cn: 'backend-25', dns: ['localhost', 'backend-25'], ips: [`${NET}.25`] });
    const p = startBackend('wrong', backendYaml(`${NET}.25`, 'wrong', { 'cert-file': c.cert, 'key-file': c.key }), {
      SENSU_LAB_DIR: labDir('wrong', ['wrong-cert']),
    });
    await p.waitForLine(isRunningLine, 30_000);
    const verdict = await new Promise<{ authorized: boolean; error: string; cert: tls.PeerCertificate }>((resolve, reject) => {
      const s = tls.connect({ host: `${NET}.25`, port: 8080, ca: caPem, rejectUnauthorized: false }, () => {
        resolve({ authorized: s.authorized, error: String(s.authorizationError), cert: s.getPeerCertificate() });
        s.end();
      });
      s.on('error', reject);
    });
    expect(verdict.authorized).toBe(false);
    expect(verdict.error).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(verdict.cert.subject.CN).toBe('backend-25');
    expect(verdict.cert.subjectaltname).toBe(`DNS:localhost, DNS:backend-25, IP Address:${NET}.25`);
    await p.stop();
  });

  it('refuse-agents answers every agent upgrade with 503', async () => {
    const p = startBackend('refuse', backendYaml(`${NET}.26`, 'refuse'), { SENSU_LAB_DIR: labDir('refuse', ['refuse-agents']) });
    await p.waitForLine(isRunningLine, 30_000);
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://${NET}.26:8081/`, { headers: { Authorization: `Basic ${Buffer.from('agent:P@ssw0rd!').toString('base64')}` } });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', reject);
    });
    expect(status).toBe(503);
    const health = await request(`http://${NET}.26:8081/health`);
    expect(health.status).toBe(200);
    await p.stop();
  });
});
