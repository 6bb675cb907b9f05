/**
 * Looking at the lab's real etcd cluster from outside while a run moves it to TLS: a watcher that
 * keeps writing and reading one key the way the backends' own store clients would (failing over
 * between members, and between http and https as the run switches each client port) and records
 * every gap between two successful rounds; the member list as etcdctl reports it; and every
 * backend's /health.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { promisify } from 'node:util';
import { EtcdClient } from '../lab/sensu/etcd-client.js';
import type { Lab } from '../lab/lab.js';

const run = promisify(execFile);

/** What the watcher saw. */
export interface WatchReport {
  rounds: number;
  failures: number;
  /** Longest time without a successful write+read, in ms, and when it ended. */
  longestGapMs: number;
  longestGapEndedAt: number;
  /** Every gap over 500 ms (start, ms). */
  gaps: { at: number; ms: number }[];
}

/** Starts watching; `stop()` ends it and returns the report. */
export function watchEtcd(lab: Lab, key = '/rollout-test/watcher'): { stop: () => Promise<WatchReport> } {
  const pki = `${lab.dir}/pki`;
  const tls = {
    ca: [readFileSync(`${pki}/ca.pem`, 'utf8')],
    cert: readFileSync(`${pki}/backend-1.pem`, 'utf8'),
    key: readFileSync(`${pki}/backend-1.key`, 'utf8'),
  };
  const backends = lab.state.hosts.filter((h) => h.role === 'backend');
  // One client per endpoint: a member cut off from its peers accepts connections but never
  // answers, and must not eat the time the others could have answered in.
  const clients = backends.flatMap((b) => ['https', 'http'].map((scheme) => new EtcdClient([`${scheme}://${b.address}:2379`], tls, 1000)));
  let running = true;
  let current = 0;
  let n = 0;
  let failures = 0;
  let lastOk = Date.now();
  const gaps: { at: number; ms: number }[] = [];
  let longest = { ms: 0, endedAt: 0 };
  const loop = (async () => {
    while (running) {
      const client = clients[current % clients.length] as EtcdClient;
      const value = String(++n);
      try {
        await client.put(key, value, 1000);
        const kv = await client.get(key, 1000);
        if (kv?.value !== value) throw new Error(`read ${kv?.value ?? 'nothing'} after writing ${value}`);
        const now = Date.now();
        const gap = now - lastOk;
        if (gap > longest.ms) longest = { ms: gap, endedAt: now };
        if (gap > 500) gaps.push({ at: lastOk, ms: gap });
        lastOk = now;
        await new Promise((r) => setTimeout(r, 100));
      } catch {
        failures += 1;
        current += 1;
      }
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      for (const c of clients) c.close();
      return { rounds: n, failures, longestGapMs: longest.ms, longestGapEndedAt: longest.endedAt, gaps };
    },
  };
}

/** Runs `fn` with the watcher writing through etcd the whole time, and a second past its end (an outage at the very end would show). */
export async function whileWatching<T>(lab: Lab, what: string, fn: () => Promise<T>): Promise<{ result: T; watch: WatchReport; ms: number }> {
  const watcher = watchEtcd(lab);
  const t0 = Date.now();
  let result: T;
  try {
    result = await fn();
  } finally {
    await new Promise((r) => setTimeout(r, 1000));
  }
  const ms = Date.now() - t0 - 1000;
  const watch = await watcher.stop();
  console.log(
    `${what}: ${(ms / 1000).toFixed(1)} s; watcher: ${watch.rounds} rounds, ${watch.failures} failed attempts, longest write outage ${watch.longestGapMs} ms, gaps over 0.5 s: ${watch.gaps.map((g) => `${g.ms} ms`).join(', ') || 'none'}`,
  );
  return { result, watch, ms };
}

const backendsOf = (lab: Lab): { name: string; address: string }[] => lab.state.hosts.filter((h) => h.role === 'backend');

/** `etcdctl` (the real client) with the lab CA and backend-1's certificate; rejects on failure. */
export function etcdctl(lab: Lab, endpoints: string, args: string[], withCert = true): Promise<{ stdout: string; stderr: string }> {
  const pki = `${lab.dir}/pki`;
  const cert = withCert ? ['--cert', `${pki}/backend-1.pem`, '--key', `${pki}/backend-1.key`] : [];
  return run('etcdctl', ['--endpoints', endpoints, '--cacert', `${pki}/ca.pem`, ...cert, '--dial-timeout=3s', '--command-timeout=5s', ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
}

/** Each member's peer URLs from `etcdctl member list`, through whichever scheme the client ports serve. */
export async function peerUrls(lab: Lab): Promise<Record<string, string>> {
  for (const scheme of ['https', 'http']) {
    const endpoints = backendsOf(lab)
      .map((b) => `${scheme}://${b.address}:2379`)
      .join(',');
    const r = await etcdctl(lab, endpoints, ['member', 'list', '-w', 'json']).catch(() => undefined);
    if (!r) continue;
    const members = (JSON.parse(r.stdout) as { members: { name: string; peerURLs: string[] }[] }).members;
    return Object.fromEntries(members.map((m) => [m.name, m.peerURLs.join(',')]));
  }
  throw new Error('etcdctl could not reach any member');
}

/** Every member as one backend's /health sees it: [name, healthy] sorted by name. */
export function clusterHealth(lab: Lab, backend: string, scheme: 'http' | 'https'): Promise<[string, boolean][]> {
  const url = `${scheme}://${lab.host(backend).address}:8080/health`;
  return new Promise((resolve, reject) => {
    const onAnswer = (res: IncomingMessage): void => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve((JSON.parse(body) as { ClusterHealth: { Name: string; Healthy: boolean }[] }).ClusterHealth.map((m) => [m.Name, m.Healthy])));
    };
    (scheme === 'https' ? httpsGet(url, { ca: readFileSync(`${lab.dir}/pki/ca.pem`, 'utf8') }, onAnswer) : httpGet(url, onAnswer)).on('error', reject);
  });
}
