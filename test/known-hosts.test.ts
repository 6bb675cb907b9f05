/**
 * known_hosts as OpenSSH reads and writes it, from data fixtures (the lab test in transport.test.ts
 * checks the same against real sshd and ssh-keygen): lower-cased names, hashed entries,
 * `@cert-authority` lines, and where the files come from (ssh config, inventory SSH args).
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSshArgs } from '../src/inventory/ssh-args.js';
import type { HostSpec } from '../src/inventory/types.js';
import { hostKeyName, knownHostsEntry, parseKnownHosts, shouldHash, verifyHostKey } from '../src/transport/known-hosts.js';
import { loadSshConfig, sshTargetOf } from '../src/transport/targets.js';

const KEY = 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const OTHER = 'AAAAC3NzaC1lZDI1NTE5AAAAIBz0000000000000000000000000000000000000000000';

/** A hashed entry made the way ssh-keygen -H makes it. */
function hashed(name: string, salt = Buffer.alloc(20, 7)): string {
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

describe('names are lower-cased, as ssh does, before matching and hashing', () => {
  it('finds a hashed entry of the lower-cased name for a mixed-case host', () => {
    const lines = parseKnownHosts(`${hashed('[web-1.example.com]:2222')} ssh-ed25519 ${KEY}\n`, 'kh');
    expect(hostKeyName('Web-1.Example.COM', 2222)).toBe('[web-1.example.com]:2222');
    expect(verifyHostKey(lines, [hostKeyName('Web-1.Example.COM', 2222)], 'ssh-ed25519', KEY)).toEqual({ status: 'match' });
    // Even a caller that did not lower-case the name.
    expect(verifyHostKey(lines, ['[Web-1.Example.COM]:2222'], 'ssh-ed25519', KEY)).toEqual({ status: 'match' });
  });

  it('writes new entries lower-cased, hashed over the lower-cased name', () => {
    expect(knownHostsEntry('DB-1', 'ssh-ed25519', KEY, false)).toBe(`db-1 ssh-ed25519 ${KEY}`);
    const entry = knownHostsEntry('DB-1', 'ssh-ed25519', KEY, true);
    const lines = parseKnownHosts(entry, 'kh');
    expect(entry).not.toMatch(/db-1/i);
    expect(verifyHostKey(lines, ['db-1'], 'ssh-ed25519', KEY)).toEqual({ status: 'match' });
    const [salt] = entry.slice(3).split('|');
    const mac = createHmac('sha1', Buffer.from(salt ?? '', 'base64'))
      .update('db-1')
      .digest('base64');
    expect(entry.split(' ')[0]).toBe(`|1|${salt ?? ''}|${mac}`);
  });
});

describe('@cert-authority', () => {
  const text = `@cert-authority *.example.com ssh-ed25519 ${OTHER}\nother.example.org ssh-ed25519 ${KEY}\n`;
  it('is parsed, never taken as the host key, and named when it is all that covers the host', () => {
    const lines = parseKnownHosts(text, 'kh');
    expect(lines[0]).toMatchObject({ marker: '@cert-authority', patterns: ['*.example.com'], where: 'kh:1' });
    // The CA's own key presented as a host key is not a match.
    expect(verifyHostKey(lines, ['web.example.com'], 'ssh-ed25519', OTHER)).toEqual({ status: 'unknown', certAuthority: 'kh:1' });
    expect(verifyHostKey(lines, ['web.example.net'], 'ssh-ed25519', KEY)).toEqual({ status: 'unknown' });
  });
});

describe('new entries are hashed when the file is', () => {
  it('follows HashKnownHosts when set, else the file: hashed only when every entry is', () => {
    const plain = parseKnownHosts(`a ssh-ed25519 ${KEY}\n`, 'kh');
    const all = parseKnownHosts(`${hashed('a')} ssh-ed25519 ${KEY}\n${hashed('b')} ssh-ed25519 ${KEY}\n@revoked * ssh-ed25519 ${OTHER}\n`, 'kh');
    const mixed = parseKnownHosts(`${hashed('a')} ssh-ed25519 ${KEY}\nb ssh-ed25519 ${KEY}\n`, 'kh');
    expect(shouldHash(plain, undefined)).toBe(false);
    expect(shouldHash(all, undefined)).toBe(true);
    expect(shouldHash(mixed, undefined)).toBe(false);
    expect(shouldHash([], undefined)).toBe(false);
    expect(shouldHash(plain, true)).toBe(true);
    expect(shouldHash(all, false)).toBe(false);
  });
});

describe('where known_hosts files come from', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });
  const host = (extra: Partial<HostSpec> = {}): HostSpec => ({
    name: 'web-1',
    role: 'agent',
    groups: [],
    address: 'web-1.example.com',
    port: 22,
    sensu: { backendConfig: '/etc/sensu/backend.yml', agentConfig: '/etc/sensu/agent.yml', extraSans: [] },
    vars: {},
    ...extra,
  });

  it('reads UserKnownHostsFile, GlobalKnownHostsFile and HashKnownHosts from ssh config', () => {
    dir = mkdtempSync(join(tmpdir(), 'rollout-sshconfig-'));
    const file = join(dir, 'config');
    writeFileSync(
      file,
      'Host web-*\n  UserKnownHostsFile ~/.ssh/fleet_known_hosts /etc/rollout/known_hosts\n  GlobalKnownHostsFile none\n  HashKnownHosts yes\nHost *\n  User ops\n',
    );
    const target = sshTargetOf(host(), loadSshConfig(file));
    expect(target.knownHosts).toEqual({ user: [join(homedir(), '.ssh/fleet_known_hosts'), '/etc/rollout/known_hosts'], global: [] });
    expect(target.hashKnownHosts).toBe(true);
    expect(sshTargetOf(host({ address: 'db-1' }), loadSshConfig(file)).knownHosts).toBeUndefined();
  });

  it("lets the inventory's -o UserKnownHostsFile win over ssh config, list by list", () => {
    dir = mkdtempSync(join(tmpdir(), 'rollout-sshconfig-'));
    const file = join(dir, 'config');
    writeFileSync(file, 'Host *\n  UserKnownHostsFile /from/config\n  GlobalKnownHostsFile /global/from/config\n  HashKnownHosts yes\n');
    const target = sshTargetOf(host({ knownHosts: { user: ['/from/inventory'] }, hashKnownHosts: false }), loadSshConfig(file));
    expect(target.knownHosts).toEqual({ user: ['/from/inventory'], global: ['/global/from/config'] });
    expect(target.hashKnownHosts).toBe(false);
  });

  it('parses the known_hosts options in SSH args: several files, none, the first value wins, % tokens refused', () => {
    const args = parseSshArgs(
      '-o UserKnownHostsFile="a b" -o "GlobalKnownHostsFile none" -o UserKnownHostsFile=later -oHashKnownHosts=yes -o StrictHostKeyChecking=no',
    );
    expect(args.userKnownHostsFiles).toEqual(['a', 'b']);
    expect(args.globalKnownHostsFiles).toEqual([]);
    expect(args.hashKnownHosts).toBe(true);
    expect(args.ignored).toEqual(['-o StrictHostKeyChecking=no']);
    expect(args.errors).toEqual([]);
    expect(parseSshArgs('-o UserKnownHostsFile=~/.ssh/kh_%h').errors).toEqual([
      '-o UserKnownHostsFile=~/.ssh/kh_%h: "~/.ssh/kh_%h": % tokens are not supported here; write the path out',
    ]);
    expect(parseSshArgs('-o HashKnownHosts=maybe').errors).toEqual(['-o HashKnownHosts=maybe: expected yes or no']);
  });
});
