/**
 * From an inventory host to what the SSH client dials, the way Ansible's ssh connection does it:
 * the inventory wins (ansible_host, ansible_user, ansible_port, key file, -J, -o known_hosts
 * options), then the command line's -u/--private-key (Ansible ranks command-line values below
 * every variable, and passes them to ssh, above ~/.ssh/config), and ~/.ssh/config fills in the
 * rest for the name being dialled (HostName, User, Port, IdentityFile, ProxyJump,
 * UserKnownHostsFile, GlobalKnownHostsFile, HashKnownHosts).
 */
import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { isAbsolute, join } from 'node:path';
import SSHConfig from 'ssh-config';
import type { HostSpec } from '../inventory/types.js';
import type { JumpHost, SshTarget } from './ssh.js';

/** A parsed ~/.ssh/config, or none. */
export type SshConfig = ReturnType<typeof SSHConfig.parse> | undefined;

/** Reads an OpenSSH client config; a missing file is no config. */
export function loadSshConfig(file = join(homedir(), '.ssh', 'config')): SshConfig {
  try {
    return SSHConfig.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function expandHome(path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return join(homedir(), path.slice(2));
  return path;
}

/** Parses `[user@]host[:port]` (one ProxyJump hop). */
export function parseJumpHop(spec: string): JumpHost {
  const at = spec.lastIndexOf('@');
  const user = at >= 0 ? spec.slice(0, at) : undefined;
  const rest = at >= 0 ? spec.slice(at + 1) : spec;
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest) ?? /^([^:]+)(?::(\d+))?$/.exec(rest);
  const host = m?.[1] ?? rest;
  const port = m?.[2] ? Number(m[2]) : undefined;
  return { host, ...(user ? { user } : {}), ...(port ? { port } : {}) };
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A known_hosts file list from ssh config: several values, `none` for none, `~` expanded. */
function fileList(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const files = (Array.isArray(value) ? value : value.split(/\s+/)).filter((f) => f !== '');
  if (files.length === 1 && files[0]?.toLowerCase() === 'none') return [];
  return files.map((f) => {
    const path = expandHome(f);
    return isAbsolute(path) ? path : join(homedir(), path);
  });
}

/** `-u/--user` and `--private-key`: what a host gets when its inventory does not say. */
export interface CommandLineLogin {
  user?: string;
  privateKeyFile?: string;
}

/** Resolves one host's SSH target. */
export function sshTargetOf(host: HostSpec, config: SshConfig, cli: CommandLineLogin = {}): SshTarget {
  const computed: Record<string, string | string[] | undefined> = config ? config.compute(host.address, { ignoreCase: true }) : {};
  const get = (key: string): string | undefined => first(computed[key]);
  const portSet = host.vars.ansible_port !== undefined || host.vars.ansible_ssh_port !== undefined;
  const hostName = host.vars.ansible_host === undefined ? get('hostname') : undefined;
  const identity = get('identityfile');
  const jump = get('proxyjump');
  const target: SshTarget = {
    name: host.name,
    address: hostName ? hostName.replace(/%h/g, host.address) : host.address,
    port: portSet ? host.port : Number(get('port') ?? host.port),
    user: host.user ?? cli.user ?? get('user') ?? userInfo().username,
  };
  const keyFile = host.privateKeyFile ?? cli.privateKeyFile ?? (identity ? expandHome(identity) : undefined);
  if (keyFile) target.privateKeyFile = isAbsolute(keyFile) ? keyFile : join(homedir(), keyFile);
  if (host.becomePassword) target.becomePassword = host.becomePassword;
  // Per list, as ssh does: `-o UserKnownHostsFile` in the inventory replaces the config's user files
  // but leaves its global ones.
  const user = host.knownHosts?.user ?? fileList(computed.userknownhostsfile);
  const global = host.knownHosts?.global ?? fileList(computed.globalknownhostsfile);
  if (user || global) target.knownHosts = { ...(user ? { user } : {}), ...(global ? { global } : {}) };
  const hash = host.hashKnownHosts ?? (get('hashknownhosts') === undefined ? undefined : get('hashknownhosts')?.toLowerCase() === 'yes');
  if (hash !== undefined) target.hashKnownHosts = hash;
  if (host.proxyJump && host.proxyJump.length > 0) target.proxyJump = host.proxyJump.map((h) => ({ ...h }));
  else if (jump && jump.toLowerCase() !== 'none') target.proxyJump = jump.split(',').map(parseJumpHop);
  return target;
}
