/**
 * The variables a playbook may use for a host: `inventory_hostname`, the `sensu_*` file vars as
 * resolved paths (absolute, so a copy reads the right file wherever rollout runs), and any other
 * inventory var as written.
 */
import type { HostSpec } from '../inventory/types.js';
import type { VarLookup } from '../inventory/template.js';

/** Looks a playbook variable up for a host. */
export function hostVars(host: HostSpec): VarLookup {
  return (name) => {
    if (name === 'inventory_hostname') return { found: true, value: host.name };
    const paths: Record<string, string | undefined> = {
      sensu_ca_file: host.sensu.caFile,
      sensu_cert_file: host.sensu.certFile,
      sensu_key_file: host.sensu.keyFile,
      sensu_backend_config: host.sensu.backendConfig,
      sensu_agent_config: host.sensu.agentConfig,
      sensu_dashboard_cert_file: host.sensu.dashboardCertFile,
      sensu_dashboard_key_file: host.sensu.dashboardKeyFile,
      sensu_client_cert_file: host.sensu.clientCertFile,
      sensu_client_key_file: host.sensu.clientKeyFile,
    };
    if (name in paths) return paths[name] === undefined ? { found: false } : { found: true, value: paths[name] };
    return name in host.vars ? { found: true, value: host.vars[name] } : { found: false };
  };
}

/** True when the host's inventory sets the variable (`when_set` in a playbook). */
export function isSet(host: HostSpec, name: string): boolean {
  const v = hostVars(host)(name);
  return v.found && v.value !== undefined && v.value !== null && v.value !== '';
}
