#!/usr/bin/env node
// Installs what `npm test`, `npm run demo`, `npm run lab` and `npm run bench` need on a fresh Debian
// machine (root, Node 20, nothing else): the npm packages, and the Debian packages the lab runs
// (real OpenSSH, sudo, etcd). Plain JavaScript with no dependencies, because it runs before
// node_modules exists.
import { execFileSync, spawnSync } from 'node:child_process';
import process from 'node:process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const quiet = process.argv.includes('--quiet');
const say = (msg) => {
  if (!quiet) process.stderr.write(`prepare: ${msg}\n`);
};

/** Debian packages per command they provide: what the lab needs to run real hosts. */
const debianPackages = {
  '/usr/sbin/sshd': 'openssh-server',
  '/usr/bin/ssh-keygen': 'openssh-client',
  '/usr/bin/sudo': 'sudo',
  '/usr/bin/etcd': 'etcd-server',
  '/usr/bin/etcdctl': 'etcd-client',
  '/usr/bin/openssl': 'openssl',
  '/usr/bin/nsenter': 'util-linux',
  '/usr/bin/setpriv': 'util-linux',
  '/usr/bin/tmux': 'tmux',
};

function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) {
    process.stderr.write(`prepare: '${cmd} ${args.join(' ')}' failed with status ${r.status}\n`);
    process.exit(r.status ?? 1);
  }
}

const missing = [
  ...new Set(
    Object.entries(debianPackages)
      .filter(([bin]) => !existsSync(bin))
      .map(([, pkg]) => pkg),
  ),
];
if (missing.length > 0) {
  if (process.getuid?.() !== 0) {
    process.stderr.write(`prepare: the lab needs Debian packages ${missing.join(' ')}; run as root or install them first\n`);
    process.exit(2);
  }
  say(`installing Debian packages: ${missing.join(' ')}`);
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { DEBIAN_FRONTEND: 'noninteractive' });
}

// npm packages: install when node_modules is missing or older than the lockfile.
const lock = join(root, 'package-lock.json');
const marker = join(root, 'node_modules', '.package-lock.json');
const stale = !existsSync(marker) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs + 1000);
if (stale) {
  say('installing npm packages (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {});
}

// A quick sanity line so a failing setup is obvious in CI logs.
if (!quiet) {
  const etcd = execFileSync('/usr/bin/etcd', ['--version']).toString().split('\n')[0];
  say(`ready (node ${process.version}, ${etcd}, ${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).name})`);
}
