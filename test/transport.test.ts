/**
 * The SSH transport against the lab's real sshd hosts: host key checking in every known_hosts
 * form, key and agent auth, passphrases, jump hosts, sudo with and without a password, atomic
 * writes, and the plain one-line errors for unreachable hosts and timeouts.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ConnectError, HostChangedError, RemoteCommandError } from '../src/errors.js';
import { Secret } from '../src/secret.js';
import { connect, type SshSettings, type SshTarget } from '../src/transport/ssh.js';
import type { FileWrite } from '../src/transport/write-script.js';
import { useLab } from './helpers/lab-fixture.js';

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

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
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
    const otherKey = readFileSync(`${lab.host('agent-01').dir}/ssh_host_ed25519_key.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    writeFileSync(file, `[127.42.0.1]:2222 ${otherKey}\n`);
    const err = await failure(connect(target('backend-1'), settings({ knownHostsFiles: [file] })));
    expect(err.message).toMatch(/HOST KEY CHANGED/);
    expect(err.message).toContain(`${file}:1`);
  });

  it('refuses a revoked key even when it is also listed as known', async () => {
    const lab = getLab();
    const file = `${lab.dir}/revoked_known_hosts`;
    const key = readFileSync(`${lab.host('backend-1').dir}/ssh_host_ed25519_key.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
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
    const write = (content: string, opts: Omit<FileWrite, 'kind' | 'path' | 'content'>) => t.writeAll([{ kind: 'file', path: '/etc/sensu/rollout-test.yml', content: Buffer.from(content), ...opts }]);
    expect(await write('one: 1\n', { mode: 0o640, owner: 'root', group: 'sensu', expectSha256: null })).toEqual({ done: 1 });
    expect(await t.stat('/etc/sensu/rollout-test.yml')).toEqual({ mode: 0o640, owner: 'root', group: 'sensu', size: 7, isDirectory: false });
    const sha = (await t.run('sha256sum /etc/sensu/rollout-test.yml', { sudo: true })).stdout.toString().split(' ')[0];
    expect(await write('two: 2\n', { mode: 0o600, owner: 'sensu', group: 'sensu', expectSha256: sha, backupTo: '/etc/sensu/.rollout-backups/t/x' })).toEqual({ done: 1 });
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
      { kind: 'dir', path: '/etc/sensu/batch', mode: 0o750, owner: 'sensu', group: 'sensu' },
      { kind: 'file', path: '/etc/sensu/batch/big.bin', content: big, mode: 0o600, owner: 'root', group: 'root', expectSha256: null },
      { kind: 'file', path: '/etc/sensu/batch/empty', content: Buffer.alloc(0), mode: 0o644, owner: 'sensu', group: 'sensu', expectSha256: null },
      { kind: 'file', path: '/etc/sensu/batch/small', content: small, mode: 0o644, owner: 'sensu', group: 'sensu', expectSha256: null },
    ]);
    expect(outcome).toEqual({ done: 4 });
    expect(t.stats().commands - before).toBe(1);
    expect(await t.stat('/etc/sensu/batch')).toMatchObject({ mode: 0o750, owner: 'sensu', group: 'sensu', isDirectory: true });
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
    const err = await failure(connect({ name: 'mute', address: '127.42.99.98', port: 2222, user: 'x', privateKeyFile: getLab().keyPath }, settings({ connectTimeoutMs: 1000 })));
    expect(err.message).toBe('mute (127.42.99.98:2222): timed out after 1 s connecting');
  });

  it('command timeout', async () => {
    const t = await connect(target('agent-01'), settings({ commandTimeoutMs: 500 }));
    const err = await failure(t.run('sleep 5'));
    expect(err).toBeInstanceOf(RemoteCommandError);
    expect(err.message).toBe('agent-01: command did not finish within 0.5 s');
    await t.close();
  });
});
