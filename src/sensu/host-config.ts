/**
 * A host's Sensu layout, in one place: the unit it runs, its YAML config, the environment file its
 * unit loads, Sensu's default ports, and what its config, both files read together, says about
 * where it can be probed. Every command asks here, so none of them reads a host differently (one
 * read the YAML alone and missed an API port set in /etc/default/sensu-agent).
 */
import type { HostSpec } from '../inventory/types.js';
import { effectiveConfig, type EffectiveSetting } from './effective-config.js';
import { parseListenAddress } from './urls.js';

/** The systemd unit of each role. */
export type SensuUnit = 'sensu-backend' | 'sensu-agent';

/** Sensu's default ports (SENSU.md): the backend API, agent WebSocket and web UI; the agent's local API. */
export const SENSU_PORTS = { backendApi: 8080, agentWebsocket: 8081, dashboard: 3000, agentApi: 3031 } as const;

/** Where a host's Sensu can be probed (gates, rollback, status). */
export interface SensuEndpoints {
  /** Backend API port (from api-listen-address). */
  apiPort: number;
  /** Agent API host and port on the host (api-host/api-port). */
  agentApiHost: string;
  agentApiPort: number;
  /** Agent entity name when the config sets one. */
  entityName?: string;
  namespace: string;
  /** Backend web UI listener (dashboard-host/dashboard-port); '' or a wildcard means the host's address. */
  dashboardHost: string;
  dashboardPort: number;
}

/** The unit a host of this role runs. */
export function unitOf(role: HostSpec['role']): SensuUnit {
  return role === 'backend' ? 'sensu-backend' : 'sensu-agent';
}

/** The Sensu YAML config file of a host (the inventory's sensu_backend_config / sensu_agent_config). */
export function configPathOf(host: HostSpec): string {
  return host.role === 'backend' ? host.sensu.backendConfig : host.sensu.agentConfig;
}

/** Environment files the packaged units read, Debian's then RHEL's. */
export function envFilesOf(role: HostSpec['role']): [string, string] {
  const unit = unitOf(role);
  return [`/etc/default/${unit}`, `/etc/sysconfig/${unit}`];
}

/** The environment file in use: the first that exists, else Debian's (where a new one would go). */
export function envFileOf(role: HostSpec['role'], exists: (path: string) => boolean): string {
  const [debian, rhel] = envFilesOf(role);
  return exists(debian) ? debian : exists(rhel) ? rhel : debian;
}

/** The texts a host's settings are read from (undefined: the file is absent or was not read). */
export interface HostConfigTexts {
  files: Readonly<Record<string, { exists?: boolean; text?: string } | undefined>>;
  hostname?: string;
}

/**
 * Settings already worked out, by everything they are worked out from. A run asks for a host's
 * settings five or six times (health before the run, the CA it trusts, the plan's edits, probe
 * targets); on 203 hosts, working them out again each time cost ≈ 0.1 CPU-s of a dry run's 2.6.
 * Bounded like ConfigSource's cache: the texts are already held by the facts.
 */
const settingsCache = new Map<string, Readonly<Record<string, EffectiveSetting>>>();
const SETTINGS_CACHE_SIZE = 4096;

/**
 * Every setting the host's service will use: YAML, then its environment file, then Sensu's
 * defaults. Throws InputError on YAML Sensu could not read. The answer is shared between callers
 * and frozen: read it, never change it.
 */
export function hostSettings(host: HostSpec, texts: HostConfigTexts): Readonly<Record<string, EffectiveSetting>> {
  const yamlFile = configPathOf(host);
  const envFile = envFileOf(host.role, (p) => texts.files[p]?.exists === true || texts.files[p]?.text !== undefined);
  const yaml = texts.files[yamlFile]?.text;
  const env = texts.files[envFile]?.text;
  const key = JSON.stringify([host.role, yamlFile, yaml, envFile, env, texts.hostname]);
  const hit = settingsCache.get(key);
  if (hit) return hit;
  const { settings } = effectiveConfig({
    role: host.role,
    yaml,
    yamlFile,
    env,
    envFile,
    ...(texts.hostname !== undefined ? { hostname: texts.hostname } : {}),
  });
  for (const s of Object.values(settings)) {
    if (Array.isArray(s.value)) Object.freeze(s.value);
    Object.freeze(s);
  }
  Object.freeze(settings);
  if (settingsCache.size >= SETTINGS_CACHE_SIZE) settingsCache.delete(settingsCache.keys().next().value as string);
  settingsCache.set(key, settings);
  return settings;
}

/** Where the service can be probed, from its effective settings. */
export function endpointsOf(settings: Record<string, EffectiveSetting>, role: HostSpec['role']): SensuEndpoints {
  const str = (k: string, d: string): string => {
    const v = settings[k]?.value;
    return v === undefined || v === '' ? d : String(v);
  };
  const num = (k: string, d: number): number => {
    const v = Number(settings[k]?.value);
    return Number.isFinite(v) && v > 0 ? v : d;
  };
  const api = parseListenAddress(str('api-listen-address', `[::]:${SENSU_PORTS.backendApi}`));
  const name = role === 'agent' ? settings.name?.value : undefined;
  return {
    apiPort: api.port ?? SENSU_PORTS.backendApi,
    agentApiHost: str('api-host', '127.0.0.1'),
    agentApiPort: num('api-port', SENSU_PORTS.agentApi),
    ...(typeof name === 'string' && name !== '' ? { entityName: name } : {}),
    namespace: str('namespace', 'default'),
    dashboardHost: role === 'backend' ? str('dashboard-host', '') : '',
    dashboardPort: role === 'backend' ? num('dashboard-port', SENSU_PORTS.dashboard) : 0,
  };
}
