/**
 * etcd client and peer TLS on the lab's real 3-member etcd cluster (`rollout secure --etcd-tls`),
 * on a fleet already secured without it: only the etcd part changes. A watcher writes and reads a
 * key through etcd during every run and measures the longest write outage. First a member that
 * cannot start on peer TLS (backend-2) rolls the run back member by member; then the real
 * migration; then a second run changes nothing.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { issueCertificate, loadCaFiles } from '../src/certs/generate.js';
import { privateKeyPem } from '../src/certs/keys.js';
import { rollout } from './helpers/cli.js';
import { clusterHealth, etcdctl, peerUrls, whileWatching, type WatchReport } from './helpers/etcd-cluster.js';
import { fileSnapshot, labCa, servedCertificate, startCounts } from './helpers/fleet.js';
import { useLab } from './helpers/lab-fixture.js';
import type { Lab } from './lab/lab.js';
import { scratchDir } from './helpers/scratch.js';

const getLab = useLab({ backends: 3, agents: 2, net: 52 });
const stateDir = scratchDir('rollout-state-etcd-');
const env = { ROLLOUT_STATE_DIR: stateDir };
const secure = (...extra: string[]): string[] => ['secure', '-i', getLab().inventoryPath, '--known-hosts', getLab().knownHostsPath, '--yes', ...extra];
/** A write outage longer than this is more than one member restarting (a restart takes ≈ 2 s here). */
const OUTAGE_BOUND_MS = 3000;

const backends = (lab: Lab): { name: string; address: string }[] => lab.state.hosts.filter((h) => h.role === 'backend');

async function everyBackendHealthy(lab: Lab): Promise<void> {
  for (const b of backends(lab))
    expect(await clusterHealth(lab, b.name, 'https')).toEqual([
      ['backend-1', true],
      ['backend-2', true],
      ['backend-3', true],
    ]);
}

/** `rollout …` with the watcher writing through etcd the whole time; prints the recap's per-host times. */
async function watched(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; watch: WatchReport }> {
  const { result, watch } = await whileWatching(getLab(), `secure ${args.slice(6).join(' ')}`, () => rollout(args, { env, timeoutMs: 400_000 }));
  console.log(result.stdout.slice(result.stdout.indexOf('Recap')));
  return { ...result, watch };
}

const journalTexts = (): string[] =>
  readdirSync(stateDir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => readFileSync(join(stateDir, f), 'utf8'));

describe('rollout secure --etcd-tls on a running 3-member etcd cluster', () => {
  it('preflight refuses a backend certificate without clientAuth (etcd members present it to each other): exit 2, nothing changed', async () => {
    const lab = getLab();
    const ca = await loadCaFiles(`${lab.dir}/pki/ca.pem`, `${lab.dir}/pki/ca.key`);
    const leaf = await issueCertificate(ca, {
      commonName: 'backend-1',
      dnsNames: ['backend-1', 'localhost'],
      ipAddresses: ['127.52.0.1', '127.0.0.1'],
      extendedKeyUsages: ['serverAuth'],
    });
    writeFileSync(`${lab.dir}/pki/backend-1-server-only.pem`, leaf.bundlePem);
    writeFileSync(`${lab.dir}/pki/backend-1-server-only.key`, privateKeyPem(leaf.privateKey), { mode: 0o600 });
    const inventory = join(lab.dir, 'server-only.yml');
    writeFileSync(
      inventory,
      readFileSync(lab.inventoryPath, 'utf8')
        .replace('pki/backend-1.pem', 'pki/backend-1-server-only.pem')
        .replace('pki/backend-1.key', 'pki/backend-1-server-only.key'),
    );
    const before = await fileSnapshot(lab);
    const r = await rollout(['secure', '-i', inventory, '--known-hosts', lab.knownHostsPath, '--yes', '--etcd-tls'], { env });
    expect(r.code, r.stdout).toBe(2);
    expect(r.stderr).toMatch(/backend-1: pki\/backend-1-server-only\.pem does not allow clientAuth/);
    expect(await fileSnapshot(lab)).toEqual(before);
    // Without --etcd-tls the same certificate is fine: only etcd needs clientAuth.
    const check = await rollout(['secure', '-i', inventory, '--known-hosts', lab.knownHostsPath, '--check'], { env });
    expect(check.code, check.stderr).toBe(5);
  }, 120_000);

  it('a fleet already on TLS without etcd: first run secures the API and agents only', async () => {
    const r = await rollout(secure(), { env });
    expect(r.code, r.stderr).toBe(0);
    const status = await rollout(['status', '-i', getLab().inventoryPath, '--known-hosts', getLab().knownHostsPath], { env });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/backend-1\s+etcd client\s+127\.52\.0\.1:2379\s+plain/);
    expect(status.stdout).toMatch(/backend-1\s+etcd peer\s+127\.52\.0\.1:2380\s+plain/);
    expect(await peerUrls(getLab())).toEqual({
      'backend-1': 'http://127.52.0.1:2380',
      'backend-2': 'http://127.52.0.2:2380',
      'backend-3': 'http://127.52.0.3:2380',
    });
  }, 300_000);

  it('a member that cannot start on peer TLS: exit 3, members rolled back one at a time, quorum kept, files byte-identical', async () => {
    const lab = getLab();
    const before = await fileSnapshot(lab);
    lab.setFault('backend-2', 'crash-on-peer-tls', true);
    let r;
    try {
      r = await watched(secure('--etcd-tls', '--gate-timeout', '30'));
    } finally {
      lab.setFault('backend-2', 'crash-on-peer-tls', false);
    }
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/backend-2: Every etcd member healthy: health gate failed: sensu-backend (keeps crashing|is crash-looping)/);
    // Only the etcd part was planned: the agents were already on wss://.
    expect(r.stdout).toMatch(/agents-wss \[wave tls\][^\n]*\n\s+nothing to change on 2 host\(s\)/);
    // backend-1 really was migrated before backend-2 failed, and each went back member by member.
    const journal = journalTexts().find((t) => t.includes('etcd-member-updated')) ?? '';
    expect(journal).toContain('"path":"etcd member backend-1"');
    expect(journal).toContain('"path":"etcd member backend-2"');
    expect(journal).not.toContain('"path":"etcd member backend-3"');
    expect(r.stdout).toMatch(/backend-2\s+backend\s+failed/);
    expect(r.stdout).toMatch(/backend-1\s+backend\s+rolled back/);
    expect(r.stdout + r.stderr).toMatch(
      /backend-2: etcd member back on its old settings, cluster healthy[\s\S]*backend-1: etcd member back on its old settings, cluster healthy/,
    );
    expect(await peerUrls(lab)).toEqual({
      'backend-1': 'http://127.52.0.1:2380',
      'backend-2': 'http://127.52.0.2:2380',
      'backend-3': 'http://127.52.0.3:2380',
    });
    expect(await fileSnapshot(lab)).toEqual(before);
    await everyBackendHealthy(lab);
    expect(r.watch.rounds).toBeGreaterThan(50);
    expect(r.watch.longestGapMs).toBeLessThan(OUTAGE_BOUND_MS);
  }, 400_000);

  it('moves client and peer traffic to TLS member by member: quorum throughout, peers on https, 2379 and 2380 serve the member certificate', async () => {
    const lab = getLab();
    const r = await watched(secure('--etcd-tls'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/etcd-peers-tls: 3 host\(s\), 9 change\(s\)/);
    expect(r.watch.rounds).toBeGreaterThan(50);
    expect(r.watch.longestGapMs).toBeLessThan(OUTAGE_BOUND_MS);
    expect(await peerUrls(lab)).toEqual({
      'backend-1': 'https://127.52.0.1:2380',
      'backend-2': 'https://127.52.0.2:2380',
      'backend-3': 'https://127.52.0.3:2380',
    });
    const ca = labCa(lab);
    for (const b of backends(lab)) {
      // Each member's peer and client ports present its own certificate, verified against the CA.
      expect((await servedCertificate(b.address, 2380, ca)).subject.CN).toBe(b.name);
      expect((await servedCertificate(b.address, 2379, ca)).subject.CN).toBe(b.name);
      // Plain http is refused on both: no mixed mode left behind.
      for (const port of [2380, 2379]) {
        const plain = await fetch(`http://${b.address}:${port}/version`, { signal: AbortSignal.timeout(3000) }).then(
          (x) => x.status,
          (err: Error) => err.message,
        );
        expect(plain, `${b.name}:${port} over plain http`).not.toBe(200);
      }
      // The client port wants a client certificate (etcd-client-cert-auth).
      const anonymous = await etcdctl(lab, `https://${b.address}:2379`, ['get', 'x'], false).then(
        () => 'answered',
        (err: { stderr?: string }) => err.stderr ?? 'failed',
      );
      expect(anonymous).not.toBe('answered');
    }
    const cfg = lab.readFile('backend-2', '/etc/sensu/backend.yml');
    expect(cfg).toContain('etcd-listen-peer-urls: "https://127.52.0.2:2380"');
    expect(cfg).toContain('etcd-advertise-client-urls: "https://127.52.0.2:2379"');
    expect(cfg).toContain('# backend store configuration (embedded etcd)');
    await everyBackendHealthy(lab);
  }, 400_000);

  it('a second run changes nothing and restarts nothing', async () => {
    const lab = getLab();
    const starts = startCounts(lab);
    const before = await fileSnapshot(lab);
    const r = await rollout(secure('--etcd-tls'), { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('no changes: the fleet is already secured');
    expect(startCounts(lab)).toEqual(starts);
    expect(await fileSnapshot(lab)).toEqual(before);
  }, 200_000);

  it("rollout status shows etcd client and peer ports on TLS with each member's certificate", async () => {
    const lab = getLab();
    const r = await rollout(['status', '-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const status = JSON.parse(r.stdout) as {
      backends: {
        host: string;
        etcdClient: { port: number; probe: { kind: string; cn?: string } };
        etcdPeer: { port: number; probe: { kind: string; cn?: string; authorized?: boolean } };
      }[];
    };
    for (const b of status.backends) {
      expect([b.etcdClient.port, b.etcdClient.probe.kind, b.etcdClient.probe.cn]).toEqual([2379, 'tls', b.host]);
      expect([b.etcdPeer.port, b.etcdPeer.probe.kind, b.etcdPeer.probe.cn, b.etcdPeer.probe.authorized]).toEqual([2380, 'tls', b.host, true]);
    }
    const text = await rollout(['status', '-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath], { env });
    expect(text.stdout).toMatch(/backend-3\s+etcd peer\s+127\.52\.0\.3:2380\s+TLS\s+backend-3/);
  }, 60_000);
});
