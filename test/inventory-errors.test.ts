/**
 * Every inventory problem is reported at once, as `<file>:<line>: <dot.path>: <message>`, in one
 * InputError; and no message ever shows a secret.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/errors.js';
import { loadInventory } from '../src/inventory/index.js';
import { Secret } from '../src/secret.js';
import { inputError, workspace, yaml } from './fixtures/inventory/workspace.js';
import type { Workspace } from './fixtures/inventory/workspace.js';

let ws: Workspace;
beforeEach(() => {
  ws = workspace();
});
afterEach(() => ws.remove());

/** Loads `text` as prod.yml and returns the issues it must fail with. */
async function problems(text: string, checkFiles = false): Promise<string[]> {
  const file = ws.write('prod.yml', text);
  const err = await inputError(loadInventory(file, { displayName: 'prod.yml', checkFiles, homeDir: ws.dir }));
  return [...err.issues];
}

const BACKEND = 'backends:\n  hosts:\n    backend-1:\n';

describe('all problems at once', () => {
  it('reports every kind of mistake in one InputError, sorted by line', async () => {
    copyFileSync(join(import.meta.dirname, 'fixtures/inventory/broken.yml'), join(ws.dir, 'prod.yml'));
    const err = await inputError(loadInventory(join(ws.dir, 'prod.yml'), { displayName: 'prod.yml' }));
    const at = (line: number, rest: string): string => `prod.yml:${line}: all.children.${rest}`;
    expect(err.message).toBe('inventory prod.yml has 18 problems');
    expect(err.exitCode).toBe(ExitCode.BadInput);
    expect(err.place.file).toBe('prod.yml');
    expect(err.issues).toEqual([
      `prod.yml:5: all.vars.sensu_ca_file: file not found: ${join(ws.dir, 'pki/missing-ca.pem')}`,
      at(10, 'backends.hosts.backend-1.ansible_prot: unknown variable: did you mean ansible_port?'),
      at(11, 'backends.hosts.backend-1.ansible_port: expected integer 1–65535'),
      at(13, 'backends.hosts.backend-2.ansible_port: expected integer 1–65535'),
      at(14, 'backends.hosts.backend-2.sensu_cert_file: set without sensu_key_file: a certificate needs its private key'),
      at(14, `backends.hosts.backend-2.sensu_cert_file: file not found: ${join(ws.dir, 'pki/backend-2.pem')}`),
      at(16, 'backends.hosts.backend-3: host "backend-3" is listed twice in the same hosts mapping (YAML keys must be unique)'),
      at(18, 'agents.childs: unknown group key: did you mean children?'),
      at(20, 'agents.host: unknown group key: did you mean hosts?'),
      at(22, 'agents.ansible_user: a variable cannot sit directly in a group: put it under `vars:` (or under a host)'),
      at(24, 'agents.hosts.agent-[01:5]: bad host range [01:5]: zero-padded begin and end must have the same width'),
      at(25, 'agents.hosts.agent-[a:3]: bad host range [a:3]: begin and end must both be letters or both numbers'),
      at(
        26,
        'agents.hosts.backend-2: host "backend-2" is in both backends and agents: a host has one role (for a machine that runs both, list it twice under two names with the same ansible_host)',
      ),
      at(28, 'agents.hosts.agent-9.sensu_extra_sans: expected a list of host names or addresses'),
      at(29, 'agents.hosts.agent-9.sensu_backend_config: must be an absolute path on the host (starting with /)'),
      at(30, 'agents.hosts.agent-9.sensu_colour: unknown variable: rollout reads the ansible_* and sensu_* variables listed in inventory/README.md'),
      at(31, 'agents.hosts.agent-9.ansible_password: SSH password authentication is not supported: use a key (ansible_ssh_private_key_file) or an ssh-agent'),
      at(32, 'agents.hosts.agent-9.ansible_connection: rollout connects over SSH only: ansible_connection must be ssh (or smart, paramiko)'),
    ]);
    // The password on line 31 is not in any message.
    expect(err.issues.join('\n')).not.toContain('hunter2');
  });

  it('reports a bad group var once, where it is written, not once per host', async () => {
    expect(
      await problems(yaml`
        all:
          children:
            backends:
              hosts: { backend-1: }
            agents:
              vars:
                ansible_port: 0
              hosts:
                agent-[01:20]:
      `),
    ).toEqual(['prod.yml:7: all.children.agents.vars.ansible_port: expected integer 1–65535']);
  });
});

describe('file-level problems', () => {
  it('reports every YAML syntax error with its line, quoting no source', async () => {
    const issues = await problems(yaml`
      all:
        vars:
          ansible_become_password: "p4ss: [unclosed
        children: [
    `);
    expect(issues.length).toBeGreaterThan(0);
    for (const issue of issues) expect(issue).toMatch(/^prod\.yml:\d+: YAML syntax: /);
    expect(issues.join('\n')).not.toContain('p4ss');
  });

  it('points at an alias without an anchor', async () => {
    expect(await problems(`${BACKEND}      ansible_user: *ops\n`)).toEqual([
      'prod.yml:4: backends.hosts.backend-1.ansible_user: YAML: alias *ops has no anchor &ops before it',
    ]);
  });

  it('rejects an empty inventory', async () => {
    expect(await problems('')).toEqual(['prod.yml:1: inventory is empty: expected groups such as `all:` with `children:` backends and agents']);
    expect(await problems('# nothing yet\n')).toHaveLength(1);
    expect(await problems('{}\n')).toHaveLength(1);
  });

  it('rejects a top level that is not a mapping of groups', async () => {
    expect(await problems('- backend-1\n- agent-1\n')).toEqual(['prod.yml:1: an inventory is a mapping of groups, usually starting with `all:`']);
  });

  it('recognises INI and dynamic-inventory JSON and says how to convert', async () => {
    expect(await problems('# hosts\n[backends]\nbackend-1 ansible_host=10.0.0.1\n')).toEqual([
      "prod.yml:2: this looks like an INI inventory: rollout reads Ansible's YAML format (convert with `ansible-inventory -i FILE --list --yaml`)",
    ]);
    expect(await problems('{"_meta": {"hostvars": {}}, "backends": {"hosts": ["backend-1"]}}\n')).toEqual([
      'prod.yml:1: _meta: this is the dynamic-inventory JSON format: export the YAML format with `ansible-inventory -i FILE --list --yaml`',
      'prod.yml:1: backends.hosts: expected a mapping of host names (`name:` or `name: {vars}`), not a list',
      'prod.yml:1: backends: no hosts in backends: rollout needs at least one Sensu backend',
    ]);
  });

  it('names a missing inventory file', async () => {
    const err = await inputError(loadInventory(join(ws.dir, 'nope.yml'), { displayName: 'nope.yml' }));
    expect(err.message).toBe('inventory nope.yml not found');
    expect(err.issues).toEqual([`nope.yml: file not found (${join(ws.dir, 'nope.yml')})`]);
  });
});

describe('structure', () => {
  it('needs hosts in backends, and points at the group', async () => {
    expect(await problems('all:\n  children:\n    backends:\n    agents:\n      hosts:\n        agent-1:\n')).toEqual([
      'prod.yml:3: all.children.backends: no hosts in backends: rollout needs at least one Sensu backend',
    ]);
  });

  it('suggests the role group a misspelt group was meant to be', async () => {
    expect(await problems('backend:\n  hosts:\n    backend-1:\nagents:\n  hosts:\n    agent-1:\n')).toEqual([
      'prod.yml:1: backend: group "backend" is not a role group: did you mean backends? (its hosts are in neither backends nor agents, so rollout would skip them)',
    ]);
    expect(await problems('agents:\n  hosts:\n    agent-1:\n')).toEqual([
      'prod.yml:1: no backends group: rollout needs at least one Sensu backend, in a group named backends',
    ]);
  });

  it('rejects hosts given as a list, top-level hosts:, and a loop of children', async () => {
    expect(
      await problems(yaml`
        hosts:
          backend-1:
        backends:
          hosts:
            - backend-1
        a:
          children:
            b:
              children:
                a:
      `),
    ).toEqual([
      'prod.yml:1: hosts: "hosts:" at the top level is not a group: put it under a group such as `all:`',
      'prod.yml:3: backends: no hosts in backends: rollout needs at least one Sensu backend',
      'prod.yml:4: backends.hosts: expected a mapping of host names (`name:` or `name: {vars}`), not a list',
      'prod.yml:10: a.children.b.children.a: group "a" cannot be a child of "b": "b" is already inside "a" (a loop)',
    ]);
  });

  it('keeps the other hosts of a hosts mapping when one has malformed vars', async () => {
    expect(await problems('backends:\n  hosts:\n    backend-1: [oops]\n    backend-2:\n')).toEqual([
      "prod.yml:3: backends.hosts.backend-1: expected the host's variables as a mapping (or nothing)",
    ]);
  });

  it('reports bad host ranges', async () => {
    expect(
      await problems(yaml`
        backends:
          hosts:
            backend-1:
            a-[1:]:
            b-[5:1]:
            c-[1:3:0]:
            d-[1:2:3:4]:
            e-[1:3:
            f-[x:y:z]:
            g-[0:99999]:
      `),
    ).toEqual([
      'prod.yml:4: backends.hosts.a-[1:]: bad host range [1:]: missing end',
      'prod.yml:5: backends.hosts.b-[5:1]: bad host range [5:1]: begin is greater than end',
      'prod.yml:6: backends.hosts.c-[1:3:0]: bad host range [1:3:0]: step must be a positive integer',
      'prod.yml:7: backends.hosts.d-[1:2:3:4]: bad host range [1:2:3:4]: expected [begin:end] or [begin:end:step]',
      'prod.yml:8: backends.hosts.e-[1:3: "[" without "]" in host range',
      'prod.yml:9: backends.hosts.f-[x:y:z]: bad host range [x:y:z]: step must be a positive integer',
      'prod.yml:10: backends.hosts.g-[0:99999]: host range expands to more than 10000 hosts',
    ]);
  });

  it('rejects ansible-vault values without quoting them', async () => {
    const issues = await problems(yaml`
      backends:
        hosts:
          backend-1:
            ansible_become_password: !vault |
              $ANSIBLE_VAULT;1.1;AES256
              6162636465
    `);
    expect(issues).toEqual([
      'prod.yml:4: backends.hosts.backend-1.ansible_become_password: ansible-vault encrypted values are not supported (rollout cannot decrypt them): write the value in plain text, in an inventory only you can read',
    ]);
    // Where no backend or agent reads it, a vault value is someone else's business.
    const file = ws.write(
      'other.yml',
      `${BACKEND}      my_token: !vault |\n        $ANSIBLE_VAULT;1.1;AES256\nwin:\n  hosts:\n    win-1:\n      ansible_password: !vault |\n        $ANSIBLE_VAULT;1.1;AES256\n`,
    );
    const inv = await loadInventory(file, { checkFiles: false });
    expect(inv.hosts[0]?.vars.my_token).toBeInstanceOf(Secret);
  });
});

describe('variables', () => {
  it('suggests the known name for typos, also without the ansible_ prefix', async () => {
    expect(
      await problems(yaml`
        all:
          chidlren:
          var:
            sensu_cert: pki/x.pem
          children:
            backends:
              hosts:
                backend-1:
                  ansbile_host: 10.0.0.1
                  sensu_ca_fil: pki/ca.pem
                  ansible_foo: 1
                  my_own_setting: kept
      `),
    ).toEqual([
      'prod.yml:2: all.chidlren: unknown group key: did you mean children?',
      'prod.yml:3: all.var: unknown group key: did you mean vars?',
      'prod.yml:9: all.children.backends.hosts.backend-1.ansbile_host: unknown variable: did you mean ansible_host?',
      'prod.yml:10: all.children.backends.hosts.backend-1.sensu_ca_fil: unknown variable: did you mean sensu_ca_file?',
      'prod.yml:11: all.children.backends.hosts.backend-1.ansible_foo: unknown variable: rollout reads the ansible_* and sensu_* variables listed in inventory/README.md',
    ]);
  });

  it('checks vars only for backends and agents: other hosts may use any Ansible feature', async () => {
    const file = ws.write(
      'prod.yml',
      `${BACKEND}windows:\n  hosts:\n    win-1:\n      ansible_connection: winrm\n      ansible_winrm_transport: ntlm\n      ansible_password: x\n`,
    );
    const inv = await loadInventory(file, { checkFiles: false });
    expect(inv.ignoredHosts).toEqual(['win-1']);
  });

  it('refuses a become user other than root, and become switched off, naming the host and where it is set', async () => {
    expect(
      await problems(yaml`
        backends:
          vars:
            ansible_become_user: deploy
          hosts:
            backend-1:
            backend-2:
              ansible_become: false
            backend-3:
              ansible_become_user: root
              ansible_become: "yes"
      `),
    ).toEqual([
      'prod.yml:3: backends.vars.ansible_become_user: host backend-1: become user "deploy" is not supported: rollout runs every command as root (sudo to root); remove ansible_become_user or set it to root',
      'prod.yml:3: backends.vars.ansible_become_user: host backend-2: become user "deploy" is not supported: rollout runs every command as root (sudo to root); remove ansible_become_user or set it to root',
      'prod.yml:7: backends.hosts.backend-2.ansible_become: host backend-2: ansible_become is false, but rollout needs root on every host and always uses sudo to root; remove it or set it to true',
    ]);
  });

  it('types the variables rollout reads', async () => {
    expect(
      await problems(yaml`
        backends:
          hosts:
            backend-1:
              ansible_host: "two words"
              ansible_user: ""
              ansible_become: maybe
              ansible_become_method: su
              ansible_group_priority: high
              sensu_extra_sans: [ok.example.com, 7, "a b"]
              sensu_entity_name: "bad/name"
              sensu_api_user: admin
      `),
    ).toEqual([
      'prod.yml:4: backends.hosts.backend-1.ansible_host: must not contain spaces',
      'prod.yml:5: backends.hosts.backend-1.ansible_user: must not be empty',
      'prod.yml:6: backends.hosts.backend-1.ansible_become: expected true or false',
      'prod.yml:7: backends.hosts.backend-1.ansible_become_method: rollout escalates with sudo only: ansible_become_method must be sudo',
      'prod.yml:8: backends.hosts.backend-1.ansible_group_priority: expected an integer',
      'prod.yml:9: backends.hosts.backend-1.sensu_extra_sans[1]: expected a host name or address',
      'prod.yml:9: backends.hosts.backend-1.sensu_extra_sans[2]: must not contain spaces',
      'prod.yml:10: backends.hosts.backend-1.sensu_entity_name: may contain only letters, digits, _, . and -',
      'prod.yml:11: backends.hosts.backend-1.sensu_api_user: set without sensu_api_password: the API user logs in with a password',
    ]);
  });

  it('names every missing file by its resolved path', async () => {
    ws.touch('pki/ca.pem');
    expect(
      await problems(
        yaml`
          all:
            vars:
              ansible_ssh_private_key_file: ~/.ssh/nope
              sensu_ca_file: pki/ca.pem
            children:
              backends:
                hosts:
                  backend-1:
                    sensu_cert_file: pki/backend-1.pem
                    sensu_key_file: /nonexistent/backend-1.key
                    sensu_dashboard_cert_file: pki
                    sensu_dashboard_key_file: ~other/key.pem
        `,
        true,
      ),
    ).toEqual([
      `prod.yml:3: all.vars.ansible_ssh_private_key_file: file not found: ${join(ws.dir, '.ssh/nope')}`,
      `prod.yml:9: all.children.backends.hosts.backend-1.sensu_cert_file: file not found: ${join(ws.dir, 'pki/backend-1.pem')}`,
      'prod.yml:10: all.children.backends.hosts.backend-1.sensu_key_file: file not found: /nonexistent/backend-1.key',
      `prod.yml:11: all.children.backends.hosts.backend-1.sensu_dashboard_cert_file: not a regular file: ${join(ws.dir, 'pki')}`,
      'prod.yml:12: all.children.backends.hosts.backend-1.sensu_dashboard_key_file: ~user paths are not supported: write the path out, or use ~/ for your own home',
    ]);
  });

  it('reports template problems where the template is written', async () => {
    expect(
      await problems(yaml`
        backends:
          vars:
            sensu_cert_file: "pki/{{ inventory_hostname | upper }}.pem"
            sensu_key_file: "pki/{{ missing }}.key"
            ansible_host: "{{ ansible_host }}"
            sensu_extra_sans: ["{{ inventory_hostname }}", "{% if x %}y{% endif %}"]
          hosts:
            backend-[1:2]:
      `),
    ).toEqual([
      'prod.yml:3: backends.vars.sensu_cert_file: unsupported template {{ inventory_hostname | upper }}: rollout substitutes only {{ variable }} (no filters, expressions or {% %} blocks)',
      'prod.yml:4: backends.vars.sensu_key_file: undefined variable "missing" in template (rollout reads only the inventory file: no group_vars/, host_vars/ or vault)',
      'prod.yml:5: backends.vars.ansible_host: template variables nest too deep: does a variable refer to itself?',
      'prod.yml:6: backends.vars.sensu_extra_sans: unsupported template syntax: rollout substitutes only {{ variable }} (no filters, expressions or {% %} blocks)',
    ]);
  });

  it('reports malformed SSH arguments', async () => {
    expect(
      await problems(yaml`
        backends:
          hosts:
            backend-1:
              ansible_ssh_common_args: "-J 'bastion"
            backend-2:
              ansible_ssh_common_args: -J bastion:99999
            backend-3:
              ansible_ssh_common_args: -J a -o ProxyJump=b
      `),
    ).toEqual([
      "prod.yml:4: backends.hosts.backend-1.ansible_ssh_common_args: unbalanced ' quote in SSH arguments",
      'prod.yml:6: backends.hosts.backend-2.ansible_ssh_common_args: -J bastion:99999: bad port in jump host "bastion:99999" (expected integer 1–65535)',
      'prod.yml:8: backends.hosts.backend-3.ansible_ssh_common_args: more than one jump host option (-J / ProxyJump): give one, with hops separated by ","',
    ]);
  });

  it('rejects agents sharing an explicit entity name', async () => {
    expect(await problems(`${BACKEND}agents:\n  vars:\n    sensu_entity_name: web\n  hosts:\n    agent-[1:3]:\n`)).toEqual([
      'prod.yml:6: agents.vars.sensu_entity_name: entity name "web" is shared by agent-1, agent-2, agent-3: each agent needs its own',
    ]);
  });
});

describe('secrets never appear in messages', () => {
  const SECRET = 'Tr0ub4dor-and-3';

  it('a wrong type on a secret prints the path, not the value', async () => {
    const issues = await problems(yaml`
      backends:
        hosts:
          backend-1:
            ansible_become_password: [${SECRET}]
            sensu_api_password: 123456789
            sensu_api_key: { key: ${SECRET} }
            ansible_ssh_pass: ${SECRET}
    `);
    expect(issues).toEqual([
      'prod.yml:4: backends.hosts.backend-1.ansible_become_password: expected a string (quote it in YAML)',
      'prod.yml:5: backends.hosts.backend-1.sensu_api_password: expected a string (quote it in YAML)',
      'prod.yml:6: backends.hosts.backend-1.sensu_api_key: expected a string (quote it in YAML)',
      'prod.yml:7: backends.hosts.backend-1.ansible_ssh_pass: SSH password authentication is not supported: use a key (ansible_ssh_private_key_file) or an ssh-agent',
    ]);
    expect(issues.join('\n')).not.toContain(SECRET);
    expect(issues.join('\n')).not.toContain('123456789');
  });

  it('a template error on a secret does not quote the template', async () => {
    const issues = await problems(`${BACKEND}      ansible_become_password: "${SECRET}{{ x | b64decode }}"\n`);
    expect(issues).toEqual([
      'prod.yml:4: backends.hosts.backend-1.ansible_become_password: unsupported template syntax: rollout substitutes only {{ variable }} (no filters, expressions or {% %} blocks)',
    ]);
  });

  it('a secret that happens to be a host name is still redacted from messages', async () => {
    const issues = await problems(yaml`
      all:
        vars:
          sensu_api_user: admin
          sensu_api_password: agent-secret-host
        children:
          backends:
            hosts:
              agent-secret-host:
          agents:
            hosts:
              agent-secret-host:
    `);
    expect(issues.join('\n')).not.toContain('agent-secret-host');
    expect(issues.join('\n')).toContain('[secret]');
  });
});

describe('names and paths that reach a host as root', () => {
  it('refuses host names that are not host names: slashes, .., a leading dot', async () => {
    const found = await problems(yaml`
      all:
        children:
          backends:
            hosts:
              ../../x:
              "a/b":
              .hidden:
              good-1.example.com:
          agents:
            hosts:
              "2001:db8::1":
    `);
    expect(found.filter((p) => p.includes('is not a host name'))).toHaveLength(3);
    expect(found.join('\n')).toContain('"../../x" is not a host name');
    expect(found.join('\n')).not.toContain('good-1.example.com');
    expect(found.join('\n')).not.toContain('2001:db8::1');
  });

  it('refuses a config path with .. or outside /etc unless the host says so', async () => {
    const found = await problems(yaml`
      all:
        children:
          backends:
            hosts:
              backend-1:
                sensu_backend_config: /etc/sensu/../shadow
              backend-2:
                sensu_backend_config: /opt/sensu/backend.yml
              backend-3:
                sensu_backend_config: /opt/sensu/backend.yml
                rollout_config_outside_etc: true
    `);
    expect(found.some((p) => /backend-1\.sensu_backend_config: must not contain \.\./.test(p))).toBe(true);
    expect(found.some((p) => /backend-2\.sensu_backend_config: must be under \/etc\//.test(p))).toBe(true);
    expect(found.join('\n')).not.toContain('backend-3');
  });
});
