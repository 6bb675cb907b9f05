/**
 * The etcd cluster as a backend's own member sees it, for `--etcd-tls`: the member list (IDs, peer
 * and client URLs) is the truth the peer migration plans on, since `etcd-initial-*` keys in
 * backend.yml are ignored once the data directory exists. Read through the host's SSH connection;
 * nothing changes.
 */
import { readFile } from 'node:fs/promises';
import type { HostSpec } from '../inventory/types.js';
import { clientEndpoints, memberList, type EtcdEndpoint, type EtcdTlsMaterial } from '../sensu/etcd-gateway.js';
import type { Transport } from '../transport/transport.js';
import { hostSettings } from '../sensu/host-config.js';
import type { EtcdFact, HostFacts } from './types.js';

/**
 * What the controller presents to etcd: the inventory CA, and the backend's own certificate and key
 * (the files rollout installs as `etcd-cert-file`/`etcd-key-file`). Missing files are left out:
 * plain http needs none of it.
 */
export async function etcdTlsMaterial(host: HostSpec): Promise<EtcdTlsMaterial> {
  const read = async (path: string | undefined): Promise<string | undefined> => (path ? readFile(path, 'utf8').catch(() => undefined) : undefined);
  const [ca, cert, key] = await Promise.all([read(host.sensu.caFile), read(host.sensu.certFile), read(host.sensu.keyFile)]);
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

/** The backend's etcd client port (both schemes, its configured one first) and member name. */
export function etcdEndpointsOf(host: HostSpec, facts: HostFacts): { endpoints: EtcdEndpoint[]; name: string } {
  const s = hostSettings(host, facts);
  const urls = s['etcd-listen-client-urls']?.value;
  return { endpoints: clientEndpoints(Array.isArray(urls) ? urls.join(',') : String(urls ?? '')), name: String(s['etcd-name']?.value ?? 'default') };
}

/** Reads the member list through the backend's own client port; never throws. */
export async function gatherEtcdFact(host: HostSpec, facts: HostFacts, transport: Transport): Promise<EtcdFact> {
  try {
    const { endpoints, name } = etcdEndpointsOf(host, facts);
    const { members } = await memberList((a, p) => transport.forward(a, p), endpoints, await etcdTlsMaterial(host));
    const self = members.find((m) => m.name === name);
    return { members, ...(self ? { self } : {}) };
  } catch (err) {
    return { members: [], error: (err as Error).message };
  }
}

/** Adds the etcd fact to every backend's facts (for `--etcd-tls`). */
export async function addEtcdFacts(
  hosts: readonly HostSpec[],
  transports: ReadonlyMap<string, Transport>,
  facts: ReadonlyMap<string, HostFacts>,
): Promise<void> {
  await Promise.all(
    hosts
      .filter((h) => h.role === 'backend')
      .map(async (h) => {
        const f = facts.get(h.name);
        const t = transports.get(h.name);
        if (f && t) f.etcd = await gatherEtcdFact(h, f, t);
      }),
  );
}
