/**
 * `rollout check` end to end: the real CLI against the lab, including a host that needs a sudo
 * password, an unreachable host, and bad input, with the exit codes the README promises.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rollout } from './helpers/cli.js';
import { useLab } from './helpers/lab-fixture.js';

const getLab = useLab({ backends: 2, agents: 2, net: 41, sudoPasswordHosts: ['agent-02'] });

describe('rollout check', () => {
  it('shows every host ready, exit 0, and never prints the become password', async () => {
    const lab = getLab();
    const r = await rollout(['check', '-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const h of lab.state.hosts)
      expect(r.stdout).toMatch(
        new RegExp(`^${h.name}\\s+${h.role}\\s+${h.address.replace(/\./g, '\\.')}:22\\s+ok\\s+ok\\s+/etc/sensu/${h.role}\\.yml\\s+active`, 'm'),
      );
    expect(r.stdout).toContain('all 4 hosts ready');
    expect(r.stdout + r.stderr).not.toContain(lab.state.becomePassword);
  });

  it('--limit narrows the hosts; --json prints a document', async () => {
    const lab = getLab();
    const r = await rollout(['check', '-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath, '--limit', 'agents', '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { hosts: { host: string }[]; ok: boolean };
    expect(doc.hosts.map((h) => h.host)).toEqual(['agent-01', 'agent-02']);
    expect(doc.ok).toBe(true);
  });

  it('exits 2 naming the host when sudo needs a password the inventory does not give', async () => {
    const lab = getLab();
    const inv = readFileSync(lab.inventoryPath, 'utf8').replace(/\n\s+ansible_become_password: .*/, '');
    const file = `${lab.dir}/no-password.yml`;
    writeFileSync(file, inv);
    const r = await rollout(['check', '-i', file, '--known-hosts', lab.knownHostsPath]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^agent-02 .* ok\s+no: sudo asks for a password/m);
    expect(r.stdout).toContain('1 of 4 hosts not ready: agent-02');
  });

  it('exits 2 for an unreachable host and a host key it does not know, one line each', async () => {
    const lab = getLab();
    const inv = readFileSync(lab.inventoryPath, 'utf8').replace('ansible_host: 127.41.1.1', 'ansible_host: 127.41.9.9');
    const file = `${lab.dir}/unreachable.yml`;
    writeFileSync(file, inv);
    const r = await rollout(['check', '-i', file, '--known-hosts', lab.knownHostsPath]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^agent-01 .*no: \(127\.41\.9\.9:22\): connection refused/m);
    const strangers = await rollout(['check', '-i', lab.inventoryPath, '--known-hosts', `${lab.dir}/nonexistent`]);
    expect(strangers.code).toBe(2);
    expect(strangers.stdout).toMatch(/is not in known_hosts/);
    expect(strangers.stderr).not.toMatch(/at .*\.ts:\d+/);
  });

  it('-u and --private-key log in where the inventory names no user or key; where it does, the inventory wins (as in Ansible)', async () => {
    const lab = getLab();
    const bare = readFileSync(lab.inventoryPath, 'utf8')
      .replace(/\n\s+ansible_user: .*/, '')
      .replace(/\n\s+ansible_ssh_private_key_file: .*/, '');
    expect(bare).not.toMatch(/ansible_user|ansible_ssh_private_key_file/);
    const file = `${lab.dir}/no-login.yml`;
    writeFileSync(file, bare);
    // No ssh-agent and a home without ~/.ssh: only the flags can log in.
    const env = { SSH_AUTH_SOCK: '', HOME: lab.dir };
    const base = ['check', '-i', file, '--known-hosts', lab.knownHostsPath, '--limit', 'backends'];
    const without = await rollout(base, { env });
    expect(without.code).toBe(2);
    const withFlags = await rollout([...base, '-u', 'labops', '--private-key', lab.keyPath], { env });
    expect(withFlags.stderr).toBe('');
    expect(withFlags.code).toBe(0);
    expect(withFlags.stdout).toContain('all 2 hosts ready');
    const overridden = await rollout(
      ['check', '-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath, '--limit', 'backends', '-u', 'nobody', '--private-key', '/nonexistent'],
      { env },
    );
    expect(overridden.code).toBe(0);
  });

  it('--list-hosts prints the selection and connects to nothing; --limit @file reads one pattern per line', async () => {
    const lab = getLab();
    const retry = `${lab.dir}/secure.retry`;
    writeFileSync(retry, 'backend-2\n# a comment\n\nagent-0*\n');
    // known_hosts that trusts nobody: a connection attempt would fail the command.
    const r = await rollout(['check', '-i', lab.inventoryPath, '--known-hosts', `${lab.dir}/nonexistent`, '--limit', `@${retry}`, '--list-hosts']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0])).toEqual(['hosts', 'backend-2', 'agent-01', 'agent-02', '']);
    expect(r.stdout).toMatch(/^ {2}backend-2\s+backend\s+127\.41\.0\.2:22$/m);
    const missing = await rollout(['secure', '-i', lab.inventoryPath, '--limit', '@/nonexistent.retry', '--list-hosts']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--limit @/nonexistent.retry: cannot read /nonexistent.retry (ENOENT)');
  });

  it('the lab inventory works as written: its UserKnownHostsFile is read as ssh would, no --known-hosts', async () => {
    const lab = getLab();
    expect(readFileSync(lab.inventoryPath, 'utf8')).toContain('ansible_ssh_common_args: -o UserKnownHostsFile={{ inventory_dir }}/known_hosts');
    // A home without ~/.ssh/known_hosts: only the inventory's option can vouch for the hosts.
    const r = await rollout(['check', '-i', lab.inventoryPath], { env: { HOME: lab.dir, SSH_AUTH_SOCK: '' } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('all 4 hosts ready');
    // --known-hosts still replaces it.
    const strangers = await rollout(['check', '-i', lab.inventoryPath, '--known-hosts', `${lab.dir}/nonexistent`], { env: { HOME: lab.dir } });
    expect(strangers.code).toBe(2);
    expect(strangers.stdout).toMatch(/is not in known_hosts/);
  });

  it('exits 2 with every inventory problem at once, no stack trace', async () => {
    const lab = getLab();
    const file = `${lab.dir}/bad.yml`;
    writeFileSync(file, 'all:\n  children:\n    backends:\n      hosts:\n        b1:\n          ansible_port: 99999\n          ansible_prot: 22\n');
    const r = await rollout(['check', '-i', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('all.children.backends.hosts.b1.ansible_port');
    expect(r.stderr).toMatch(/did you mean .?ansible_port/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
