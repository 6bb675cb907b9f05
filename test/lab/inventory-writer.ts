/**
 * Writes what a rollout against the lab needs into the lab directory: an Ansible YAML inventory
 * (the shape of inventory/lab-shape.yml), known_hosts with every host key, and the lab's secrets
 * file. Paths in the inventory are relative to it, so the directory can be moved or shared.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { stringify } from 'yaml';
import { dialPort, type LabState } from './state.js';

/** Writes `inventory.yml` and `known_hosts` for a running lab. */
export async function writeLabInventory(state: LabState): Promise<void> {
  // Through the latency relay when there is one: the inventory is what every tool reads.
  const port = state.relay ? state.relay.port : state.sshPort;
  const rel = (p: string): string => relative(state.dir, p);
  const extra = (name: string, role: 'backend' | 'agent'): Record<string, string> => {
    if (role === 'agent' && state.certs?.clientCerts)
      return { sensu_client_cert_file: `pki/${name}-client.pem`, sensu_client_key_file: `pki/${name}-client.key` };
    if (role === 'backend' && state.certs?.dashboardCerts)
      return { sensu_dashboard_cert_file: `pki/${name}-dashboard.pem`, sensu_dashboard_key_file: `pki/${name}-dashboard.key` };
    return {};
  };
  const hostVars = (name: string, role: 'backend' | 'agent', address: string, sudoPassword: boolean): Record<string, unknown> => ({
    ansible_host: address,
    ...(port === 22 ? {} : { ansible_port: port }),
    sensu_cert_file: `pki/${name}.pem`,
    sensu_key_file: `pki/${name}.key`,
    ...extra(name, role),
    ...(sudoPassword ? { ansible_become_password: state.becomePassword } : {}),
  });
  const group = (role: 'backend' | 'agent'): Record<string, unknown> => ({
    hosts: Object.fromEntries(state.hosts.filter((h) => h.role === role).map((h) => [h.name, hostVars(h.name, role, h.address, h.sudoPassword)])),
  });
  const inventory = {
    all: {
      vars: {
        ansible_user: state.loginUser,
        ansible_port: port,
        ansible_ssh_private_key_file: 'ssh/id_ed25519',
        // The lab's host keys, for ansible-playbook's ssh and for rollout alike (no --known-hosts needed).
        ansible_ssh_common_args: '-o UserKnownHostsFile={{ inventory_dir }}/known_hosts',
        sensu_ca_file: 'pki/ca.pem',
        ...(state.admin ? { sensu_api_user: state.admin.username, sensu_api_password: state.admin.password } : {}),
      },
      children: { backends: group('backend'), agents: group('agent') },
    },
  };
  const header = `# Inventory of the rollout test lab in ${state.dir} (127.${state.net}.0.0/16).${state.relay ? `\n# sshd is reached through the lab's latency relay on port ${state.relay.port}: ${state.relay.rttMs} ms round trip.` : ''}
# Written by 'npm run lab -- up'; Ansible's YAML inventory format, so ansible-playbook reads it too.
# Paths are relative to this file. The lab's hosts trust the key in ssh/, and known_hosts lists
# every host key (ansible_ssh_common_args points ssh and rollout at it; --known-hosts
# ${rel(join(state.dir, 'known_hosts'))} says the same).
`;
  writeFileSync(join(state.dir, 'inventory.yml'), header + stringify(inventory, { lineWidth: 0 }), { mode: 0o600 });

  const lines = state.hosts.map((h) => {
    const key = readFileSync(join(h.dir, 'ssh_host_ed25519_key.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
    const hostPort = dialPort(state, h);
    const names = hostPort === 22 ? `${h.address}` : `[${h.address}]:${hostPort}`;
    return `${names} ${key}`;
  });
  writeFileSync(join(state.dir, 'known_hosts'), `${lines.join('\n')}\n`);
  await Promise.resolve();
}
