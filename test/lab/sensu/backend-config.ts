/**
 * sensu-backend's settings: keys, defaults and environment prefix of sensu-go 6.12
 * (backend/cmd/start.go), read through viper's layering (see config.ts).
 */
import { Settings } from './config.js';
import type { CommandLine } from './config.js';

/** Defaults exactly as `handleConfig` sets them for `sensu-backend start`. */
export const BACKEND_DEFAULTS: Record<string, unknown> = {
  'agent-host': '[::]',
  'agent-port': 8081,
  'api-listen-address': '[::]:8080',
  'api-url': 'http://localhost:8080',
  'dashboard-host': '[::]',
  'dashboard-port': 3000,
  'dashboard-cert-file': '',
  'dashboard-key-file': '',
  'cache-dir': '/var/cache/sensu/sensu-backend',
  'state-dir': '/var/lib/sensu/sensu-backend',
  'cert-file': '',
  'key-file': '',
  'trusted-ca-file': '',
  'insecure-skip-tls-verify': false,
  'log-level': 'warn',
  'etcd-advertise-client-urls': 'http://localhost:2379',
  'etcd-listen-client-urls': 'http://127.0.0.1:2379',
  'etcd-listen-peer-urls': 'http://127.0.0.1:2380',
  'etcd-initial-cluster': '',
  'etcd-initial-advertise-peer-urls': 'http://127.0.0.1:2380',
  'etcd-initial-cluster-state': 'new',
  'etcd-initial-cluster-token': '',
  'etcd-name': 'default',
  'etcd-quota-backend-bytes': 4 * 1024 * 1024 * 1024,
  'etcd-max-request-bytes': 1.5 * 1024 * 1024,
  'etcd-heartbeat-interval': 100,
  'etcd-election-timeout': 1000,
  'etcd-client-log-level': 'error',
  'no-embed-etcd': false,
};

/** Where the packages install the backend's config. */
export const BACKEND_CONFIG_FILE = '/etc/sensu/backend.yml';

/** TLS files of one etcd side (client or peer), as etcd's `TLSInfo`. */
export interface EtcdTlsInfo {
  certFile: string;
  keyFile: string;
  trustedCaFile: string;
  clientCertAuth: boolean;
}

/** The embedded etcd's settings. */
export interface EtcdSettings {
  name: string;
  listenClientUrls: string[];
  advertiseClientUrls: string[];
  /** What the backend's own etcd client dials: `etcd-client-urls`, else the advertised URLs. */
  clientUrls: string[];
  listenPeerUrls: string[];
  initialAdvertisePeerUrls: string[];
  initialCluster: string;
  initialClusterState: string;
  initialClusterToken: string;
  client: EtcdTlsInfo;
  peer: EtcdTlsInfo;
  heartbeatInterval: number;
  electionTimeout: number;
  quotaBackendBytes: number;
  maxRequestBytes: number;
  logLevel: string;
  /** `etcd-cipher-suites`: TLS cipher suites for client and peer listeners (etcd's names). */
  cipherSuites: string[];
  /** `etcd-discovery` / `etcd-discovery-srv`: bootstrap by discovery instead of `etcd-initial-cluster`. */
  discovery: string;
  discoverySrv: string;
  /** `etcd-unsafe-no-fsync`. */
  unsafeNoFsync: boolean;
  /** `no-embed-etcd`: use an external etcd at `clientUrls` instead of starting one. */
  external: boolean;
}

/** Everything sensu-backend start reads. */
export interface BackendConfig {
  configFile: string | undefined;
  stateDir: string;
  logLevel: string;
  apiListenAddress: string;
  apiUrl: string;
  agentHost: string;
  agentPort: number;
  dashboardHost: string;
  dashboardPort: number;
  certFile: string;
  keyFile: string;
  trustedCaFile: string;
  insecureSkipTlsVerify: boolean;
  dashboardCertFile: string;
  dashboardKeyFile: string;
  agentAuthCertFile: string;
  agentAuthKeyFile: string;
  agentAuthTrustedCaFile: string;
  agentAuthCrlUrls: string[];
  labels: Record<string, string>;
  etcd: EtcdSettings;
  /** `sensu-backend init` credentials, given to the lab's backend through the environment. */
  clusterAdmin: { username: string; password: string; apiKey: string };
}

/**
 * Splits URL lists the way etcd accepts them in its own flags: viper splits strings on white space,
 * and etcd's flag parsing splits on commas.
 */
function urlList(settings: Settings, key: string): string[] {
  return settings
    .stringSlice(key)
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * Reads sensu-backend's settings from flags, `SENSU_BACKEND_*` variables, the YAML file and
 * the defaults.
 * @throws ConfigError when an explicitly named config file cannot be read.
 */
export function loadBackendConfig(cli: CommandLine, env: NodeJS.ProcessEnv = process.env): BackendConfig {
  const s = Settings.load({ flags: cli.flags, envPrefix: 'SENSU_BACKEND', defaultConfigFile: BACKEND_CONFIG_FILE, defaults: BACKEND_DEFAULTS, env });
  const advertise = urlList(s, 'etcd-advertise-client-urls');
  const clientUrls = urlList(s, 'etcd-client-urls');
  let initialCluster = s.string('etcd-initial-cluster');
  if (initialCluster === '' && s.string('etcd-discovery') === '' && s.string('etcd-discovery-srv') === '') {
    initialCluster = 'default=http://127.0.0.1:2380';
  }
  return {
    configFile: s.configFile,
    stateDir: s.string('state-dir'),
    logLevel: s.string('log-level'),
    apiListenAddress: s.string('api-listen-address'),
    apiUrl: s.string('api-url'),
    agentHost: s.string('agent-host'),
    agentPort: s.int('agent-port'),
    dashboardHost: s.string('dashboard-host'),
    dashboardPort: s.int('dashboard-port'),
    certFile: s.string('cert-file'),
    keyFile: s.string('key-file'),
    trustedCaFile: s.string('trusted-ca-file'),
    insecureSkipTlsVerify: s.bool('insecure-skip-tls-verify'),
    dashboardCertFile: s.string('dashboard-cert-file'),
    dashboardKeyFile: s.string('dashboard-key-file'),
    agentAuthCertFile: s.string('agent-auth-cert-file'),
    agentAuthKeyFile: s.string('agent-auth-key-file'),
    agentAuthTrustedCaFile: s.string('agent-auth-trusted-ca-file'),
    agentAuthCrlUrls: s.stringSlice('agent-auth-crl-urls'),
    labels: s.stringMap('labels'),
    etcd: {
      name: s.string('etcd-name'),
      listenClientUrls: urlList(s, 'etcd-listen-client-urls'),
      advertiseClientUrls: advertise,
      clientUrls: clientUrls.length > 0 ? clientUrls : advertise,
      listenPeerUrls: urlList(s, 'etcd-listen-peer-urls'),
      initialAdvertisePeerUrls: urlList(s, 'etcd-initial-advertise-peer-urls'),
      initialCluster,
      initialClusterState: s.string('etcd-initial-cluster-state'),
      initialClusterToken: s.string('etcd-initial-cluster-token'),
      client: {
        certFile: s.string('etcd-cert-file'),
        keyFile: s.string('etcd-key-file'),
        trustedCaFile: s.string('etcd-trusted-ca-file'),
        clientCertAuth: s.bool('etcd-client-cert-auth'),
      },
      peer: {
        certFile: s.string('etcd-peer-cert-file'),
        keyFile: s.string('etcd-peer-key-file'),
        trustedCaFile: s.string('etcd-peer-trusted-ca-file'),
        clientCertAuth: s.bool('etcd-peer-client-cert-auth'),
      },
      heartbeatInterval: s.int('etcd-heartbeat-interval'),
      electionTimeout: s.int('etcd-election-timeout'),
      quotaBackendBytes: s.int('etcd-quota-backend-bytes'),
      maxRequestBytes: s.int('etcd-max-request-bytes'),
      logLevel: s.string('etcd-log-level'),
      cipherSuites: urlList(s, 'etcd-cipher-suites'),
      discovery: s.string('etcd-discovery'),
      discoverySrv: s.string('etcd-discovery-srv'),
      unsafeNoFsync: s.bool('etcd-unsafe-no-fsync'),
      external: s.bool('no-embed-etcd'),
    },
    clusterAdmin: {
      username: s.string('cluster-admin-username'),
      password: s.string('cluster-admin-password'),
      apiKey: s.string('cluster-admin-api-key'),
    },
  };
}

/** A listen address split like Go's `net.SplitHostPort`. */
export interface ListenAddress {
  /** Host for Node's `listen` (`::` for `[::]`, undefined for all interfaces). */
  host: string | undefined;
  port: number;
  /** The address as Go prints it in errors (`[::]:8080`). */
  text: string;
}

/**
 * Parses `host:port` (`[::]:8080`, `127.0.0.1:8080`, `:8080`).
 * @throws Error with Go's `net.SplitHostPort` text.
 */
export function parseListenAddress(addr: string): ListenAddress {
  let host: string;
  let portText: string;
  if (addr.startsWith('[')) {
    const end = addr.indexOf(']');
    if (end < 0) throw new Error(`address ${addr}: missing ']' in address`);
    host = addr.slice(1, end);
    if (addr[end + 1] !== ':') throw new Error(`address ${addr}: missing port in address`);
    portText = addr.slice(end + 2);
  } else {
    const colon = addr.lastIndexOf(':');
    if (colon < 0) throw new Error(`address ${addr}: missing port in address`);
    host = addr.slice(0, colon);
    if (host.includes(':')) throw new Error(`address ${addr}: too many colons in address`);
    portText = addr.slice(colon + 1);
  }
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`address ${addr}: invalid port`);
  return { host: host === '' ? undefined : host, port, text: addr };
}
