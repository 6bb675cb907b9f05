/**
 * What a backend knows an agent by: its entity name and namespace (the keepalive lives under
 * them, and with agent mTLS its client certificate's CN must be that name), and the backends it
 * dials. Read from the host's facts the way Sensu reads its config: inventory override, then the
 * environment file, the YAML file, and the default (the host's hostname).
 */
import type { HostFacts } from '../facts/types.js';
import type { HostSpec } from '../inventory/types.js';
import { effectiveBackendUrls, effectiveConfig } from './effective-config.js';
import { envFileOf } from './host-config.js';

/** An agent as the backends see it. */
export interface AgentIdentity {
  /** Entity name: `sensu_entity_name`, else the config's `name`, else the hostname. */
  entity: string;
  namespace: string;
  /** Effective `backend-url` entries. */
  backendUrls: string[];
}

/** Reads an agent's identity from its facts; throws InputError when its YAML cannot be read. */
export function agentIdentity(host: HostSpec, facts: HostFacts): AgentIdentity {
  const envFile = envFileOf('agent', (p) => facts.files[p]?.exists === true);
  const cfg = effectiveConfig({
    role: 'agent',
    yaml: facts.files[host.sensu.agentConfig]?.text,
    yamlFile: host.sensu.agentConfig,
    env: facts.files[envFile]?.text,
    envFile,
    hostname: facts.hostname,
  });
  const name = cfg.settings.name.value;
  const namespace = cfg.settings.namespace.value;
  return {
    entity: host.sensu.entityName ?? (typeof name === 'string' && name !== '' ? name : facts.hostname),
    namespace: typeof namespace === 'string' && namespace !== '' ? namespace : 'default',
    backendUrls: effectiveBackendUrls(cfg),
  };
}
