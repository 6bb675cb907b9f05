/**
 * etcd's members and client URLs as data, pure: what the planner needs of etcd (the network calls
 * are src/sensu/etcd-gateway.ts, which the planner does not import).
 */
import { isWildcardHost, splitUrlList } from './urls.js';

/** One member as etcd lists it (IDs are uint64: kept as decimal strings). */
export interface EtcdMember {
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
}

/** Where a member's client port is, as dialled from its own host. */
export interface EtcdEndpoint {
  address: string;
  port: number;
  scheme: 'http' | 'https';
}

/**
 * Where a backend's etcd client port is, from its effective `etcd-listen-client-urls`: the first
 * URL, dialled from the host (a wildcard becomes loopback), its own scheme first, then the other.
 */
export function clientEndpoints(listenClientUrls: string): EtcdEndpoint[] {
  const first = splitUrlList(listenClientUrls)[0] ?? 'http://127.0.0.1:2379';
  let url: URL;
  try {
    url = new URL(first);
  } catch {
    url = new URL('http://127.0.0.1:2379');
  }
  const raw = url.hostname.replace(/^\[|\]$/g, '');
  const address = isWildcardHost(raw) || raw === 'localhost' ? '127.0.0.1' : raw;
  const port = Number(url.port) || 2379;
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  return [
    { address, port, scheme },
    { address, port, scheme: scheme === 'https' ? 'http' : 'https' },
  ];
}

/** The same URLs with another scheme (`http://a:2380` → `https://a:2380`). */
export function withUrlScheme(urls: readonly string[], scheme: 'http' | 'https'): string[] {
  return urls.map((u) => u.replace(/^https?:\/\//i, `${scheme}://`));
}
