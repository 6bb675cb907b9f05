/**
 * sensu-agent's settings: keys, defaults and checks of sensu-go 6.12 (agent/cmd/start.go,
 * agent/agent.go), read through viper's layering with the `SENSU_` prefix.
 */
import { hostname } from 'node:os';
import { Settings } from './config.js';
import type { CommandLine } from './config.js';

/** Where the packages install the agent's config. */
export const AGENT_CONFIG_FILE = '/etc/sensu/agent.yml';

/** The default backend, and the port added to URLs without one. */
export const DEFAULT_BACKEND_URL = 'ws://127.0.0.1:8081';
const DEFAULT_BACKEND_PORT = '8081';

/** Defaults exactly as sensu-agent's `handleConfig` sets them. */
export function agentDefaults(): Record<string, unknown> {
  return {
    name: hostname(),
    'api-host': '127.0.0.1',
    'api-port': 3031,
    'backend-url': [DEFAULT_BACKEND_URL],
    'cache-dir': '/var/cache/sensu/sensu-agent',
    'disable-api': false,
    'keepalive-interval': 20,
    'keepalive-warning-timeout': 120,
    'keepalive-critical-timeout': 0,
    namespace: 'default',
    password: 'P@ssw0rd!',
    user: 'agent',
    subscriptions: [],
    'trusted-ca-file': '',
    'insecure-skip-tls-verify': false,
    'log-level': 'info',
    'backend-handshake-timeout': 15,
    'backend-heartbeat-interval': 30,
    'backend-heartbeat-timeout': 45,
    'retry-min': '1s',
    'retry-max': '120s',
    'retry-multiplier': 2.0,
    redact: ['password', 'passwd', 'pass', 'api_key', 'api_token', 'access_key', 'secret_key', 'private_key', 'secret'],
  };
}

/** Everything sensu-agent start reads. */
export interface AgentConfig {
  configFile: string | undefined;
  name: string;
  namespace: string;
  user: string;
  password: string;
  backendUrls: string[];
  subscriptions: string[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  redact: string[];
  apiHost: string;
  apiPort: number;
  disableApi: boolean;
  keepaliveInterval: number;
  keepaliveWarningTimeout: number;
  keepaliveCriticalTimeout: number;
  trustedCaFile: string;
  insecureSkipTlsVerify: boolean;
  certFile: string;
  keyFile: string;
  handshakeTimeoutS: number;
  heartbeatIntervalS: number;
  heartbeatTimeoutS: number;
  retryMinMs: number;
  retryMaxMs: number;
  retryMultiplier: number;
  logLevel: string;
}

/**
 * sensu-go's `url.AppendPortIfMissing` for the URL forms agents are given (`ws://host`,
 * `wss://[::1]`, `ws://user@host/path`); anything else is returned as is and fails the scheme check.
 */
export function appendPortIfMissing(u: string, port = DEFAULT_BACKEND_PORT): string {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(u);
  if (!m) return u;
  const scheme = (m[1] ?? '').toLowerCase();
  const authority = m[2] ?? '';
  const rest = m[3] ?? '';
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
  const hostport = authority.slice(at + 1);
  let host = hostport;
  let p = '';
  const v6 = /^(\[[^\]]*\])(?::(\d*))?$/.exec(hostport);
  if (v6) {
    host = v6[1] ?? '';
    p = v6[2] ?? '';
  } else {
    const colon = hostport.lastIndexOf(':');
    if (colon >= 0) {
      host = hostport.slice(0, colon);
      p = hostport.slice(colon + 1);
    }
  }
  return `${scheme}://${userinfo}${host}:${p === '' ? port : p}${rest}`;
}

/** Reads sensu-agent's settings from flags, `SENSU_*` variables, the YAML file and the defaults. */
export function loadAgentConfig(cli: CommandLine, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const s = Settings.load({
    flags: cli.flags,
    envPrefix: 'SENSU',
    defaultConfigFile: AGENT_CONFIG_FILE,
    defaults: agentDefaults(),
    aliases: { id: 'name', 'keepalive-timeout': 'keepalive-warning-timeout' },
    env,
  });
  return {
    configFile: s.configFile,
    name: s.string('name'),
    namespace: s.string('namespace'),
    user: s.string('user'),
    password: s.string('password'),
    // The flag form is comma-delimited; viper splits environment strings on white space.
    backendUrls: s
      .stringSlice('backend-url')
      .flatMap((u) => (s.raw('backend-url').from === 'flag' ? u.split(',') : [u]))
      .map((u) => appendPortIfMissing(u)),
    subscriptions: s.stringSlice('subscriptions'),
    labels: s.stringMap('labels'),
    annotations: s.stringMap('annotations'),
    redact: s.stringSlice('redact'),
    apiHost: s.string('api-host'),
    apiPort: s.int('api-port'),
    disableApi: s.bool('disable-api'),
    keepaliveInterval: s.int('keepalive-interval'),
    keepaliveWarningTimeout: s.int('keepalive-warning-timeout'),
    keepaliveCriticalTimeout: s.int('keepalive-critical-timeout'),
    trustedCaFile: s.string('trusted-ca-file'),
    insecureSkipTlsVerify: s.bool('insecure-skip-tls-verify'),
    certFile: s.string('cert-file'),
    keyFile: s.string('key-file'),
    handshakeTimeoutS: s.int('backend-handshake-timeout'),
    heartbeatIntervalS: s.int('backend-heartbeat-interval'),
    heartbeatTimeoutS: s.int('backend-heartbeat-timeout'),
    retryMinMs: s.durationMs('retry-min'),
    retryMaxMs: s.durationMs('retry-max'),
    retryMultiplier: s.float('retry-multiplier'),
    logLevel: s.string('log-level'),
  };
}

/**
 * The checks sensu-agent makes before it runs (agent.go `validate`, start.go).
 * @returns sensu-go's error text, or undefined when the config is usable.
 */
export function validateAgentConfig(cfg: AgentConfig): string | undefined {
  if (cfg.keepaliveCriticalTimeout !== 0 && cfg.keepaliveCriticalTimeout < cfg.keepaliveWarningTimeout) {
    return 'if set, --keepalive-critical-timeout must be greater than --keepalive-warning-timeout';
  }
  if (cfg.name === '') return 'invalid agent name: name cannot be empty';
  if (cfg.keepaliveWarningTimeout < 5) return `bad keepalive timeout: ${cfg.keepaliveWarningTimeout} (minimum value is 5 seconds)`;
  if (cfg.backendUrls.length === 0) return 'no backend URLs defined';
  for (const u of cfg.backendUrls) {
    const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(u)?.[1]?.toLowerCase();
    if (scheme !== 'ws' && scheme !== 'wss') return `backend URL (${u}) must have ws:// or wss:// scheme`;
  }
  return undefined;
}
