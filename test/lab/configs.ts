/**
 * The configs a lab host starts with. They look like an operator's files on a real deployment:
 * comments, blank lines, a flow sequence, keys in a human order, plain ws:// and no TLS, every
 * listener bound to the host's own address (lab hosts share one network namespace).
 */
import type { LabHost } from './addresses.js';

/** backend.yml for one backend of the cluster. */
export function backendConfig(host: LabHost, backends: readonly LabHost[]): string {
  const cluster = backends.map((b) => `${b.name}=http://${b.address}:2380`).join(',');
  return `---
##
# Sensu backend configuration — ${host.name}
# Managed by the ops team. Ask #monitoring before changing the cluster settings.
##

# where Sensu keeps its state (embedded etcd lives under it)
state-dir: "/var/lib/sensu/sensu-backend"
log-level: "info"

##
# backend api configuration
##
api-listen-address: "${host.address}:8080"
api-url: "http://${host.address}:8080"

# agents connect here (WebSocket)
agent-host: "${host.address}"
agent-port: 8081

# web UI
dashboard-host: "${host.address}"
dashboard-port: 3000

##
# backend store configuration (embedded etcd)
##
etcd-name: "${host.name}"
etcd-listen-client-urls: "http://${host.address}:2379"
etcd-advertise-client-urls: "http://${host.address}:2379"
etcd-listen-peer-urls: "http://${host.address}:2380"
etcd-initial-advertise-peer-urls: "http://${host.address}:2380"
etcd-initial-cluster: "${cluster}"
etcd-initial-cluster-state: "new"
etcd-initial-cluster-token: "sensu-lab"

# subscriptions every new entity gets, kept short on purpose
labels: {environment: lab, team: ops}
`;
}

/** agent.yml for one agent, pointed at every backend over plain ws://. */
export function agentConfig(host: LabHost, backends: readonly LabHost[]): string {
  const urls = backends.map((b) => `  - "ws://${b.name}:8081"`).join('\n');
  return `---
##
# Sensu agent configuration — ${host.name}
##

# entity name as it shows in the dashboard
name: "${host.name}"
namespace: "default"

# the backends this agent connects to (it picks one at random, fails over to the others)
backend-url:
${urls}

subscriptions: [linux, lab]

# local agent API (used by checks on this host)
api-host: "${host.address}"
api-port: 3031

# keepalives: how often the agent says hello, and when the backend should worry
keepalive-interval: 20
keepalive-warning-timeout: 120

# the agent retries forever; these bound the backoff between attempts
retry-min: 1s
retry-max: 120s
`;
}
