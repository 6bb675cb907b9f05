/**
 * Unit tests of the stand-ins' Go compatibility pieces: error texts, durations and time formats,
 * viper-style settings, sensu-go's backoff, certificate loading, /health encoding, and one
 * connection attempt against real TLS servers for Go's verification order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { PeerCertificate } from 'node:tls';
import { appendPortIfMissing, loadAgentConfig, validateAgentConfig } from './lab/sensu/agent-config.js';
import { dialBackend } from './lab/sensu/agent-dial.js';
import { loadBackendConfig, parseListenAddress } from './lab/sensu/backend-config.js';
import { Backoff } from './lab/sensu/backoff.js';
import { encodeHealth } from './lab/sensu/cluster-health.js';
import { ConfigError, parseCommandLine, Settings } from './lab/sensu/config.js';
import { canonicalIp, goDialError, goFsError, goHostnameError, goTlsHandshakeError, verifyAsGo } from './lab/sensu/go-errors.js';
import { goTimeString, parseGoDuration, rfc3339 } from './lab/sensu/go-time.js';
import { issue, makeCa } from './lab/sensu/test-pki.js';
import type { CertFiles } from './lab/sensu/test-pki.js';
import { loadCaCerts, loadX509KeyPair } from './lab/sensu/tls-files.js';

let dir = '';
let ca: CertFiles;
let leaf: CertFiles;
let other: CertFiles;
const servers: tls.Server[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'standin-units-'));
  ca = makeCa(dir, 'ca');
  leaf = issue(ca, dir, 'leaf', { cn: 'backend-1', dns: ['backend-1'], ips: ['127.77.2.1'] });
  other = issue(ca, dir, 'other', { cn: 'backend-2', dns: ['backend-2'] });
});

afterAll(() => {
  for (const s of servers) s.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function fakeCert(san: string | undefined, cn = 'backend-1', validDays = 1): PeerCertificate {
  const now = Date.now();
  return {
    subjectaltname: san,
    subject: { CN: cn },
    valid_from: new Date(now - 86_400_000).toUTCString(),
    valid_to: new Date(now + validDays * 86_400_000).toUTCString(),
  } as unknown as PeerCertificate;
}

describe('Go error texts', () => {
  it('dial errors', () => {
    expect(goDialError({ code: 'ECONNREFUSED' }, '127.0.0.1', 8081)).toBe('dial tcp 127.0.0.1:8081: connect: connection refused');
    expect(goDialError({ code: 'ECONNREFUSED' }, '::1', 8081)).toBe('dial tcp [::1]:8081: connect: connection refused');
    expect(goDialError({ code: 'ENOTFOUND' }, 'backend-9', 8081)).toBe('dial tcp: lookup backend-9: no such host');
    expect(goDialError({ code: 'ETIMEDOUT' }, '10.0.0.1', 8081)).toBe('dial tcp 10.0.0.1:8081: i/o timeout');
  });

  it('file errors', () => {
    expect(goFsError({ code: 'ENOENT' }, '/etc/sensu/ca.pem')).toBe('open /etc/sensu/ca.pem: no such file or directory');
    expect(goFsError({ code: 'EACCES' }, '/k.pem')).toBe('open /k.pem: permission denied');
    expect(goFsError({ code: 'EISDIR' }, '/etc')).toBe('read /etc: is a directory');
  });

  it('TLS handshake errors', () => {
    expect(goTlsHandshakeError({ code: 'ERR_SSL_WRONG_VERSION_NUMBER' })).toBe('tls: first record does not look like a TLS handshake');
    expect(goTlsHandshakeError({ code: 'ERR_SSL_PACKET_LENGTH_TOO_LONG' })).toBe('tls: first record does not look like a TLS handshake');
    expect(goTlsHandshakeError({ code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' })).toBe('remote error: tls: certificate required');
    expect(goTlsHandshakeError({ code: 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE' })).toBe('remote error: tls: bad certificate');
    expect(
      goTlsHandshakeError(Object.assign(new Error('Client network socket disconnected before secure TLS connection was established'), { code: 'ECONNRESET' })),
    ).toBe('EOF');
  });

  it('host names the way x509.VerifyHostname words them', () => {
    expect(goHostnameError('127.0.0.1', fakeCert('DNS:localhost'))).toBe(
      "x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs",
    );
    expect(goHostnameError('127.0.0.2', fakeCert('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1'))).toBe(
      'x509: certificate is valid for 127.0.0.1, ::1, not 127.0.0.2',
    );
    expect(goHostnameError('backend-2', fakeCert('DNS:backend-1, DNS:localhost'))).toBe('x509: certificate is valid for backend-1, localhost, not backend-2');
    expect(goHostnameError('backend-1', fakeCert(undefined))).toBe('x509: certificate relies on legacy Common Name field, use SANs instead');
    expect(goHostnameError('a.lab', fakeCert('DNS:*.lab'))).toBeUndefined();
    expect(goHostnameError('::1', fakeCert('IP Address:0:0:0:0:0:0:0:1'))).toBeUndefined();
  });

  it("verifies in Go's order: dates, host name, chain", () => {
    const prefix = 'tls: failed to verify certificate: ';
    expect(verifyAsGo({ host: '127.0.0.1', cert: fakeCert('DNS:localhost'), authorizationError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' })).toBe(
      `${prefix}x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs`,
    );
    expect(verifyAsGo({ host: 'localhost', cert: fakeCert('DNS:localhost'), authorizationError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' })).toBe(
      `${prefix}x509: certificate signed by unknown authority`,
    );
    expect(verifyAsGo({ host: 'localhost', cert: fakeCert('DNS:localhost', 'x', -0.5) })).toMatch(
      /^tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time \S+ is after \S+Z$/,
    );
    expect(verifyAsGo({ host: 'localhost', cert: fakeCert('DNS:localhost') })).toBeUndefined();
  });

  it('canonical IPv6 text', () => {
    expect(canonicalIp('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(canonicalIp('2001:DB8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIp('127.0.0.1')).toBe('127.0.0.1');
  });
});

describe('Go time and durations', () => {
  it('parses durations', () => {
    expect(parseGoDuration('1s')).toBe(1000);
    expect(parseGoDuration('1m30s')).toBe(90_000);
    expect(parseGoDuration('250ms')).toBe(250);
    expect(parseGoDuration('1.5h')).toBe(5_400_000);
    expect(() => parseGoDuration('soon')).toThrow('time: invalid duration "soon"');
    expect(() => parseGoDuration('10')).toThrow('time: missing unit in duration "10"');
    expect(() => parseGoDuration('10y')).toThrow('time: unknown unit "y" in duration "10y"');
  });

  it('formats times', () => {
    expect(rfc3339(new Date())).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
    expect(goTimeString(new Date())).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \S+$/);
  });
});

describe('settings', () => {
  it('layers flags over environment over file over defaults, ignoring empty variables', () => {
    const file = join(dir, 'layers.yml');
    writeFileSync(file, 'a: from-file\nb: from-file\nc: from-file\nRetry-Max: 120\nlist: "x y"\n');
    const s = Settings.load({
      flags: new Map([
        ['config-file', file],
        ['a', 'from-flag'],
      ]),
      envPrefix: 'SENSU',
      defaultConfigFile: '/nonexistent',
      defaults: { d: 'default' },
      env: { SENSU_A: 'from-env', SENSU_B: 'from-env', SENSU_C: '' },
    });
    expect([s.string('a'), s.string('b'), s.string('c'), s.string('d')]).toEqual(['from-flag', 'from-env', 'from-file', 'default']);
    // viper/cast: a bare number is nanoseconds.
    expect(s.durationMs('retry-max')).toBeCloseTo(120 / 1e6);
    expect(s.stringSlice('list')).toEqual(['x', 'y']);
  });

  it('needs an explicitly named file, but not the default one', () => {
    const missing = join(dir, 'missing.yml');
    expect(() => Settings.load({ flags: new Map([['config-file', missing]]), envPrefix: 'SENSU', defaultConfigFile: '/x', defaults: {}, env: {} })).toThrow(
      ConfigError,
    );
    expect(() => Settings.load({ flags: new Map(), envPrefix: 'SENSU', defaultConfigFile: missing, defaults: {}, env: {} })).not.toThrow();
    expect(() => Settings.load({ flags: new Map(), envPrefix: 'SENSU', defaultConfigFile: '/x', defaults: {}, env: { SENSU_CONFIG_FILE: missing } })).toThrow(
      `open ${missing}: no such file or directory`,
    );
  });

  it('parses command lines', () => {
    const cli = parseCommandLine(['start', '-c', '/etc/sensu/backend.yml', '--log-level=debug', '--debug']);
    expect(cli.command).toBe('start');
    expect([...cli.flags]).toEqual([
      ['config-file', '/etc/sensu/backend.yml'],
      ['log-level', 'debug'],
      ['debug', 'true'],
    ]);
  });

  it("has sensu-backend's defaults and SENSU_BACKEND_ overrides", () => {
    const empty = join(dir, 'empty.yml');
    writeFileSync(empty, '# nothing\n');
    const cfg = loadBackendConfig(parseCommandLine(['start', '-c', empty]), {});
    expect(cfg).toMatchObject({
      apiListenAddress: '[::]:8080',
      apiUrl: 'http://localhost:8080',
      agentHost: '[::]',
      agentPort: 8081,
      dashboardPort: 3000,
      stateDir: '/var/lib/sensu/sensu-backend',
    });
    expect(cfg.etcd).toMatchObject({
      name: 'default',
      listenClientUrls: ['http://127.0.0.1:2379'],
      advertiseClientUrls: ['http://localhost:2379'],
      initialCluster: 'default=http://127.0.0.1:2380',
      initialClusterState: 'new',
    });
    const env = loadBackendConfig(parseCommandLine(['start', '-c', empty]), {
      SENSU_BACKEND_AGENT_PORT: '9081',
      SENSU_BACKEND_CERT_FILE: '/etc/sensu/tls/backend.pem',
      SENSU_BACKEND_ETCD_LISTEN_CLIENT_URLS: 'https://10.0.0.1:2379,https://127.0.0.1:2379',
    });
    expect([env.agentPort, env.certFile, env.etcd.listenClientUrls]).toEqual([
      9081,
      '/etc/sensu/tls/backend.pem',
      ['https://10.0.0.1:2379', 'https://127.0.0.1:2379'],
    ]);
  });

  it("has sensu-agent's defaults, SENSU_ overrides and URL checks", () => {
    const file = join(dir, 'agent.yml');
    writeFileSync(file, '#backend-url:\n#  - "ws://127.0.0.1:8081"\n');
    const cfg = loadAgentConfig(parseCommandLine(['start', '-c', file]), {});
    expect(cfg.backendUrls).toEqual(['ws://127.0.0.1:8081']);
    expect([cfg.user, cfg.password, cfg.apiHost, cfg.apiPort, cfg.keepaliveInterval, cfg.retryMinMs, cfg.retryMaxMs]).toEqual([
      'agent',
      'P@ssw0rd!',
      '127.0.0.1',
      3031,
      20,
      1000,
      120_000,
    ]);
    const env = loadAgentConfig(parseCommandLine(['start', '-c', file]), { SENSU_BACKEND_URL: 'wss://backend-1 wss://backend-2:9000', SENSU_NAME: 'web-1' });
    expect([env.backendUrls, env.name]).toEqual([['wss://backend-1:8081', 'wss://backend-2:9000'], 'web-1']);
    writeFileSync(file, 'backend-url: "http://backend-1"\n');
    expect(validateAgentConfig(loadAgentConfig(parseCommandLine(['start', '-c', file]), {}))).toBe(
      'backend URL (http://backend-1:8081) must have ws:// or wss:// scheme',
    );
  });

  it('adds the default port like url.AppendPortIfMissing', () => {
    expect(appendPortIfMissing('ws://backend-1')).toBe('ws://backend-1:8081');
    expect(appendPortIfMissing('wss://[::1]')).toBe('wss://[::1]:8081');
    expect(appendPortIfMissing('ws://backend-1:80/path')).toBe('ws://backend-1:80/path');
  });

  it('splits listen addresses like net.SplitHostPort', () => {
    expect(parseListenAddress('[::]:8080')).toMatchObject({ host: '::', port: 8080 });
    expect(parseListenAddress(':8080')).toMatchObject({ host: undefined, port: 8080 });
    expect(() => parseListenAddress(':::8080')).toThrow('too many colons');
  });
});

describe('backoff', () => {
  it('doubles from retry-min up to retry-max (no jitter)', () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 120_000, multiplier: 2, random: () => 0 });
    expect(Array.from({ length: 9 }, () => b.next())).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 120_000, 120_000]);
  });

  it('adds up to 100 % jitter', () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 120_000, multiplier: 2, random: () => 1 });
    expect(Array.from({ length: 5 }, () => b.next())).toEqual([1000, 4000, 16_000, 64_000, 120_000]);
  });
});

describe('certificate files', () => {
  it("fails with tls.LoadX509KeyPair's texts", () => {
    expect(() => loadX509KeyPair(leaf.cert, other.key)).toThrow('tls: private key does not match public key');
    expect(() => loadX509KeyPair(leaf.cert, leaf.cert)).toThrow('tls: found a certificate rather than a key in the PEM for the private key');
    const empty = join(dir, 'empty.pem');
    writeFileSync(empty, '');
    expect(() => loadX509KeyPair(empty, leaf.key)).toThrow('tls: failed to find any PEM data in certificate input');
    expect(() => loadX509KeyPair(join(dir, 'nope.pem'), leaf.key)).toThrow(`open ${join(dir, 'nope.pem')}: no such file or directory`);
    const rsa = join(dir, 'rsa-key.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', rsa], { stdio: 'ignore' });
    expect(() => loadX509KeyPair(leaf.cert, rsa)).toThrow('tls: private key type does not match public key type');
    expect(loadX509KeyPair(leaf.cert, leaf.key).leaf.subject).toBe('CN=backend-1');
  });

  it("reads CA bundles like sensu-go's LoadCACerts", () => {
    expect(loadCaCerts(ca.cert)).toHaveLength(1);
    expect(() => loadCaCerts(leaf.key)).toThrow(`No certificates could be parsed out of ${leaf.key}`);
    expect(() => loadCaCerts(join(dir, 'none.pem'))).toThrow(`Error reading CA file: open ${join(dir, 'none.pem')}: no such file or directory`);
  });
});

describe('/health encoding', () => {
  it('writes uint64 IDs exactly and omits empty header fields', () => {
    const body = encodeHealth({
      alarms: [],
      members: [{ memberId: '18446744073709551615', name: 'backend-1', err: '', healthy: true }],
      header: { cluster_id: '17981695433185836420', member_id: '18446744073709551615', raft_term: '2' },
    });
    expect(body).toBe(
      '{"Alarms":null,"ClusterHealth":[{"MemberID":18446744073709551615,"MemberIDHex":"ffffffffffffffff","Name":"backend-1","Err":"","Healthy":true}],' +
        '"Header":{"cluster_id":17981695433185836420,"member_id":18446744073709551615,"raft_term":2}}\n',
    );
    const down = encodeHealth({
      alarms: [],
      members: [{ memberId: '0', name: 'etcd client', err: 'error getting cluster member list: context deadline exceeded', healthy: false }],
      header: null,
    });
    expect(JSON.parse(down)).toEqual({
      Alarms: null,
      ClusterHealth: [
        { MemberID: 0, MemberIDHex: '0', Name: 'etcd client', Err: 'error getting cluster member list: context deadline exceeded', Healthy: false },
      ],
      Header: null,
    });
  });
});

describe('one connection attempt against real TLS servers', () => {
  async function listen(addr: string, port: number, options: tls.TlsOptions): Promise<void> {
    const server = tls.createServer(options, (s) => s.on('error', () => undefined));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(port, addr, resolve));
  }

  const dial = (url: string, extra: { ca?: string; cert?: string; key?: string } = {}): Promise<string> =>
    dialBackend({
      url,
      trustedCaFile: extra.ca ?? '',
      insecureSkipTlsVerify: false,
      certFile: extra.cert ?? '',
      keyFile: extra.key ?? '',
      headers: {},
      handshakeTimeoutMs: 5000,
    }).then(
      (d) => {
        d.ws.terminate();
        return 'connected';
      },
      (err: Error) => err.message,
    );

  it('reports a missing IP SAN before an unknown authority, as Go does', async () => {
    const rogueDir = join(dir, 'rogue');
    mkdirSync(rogueDir);
    const rogue = makeCa(rogueDir, 'rogue');
    const noIp = issue(rogue, rogueDir, 'no-ip', { cn: 'backend-1', dns: ['backend-1'] });
    await listen('127.77.2.2', 8081, { cert: readFileSync(noIp.cert), key: readFileSync(noIp.key) });
    expect(await dial('wss://127.77.2.2:8081')).toBe(
      "tls: failed to verify certificate: x509: cannot validate certificate for 127.77.2.2 because it doesn't contain any IP SANs",
    );
  });

  it('reports a server that requires a client certificate', async () => {
    await listen('127.77.2.1', 8081, {
      cert: readFileSync(leaf.cert),
      key: readFileSync(leaf.key),
      ca: readFileSync(ca.cert),
      requestCert: true,
      rejectUnauthorized: true,
    });
    expect(await dial('wss://127.77.2.1:8081', { ca: ca.cert })).toBe('remote error: tls: certificate required');
  });
});
