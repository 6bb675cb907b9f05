/**
 * Loading and resolving Ansible YAML inventories: groups and children, ranges, Ansible's variable
 * precedence, connection aliases, paths, templating. Real files in a temporary directory.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadInventory } from '../src/inventory/index.js';
import type { HostSpec, LoadedInventory } from '../src/inventory/index.js';
import { Secret } from '../src/secret.js';
import { workspace, yaml } from './fixtures/inventory/workspace.js';
import type { Workspace } from './fixtures/inventory/workspace.js';

let ws: Workspace;
beforeEach(() => {
  ws = workspace();
});
afterEach(() => ws.remove());

async function load(text: string, options: { checkFiles?: boolean } = {}): Promise<LoadedInventory> {
  const file = ws.write('prod.yml', text);
  return loadInventory(file, { checkFiles: options.checkFiles ?? false, homeDir: join(ws.dir, 'home'), displayName: 'prod.yml' });
}

function host(inv: LoadedInventory, name: string): HostSpec {
  const h = inv.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`no host ${name} in ${inv.hosts.map((x) => x.name).join(', ')}`);
  return h;
}

describe('groups, children and ranges', () => {
  it('reads roles through nested children, expands ranges, keeps backends first', async () => {
    const inv = await load(yaml`
      all:
        children:
          agents:
            children:
              web:
                hosts:
                  agent-[01:03]:
              db:
                hosts:
                  db-[a:c]:
                  odd[1:10:4]:
          backends:
            hosts:
              backend-1:
              backend-2:
          monitoring:
            hosts:
              grafana:
    `);
    expect(inv.hosts.map((h) => h.name)).toEqual([
      'backend-1',
      'backend-2',
      'agent-01',
      'agent-02',
      'agent-03',
      'db-a',
      'db-b',
      'db-c',
      'odd1',
      'odd5',
      'odd9',
    ]);
    expect(host(inv, 'agent-02')).toMatchObject({ role: 'agent', groups: ['agents', 'web'], address: 'agent-02', port: 22 });
    expect(host(inv, 'backend-1').role).toBe('backend');
    // grafana is another playbook's host: left alone, not an error.
    expect(inv.ignoredHosts).toEqual(['grafana']);
    expect(inv.groups).toEqual(expect.arrayContaining(['all', 'agents', 'web', 'db', 'backends', 'monitoring']));
  });

  it('accepts top-level groups without all, and hosts given as a single name', async () => {
    const inv = await load(yaml`
      backends:
        hosts: backend-1
      agents:
        hosts:
          agent-1:
    `);
    expect(inv.hosts.map((h) => `${h.name}:${h.role}`)).toEqual(['backend-1:backend', 'agent-1:agent']);
  });

  it('merges a host listed in several groups, and a group defined in several places', async () => {
    const inv = await load(yaml`
      all:
        children:
          backends:
            hosts:
              backend-1:
                ansible_user: first
                ansible_port: 2200
          eu:
            hosts:
              backend-1:
                ansible_user: second
            vars:
              region: eu
      backends:
        vars:
          tier: gold
    `);
    const b = host(inv, 'backend-1');
    expect(b.user).toBe('second');
    expect(b.port).toBe(2200);
    expect(b.groups).toEqual(['backends', 'eu']);
    expect(b.vars).toMatchObject({ region: 'eu', tier: 'gold', ansible_user: 'second' });
  });

  it('takes the port from a name:port key, and ansible_port over it', async () => {
    const inv = await load(yaml`
      backends:
        hosts:
          10.0.0.5:2222:
          backend-x:2201:
            ansible_port: 2202
          "[2001:db8::7]:2203":
          "2001:db8::8":
    `);
    expect(inv.hosts.map((h) => [h.name, h.address, h.port])).toEqual([
      ['10.0.0.5', '10.0.0.5', 2222],
      ['backend-x', 'backend-x', 2202],
      ['2001:db8::7', '2001:db8::7', 2203],
      ['2001:db8::8', '2001:db8::8', 22],
    ]);
  });
});

describe('variable precedence', () => {
  it('host over child group over parent group over all; siblings merge alphabetically', async () => {
    const inv = await load(yaml`
      all:
        vars:
          level: all
          only_all: yes
        children:
          backends:
            vars:
              level: backends
            hosts:
              backend-1:
              backend-2:
                level: host
          agents:
            vars:
              level: agents
              only_agents: 1
            hosts:
              agent-1:
            children:
              zeta:
                vars:
                  level: zeta
                hosts:
                  agent-1:
                  agent-2:
              alpha:
                vars:
                  level: alpha
                  only_alpha: true
                hosts:
                  agent-1:
                  agent-3:
    `);
    // YAML 1.1, as Ansible reads it: yes is a boolean.
    expect(host(inv, 'backend-1').vars).toMatchObject({ level: 'backends', only_all: true });
    expect(host(inv, 'backend-2').vars.level).toBe('host');
    // agent-1 is in agents (depth 1) and in alpha and zeta (depth 2): zeta, later in the alphabet, wins.
    expect(host(inv, 'agent-1').vars).toMatchObject({ level: 'zeta', only_agents: 1, only_alpha: true, only_all: true });
    expect(host(inv, 'agent-2').vars.level).toBe('zeta');
    expect(host(inv, 'agent-3').vars.level).toBe('alpha');
  });

  it('ranks deeper groups by their deepest path, and honours ansible_group_priority', async () => {
    const inv = await load(yaml`
      all:
        children:
          agents:
            children:
              deep:
                vars: { level: deep }
              alpha:
                vars: { level: alpha, ansible_group_priority: 10 }
                hosts: { agent-1: }
              beta:
                vars: { level: beta }
                hosts: { agent-1: }
          backends:
            hosts: { backend-1: }
      # Also listed at the top: still at depth 2, under agents.
      deep:
        hosts: { agent-2: }
      shallow:
        vars: { level: shallow }
        hosts: { agent-2: }
    `);
    // Same depth: priority 10 beats the alphabet.
    expect(host(inv, 'agent-1').vars.level).toBe('alpha');
    // deep (depth 2) beats shallow (depth 1) although "shallow" sorts later.
    expect(host(inv, 'agent-2').vars.level).toBe('deep');
  });

  it('reads YAML 1.1 scalars as PyYAML does: yes/on are booleans, y/n stay strings', async () => {
    const inv = await load('backends:\n  hosts:\n    backend-1:\n      a: on\n      b: NO\n      y: n\n');
    expect(host(inv, 'backend-1').vars).toEqual({ a: true, b: false, y: 'n' });
  });

  it('supports YAML anchors and merge keys, as PyYAML does', async () => {
    const inv = await load(yaml`
      all:
        vars:
          ssh: &ssh
            ansible_user: ops
        children:
          backends:
            hosts:
              backend-1:
                <<: *ssh
                ansible_port: 2222
    `);
    expect(host(inv, 'backend-1')).toMatchObject({ user: 'ops', port: 2222 });
  });
});

describe('connection settings', () => {
  it("maps the ansible_* connection vars, with Ansible's aliases", async () => {
    const inv = await load(yaml`
      backends:
        hosts:
          backend-1:
            ansible_host: 10.0.0.1
            ansible_port: "2222"
            ansible_user: ops
            ansible_become: yes
            ansible_become_user: root
            ansible_become_method: sudo
            ansible_connection: ssh
            ansible_python_interpreter: /usr/bin/python3
            ansible_become_pass: hunter2-sudo
          backend-2:
            ansible_ssh_host: 10.0.0.2
            ansible_ssh_port: 2200
            ansible_ssh_user: legacy
            ansible_become: "yes"
    `);
    const b1 = host(inv, 'backend-1');
    expect(b1).toMatchObject({ address: '10.0.0.1', port: 2222, user: 'ops', become: true, becomeUser: 'root' });
    expect(b1.becomePassword).toBeInstanceOf(Secret);
    expect(b1.becomePassword?.reveal()).toBe('hunter2-sudo');
    expect(host(inv, 'backend-2')).toMatchObject({ address: '10.0.0.2', port: 2200, user: 'legacy', become: true });
  });

  it('lets the first alias win, as current Ansible does, and warns about the other', async () => {
    const inv = await load(yaml`
      backends:
        vars:
          ansible_host: from-group
        hosts:
          backend-1:
            ansible_ssh_host: from-host
    `);
    expect(host(inv, 'backend-1').address).toBe('from-group');
    expect(inv.warnings).toEqual([
      'prod.yml:6: backends.hosts.backend-1.ansible_ssh_host: ignored: ansible_host is also set and wins (the first of ansible_host, ansible_ssh_host, as in Ansible)',
    ]);
  });

  it('reads jump hosts from -J and -o ProxyJump, keeps the raw args, warns about the rest', async () => {
    const inv = await load(yaml`
      backends:
        hosts:
          backend-1:
            ansible_ssh_common_args: -J jump@bastion:2222,10.0.0.9
          backend-2:
            ansible_ssh_common_args: '-o ProxyJump=ssh://ops@[2001:db8::1]:22 -o StrictHostKeyChecking=no -C'
          backend-3:
            ansible_ssh_common_args: '-o "ProxyJump none"'
    `);
    expect(host(inv, 'backend-1').proxyJump).toEqual([{ user: 'jump', host: 'bastion', port: 2222 }, { host: '10.0.0.9' }]);
    expect(host(inv, 'backend-1').sshCommonArgs).toBe('-J jump@bastion:2222,10.0.0.9');
    expect(host(inv, 'backend-2').proxyJump).toEqual([{ user: 'ops', host: '2001:db8::1', port: 22 }]);
    expect(host(inv, 'backend-3').proxyJump).toBeUndefined();
    expect(inv.warnings).toEqual([
      'prod.yml:6: backends.hosts.backend-2.ansible_ssh_common_args: ignored, rollout reads only -J / ProxyJump and the known_hosts options here: -o StrictHostKeyChecking=no -C (host keys are always checked against known_hosts)',
    ]);
  });
});

describe('sensu settings and paths', () => {
  it('resolves local paths against the inventory directory and ~, and applies defaults', async () => {
    ws.touch('pki/ca.pem', 'pki/backend-1.pem', 'pki/backend-1-key.pem', 'home/.ssh/id_ed25519', 'keys/ops');
    const inv = await load(
      yaml`
      all:
        vars:
          ansible_ssh_private_key_file: ~/.ssh/id_ed25519
          sensu_ca_file: pki/ca.pem
        children:
          backends:
            hosts:
              backend-1:
                sensu_cert_file: pki/backend-1.pem
                sensu_key_file: ./pki/../pki/backend-1-key.pem
                sensu_api_key: key-0123456789
                sensu_extra_sans: [sensu.example.com, 10.0.0.100]
          agents:
            hosts:
              agent-1:
                ansible_ssh_private_key_file: ${join(ws.dir, 'keys/ops')}
                sensu_agent_config: /opt/sensu/agent.yml
                rollout_config_outside_etc: true
                sensu_entity_name: agent-one
    `,
      { checkFiles: true },
    );
    const b = host(inv, 'backend-1');
    expect(b.privateKeyFile).toBe(join(ws.dir, 'home/.ssh/id_ed25519'));
    expect(b.sensu).toMatchObject({
      caFile: join(ws.dir, 'pki/ca.pem'),
      certFile: join(ws.dir, 'pki/backend-1.pem'),
      keyFile: join(ws.dir, 'pki/backend-1-key.pem'),
      backendConfig: '/etc/sensu/backend.yml',
      agentConfig: '/etc/sensu/agent.yml',
      extraSans: ['sensu.example.com', '10.0.0.100'],
    });
    expect(b.sensu.apiKey?.reveal()).toBe('key-0123456789');
    const a = host(inv, 'agent-1');
    expect(a.privateKeyFile).toBe(join(ws.dir, 'keys/ops'));
    expect(a.sensu).toMatchObject({ agentConfig: '/opt/sensu/agent.yml', entityName: 'agent-one', extraSans: [] });
    expect(inv.dir).toBe(ws.dir);
    expect(inv.file).toBe(join(ws.dir, 'prod.yml'));
  });

  it('substitutes {{ inventory_hostname }} and other vars, so one group var serves a range', async () => {
    ws.touch('pki/agent-01.pem', 'pki/agent-01.key', 'pki/agent-02.pem', 'pki/agent-02.key', 'pki/ca.pem');
    const inv = await load(
      yaml`
      all:
        vars:
          pki: pki
        children:
          backends:
            hosts: { backend-1: }
          agents:
            vars:
              sensu_ca_file: "{{ inventory_dir }}/{{ pki }}/ca.pem"
              sensu_client_cert_file: "{{ pki }}/{{ inventory_hostname }}.pem"
              sensu_client_key_file: "{{ pki }}/{{ inventory_hostname }}.key"
              sensu_extra_sans: "{{ sans }}"
              sans: ["{{ inventory_hostname_short }}.internal"]
            hosts:
              agent-[01:02]:
    `,
      { checkFiles: true },
    );
    expect(host(inv, 'agent-02').sensu).toMatchObject({
      caFile: join(ws.dir, 'pki/ca.pem'),
      clientCertFile: join(ws.dir, 'pki/agent-02.pem'),
      clientKeyFile: join(ws.dir, 'pki/agent-02.key'),
      extraSans: ['agent-02.internal'],
    });
  });

  it('keeps !unsafe values as written', async () => {
    const inv = await load(yaml`
      backends:
        hosts:
          backend-1:
            ansible_ssh_common_args: !unsafe "-o ProxyCommand={{ not a template }}"
    `);
    expect(host(inv, 'backend-1').sshCommonArgs).toBe('-o ProxyCommand={{ not a template }}');
  });

  it('wraps every secret so printing the inventory never shows one', async () => {
    const inv = await load(yaml`
      all:
        vars:
          ansible_become_password: s3cret-become
          sensu_api_user: admin
          sensu_api_password: s3cret-api
          sensu_api_key: s3cret-key
          db_password: s3cret-own
        children:
          backends:
            hosts: { backend-1: }
    `);
    const printed = [
      JSON.stringify(inv),
      String(inv.hosts[0]?.becomePassword),
      // eslint-disable-next-line @typescript-eslint/restrict-template-expressions -- what a careless template literal prints is the point
      `${inv.hosts[0]?.sensu.apiKey}`,
      inspect(inv, { depth: 10 }),
    ];
    for (const text of printed) expect(text).not.toMatch(/s3cret/);
    expect(JSON.stringify(inv)).toContain('"becomePassword":"[secret]"');
    const b = host(inv, 'backend-1');
    expect(b.sensu.apiPassword?.reveal()).toBe('s3cret-api');
    expect((b.vars.db_password as Secret).reveal()).toBe('s3cret-own');
    expect(b.vars.sensu_api_user).toBe('admin');
  });

  it('warns that group_vars/ and host_vars/ are not read', async () => {
    mkdirSync(join(ws.dir, 'group_vars'));
    const inv = await load('backends:\n  hosts:\n    backend-1:\n');
    expect(inv.warnings).toEqual(['prod.yml: group_vars/ next to the inventory is not read by rollout: put the variables it needs in the inventory file']);
  });
});
