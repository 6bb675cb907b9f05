/**
 * `rollout secure --etcd-tls` on a fresh plain fleet: first a backend crashing in the TLS wave
 * (rolled back one backend at a time); then API and agent TLS and etcd client and peer TLS in one run, with a watcher writing through etcd the whole time; a second run changes
 * nothing; then `rollout rollback` undoes the run from its journal, etcd members one at a time,
 * back to plain http peers with the quorum kept.
 */
import { describe, expect, it } from 'vitest';
import { rollout } from './helpers/cli.js';
import { clusterHealth, peerUrls, whileWatching } from './helpers/etcd-cluster.js';
import { agentHealthz, eventually, fileSnapshot, startCounts } from './helpers/fleet.js';
import { useLab } from './helpers/lab-fixture.js';
import { scratchDir } from './helpers/scratch.js';

const getLab = useLab({ backends: 3, agents: 2, net: 53 });
const env = { ROLLOUT_STATE_DIR: scratchDir('rollout-state-etcd-fresh-') };
const fleetArgs = (): string[] => ['-i', getLab().inventoryPath, '--known-hosts', getLab().knownHostsPath];
const OUTAGE_BOUND_MS = 3000;
const plainPeers = { 'backend-1': 'http://127.53.0.1:2380', 'backend-2': 'http://127.53.0.2:2380', 'backend-3': 'http://127.53.0.3:2380' };

describe('rollout secure --etcd-tls on a fresh plain fleet', () => {
  let plainFiles: Record<string, string> = {};

  it('a backend crashing in the TLS wave: exit 3, backends rolled back one at a time, etcd writes never stop for long', async () => {
    const lab = getLab();
    const before = await fileSnapshot(lab);
    lab.setFault('backend-2', 'crash-on-tls', true);
    let run;
    try {
      run = await whileWatching(lab, 'secure --etcd-tls, backend-2 crashing on TLS', () =>
        rollout(['secure', ...fleetArgs(), '--etcd-tls', '--yes', '--gate-timeout', '30'], { env, timeoutMs: 400_000 }),
      );
    } finally {
      lab.setFault('backend-2', 'crash-on-tls', false);
    }
    const { result: r, watch } = run;
    expect(r.code, r.stdout).toBe(3);
    expect(r.stdout).toMatch(/backend-2\s+backend\s+failed/);
    expect(r.stdout).toMatch(/backend-1\s+backend\s+rolled back/);
    // backend-1 was on etcd client TLS when backend-2 failed: each went back with the others serving.
    expect(r.stdout + r.stderr).toMatch(
      /backend-2: etcd member back on its old settings, cluster healthy[\s\S]*backend-1: etcd member back on its old settings, cluster healthy/,
    );
    expect(watch.longestGapMs).toBeLessThan(OUTAGE_BOUND_MS);
    expect(await fileSnapshot(lab)).toEqual(before);
    expect(await peerUrls(lab)).toEqual(plainPeers);
    for (const b of ['backend-1', 'backend-2', 'backend-3'])
      expect(await clusterHealth(lab, b, 'http')).toEqual([
        ['backend-1', true],
        ['backend-2', true],
        ['backend-3', true],
      ]);
  }, 400_000);

  it('one run: backends on TLS, agents on wss://, etcd clients and peers on TLS, quorum throughout', async () => {
    const lab = getLab();
    plainFiles = await fileSnapshot(lab);
    expect(await peerUrls(lab)).toEqual(plainPeers);
    const { result: r, watch } = await whileWatching(lab, 'secure --etcd-tls on a plain fleet', () =>
      rollout(['secure', ...fleetArgs(), '--etcd-tls', '--yes'], { env, timeoutMs: 400_000 }),
    );
    console.log(r.stdout.slice(r.stdout.indexOf('Recap')));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/agents-wss: 2 host\(s\), 4 change\(s\)/);
    expect(r.stdout).toMatch(/etcd-peers-tls: 3 host\(s\), 9 change\(s\)/);
    expect(watch.longestGapMs).toBeLessThan(OUTAGE_BOUND_MS);
    expect(await peerUrls(lab)).toEqual({
      'backend-1': 'https://127.53.0.1:2380',
      'backend-2': 'https://127.53.0.2:2380',
      'backend-3': 'https://127.53.0.3:2380',
    });
    for (const b of ['backend-1', 'backend-2', 'backend-3'])
      expect(await clusterHealth(lab, b, 'https')).toEqual([
        ['backend-1', true],
        ['backend-2', true],
        ['backend-3', true],
      ]);
    for (const a of ['agent-01', 'agent-02']) expect(await agentHealthz(lab, a)).toBe(200);
  }, 400_000);

  it('a second run changes nothing', async () => {
    const lab = getLab();
    const starts = startCounts(lab);
    const r = await rollout(['secure', ...fleetArgs(), '--etcd-tls', '--yes'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('no changes: the fleet is already secured');
    expect(startCounts(lab)).toEqual(starts);
  }, 200_000);

  it('rollout rollback undoes it from the journal, one etcd member at a time: plain peers, quorum kept, files byte-identical', async () => {
    const lab = getLab();
    const { result: r, watch } = await whileWatching(lab, 'rollout rollback', () =>
      rollout(['rollback', '--yes', ...fleetArgs()], { env, timeoutMs: 300_000 }),
    );
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout + r.stderr).toMatch(
      /backend-3: etcd member back on its old settings, cluster healthy[\s\S]*backend-2: etcd member back[\s\S]*backend-1: etcd member back/,
    );
    expect(watch.longestGapMs).toBeLessThan(OUTAGE_BOUND_MS);
    expect(await peerUrls(lab)).toEqual(plainPeers);
    expect(await fileSnapshot(lab)).toEqual(plainFiles);
    for (const b of ['backend-1', 'backend-2', 'backend-3'])
      expect(await clusterHealth(lab, b, 'http')).toEqual([
        ['backend-1', true],
        ['backend-2', true],
        ['backend-3', true],
      ]);
    for (const a of ['agent-01', 'agent-02']) await eventually(`${a} connected again`, 60_000, async () => (await agentHealthz(lab, a)) === 200);
  }, 400_000);
});
