/**
 * The Sensu Go 6.x configuration keys rollout reads or writes, with their defaults and their
 * environment variable names (from SENSU.md, itself from the sensu-go v6.12.0 source).
 */

/** Which Sensu service a config file belongs to. */
export type SensuRole = 'agent' | 'backend';

/** How a setting's text is read: Sensu (viper) coerces file and environment values alike. */
export type SettingKind =
  /** Any text. */
  | 'string'
  /** A whole number (ports, seconds). */
  | 'int'
  /** `true`/`false` (also `1`/`0`, `t`/`f`, and YAML 1.1 `yes`/`no`/`on`/`off`). */
  | 'bool'
  /** A list of URLs: a YAML list, or one string split as `split` says. */
  | 'urls';

/** A setting's value once read. */
export type SettingValue = string | number | boolean | string[];

/** One key Sensu reads. */
export interface SettingSpec {
  /** The key as written in the YAML file. */
  key: string;
  /** How to read it. */
  kind: SettingKind;
  /** Sensu's default; undefined when it depends on the host (the agent's `name`). */
  default: SettingValue | undefined;
  /** A secret: never shown in diffs or logs. */
  secret?: boolean;
  /**
   * How a `urls` value written as one string is split. The agent reads `backend-url` with
   * viper's GetStringSlice, which splits on whitespace only (`SENSU_BACKEND_URL="ws://a ws://b"`);
   * etcd URL settings are comma-separated lists (`"https://a:2379,https://b:2379"`).
   */
  split?: 'space' | 'comma';
}

// Generic in the key so that AgentKey/BackendKey below are unions of literal keys.
type Spec<K extends string> = SettingSpec & { key: K };
const s = <K extends string>(key: K, def: string | undefined = ''): Spec<K> => ({ key, kind: 'string', default: def });
const int = <K extends string>(key: K, def: number): Spec<K> => ({ key, kind: 'int', default: def });
const bool = <K extends string>(key: K, def = false): Spec<K> => ({ key, kind: 'bool', default: def });
const urls = <K extends string>(key: K, def: string[], split: 'space' | 'comma' = 'comma'): Spec<K> => ({ key, kind: 'urls', default: def, split });

/** sensu-agent keys that matter to a TLS rollout, with SENSU.md's defaults. */
export const AGENT_SETTINGS = [
  urls('backend-url', ['ws://127.0.0.1:8081'], 'space'),
  s('trusted-ca-file'),
  bool('insecure-skip-tls-verify'),
  s('cert-file'),
  s('key-file'),
  s('api-host', '127.0.0.1'),
  int('api-port', 3031),
  // The default is the host name, which only the caller knows.
  s('name', undefined),
  s('namespace', 'default'),
  // Basic-auth credentials: both halves are kept out of displays.
  { ...s('user', 'agent'), secret: true },
  { ...s('password', 'P@ssw0rd!'), secret: true },
  int('keepalive-interval', 20),
  int('keepalive-warning-timeout', 120),
] as const satisfies readonly SettingSpec[];

/** sensu-backend keys that matter to a TLS rollout, with SENSU.md's defaults. */
export const BACKEND_SETTINGS = [
  s('state-dir', '/var/lib/sensu/sensu-backend'),
  s('api-listen-address', '[::]:8080'),
  s('api-url', 'http://localhost:8080'),
  s('agent-host', '[::]'),
  int('agent-port', 8081),
  s('dashboard-host', '[::]'),
  int('dashboard-port', 3000),
  s('cert-file'),
  s('key-file'),
  s('trusted-ca-file'),
  bool('insecure-skip-tls-verify'),
  s('dashboard-cert-file'),
  s('dashboard-key-file'),
  s('agent-auth-cert-file'),
  s('agent-auth-key-file'),
  s('agent-auth-trusted-ca-file'),
  urls('agent-auth-crl-urls', []),
  urls('etcd-listen-client-urls', ['http://127.0.0.1:2379']),
  urls('etcd-advertise-client-urls', ['http://localhost:2379']),
  urls('etcd-listen-peer-urls', ['http://127.0.0.1:2380']),
  urls('etcd-initial-advertise-peer-urls', ['http://127.0.0.1:2380']),
  // Sensu's flag default is "", which etcd turns into this.
  s('etcd-initial-cluster', 'default=http://127.0.0.1:2380'),
  s('etcd-initial-cluster-state', 'new'),
  s('etcd-name', 'default'),
  s('etcd-cert-file'),
  s('etcd-key-file'),
  s('etcd-trusted-ca-file'),
  bool('etcd-client-cert-auth'),
  s('etcd-peer-cert-file'),
  s('etcd-peer-key-file'),
  s('etcd-peer-trusted-ca-file'),
  bool('etcd-peer-client-cert-auth'),
] as const satisfies readonly SettingSpec[];

/** A key of the agent settings above. */
export type AgentKey = (typeof AGENT_SETTINGS)[number]['key'];
/** A key of the backend settings above. */
export type BackendKey = (typeof BACKEND_SETTINGS)[number]['key'];
/** The keys rollout knows for a role. */
export type SettingKey<R extends SensuRole> = R extends 'agent' ? AgentKey : BackendKey;

/** The settings spec of a role. */
export function settingsOf(role: SensuRole): readonly SettingSpec[] {
  return role === 'agent' ? AGENT_SETTINGS : BACKEND_SETTINGS;
}

/**
 * The environment variable that overrides a key: `SENSU_<KEY>` for the agent,
 * `SENSU_BACKEND_<KEY>` for the backend, upper case with `-` → `_`.
 */
export function envNameFor(role: SensuRole, key: string): string {
  const k = key.toUpperCase().replace(/-/g, '_');
  return role === 'agent' ? `SENSU_${k}` : `SENSU_BACKEND_${k}`;
}

/** The environment file the packaged unit loads, per OS family. */
export function envFilePath(role: SensuRole, family: 'debian' | 'rhel'): string {
  const unit = role === 'agent' ? 'sensu-agent' : 'sensu-backend';
  return family === 'debian' ? `/etc/default/${unit}` : `/etc/sysconfig/${unit}`;
}

/**
 * Where a new key goes when a file does not have it: after the first of these keys that the file
 * has (checked in order). The lists follow how Sensu's own docs group settings: a TLS pair after
 * the listener it secures, `key-file` right after `cert-file`, the CA after the pair.
 */
export const PLACE_AFTER: Readonly<Record<string, readonly string[]>> = {
  'backend-url': ['namespace', 'name'],
  'cert-file': ['api-url', 'api-listen-address', 'trusted-ca-file', 'backend-url'],
  'key-file': ['cert-file'],
  'trusted-ca-file': ['key-file', 'cert-file', 'backend-url', 'api-url'],
  'insecure-skip-tls-verify': ['trusted-ca-file', 'key-file', 'cert-file', 'backend-url'],
  'api-url': ['api-listen-address'],
  'agent-port': ['agent-host'],
  'dashboard-port': ['dashboard-host'],
  'dashboard-cert-file': ['dashboard-port', 'dashboard-host'],
  'dashboard-key-file': ['dashboard-cert-file'],
  'agent-auth-cert-file': ['agent-port', 'agent-host'],
  'agent-auth-key-file': ['agent-auth-cert-file'],
  'agent-auth-trusted-ca-file': ['agent-auth-key-file', 'agent-auth-cert-file'],
  'etcd-advertise-client-urls': ['etcd-listen-client-urls'],
  'etcd-cert-file': ['etcd-advertise-client-urls', 'etcd-listen-client-urls'],
  'etcd-key-file': ['etcd-cert-file'],
  'etcd-trusted-ca-file': ['etcd-key-file', 'etcd-cert-file', 'etcd-advertise-client-urls', 'etcd-listen-client-urls'],
  'etcd-client-cert-auth': ['etcd-trusted-ca-file', 'etcd-key-file'],
  'etcd-initial-advertise-peer-urls': ['etcd-listen-peer-urls'],
  'etcd-peer-cert-file': ['etcd-initial-advertise-peer-urls', 'etcd-listen-peer-urls'],
  'etcd-peer-key-file': ['etcd-peer-cert-file'],
  'etcd-peer-trusted-ca-file': ['etcd-peer-key-file', 'etcd-peer-cert-file', 'etcd-initial-advertise-peer-urls', 'etcd-listen-peer-urls'],
  'etcd-peer-client-cert-auth': ['etcd-peer-trusted-ca-file', 'etcd-peer-key-file'],
};

/**
 * Keys to place a new key after, most preferred first: the table above, then for an unknown
 * `<prefix>key-file` its `<prefix>cert-file` (the pair always travels together).
 */
export function placeAfterCandidates(key: string): readonly string[] {
  const known = PLACE_AFTER[key];
  if (known) return known;
  if (key.endsWith('key-file')) return [`${key.slice(0, -'key-file'.length)}cert-file`];
  return [];
}
