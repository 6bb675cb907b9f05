/**
 * The fleet's TLS state as it is right now, read-only: for a backend, what its API, agent port and
 * dashboard serve (probed from the controller, verified against the inventory CA); for an agent,
 * the schemes it dials, whether it is connected (/healthz through SSH) and, with API credentials,
 * how old its last keepalive is. `secured` on each row is the verdict `rollout status` exits on.
 */
import type { HostSpec } from '../inventory/types.js';
import type { EffectiveSetting } from '../sensu/effective-config.js';
import { backendUrlTarget, isWildcardHost, parseListenAddress, splitUrlList } from '../sensu/urls.js';
import type { Transport } from '../transport/transport.js';
import { configPathOf, endpointsOf, envFilesOf, hostSettings, SENSU_PORTS, unitOf } from '../sensu/host-config.js';
import { agentHealthz, apiAuthorization, entitiesLastSeen, type ApiCredentials, type EntityListing } from './health.js';
import { factsScript, parseFacts } from './script.js';
import { probeTls, probeVerifies, type TlsProbe } from './tls-probe.js';
import type { HostFacts } from './types.js';
import { printable } from '../terminal-text.js';

/** One backend's listeners. */
export interface BackendStatus {
  host: string;
  role: 'backend';
  /** `cert-file` in the effective config ('' when unset). */
  certFile: string;
  api: { address: string; port: number; probe: TlsProbe };
  agentPort: { address: string; port: number; probe: TlsProbe };
  dashboard: { address: string; port: number; probe: TlsProbe };
  /** `dashboard-cert-file` in the effective config ('' when unset: the web UI serves `cert-file`). */
  dashboardCertFile: string;
  /** Agents must present a client certificate (`agent-auth-trusted-ca-file` is set). */
  agentMtls: boolean;
  /** The embedded etcd's client and peer ports (first listen URL of each). Not part of `secured`: etcd TLS is optional (`--etcd-tls`). */
  etcdClient: { address: string; port: number; probe: TlsProbe };
  etcdPeer: { address: string; port: number; probe: TlsProbe };
  /** API and agent port serve TLS that verifies against the CA. */
  secured: boolean;
  /** Why not secured, short phrases. */
  problems: string[];
}

/** One agent's connection. */
export interface AgentStatus {
  host: string;
  role: 'agent';
  /** Effective backend-url entries. */
  backendUrls: string[];
  /** Distinct schemes among them (`ws`, `wss`). */
  schemes: string[];
  entity: string;
  /** The agent presents a client certificate (`cert-file` set) instead of its password. */
  clientCert: boolean;
  /** /healthz said 200. */
  healthy: boolean;
  healthDetail: string;
  /** Seconds since the last keepalive the backend recorded; absent when unknown (no API credentials). */
  keepaliveAgeSeconds?: number;
  keepaliveDetail?: string;
  secured: boolean;
  problems: string[];
}

/** A host that could not be read. */
export interface UnreachableStatus {
  host: string;
  role: 'backend' | 'agent';
  error: string;
  secured: false;
  problems: string[];
}

/** Any row. */
export type HostStatus = BackendStatus | AgentStatus | UnreachableStatus;

type Settings = Record<string, EffectiveSetting>;

/** Reads the host's config, env file and hostname in one sudo command, and resolves the effective settings. */
export async function readSettings(host: HostSpec, transport: Transport): Promise<{ facts: HostFacts; settings: Settings }> {
  const unit = unitOf(host.role);
  const paths = [configPathOf(host), ...envFilesOf(host.role)].map((path) => ({ path, want: 'content' as const }));
  const r = await transport.run(factsScript(paths, [], unit), { sudo: true });
  if (r.code !== 0) throw new Error(`reading the config failed: ${printable(r.stderr.toString().trim().split('\n').pop() ?? `exit ${String(r.code)}`)}`);
  const facts = parseFacts(host.name, unit, r.stdout);
  return { facts, settings: hostSettings(host, facts) };
}

function listener(
  host: HostSpec,
  settings: Settings,
  hostKey: string | undefined,
  addressKey: string | undefined,
  portKey: string | undefined,
  defaultPort: number,
): { address: string; port: number } {
  let address = '';
  let port: number | undefined;
  if (addressKey) {
    const parsed = parseListenAddress(String(settings[addressKey]?.value ?? ''));
    address = parsed.host;
    port = parsed.port;
  }
  if (hostKey) address = String(settings[hostKey]?.value ?? '');
  if (portKey) port = Number(settings[portKey]?.value ?? defaultPort);
  // Nobody dials a wildcard: the controller reaches the host where the inventory says.
  return { address: isWildcardHost(address) ? host.address : address.replace(/^\[|\]$/g, ''), port: port ?? defaultPort };
}

/** Probes a backend's three listeners. */
export async function backendStatus(host: HostSpec, settings: Settings, ca: string | undefined): Promise<BackendStatus> {
  const apiAt = listener(host, settings, undefined, 'api-listen-address', undefined, SENSU_PORTS.backendApi);
  const agentAt = listener(host, settings, 'agent-host', undefined, 'agent-port', SENSU_PORTS.agentWebsocket);
  const dashAt = listener(host, settings, 'dashboard-host', undefined, 'dashboard-port', SENSU_PORTS.dashboard);
  const opts = { ...(ca ? { ca } : {}), timeoutMs: 5000 };
  const [api, agentPort, dashboard] = await Promise.all([
    probeTls(apiAt.address, apiAt.port, { ...opts, path: '/health' }),
    probeTls(agentAt.address, agentAt.port, { ...opts, path: '/health' }),
    probeTls(dashAt.address, dashAt.port, opts),
  ]);
  const problems: string[] = [];
  if (!ca) problems.push('no sensu_ca_file in the inventory to verify against');
  for (const [name, p] of [
    ['API', api],
    ['agent port', agentPort],
  ] as const) {
    if (p.kind !== 'tls') problems.push(`${name} ${p.kind === 'plain' ? 'is plain' : 'is down'}`);
    else if (!probeVerifies(p)) problems.push(`${name} certificate does not verify against the CA`);
  }
  return {
    host: host.name,
    role: 'backend',
    certFile: String(settings['cert-file']?.value ?? ''),
    api: { ...apiAt, probe: api },
    agentPort: { ...agentAt, probe: agentPort },
    dashboard: { ...dashAt, probe: dashboard },
    dashboardCertFile: String(settings['dashboard-cert-file']?.value ?? ''),
    agentMtls: String(settings['agent-auth-trusted-ca-file']?.value ?? '') !== '',
    ...(await etcdListeners(host, settings, opts)),
    secured: problems.length === 0,
    problems,
  };
}

/** Looks up an entity's keepalive age, logged in once per run. */
export interface KeepaliveSource {
  /** Seconds since the entity's last keepalive, or a reason it is unknown. */
  age(namespace: string, entity: string): Promise<{ seconds: number } | { unknown: string }>;
}

/**
 * A keepalive source over one backend's API (the first one whose API answers): each namespace's
 * entities listed once (paged), every agent's age read from its entity's `last_seen`: one request
 * per 500 agents, not one per agent.
 */
export function keepaliveSource(baseUrl: string, credentials: ApiCredentials, ca: string | undefined): KeepaliveSource {
  let auth: Promise<string> | undefined;
  const listings = new Map<string, Promise<EntityListing>>();
  return {
    async age(namespace, entity) {
      try {
        auth ??= apiAuthorization(baseUrl, credentials, ca);
        const authorization = auth;
        let listing = listings.get(namespace);
        if (!listing) {
          listing = authorization.then((a) => entitiesLastSeen(baseUrl, namespace, a, ca));
          listings.set(namespace, listing);
        }
        const lastSeen = (await listing).lastSeen.get(entity);
        if (!lastSeen) return { unknown: `no keepalive for ${entity} on ${baseUrl}` };
        return { seconds: Math.max(0, Math.round(Date.now() / 1000 - lastSeen)) };
      } catch (err) {
        return { unknown: (err as Error).message };
      }
    },
  };
}

/** An agent's schemes, health and keepalive age. */
export async function agentStatus(
  host: HostSpec,
  settings: Settings,
  facts: HostFacts,
  transport: Transport,
  keepalives: KeepaliveSource | undefined,
): Promise<AgentStatus> {
  const raw = settings['backend-url']?.value;
  const urls = Array.isArray(raw) ? raw : typeof raw === 'string' ? splitUrlList(raw) : [];
  const schemes = [...new Set(urls.map((u) => backendUrlTarget(u)?.scheme ?? 'invalid'))].sort();
  const { agentApiHost: apiHost, agentApiPort: apiPort } = endpointsOf(settings, 'agent');
  let health: { ok: boolean; detail: string };
  try {
    health = await agentHealthz(await transport.forward(apiHost, apiPort), apiHost, apiPort, 5000);
  } catch (err) {
    health = { ok: false, detail: (err as Error).message };
  }
  const entity = host.sensu.entityName ?? String(settings.name?.value ?? facts.hostname);
  const namespace = String(settings.namespace?.value ?? 'default');
  const ka = keepalives ? await keepalives.age(namespace, entity) : undefined;
  const warnAfter = Math.max(Number(settings['keepalive-warning-timeout']?.value ?? 120), 2 * Number(settings['keepalive-interval']?.value ?? 20));
  const problems: string[] = [];
  if (urls.length === 0) problems.push('no backend-url');
  if (schemes.some((s) => s !== 'wss')) problems.push(`dials ${schemes.filter((s) => s !== 'wss').join(', ')}://`);
  if (!health.ok) problems.push(`not connected (${health.detail})`);
  if (ka && 'seconds' in ka && ka.seconds > warnAfter) problems.push(`last keepalive ${ka.seconds} s ago`);
  return {
    host: host.name,
    role: 'agent',
    backendUrls: urls,
    schemes,
    entity,
    clientCert: String(settings['cert-file']?.value ?? '') !== '',
    healthy: health.ok,
    healthDetail: health.detail,
    ...(ka && 'seconds' in ka ? { keepaliveAgeSeconds: ka.seconds } : {}),
    ...(ka && 'unknown' in ka ? { keepaliveDetail: ka.unknown } : {}),
    secured: problems.length === 0,
    problems,
  };
}

/** Where etcd listens for clients and peers (first URL of each list), probed like the other listeners. */
async function etcdListeners(
  host: HostSpec,
  settings: Settings,
  opts: { ca?: string; timeoutMs: number },
): Promise<Pick<BackendStatus, 'etcdClient' | 'etcdPeer'>> {
  const at = (key: string, defaultPort: number): { address: string; port: number } => {
    const value = settings[key]?.value;
    const first = splitUrlList(Array.isArray(value) ? value.join(',') : String(value ?? ''))[0] ?? '';
    const url = URL.canParse(first) ? new URL(first) : undefined;
    const address = (url?.hostname ?? '').replace(/^\[|\]$/g, '');
    return { address: isWildcardHost(address) || address === 'localhost' ? host.address : address, port: Number(url?.port) || defaultPort };
  };
  const client = at('etcd-listen-client-urls', 2379);
  const peer = at('etcd-listen-peer-urls', 2380);
  const [clientProbe, peerProbe] = await Promise.all([
    probeTls(client.address, client.port, { ...opts, path: '/version' }),
    probeTls(peer.address, peer.port, { ...opts, path: '/version' }),
  ]);
  return { etcdClient: { ...client, probe: clientProbe }, etcdPeer: { ...peer, probe: peerProbe } };
}
