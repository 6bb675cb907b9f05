/**
 * The SSH transport against the lab's real sshd hosts: host key checking in every known_hosts
 * form, key and agent auth, passphrases, jump hosts, sudo with and without a password, atomic
 * writes, and the plain one-line errors for unreachable hosts and timeouts.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ConnectError, HostChangedError, RemoteCommandError } from '../src/errors.js';
import { Secret } from '../src/secret.js';
import { loadInventory } from '../src/inventory/index.js';
import { connect, type SshSettings, type SshTarget } from '../src/transport/ssh.js';
import { sshTargetOf } from '../src/transport/targets.js';
import type { FileWrite } from '../src/transport/write-script.js';
import { useLab } from './helpers/lab-fixture.js';
import { killSshd, startSshd } from './lab/host-faults.js';
import { failure } from './helpers/failure-checks.js';

const run = promisify(execFile);
// Port 2222 so known_hosts holds `[address]:port` entries.
const getLab = useLab({ backends: 1, agents: 2, net: 42, sshPort: 2222, sudoPasswordHosts: ['agent-02'] });

function target(name: string, extra: Partial<SshTarget> = {}): SshTarget {
  const lab = getLab();
  const h = lab.host(name);
  return { name, address: h.address, port: h.sshPort, user: lab.state.loginUser, privateKeyFile: lab.keyPath, ...extra };
}

function settings(extra: Partial<SshSettings> = {}): SshSettings {
  return { knownHostsFiles: [getLab().knownHostsPath], connectTimeoutMs: 5000, ...extra };
}

describe('host keys', () => {
  it('connects when known_hosts has the [host]:port entry', async () => {
    expect(readFileSync(getLab().knownHostsPath, 'utf8')).toMatch(/^\[127\.42\.0\.1\]:2222 ssh-ed25519 /m);
    const t = await connect(target('backend-1'), settings());
    expect((await t.run('hostname')).stdout.toString().trim()).toBe('backend-1');
    await t.close();
  });

  it('accepts hashed known_hosts entries', async () => {
    const lab = getLab();
    const file = `${lab.dir}/hashed_known_hosts`;
    writeFileSync(file, readFileSync(lab.knownHostsPath));
    await run('ssh-keygen', ['-H', '-f', file]);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^\|1\|/m);
    expect(text).not.toContain('127.42.');
    const t = await connect(target('agent-01'), settings({ knownHostsFiles: [file] }));
    expect((await t.run('hostname')).stdout.toString().trim()).toBe('agent-01');
    await t.close();
  });

  it('refuses an unknown host with its fingerprint and how to add it, and trusts it only when asked', async () => {
    const lab = getLab();
    const file = `${lab.dir}/empty_known_hosts`;
    writeFileSync(file, '');
    const err = await failure(connect(target('backend-1'), settings({ knownHostsFiles: [file] })));
    expect(err).toBeInstanceOf(ConnectError);
    const fp = (await run('ssh-keygen', ['-lf', `${lab.host('backend-1').dir}/ssh_host_ed25519_key.pub`])).stdout.split(' ')[1];
    expect(err.message).toContain(`host key ${fp} is not in known_hosts`);
    expect((err as ConnectError).hint).toMatch(/ssh-keyscan -p 2222 127\.42\.0\.1/);
    const t = await connect(target('backend-1'), settings({ knownHostsFiles: [file], trustNewHostKeys: true }));
    await t.close();
    expect(readFileSync(file, 'utf8')).toMatch(/^\[127\.42\.0\.1\]:2222 ssh-ed25519 /);
  });

  it('fails loudly when the host key changed', async () => {
    const lab = getLab();
    const file = `${lab.dir}/changed_known_hosts`;
    const otherKey = readFileSync(`${lab.host('agent-01').dir}/ssh_host_ed25519_key.pub`, 'utf8')
      .split(' ')
      .slice(0, 2)
      .join(' ');
    writeFileSync(file, `[127.42.0.1]:2222 ${otherKey}\n`);
    const err = await failure(connect(target('backend-1'), settings({ knownHostsFiles: [file] })));
    expect(err.message).toMatch(/HOST KEY CHANGED/);
    expect(err.message).toContain(`${file}:1`);
  });

  it('pins a key trusted with --trust-new-host-keys: after a reconnect, another key is refused as changed', async () => {
    const lab = getLab();
    const file = `${lab.dir}/pinned_known_hosts`;
    writeFileSync(file, '');
    const trusting = settings({ knownHostsFiles: [file], trustNewHostKeys: true, reconnectMs: 5000 });
    const t = await connect(target('agent-02'), trusting);
    expect((await t.run('hostname')).stdout.toString().trim()).toBe('agent-02');
    // The host comes back with another key, as a machine in the middle would present.
    const h = lab.host('agent-02');
    const otherKey = `${lab.dir}/other_host_key`;
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'impostor', '-f', otherKey]);
    const otherConfig = `${lab.dir}/sshd_config_other_key`;
    writeFileSync(otherConfig, readFileSync(`${h.dir}/sshd_config`, 'utf8').replace(/^HostKey .*$/m, `HostKey ${otherKey}`));
    await killSshd(lab, 'agent-02');
    await startSshd(lab, 'agent-02', otherConfig);
    try {
      const err = await failure(t.run('hostname'));
      expect(err).toBeInstanceOf(ConnectError);
      expect(err.message).toMatch(/^agent-02: the SSH connection was lost and could not be reopened .*HOST KEY CHANGED/);
      expect(err.message).toContain(`${file} (trusted earlier in this run)`);
      // A new connection in the same run is refused too, and the file still holds the first key only.
      const again = await failure(connect(target('agent-02'), trusting));
      expect(again.message).toMatch(/HOST KEY CHANGED/);
      expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(1);
    } finally {
      await t.close();
      await killSshd(lab, 'agent-02');
      await startSshd(lab, 'agent-02');
    }
  });

  it('writes a trusted key hashed when the known_hosts file is hashed, in a form OpenSSH finds', async () => {
    const lab = getLab();
    const file = `${lab.dir}/hashed_trust_known_hosts`;
    // Every host but backend-1, hashed.
    writeFileSync(
      file,
      readFileSync(lab.knownHostsPath, 'utf8')
        .split('\n')
        .filter((l) => !l.startsWith('[127.42.0.1]'))
        .join('\n'),
    );
    await run('ssh-keygen', ['-H', '-f', file]);
    const t = await connect(target('backend-1'), settings({ knownHostsFiles: [file], trustNewHostKeys: true }));
    await t.close();
    const added = readFileSync(file, 'utf8').trim().split('\n').pop() ?? '';
    expect(added).toMatch(/^\|1\|[^ ]+ ssh-ed25519 /);
    expect(readFileSync(file, 'utf8')).not.toContain('127.42.');
    const found = await run('ssh-keygen', ['-F', '[127.42.0.1]:2222', '-f', file]);
    expect(found.stdout).toContain(added.split(' ')[2]);
  });

  it('says that host certificates are not supported when only a @cert-authority line covers the host, even with --trust-new-host-keys', async () => {
    const lab = getLab();
    const file = `${lab.dir}/ca_known_hosts`;
    const caKey = `${lab.dir}/host_ca`;
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', caKey]);
    writeFileSync(file, `@cert-authority [127.42.0.*]:2222 ${readFileSync(`${caKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    for (const trust of [false, true]) {
      const err = await failure(connect(target('backend-1'), settings({ knownHostsFiles: [file], trustNewHostKeys: trust })));
      expect(err.message).toMatch(
        /^backend-1 \(127\.42\.0\.1:2222\): host key SHA256:\S+ is not in known_hosts, and host certificates \(@cert-authority, .*ca_known_hosts:1\) are not supported$/,
      );
    }
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('reads the known_hosts file an inventory names with -o UserKnownHostsFile, relative to the inventory', async () => {
    const lab = getLab();
    const dir = `${lab.dir}/kh-inventory`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/hosts_known`, readFileSync(lab.knownHostsPath));
    writeFileSync(
      `${dir}/inventory.yml`,
      [
        'backends:',
        '  hosts:',
        '    agent-01:',
        `      ansible_host: ${lab.host('agent-01').address}`,
        `      ansible_port: ${lab.host('agent-01').sshPort}`,
        `      ansible_user: ${lab.state.loginUser}`,
        `      ansible_ssh_private_key_file: ${lab.keyPath}`,
        '      ansible_ssh_common_args: "-o UserKnownHostsFile=hosts_known -o StrictHostKeyChecking=yes"',
        '',
      ].join('\n'),
    );
    const inv = await loadInventory(`${dir}/inventory.yml`);
    const host = inv.hosts[0];
    if (!host) throw new Error('no host');
    const tgt = sshTargetOf(host, undefined);
    expect(tgt.knownHosts).toEqual({ user: [`${dir}/hosts_known`] });
    // The run's default file is empty: only the inventory's file can make this connect.
    writeFileSync(`${lab.dir}/default_empty_known_hosts`, '');
    const t = await connect(tgt, settings({ knownHostsFiles: [`${lab.dir}/default_empty_known_hosts`] }));
    expect((await t.run('hostname')).stdout.toString().trim()).toBe('agent-01');
    await t.close();
    // Files named on the command line win.
    const err = await failure(connect(tgt, settings({ knownHostsFiles: [`${lab.dir}/default_empty_known_hosts`], knownHostsExplicit: true })));
    expect(err.message).toMatch(/is not in known_hosts/);
  });

  it('takes note of the host keys sshd announces after login without asking it to prove them (a signature per key on every host)', async () => {
    const lab = getLab();
    const h = lab.host('agent-01');
    // Two host keys, as real hosts have (RSA's signature is the costly one), and a log that shows
    // both the announcement (DEBUG3) and any global request the client makes (DEBUG1).
    const rsaKey = `${lab.dir}/announced_rsa_key`;
    await run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '3072', '-N', '', '-f', rsaKey]);
    const config = `${lab.dir}/sshd_config_announcing`;
    writeFileSync(
      config,
      readFileSync(`${h.dir}/sshd_config`, 'utf8')
        .replace(/^(HostKey .*)$/m, `$1\nHostKey ${rsaKey}`)
        .replace(/^LogLevel .*$/m, 'LogLevel DEBUG3'),
    );
    const log = `${h.dir}/sshd.log`;
    await killSshd(lab, 'agent-01');
    await startSshd(lab, 'agent-01', config);
    try {
      const from = readFileSync(log).length;
      const t = await connect(target('agent-01'), settings());
      // Two commands one after the other: sshd reads the client's packets in order, so by the second
      // command's answer it has read anything the client sent in answer to the announcement.
      for (const cmd of ['true', 'hostname']) expect((await t.run(cmd)).code).toBe(0);
      await t.close();
      const text = readFileSync(log).subarray(from).toString('utf8');
      expect(text).toMatch(/notify_hostkeys: sent 2 hostkeys/);
      expect(text.match(/request exec reply/g) ?? []).toHaveLength(2);
      expect(text).not.toContain('hostkeys-prove-00@openssh.com');
    } finally {
      await killSshd(lab, 'agent-01');
      await startSshd(lab, 'agent-01');
    }
  });

  it('refuses a revoked key even when it is also listed as known', async () => {
    const lab = getLab();
    const file = `${lab.dir}/revoked_known_hosts`;
    const key = readFileSync(`${lab.host('backend-1').dir}/ssh_host_ed25519_key.pub`, 'utf8')
      .split(' ')
      .slice(0, 2)
      .join(' ');
    writeFileSync(file, `${readFileSync(lab.knownHostsPath, 'utf8')}@revoked * ${key}\n`);
    const err = await failure(connect(target('backend-1'), settings({ knownHostsFiles: [file] })));
    expect(err.message).toMatch(/REVOKED/);
  });
});

describe('authentication', () => {
  it('asks once for the passphrase of an encrypted key, and never shows it', async () => {
    const lab = getLab();
    const key = `${lab.dir}/ssh/id_passphrase`;
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'correct horse', '-f', key]);
    await lab.exec('agent-01', '/bin/sh', ['-c', `cat ${key}.pub >> /etc/ssh/lab_authorized_keys`]);
    let asked = 0;
    const t = await connect(target('agent-01', { privateKeyFile: key }), settings({ askPassphrase: () => Promise.resolve((asked++, 'correct horse')) }));
    expect((await t.run('id -un')).stdout.toString().trim()).toBe(getLab().state.loginUser);
    await t.close();
    expect(asked).toBe(1);
    // The answer is kept for the run: a second host with the same key does not ask again.
    const again = await connect(target('agent-01', { privateKeyFile: key }), settings({ askPassphrase: () => Promise.resolve((asked++, 'correct horse')) }));
    await again.close();
    expect(asked).toBe(1);
  });

  it('authenticates through ssh-agent', async () => {
    const lab = getLab();
    const sock = `${lab.dir}/agent.sock`;
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 50; i++) {
        try {
          await run('ssh-add', [lab.keyPath], { env: { ...process.env, SSH_AUTH_SOCK: sock } });
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const { privateKeyFile: _unused, ...noKey } = target('backend-1');
      const t = await connect(noKey, settings({ agentSocket: sock }));
      expect((await t.run('hostname')).stdout.toString().trim()).toBe('backend-1');
      await t.close();
    } finally {
      agent.kill();
    }
  });

  it('reaches a host through a jump host (ProxyJump), verifying both keys', async () => {
    const lab = getLab();
    const jump = lab.host('backend-1');
    const t = await connect(target('agent-01', { proxyJump: [{ host: jump.address, port: jump.sshPort }] }), settings());
    expect((await t.run('hostname')).stdout.toString().trim()).toBe('agent-01');
    await t.close();
    // The target's sshd saw the connection come from the jump host's side (a forwarded channel).
    const log = readFileSync(`${lab.host('agent-01').dir}/sshd.log`, 'utf8');
    expect(log).toMatch(/Accepted publickey for labops/);
  });

  it('reaches a host through two jump hosts: each hop dialled from the one before, only the last to the target', async () => {
    const lab = getLab();
    const [j1, j2, dest] = [lab.host('backend-1'), lab.host('agent-01'), lab.host('agent-02')];
    const t = await connect(
      target('agent-02', {
        proxyJump: [
          { host: j1.address, port: j1.sshPort },
          { host: j2.address, port: j2.sshPort },
        ],
      }),
      settings(),
    );
    try {
      expect((await t.run('hostname')).stdout.toString().trim()).toBe('agent-02');
      // Who holds the TCP connections: the one to the second hop belongs to the first hop's sshd,
      // the one to the target to the second hop's sshd (hosts share the network, not the mounts).
      const ownersOf = async (h: { address: string; sshPort: number }): Promise<string[]> => {
        const out = (await run('ss', ['-Htnp', 'state', 'established', 'dst', `${h.address}:${h.sshPort}`])).stdout;
        return [...out.matchAll(/pid=(\d+)/g)].map((m) => readlinkSync(`/proc/${m[1] ?? ''}/ns/mnt`));
      };
      const mnt = (pid: number): string => readlinkSync(`/proc/${pid}/ns/mnt`);
      expect(await ownersOf(j2)).toEqual([mnt(j1.holderPid)]);
      expect(await ownersOf(dest)).toEqual([mnt(j2.holderPid)]);
    } finally {
      await t.close();
    }
  });

  it('verifies the host key of every jump host', async () => {
    const lab = getLab();
    const [j1, j2] = [lab.host('backend-1'), lab.host('agent-01')];
    const file = `${lab.dir}/jump_changed_known_hosts`;
    const wrong = readFileSync(`${lab.host('backend-1').dir}/ssh_host_ed25519_key.pub`, 'utf8')
      .split(' ')
      .slice(0, 2)
      .join(' ');
    // The second hop (agent-01) listed with backend-1's key.
    writeFileSync(file, readFileSync(lab.knownHostsPath, 'utf8').replace(/^\[127\.42\.1\.1\]:2222 .*$/m, `[127.42.1.1]:2222 ${wrong}`));
    expect(j2.address).toBe('127.42.1.1');
    const err = await failure(
      connect(
        target('agent-02', {
          proxyJump: [
            { host: j1.address, port: j1.sshPort },
            { host: j2.address, port: j2.sshPort },
          ],
        }),
        settings({ knownHostsFiles: [file] }),
      ),
    );
    expect(err.message).toMatch(/^agent-02 via jump host 127\.42\.1\.1 \(127\.42\.1\.1:2222\): HOST KEY CHANGED/);
  });

  it('names the host and the user when authentication fails', async () => {
    const lab = getLab();
    const key = `${lab.dir}/ssh/id_stranger`;
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const err = await failure(connect(target('backend-1', { privateKeyFile: key }), settings()));
    expect(err.message).toBe(`backend-1 (127.42.0.1:2222): authentication failed for user ${lab.state.loginUser}`);
  });
});

describe('sudo', () => {
  it('runs as root without a password where sudo allows it, with stdin after the become marker', async () => {
    const t = await connect(target('agent-01'), settings());
    const r = await t.run('id -un; cat', { sudo: true, stdin: 'payload' });
    expect(r.stdout.toString()).toBe('root\npayload');
    await t.close();
  });

  it('sends the become password over stdin, and never shows it', async () => {
    const lab = getLab();
    const password = lab.state.becomePassword;
    const ok = await connect(target('agent-02', { becomePassword: new Secret(password) }), settings());
    expect((await ok.run('id -un', { sudo: true })).stdout.toString().trim()).toBe('root');
    // Not in the process list either: look while a sudo command runs.
    const pending = ok.run('sleep 1; ps -eo args', { sudo: true });
    const ps = (await pending).stdout.toString();
    expect(ps).not.toContain(password);
    await ok.close();

    const wrong = await connect(target('agent-02', { becomePassword: new Secret('not-the-password') }), settings());
    const e1 = await failure(wrong.run('id -un', { sudo: true }));
    expect(e1).toBeInstanceOf(RemoteCommandError);
    expect(e1.message).toBe('agent-02: sudo rejected the become password');
    expect(e1.message + String((e1 as RemoteCommandError).hint)).not.toContain('not-the-password');
    await wrong.close();

    const none = await connect(target('agent-02'), settings());
    const e2 = await failure(none.run('id -un', { sudo: true }));
    expect(e2.message).toBe('agent-02: sudo asks for a password');
    expect((e2 as RemoteCommandError).hint).toMatch(/--ask-become-pass|ansible_become_password/);
    await none.close();
  });
});

describe('files', () => {
  it('writes atomically with owner and mode, backs up the old file, and refuses a file changed since the plan', async () => {
    const t = await connect(target('agent-01'), settings());
    const write = (content: string, opts: Omit<FileWrite, 'kind' | 'path' | 'content'>) =>
      t.writeAll([{ kind: 'file', path: '/etc/sensu/rollout-test.yml', content: Buffer.from(content), ...opts }]);
    expect(await write('one: 1\n', { mode: 0o640, owner: 'root', group: 'sensu', expectSha256: null })).toEqual({ done: 1 });
    expect(await t.stat('/etc/sensu/rollout-test.yml')).toEqual({ mode: 0o640, owner: 'root', group: 'sensu', size: 7, isDirectory: false });
    const sha = (await t.run('sha256sum /etc/sensu/rollout-test.yml', { sudo: true })).stdout.toString().split(' ')[0];
    expect(await write('two: 2\n', { mode: 0o600, owner: 'sensu', group: 'sensu', expectSha256: sha, backupTo: '/etc/sensu/.rollout-backups/t/x' })).toEqual({
      done: 1,
    });
    expect((await t.readFile('/etc/sensu/rollout-test.yml'))?.toString()).toBe('two: 2\n');
    expect((await t.readFile('/etc/sensu/.rollout-backups/t/x'))?.toString()).toBe('one: 1\n');
    expect((await t.stat('/etc/sensu/.rollout-backups/t/x'))?.mode).toBe(0o640);
    const refused = await write('three\n', { mode: 0o600, owner: 'root', group: 'root', expectSha256: sha });
    expect(refused.done).toBe(0);
    expect(refused.error).toBeInstanceOf(HostChangedError);
    expect(refused.error?.message).toMatch(/changed since the plan was made/);
    expect((await t.readFile('/etc/sensu/rollout-test.yml'))?.toString()).toBe('two: 2\n');
    // No temp files left behind.
    expect((await t.run('ls -A /etc/sensu', { sudo: true })).stdout.toString()).not.toMatch(/\.rollout-[A-Za-z0-9]{6}$/m);
    expect(await t.readFile('/etc/sensu/none')).toBeUndefined();
    await t.close();
  });

  it('writes a directory and several files in one command, each byte for byte; stops at the first refused and tries nothing after it', async () => {
    const t = await connect(target('agent-01'), settings());
    // Binary content larger than a pipe's buffer: each file must take exactly its own bytes.
    const big = randomBytes(200_000);
    const small = Buffer.from('small\n');
    const before = t.stats().commands;
    const outcome = await t.writeAll([
      { kind: 'dir', path: '/etc/sensu/batch', mode: 0o750, owner: 'root', group: 'sensu' },
      { kind: 'file', path: '/etc/sensu/batch/big.bin', content: big, mode: 0o600, owner: 'root', group: 'root', expectSha256: null },
      { kind: 'file', path: '/etc/sensu/batch/empty', content: Buffer.alloc(0), mode: 0o644, owner: 'sensu', group: 'sensu', expectSha256: null },
      { kind: 'file', path: '/etc/sensu/batch/small', content: small, mode: 0o644, owner: 'sensu', group: 'sensu', expectSha256: null },
    ]);
    expect(outcome).toEqual({ done: 4 });
    expect(t.stats().commands - before).toBe(1);
    expect(await t.stat('/etc/sensu/batch')).toMatchObject({ mode: 0o750, owner: 'root', group: 'sensu', isDirectory: true });
    expect((await t.readFile('/etc/sensu/batch/big.bin'))?.equals(big)).toBe(true);
    expect((await t.readFile('/etc/sensu/batch/empty'))?.length).toBe(0);
    expect((await t.readFile('/etc/sensu/batch/small'))?.equals(small)).toBe(true);
    expect(await t.stat('/etc/sensu/batch/big.bin')).toMatchObject({ mode: 0o600, owner: 'root', group: 'root' });

    // The second item expects a file that is not there any more: the first is made, the third never tried.
    const stopped = await t.writeAll([
      { kind: 'file', path: '/etc/sensu/batch/first', content: Buffer.from('1'), mode: 0o644, owner: 'root', group: 'root', expectSha256: null },
      { kind: 'file', path: '/etc/sensu/batch/small', content: Buffer.from('2'), mode: 0o644, owner: 'root', group: 'root', expectSha256: '0'.repeat(64) },
      { kind: 'file', path: '/etc/sensu/batch/third', content: Buffer.from('3'), mode: 0o644, owner: 'root', group: 'root', expectSha256: null },
    ]);
    expect(stopped.done).toBe(1);
    expect(stopped.error).toBeInstanceOf(HostChangedError);
    expect(stopped.error?.message).toContain('/etc/sensu/batch/small changed since the plan was made');
    expect((await t.readFile('/etc/sensu/batch/first'))?.toString()).toBe('1');
    expect((await t.readFile('/etc/sensu/batch/small'))?.equals(small)).toBe(true);
    expect(await t.readFile('/etc/sensu/batch/third')).toBeUndefined();
    expect((await t.run('ls -A /etc/sensu/batch', { sudo: true })).stdout.toString()).not.toContain('.rollout-');
    await t.run('rm -rf /etc/sensu/batch', { sudo: true });
    await t.close();
  });

  it('forwards a TCP connection from the host itself', async () => {
    const lab = getLab();
    const t = await connect(target('agent-01'), settings());
    const stream = await t.forward(lab.host('agent-01').address, 3031);
    const body = await new Promise<string>((resolve) => {
      let text = '';
      stream.on('data', (d: Buffer) => (text += d.toString()));
      stream.on('close', () => resolve(text));
      stream.on('end', () => resolve(text));
      stream.write('GET /healthz HTTP/1.0\r\n\r\n');
    });
    expect(body).toMatch(/^HTTP\/1\.[01] 200/);
    await t.close();
  });
});

describe('failures are one plain line', () => {
  const servers: net.Server[] = [];
  afterAll(() => servers.forEach((s) => s.close()));

  it('unreachable host', async () => {
    const err = await failure(connect({ name: 'ghost', address: '127.42.99.99', port: 22, user: 'x', privateKeyFile: getLab().keyPath }, settings()));
    expect(err.message).toBe('ghost (127.42.99.99:22): connection refused');
    expect((err as ConnectError).hint).toMatch(/sshd/);
  });

  it('connect timeout on a host that accepts TCP but never speaks SSH', async () => {
    const server = net.createServer(() => undefined);
    servers.push(server);
    await new Promise<void>((r) => server.listen(2222, '127.42.99.98', r));
    const err = await failure(
      connect({ name: 'mute', address: '127.42.99.98', port: 2222, user: 'x', privateKeyFile: getLab().keyPath }, settings({ connectTimeoutMs: 1000 })),
    );
    expect(err.message).toBe('mute (127.42.99.98:2222): timed out after 1 s connecting');
  });

  it('stops a command whose output passes the limit, on stdout or stderr, and the connection goes on', async () => {
    const lab = getLab();
    const t = await connect(target('agent-01'), settings({ maxOutputBytes: 1024 * 1024 }));
    const out = await failure(t.run('head -c 5000000 /dev/zero'));
    expect(out).toBeInstanceOf(RemoteCommandError);
    expect(out.message).toBe('agent-01: a command sent more than 1 MiB of output; it was stopped');
    const err = await failure(t.run('head -c 5000000 /dev/zero >&2', { sudo: true }));
    expect(err.message).toBe('agent-01: a command sent more than 1 MiB of output; it was stopped');
    // A command that would print forever is ended on the host: its pipe closes under it.
    const nonce = randomBytes(4).toString('hex');
    // `[r]` so that pgrep's own shell, whose command line holds the pattern, does not match it.
    const pattern = `[r]ollout-flood-${nonce}`;
    const flood = await failure(t.run(`exec sh -c 'while :; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done' rollout-flood-${nonce}`));
    expect(flood.message).toBe('agent-01: a command sent more than 1 MiB of output; it was stopped');
    let left = '';
    for (let i = 0; i < 50; i++) {
      left = (await lab.exec('agent-01', '/bin/sh', ['-c', `pgrep -f '${pattern}' || true`])).stdout.trim();
      if (left === '') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (left !== '') await lab.exec('agent-01', '/bin/sh', ['-c', `pkill -f '${pattern}' || true`]);
    expect(left).toBe('');
    expect((await t.run('echo still here')).stdout.toString()).toBe('still here\n');
    // Under the limit, all of it arrives.
    expect((await t.run('head -c 1000000 /dev/zero')).stdout.length).toBe(1_000_000);
    await t.close();
  });

  it("shows a host's stderr with its control characters escaped", async () => {
    const lab = getLab();
    const dir = '/etc/sensu/\x1b[2J\x1b]0;owned\x07dir';
    await lab.exec('agent-01', 'mkdir', ['-p', dir]);
    const t = await connect(target('agent-01'), settings());
    try {
      const err = await failure(t.readFile(dir));
      expect(err).toBeInstanceOf(RemoteCommandError);
      // eslint-disable-next-line no-control-regex
      expect(err.message).not.toMatch(/[\x00-\x08\x0a-\x1f\x7f]/);
      expect(err.message).toContain('/etc/sensu/^[[2J^[]0;owned^Gdir');
      expect(err.message).toMatch(/Is a directory/);
    } finally {
      await lab.exec('agent-01', 'rmdir', [dir]);
      await t.close();
    }
  });

  it('command timeout', async () => {
    const t = await connect(target('agent-01'), settings({ commandTimeoutMs: 500 }));
    const err = await failure(t.run('sleep 5'));
    expect(err).toBeInstanceOf(RemoteCommandError);
    expect(err.message).toBe('agent-01: command did not finish within 0.5 s');
    await t.close();
  });
});
